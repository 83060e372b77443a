/* pool: connection slots, their ramp, their reconnect backoff, the ready list. */
#include "pool.h"

#include <math.h>
#include <stdlib.h>

#include "clock.h"
#include "worker.h"

#define BACKOFF_BASE_NS (10 * NS_PER_MS)
#define BACKOFF_MAX_NS (1 * NS_PER_SEC)

uint32_t pool_share(uint32_t total, uint32_t index, uint32_t count)
{
	/* Hermite's identity: sum over k of floor((n + k) / W) is n. */
	return (uint32_t)(((uint64_t)total + (count - 1 - index)) / count);
}

int pool_init(struct worker *w)
{
	w->nconns = pool_share(w->opt->max_connections, w->index, w->count);
	w->conns = calloc(w->nconns ? w->nconns : 1, sizeof(*w->conns));
	w->ctxs = calloc(w->nconns ? w->nconns : 1, sizeof(*w->ctxs));
	if (!w->conns || !w->ctxs)
		return -1;
	for (uint32_t i = 0; i < w->nconns; i++) {
		struct conn *c = &w->conns[i];
		c->id = i;
		c->ready_prev = c->ready_next = READY_NONE;
		w->ctxs[i].conn_id = i;
		w->ctxs[i].worker = w->index;
	}
	w->ready_head = w->ready_tail = READY_NONE;
	return 0;
}

void pool_free(struct worker *w)
{
	free(w->conns);
	free(w->ctxs);
	w->conns = NULL;
	w->ctxs = NULL;
}

void worker_ready_push(struct worker *w, struct conn *c)
{
	if (c->in_ready)
		return;
	c->in_ready = 1;
	c->ready_next = READY_NONE;
	c->ready_prev = w->ready_tail;
	if (w->ready_tail != READY_NONE)
		w->conns[w->ready_tail].ready_next = c->id;
	else
		w->ready_head = c->id;
	w->ready_tail = c->id;
}

void worker_ready_remove(struct worker *w, struct conn *c)
{
	if (!c->in_ready)
		return;
	if (c->ready_prev != READY_NONE)
		w->conns[c->ready_prev].ready_next = c->ready_next;
	else
		w->ready_head = c->ready_next;
	if (c->ready_next != READY_NONE)
		w->conns[c->ready_next].ready_prev = c->ready_prev;
	else
		w->ready_tail = c->ready_prev;
	c->in_ready = 0;
	c->ready_prev = c->ready_next = READY_NONE;
}

void worker_conn_closed(struct worker *w, struct conn *c, bool failed)
{
	uint64_t now = clock_ns();

	/* t_connect doubles as "not before" for the slot's next connect. */
	if (failed) {
		uint64_t delay = BACKOFF_BASE_NS << (c->backoff < 7 ? c->backoff : 7);
		c->t_connect = now + (delay < BACKOFF_MAX_NS ? delay : BACKOFF_MAX_NS);
		if (c->backoff < 255)
			c->backoff++;
	} else {
		c->t_connect = now;
	}
}

static uint32_t target_at(struct worker *w, uint64_t now)
{
	const struct options *o = w->opt;
	uint64_t t = now > w->start_ns ? now - w->start_ns : 0;
	double total = pacer_rate_at(o->conn_segs, o->nconn_segs, t);

	if (total < 0)
		total = 0;
	uint32_t share = pool_share((uint32_t)floor(total + 1e-9), w->index, w->count);
	return share < w->nconns ? share : w->nconns;
}

void pool_upkeep(struct worker *w, uint64_t now)
{
	const struct options *o = w->opt;
	double rate = o->connect_rate / w->count;

	w->target = target_at(w, now);
	w->connect_tokens += (double)(now - w->tokens_at) * rate / 1e9;
	w->tokens_at = now;
	/* Allow a burst of one tick's worth (and at least one) so a slow tick
	 * does not lose rate, but a long stall does not open a flood. */
	double burst = rate * 0.02 > 1 ? rate * 0.02 : 1;
	if (w->connect_tokens > burst)
		w->connect_tokens = burst;
	if (w->stopping)
		return;

	if (w->open + w->connecting < w->target) {
		for (uint32_t i = 0; i < w->target && w->connect_tokens >= 1; i++) {
			struct conn *c = &w->conns[i];
			if (c->state != CONN_CLOSED || c->session_live || c->t_connect > now)
				continue;
			c->dest = dest_table_pick(&w->dests, w->count, w->index);
			if (c->dest == DEST_NONE)
				break;
			w->connect_tokens -= 1;
			conn_open(w, c);
		}
	}
	if (w->open + w->connecting > w->target) {
		for (uint32_t i = w->target; i < w->nconns; i++) {
			struct conn *c = &w->conns[i];
			if (c->state == CONN_CLOSED)
				continue;
			if (c->inflight == 0 || o->shape == SHAPE_SESSION)
				conn_close(w, c, -1);
			else
				c->draining = 1;
			worker_ready_remove(w, c);
		}
	}
}

void pool_close_all(struct worker *w)
{
	for (uint32_t i = 0; i < w->nconns; i++)
		conn_close(w, &w->conns[i], -1);
}
