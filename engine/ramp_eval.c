/*
 * ramp_eval: whole-number ramps (connection counts) split across workers.
 * Values come from pacer_rate_at so both sides agree on what a ramp is worth.
 */
#include "ramp_eval.h"

#include <math.h>

static uint64_t nearest(double v)
{
	if (!(v > 0))
		return 0;
	if (v >= (double)UINT32_MAX)
		return UINT32_MAX;
	return (uint64_t)floor(v + 0.5);
}

uint32_t ramp_eval_share(uint64_t total, unsigned worker_index, unsigned worker_count)
{
	if (worker_index >= worker_count || total <= worker_index)
		return 0;
	return (uint32_t)((total - worker_index + worker_count - 1) / worker_count);
}

uint32_t ramp_eval_target(const struct rate_segment *segs, size_t nsegs, uint64_t t,
			  unsigned worker_index, unsigned worker_count)
{
	return ramp_eval_share(nearest(pacer_rate_at(segs, nsegs, t)), worker_index, worker_count);
}

uint32_t ramp_eval_peak(const struct rate_segment *segs, size_t nsegs, unsigned worker_index,
			unsigned worker_count)
{
	double max = 0;

	/* Linear pieces peak at an end; the open end r1 is an upper bound. */
	for (size_t i = 0; i < nsegs; i++) {
		if (segs[i].t1 == segs[i].t0)
			continue;
		if (segs[i].r0 > max)
			max = segs[i].r0;
		if (segs[i].r1 > max)
			max = segs[i].r1;
	}
	return ramp_eval_share(nearest(max), worker_index, worker_count);
}

/*
 * Within one segment the target is a monotonic function of t (a linear value,
 * rounded, then shared, each step monotonic even in floating point), so equal
 * values at both ends mean no change in between, and otherwise a binary
 * search over nanoseconds finds the first change exactly.
 */
uint64_t ramp_eval_next_change(const struct rate_segment *segs, size_t nsegs, uint64_t t,
			       unsigned worker_index, unsigned worker_count)
{
	uint32_t cur;
	size_t i = 0;

	if (nsegs == 0 || t >= segs[nsegs - 1].t1)
		return UINT64_MAX;
	cur = ramp_eval_target(segs, nsegs, t, worker_index, worker_count);
	while (segs[i].t1 <= t)
		i++;
	for (; i < nsegs; i++) {
		uint64_t lo, hi;

		if (segs[i].t1 == segs[i].t0)
			continue;
		lo = segs[i].t0 > t ? segs[i].t0 : t + 1;
		hi = segs[i].t1 - 1;
		if (lo > hi)
			continue;
		if (ramp_eval_target(segs, nsegs, lo, worker_index, worker_count) != cur)
			return lo;
		if (ramp_eval_target(segs, nsegs, hi, worker_index, worker_count) == cur)
			continue;
		while (hi - lo > 1) {
			uint64_t mid = lo + (hi - lo) / 2;

			if (ramp_eval_target(segs, nsegs, mid, worker_index, worker_count) != cur)
				hi = mid;
			else
				lo = mid;
		}
		return hi;
	}
	/* The schedule's end drops every target to 0. */
	return cur ? segs[nsegs - 1].t1 : UINT64_MAX;
}
