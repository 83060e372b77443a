/*
 * ramp_eval: a worker's share of a ramped whole-number target such as the
 * connection count, given as the same rate_segment list the pacer takes. The
 * scenario's value at t is rounded to the nearest integer n; worker k of W
 * owns units k, k+W, k+2W ... below n, so the shares always sum to n.
 */
#ifndef SURGE_RAMP_EVAL_H
#define SURGE_RAMP_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "pacer.h"

/* Units of total that worker_index owns; 0 when worker_index >= worker_count. */
uint32_t ramp_eval_share(uint64_t total, unsigned worker_index, unsigned worker_count);

/* This worker's target at t (ns since start); 0 after the last segment. */
uint32_t ramp_eval_target(const struct rate_segment *segs, size_t nsegs, uint64_t t,
			  unsigned worker_index, unsigned worker_count);

/* No target of this worker at any time exceeds this: sizes its pool. */
uint32_t ramp_eval_peak(const struct rate_segment *segs, size_t nsegs, unsigned worker_index,
			unsigned worker_count);

/* Earliest time > t at which ramp_eval_target differs from its value at t,
 * or UINT64_MAX if it never changes again (so the pool can arm one timer
 * instead of polling). The segments must be valid as for pacer_new. */
uint64_t ramp_eval_next_change(const struct rate_segment *segs, size_t nsegs, uint64_t t,
			       unsigned worker_index, unsigned worker_count);

#endif
