/* pool: connection slots, their ramp, their reconnect backoff, the free and ready lists. */
#include "pool.h"

#include <stdbool.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "clock.h"
#include "conn.h"
#include "dispatch.h"
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
	w->nconns = pool_share(w->opt->max_connections, w->slot, w->slots);
	w->conns = calloc(w->nconns ? w->nconns : 1, sizeof(*w->conns));
	w->ctxs = calloc(w->nconns ? w->nconns : 1, sizeof(*w->ctxs));
	if (!w->conns || !w->ctxs)
		return -1;
	for (uint32_t i = 0; i < w->nconns; i++) {
		struct conn *c = &w->conns[i];
		c->id = i;
		c->prev = c->next = CONN_LIST_NONE;
		inflight_list_init(&c->fl);
	}
	conn_list_init(&w->ready);
	conn_list_init(&w->connects);
	conn_list_init(&w->free);
	return 0;
}

void pool_free(struct worker *w)
{
	free(w->conns);
	free(w->ctxs);
	w->conns = NULL;
	w->ctxs = NULL;
}

void pool_ready_push(struct worker *w, struct conn *c)
{
	if (c->in_ready)
		return;
	c->in_ready = 1;
	conn_list_push(&w->ready, w->conns, c);
}

void pool_ready_remove(struct worker *w, struct conn *c)
{
	if (!c->in_ready)
		return;
	conn_list_remove(&w->ready, w->conns, c);
	c->in_ready = 0;
}

void pool_drain(struct worker *w, struct conn *c)
{
	if (c->draining)
		return;
	c->draining = 1;
	w->draining++;
	pool_ready_remove(w, c);
}

/* t_connect doubles as "not before" for the slot's next connect. */
static void hold_back(struct conn *c, uint64_t now)
{
	uint64_t delay = BACKOFF_BASE_NS << (c->backoff < 7 ? c->backoff : 7);

	c->t_connect = now + (delay < BACKOFF_MAX_NS ? delay : BACKOFF_MAX_NS);
	if (c->backoff < 127)
		c->backoff++;
}

void pool_conn_hold_back(struct worker *w, struct conn *c)
{
	hold_back(c, clock_ns());
}

void pool_conn_closed(struct worker *w, struct conn *c, bool failed)
{
	uint64_t now = clock_ns();

	if (failed)
		hold_back(c, now);
	else
		c->t_connect = now;
	if (c->id < w->target && !c->in_free && !c->session_live) {
		c->in_free = 1;
		conn_list_push(&w->free, w->conns, c);
		worker_wake_tick(w);
	}
}

/* A free slot connects, spending a token. False when no destination is up. */
static bool reconnect(struct worker *w, struct conn *c)
{
	c->dest = dest_table_pick(&w->dests, w->slots, w->slot);
	if (c->dest == DEST_NONE)
		return false;
	conn_list_remove(&w->free, w->conns, c);
	c->in_free = 0;
	w->connect_tokens -= 1;
	conn_open(w, c);
	return true;
}

void pool_reopen(struct worker *w, struct conn *c)
{
	/* Not a slot held back (closed before it answered): the pool's
	 * upkeep connects it when its backoff is over. */
	if (!w->stopping && c->in_free && w->connect_tokens >= 1 && c->t_connect <= clock_ns())
		reconnect(w, c);
}

static uint32_t target_at(struct worker *w, uint64_t now)
{
	const struct options *o = w->opt;
	uint64_t t = now > w->start_ns ? now - w->start_ns : 0;
	double total = pacer_rate_at(o->conn_segs, o->nconn_segs, t);

	if (total < 0)
		total = 0;
	uint32_t share = pool_share((uint32_t)floor(total + 1e-9), w->slot, w->slots);
	return share < w->nconns ? share : w->nconns;
}

/* Stops new requests on c and closes it once idle (a session at once: it
 * learns of it at its next call); the pool replaces it. */
static void retire(struct worker *w, struct conn *c)
{
	if (c->state == CONN_CONNECTING || c->inflight == 0 || w->opt->shape == SHAPE_SESSION) {
		conn_close(w, c, -1);
	} else {
		pool_drain(w, c);
	}
}

