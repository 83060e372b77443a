/*
 * report: what a run tells its user — the header before it starts, the live
 * progress line, the text summary, and the files (--json, --hlog, --html).
 * Every number is computed from the merged statistics; nothing is estimated.
 */
#ifndef SURGE_REPORT_H
#define SURGE_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "options.h"
#include "run.h"
#include "stats.h"

void report_header(FILE *f, const struct options *o);
void report_progress_line(FILE *f, const struct options *o, const struct stats *s, uint32_t second);
void report_text(FILE *f, const struct options *o, const struct run_result *r);
/* The thresholds and their outcome (nothing when there are none). */
void report_thresholds_text(FILE *f, const struct run_result *r);
/* Under -q, where no report is printed: one line per threshold that
 * failed, so a CI log says why the exit code is 3. */
void report_thresholds_failed(FILE *f, const char *who, const struct run_result *r);
/* Why a run measured nothing, and what to check. */
void report_nothing_measured(FILE *f, const struct options *o, const struct run_result *r);
/* "-": the report goes to stdout, and the text report is left out. */
bool report_to_stdout(const char *path);
/* How many of these report paths are "-" (at most one may be). */
int report_stdout_count(const char *hlog, const char *json, const char *html);

/* One report file to write: where (NULL: not asked for), its name in
 * messages ("JSON"), and the writer that renders it to a stream (0 or
 * -errno). A regular file is replaced whole through a temp file of a
 * unique name beside it and a rename; a FIFO, a character device or "-"
 * is written as it is; a symlink is followed (see report_files.c). */
struct report_out {
	const char *path;
	const char *what;
	int (*write)(FILE *f, const struct options *o, const struct run_result *r,
		     const char *const *sources, size_t nsources);
};
/* Before any work: at most one "-", no two reports to the same file, and
 * each can be created where it is to go. 0 or -errno with err filled. */
int report_outs_check(const struct report_out *outs, size_t n, char *err, size_t errlen);
/* Writes each report asked for, every one attempted even after one
 * failed. Returns 0 or the first -errno; err holds one line per failure. */
int report_outs_write(const struct report_out *outs, size_t n, const struct options *o,
		      const struct run_result *r, const char *const *sources, size_t nsources,
		      char *err, size_t errlen);
/* Writes one report. 0 or -errno (what write() said) with err naming the file. */
int report_write_file(const char *path, const struct report_out *out, const struct options *o,
		      const struct run_result *r, const char *const *sources, size_t nsources,
		      char *err, size_t errlen);
/* path is, or will be, a regular file that the final write replaces (so
 * it may be written as the run goes); false for "-", FIFOs and devices. */
bool report_path_replaced(const char *path);
/* report_outs_check and report_outs_write for a run's --hlog, --json and
 * --html; the check also refuses a report to the --samples file. */
int report_files_check(const struct options *o, char *err, size_t errlen);
int report_files(const struct options *o, const struct run_result *r, char *err, size_t errlen);

/* What ended the run: "requests" (requests = N sent), "duration",
 * "interrupted" or "threshold" (JSON run.ended_by), and the text report's
 * sentence for it (a static buffer). */
const char *report_ended_by_key(const struct options *o, const struct run_result *r);
const char *report_ended_by(const struct options *o, const struct run_result *r);
/* "1.23ms", "850us", "2.10s": three significant figures, unit by size. */
void report_fmt_ns(char *buf, size_t len, double ns);
/* A scenario-chosen name (counter, metric, protocol) for a line of text:
 * control bytes and backslash C-escaped ("a\\nb"), so a name, even an error
 * string, cannot break or rewrite a report line. Returns buf; len of
 * REPORT_NAME_LEN fits any STATS_NAME_MAX name unshortened. */
#define REPORT_NAME_LEN (4 * STATS_NAME_MAX)
const char *report_fmt_name(char *buf, size_t len, const char *name);

/* The report files, each written to an open stream; 0 or -errno. sources are
 * the logs `surge report` read (none for a run). */
int report_json(FILE *f, const struct options *o, const struct run_result *r,
		const char *const *sources, size_t nsources);
int report_html(FILE *f, const struct options *o, const struct run_result *r,
		const char *const *sources, size_t nsources);
/* The HdrHistogram interval log: the run's parameters (with how many seconds
 * follow), then every second, then "#surge-end": a log without that last
 * line was cut short (report_cut.h). */
int report_hlog(FILE *f, const struct options *o, const struct run_result *r);
/* Its header alone (the parameters as they stand); live: for the log written
 * as the run goes, which cannot say how many seconds will follow. */
int report_hlog_header(FILE *f, const struct options *o, const struct run_result *r, bool live);
/* The fixed percentiles every report lists (JSON keys "50" ... "100"). */
#define REPORT_NPERCENTILES 9
extern const double report_percentiles[REPORT_NPERCENTILES];
void report_fmt_percentile(char *buf, size_t len, double p); /* 99.9 -> "99.9" */
/* Seconds that some worker reported (r->nseconds may have spare room). */
size_t report_nseconds(const struct run_result *r);

/* One destination address's row: connections opened to it, those that
 * failed, and its latency (NULL when none was recorded). */
struct report_dest {
	char label[64]; /* "127.0.0.2:7000", "[::1]:53" */
	int64_t conns, failed;
	const struct hist *latency;
	char latency_key[STATS_NAME_MAX]; /* its name among the run's histograms */
};
/* A "dest:<address>:..." metric: shown in the address tables, not alone. */
bool report_is_dest_stat(const char *name);
/* The next destination from *cursor (start at 0); false after the last. */
bool report_next_dest(const struct stats *s, size_t *cursor, struct report_dest *row);
size_t report_count_dests(const struct stats *s);
/* Source address i (the order of s->src_conns) as text; false without --bind. */
bool report_source_addr(const struct options *o, uint32_t i, char *buf, size_t len);

/* `surge report LOG.hlog...`: re-renders and merges saved runs. */
int report_main(int argc, char **argv);

#endif
