/* samples: sampled requests, buffered, written to the worker's part file. */
#include "samples.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dest.h"
#include "ipc.h"
#include "samples_file.h"
#include "stats.h"

/* 2730 records a write: a write per few ms at 100k answers a second. */
#define SAMPLES_BUF (SAMPLES_RECORD_SIZE * 2730)

struct samples_slot {
	uint32_t serial;
	uint8_t family;
	uint8_t src[16];
	uint16_t port;
};

struct samples {
	int fd;
	int log_fd;
	uint16_t worker;
	uint32_t every, countdown;
	uint64_t start_ns;
	uint8_t *buf;
	size_t len;
	uint32_t *req; /* per in-flight entry: request bytes + 1 when sampled, 0 not */
	uint32_t nreq;
	struct samples_slot *slots;
	uint32_t nslots;
	uint32_t serial;
	int32_t status;   /* surge.status for the answer being parsed, -1 none */
	uint64_t written;
	char path[4096];
};

int samples_open(const char *path, uint32_t worker, uint32_t conns, uint32_t every,
		 uint64_t start_ns, double start_epoch, const struct dest_table *dests, int log_fd,
		 struct samples **out)
{
	struct samples *s = calloc(1, sizeof(*s));
	int rc = -ENOMEM;

	if (!s)
		return -ENOMEM;
	s->fd = -1;
	s->log_fd = log_fd;
	s->worker = (uint16_t)worker;
	s->every = every ? every : 1;
	s->status = -1;
	s->start_ns = start_ns;
	s->nslots = conns;
	snprintf(s->path, sizeof(s->path), "%s", path);
	s->buf = malloc(SAMPLES_BUF);
	s->slots = calloc(conns ? conns : 1, sizeof(*s->slots));
	if (!s->buf || !s->slots)
		goto fail;
	/* A file size limit (ulimit -f) must fail the write (EFBIG), which ends
	 * sampling, not kill the worker with SIGXFSZ. */
	signal(SIGXFSZ, SIG_IGN);
	/* The header goes through stdio once; records through the buffer. */
	FILE *f = fopen(path, "wb");
	if (!f) {
		rc = -errno;
		goto fail;
	}
	char *text = NULL;
	size_t tl = 0;
	FILE *t = open_memstream(&text, &tl);
	if (!t) {
		fclose(f);
		goto fail;
	}
	fprintf(t, "every %u\nstart_epoch %.6f\n", s->every, start_epoch);
	for (uint32_t i = 0; dests && i < dests->n; i++)
		fprintf(t, "dest %u %s\n", i, dests->d[i].label);
	fprintf(t, "outcome 0 ok\n");
	for (int e = 0; e < ERR__COUNT; e++)
		fprintf(t, "outcome %d %s\n", e + 1, stats_error_key((enum stat_error)e));
	fprintf(t, "outcome %d unfinished\n", SAMPLES_UNFINISHED);
	fclose(t);
	rc = text ? samples_header_write(f, text) : -ENOMEM;
	free(text);
	if (fflush(f) != 0 && rc == 0)
		rc = -errno;
	if (rc < 0) {
		fclose(f);
		goto fail;
	}
	s->fd = dup(fileno(f));
	fclose(f);
	if (s->fd < 0) {
		rc = -errno;
		goto fail;
	}
	*out = s;
	return 0;
fail:
	samples_close(s);
	return rc;
}

/* Writes the buffer; on failure sampling ends here, with one warning. */
static void flush(struct samples *s)
{
	size_t off = 0;

	while (off < s->len && s->fd >= 0) {
		ssize_t n = write(s->fd, s->buf + off, s->len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			char line[4400];
			int e = n < 0 ? errno : ENOSPC;
			int k = snprintf(line, sizeof(line), "worker %u: samples: writing %s failed (%s): "
					 "sampling stopped after %llu records; the run goes on",
					 s->worker, s->path, strerror(e),
					 (unsigned long long)(s->written + off / SAMPLES_RECORD_SIZE));
			if (k > 0 && s->log_fd >= 0)
				ipc_send(s->log_fd, IPC_LOG, s->worker, 0, line,
					 (size_t)k < sizeof(line) ? (size_t)k : sizeof(line) - 1);
			close(s->fd);
			s->fd = -1;
			break;
		}
		off += (size_t)n;
	}
	s->written += s->len / SAMPLES_RECORD_SIZE;
	s->len = 0;
}

