/* live_hlog: --hlog written as the run goes. */
#include "collector.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hlog.h"
#include "report.h"

static int write_all(int fd, const char *buf, size_t len)
{
	for (size_t off = 0; off < len;) {
		ssize_t n = write(fd, buf + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EIO;
		off += (size_t)n;
	}
	return 0;
}

/* Writes what fn put into a memory stream to fd in one write() (closing the
 * stream either way). */
static int write_whole(int fd, int (*fn)(FILE *f, const void *arg), const void *arg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);

	if (!mem)
		return -ENOMEM;
	int rc = fn(mem, arg);
	if (fclose(mem) != 0 && rc == 0)
		rc = -EIO;
	if (rc == 0)
		rc = write_all(fd, buf, len);
	free(buf);
	return rc;
}

static int live_header(FILE *f, const void *arg)
{
	const struct collector *col = arg;
	struct run_result live = *col->res; /* a read-only view without the elapsed time */

	live.elapsed_ns = 0;
	return report_hlog_header(f, col->opt, &live, true);
}

/* Each whole second goes to --hlog as soon as every worker has reported it,
 * so a long run can be watched (or survives the coordinator being killed).
 * Its header says elapsed_s 0 (not known yet: readers take the intervals'
 * end), and each second leaves in one write(), so a reader sees whole
 * seconds. A write that fails stops the live copy only: the final one still
 * comes. */
void live_hlog_open(struct collector *col)
{
	if (!report_path_replaced(col->opt->hlog_path))
		return; /* to stdout, a FIFO or a device it goes once, whole, at the end */
	col->live_hlog = open(col->opt->hlog_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (col->live_hlog < 0 || write_whole(col->live_hlog, live_header, col) < 0) {
		fprintf(stderr, "surge: warning: %s: cannot write it as the run goes; it will be "
				"written at the end\n", col->opt->hlog_path);
		if (col->live_hlog >= 0)
			close(col->live_hlog);
		col->live_hlog = -1;
	}
}

void live_hlog_second(struct collector *col, const char *lines, size_t len)
{
	if (col->live_hlog >= 0 && write_all(col->live_hlog, lines, len) < 0) {
		close(col->live_hlog);
		col->live_hlog = -1;
	}
}

void live_hlog_beat(struct collector *col)
{
	if (col->live_hlog >= 0)
		futimens(col->live_hlog, NULL); /* a failure costs only the pulse */
}

void live_hlog_close(struct collector *col)
{
	if (col->live_hlog >= 0)
		close(col->live_hlog); /* report_files replaces it with the whole log */
	col->live_hlog = -1;
}
