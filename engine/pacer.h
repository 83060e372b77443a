/*
 * pacer: intended send times of an open-model run. The scenario's rate is a
 * piecewise-linear function of time (compiled from Lua ramps into segments);
 * global request i is due when the integral of the rate reaches i+1 (uniform)
 * or at the (i+1)-th point of a Poisson process with that intensity. Worker k
 * of W takes global requests k, k+W, k+2W ... so the workers' schedules sum
 * exactly to the scenario's.
 */
#ifndef SURGE_PACER_H
#define SURGE_PACER_H

#include <stddef.h>
#include <stdint.h>

/* Rate goes linearly from r0 to r1 (requests/s) over [t0, t1) (ns since start).
 * Segments are contiguous, sorted, t0 of the first is 0; after the last
 * segment the rate is 0 (the schedule ends). */
struct rate_segment {
	uint64_t t0, t1;
	double r0, r1;
};

enum pacer_arrival { PACER_UNIFORM, PACER_POISSON };

struct pacer;

/* Copies segs. Returns 0 and *out, or -EINVAL (unsorted, gaps, negative
 * rates, worker_index >= worker_count) / -ENOMEM. */
int pacer_new(const struct rate_segment *segs, size_t nsegs, enum pacer_arrival arrival,
	      uint64_t seed, unsigned worker_index, unsigned worker_count, struct pacer **out);
void pacer_free(struct pacer *p);

/* Intended time (ns since start) of this worker's next request, or
 * UINT64_MAX once the schedule has ended. Non-decreasing. O(1) amortised. */
uint64_t pacer_next(struct pacer *p);

/* Global requests due in [0, t) by the schedule (integral of the rate, floor). */
double pacer_integral(const struct rate_segment *segs, size_t nsegs, uint64_t t);
/* Rate at time t (the value a ramp takes; also used for connection counts). */
double pacer_rate_at(const struct rate_segment *segs, size_t nsegs, uint64_t t);
/* The segment holding t (zero-length ones never do), or NULL past the last. */
const struct rate_segment *pacer_segment_at(const struct rate_segment *segs, size_t nsegs,
					    uint64_t t);

/* The sum of two schedules, both from their own start (runs overlaid from
 * their starts, as surge report merges them): a segment between every two
 * boundaries of either, its rates the sum of both there, a schedule adding
 * 0 past its end. Schedules with the same boundaries add segment by
 * segment, as they are. 0 and *out (malloc'd, *nout segments; NULL and 0
 * when both are empty), or -ENOMEM. */
int pacer_segments_add(const struct rate_segment *a, size_t na, const struct rate_segment *b,
		       size_t nb, struct rate_segment **out, size_t *nout);

#endif
