/*
 * run: the coordinator of `surge run` — load the scenario, resolve, plan the
 * workers, fork them, merge their per-second statistics into the live
 * progress line and the final report, and turn the outcome into an exit code.
 */
#ifndef SURGE_RUN_H
#define SURGE_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "options.h"
#include "stats.h"

struct series;
struct threshold;
struct report_cut;

/* Exit codes, documented in README.md. */
enum run_exit {
	EXIT_OK = 0,          /* the run completed */
	EXIT_FAILED = 1,      /* the run could not measure anything (no request completed, a worker died) */
	EXIT_USAGE = 2,       /* bad command line or scenario */
	EXIT_THRESHOLDS = 3,  /* a threshold failed */
	EXIT_PLAN = 4,        /* the plan does not fit this machine (fds, ports, addresses) */
	EXIT_RESOLVE = 5,     /* a target name did not resolve (NXDOMAIN, no address of the
			       * wanted family, no answer): nothing was sent */
	EXIT_INTERRUPTED = 130, /* stopped by SIGINT/SIGTERM; the report covers what ran */
};

/* What a run measured: totals and each second, merged over workers. Only
 * the totals keep whole histograms; a second, once whole, is kept as the
 * reports show it (series.h). */
struct run_result {
	struct stats total;
	struct series *series; /* every second up to the last one reported */
	uint64_t start_ns;   /* CLOCK_MONOTONIC */
	double start_epoch;  /* wall clock at start, for logs */
	uint64_t elapsed_ns; /* measured time: duration, or until interrupted */
	uint64_t connect_phase_ns; /* start = "connected": the phase before it (pool.h) */
	uint32_t workers;
	int64_t peak_open;   /* most connections open at once (report_held.h) */
	int64_t peak_asked;  /* most connections the scenario asked for at once */
	bool interrupted;
	bool worker_failed; /* a worker died, or exited with a failure: the run exits 1 */
	uint32_t workers_lost; /* died mid-run (signal, crash): their share counts as not sent */
	/* A worker's second the coordinator could not take in whole (malformed,
	 * or out of memory): the totals miss it, and the run exits 1. */
	uint32_t seconds_unmerged;
	struct threshold *thresholds; /* parsed before the run, evaluated at the end */
	size_t nthresholds, thresholds_failed;
	/* Set when a threshold marked abort failed mid-run and stopped it: the
	 * one, how far in, and what it measured then. */
	const struct threshold *aborted_by;
	double aborted_at_s, aborted_actual;
	int exit_code; /* what surge exits with, for the report files */
	/* requests = N: every worker sent its share before the duration (which
	 * was then an upper bound); elapsed_ns is then until the last share was
	 * sent. False when the duration, a signal or a threshold ended it. */
	bool ended_by_requests;
	/* requests = N with no duration: no connection was open, and every
	 * connect failed, for stopping_unreachable_ns() in a row, so the run
	 * gave up at unreachable_at_s rather than retry for the year its
	 * duration stands for (exit 1). */
	bool unreachable;
	double unreachable_at_s, unreachable_window_s;
	/* surge report of a sharded run's logs (report_shards.h): of shards_of,
	 * the shards not read and those read more than once (1-based, malloc'd). */
	uint32_t shards_of;
	uint32_t *shards_missing, *shards_doubled;
	uint32_t nshards_missing, nshards_doubled;
	/* surge report of logs mixing open- and closed-model runs: only the
	 * open ones were to send anything, so the achieved rate is theirs. */
	bool models_mixed;
	int64_t sent_paced; /* what the logs with a schedule sent */
	/* surge report of logs cut short (report_cut.h): one entry per log that
	 * lacks seconds (or is still being written), malloc'd, and the seconds
	 * the cut ones lack together. */
	struct report_cut *cuts;
	size_t ncuts;
	uint64_t seconds_cut;
};

int run_main(int argc, char **argv);
/* The exit code a run's results call for (README "Exit codes"), with its
 * thresholds evaluated: one rule for surge run at its end and surge report
 * of its log (report_cmd.c), so a log's report fails where its run failed
 * and for the same reasons. judged: the thresholds count (not a --shard
 * run's share alone). interrupted: the run's own stop by a signal, which
 * exits 130; a report of its log passes false and judges what was measured. */
int run_exit_code(const struct options *o, const struct run_result *r, bool judged,
		  bool interrupted);
/* No request completed (no session completed or was cut short by the end):
 * the run exits 1 (report_nothing_measured says why). */
bool run_measured_nothing(const struct options *o, const struct run_result *r);
/* Frees what a run_result holds (series, totals, thresholds) and zeroes it. */
void run_result_free(struct run_result *r);

#endif
