/* dispatch: closed-model refill, open-model pacing, backlog. */
#include "dispatch.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "alarm.h"
#include "clock.h"
#include "pool.h"
#include "splitmix.h"
#include "worker.h"

/* A request callback that raised (counted by conn_send_request) leaves an
 * idle connection with nothing to wake it: it tries again after the think
 * time, and never sooner than this, so a callback that always fails costs
 * a few errors a second per connection, not a spinning core. */
#define REQUEST_RETRY_NS (100 * NS_PER_MS)

static void retry_later(struct worker *w, struct conn *c)
{
	uint64_t ns = w->opt->think_ns > REQUEST_RETRY_NS ? w->opt->think_ns : REQUEST_RETRY_NS;

	if (c->state != CONN_OPEN || c->inflight > 0 || alarm_active(c))
		return;
	alarm_set(w, c, ns, ALARM_THINK);
}

/* The closed model's next requests on c: its pipeline full without think
 * time, else one request once the last answer is in. */
static void send_closed(struct worker *w, struct conn *c)
{
	uint32_t room = w->opt->think_ns ? 1 : w->opt->pipeline;
	bool corked = c->corked;

	/* A pipeline's worth leaves in one write (a new connection's first
	 * requests, or refills outside a read, which corks them itself). */
	c->corked = 1;
	while (c->state == CONN_OPEN && !c->draining && c->inflight < room &&
	       quota_may_send(&w->quota)) {
		if (conn_send_request(w, c, 0) < 0) {
			retry_later(w, c);
			break;
		}
	}
	if (!corked)
		conn_uncork(w, c);
}

/* The closed model's pause after an answer: think, or drawn uniformly
 * within think +- its jitter, so connections that a stall lined up (every
 * answer released at once) drift apart again instead of staying in step. */
static uint64_t think_pause(struct worker *w)
{
	const struct options *o = w->opt;

	if (!o->think_jitter_ns)
		return o->think_ns;
	return (uint64_t)splitmix_jitter(&w->think_rng, o->think_ns, o->think_jitter_ns);
}

void dispatch_conn_has_room(struct worker *w, struct conn *c)
{
	const struct options *o = w->opt;

	if (c->state != CONN_OPEN)
		return;
	if (w->stopping || c->draining) {
		if (c->inflight == 0) {
			/* Recycled (or moved off a destination): the slot connects
			 * again now, connect_rate allowing, not at the worker's
			 * next tick, which runs every 10 ms while a request count
			 * or a lifetime is set. A write that failed (salvaging)
			 * closes with its own class after this: that slot waits
			 * for the pool, as conn_end's does. */
			bool reopen = !c->salvaging;
			dispatch_conn_ends(w, c);
			conn_close(w, c, -1);
			if (reopen)
				pool_reopen(w, c);
		}
		return;
	}
	if (!o->rate_segs) {
		if (o->think_ns && c->inflight == 0) {
			if (alarm_active(c))
				return;
			/* A new connection (seq 0) waits what is left of the
			 * pause its slot's last answer began (0: none, or past). */
			uint64_t pause = c->seq > 0 ? think_pause(w) : alarm_left(c, clock_ns());
			if (pause) {
				alarm_set(w, c, pause, ALARM_THINK);
				return;
			}
		}
		send_closed(w, c);
		return;
	}
	if (w->backlog.len > 0) {
		bool corked = c->corked;
		c->corked = 1;
		while (w->backlog.len > 0 && c->state == CONN_OPEN && !c->draining &&
		       c->inflight < o->pipeline)
			conn_send_request(w, c, backlog_pop(&w->backlog));
		if (!corked)
			conn_uncork(w, c);
	}
	if (c->state == CONN_OPEN && !c->draining && c->inflight < o->pipeline)
		pool_ready_push(w, c);
}

void dispatch_conn_ends(struct worker *w, struct conn *c)
{
	const struct options *o = w->opt;

	if (o->think_ns && !o->rate_segs && !w->stopping)
		alarm_keep(w, c, clock_ns() + think_pause(w));
}

