/*
 * report: what a run tells its user — the header before it starts, the live
 * progress line, the text summary, and the files (--json, --hlog, --html).
 * Every number is computed from the merged statistics; nothing is estimated.
 */
#ifndef SURGE_REPORT_H
#define SURGE_REPORT_H

#include <stdio.h>

#include "options.h"
#include "run.h"
#include "stats.h"

void report_header(FILE *f, const struct options *o);
void report_progress_line(FILE *f, const struct options *o, const struct stats *s, uint32_t second);
void report_text(FILE *f, const struct options *o, const struct run_result *r);
/* The thresholds and their outcome (nothing when there are none). */
void report_thresholds_text(FILE *f, const struct run_result *r);
/* Why a run measured nothing, and what to check. */
void report_nothing_measured(FILE *f, const struct options *o, const struct run_result *r);
/* Writes the files the options ask for. Returns 0 or -errno with err filled. */
int report_files(const struct options *o, const struct run_result *r, char *err, size_t errlen);

/* "1.23ms", "850us", "2.10s": three significant figures, unit by size. */
void report_fmt_ns(char *buf, size_t len, double ns);

#endif
