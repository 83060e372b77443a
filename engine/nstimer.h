/*
 * nstimer: a one-shot timer on a timerfd, watched by the worker's loop.
 *
 * Why not an ev_timer: libev waits in epoll_wait, whose timeout is whole
 * milliseconds rounded up, so an ev_timer goes off up to 1 ms late when
 * nothing else wakes the loop: a 300 us think time took 1.2 ms, and a 5 ms
 * request timeout would be judged at up to 6. A timerfd fires at its
 * nanosecond. Setting one is a system call, so its users set it only when
 * it must fire sooner than it is set for (a stale early firing is cheap).
 */
#ifndef SURGE_NSTIMER_H
#define SURGE_NSTIMER_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

struct nstimer {
	ev_io io;          /* the timerfd; fd -1 before nstimer_init */
	uint64_t armed_at; /* absolute CLOCK_MONOTONIC ns it fires at; 0: disarmed */
};

/* Creates the timerfd and starts watching it with cb. Returns 0 or -errno. */
int nstimer_init(struct nstimer *t, struct ev_loop *loop, void (*cb)(struct ev_loop *, ev_io *, int));
void nstimer_free(struct nstimer *t, struct ev_loop *loop);
/* Fires at absolute time `at` (clock_ns()); 0 disarms. Either clears a
 * firing not yet handled. */
void nstimer_set(struct nstimer *t, uint64_t at);
/* In the callback, first: whether the time it is set for has come (then it
 * is disarmed). False: a readiness left from before it was set again. */
bool nstimer_due(struct nstimer *t, uint64_t now);
/* In the callback, last: a fired timer that was not set again keeps the
 * timerfd readable, which would call back at once; this clears it. */
void nstimer_settle(struct nstimer *t);

#endif
