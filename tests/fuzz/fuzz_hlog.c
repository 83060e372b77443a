/* hlog_read on a hostile interval log, read from memory: 0, or -EINVAL with
 * a message naming the line (-ENOMEM aside). An input with a form feed is
 * two logs merged, as `surge report a.hlog b.hlog` does. What was read is
 * written back and must read again. */
#include <errno.h>
#include <malloc.h>

#include "fuzz.h"
#include "hlog.h"

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

static int read_log(const uint8_t *data, size_t size, const char *name, struct hlog *l)
{
	char err[512] = "";
	/* fmemopen of 0 bytes fails: an empty log is a log of no lines. */
	FILE *f = fmemopen((void *)(size ? data : (const uint8_t *)"\n"), size ? size : 1, "r");
	if (!f)
		return -ENOMEM;
	int rc = hlog_read(f, name, l, err, sizeof(err));
	fclose(f);
	FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
	FUZZ_CHECK(rc == 0 || (err[0] && strncmp(err, name, strlen(name)) == 0));
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hlog l, again;
	char *buf = NULL;
	size_t buflen = 0;

	hlog_init(&l);
	hlog_init(&again);
	const uint8_t *ff = memchr(data, '\f', size);
	size_t first = ff ? (size_t)(ff - data) : size;
	if (read_log(data, first, "a.hlog", &l) < 0)
		goto out;
	if (ff && read_log(ff + 1, size - first - 1, "b.hlog", &l) < 0)
		goto out;
	for (size_t i = 1; i < l.niv; i++)
		FUZZ_CHECK(l.iv[i - 1].start < l.iv[i].start);
	(void)hlog_param(&l, "target");

	/* The reader's intervals, written as --hlog writes them, read back. */
	FILE *f = open_memstream(&buf, &buflen);
	if (!f)
		goto out;
	int rc = hlog_write_header(f, l.start_time, l.params, l.nparams);
	for (size_t i = 0; i < l.niv && rc == 0; i++)
		rc = hlog_write_interval(f, l.iv[i].start, l.iv[i].length, &l.iv[i].s);
	fclose(f);
	if (rc == 0) {
		char err[512];
		FILE *g = fmemopen(buf, buflen ? buflen : 1, "r");
		if (g) {
			rc = hlog_read(g, "rewritten", &again, err, sizeof(err));
			/* Intervals of only zero counters write no line: then "no intervals". */
			FUZZ_CHECK(rc == 0 || rc == -ENOMEM || (rc == -EINVAL && strstr(err, "no intervals")));
			fclose(g);
		}
	}
out:
	free(buf);
	hlog_free(&again);
	hlog_free(&l);
	return 0;
}
