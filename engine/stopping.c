/* stopping: how a run ends early or late — Ctrl-C in stages, a threshold
 * marked abort, workers that stop answering, and workers that die. */
#include "collector.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "ipc.h"
#include "pacer.h"
#include "shard.h"
#include "threshold.h"

/* How long a worker may take past the end (its drain) without progress
 * before it is taken for stuck: a Lua callback that never returns holds its
 * loop, so no signal reaches it but SIGKILL. Progress, not a fixed time: a
 * worker closing tens of thousands of sockets on a busy machine may need
 * many seconds, and says how many it has left as it goes (IPC_PROGRESS). */
#define STUCK_GRACE_NS (5 * NS_PER_SEC)

uint64_t stopping_grace_ns(void)
{
	const char *env = getenv("SURGE_STUCK_GRACE_MS");
	char *end;

	if (env && *env) {
		unsigned long long ms = strtoull(env, &end, 10);
		if (*end == '\0' && ms > 0 && ms < 3600000)
			return ms * NS_PER_MS;
	}
	return STUCK_GRACE_NS;
}

void stopping_progress(struct collector *col, uint32_t k, const void *payload, size_t len)
{
	struct collector_worker *w = &col->wk[k];
	struct ipc_progress p;
	uint64_t now = clock_ns();

	if (len != sizeof(p))
		return;
	memcpy(&p, payload, sizeof(p));
	col->last_heard[k] = now;
	/* Only less left is progress: a worker that reports but never gets
	 * anywhere (a callback looping through its timers) is still stuck. */
	if (w->progress_at == 0 || p.conns + p.inflight < w->left)
		w->progress_at = now;
	w->left = p.conns + p.inflight;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* The workers stop by themselves (drain) or were told to: any still running
 * past the drain and the grace is killed. */
static void stop_by(struct collector *col, uint64_t now)
{
	uint64_t t = add_sat(add_sat(now, col->opt->drain_ns), col->opt->stuck_grace_ns);

	if (t < col->deadline)
		col->deadline = t;
}

/* The run's duration is over: the workers are draining on their own. */
static bool past_end(const struct collector *col, uint64_t now)
{
	return now >= add_sat(col->res->start_ns, col->opt->duration_ns);
}

/* No more whole seconds will come from a healthy worker. */
static bool run_over(const struct collector *col, uint64_t now)
{
	return col->res->interrupted || col->res->aborted_by || col->res->unreachable ||
	       past_end(col, now);
}

static void stop_workers(struct collector *col, int sig)
{
	for (uint32_t k = 0; k < col->nworkers; k++)
		if (!col->reaped[k]) /* a reaped pid may belong to someone else by now */
			kill(col->pids[k], sig);
}

void stopping_worker_lost(struct collector *col, uint32_t k)
{
	struct run_result *r = col->res;
	struct collector_worker *w = &col->wk[k];
	uint64_t now = clock_ns();
	char how[96];
	int status = 0;

	if (w->lost || w->done)
		return;
	w->lost = true;
	r->workers_lost++;
	r->worker_failed = true;
	if (!col->reaped[k]) {
		kill(col->pids[k], SIGKILL); /* a garbled pipe: it may still run */
		while (waitpid(col->pids[k], &status, 0) < 0 && errno == EINTR)
			;
		col->reaped[k] = status + 1;
	}
	status = col->reaped[k] - 1;
	if (WIFSIGNALED(status))
		snprintf(how, sizeof(how), "was killed by SIG%s",
			 sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "?");
	else
		snprintf(how, sizeof(how), "exited with status %d without finishing",
			 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	/* Its last second's in-flight requests were sent (and counted) but
	 * will never be answered or timed out: unfinished, so that sent =
	 * completed + unfinished + errors still holds. */
	if (w->covered > 0 && w->inflight > 0) {
		uint32_t last = w->covered - 1;
		/* Its last second, if it is not settled yet; the totals always. */
		if (last >= col->next_progress && last - col->next_progress < col->npending)
			col->pending[last - col->next_progress].counter[ST_UNFINISHED] += w->inflight;
		r->total.counter[ST_UNFINISHED] += w->inflight;
	}
	/* Killed by the watchdog or by a third Ctrl-C: that was said already. */
	if (col->stuck[k] == STUCK_KILLED || col->terms_sent > 2)
		return;
	uint32_t left = 0;
	for (uint32_t j = 0; j < col->nworkers; j++)
		left += ev_is_active(&col->pipes[j]);
	collector_clear_line(col);
	fprintf(stderr, "surge: worker %u (pid %d) %s %.1f s into the run; %s. Its share counts "
			"as lost: %lld request%s in flight as unfinished%s\n",
		k, (int)col->pids[k], how,
		now > r->start_ns ? (double)(now - r->start_ns) / 1e9 : 0.0,
		left ? "the other workers go on" : "no worker is left",
		(long long)w->inflight, w->inflight == 1 ? "" : "s",
		col->opt->rate_segs ? ", what it was still to send as intended but not sent" : "");
}

uint32_t stopping_reporters(const struct collector *col, uint32_t second)
{
	uint32_t n = 0;

	for (uint32_t k = 0; k < col->nworkers; k++)
		if (ev_is_active(&col->pipes[k]) || col->wk[k].covered > second)
			n++;
	return n;
}

/* Requests among the first n of the global schedule that worker k of W
 * takes (k, k+W, k+2W ...: pacer.h). */
static uint64_t share_of(uint64_t n, uint32_t k, uint32_t W)
{
	return n / W + (k < n % W ? 1 : 0);
}

void stopping_add_lost_share(struct collector *col, uint32_t second, struct stats *s)
{
	const struct options *o = col->opt;
	uint64_t t0 = (uint64_t)second * NS_PER_SEC, t1 = t0 + NS_PER_SEC;

	if (!o->rate_segs || t0 >= o->duration_ns)
		return;
	if (t1 > o->duration_ns)
		t1 = o->duration_ns;
	/* Uniform arrivals are exact; Poisson ones the expected share. The
	 * schedule is the whole run's (every shard's), cut at requests = N:
	 * a worker takes its slot's entries of it (worker.c), as its pacer and
	 * its quota do. */
	uint64_t n0 = (uint64_t)floor(pacer_integral(o->rate_segs, o->nrate_segs, t0));
	uint64_t n1 = (uint64_t)floor(pacer_integral(o->rate_segs, o->nrate_segs, t1));
	if (o->requests && n0 > o->requests)
		n0 = o->requests;
	if (o->requests && n1 > o->requests)
		n1 = o->requests;
	uint32_t slots = shard_slots(o, col->nworkers);
	for (uint32_t k = 0; k < col->nworkers; k++) {
		if (!col->wk[k].lost || col->wk[k].covered > second)
			continue;
		uint32_t slot = shard_slot(o, k);
		int64_t add = (int64_t)(share_of(n1, slot, slots) - share_of(n0, slot, slots));
		s->counter[ST_INTENDED] += add;
		col->res->total.counter[ST_INTENDED] += add;
	}
}

/* After each whole second: a threshold marked abort that fails on the
 * totals so far stops the run the way Ctrl-C does, and the report says why. */
void stopping_check_abort(struct collector *col, uint32_t second)
{
	struct run_result *r = col->res;
	uint64_t at = (uint64_t)(second + 1) * NS_PER_SEC;
	char act[64];

	/* The last second ends as the workers stop by themselves: too late. */
	if (r->aborted_by || r->interrupted || r->unreachable || at >= col->opt->duration_ns)
		return;
	const struct threshold *t = threshold_abort_check(r->thresholds, r->nthresholds, &r->total, at);
	if (!t)
		return;
	r->aborted_by = t;
	r->aborted_at_s = (double)at / 1e9;
	r->aborted_actual = t->actual;
	r->elapsed_ns = at;
	stop_workers(col, SIGTERM);
	col->terms_sent++;
	stop_by(col, clock_ns());
	threshold_fmt(t, t->actual, act, sizeof(act));
	collector_clear_line(col);
	fprintf(stderr, "surge: stopping at %.0fs: threshold %s %s failed (%s), abort is set (%s)\n",
		r->aborted_at_s, t->metric, t->condition, act, t->where);
}

uint64_t stopping_unreachable_ns(const struct options *o)
{
	uint64_t least = 10 * NS_PER_SEC, twice = add_sat(o->connect_timeout_ns, o->connect_timeout_ns);
	const char *env = getenv("SURGE_UNREACHABLE_MS"); /* for tests */
	char *end;

	if (env && *env) {
		unsigned long long ms = strtoull(env, &end, 10);
		if (*end == '\0' && ms > 0 && ms < 3600000)
			return ms * NS_PER_MS;
	}
	return twice > least ? twice : least;
}

void stopping_check_unreachable(struct collector *col, uint32_t second, const struct stats *s)
{
	struct run_result *r = col->res;
	const struct stats *t = &r->total;
	uint64_t window = stopping_unreachable_ns(col->opt);

	if (!col->opt->duration_unbounded || r->aborted_by || r->interrupted || r->unreachable ||
	    col->terms_sent)
		return;
	/* The totals run ahead of the settled second (workers send as they
	 * go): a connection open in any of them keeps the run going. */
	bool none_open = t->counter[ST_CONN_OPENED] <= t->counter[ST_CONN_CLOSED];
	int64_t failed = t->counter[ST_CONN_ATTEMPTS] - t->counter[ST_CONN_OPENED];
	if (s->counter[ST_CONN_OPENED] == 0 && none_open && t->counter[ST_CONN_ATTEMPTS] > 0) {
		if (col->dead_seconds++ == 0)
			col->dead_failed = failed;
	} else {
		col->dead_seconds = 0;
	}
	if ((uint64_t)col->dead_seconds * NS_PER_SEC < window)
		return;
	/* Closed on purpose (a connection ramp at 0, a slow connection_rate):
	 * only connects that kept failing make the target unreachable. */
	if (failed <= col->dead_failed) {
		col->dead_seconds = 0;
		return;
	}
	uint64_t at = (uint64_t)(second + 1) * NS_PER_SEC;
	r->unreachable = true;
	r->unreachable_at_s = (double)at / 1e9;
	r->unreachable_window_s = (double)window / 1e9;
	r->elapsed_ns = at;
	stop_workers(col, SIGTERM);
	col->terms_sent++;
	stop_by(col, clock_ns());
	collector_clear_line(col);
	fprintf(stderr, "surge: stopping at %.0fs: no connection open for %.0f s, %lld connect%s "
			"failed; a run bounded by -n alone would retry for a year: check the "
			"target, or give a duration (-d) to keep trying that long\n",
		r->unreachable_at_s, (double)window / 1e9, (long long)failed, failed == 1 ? "" : "s");
}

/* A process's CPU time (user + system, ns) and state letter from /proc;
 * 0 and '?' if unreadable. */
static uint64_t cpu_time_ns(pid_t pid, char *state)
{
	char path[64], line[1024];
	unsigned long long ut = 0, st = 0;
	FILE *f;

	*state = '?';
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (!(f = fopen(path, "r")))
		return 0;
	size_t n = fread(line, 1, sizeof(line) - 1, f);
	fclose(f);
	line[n] = '\0';
	/* After the command's closing parenthesis: state is field 3, utime 14. */
	const char *p = strrchr(line, ')');
	if (!p || sscanf(p + 1, " %c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", state,
			 &ut, &st) != 3)
		return 0;
	long hz = sysconf(_SC_CLK_TCK);
	return hz > 0 ? (ut + st) * (NS_PER_SEC / (uint64_t)hz) : 0;
}

static void watch_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct collector *col = ev_userdata(loop);
	uint64_t now = clock_ns(), grace = col->opt->stuck_grace_ns;

	live_hlog_beat(col); /* this timer runs at least once a second, to the end */
	for (uint32_t k = 0; k < col->nworkers; k++) {
		int status;
		if (!ev_is_active(&col->pipes[k]) || col->stuck[k] == STUCK_KILLED)
			continue; /* finished, or its end is on the way */
		if (now > col->deadline && col->wk[k].progress_at &&
		    now < add_sat(col->wk[k].progress_at, grace))
			continue; /* slow, not stuck: it closed or was answered lately */
		/* What it sent waits unread in its pipe: the coordinator is behind
		 * (a starved CPU, 50 workers' seconds to merge), and the worker is
		 * likely blocked writing more, not stuck. Its news comes next. */
		int unread = 0;
		if (now > col->deadline && ioctl(col->pipes[k].fd, FIONREAD, &unread) == 0 && unread > 0)
			continue;
		if (now > col->deadline) {
			/* Its pipe's EOF may simply not be read yet. */
			if (waitpid(col->pids[k], &status, WNOHANG) == col->pids[k]) {
				col->reaped[k] = status + 1;
				continue;
			}
			kill(col->pids[k], SIGKILL);
			col->stuck[k] = STUCK_KILLED;
			col->res->worker_failed = true;
			collector_clear_line(col);
			char left[64] = "";
			if (col->wk[k].left)
				snprintf(left, sizeof(left), " with %llu connections and requests left",
					 (unsigned long long)col->wk[k].left);
			if (col->wk[k].progress_at)
				fprintf(stderr, "surge: worker %u made no progress for %.1f s after the end%s "
						"(a Lua callback that never returns?): killed; what it had "
						"not sent is missing\n",
					k, (double)(now - col->wk[k].progress_at) / 1e9, left);
			else
				fprintf(stderr, "surge: worker %u did not stop %.0f s after the end (a Lua "
						"callback that never returns?): killed; what it had not "
						"sent is missing\n", k, (double)grace / 1e9);
			continue;
		}
		/* While the run lasts a worker reports every second; draining, it
		 * sends nothing until it is done. Silent past the grace, it is
		 * sampled (CPU time, Lua call count) and named at the next check:
		 * stopped, in one Lua call that spends CPU, busy, or starved of a
		 * CPU (hundreds of processes on two cores). Reports waiting unread
		 * in its pipe are the coordinator's lag, not the worker's silence. */
		if (run_over(col, now) || col->stuck[k] == STUCK_WARNED)
			continue;
		if (now <= col->last_heard[k] + STUCK_GRACE_NS) {
			col->stuck[k] = STUCK_NO; /* heard again since it was sampled */
			continue;
		}
		if (ioctl(col->pipes[k].fd, FIONREAD, &unread) == 0 && unread > 0)
			continue;
		struct collector_worker *wk = &col->wk[k];
		char state;
		uint64_t cpu = cpu_time_ns(col->pids[k], &state);
		uint64_t calls = __atomic_load_n(&col->lua_calls[k], __ATOMIC_RELAXED);
		if (col->stuck[k] == STUCK_NO) {
			col->stuck[k] = STUCK_SAMPLED;
			wk->cpu_ns = cpu;
			wk->cpu_at = now;
			wk->lua_calls = calls;
			continue;
		}
		/* The watch runs once a second: half of one apart is the next. */
		if (now - wk->cpu_at < NS_PER_SEC / 2)
			continue;
		col->stuck[k] = STUCK_WARNED;
		double share = cpu >= wk->cpu_ns ? (double)(cpu - wk->cpu_ns) / (double)(now - wk->cpu_at)
						 : 0;
		collector_clear_line(col);
		double silent_s = (double)(now - col->last_heard[k]) / 1e9;
		/* The same Lua call in progress at both samples, a watch period
		 * apart, and CPU spent on it: a callback that does not
		 * return. A starved worker gets too little CPU to be judged so,
		 * and one busy in C has no call open. */
		bool in_one_call = (calls & 1) && calls == wk->lua_calls;
		if (state == 'T' || state == 't')
			fprintf(stderr, "surge: worker %u has sent nothing for %.0f s: it is stopped "
					"(SIGSTOP, Ctrl-Z or a debugger)\n", k, silent_s);
		else if (in_one_call && share >= 0.2)
			fprintf(stderr, "surge: worker %u has sent nothing for %.0f s: one Lua callback "
					"has run for over %.0f s, using %.0f%% of a CPU: is it stuck in a "
					"loop?\n", k, silent_s, (double)(now - wk->cpu_at) / 1e9, share * 100);
		else if (share >= 0.5)
			fprintf(stderr, "surge: worker %u has sent nothing for %.0f s while using %.0f%% "
					"of a CPU: it is busy, its seconds will come late\n", k, silent_s,
				share * 100);
		else
			fprintf(stderr, "surge: worker %u has sent nothing for %.0f s and got %.0f%% of a "
					"CPU: the machine is overloaded, its seconds will come late\n",
				k, silent_s, share * 100);
	}
}

static void signal_cb(struct ev_loop *loop, ev_signal *s, int revents)
{
	struct collector *col = ev_userdata(loop);
	struct run_result *r = col->res;
	uint64_t now = clock_ns();

	/* Stage 0 tells the workers to drain (SIGTERM), 1 to give the drain up
	 * (SIGUSR1, which cannot merge with a SIGTERM still pending), 2 kills.
	 * Past the end of the run, or after an abort, they are draining
	 * already: a Ctrl-C there (someone at the terminal, in a hurry) gives
	 * the drain up, but a SIGTERM keeps it. A SIGTERM comes from `timeout`,
	 * systemd or Kubernetes, which send it to the whole group and mean
	 * "finish cleanly"; they send SIGKILL themselves when that takes too
	 * long. */
	bool draining = col->terms_sent == 0 && past_end(col, now);
	/* Only Ctrl-C escalates. `timeout` signals its child and then the
	 * whole group, so the coordinator can take two SIGTERMs for one
	 * request to finish cleanly; read as a second stage, the second gave
	 * the drain up. */
	if (s->signum == SIGTERM && col->terms_sent > 0)
		return;
	int stage = col->terms_sent + (draining && s->signum == SIGINT ? 1 : 0);

	collector_clear_line(col);
	/* Stopped by a signal, early or in the drain: the run did not end on
	 * its own (exit 130, "interrupted" in every report). */
	if (!r->interrupted && !r->aborted_by && !r->unreachable) {
		r->interrupted = true;
		if (!draining)
			r->elapsed_ns = now > r->start_ns ? now - r->start_ns : 0;
	}
	if (stage < 2)
		stop_by(col, now);
	if (stage == 0) {
		stop_workers(col, SIGTERM);
		col->terms_sent++;
		fprintf(stderr, "surge: stopping: collecting the answers in flight (Ctrl-C again to "
				"stop at once)\n");
	} else if (stage == 1) {
		stop_workers(col, SIGUSR1);
		col->terms_sent = 2;
		fprintf(stderr, "surge: stopping at once (Ctrl-C again kills the workers; what they "
				"have not sent yet is lost)\n");
	} else {
		stop_workers(col, SIGKILL);
		col->terms_sent = 3;
	}
}

/* After the loop exists and the pipes are watched. */
void stopping_start(struct collector *col)
{
	for (uint32_t k = 0; k < col->nworkers; k++)
		col->last_heard[k] = col->res->start_ns;
	col->deadline = UINT64_MAX;
	stop_by(col, add_sat(col->res->start_ns, col->opt->duration_ns)); /* the natural end */
	/* Checked a few times per grace period, at most once a second. */
	double every = (double)col->opt->stuck_grace_ns / 4e9;
	every = every < 1. ? every : 1.;
	ev_timer_init(&col->watch, watch_cb, every, every);
	ev_timer_start(col->loop, &col->watch);
	ev_signal_init(&col->sigint, signal_cb, SIGINT);
	ev_signal_start(col->loop, &col->sigint);
	ev_signal_init(&col->sigterm, signal_cb, SIGTERM);
	ev_signal_start(col->loop, &col->sigterm);
}

void stopping_ended_by_requests(struct collector *col)
{
	struct run_result *r = col->res;
	uint64_t last = 0;

	if (!col->opt->requests || r->interrupted || r->aborted_by || r->unreachable)
		return;
	for (uint32_t k = 0; k < col->nworkers; k++) {
		if (!col->wk[k].done || !col->wk[k].ended_by_requests)
			return;
		if (col->wk[k].end_ns > last)
			last = col->wk[k].end_ns;
	}
	r->ended_by_requests = true;
	r->elapsed_ns = last;
}
