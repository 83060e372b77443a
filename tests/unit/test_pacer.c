/* pacer: intended send times follow the integral of the rate, split exactly
 * across workers; Poisson arrivals have the right mean and variance. */
#include "rng.h"
#include "tap.h"

#include <errno.h>
#include <stdbool.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pacer.h"

#define S 1000000000ULL
#define MS 1000000ULL
#define MAXN 2000000

#define NSEGS(a) (sizeof(a) / sizeof((a)[0]))

/* The test's own integral, in long double, written from the definition
 * (r0*tau + k*tau^2/2) rather than the pacer's trapezoid form. */
static long double ref_integral(const struct rate_segment *segs, size_t n, uint64_t t)
{
	long double sum = 0;

	for (size_t i = 0; i < n; i++) {
		const struct rate_segment *s = &segs[i];
		uint64_t end = t < s->t1 ? t : s->t1;
		long double dt, tau, k;

		if (t <= s->t0)
			break;
		if (s->t1 == s->t0)
			continue;
		dt = (long double)(s->t1 - s->t0) / 1e9L;
		tau = (long double)(end - s->t0) / 1e9L;
		k = ((long double)s->r1 - s->r0) / dt;
		sum += s->r0 * tau + k * tau * tau / 2;
	}
	return sum;
}

static uint64_t test_rng = 0x243f6a8885a308d3ULL;

static uint64_t rnd(void)
{
	return splitmix64(&test_rng);
}

/* Runs one worker's pacer to its end. Returns the count, or -1 if the times
 * ever decrease or the end is not sticky. */
static long run(const struct rate_segment *segs, size_t n, enum pacer_arrival arr, uint64_t seed,
		unsigned k, unsigned w, uint64_t *out, long cap)
{
	struct pacer *p;
	long cnt = 0;
	uint64_t prev = 0, t;

	if (pacer_new(segs, n, arr, seed, k, w, &p))
		return -2;
	while ((t = pacer_next(p)) != UINT64_MAX) {
		if (t < prev || cnt >= cap) {
			pacer_free(p);
			return -1;
		}
		out[cnt++] = prev = t;
	}
	for (int i = 0; i < 3; i++)
		if (pacer_next(p) != UINT64_MAX)
			cnt = -1;
	pacer_free(p);
	return cnt;
}

