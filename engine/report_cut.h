/*
 * report_cut: whether each log `surge report` reads is whole, and what the
 * ones cut short lack. A log surge writes whole says in its header how many
 * seconds follow ("#surge-param seconds N") and ends with "#surge-end"; a
 * log without that line was cut (a full disk, a copy taken too soon, a
 * writer killed), even at a second's boundary. A log written as the run
 * goes (elapsed_s 0) has no end line until the whole log replaces it: it
 * is still being written while its writer touches it, and was left behind
 * once it has been still for REPORT_CUT_STILL_S. Logs of a surge that wrote
 * no end line are judged by the elapsed time their header names.
 */
#ifndef SURGE_REPORT_CUT_H
#define SURGE_REPORT_CUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hlog.h"
#include "run.h"

/* A run touches its live log at least once a second (live_hlog_beat) until
 * the whole log replaces it; writing the reports after the loop takes a few
 * seconds. A live log still for this long was left by a run that stopped
 * without writing its whole log. */
#define REPORT_CUT_STILL_S 60.0

enum report_cut_kind {
	REPORT_CUT_SHORT, /* ends before its last second (no "#surge-end", or older and short) */
	REPORT_CUT_GAPS,  /* ends whole, but seconds inside lost their counts (cut or edited) */
	REPORT_CUT_LEFT,  /* written as its run went, and its run stopped without finishing it */
	REPORT_CUT_LIVE,  /* still being written: a note (its last second, if not whole yet) */
	REPORT_CUT_MERGE, /* a merge (surge report --partial --hlog) of logs that were cut */
};

/* One log that lacks seconds. */
struct report_cut {
	const char *log; /* its name, as given (the hlog's) */
	enum report_cut_kind kind;
	double from_s;    /* where what it lacks begins, seconds after its start */
	double end_s;     /* where its whole seconds end */
	uint64_t seconds; /* the seconds it lacks */
	bool exact;       /* seconds counted against its header's N; else from its times */
	uint64_t of;      /* N, when exact */
	size_t dropped;   /* of them, seconds that had latencies but no counts */
	bool dropped_last; /* one of those comes after its last whole second */
	double took_s;    /* what its run took (elapsed_s), or was to take (duration_s) */
	double still_s;   /* a live log: how long since it was last written */
};

/* Judges every log of l (read by hlog_read_stream). still_s[i]: seconds
 * since log i was last modified, or < 0 when not known (then a live log is
 * taken as still being written). Fills r->cuts and r->ncuts (in l's order)
 * and r->seconds_cut (the cut logs' seconds, a merge's recorded ones
 * included; not a live log's unfinished second). Returns 0, -EINVAL with
 * err naming the log for a "seconds" or "seconds_cut" parameter that is not
 * a count, or -ENOMEM. */
int report_cut_judge(const struct hlog *l, const double *still_s, struct run_result *r, char *err,
		     size_t errlen);
/* One line on note for each entry of r->cuts, saying what the report leaves
 * out and why. Returns how many are cuts (an error unless --partial): every
 * entry but a live log's note. */
size_t report_cut_say(const struct run_result *r, FILE *note);

#endif
