/*
 * quota: a run of exactly N requests (requests = N, -n N). Worker k of W
 * owns ceil((N - k) / W) of them: in the open model exactly the global
 * schedule indices below N that it takes anyway (k, k+W, ...: pacer.h), so
 * the workers send the schedule's first N between them. Its share done, a
 * worker stops and drains; duration stays an upper bound.
 */
#ifndef SURGE_QUOTA_H
#define SURGE_QUOTA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct quota {
	uint64_t share;   /* UINT64_MAX: no count, the duration alone ends the run */
	uint64_t taken;   /* open model: intended times taken from the schedule */
	uint64_t sent;    /* requests written (ST_SENT, never reset) */
	uint64_t unbuilt; /* closed model: requests the protocol's callback failed
			   * to make; they count toward the share, or a callback
			   * that always fails would retry for the whole (maybe
			   * unbounded) duration */
	uint64_t done_ns; /* when the share was complete (absolute ns), 0 before */
	bool ended_run;   /* the share, not the duration or a signal, ended the run */
};

/* total 0: no count. */
void quota_init(struct quota *q, uint64_t total, uint32_t index, uint32_t count);

/* IPC_DONE's payload: how a worker's run ended, for the report's "ended by". */
struct quota_done_msg {
	uint64_t end_ns;   /* ns since the start when its share was complete; 0: not */
	uint32_t ended_run; /* 1: its share ended its run */
	uint32_t pad;
};
/* The worker's last message (IPC_DONE) with that payload. */
void quota_report_done(const struct quota *q, int fd, uint32_t index, uint32_t second,
		       uint64_t start_ns);
/* Reads a payload (len may be 0: an older worker, or none). 0 or -EINVAL. */
int quota_done_decode(const void *p, size_t len, struct quota_done_msg *out);

/* This worker's share of total (the shares of all workers sum to total). */
static inline uint64_t quota_share(uint64_t total, uint32_t index, uint32_t count)
{
	return total / count + (index < total % count ? 1 : 0);
}

/* Closed model: another request may go. */
static inline bool quota_may_send(const struct quota *q)
{
	return q->sent + q->unbuilt < q->share;
}

/* Open model: takes the next schedule entry; false once the share is taken. */
static inline bool quota_take(struct quota *q)
{
	if (q->taken >= q->share)
		return false;
	q->taken++;
	return true;
}

/* A request was written at now (conn.c). */
static inline void quota_sent(struct quota *q, uint64_t now)
{
	if (++q->sent + q->unbuilt == q->share)
		q->done_ns = now;
}

/* Closed model: the request callback failed (counted as its error). */
static inline void quota_unbuilt(struct quota *q, uint64_t now)
{
	if (q->sent + ++q->unbuilt == q->share)
		q->done_ns = now;
}

#endif
