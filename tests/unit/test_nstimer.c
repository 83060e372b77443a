/* The timerfd timer under the alarm heap and the deadlines (nstimer.c): it
 * fires at its time, not before; a stale readiness calls nothing; a fired
 * timer that is not set again is settled (no busy loop); set sooner, it
 * follows; freed, it is safe to set and to free again. */
#include "clock.h"
#include "nstimer.h"
#include "tap.h"

static struct nstimer timer;
static int calls, due_calls;

static void cb(struct ev_loop *loop, ev_io *io, int revents)
{
	(void)loop, (void)io, (void)revents;
	calls++;
	if (nstimer_due(&timer, clock_ns()))
		due_calls++;
	nstimer_settle(&timer);
}

int main(void)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);

	ok(nstimer_init(&timer, loop, cb) == 0 && timer.io.fd >= 0, "a timerfd, watched");
	ok(ev_priority(&timer.io) == EV_MAXPRI, "its callback runs before the turn's other I/O");

	uint64_t t0 = clock_ns();
	nstimer_set(&timer, t0 + 3 * NS_PER_MS);
	while (due_calls == 0 && clock_ns() - t0 < 5 * NS_PER_SEC)
		ev_run(loop, EVRUN_ONCE);
	uint64_t took = clock_ns() - t0;
	ok(due_calls == 1 && took >= 3 * NS_PER_MS, "fires once, not before its time (%.2f ms)",
	   (double)took / 1e6);
	ok(timer.armed_at == 0, "and is disarmed after");

	/* Settled: the timerfd is not readable any more, so a poll returns
	 * nothing (a busy loop would call cb again and again). */
	calls = 0;
	ev_run(loop, EVRUN_NOWAIT);
	ev_run(loop, EVRUN_NOWAIT);
	ok(calls == 0, "a fired timer not set again calls nothing more (%d calls)", calls);

	/* Set far, then sooner: it follows the sooner. */
	due_calls = 0;
	t0 = clock_ns();
	nstimer_set(&timer, t0 + 10 * NS_PER_SEC);
	nstimer_set(&timer, t0 + 2 * NS_PER_MS);
	while (due_calls == 0 && clock_ns() - t0 < 5 * NS_PER_SEC)
		ev_run(loop, EVRUN_ONCE);
	ok(due_calls == 1 && clock_ns() - t0 < 5 * NS_PER_SEC, "set sooner, it fires then");

	/* A time already past fires at once. */
	due_calls = 0;
	nstimer_set(&timer, clock_ns() - NS_PER_MS);
	ev_run(loop, EVRUN_ONCE);
	ok(due_calls == 1, "a time already past fires on the next turn");

	/* Readiness from before it was set again (for later) is not a firing. */
	nstimer_set(&timer, clock_ns() + 10 * NS_PER_SEC);
	ok(!nstimer_due(&timer, clock_ns()), "not due before its time");

	nstimer_free(&timer, loop);
	ok(timer.io.fd == -1 && !ev_is_active(&timer.io), "freed: closed, not watched");
	nstimer_set(&timer, clock_ns());
	nstimer_free(&timer, loop);
	ok(timer.armed_at == 0, "set and freed again after free: nothing happens");

	ev_loop_destroy(loop);
	return tap_done();
}
