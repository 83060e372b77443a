/* series: a run's whole seconds, spooled to disk as they come. */
#include "series.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hlog.h"

/* Append-only bytes with reads at any offset: an unlinked temporary file
 * (fd >= 0), or memory when no file could be made or a write to it failed
 * (a full disk moves what is there into memory and goes on). */
struct spool {
	int fd;
	uint8_t *mem;
	size_t len, cap;
};

struct series {
	struct spool points; /* struct series_point after struct series_point */
	struct spool lines;  /* the interval log lines, second after second */
	bool with_hlog;
	size_t n;
	int err;   /* the first failed append: sticky */
	char *last; /* the last second's lines */
	size_t lastlen;
};

static void spool_open(struct spool *sp)
{
	const char *dir = getenv("TMPDIR");
	char *path;

	if (!dir || !*dir)
		dir = "/tmp";
	sp->fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (sp->fd >= 0 || asprintf(&path, "%s/surge-series-XXXXXX", dir) < 0)
		return;
	sp->fd = mkostemp(path, O_CLOEXEC); /* a file system without O_TMPFILE */
	if (sp->fd >= 0)
		unlink(path);
	free(path);
}

static void spool_close(struct spool *sp)
{
	if (sp->fd >= 0)
		close(sp->fd);
	free(sp->mem);
}

static int mem_reserve(struct spool *sp, size_t more)
{
	if (sp->len + more <= sp->cap)
		return 0;
	size_t cap = sp->cap ? sp->cap : 4096;
	while (cap < sp->len + more)
		cap *= 2;
	uint8_t *p = realloc(sp->mem, cap);
	if (!p)
		return -ENOMEM;
	sp->mem = p;
	sp->cap = cap;
	return 0;
}

static int spool_read(const struct spool *sp, size_t off, void *buf, size_t n)
{
	if (off > sp->len || n > sp->len - off)
		return -ERANGE;
	if (sp->fd < 0) {
		memcpy(buf, sp->mem + off, n);
		return 0;
	}
	for (size_t done = 0; done < n;) {
		ssize_t r = pread(sp->fd, (uint8_t *)buf + done, n - done, (off_t)(off + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		done += (size_t)r;
	}
	return 0;
}

/* The file failed a write: what it holds moves into memory. */
static int spool_to_memory(struct spool *sp)
{
	uint8_t *mem = sp->len ? malloc(sp->len) : NULL;
	int rc = sp->len && !mem ? -ENOMEM : 0;

	if (rc == 0 && sp->len)
		rc = spool_read(sp, 0, mem, sp->len);
	if (rc < 0) {
		free(mem);
		return rc;
	}
	sp->mem = mem;
	sp->cap = sp->len;
	close(sp->fd);
	sp->fd = -1;
	return 0;
}

static int spool_append(struct spool *sp, const void *buf, size_t n)
{
	for (size_t done = 0; sp->fd >= 0 && done < n;) {
		ssize_t w = pwrite(sp->fd, (const uint8_t *)buf + done, n - done,
				   (off_t)(sp->len + done));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int rc = spool_to_memory(sp);
			if (rc < 0)
				return rc;
			break; /* the whole of buf goes to memory below */
		}
		done += (size_t)w;
		if (done == n) {
			sp->len += n;
			return 0;
		}
	}
	if (sp->fd < 0) {
		if (mem_reserve(sp, n) < 0)
			return -ENOMEM;
		memcpy(sp->mem + sp->len, buf, n);
	}
	sp->len += n;
	return 0;
}

int series_new(bool with_hlog, struct series **out)
{
	struct series *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (!s)
		return -ENOMEM;
	s->with_hlog = with_hlog;
	spool_open(&s->points);
	s->lines.fd = -1;
	if (with_hlog)
		spool_open(&s->lines);
	*out = s;
	return 0;
}

void series_free(struct series *s)
{
	if (!s)
		return;
	spool_close(&s->points);
	spool_close(&s->lines);
	free(s->last);
	free(s);
}

static void summary(struct series_hist *sh, const struct hist *h)
{
	memset(sh, 0, sizeof(*sh));
	if (!hist_total(h))
		return;
	sh->count = hist_total(h);
	sh->p50 = hist_value_at_percentile(h, 50);
	sh->p90 = hist_value_at_percentile(h, 90);
	sh->p99 = hist_value_at_percentile(h, 99);
	sh->max = hist_max(h);
}

void series_point_from_stats(struct series_point *p, const struct stats *st)
{
	memset(p, 0, sizeof(*p));
	memcpy(p->counter, st->counter, sizeof(p->counter));
	memcpy(p->error, st->error, sizeof(p->error));
	memcpy(p->gauge, st->gauge, sizeof(p->gauge));
	for (int i = 0; i < HI__COUNT; i++)
		summary(&p->hist[i], st->hist[i]);
}

int series_append(struct series *s, const struct stats *st, const char **lines, size_t *len)
{
	struct series_point p;
	int rc = s->err;

	free(s->last);
	s->last = NULL;
	s->lastlen = 0;
	if (rc == 0 && s->with_hlog &&
	    (rc = hlog_interval_lines((double)s->n, 1.0, st, &s->last, &s->lastlen)) == 0)
		rc = spool_append(&s->lines, s->last, s->lastlen);
	if (rc == 0) {
		series_point_from_stats(&p, st);
		rc = spool_append(&s->points, &p, sizeof(p));
	}
	if (lines)
		*lines = s->last;
	if (len)
		*len = s->lastlen;
	if (rc < 0) {
		s->err = rc;
		return rc;
	}
	s->n++;
	return 0;
}

size_t series_len(const struct series *s)
{
	return s ? s->n : 0;
}

int series_get(struct series *s, size_t i, struct series_point *p)
{
	if (i >= s->n)
		return -ERANGE;
	return spool_read(&s->points, i * sizeof(*p), p, sizeof(*p));
}

int series_write_hlog(struct series *s, FILE *f)
{
	char buf[65536];

	if (!s)
		return 0;
	if (!s->with_hlog)
		return -EINVAL;
	if (s->err)
		return s->err;
	for (size_t off = 0; off < s->lines.len;) {
		size_t n = s->lines.len - off < sizeof(buf) ? s->lines.len - off : sizeof(buf);
		int rc = spool_read(&s->lines, off, buf, n);
		if (rc < 0)
			return rc;
		if (fwrite(buf, 1, n, f) != n)
			return -EIO;
		off += n;
	}
	return ferror(f) ? -EIO : 0;
}

size_t series_mem_bytes(const struct series *s)
{
	return sizeof(*s) + s->points.cap + s->lines.cap + s->lastlen;
}
