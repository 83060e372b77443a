/* Each connection's one timer in the worker's heap (alarm.c): the heap stays
 * a heap under sets, re-sets and clears in any order, and the alarms go off
 * in time order, each once, none that was cleared; a kept time (a closed
 * slot's end of think) counts down and never goes off. Connections here
 * are closed, so what goes off does nothing but leave the heap. */
#include "alarm.h"
#include "clock.h"
#include "conn.h"
#include "tap.h"
#include "worker.h"

#include <stdlib.h>
#include <time.h>

#define N 2000

static struct conn conns[N];

/* Every connection in the heap knows its place, and no child is earlier
 * than its parent. */
static int heap_ok(const struct worker *w)
{
	const struct alarm_heap *h = &w->alarms;
	uint32_t set = 0;

	for (uint32_t id = 0; id < N; id++)
		if (conns[id].alarm_pos)
			set++;
	if (set != h->len)
		return 0;
	for (uint32_t i = 0; i < h->len; i++) {
		const struct conn *c = &conns[h->ids[i]];
		if (c->alarm_pos != i + 1)
			return 0;
		if (i > 0 && conns[h->ids[(i - 1) / 2]].alarm_at > c->alarm_at)
			return 0;
	}
	return 1;
}

#define LATE_N 101

static int timer_fired;

static void timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop, (void)t, (void)revents;
	timer_fired = 1;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_u64);
	return v[n / 2];
}

static void sleep_ms(int ms)
{
	struct timespec ts = {0, ms * 1000000L};
	nanosleep(&ts, NULL);
}

