/* alarm: each connection's one timer in a per-worker heap (alarm.h). */
#include "alarm.h"

#include <errno.h>
#include <stdlib.h>

#include "clock.h"
#include "conn.h"
#include "dispatch.h"
#include "worker.h"

/* Alarms due this close to now go off in the same wake-up: libev rounds
 * its sleep to the millisecond and measures it from the loop's cached
 * time, so its timer may come a little before the heap's earliest. */
#define ALARM_SLACK_NS (50 * NS_PER_US)

static void alarm_cb(struct ev_loop *loop, ev_timer *t, int revents);

int alarm_init(struct worker *w, uint32_t cap)
{
	struct alarm_heap *h = &w->alarms;

	h->len = 0;
	h->cap = cap ? cap : 1;
	h->armed_at = h->firing_until = 0;
	/* Untouched pages cost nothing: only connections that wait write it. */
	h->ids = calloc(h->cap, sizeof(*h->ids));
	ev_init(&h->timer, alarm_cb);
	return h->ids ? 0 : -ENOMEM;
}

void alarm_free(struct worker *w)
{
	ev_timer_stop(w->loop, &w->alarms.timer);
	free(w->alarms.ids);
	w->alarms.ids = NULL;
	w->alarms.len = 0;
}

bool alarm_active(const struct conn *c)
{
	return c->alarm_pos != 0;
}

static uint64_t at_of(const struct worker *w, uint32_t i)
{
	return w->conns[w->alarms.ids[i]].alarm_at;
}

static void place(struct worker *w, uint32_t i, uint32_t id)
{
	w->alarms.ids[i] = id;
	w->conns[id].alarm_pos = i + 1;
}

static void sift_up(struct worker *w, uint32_t i)
{
	uint32_t id = w->alarms.ids[i];
	uint64_t at = w->conns[id].alarm_at;

	while (i > 0) {
		uint32_t parent = (i - 1) / 2;
		if (at_of(w, parent) <= at)
			break;
		place(w, i, w->alarms.ids[parent]);
		i = parent;
	}
	place(w, i, id);
}

static void sift_down(struct worker *w, uint32_t i)
{
	struct alarm_heap *h = &w->alarms;
	uint32_t id = h->ids[i];
	uint64_t at = w->conns[id].alarm_at;

	for (;;) {
		uint32_t child = 2 * i + 1;
		if (child >= h->len)
			break;
		if (child + 1 < h->len && at_of(w, child + 1) < at_of(w, child))
			child++;
		if (at <= at_of(w, child))
			break;
		place(w, i, h->ids[child]);
		i = child;
	}
	place(w, i, id);
}

/* The ev_timer follows the heap's earliest; untouched when that is where
 * it is set already, which is most of the time (a think time is as long
 * for every connection, so each new alarm joins the back). */
static void rearm(struct worker *w, uint64_t now)
{
	struct alarm_heap *h = &w->alarms;

	if (h->len == 0) {
		if (h->armed_at) {
			ev_timer_stop(w->loop, &h->timer);
			h->armed_at = 0;
		}
		return;
	}
	uint64_t at = at_of(w, 0);
	if (h->armed_at == at && ev_is_active(&h->timer))
		return;
	ev_timer_stop(w->loop, &h->timer);
	ev_timer_set(&h->timer, at > now ? (double)(at - now) / 1e9 : 0., 0.);
	ev_timer_start(w->loop, &h->timer);
	h->armed_at = at;
}

static void remove_at(struct worker *w, uint32_t i)
{
	struct alarm_heap *h = &w->alarms;
	uint32_t id = h->ids[i];

	w->conns[id].alarm_pos = 0;
	if (--h->len == i)
		return;
	place(w, i, h->ids[h->len]);
	if (i > 0 && at_of(w, i) < at_of(w, (i - 1) / 2))
		sift_up(w, i);
	else
		sift_down(w, i);
}

void alarm_set(struct worker *w, struct conn *c, uint64_t after_ns, enum alarm_kind kind)
{
	struct alarm_heap *h = &w->alarms;
	uint64_t now = clock_ns();

	if (c->alarm_pos)
		remove_at(w, c->alarm_pos - 1);
	c->alarm_at = now + after_ns;
	/* Set while alarms go off, it goes off in a later loop turn: a
	 * session sleeping 1 us in a loop still lets the loop run. */
	if (c->alarm_at <= h->firing_until)
		c->alarm_at = h->firing_until + 1;
	c->alarm_kind = (uint8_t)kind;
	/* Every slot fits: cap is the worker's connection count. */
	h->len++;
	place(w, h->len - 1, c->id);
	sift_up(w, h->len - 1);
	rearm(w, now);
}

void alarm_clear(struct worker *w, struct conn *c)
{
	if (!c->alarm_pos)
		return;
	remove_at(w, c->alarm_pos - 1);
	rearm(w, clock_ns());
}

static void alarm_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct worker *w = ev_userdata(loop);
	struct alarm_heap *h = &w->alarms;
	uint64_t now = clock_ns();

	(void)t, (void)revents;
	h->armed_at = 0;
	h->firing_until = now + ALARM_SLACK_NS;
	while (h->len > 0 && at_of(w, 0) <= h->firing_until) {
		struct conn *c = &w->conns[h->ids[0]];
		remove_at(w, 0);
		if (c->alarm_kind == ALARM_THINK)
			dispatch_alarm(w, c);
		else
			conn_alarm(w, c);
	}
	h->firing_until = 0;
	rearm(w, clock_ns());
}