/* Sends due before t in a sorted schedule. */
static long lower_bound(const uint64_t *v, long n, uint64_t t)
{
	long lo = 0, hi = n;

	while (lo < hi) {
		long mid = lo + (hi - lo) / 2;
		if (v[mid] < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static uint64_t *sched, *part;

/* Counts in random windows (and in windows at every segment boundary) match
 * the integral within 1. */
static void check_windows(const char *name, const struct rate_segment *segs, size_t n, long cnt)
{
	uint64_t end = segs[n - 1].t1 + S;
	double worst = 0;
	int bad = 0;

	for (int i = 0; i < 20000; i++) {
		uint64_t a, b;
		long got;
		long double want;

		if (i < 2 * (int)n) {
			a = i < (int)n ? segs[i].t0 : 0;
			b = i < (int)n ? segs[i].t1 : segs[i - n].t1;
		} else {
			a = rnd() % end;
			b = rnd() % end;
			if (i % 4 == 0)
				b = a + rnd() % (S / 10);
			if (a > b) {
				uint64_t x = a;
				a = b;
				b = x;
			}
		}
		got = lower_bound(sched, cnt, b) - lower_bound(sched, cnt, a);
		want = ref_integral(segs, n, b) - ref_integral(segs, n, a);
		if (fabsl(got - want) > worst)
			worst = (double)fabsl(got - want);
		if (fabsl(got - want) > 1.0001L) {
			if (bad++ < 3)
				diag("%s: [%llu, %llu) has %ld sends, integral %.4Lf", name,
				     (unsigned long long)a, (unsigned long long)b, got, want);
		}
	}
	ok(!bad, "%s: sends in 20000 windows = integral +-1 (worst %.4f)", name, worst);
}

/* Worker k of W gets exactly global requests k, k+W, ... */
static void check_split(const char *name, const struct rate_segment *segs, size_t n,
			enum pacer_arrival arr, uint64_t seed, long cnt)
{
	static const unsigned ws[] = {2, 3, 7};

	for (size_t wi = 0; wi < NSEGS(ws); wi++) {
		unsigned w = ws[wi];
		long total = 0;
		int bad = 0;

		for (unsigned k = 0; k < w; k++) {
			long got = run(segs, n, arr, seed, k, w, part, MAXN);

			if (got < 0) {
				bad++;
				continue;
			}
			total += got;
			for (long j = 0; j < got; j++)
				if (part[j] != sched[k + j * w])
					bad++;
			if (got != (cnt - (long)k + (long)w - 1) / (long)w)
				bad++;
		}
		ok(!bad && total == cnt, "%s: %u workers give exactly the 1-worker schedule (%ld/%ld)",
		   name, w, total, cnt);
	}
}

static long schedule(const char *name, const struct rate_segment *segs, size_t n,
		     enum pacer_arrival arr, uint64_t seed)
{
	long cnt = run(segs, n, arr, seed, 0, 1, sched, MAXN);

	ok(cnt >= 0, "%s: monotonic, ends, stays ended (%ld sends)", name, cnt);
	return cnt < 0 ? 0 : cnt;
}

static void test_constant(void)
{
	struct rate_segment segs[] = {{0, 10 * S, 1000, 1000}};
	long cnt = schedule("constant", segs, 1, PACER_UNIFORM, 0);
	int bad = 0;

	is_int(cnt, 10000, "constant: 1000/s for 10 s is 10000 sends");
	for (long i = 0; i < cnt; i++)
		if (sched[i] != (uint64_t)(i + 1) * MS)
			bad++;
	ok(!bad, "constant: request i is due at exactly (i+1) ms");
	ok(cnt && sched[cnt - 1] == 10 * S, "constant: the last send is at the schedule's end");
	check_windows("constant", segs, 1, cnt);
	check_split("constant", segs, 1, PACER_UNIFORM, 0, cnt);
}

static void test_ramps(void)
{
	struct rate_segment up_hold_down[] = {
		{0, 2 * S, 0, 10000},
		{2 * S, 5 * S, 10000, 10000},
		{5 * S, 7 * S, 10000, 0},
	};
	struct rate_segment slow[] = {{0, 10 * S, 0, 10}};
	struct rate_segment stages[] = {
		{0, S, 500, 500},
		{S, 2 * S, 0, 0},                     /* nothing due */
		{2 * S, 3 * S, 0, 2000},              /* ramp from 0 */
		{3 * S, 3500 * MS, 3000, 3000},       /* jump */
		{3500 * MS, 3500 * MS, 7, 7},         /* zero length */
		{3500 * MS, 5 * S, 3000, 1000},       /* ramp down */
		{5 * S, 5 * S + 1, 0, 0},
	};
	struct rate_segment frac[] = {{0, S, 0, 999}};
	struct rate_segment late[] = {{0, 3600 * S, 0, 0}, {3600 * S, 3602 * S, 100000, 100000}};
	struct rate_segment fast[] = {{0, 5 * S, 200000, 200000}};
	long cnt;
	int bad;

	cnt = schedule("up-hold-down", up_hold_down, 3, PACER_UNIFORM, 0);
	is_int(cnt, 50000, "up-hold-down: 10000 + 30000 + 10000 sends");
	ok(cnt == 50000 && sched[9999] == 2 * S && sched[39999] == 5 * S,
	   "up-hold-down: the 10000th and 40000th sends fall exactly on stage ends");
	check_windows("up-hold-down", up_hold_down, 3, cnt);
	check_split("up-hold-down", up_hold_down, 3, PACER_UNIFORM, 0, cnt);

	/* rate t/s: integral t^2/2 reaches i+1 at sqrt(2(i+1)) s */
	cnt = schedule("slow ramp from 0", slow, 1, PACER_UNIFORM, 0);
	is_int(cnt, 50, "slow ramp from 0: 50 sends");
	bad = 0;
	for (long i = 0; i < cnt; i++)
		if (llabs((long long)sched[i] - llround(sqrt(2.0 * (i + 1)) * 1e9)) > 1)
			bad++;
	ok(!bad, "slow ramp from 0: send i at sqrt(2(i+1)) s");
	check_windows("slow ramp from 0", slow, 1, cnt);

	cnt = schedule("stages", stages, NSEGS(stages), PACER_UNIFORM, 0);
	is_int(cnt, 6000, "stages: 500 + 0 + 1000 + 1500 + 3000 sends");
	bad = 0;
	for (long i = 0; i < cnt; i++)
		if (sched[i] > S && sched[i] <= 2 * S)
			bad++;
	ok(!bad, "stages: nothing due while the rate is 0");
	ok(cnt == 6000 && sched[499] == S && sched[500] > 2 * S &&
		   sched[500] == 2 * S + (uint64_t)llround(sqrt(1.0 / 1000) * 1e9) &&
		   sched[cnt - 1] == 5 * S,
	   "stages: ramp from 0 after a pause starts at sqrt(2/k); the last send ends it");
	check_windows("stages", stages, NSEGS(stages), cnt);
	check_split("stages", stages, NSEGS(stages), PACER_UNIFORM, 0, cnt);

	cnt = schedule("fractional total", frac, 1, PACER_UNIFORM, 0);
	is_int(cnt, 499, "fractional total: an integral of 499.5 gives 499 sends");

	cnt = schedule("after an hour", late, 2, PACER_UNIFORM, 0);
	bad = 0;
	for (long i = 0; i < cnt; i++)
		if (sched[i] != 3600 * S + (uint64_t)(i + 1) * 10000)
			bad++;
	ok(cnt == 200000 && !bad, "after an hour: ns-exact times at 100k/s (%ld sends)", cnt);

	cnt = schedule("200k/s", fast, 1, PACER_UNIFORM, 0);
	is_int(cnt, 1000000, "200k/s for 5 s: 1e6 sends");
	check_windows("200k/s", fast, 1, cnt);
}

static void test_empty(void)
{
	struct rate_segment zero[] = {{0, 10 * S, 0, 0}};
	struct pacer *p;

	ok(pacer_new(NULL, 0, PACER_UNIFORM, 0, 0, 1, &p) == 0 && pacer_next(p) == UINT64_MAX,
	   "no segments: the schedule is empty");
	pacer_free(p);
	ok(pacer_new(zero, 1, PACER_POISSON, 1, 0, 1, &p) == 0 && pacer_next(p) == UINT64_MAX,
	   "rate 0 throughout: no sends (poisson)");
	pacer_free(p);
	ok(pacer_new(zero, 1, PACER_UNIFORM, 1, 2, 3, &p) == 0 && pacer_next(p) == UINT64_MAX,
	   "rate 0 throughout: no sends (uniform)");
	pacer_free(p);
	pacer_free(NULL);
}

static void test_poisson(void)
{
	struct rate_segment flat[] = {{0, 100 * S, 10000, 10000}};
	struct rate_segment tri[] = {{0, 10 * S, 0, 20000}, {10 * S, 20 * S, 20000, 0}};
	struct rate_segment gap[] = {{0, S, 5000, 5000}, {S, 2 * S, 0, 0}, {2 * S, 3 * S, 5000, 5000}};
	long cnt, nw = 10000, longer = 0;
	double sum = 0, sq = 0, mean, var, frac;
	int bad = 0, same = 1;

	cnt = schedule("poisson flat", flat, 1, PACER_POISSON, 42);
	/* N ~ Poisson(1e6): sd 1000 */
	ok(labs(cnt - 1000000) < 4000, "poisson flat: %ld sends for an expected 1e6 +- 4 sd", cnt);
	for (long w = 0; w < nw; w++) {
		long c = lower_bound(sched, cnt, (uint64_t)(w + 1) * 10 * MS) -
			 lower_bound(sched, cnt, (uint64_t)w * 10 * MS);
		sum += c;
		sq += (double)c * c;
	}
	mean = sum / nw;
	var = (sq - sum * sum / nw) / (nw - 1);
	/* counts per 10 ms ~ Poisson(100): sd of the mean 0.1, of the sample
	 * variance about 100 * sqrt(2 / n) = 1.41 */
	ok(fabs(mean - 100) < 0.4, "poisson flat: mean count per 10 ms %.3f = 100 +- 4 sd", mean);
	ok(fabs(var - 100) < 5.7, "poisson flat: variance of counts %.3f = 100 +- 4 sd", var);
	for (long i = 1; i < cnt; i++)
		if (sched[i] - sched[i - 1] > 100000)
			longer++;
	frac = (double)longer / (cnt - 1);
	ok(fabs(frac - exp(-1)) < 4 * sqrt(exp(-1) * (1 - exp(-1)) / cnt),
	   "poisson flat: %.4f of gaps exceed the mean (exponential: 0.3679)", frac);
	cnt = schedule("poisson tri seed 42", tri, 2, PACER_POISSON, 42);
	check_split("poisson tri seed 42", tri, 2, PACER_POISSON, 42, cnt);

	/* Ramped intensity: standardised counts in 200 windows of 100 ms. */
	cnt = schedule("poisson tri", tri, 2, PACER_POISSON, 7);
	ok(labs(cnt - 200000) < 4 * 448, "poisson tri: %ld sends for an expected 2e5 +- 4 sd", cnt);
	sum = sq = 0;
	for (long w = 0; w < 200; w++) {
		uint64_t a = (uint64_t)w * 100 * MS, b = a + 100 * MS;
		double want = (double)(ref_integral(tri, 2, b) - ref_integral(tri, 2, a));
		double z = (lower_bound(sched, cnt, b) - lower_bound(sched, cnt, a) - want) / sqrt(want);
		sum += z;
		sq += z * z;
	}
	mean = sum / 200;
	var = (sq - sum * sum / 200) / 199;
	ok(fabs(mean) < 4 / sqrt(200.0), "poisson tri: standardised counts have mean %.3f ~ 0", mean);
	ok(fabs(var - 1) < 4 * sqrt(2 / 199.0), "poisson tri: and variance %.3f ~ 1", var);

	cnt = schedule("poisson gap", gap, 3, PACER_POISSON, 3);
	for (long i = 0; i < cnt; i++)
		if (sched[i] > S && sched[i] < 2 * S)
			bad++;
	ok(!bad && cnt > 0 && sched[cnt - 1] <= 3 * S, "poisson gap: none while the rate is 0, none after the end");

	/* Determinism: the same seed gives the same times, another seed others. */
	cnt = run(tri, 2, PACER_POISSON, 99, 0, 1, sched, MAXN);
	if (run(tri, 2, PACER_POISSON, 99, 0, 1, part, MAXN) != cnt)
		same = 0;
	else
		same = !memcmp(sched, part, cnt * sizeof(*sched));
	ok(same, "poisson: same seed, same schedule");
	ok(run(tri, 2, PACER_POISSON, 100, 0, 1, part, MAXN) >= 0 && memcmp(sched, part, 64 * sizeof(*sched)),
	   "poisson: another seed, another schedule");
}

static void test_invalid(void)
{
	struct rate_segment good[] = {{0, S, 1, 1}, {S, 2 * S, 1, 1}};
	struct rate_segment bad_start[] = {{1, S, 1, 1}};
	struct rate_segment gap[] = {{0, S, 1, 1}, {S + 1, 2 * S, 1, 1}};
	struct rate_segment overlap[] = {{0, S, 1, 1}, {S - 1, 2 * S, 1, 1}};
	struct rate_segment backwards[] = {{0, S, 1, 1}, {S, S - 1, 1, 1}};
	struct rate_segment neg[] = {{0, S, 1, -1}};
	struct rate_segment neg0[] = {{0, S, -1, 1}};
	struct rate_segment nan_rate[] = {{0, S, NAN, 1}};
	struct rate_segment inf_rate[] = {{0, S, 1, INFINITY}};
	struct rate_segment huge[] = {{0, UINT64_MAX, 1e9, 1e9}};
	struct pacer *p = (struct pacer *)&p;

	is_int(pacer_new(good, 2, PACER_UNIFORM, 0, 0, 1, NULL), -EINVAL, "NULL out: -EINVAL");
	is_int(pacer_new(good, 2, PACER_UNIFORM, 0, 1, 1, &p), -EINVAL, "worker_index == worker_count: -EINVAL");
	is_int(pacer_new(good, 2, PACER_UNIFORM, 0, 0, 0, &p), -EINVAL, "0 workers: -EINVAL");
	is_int(pacer_new(good, 2, (enum pacer_arrival)7, 0, 0, 1, &p), -EINVAL, "unknown arrival: -EINVAL");
	is_int(pacer_new(NULL, 2, PACER_UNIFORM, 0, 0, 1, &p), -EINVAL, "NULL segments: -EINVAL");
	is_int(pacer_new(bad_start, 1, PACER_UNIFORM, 0, 0, 1, &p), -EINVAL, "first t0 not 0: -EINVAL");
	is_int(pacer_new(gap, 2, PACER_UNIFORM, 0, 0, 1, &p), -EINVAL, "gap: -EINVAL");
	is_int(pacer_new(overlap, 2, PACER_UNIFORM, 0, 0, 1, &p), -EINVAL, "overlap: -EINVAL");
	is_int(pacer_new(backwards, 2, PACER_UNIFORM, 0, 0, 1, &p), -EINVAL, "t1 < t0: -EINVAL");
	is_int(pacer_new(neg, 1, PACER_UNIFORM, 0, 0, 1, &p), -EINVAL, "negative end rate: -EINVAL");
	is_int(pacer_new(neg0, 1, PACER_UNIFORM, 0, 0, 1, &p), -EINVAL, "negative start rate: -EINVAL");
	is_int(pacer_new(nan_rate, 1, PACER_POISSON, 0, 0, 1, &p), -EINVAL, "NaN rate: -EINVAL");
	is_int(pacer_new(inf_rate, 1, PACER_UNIFORM, 0, 0, 1, &p), -EINVAL, "infinite rate: -EINVAL");
	is_int(pacer_new(huge, 1, PACER_UNIFORM, 0, 0, 1, &p), -EINVAL, "more than 2^53 requests: -EINVAL");
	ok(p == (struct pacer *)&p, "a failed pacer_new leaves *out alone");
}

static void test_eval(void)
{
	struct rate_segment r[] = {
		{0, 2 * S, 0, 10000},
		{2 * S, 5 * S, 10000, 10000},
		{5 * S, 5 * S, 1, 1},
		{5 * S, 7 * S, 3000, 0},
	};
	struct rate_segment c[] = {{0, S, 1000, 1000}};
	struct rate_segment frac[] = {{0, S, 0, 999}};

	ok(pacer_rate_at(r, 4, 0) == 0, "rate_at: start of a ramp from 0");
	ok(pacer_rate_at(r, 4, S) == 5000, "rate_at: half way up");
	ok(pacer_rate_at(r, 4, 2 * S) == 10000, "rate_at: a boundary takes the later segment");
	ok(pacer_rate_at(r, 4, 5 * S) == 3000, "rate_at: a zero-length segment is never current");
	ok(pacer_rate_at(r, 4, 6 * S) == 1500, "rate_at: half way down");
	ok(pacer_rate_at(r, 4, 7 * S) == 0 && pacer_rate_at(r, 4, UINT64_MAX) == 0,
	   "rate_at: 0 after the end");
	ok(pacer_rate_at(NULL, 0, 5) == 0, "rate_at: no segments, rate 0");

	ok(pacer_integral(c, 1, 0) == 0, "integral: 0 at the start");
	ok(pacer_integral(c, 1, S / 2) == 500, "integral: 500 after 0.5 s at 1000/s");
	ok(pacer_integral(c, 1, S / 2 - 1) == 499, "integral: floor (499 just before)");
	ok(pacer_integral(c, 1, 5 * S) == 1000, "integral: the whole schedule after its end");
	ok(pacer_integral(r, 4, S) == 2500, "integral: ramp from 0 (2500 after 1 s)");
	ok(pacer_integral(r, 4, 6 * S) == 10000 + 30000 + 2250, "integral: across stages");
	ok(pacer_integral(frac, 1, S) == 499, "integral: 499.5 floors to 499");
}

static bool same_segs(const struct rate_segment *got, size_t n, const struct rate_segment *want,
		      size_t nw)
{
	if (n != nw)
		return false;
	for (size_t i = 0; i < n; i++)
		if (got[i].t0 != want[i].t0 || got[i].t1 != want[i].t1 || got[i].r0 != want[i].r0 ||
		    got[i].r1 != want[i].r1)
			return false;
	return true;
}

/* surge report's merge of runs overlaid from their starts: their schedules
 * add as functions of time, whatever their lengths and shapes. */
static void test_add(void)
{
	struct rate_segment m1[] = {{0, 2 * S, 1000, 1000}};
	struct rate_segment m2[] = {{0, 3 * S, 500, 500}};
	struct rate_segment m12[] = {{0, 2 * S, 1500, 1500}, {2 * S, 3 * S, 500, 500}};
	struct rate_segment up[] = {{0, 2 * S, 0, 1000}};
	struct rate_segment steps[] = {{0, S, 100, 100}, {S, 3 * S, 100, 300}};
	struct rate_segment both[] = {
		{0, S, 100, 600}, {S, 2 * S, 600, 1200}, {2 * S, 3 * S, 200, 300}};
	struct rate_segment jump[] = {{0, S, 10, 10}, {S, S, 20, 20}, {S, 2 * S, 30, 30}};
	struct rate_segment jump2[] = {{0, S, 20, 20}, {S, S, 40, 40}, {S, 2 * S, 60, 60}};
	struct rate_segment *out;
	size_t n;

	ok(pacer_segments_add(m1, 1, m2, 1, &out, &n) == 0 && same_segs(out, n, m12, 2),
	   "add: 1000/s for 2 s + 500/s for 3 s = 1500/s to 2 s, then 500/s");
	ok(pacer_integral(out, n, 10 * S) == 3500, "add: 3500 requests, as the two runs intended");
	free(out);
	ok(pacer_segments_add(m2, 1, m1, 1, &out, &n) == 0 && same_segs(out, n, m12, 2),
	   "add: either order");
	free(out);
	ok(pacer_segments_add(up, 1, steps, 2, &out, &n) == 0 && same_segs(out, n, both, 3),
	   "add: ramps cut at every boundary of either, their values added");
	ok(pacer_integral(out, n, 10 * S) == 1000 + 500, "add: the integrals add");
	free(out);
	ok(pacer_segments_add(jump, 3, jump, 3, &out, &n) == 0 && same_segs(out, n, jump2, 3),
	   "add: the same boundaries add segment by segment, a zero-length one kept");
	free(out);
	ok(pacer_segments_add(NULL, 0, steps, 2, &out, &n) == 0 && same_segs(out, n, steps, 2),
	   "add: to nothing, the schedule as it is");
	free(out);
	ok(pacer_segments_add(NULL, 0, NULL, 0, &out, &n) == 0 && !out && n == 0,
	   "add: nothing to nothing");
}

int main(void)
{
	sched = malloc(MAXN * sizeof(*sched));
	part = malloc(MAXN * sizeof(*part));
	if (!sched || !part)
		return 1;
	test_constant();
	test_ramps();
	test_empty();
	test_poisson();
	test_invalid();
	test_eval();
	test_add();
	free(sched);
	free(part);
	return tap_done();
}
