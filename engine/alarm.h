/*
 * alarm: each connection's one timer (a session's sleep or read timeout, the
 * closed model's think time, a first request spread over the connect phase,
 * the retry after a failed request callback), kept in one binary heap of
 * connection ids per worker under a single timerfd for the earliest.
 *
 * Why not an ev_timer per connection: it is 48 bytes in every slot plus 16
 * in libev's heap, and a million idle connections (issue 18) pay it whether
 * they wait or not. Here a slot holds its time, its heap position and its
 * kind (13 bytes), and the heap 4 bytes per waiting connection.
 *
 * The timer is an nstimer (a timerfd): libev's own wait in whole
 * milliseconds made a 1 ms think time take 1.5 ms on average.
 */
#ifndef SURGE_ALARM_H
#define SURGE_ALARM_H

#include <stdbool.h>
#include <stdint.h>

#include "nstimer.h"

struct conn;
struct worker;

enum alarm_kind {
	ALARM_THINK = 1, /* the closed model sends (dispatch_alarm) */
	ALARM_WAKE,      /* a waiting session is woken (conn_alarm) */
};

struct alarm_heap {
	uint32_t *ids; /* connection ids, earliest first (a binary heap) */
	uint32_t len, cap;
	struct nstimer timer; /* set no later than ids[0]'s time */
	uint64_t firing_until; /* in alarm_cb: what is due now; 0 outside it */
};

/* cap: the worker's connection slots (every one may wait at once). */
int alarm_init(struct worker *w, uint32_t cap);
void alarm_free(struct worker *w);
/* c's alarm goes off after_ns from now (replacing any it had). */
void alarm_set(struct worker *w, struct conn *c, uint64_t after_ns, enum alarm_kind kind);
/* c's alarm, if set, is cancelled; its time stays for alarm_left. */
void alarm_clear(struct worker *w, struct conn *c);
bool alarm_active(const struct conn *c);
/* c's alarm, if set, is cancelled and its time becomes `at` (absolute ns)
 * without going off: a slot that closes remembers when its think time ends,
 * for its next connection (dispatch.c). It lives in the slot's alarm time,
 * which a closed slot does not use, so the memory costs no byte. */
void alarm_keep(struct worker *w, struct conn *c, uint64_t at);
/* ns from now to c's alarm time (set, cleared or kept); 0 once past. */
uint64_t alarm_left(const struct conn *c, uint64_t now);

#endif
