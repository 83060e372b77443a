/* stopping: how a run ends early or late — Ctrl-C in stages, a threshold
 * marked abort, and workers that stop answering. */
#include "collector.h"

#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "threshold.h"

/* How long a worker may take past the end (its drain) before it is taken
 * for stuck: a Lua callback that never returns holds its loop, so no signal
 * reaches it but SIGKILL. */
#define STUCK_GRACE_NS (5 * NS_PER_SEC)

static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* The workers stop by themselves (drain) or were told to: any still running
 * past the drain and the grace is killed. */
static void stop_by(struct collector *col, uint64_t now)
{
	uint64_t t = add_sat(add_sat(now, col->opt->drain_ns), STUCK_GRACE_NS);

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
	return col->res->interrupted || col->res->aborted_by || past_end(col, now);
}

static void stop_workers(struct collector *col, int sig)
{
	for (uint32_t k = 0; k < col->nworkers; k++)
		kill(col->pids[k], sig);
}

/* After each whole second: a threshold marked abort that fails on the
 * totals so far stops the run the way Ctrl-C does, and the report says why. */
void stopping_check_abort(struct collector *col, uint32_t second)
{
	struct run_result *r = col->res;
	uint64_t at = (uint64_t)(second + 1) * NS_PER_SEC;
	char act[64];

	/* The last second ends as the workers stop by themselves: too late. */
	if (r->aborted_by || r->interrupted || at >= col->opt->duration_ns)
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

static void watch_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct collector *col = ev_userdata(loop);
	uint64_t now = clock_ns();

	for (uint32_t k = 0; k < col->nworkers; k++) {
		int status;
		if (!ev_is_active(&col->pipes[k]) || col->stuck[k] == STUCK_KILLED)
			continue; /* finished, or its end is on the way */
		if (now > col->deadline) {
			/* Its pipe's EOF may simply not be read yet. */
			if (waitpid(col->pids[k], &status, WNOHANG) == col->pids[k]) {
				col->reaped[k] = status + 1;
				continue;
			}
			kill(col->pids[k], SIGKILL);
			col->stuck[k] = STUCK_KILLED;
			col->res->worker_failed = true;
			fprintf(stderr, "surge: worker %u did not stop %.0f s after the end (a Lua callback "
					"that never returns?): killed; what it had not sent is missing\n",
				k, (double)STUCK_GRACE_NS / 1e9);
			continue;
		}
		/* While the run lasts a worker reports every second; draining, it
		 * sends nothing until it is done. */
		if (col->stuck[k] == STUCK_NO && !run_over(col, now) &&
		    now > col->last_heard[k] + STUCK_GRACE_NS) {
			col->stuck[k] = STUCK_WARNED;
			collector_clear_line(col);
			fprintf(stderr, "surge: worker %u has sent nothing for %.0f s: is a Lua callback "
					"stuck in a loop?\n", k, (double)STUCK_GRACE_NS / 1e9);
		}
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
	int stage = col->terms_sent + (draining && s->signum == SIGINT ? 1 : 0);

	collector_clear_line(col);
	/* Stopped by a signal, early or in the drain: the run did not end on
	 * its own (exit 130, "interrupted" in every report). */
	if (!r->interrupted && !r->aborted_by) {
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
	}
}

/* After the loop exists and the pipes are watched. */
void stopping_start(struct collector *col)
{
	for (uint32_t k = 0; k < col->nworkers; k++)
		col->last_heard[k] = col->res->start_ns;
	col->deadline = UINT64_MAX;
	stop_by(col, add_sat(col->res->start_ns, col->opt->duration_ns)); /* the natural end */
	ev_timer_init(&col->watch, watch_cb, 1., 1.);
	ev_timer_start(col->loop, &col->watch);
	ev_signal_init(&col->sigint, signal_cb, SIGINT);
	ev_signal_start(col->loop, &col->sigint);
	ev_signal_init(&col->sigterm, signal_cb, SIGTERM);
	ev_signal_start(col->loop, &col->sigterm);
}
