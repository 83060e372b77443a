/*
 * report_rate: the open model's requests sent against those intended. A
 * shortfall that changes what the run measured is said in every report with
 * its likely cause, so a client that could not send is not read as a server
 * that answered everything.
 */
#ifndef SURGE_REPORT_RATE_H
#define SURGE_REPORT_RATE_H

#include <stddef.h>

#include "options.h"
#include "run.h"

/* Sent below this share of intended is a shortfall worth a warning. The rate
 * line shows every drop, exactly; the warning is for what changes the
 * result. A run's edges drop a few of their own (a connections ramp that
 * reaches 0 before the schedule ends, the backlog still waiting at the stop),
 * and below one request in 200 the achieved rate is within what two runs of
 * one scenario differ by: at 7499 of 7500 the warning said "only 100.0%". */
#define REPORT_RATE_SHORT 0.995

#define REPORT_RATE_NOTE_MAX 512

/* When the run has a schedule and sent less than REPORT_RATE_SHORT of what it
 * intended: writes "only 91.66% of the intended requests were sent (6875 of
 * 7500): ..." (the share cut, never rounded up) with the likely cause into
 * buf and returns 1; otherwise returns 0 and buf is "". */
int report_rate_note(const struct run_result *r, const struct options *o, char *buf, size_t len);

#endif
