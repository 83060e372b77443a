/*
 * worker: the life of one worker process — set up the loop, the pool and the
 * pacer, run until the duration ends (or a signal), drain what is in flight,
 * and ship statistics to the coordinator every second and once at the end.
 */
#include "worker.h"
#include "fallback.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "alarm.h"
#include "clock.h"
#include "deadline.h"
#include "dispatch.h"
#include "ipc.h"
#include "lua_engine.h"
#include "pool.h"
#include "refresh.h"
#include "shard.h"
#include "tls.h"

#define TICK_S 0.01

void worker_log(struct worker *w, const char *fmt, ...)
{
	char line[2048];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	ipc_send(w->report_fd, IPC_LOG, w->index, w->second, line, (size_t)n);
}

static void ship_interval(struct worker *w, uint32_t second)
{
	w->stats.gauge[GA_CONNS_OPEN] = w->open;
	w->stats.gauge[GA_CONNS_TARGET] = w->target;
	w->stats.gauge[GA_INFLIGHT] = w->inflight;
	w->stats.gauge[GA_BACKLOG] = w->backlog.len;
	w->stats.gauge[GA_CONNS_PEAK] = w->open_peak;
	if (stats_encode(&w->stats, &w->ship) == 0)
		ipc_send(w->report_fd, IPC_INTERVAL, w->index, second, buf_start(&w->ship),
			 w->ship.len);
	stats_reset(&w->stats);
	w->open_peak = w->open;
	lua_engine_gc_tick(w->lua);
}

/* Closes per loop turn: few enough that answers, signals and the
 * coordinator's pipe are served between batches (pool_close_some). */
#define CLOSE_BATCH 512
#define CLOSE_BUDGET_NS (2 * NS_PER_MS)

/* Past the end the coordinator hears no seconds until the worker is done:
 * it hears what is left instead, and judges progress, not time. */
static void send_progress(struct worker *w, uint64_t now, bool force)
{
	struct ipc_progress p = {w->open + w->connecting, w->inflight};

	if (!force && now - w->progress_at < w->progress_ns)
		return;
	w->progress_at = now;
	ipc_send(w->report_fd, IPC_PROGRESS, w->index, w->second, &p, sizeof(p));
}

/* Every connection is closed: the last interval goes, the loop ends. */
static void finished(struct worker *w)
{
	ev_check_stop(w->loop, &w->closer);
	ev_idle_stop(w->loop, &w->closer_busy);
	ship_interval(w, w->second);
	ev_break(w->loop, EVBREAK_ALL);
}

static void rxclock_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	rxtime_clock_reset(&((struct worker *)ev_userdata(loop))->rxclock);
}

static void closer_cb(struct ev_loop *loop, ev_check *ck, int revents)
{
	struct worker *w = ev_userdata(loop);
	bool all = w->closing == CLOSING_ALL;

	if (pool_close_some(w, all, &w->close_cursor, CLOSE_BATCH, CLOSE_BUDGET_NS)) {
		if (all) {
			finished(w);
			return;
		}
		ev_check_stop(loop, ck);
		ev_idle_stop(loop, &w->closer_busy);
	}
	send_progress(w, clock_ns(), false);
}

/* Its presence alone keeps the loop from blocking in its poll. */
static void closer_busy_cb(struct ev_loop *loop, ev_idle *idle, int revents)
{
}

static void closer_start(struct worker *w, enum worker_closing mode)
{
	if (w->closing == CLOSING_ALL || w->closing == mode)
		return;
	w->closing = mode;
	w->close_cursor = 0;
	ev_check_start(w->loop, &w->closer);
	ev_idle_start(w->loop, &w->closer_busy);
	send_progress(w, clock_ns(), true);
}

/* The drain is over (or given up): everything left closes, in batches. */
static void finish(struct worker *w)
{
	w->tick_resting = false; /* stopped for good: nothing wakes it */
	ev_timer_stop(w->loop, &w->tick);
	ev_timer_stop(w->loop, &w->interval);
	deadline_stop(w);
	closer_start(w, CLOSING_ALL);
}

