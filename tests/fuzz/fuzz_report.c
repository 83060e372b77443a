/* `surge report` end to end on hostile logs held in memory (memfds read
 * through /proc/self/fd): reading, merging two logs (split at a form feed),
 * options and thresholds from the log's parameters, and one of the text,
 * JSON, HTML or merged-hlog reports, chosen by the first byte. Reports go to
 * stdout (libFuzzer's -close_fd_mask=1 sends them to /dev/null). */
#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "report.h"

/* A memfd holding data: its /proc path in path, or -1. */
static int log_fd(const char *name, const uint8_t *data, size_t size, char *path, size_t len)
{
	int fd = memfd_create(name, MFD_CLOEXEC);
	if (fd < 0)
		return -1;
	for (size_t off = 0; off < size;) {
		ssize_t n = write(fd, data + off, size - off);
		if (n <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)n;
	}
	snprintf(path, len, "/proc/self/fd/%d", fd);
	return fd;
}

/* Each histogram line of a log allocates 270 KB of counts and frees them.
 * As mmaps, each costs its page faults and an munmap's TLB flush across the
 * VM's CPUs; from a heap that glibc trims, the faults again. From a heap kept
 * whole, only calloc's clearing of warm memory: 5x the runs a second. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, 1 << 30);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char a[64], b[64];
	char *argv[16];
	int argc = 0, fa, fb = -1;

	uint8_t mode = fuzz_byte(&data, &size);
	const uint8_t *ff = memchr(data, '\f', size);
	size_t first = ff ? (size_t)(ff - data) : size;
	if ((fa = log_fd("a.hlog", data, first, a, sizeof(a))) < 0)
		return 0;
	if (ff && (fb = log_fd("b.hlog", ff + 1, size - first - 1, b, sizeof(b))) < 0) {
		close(fa);
		return 0;
	}
	argv[argc++] = "report";
	argv[argc++] = a;
	if (fb >= 0)
		argv[argc++] = b;
	if (mode & 1)
		argv[argc++] = "--latency";
	static char *const outputs[] = { NULL, "--json", "--html", "--hlog" };
	if (outputs[mode >> 1 & 3]) {
		argv[argc++] = outputs[mode >> 1 & 3];
		argv[argc++] = "-";
	}
	if (mode & 8) {
		argv[argc++] = "--threshold";
		argv[argc++] = "latency.p99<5ms";
	}
	argv[argc] = NULL;
	int rc = report_main(argc, argv);
	fflush(stdout);
	FUZZ_CHECK(rc == EXIT_OK || rc == EXIT_FAILED || rc == EXIT_THRESHOLDS);
	close(fa);
	if (fb >= 0)
		close(fb);
	return 0;
}