/* The target moved from `from` to `to`: slots that came into it join the
 * free list, slots that left it are retired (closed, or drained when they
 * carry requests) and leave it. Work is proportional to the move, never to
 * the pool. */
static void retarget(struct worker *w, uint32_t from, uint32_t to)
{
	for (uint32_t i = from; i < to; i++) {
		struct conn *c = &w->conns[i];
		if (c->state == CONN_CLOSED && !c->session_live && !c->in_free) {
			c->in_free = 1;
			conn_list_push(&w->free, w->conns, c);
		}
	}
	for (uint32_t i = to; i < from; i++) {
		struct conn *c = &w->conns[i];
		if (c->in_free) {
			conn_list_remove(&w->free, w->conns, c);
			c->in_free = 0;
		}
		if (c->state != CONN_CLOSED)
			retire(w, c);
	}
}

uint64_t pool_connect_phase_ns(const struct options *o)
{
	if (o->start != START_CONNECTED || o->connect_rate <= 0)
		return 0;
	double conns = pacer_rate_at(o->conn_segs, o->nconn_segs, 0);
	double ns = conns / o->connect_rate * 1.5e9 + 100e6;
	return ns < (double)o->connect_timeout_ns ? (uint64_t)ns : o->connect_timeout_ns;
}

void pool_upkeep(struct worker *w, uint64_t now)
{
	const struct options *o = w->opt;
	double rate = o->connect_rate / w->slots;
	uint32_t target = target_at(w, now);

	if (!w->stopping && target != w->target) {
		uint32_t from = w->target;
		w->target = target;
		retarget(w, from, target);
	}
	w->connect_tokens += (double)(now - w->tokens_at) * rate / 1e9;
	w->tokens_at = now;
	/* A loop turn busy with traffic may come late: the tokens of 100 ms
	 * carry over so connects keep their rate under load, but a long stall
	 * does not open a flood. */
	double burst = rate * 0.1 > 1 ? rate * 0.1 : 1;
	if (w->connect_tokens > burst)
		w->connect_tokens = burst;
	if (w->stopping)
		return;

	/* Free slots in the order they were freed; one still in its backoff
	 * stays for a later turn. */
	uint32_t next;
	for (uint32_t id = w->free.head; id != CONN_LIST_NONE && w->connect_tokens >= 1; id = next) {
		struct conn *c = &w->conns[id];
		next = c->next;
		if (c->t_connect > now)
			continue;
		if (!reconnect(w, c))
			break;
	}
}

uint64_t pool_upkeep_due(const struct worker *w, uint64_t now)
{
	const struct options *o = w->opt;
	uint64_t t = now > w->start_ns ? now - w->start_ns : 0;
	const struct rate_segment *s = pacer_segment_at(o->conn_segs, o->nconn_segs, t);

	if (w->free.head != CONN_LIST_NONE)
		return now;
	if (!s)
		return UINT64_MAX; /* past the last segment the target stays 0 */
	return s->r0 != s->r1 ? now : w->start_ns + s->t1;
}

/* With think time the connections are meant to be mostly idle: opened
 * together, their first requests would come together and every think time
 * after as one burst. They are spread evenly over one think time instead
 * (slot i at the fractional part of i times the golden ratio). */
void pool_begin_traffic(struct worker *w)
{
	const struct options *o = w->opt;
	bool spread = o->think_ns && !o->rate_segs && o->shape == SHAPE_MESSAGE;

	for (uint32_t i = 0; i < w->nconns; i++) {
		struct conn *c = &w->conns[i];
		if (c->state != CONN_OPEN || c->session_live)
			continue;
		if (spread) {
			double f = (double)(i + 1) * 0.6180339887498949;
			dispatch_first_after(w, c, (uint64_t)((f - floor(f)) * (double)o->think_ns));
		} else {
			conn_begin(w, c);
		}
	}
}