static void begin_stop(struct worker *w)
{
	if (w->stopping)
		return;
	w->stopping = true;
	worker_wake_tick(w);
	dispatch_stop(w);
	w->end_ns = clock_ns();
	/* Closed model keeps nothing back: idle connections close now (in
	 * batches), the rest once their answers are in (or the drain time is
	 * over). */
	closer_start(w, CLOSING_IDLE);
}

static void tick_set(struct worker *w, double after)
{
	ev_timer_stop(w->loop, &w->tick);
	ev_timer_set(&w->tick, after, TICK_S);
	ev_timer_start(w->loop, &w->tick);
}

void worker_wake_tick(struct worker *w)
{
	if (!w->tick_resting)
		return;
	w->tick_resting = false;
	tick_set(w, 0.);
}

/* The tick has work while the pool does (pool_upkeep_due), connections age
 * (churn), a request count may end the run, or the stop is on. Without any
 * it rests until the pool's next change or the run's end: 51 workers
 * holding a million idle connections woke 5100 times a second for
 * nothing. */
static void tick_plan(struct worker *w, uint64_t now)
{
	uint64_t at = w->start_ns + w->opt->duration_ns, pool_at;

	if (w->stopping || w->churn.expires || w->quota.share != UINT64_MAX)
		return;
	pool_at = pool_upkeep_due(w, now);
	if (pool_at < at)
		at = pool_at;
	if (at <= now + (uint64_t)(TICK_S * NS_PER_SEC))
		return;
	w->tick_resting = true;
	tick_set(w, (double)(at - now) / 1e9);
}

static void tick_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct worker *w = ev_userdata(loop);
	uint64_t now = clock_ns();

	w->tick_resting = false;

	if (!w->stopping && now >= w->start_ns + w->opt->duration_ns) {
		/* The schedule's last requests go, late if the loop was. */
		dispatch_due_until(w, w->start_ns + w->opt->duration_ns);
		begin_stop(w);
	}
	if (!w->stopping && dispatch_quota_done(w, now)) {
		w->quota.ended_run = true;
		begin_stop(w);
	}
	if (w->stopping) {
		if (w->inflight == 0 || now >= w->end_ns + w->opt->drain_ns) {
			finish(w);
			return;
		}
		send_progress(w, now, false);
	}
	churn_tick(w, now);
	pool_upkeep(w, now);
	tick_plan(w, now);
}

static void interval_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct worker *w = ev_userdata(loop);
	uint64_t now = clock_ns();

	if (w->rxclock.fd < 0) /* no news of clock settings: a take a second */
		rxtime_clock_take(&w->rxclock);
	/* Intervals are cut at whole seconds from the shared start, so all
	 * workers' interval k covers the same second. */
	while (w->start_ns + (uint64_t)(w->second + 1) * NS_PER_SEC <= now && !w->stopping) {
		/* What fell due in this second counts in it, however late the
		 * loop came round. */
		dispatch_due_until(w, w->start_ns + (uint64_t)(w->second + 1) * NS_PER_SEC);
		ship_interval(w, w->second);
		w->second++;
	}
	uint64_t next = w->start_ns + (uint64_t)(w->second + 1) * NS_PER_SEC;
	ev_timer_set(t, next > now ? (double)(next - now) / 1e9 : 0.001, 0.);
	ev_timer_start(loop, t);
}

/* SIGTERM: stop sending and drain; a second changes nothing, for a
 * SIGTERM to the process group (`timeout`, systemd) reaches a worker
 * twice: once itself, once forwarded by the coordinator. SIGUSR1: give up
 * the drain now — the coordinator's "at once", a signal of its own so it
 * cannot merge with a SIGTERM still pending. */