void dispatch_first_after(struct worker *w, struct conn *c, uint64_t delay_ns)
{
	alarm_set(w, c, delay_ns, ALARM_THINK);
}

void dispatch_alarm(struct worker *w, struct conn *c)
{
	if (c->state == CONN_OPEN && !w->stopping && !c->draining && c->inflight == 0)
		send_closed(w, c);
}

/* The next intended time of this worker's schedule: UINT64_MAX once it has
 * ended or the worker's share of requests = N is taken. */
static uint64_t next_due(struct worker *w)
{
	return quota_take(&w->quota) ? pacer_next(w->pacer) : UINT64_MAX;
}

/* n requests that found no connection with room and no place in the
 * backlog (or were still in it at the stop). Why tells the report what to
 * say: with connections open that take requests, every one was full,
 * waiting for answers (the server's latency against connections x
 * pipeline), not the client's doing; with none, the pool had none to give.
 * One draining (recycled by churn, retired) takes none, full or not: it
 * counted as busy, and churn's reconnects read as the server's latency. */
static void count_dropped(struct worker *w, uint32_t n)
{
	w->stats.counter[ST_DROPPED] += n;
	w->stats.counter[w->open > w->draining ? ST_DROPPED_BUSY : ST_DROPPED_NO_CONN] += n;
}

/* Sends one due request on the oldest connection with room, corked, and
 * returns that connection; NULL when it had to wait in the backlog. */
static struct conn *send_due(struct worker *w, uint64_t due)
{
	const struct options *o = w->opt;

	w->stats.counter[ST_INTENDED]++;
	while (w->ready.head != CONN_LIST_NONE) {
		struct conn *c = &w->conns[w->ready.head];
		pool_ready_remove(w, c);
		if (c->state != CONN_OPEN || c->draining || c->inflight >= o->pipeline)
			continue;
		c->corked = 1;
		conn_send_request(w, c, due);
		/* Round-robin: a connection with room left goes to the back. */
		if (c->state == CONN_OPEN && !c->draining && c->inflight < o->pipeline)
			pool_ready_push(w, c);
		return c;
	}
	if (!backlog_push(&w->backlog, due))
		count_dropped(w, 1);
	return NULL;
}

/* When the loop fell behind, several requests are due at once: they share a
 * connection while it has room and leave in one write, so catching up costs
 * fewer syscalls. Latency still counts from each one's own intended time. */
static void send_all_due(struct worker *w, uint64_t now)
{
	const struct options *o = w->opt;
	struct conn *batch = NULL;

	while (w->next_due != UINT64_MAX && w->start_ns + w->next_due <= now) {
		uint64_t due = w->start_ns + w->next_due;
		if (batch && batch->state == CONN_OPEN && !batch->draining &&
		    batch->inflight < o->pipeline) {
			w->stats.counter[ST_INTENDED]++;
			conn_send_request(w, batch, due);
		} else {
			if (batch)
				conn_uncork(w, batch);
			batch = send_due(w, due);
		}
		w->next_due = next_due(w);
	}
	if (batch)
		conn_uncork(w, batch);
}

void dispatch_due_until(struct worker *w, uint64_t t)
{
	if (w->pacer && !w->stopping)
		send_all_due(w, t);
}

/* How late, at most, a request may leave so that it shares a wake-up (and a
 * write) with those due just after it. Each wake-up of the pacer costs a
 * sleep, a context switch and a poll (~14 us of CPU on this VM however
 * little it does, more when it halts the CPU between wake-ups); at 50k/s per
 * worker a wake-up per request would be most of the client's CPU. The window
 * is the time for PACE_WINDOW_SENDS more requests to fall due, within 30-60
 * us: 60 us from ~83k/s down to ~17k/s, 50 us at 100k/s, 30 us from ~167k/s
 * up. Below ~17k/s not one other request falls due within 60 us; down to
 * 12.5k/s the window is then the time for exactly one more (60-80 us), so a
 * wake-up still carries two: without it the client's CPU more than doubled
 * between 17k/s and 16k/s (DNS over TLS, 1.5 against 3.9 CPU-seconds for the
 * same 6 s). The wait shows, honestly, as send lag (each request still
 * counts from its own intended time). Below 12.5k/s every send leaves on
 * time. A scenario's pace_window replaces it (0: every send on time, at a
 * wake-up each). */