void samples_close(struct samples *s)
{
	if (!s)
		return;
	if (s->fd >= 0) {
		flush(s);
		if (s->fd >= 0)
			close(s->fd);
	}
	free(s->buf);
	free(s->req);
	free(s->slots);
	free(s);
}

void samples_conn_opened_(struct samples *s, const struct conn *c)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (c->id >= s->nslots)
		return;
	struct samples_slot *sl = &s->slots[c->id];
	memset(sl, 0, sizeof(*sl));
	sl->serial = ++s->serial;
	if (getsockname(c->io.fd, (struct sockaddr *)&ss, &len) < 0)
		return;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
		sl->family = 4;
		memcpy(sl->src, &a->sin_addr, 4);
		sl->port = ntohs(a->sin_port);
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
		sl->family = 6;
		memcpy(sl->src, &a->sin6_addr, 16);
		sl->port = ntohs(a->sin6_port);
	}
}

void samples_sent_(struct samples *s, uint32_t i, uint32_t bytes)
{
	if (i >= s->nreq) {
		uint32_t n = s->nreq ? s->nreq : 1024;
		while (n <= i)
			n *= 2;
		uint32_t *r = realloc(s->req, n * sizeof(*r));
		if (!r)
			return; /* not sampled: entries past nreq read as 0 */
		memset(r + s->nreq, 0, (n - s->nreq) * sizeof(*r));
		s->req = r;
		s->nreq = n;
	}
	bool take = s->fd >= 0 && s->countdown == 0;
	s->countdown = s->countdown == 0 ? s->every - 1 : s->countdown - 1;
	s->req[i] = take ? (bytes < UINT32_MAX ? bytes + 1 : UINT32_MAX) : 0;
}

static int64_t since(const struct samples *s, uint64_t t)
{
	return (int64_t)(t - s->start_ns);
}

static void record(struct samples *s, const struct conn *c, uint32_t i, const struct inflight *f,
		   int64_t done, uint32_t bytes_in, uint8_t outcome)
{
	struct samples_record r = {0};

	if (i >= s->nreq || s->req[i] == 0)
		return;
	r.bytes_out = s->req[i] - 1;
	s->req[i] = 0;
	if (s->fd < 0)
		return;
	r.intended_ns = since(s, f->intended);
	r.sent_ns = since(s, f->sent);
	r.done_ns = done;
	r.worker = s->worker;
	r.outcome = outcome;
	r.dest = c->dest;
	r.status = s->status;
	r.bytes_in = bytes_in;
	if (c->id < s->nslots) {
		const struct samples_slot *sl = &s->slots[c->id];
		r.conn = sl->serial;
		r.family = sl->family;
		memcpy(r.src, sl->src, 16);
		r.src_port = sl->port;
	}
	samples_record_encode(&r, s->buf + s->len);
	s->len += SAMPLES_RECORD_SIZE;
	if (s->len + SAMPLES_RECORD_SIZE > SAMPLES_BUF)
		flush(s);
}

void samples_status_(struct samples *s, int32_t status)
{
	s->status = status;
}

void samples_done_(struct samples *s, const struct conn *c, uint32_t i, const struct inflight *f,
		   uint64_t now, uint32_t bytes_in, int cls)
{
	record(s, c, i, f, since(s, now), bytes_in, (uint8_t)(cls < 0 ? 0 : cls + 1));
	s->status = -1; /* it was this answer's */
}

void samples_closed_(struct samples *s, const struct inflight_pool *fl, const struct conn *c,
		     int cls, uint64_t now)
{
	s->status = -1; /* a failure has no answer's status */
	for (uint32_t i = c->fl.first; i != INFLIGHT_NONE; i = fl->e[i].cnext)
		record(s, c, i, &fl->e[i], cls < 0 ? -1 : since(s, now), 0,
		       (uint8_t)(cls < 0 ? SAMPLES_UNFINISHED : cls + 1));
}