static void signal_cb(struct ev_loop *loop, ev_signal *s, int revents)
{
	struct worker *w = ev_userdata(loop);

	/* Still opening connections or waiting for the start (--start-at):
	 * leave that loop at once and stop without sending anything. */
	if (!w->started) {
		w->stop_early = true;
		ev_break(loop, EVBREAK_ALL);
		return;
	}
	if (s->signum == SIGUSR1) {
		finish(w);
		return;
	}
	begin_stop(w);
}

static void control_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct worker *w = ev_userdata(loop);
	uint8_t buf[16384];
	ssize_t n = read(io->fd, buf, sizeof(buf));
	struct ipc_header h;
	const uint8_t *payload;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* The coordinator is gone or done: nothing more will come. */
		ev_io_stop(loop, io);
		return;
	}
	if (ipc_reader_feed(&w->control_in, buf, (size_t)n) < 0)
		return;
	while (ipc_reader_next(&w->control_in, &h, &payload) == 1) {
		if (h.type == IPC_DESTS && pool_apply_dests(w, payload, h.len) < 0)
			worker_log(w, "worker %u: could not apply a destination update", w->index);
		ipc_reader_pop(&w->control_in, &h);
	}
}

/* The coordinator's destination updates arrive on fd (-1: none will). */
static int control_start(struct worker *w, int fd)
{
	if (dest_table_from_options(&w->dests, w->opt) < 0 ||
	    dest_table_register_stats(&w->dests, &w->stats) < 0)
		return -ENOMEM;
	ev_io_init(&w->control, control_cb, fd, EV_READ);
	if (fd >= 0)
		ev_io_start(w->loop, &w->control);
	return 0;
}

static void control_stop(struct worker *w)
{
	if (ev_cb(&w->control) == control_cb && w->control.fd >= 0) {
		ev_io_stop(w->loop, &w->control);
		close(w->control.fd);
	}
	ipc_reader_free(&w->control_in);
	dest_table_free(&w->dests);
}

static void phase_tick_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct worker *w = ev_userdata(loop);

	pool_upkeep(w, clock_ns());
}

static void phase_end_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

/* start = "connected": until the run's start the worker only opens its
 * share of connections (at connect_rate, with its timeouts), so the first
 * requests do not take the CPU that connects need; traffic then begins on
 * all of them at once. Says so when some did not open in time. */
static void connect_phase(struct worker *w)
{
	uint64_t now = clock_ns();

	if (w->start_ns <= now)
		return;
	w->holding = true;
	w->tokens_at = now;
	ev_timer_init(&w->tick, phase_tick_cb, 0., TICK_S);
	ev_timer_start(w->loop, &w->tick);
	ev_timer_init(&w->interval, phase_end_cb, (double)(w->start_ns - now) / 1e9, 0.);
	ev_timer_start(w->loop, &w->interval);
	ev_run(w->loop, 0);
	ev_timer_stop(w->loop, &w->tick);
	ev_timer_stop(w->loop, &w->interval);
	w->holding = false;
	if (w->stop_early)
		return;

	int id = stats_counter_id(&w->stats, "pool.open_at_start");
	if (id >= 0)
		w->stats.ncounter[id].value += w->open;
	if (w->open < w->target)
		worker_log(w, "worker %u: traffic began with %u of its %u connections open after the "
			   "%.2f s connect phase (%u still connecting): a slow or saturated server, "
			   "connect errors, or connect_rate; start = \"now\" skips the phase",
			   w->index, w->open, w->target, (double)pool_connect_phase_ns(w->opt) / 1e9,
			   w->connecting);
}

/* --samples: this worker's part, FILE.w<index>, merged by the coordinator. */
static int worker_samples_open(struct worker *w)
{
	char path[4096];
	struct timespec rt;
	uint64_t now = clock_ns();
	int rc;

	clock_gettime(CLOCK_REALTIME, &rt);
	double epoch = (double)rt.tv_sec + rt.tv_nsec / 1e9 - ((double)now - (double)w->start_ns) / 1e9;
	snprintf(path, sizeof(path), "%s.w%u", w->opt->samples_parts, w->index);
	rc = samples_open(path, w->index, w->nconns, w->opt->samples_every, w->start_ns, epoch,
			  &w->dests, w->report_fd, &w->samples);
	if (rc < 0)
		worker_log(w, "worker %u: cannot write samples to %s: %s", w->index, path,
			   strerror(-rc));
	return rc;
}

