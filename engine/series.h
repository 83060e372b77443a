/*
 * series: a run's seconds once they are whole, kept small. Per second, only
 * what the reports show of it (counters, error classes, gauges, and count,
 * p50, p90, p99 and max of each core histogram: the JSON series and the HTML
 * charts) and, when an interval log is wanted, that second's log lines. Both
 * are spooled to an unlinked temporary file (memory when there is no place
 * for one), so the coordinator's memory stays flat however long the run: a
 * second's full histograms (~1 MB) live only until the second is whole.
 */
#ifndef SURGE_SERIES_H
#define SURGE_SERIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "stats.h"

struct series_hist {
	int64_t count, p50, p90, p99, max; /* all 0 when nothing was recorded */
};

/* One second, as the reports show it. */
struct series_point {
	int64_t counter[ST__COUNT];
	int64_t error[ERR__COUNT];
	int64_t gauge[GA__COUNT];
	struct series_hist hist[HI__COUNT];
};

struct series;

/* A new, empty series; with_hlog: it also keeps each second's interval log
 * lines. Returns 0 and *out, or -ENOMEM. series_free closes and frees
 * (NULL-safe). */
int series_new(bool with_hlog, struct series **out);
void series_free(struct series *s);

/* Appends the next second (its index: series_len before the call): its
 * point, and with_hlog its interval log lines (hlog_write_interval at that
 * index as seconds, length 1 s), which *lines and *len get (either may be
 * NULL; valid until the next append). Returns 0 or -errno. A failure is
 * sticky: the series then takes nothing more and every later append and
 * series_write_hlog return it (seconds after a lost one would be misnumbered). */
int series_append(struct series *s, const struct stats *st, const char **lines, size_t *len);
/* Seconds appended so far (0 for NULL). */
size_t series_len(const struct series *s);
/* Second i (< series_len) into *p. Returns 0 or -errno (-ERANGE past the end). */
int series_get(struct series *s, size_t i, struct series_point *p);
/* Every second's interval log lines, in order, to f (none for NULL). 0 or
 * -errno (-EINVAL for a series made without with_hlog). */
int series_write_hlog(struct series *s, FILE *f);

/* The bytes a series holds in memory (not counting what is spooled to its
 * file): for tests that check it does not grow with the run. */
size_t series_mem_bytes(const struct series *s);

void series_point_from_stats(struct series_point *p, const struct stats *st);

#endif
