/* report_log: a run read back from its logs' #surge-param lines (surge
 * report): the options it ran with, what came of it, and its thresholds.
 * A hostile log's numbers are each checked and refused with the line they
 * came from: none reaches a cast it does not fit. */
#ifndef SURGE_REPORT_LOG_H
#define SURGE_REPORT_LOG_H
#include <stddef.h>

#include "hlog.h"
#include "options.h"
#include "report.h"

/* The options the logs' run (or runs) had. Returns 0 or -errno, err set. */
int report_log_options(const struct hlog *l, struct options *o, char *err, size_t errlen);

/* After the stream (hlog_read_stream): the totals every line added, which
 * move from l to r, and the run's times and ending; last_end is the
 * last interval's end (s). Returns 0 or -errno, err set. */
int report_log_result(struct hlog *l, double last_end, struct run_result *r, char *err,
		      size_t errlen);

/* The logs' recorded thresholds (which were abort, the one that stopped the
 * run), then more[0, nmore) from the command line, into r->thresholds.
 * first_log names where the recorded ones came from. */
int report_log_thresholds(const struct hlog *l, const char *first_log, const char *const *more,
			  size_t nmore, struct run_result *r, char *err, size_t errlen);

/* Each log's value of key, once each in the logs' order, joined by ", "
 * (logs of different runs name each their target): malloc'd, or NULL when
 * none says. */
char *report_log_joined(const struct hlog *l, const char *key);

#endif