/* The start (--start-at, or after the connect phase) comes to the
 * nanosecond: the loop, which sees a stop, waits to 2 ms before it (its
 * poll counts in milliseconds), a sleep the rest. */
#define START_SLEEP_NS (2 * NS_PER_MS)

static void wait_for_start(struct worker *w)
{
	uint64_t now = clock_ns();

	if (w->start_ns > now + START_SLEEP_NS) {
		ev_timer_init(&w->interval, phase_end_cb,
			      (double)(w->start_ns - now - START_SLEEP_NS) / 1e9, 0.);
		ev_timer_start(w->loop, &w->interval);
		ev_run(w->loop, 0);
		ev_timer_stop(w->loop, &w->interval);
		if (w->stop_early)
			return;
		now = clock_ns();
	}
	if (w->start_ns > now) {
		uint64_t left = w->start_ns - now;
		struct timespec ts = {(time_t)(left / NS_PER_SEC), (long)(left % NS_PER_SEC)};
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
}

int worker_run(const struct options *opt, struct lua_engine *lua, uint32_t index, uint32_t count,
	       uint64_t start_ns, int report_fd, int control_fd)
{
	struct worker w = {0};
	struct rlimit rl;
	char err[512];
	int rc = 1;

	w.opt = opt;
	w.lua = lua;
	w.index = index;
	w.count = count;
	w.slots = shard_slots(opt, count);
	w.slot = shard_slot(opt, index);
	w.start_ns = start_ns;
	w.report_fd = report_fd;
	w.pacer_fd = -1;
	w.rxclock.fd = -1;
	inflight_pool_init(&w.fl);
	retry_table_init(&w.retry);
	signal(SIGPIPE, SIG_IGN);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	w.loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
	if (!w.loop)
		return 1;
	ev_set_userdata(w.loop, &w);
	/* First: the exit path releases its timerfds whatever failed after. */
	int trc = deadline_init(&w);
	if (trc < 0) {
		worker_log(&w, "worker %u: no timerfd for the timeouts: %s", index, strerror(-trc));
		goto out;
	}
	rxtime_clock_open(&w.rxclock);
	if (w.rxclock.fd >= 0) {
		/* First in its turn: the reads after a setting use the new difference. */
		ev_io_init(&w.rxclock_io, rxclock_cb, w.rxclock.fd, EV_READ);
		ev_set_priority(&w.rxclock_io, EV_MAXPRI);
		ev_io_start(w.loop, &w.rxclock_io);
	}
	ev_check_init(&w.closer, closer_cb);
	ev_idle_init(&w.closer_busy, closer_busy_cb);
	/* A few reports per grace period of the coordinator's watchdog. */
	w.progress_ns = opt->stuck_grace_ns && opt->stuck_grace_ns / 4 < 250 * NS_PER_MS
				? opt->stuck_grace_ns / 4
				: 250 * NS_PER_MS;
	w.scratch = malloc(WORKER_SCRATCH);
	w.reqbuf = malloc(WORKER_SCRATCH);
	if (!w.scratch || !w.reqbuf || stats_init(&w.stats) < 0 || pool_init(&w) < 0 ||
	    control_start(&w, control_fd) < 0) {
		worker_log(&w, "worker %u: out of memory", index);
		goto out;
	}
	/* Its timerfd may fail as well as its heap: say which. */
	if ((trc = alarm_init(&w, w.nconns)) < 0) {
		worker_log(&w, "worker %u: no connection timers: %s", index, strerror(-trc));
		goto out;
	}
	w.think_rng = opt->seed ^ (0xc2b2ae3d27d4eb4full * (w.slot + 1));
	if (churn_init(&w) < 0) {
		worker_log(&w, "worker %u: out of memory", index);
		goto out;
	}
	if (opt->samples_path && worker_samples_open(&w) < 0)
		goto out;
	if (opt->bind || opt->ports.lo) {
		static const struct addrset none;
		uint64_t nsrc = opt->bind ? addrset_total(opt->bind) : 0;
		if (addrset_picker_init(&w.picker, opt->bind ? opt->bind : &none, opt->pick, opt->seed,
					w.slot, w.slots, &opt->ports, opt->explicit_ports) < 0 ||
		    addrset_picker_shard(&w.picker, opt->shard, opt->shards, index, count,
					 &opt->ports) < 0 ||
		    (nsrc && nsrc <= STATS_SOURCES_MAX &&
		     stats_sources_init(&w.stats, (uint32_t)nsrc) < 0)) {
			worker_log(&w, "worker %u: cannot set up source addresses", index);
			goto out;
		}
	}
	if (tls_client_new(&w, &w.tls, err, sizeof(err)) < 0) {
		worker_log(&w, "worker %u: %s", index, err);
		goto out;
	}
	if (lua_engine_bind_worker(lua, &w, err, sizeof(err)) < 0) {
		worker_log(&w, "%s", err);
		goto out;
	}
	quota_init(&w.quota, opt->requests, w.slot, w.slots);
	/* From here a stop is seen, in the connect phase and the wait for the
	 * start too. SIGINT stays ignored (run.c, at fork); the loop was made
	 * with EVFLAG_NOSIGMASK, so starting the watchers unblocked a SIGTERM
	 * or SIGUSR1 that came during setup. */
	ev_signal_init(&w.sigterm, signal_cb, SIGTERM);
	ev_signal_start(w.loop, &w.sigterm);
	ev_signal_init(&w.sigusr1, signal_cb, SIGUSR1);
	ev_signal_start(w.loop, &w.sigusr1);
	if (opt->start == START_CONNECTED)
		connect_phase(&w);
	if (!w.stop_early)
		wait_for_start(&w);
	/* A stop that came during the last sleep before the start: seen now,
	 * before anything is sent. */
	if (!w.stop_early)
		ev_run(w.loop, EVRUN_NOWAIT);
	/* The connect rate counts from the start: tokens earned while waiting
	 * for it would open up to 100 ms of connections at once at t = 0. */
	w.tokens_at = clock_ns();
	if (dispatch_init(&w) < 0) {
		worker_log(&w, "worker %u: cannot start the pacer: %s", index, strerror(errno));
		goto out;
	}
	ev_timer_init(&w.tick, tick_cb, 0., TICK_S);
	ev_timer_start(w.loop, &w.tick);
	ev_timer_init(&w.interval, interval_cb, 1., 0.);
	ev_timer_start(w.loop, &w.interval);
	w.started = true;
	if (w.stop_early) {
		/* Stopped before the start: the connections opened close, and
		 * the worker reports its (empty) second and ends. */
		begin_stop(&w);
	} else {
		pool_upkeep(&w, clock_ns());
		if (opt->start == START_CONNECTED)
			pool_begin_traffic(&w);
	}
	ev_run(w.loop, 0);
	rc = 0;
out:
	samples_close(w.samples);
	churn_free(&w);
	quota_report_done(&w.quota, report_fd, index, w.second, start_ns);
	dispatch_free(&w);
	tls_client_free(&w, w.tls);
	deadline_stop(&w);
	if (w.rxclock.fd >= 0)
		ev_io_stop(w.loop, &w.rxclock_io);
	rxtime_clock_close(&w.rxclock);
	alarm_free(&w);
	pool_free(&w);
	inflight_pool_free(&w.fl);
	fallback_free(&w);
	retry_table_free(&w.retry);
	addrset_picker_free(&w.picker);
	control_stop(&w);
	stats_free(&w.stats);
	free(w.scratch);
	free(w.reqbuf);
	buf_free(&w.ship);
	ev_loop_destroy(w.loop);
	return rc;
}