#define PACE_WINDOW_MIN_NS (30 * NS_PER_US)
#define PACE_WINDOW_MAX_NS (60 * NS_PER_US)
#define PACE_WINDOW_PAIR_NS (80 * NS_PER_US)
#define PACE_WINDOW_SENDS 5.0

uint64_t dispatch_window(double rate)
{
	double gap, window;

	if (!(rate * (double)PACE_WINDOW_PAIR_NS >= 1e9))
		return 0; /* NaN too */
	gap = 1e9 / rate;
	if (gap > (double)PACE_WINDOW_MAX_NS)
		/* The next request's due time, and a microsecond for the
		 * schedule's rounding: it must not miss the one it waits for. */
		return (uint64_t)gap + NS_PER_US;
	window = PACE_WINDOW_SENDS * gap;
	if (window < (double)PACE_WINDOW_MIN_NS)
		return PACE_WINDOW_MIN_NS;
	return window < (double)PACE_WINDOW_MAX_NS ? (uint64_t)window : PACE_WINDOW_MAX_NS;
}

/* Absolute time the next wake-up is wanted: the next due request, later by
 * the window when the rate puts others inside it. */
static uint64_t wake_at(struct worker *w)
{
	const struct options *o = w->opt;
	uint64_t due = w->start_ns + w->next_due;

	if (o->pace_window_given)
		return due + o->pace_window_ns;
	return due + dispatch_window(pacer_rate_at(o->rate_segs, o->nrate_segs, w->next_due) /
				     w->slots);
}

/* Sets the timerfd for the next wake-up, or disarms it when the schedule has
 * ended. Setting it also clears its readiness, so the pacer never needs to
 * read() the expiration count. Under load the loop wakes for I/O anyway and
 * the prepare watcher sends when the wake-up time has passed; a timer already
 * set at or before it is left alone, so most loop turns cost no timer call. */
/* Ticks: while the next wake-up is this close, the worker sleeps to it
 * instead of letting each answer wake it, then sends what is due and reads
 * everything that arrived, in one turn. On this machine a wake-up costs
 * ~14 us of CPU however little it does; an answer's own wake-up was half of
 * them. Answers that wait keep the kernel's arrival time (rxtime.h), so the
 * wait shows in no latency. Past the horizon the loop blocks as usual. */
#ifndef TICK_HORIZON_NS
#define TICK_HORIZON_NS (200 * NS_PER_US)
#endif

/* Whether the wake-up at `at` is a tick's: reads may wait for it (they keep
 * the kernel's arrival time), but not while a connect or a TLS handshake is
 * in progress (their times are taken when the loop sees them). */
static bool ticking(const struct worker *w, uint64_t now, uint64_t at)
{
	return w->connecting == 0 && !w->stopping && at <= now + TICK_HORIZON_NS;
}

static void arm(struct worker *w, uint64_t now, bool fired)
{
	struct itimerspec its = {0};
	uint64_t at = 0;

	if (w->next_due != UINT64_MAX) {
		at = wake_at(w);
		if (ticking(w, now, at)) {
			/* The tick sleeps to it: a timer that fired is only
			 * cleared (a read costs less than a settime). */
			uint64_t expirations;
			if (fired && read(w->pacer_fd, &expirations, sizeof(expirations)) < 0)
				expirations = 0;
			return;
		}
		if (w->armed_at && w->armed_at <= at && w->armed_at > now)
			return;
		its.it_value.tv_sec = (time_t)(at / NS_PER_SEC);
		its.it_value.tv_nsec = (long)(at % NS_PER_SEC);
	} else if (!w->armed_at && !fired) {
		return;
	}
	timerfd_settime(w->pacer_fd, TFD_TIMER_ABSTIME, &its, NULL);
	w->armed_at = at;
}

