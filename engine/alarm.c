/* alarm: each connection's one timer in a per-worker heap (alarm.h). */
#include "alarm.h"

#include <errno.h>
#include <stdlib.h>

#include "clock.h"
#include "conn.h"
#include "dispatch.h"
#include "worker.h"

/* Alarms due this close to now go off in the same wake-up: one wake-up
 * serves the think times of connections answered within it. */
#define ALARM_SLACK_NS (50 * NS_PER_US)

static void alarm_cb(struct ev_loop *loop, ev_io *io, int revents);

int alarm_init(struct worker *w, uint32_t cap)
{
	struct alarm_heap *h = &w->alarms;

	h->len = 0;
	h->cap = cap ? cap : 1;
	h->firing_until = 0;
	/* Untouched pages cost nothing: only connections that wait write it. */
	h->ids = calloc(h->cap, sizeof(*h->ids));
	if (!h->ids)
		return -ENOMEM;
	int rc = nstimer_init(&h->timer, w->loop, alarm_cb);
	if (rc < 0) {
		free(h->ids);
		h->ids = NULL;
	}
	return rc;
}

void alarm_free(struct worker *w)
{
	struct alarm_heap *h = &w->alarms;

	if (!h->ids)
		return;
	nstimer_free(&h->timer, w->loop);
	free(h->ids);
	h->ids = NULL;
	h->len = 0;
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

/* The timerfd must fire no later than the heap's earliest. It is set
 * (a system call) only when the earliest comes sooner than it is armed
 * for; an alarm cleared or moved later leaves it, and the early wake-up
 * then finds nothing due and sets it for what is. A session reader
 * re-setting its read timeout at every packet costs no call, and a think
 * time, as long for every connection, joins the heap's back. */
static void rearm(struct worker *w)
{
	struct alarm_heap *h = &w->alarms;

	if (h->len == 0)
		return;
	uint64_t at = at_of(w, 0);
	if (h->timer.armed_at == 0 || at < h->timer.armed_at)
		nstimer_set(&h->timer, at);
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
	if (h->firing_until == 0)
		rearm(w);
}

void alarm_clear(struct worker *w, struct conn *c)
{
	if (!c->alarm_pos)
		return;
	remove_at(w, c->alarm_pos - 1);
}

void alarm_keep(struct worker *w, struct conn *c, uint64_t at)
{
	alarm_clear(w, c);
	c->alarm_at = at;
}

uint64_t alarm_left(const struct conn *c, uint64_t now)
{
	return c->alarm_at > now ? c->alarm_at - now : 0;
}

static void alarm_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct worker *w = ev_userdata(loop);
	struct alarm_heap *h = &w->alarms;
	uint64_t now = clock_ns();

	(void)io, (void)revents;
	if (!nstimer_due(&h->timer, now))
		return;
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
	rearm(w);
	nstimer_settle(&h->timer);
}
