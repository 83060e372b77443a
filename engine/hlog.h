/*
 * hlog: HdrHistogram interval logs (format 1.3) — the writer behind --hlog and
 * the reader behind `surge report`. Every interval's histograms are V2
 * compressed and base64'd, one line per tag (latency, service, connect,
 * send_lag, each named metric); the interval's counters and the run's
 * parameters ride along in "#surge-..." comment lines, which HdrHistogram's
 * own readers skip as comments.
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
	size_t nlogs;      /* files read */
	size_t nhists;     /* interval histogram lines read */
	bool has_counters; /* some "#surge-interval" line was read */
	bool mixed_sources; /* logs of different "bind" sets: per-source rows do not add */
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

/* Reader. hlog_init before the first read; each hlog_read adds one log into
 * l, aligning logs on their own base times (shards started together line up).
 * name is for messages. Returns 0, or -EINVAL with err naming name:line and
 * what is wrong, or -ENOMEM. hlog_free releases everything (NULL-safe). */
void hlog_init(struct hlog *l);
int hlog_read(FILE *f, const char *name, struct hlog *l, char *err, size_t errlen);
void hlog_free(struct hlog *l);
/* The value of a "#surge-param", or NULL. */
const char *hlog_param(const struct hlog *l, const char *key);

#endif