/* Closing a loopback socket is also the kernel's work on the peer's side
 * (FIN, ACK, the orphan): ~10 us or more, so tens of thousands at once would
 * hold the loop for seconds, deaf to answers and to its coordinator. */
bool pool_close_some(struct worker *w, bool all, uint32_t *cursor, uint32_t max,
		     uint64_t budget_ns)
{
	uint64_t t0 = clock_ns();
	uint32_t closed = 0;

	while (*cursor < w->nconns) {
		struct conn *c = &w->conns[(*cursor)++];
		if (c->state == CONN_CLOSED ||
		    (!all && c->state == CONN_OPEN && c->inflight > 0))
			continue;
		conn_close(w, c, -1);
		/* The clock after each: a close costs far more than reading it. */
		if (++closed >= max || clock_ns() - t0 >= budget_ns)
			break;
	}
	return *cursor >= w->nconns;
}

/* ---- destination updates (the coordinator re-resolved a name) ---- */

/* Connections to addresses no longer in DNS drain: they finish what is in
 * flight and are replaced by connections to the active set. Sessions run to
 * their end; their replacements go to active addresses. */
static void drain_inactive(struct worker *w)
{
	if (w->opt->shape == SHAPE_SESSION)
		return;
	for (uint32_t i = 0; i < w->nconns; i++) {
		struct conn *c = &w->conns[i];
		if (c->state != CONN_CLOSED && c->dest < w->dests.n && !w->dests.d[c->dest].active &&
		    !c->draining)
			retire(w, c);
	}
}

/* A steady pool opens no new connections, so an address that joins would
 * get none: move this worker's fair share onto each newcomer, taken from the
 * most loaded addresses and promised to the newcomer (dest_table_owe). */
static int rebalance(struct worker *w, const bool *was_active, uint32_t nbefore)
{
	struct dest_table *t = &w->dests;
	uint32_t *count = calloc(t->n ? t->n : 1, sizeof(*count));
	uint32_t total = 0;
	int rc = 0;

	if (!count)
		return -ENOMEM;
	for (uint32_t i = 0; i < w->nconns; i++) {
		struct conn *c = &w->conns[i];
		if (c->state != CONN_CLOSED && !c->draining && c->dest < t->n && t->d[c->dest].active) {
			count[c->dest]++;
			total++;
		}
	}
	uint32_t fair = t->nact ? total / t->nact : 0;
	for (uint32_t j = 0; j < t->n && rc == 0; j++) {
		bool fresh = t->d[j].active && (j >= nbefore || !was_active[j]);
		while (fresh && count[j] < fair) {
			uint32_t from = DEST_NONE;
			for (uint32_t k = 0; k < t->n; k++)
				if (t->d[k].active && count[k] > fair &&
				    (from == DEST_NONE || count[k] > count[from]))
					from = k;
			if (from == DEST_NONE)
				break;
			struct conn *victim = NULL;
			for (uint32_t i = 0; i < w->nconns && !victim; i++) {
				struct conn *c = &w->conns[i];
				if (c->state != CONN_CLOSED && !c->draining && c->dest == from)
					victim = c;
			}
			if (!victim)
				break;
			if ((rc = dest_table_owe(t, j)) < 0)
				break;
			count[from]--;
			count[j]++;
			retire(w, victim);
		}
	}
	free(count);
	return rc;
}

int pool_apply_dests(struct worker *w, const uint8_t *buf, size_t len)
{
	uint32_t nbefore = w->dests.n;
	bool *was = calloc(nbefore ? nbefore : 1, sizeof(*was));
	int rc = -ENOMEM;

	if (!was)
		return rc;
	for (uint32_t i = 0; i < nbefore; i++)
		was[i] = w->dests.d[i].active;
	if ((rc = dest_table_decode(&w->dests, buf, len)) < 0)
		goto out;
	if ((rc = dest_table_register_stats(&w->dests, &w->stats)) < 0)
		goto out;
	drain_inactive(w);
	if (w->opt->shape == SHAPE_MESSAGE && !w->stopping)
		rc = rebalance(w, was, nbefore);
out:
	free(was);
	return rc;
}
