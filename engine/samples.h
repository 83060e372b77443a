/*
 * samples: a worker's half of the per-request sample log (--samples FILE).
 * One record per sampled request (samples_file.h has the layout), built when
 * it is answered, fails or is left unfinished, and appended to a buffer that
 * goes to FILE.w<worker> in large writes; the coordinator merges the parts
 * into FILE at the end. Which requests are sampled is decided as they are
 * sent (1 in `every`). A write that fails (a full disk) ends sampling with a
 * warning; the run goes on. Every hook is a no-op when s is NULL.
 */
#ifndef SURGE_SAMPLES_H
#define SURGE_SAMPLES_H

#include <stdint.h>

#include "conn.h"
#include "inflight.h"

struct samples;
struct dest_table;

/* Creates path (FILE.w<worker>) and writes its header; conns: the pool's slots.
 * log_fd: where a warning goes (ipc IPC_LOG). 0 and *out, or -errno. */
int samples_open(const char *path, uint32_t worker, uint32_t conns, uint32_t every,
		 uint64_t start_ns, double start_epoch, const struct dest_table *dests, int log_fd,
		 struct samples **out);
/* Flushes, closes and frees (NULL-safe). */
void samples_close(struct samples *s);

void samples_conn_opened_(struct samples *s, const struct conn *c);
void samples_sent_(struct samples *s, uint32_t i, uint32_t bytes);
void samples_done_(struct samples *s, const struct conn *c, uint32_t i, const struct inflight *f,
		   uint64_t now, uint32_t bytes_in, int cls);
void samples_closed_(struct samples *s, const struct inflight_pool *fl, const struct conn *c,
		     int cls, uint64_t now);

void samples_status_(struct samples *s, int32_t status);

/* The protocol's status of the answer being parsed (surge.status): the next
 * samples_done records it. */
static inline void samples_status(struct samples *s, int32_t status)
{
	if (s)
		samples_status_(s, status);
}
/* c is open: its serial and source address. */
static inline void samples_conn_opened(struct samples *s, const struct conn *c)
{
	if (s)
		samples_conn_opened_(s, c);
}
/* In-flight entry i was just sent with `bytes` bytes: sampled or not. */
static inline void samples_sent(struct samples *s, uint32_t i, uint32_t bytes)
{
	if (s)
		samples_sent_(s, i, bytes);
}
/* Entry i on c was answered at now (cls -1), or answered wrongly (cls an
 * enum stat_error). */
static inline void samples_done(struct samples *s, const struct conn *c, uint32_t i,
				const struct inflight *f, uint64_t now, uint32_t bytes_in, int cls)
{
	if (s)
		samples_done_(s, c, i, f, now, bytes_in, cls);
}
/* c closes with its requests in flight: each failed with cls (an enum
 * stat_error), or is unfinished (cls -1). */
static inline void samples_closed(struct samples *s, const struct inflight_pool *fl,
				  const struct conn *c, int cls, uint64_t now)
{
	if (s)
		samples_closed_(s, fl, c, cls, now);
}

#endif