static void pace(struct worker *w, bool fired)
{
	uint64_t now = clock_ns();

	if (fired)
		w->armed_at = 0; /* expired: arm() must set it again, which clears it */
	if (w->stopping)
		return;
	if (w->next_due != UINT64_MAX && wake_at(w) <= now) {
		/* Not past the second still being counted: what falls due after
		 * its end waits the moment until the interval timer ships it,
		 * so each second's intended count is the schedule's. A request
		 * due exactly at the end belongs to it, as pacer_integral counts. */
		uint64_t second_end = w->start_ns + (uint64_t)(w->second + 1) * NS_PER_SEC;
		send_all_due(w, now < second_end ? now : second_end);
		now = clock_ns();
	}
	arm(w, now, fired);
}

static void pacer_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	pace(ev_userdata(loop), true);
}

static void pacer_prepare_cb(struct ev_loop *loop, ev_prepare *p, int revents)
{
	struct worker *w = ev_userdata(loop);
	uint64_t now, at;

	pace(w, false);
	now = clock_ns();
	if (w->next_due == UINT64_MAX || !ticking(w, now, at = wake_at(w))) {
		ev_idle_stop(loop, &w->tick_idle);
		return;
	}
	if (at > now) {
		struct timespec ts = { (time_t)(at / NS_PER_SEC), (long)(at % NS_PER_SEC) };
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
		pace(w, false);
	}
	/* The poll that follows does not block: it reads what arrived. */
	ev_idle_start(loop, &w->tick_idle);
}

/* Its being active is what matters (libev then polls without blocking). */
static void tick_idle_cb(struct ev_loop *loop, ev_idle *i, int revents)
{
}

int dispatch_init(struct worker *w)
{
	const struct options *o = w->opt;
	int rc;

	w->pacer_fd = -1;
	if (!o->rate_segs)
		return 0;
	rc = pacer_new(o->rate_segs, o->nrate_segs, o->arrival, o->seed, w->slot, w->slots,
		       &w->pacer);
	if (rc < 0)
		return rc;
	if (backlog_init(&w->backlog, o->backlog_max) < 0)
		return -ENOMEM;
	w->pacer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (w->pacer_fd < 0)
		return -errno;
	w->next_due = next_due(w);
	ev_io_init(&w->pacer_io, pacer_cb, w->pacer_fd, EV_READ);
	ev_set_priority(&w->pacer_io, EV_MAXPRI);
	ev_io_start(w->loop, &w->pacer_io);
	ev_prepare_init(&w->pacer_prepare, pacer_prepare_cb);
	ev_prepare_start(w->loop, &w->pacer_prepare);
	ev_idle_init(&w->tick_idle, tick_idle_cb);
	/* A tick's clock_nanosleep may end late by the timer slack (50 us by
	 * default): every send of the tick would carry it as lag. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
	arm(w, clock_ns(), false);
	return 0;
}

void dispatch_stop(struct worker *w)
{
	if (w->pacer_fd >= 0) {
		ev_io_stop(w->loop, &w->pacer_io);
		ev_prepare_stop(w->loop, &w->pacer_prepare);
		ev_idle_stop(w->loop, &w->tick_idle);
	}
	count_dropped(w, backlog_clear(&w->backlog));
}

void dispatch_free(struct worker *w)
{
	if (w->pacer_fd >= 0)
		close(w->pacer_fd);
	w->pacer_fd = -1;
	pacer_free(w->pacer);
	w->pacer = NULL;
	backlog_free(&w->backlog);
}

bool dispatch_quota_done(struct worker *w, uint64_t now)
{
	struct quota *q = &w->quota;

	if (q->share == UINT64_MAX)
		return false;
	/* Open model: the last entry taken is sent (next_due is past it) or
	 * dropped, and none waits in the backlog. */
	if (w->opt->rate_segs ? q->taken < q->share || w->next_due != UINT64_MAX || w->backlog.len > 0
			      : quota_may_send(q))
		return false;
	/* The last request sent, or (open model) the last one dropped. */
	if (!q->done_ns)
		q->done_ns = now;
	return true;
}
