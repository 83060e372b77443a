/*
 * pool: a worker's connection slots. It tracks the scenario's connection
 * count (a ramp, split exactly across workers), opens at a bounded rate,
 * replaces failed connections after an exponential backoff, and keeps the
 * list of connections with room for another request.
 */
#ifndef SURGE_POOL_H
#define SURGE_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct conn;
struct options;
struct worker;

/* Allocates the slots for this worker's peak share. Returns 0 or -ENOMEM. */
int pool_init(struct worker *w);
void pool_free(struct worker *w);
/* This worker's share of `total` connections (shares of all workers sum to total). */
uint32_t pool_share(uint32_t total, uint32_t index, uint32_t count);
/* start = "connected": how long before the run's start its connections get
 * to open — the connect schedule (connections at t=0 / connect_rate) and
 * half again, plus 100 ms, and never past connect_timeout. 0 for start = now. */
uint64_t pool_connect_phase_ns(const struct options *o);
/* Opens or retires connections toward the ramp's value at now (ns). */
void pool_upkeep(struct worker *w, uint64_t now);
/* When the upkeep next has work: now while a slot waits to connect or the
 * connection target moves (a ramp), else when the target's flat stretch
 * ends (absolute ns; UINT64_MAX: never). A slot that comes free later is
 * not foreseen: pool_conn_closed wakes the worker's tick for it. */
uint64_t pool_upkeep_due(const struct worker *w, uint64_t now);
/* The ready list: open connections that can take another request. Push is a
 * no-op for one already on it, remove for one not on it. */
void pool_ready_push(struct worker *w, struct conn *c);
void pool_ready_remove(struct worker *w, struct conn *c);
/* Open c takes no more requests and closes once idle (churn, a shrinking
 * pool, a destination gone); counted in w->draining until conn_close. A
 * no-op for one already draining. */
void pool_drain(struct worker *w, struct conn *c);
/* A connection closed: sets when its slot may connect again (at once, or
 * after the backoff when it failed). */
void pool_conn_closed(struct worker *w, struct conn *c, bool failed);
/* A slot just closed without a fault of its own (pool_conn_closed with
 * failed false) whose session failed all the same: it waits out the
 * backoff too, which grows until an answer or a session completes. */
void pool_conn_hold_back(struct worker *w, struct conn *c);
/* A slot whose connection ended gracefully (HTTP's Connection: close, or
 * recycled by churn) connects again now, not at the next upkeep, when the
 * connect rate allows; else the upkeep does it once it does. */
void pool_reopen(struct worker *w, struct conn *c);
/* The connect phase is over: connections that opened in it get their
 * first requests (or their session). */
void pool_begin_traffic(struct worker *w);
/* A destination update from the coordinator (an encoded dest table):
 * registers statistics for new entries, drains the connections to entries
 * no longer active and moves a fair share onto new ones. Returns 0 or -errno. */
int pool_apply_dests(struct worker *w, const uint8_t *buf, size_t len);
/* The end of a run, spread over loop turns: from slot *cursor on, closes
 * the connections still connecting and the open ones with nothing in flight
 * (all: every connection, in-flight requests counting as unfinished), until
 * `max` are closed or `budget_ns` has passed. Returns true once the walk has
 * reached the last slot (then *cursor is w->nconns). */
bool pool_close_some(struct worker *w, bool all, uint32_t *cursor, uint32_t max,
		     uint64_t budget_ns);

#endif
