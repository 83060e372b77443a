/*
 * hlog: HdrHistogram interval logs (format 1.3) — the writer behind --hlog and
 * the reader behind `surge report`. Every interval's histograms are V2
 * compressed and base64'd, one line per tag (latency, service, connect,
 * send_lag, each named metric); the interval's counters and the run's
 * parameters ride along in "#surge-..." comment lines, which HdrHistogram's
 * own readers skip as comments, and a log written whole ends with
 * "#surge-end" (one without it was cut short, or is still being written).
 */
#ifndef SURGE_HLOG_H
#define SURGE_HLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "stats.h"

/* Interval_Max is printed divided by this (HdrHistogram's default: ns -> ms). */
#define HLOG_MAX_UNIT_RATIO 1e6

/* One interval, merged over every file and line that had the same start. */
struct hlog_interval {
	double start;  /* seconds after the log's base time */
	double length; /* seconds */
	struct stats s;
};

struct hlog_param {
	char *key, *value;
};

/* What one or more logs hold. Intervals are sorted by start; histograms and
 * counters of intervals with the same start (to the millisecond) are added. */
struct hlog {
	double start_time; /* epoch seconds of the earliest log read; 0 if none said */
	struct hlog_interval *iv;
	size_t niv, capiv;
	struct hlog_param *params; /* "#surge-param" lines of the first log that had them */
	size_t nparams;
	const char *params_from; /* that log's name, as the reader was given it */
	size_t *param_lines;     /* where each of params was */
	size_t nlogs;      /* files read */
	size_t nhists;     /* interval histogram lines read */
	bool has_counters; /* some "#surge-interval" line was read */
	bool mixed_sources; /* logs of different "bind" sets: per-source rows do not add */
	/* Every line read, added: a report's totals (has_total once made). */
	struct stats total;
	bool has_total;
	/* Every log's own "#surge-param" lines, in the order the logs were
	 * given: what a merge of a run's shards adds up (report_shards.c). */
	struct hlog_log {
		const char *name;
		double start;         /* its base time, epoch seconds (0: not said) */
		struct hlog_param *p;
		size_t np;
		/* Seconds of a surge log whose histograms came without their
		 * "#surge-interval" line (a log cut short, or still being
		 * written): left out whole, never counted without their counts. */
		size_t seconds_cut;
		double cut_at;  /* the first of them, seconds after the log's start */
		bool cut_last;  /* the log's last second was one (a cut, or a live log) */
		size_t cut_tail; /* of them, those after its last whole second */
		/* Its whole seconds ("#surge-interval" lines; a foreign log's
		 * histogram lines count none) and where the last interval kept
		 * ends, seconds after its start: what report_cut.c weighs against
		 * the seconds its header names. */
		size_t seconds;
		double end;
		bool ended; /* its last line is "#surge-end": written whole */
		char ended_by[16]; /* that line's ended_by= (report_ended_by_key), or "" */
		int64_t sent;   /* its own "sent" counts: a merge of open- and closed-model
				 * runs rates only the open ones' (report_shards.c) */
	} *logs;
	size_t nlog_info;
	bool settled;          /* hlog_read_stream has handed an interval on: */
	long long settled_key; /* the last one's start, in ms */
};

/* Writer. header: the format version, StartTime and BaseTime (both
 * start_epoch: interval timestamps are relative to it), params as
 * "#surge-param KEY VALUE" lines (keys without spaces; newlines in values
 * become spaces), then the legend. Return 0 or -EIO. */
int hlog_write_header(FILE *f, double start_epoch, const struct hlog_param *params,
		      size_t nparams);
/* One line: [Tag=TAG,]start,length,max,base64. tag NULL for none; a tag's
 * commas, whitespace and '%' are %-escaped. 0, -ENOMEM or -EIO. */
int hlog_write_hist(FILE *f, const char *tag, double start, double length,
		    const struct hist *h);
/* One interval of a run: a line per non-empty histogram of s, then one
 * "#surge-interval" line with its non-zero counters. 0 or -errno. */
int hlog_write_interval(FILE *f, double start, double length, const struct stats *s);
/* The same lines in a malloc'd buffer: 0 and *buf (the caller frees) and
 * *len, or -errno. */
int hlog_interval_lines(double start, double length, const struct stats *s, char **buf,
			size_t *len);
/* The last line of a log written whole: "#surge-end ended_by=KEY" (KEY:
 * what ended the run, as JSON's run.ended_by). A log without it was cut
 * short or is still being written. 0 or -EIO. */
int hlog_write_end(FILE *f, const char *ended_by);

/* Reader. hlog_init before the first read; each hlog_read adds one log into
 * l, aligning logs on their own base times (shards started together line up),
 * and keeps every interval in l->iv. name is for messages (it must outlive l:
 * parameters point at it). In a surge log (one with "#surge-param" or
 * "#surge-interval" lines) a second's histograms are held until its
 * "#surge-interval" line: a second without one is left out and counted in
 * its l->logs entry (seconds_cut), so counts and latencies always agree;
 * the entry also says whether the log ended with "#surge-end" (ended).
 * Returns 0, or -EINVAL with err naming name:line
 * and what is wrong (counts that would overflow, negative counts, times
 * beyond 10^10 s included), or -ENOMEM / -EIO with err filled. hlog_free
 * releases everything (NULL-safe). */
void hlog_init(struct hlog *l);
int hlog_read(FILE *f, const char *name, struct hlog *l, char *err, size_t errlen);
void hlog_free(struct hlog *l);
/* The same for n logs at once, streamed: read together in time order, each
 * interval (merged over the logs) goes to fn as soon as no log can add to
 * it, and is freed after; l keeps none, only the parameters, the counts and
 * the totals. Each log must be in time order (an interval starting before
 * one handed on is refused with name:line). fn returns 0 or -errno, which
 * stops the read and is returned. */
int hlog_read_stream(FILE *const *files, const char *const *names, size_t n, struct hlog *l,
		     int (*fn)(void *arg, struct hlog_interval *iv), void *arg, char *err,
		     size_t errlen);
/* The value of a "#surge-param", or NULL; the parameter itself, or NULL. */
const char *hlog_param(const struct hlog *l, const char *key);
const struct hlog_param *hlog_param_line(const struct hlog *l, const char *key);
/* The value of a "#surge-param" of one log (l->logs[i]), or NULL. */
const char *hlog_log_param(const struct hlog_log *g, const char *key);
/* "NAME:LINE" of a parameter of l, for messages. */
void hlog_param_where(const struct hlog *l, const struct hlog_param *p, char *buf, size_t len);

#endif
