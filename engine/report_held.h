/*
 * report_held: connections held against connections asked. A pool that never
 * reached what the scenario asked for is said in every report, with its
 * likely cause, so a shortfall is not read as what the server can take.
 */
#ifndef SURGE_REPORT_HELD_H
#define SURGE_REPORT_HELD_H

#include <stddef.h>

#include "options.h"
#include "run.h"
#include "stats.h"

/* Folds one whole second (merged over workers) into r->peak_open and
 * r->peak_asked. The peak is the sum of each worker's exact peak within the
 * second (GA_CONNS_PEAK; logs without it give the second's end value). */
void report_held_second(struct run_result *r, const struct stats *s);

/* A note's room: every class of connect failure with its errno counters. */
#define REPORT_HELD_NOTE_MAX 512

/* When fewer connections were ever open at once than were asked for:
 * writes why (e.g. "1241 connects failed: connect timeout 1241") into buf
 * (REPORT_HELD_NOTE_MAX fits any) and returns 1; otherwise returns 0 and
 * buf is "". */
int report_held_note(const struct run_result *r, const struct options *o, char *buf, size_t len);

#endif
