/* Each connection's one timer in the worker's heap (alarm.c): the heap stays
 * a heap under sets, re-sets and clears in any order, and the alarms go off
 * in time order, each once, none that was cleared. Connections here are
 * closed, so what goes off does nothing but leave the heap. */
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
	ok(w.alarms.len == 0 && !ev_is_active(&w.alarms.timer), "all cleared: empty, timer stopped");

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
	ok(ev_is_active(&w.alarms.timer), "the timer waits for the next");
	while (w.alarms.len > 0 && clock_ns() - t0 < 5 * NS_PER_SEC)
		ev_run(w.loop, EVRUN_ONCE);
	uint64_t took = clock_ns() - t0;
	ok(w.alarms.len == 0 && took >= 180 * NS_PER_MS - 100 * NS_PER_US,
	   "the last goes off at its time, not before (%.1f ms)", (double)took / 1e6);
	ok(!ev_is_active(&w.alarms.timer), "and the timer stops with the heap empty");

	/* Re-set to sooner: the timer follows the new earliest. */
	alarm_set(&w, &conns[0], 10 * NS_PER_SEC, ALARM_THINK);
	alarm_set(&w, &conns[0], 5 * NS_PER_MS, ALARM_THINK);
	t0 = clock_ns();
	ev_run(w.loop, EVRUN_ONCE);
	took = clock_ns() - t0;
	ok(!alarm_active(&conns[0]) && took < 5 * NS_PER_SEC,
	   "an alarm moved sooner goes off then (%.1f ms)", (double)took / 1e6);

	alarm_free(&w);
	ev_loop_destroy(w.loop);
	return tap_done();
}