int main(void)
{
	struct worker w = {0};

	w.loop = ev_loop_new(EVFLAG_AUTO);
	ev_set_userdata(w.loop, &w);
	w.conns = conns;
	w.nconns = N;
	for (uint32_t i = 0; i < N; i++)
		conns[i].id = i;
	ok(alarm_init(&w, N) == 0, "a heap for %d connections", N);

	/* Random sets, re-sets and clears: still a heap after each. */
	srand(7);
	int good = 1;
	for (int op = 0; op < 20000; op++) {
		struct conn *c = &conns[rand() % N];
		if (rand() % 4 == 0)
			alarm_clear(&w, c);
		else
			alarm_set(&w, c, (uint64_t)(rand() % 1000000) * NS_PER_SEC, ALARM_THINK);
		good &= heap_ok(&w);
	}
	ok(good, "20000 random sets and clears keep the heap (%u set)", w.alarms.len);
	for (uint32_t i = 0; i < N; i++)
		alarm_clear(&w, &conns[i]);
	ok(w.alarms.len == 0, "all cleared: empty");
	/* Cleared alarms leave the timerfd armed (no call per clear): its one
	 * early wake-up finds nothing due and disarms it. */
	ev_run(w.loop, EVRUN_NOWAIT);
	ok(w.alarms.timer.armed_at != 0, "the timerfd stays armed for the cleared earliest");

	/* Go off in order: 10 alarms 20 ms apart, every other one cleared. */
	for (uint32_t i = 0; i < 10; i++)
		alarm_set(&w, &conns[i], (uint64_t)(20 + 20 * (9 - i)) * NS_PER_MS, ALARM_WAKE);
	for (uint32_t i = 0; i < 10; i += 2)
		alarm_clear(&w, &conns[i]);
	ok(heap_ok(&w) && w.alarms.len == 5, "5 alarms left");
	/* conns 9, 7, 5, 3, 1 are due at 20, 60, 100, 140, 180 ms */
	uint64_t t0 = clock_ns();
	sleep_ms(70);
	ev_run(w.loop, EVRUN_NOWAIT);
	ok(!alarm_active(&conns[9]) && !alarm_active(&conns[7]) && alarm_active(&conns[5]) &&
		   alarm_active(&conns[3]) && alarm_active(&conns[1]),
	   "after 70 ms the two due have gone off, the three later wait");
	ok(w.alarms.timer.armed_at > clock_ns(), "the timerfd waits for the next");
	while (w.alarms.len > 0 && clock_ns() - t0 < 5 * NS_PER_SEC)
		ev_run(w.loop, EVRUN_ONCE);
	uint64_t took = clock_ns() - t0;
	ok(w.alarms.len == 0 && took >= 180 * NS_PER_MS - 100 * NS_PER_US,
	   "the last goes off at its time, not before (%.1f ms)", (double)took / 1e6);
	ok(w.alarms.timer.armed_at == 0, "and is disarmed with the heap empty");

	/* Precise: libev waits in epoll_wait, whole milliseconds rounded up,
	 * so an ev_timer 1.3 ms ahead goes off ~0.7 ms late; an alarm goes off
	 * at its time. Compared in turns in the same loop (no wall-clock
	 * limit: a busy machine delays both). */
	uint64_t late_alarm[LATE_N], late_timer[LATE_N];
	ev_timer t;
	ev_init(&t, timer_cb);
	for (int i = 0; i < LATE_N; i++) {
		uint64_t due = clock_ns() + 1300 * NS_PER_US;
		alarm_set(&w, &conns[0], 1300 * NS_PER_US, ALARM_THINK);
		while (alarm_active(&conns[0]) && clock_ns() < due + NS_PER_SEC)
			ev_run(w.loop, EVRUN_ONCE);
		late_alarm[i] = clock_ns() - due;
		ev_now_update(w.loop);
		due = clock_ns() + 1300 * NS_PER_US;
		timer_fired = 0;
		ev_timer_set(&t, 1.3e-3, 0.);
		ev_timer_start(w.loop, &t);
		while (!timer_fired && clock_ns() < due + NS_PER_SEC)
			ev_run(w.loop, EVRUN_ONCE);
		late_timer[i] = clock_ns() - due;
	}
	uint64_t ma = median(late_alarm, LATE_N), mt = median(late_timer, LATE_N);
	ok(ma < mt, "alarms 1.3 ms ahead go off closer to their time than libev's timers "
		    "(median %.0f us late, ev_timer %.0f us)", (double)ma / 1e3, (double)mt / 1e3);

	/* Re-set to sooner: the timer follows the new earliest. */
	alarm_set(&w, &conns[0], 10 * NS_PER_SEC, ALARM_THINK);
	alarm_set(&w, &conns[0], 5 * NS_PER_MS, ALARM_THINK);
	t0 = clock_ns();
	ev_run(w.loop, EVRUN_ONCE);
	took = clock_ns() - t0;
	ok(!alarm_active(&conns[0]) && took < 5 * NS_PER_SEC,
	   "an alarm moved sooner goes off then (%.1f ms)", (double)took / 1e6);

	/* A closed slot's memory (alarm_keep): the time stays, nothing goes
	 * off, and a set alarm it replaces leaves the heap. */
	alarm_set(&w, &conns[2], 10 * NS_PER_SEC, ALARM_THINK);
	alarm_set(&w, &conns[3], 20 * NS_PER_SEC, ALARM_THINK);
	uint64_t now = clock_ns();
	alarm_keep(&w, &conns[2], now + 50 * NS_PER_MS);
	ok(!alarm_active(&conns[2]) && w.alarms.len == 1 && heap_ok(&w),
	   "a kept time is no alarm: it leaves the heap, the others stay");
	ok(alarm_left(&conns[2], now) == 50 * NS_PER_MS &&
		   alarm_left(&conns[2], now + 20 * NS_PER_MS) == 30 * NS_PER_MS,
	   "what is left of it counts down from now");
	ok(alarm_left(&conns[2], now + 50 * NS_PER_MS) == 0 &&
		   alarm_left(&conns[2], now + NS_PER_SEC) == 0,
	   "none once it is past");
	alarm_clear(&w, &conns[3]);
	ok(alarm_left(&conns[3], now) > 19 * NS_PER_SEC,
	   "a cleared alarm keeps its time too (%.3f s left)",
	   (double)alarm_left(&conns[3], now) / 1e9);
	sleep_ms(60);
	ev_run(w.loop, EVRUN_NOWAIT);
	ok(w.alarms.len == 0 && alarm_left(&conns[2], clock_ns()) == 0, "and nothing went off");

	alarm_free(&w);
	ev_loop_destroy(w.loop);
	return tap_done();
}
