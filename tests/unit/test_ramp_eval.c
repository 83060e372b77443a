/* ramp_eval: connection targets split across workers, and the times they change. */
#include "tap.h"

#include <stdint.h>

#include "ramp_eval.h"

#define S 1000000000ULL

static void test_share(void)
{
	int bad = 0;

	for (uint64_t n = 0; n < 200; n++)
		for (unsigned w = 1; w <= 9; w++) {
			uint64_t sum = 0;
			uint32_t lo = UINT32_MAX, hi = 0;

			for (unsigned k = 0; k < w; k++) {
				uint32_t s = ramp_eval_share(n, k, w);
				sum += s;
				lo = s < lo ? s : lo;
				hi = s > hi ? s : hi;
			}
			if (sum != n || hi - lo > 1)
				bad++;
		}
	ok(!bad, "share: the workers' shares sum to the total and differ by at most 1");
	is_int(ramp_eval_share(10, 0, 3), 4, "share: worker 0 of 3 holds 4 of 10");
	is_int(ramp_eval_share(10, 2, 3), 3, "share: worker 2 of 3 holds 3 of 10");
	is_int(ramp_eval_share(1, 1, 2), 0, "share: the first unit goes to worker 0");
	is_int(ramp_eval_share(10, 3, 3), 0, "share: worker_index >= worker_count gets 0");
	is_int(ramp_eval_share(10, 0, 0), 0, "share: 0 workers, 0");
}

static void test_target(void)
{
	struct rate_segment c[] = {
		{0, 5 * S, 0, 1000},
		{5 * S, 10 * S, 1000, 1000},
		{10 * S, 10 * S, 5, 5},
		{10 * S, 12 * S, 300, 300},
	};

	is_int(ramp_eval_target(c, 4, 0, 0, 1), 0, "target: ramp starts at 0");
	is_int(ramp_eval_target(c, 4, S, 0, 1), 200, "target: 200 after 1 s of 0 -> 1000 over 5 s");
	is_int(ramp_eval_target(c, 4, S, 1, 2), 100, "target: worker 1 of 2 holds half");
	is_int(ramp_eval_target(c, 4, 2500000, 0, 1), 1, "target: 0.5 rounds up to 1");
	is_int(ramp_eval_target(c, 4, 2499999, 0, 1), 0, "target: just under 0.5 rounds to 0");
	is_int(ramp_eval_target(c, 4, 7 * S, 0, 3), 334, "target: hold 1000, worker 0 of 3");
	is_int(ramp_eval_target(c, 4, 10 * S, 0, 1), 300, "target: a step down takes effect at its boundary");
	is_int(ramp_eval_target(c, 4, 12 * S, 0, 1), 0, "target: 0 after the end");
	is_int(ramp_eval_peak(c, 4, 0, 1), 1000, "peak: 1000");
	is_int(ramp_eval_peak(c, 4, 2, 3), 333, "peak: worker 2 of 3 needs 333");
	is_int(ramp_eval_peak(NULL, 0, 0, 1), 0, "peak: no segments, 0");
}

/* next_change against a scan of every nanosecond on a short ramp. */
static void test_next_change(void)
{
	struct rate_segment r[] = {
		{0, 1000, 0, 7.3},
		{1000, 1500, 7.3, 7.3},
		{1500, 1500, 50, 50},
		{1500, 2000, 9, 2},
		{2000, 2600, 2, 2.4},
		{2600, 3000, 0, 0},
		{3000, 3100, 4, 4},
	};
	int bad = 0;

	for (unsigned w = 1; w <= 3; w++)
		for (unsigned k = 0; k < w; k++)
			for (uint64_t t = 0; t < 3300; t++) {
				uint32_t cur = ramp_eval_target(r, 7, t, k, w);
				uint64_t want = UINT64_MAX, got;

				for (uint64_t u = t + 1; u <= 3300; u++)
					if (ramp_eval_target(r, 7, u, k, w) != cur) {
						want = u;
						break;
					}
				got = ramp_eval_next_change(r, 7, t, k, w);
				if (got != want && bad++ < 3)
					diag("w=%u k=%u t=%llu: got %llu want %llu", w, k,
					     (unsigned long long)t, (unsigned long long)got,
					     (unsigned long long)want);
			}
	ok(!bad, "next_change: the first later time the target differs, or never");
	ok(ramp_eval_next_change(r, 7, 3099, 0, 1) == 3100, "next_change: the end drops the target to 0");
	ok(ramp_eval_next_change(r, 7, 3100, 0, 1) == UINT64_MAX, "next_change: nothing after the end");
	ok(ramp_eval_next_change(NULL, 0, 0, 0, 1) == UINT64_MAX, "next_change: no segments, never");
}

int main(void)
{
	test_share();
	test_target();
	test_next_change();
	return tap_done();
}
