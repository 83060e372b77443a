/*
 * pacer: turns a piecewise-linear rate into intended send times.
 *
 * Both arrival kinds walk the same "integral domain": the cumulative integral
 * of the rate, cum[s] = requests due before segment s. A uniform run puts
 * global request i at target i+1; a Poisson run puts event j at the sum of
 * j+1 unit-mean exponentials (time rescaling: a unit-rate Poisson process
 * mapped through the inverse integral has exactly the wanted intensity).
 * Each target is inverted by solving one quadratic inside its segment.
 *
 * Global request i's time depends only on i (and, for Poisson, the seed),
 * never on which worker asks or in what order, so W workers each keeping the
 * indices congruent to their own index produce exactly the single-worker
 * schedule between them.
 */
#include "pacer.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "splitmix.h"

/* Targets are compared as doubles: past 2^53 consecutive request indices are
 * no longer distinct, so a schedule that long is refused. */
#define PACER_MAX_TOTAL 9007199254740992.0

struct pacer {
	enum pacer_arrival arrival;
	unsigned index, count;
	bool done;
	bool started;      /* Poisson: the first own event has been drawn */
	size_t nsegs;
	size_t cur;        /* segment of the last target; targets never decrease */
	uint64_t next_i;   /* uniform: next global index this worker takes */
	double e;          /* Poisson: integral-domain position of the last event */
	uint64_t last;     /* last time returned, to keep the output monotonic */
	uint64_t rng[4];   /* xoshiro256** */
	struct rate_segment *segs;
	double *cum;       /* nsegs + 1 entries; cum[nsegs] is the whole schedule */
};

/* Requests in a whole segment. Multiplying before dividing keeps integer
 * rates over whole-ns durations exact (1000/s for 0.1 s is exactly 100), so
 * the schedule's end lands where a user computes it. */
static double seg_integral(const struct rate_segment *s)
{
	return (s->r0 + s->r1) * (double)(s->t1 - s->t0) / 2e9;
}

static double seg_value(const struct rate_segment *s, uint64_t t)
{
	if (s->t1 == s->t0 || s->r0 == s->r1)
		return s->r0;
	return s->r0 + (s->r1 - s->r0) * ((double)(t - s->t0) / (double)(s->t1 - s->t0));
}

static int check_segments(const struct rate_segment *segs, size_t nsegs)
{
	double sum = 0;

	if (nsegs && !segs)
		return -EINVAL;
	for (size_t i = 0; i < nsegs; i++) {
		const struct rate_segment *s = &segs[i];
		uint64_t want_t0 = i ? segs[i - 1].t1 : 0;

		if (s->t0 != want_t0 || s->t1 < s->t0)
			return -EINVAL;
		/* !(x >= 0) also catches NaN */
		if (!(s->r0 >= 0) || !(s->r1 >= 0) || isinf(s->r0) || isinf(s->r1))
			return -EINVAL;
		sum += seg_integral(s);
	}
	if (!(sum < PACER_MAX_TOTAL))
		return -EINVAL;
	return 0;
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t xoshiro_next(uint64_t *s)
{
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* Unit-mean exponential. u is in [0, 1) so 1-u is never 0 and log1p stays finite. */
static double exp_draw(uint64_t *s)
{
	double u = (double)(xoshiro_next(s) >> 11) * 0x1p-53;
	return -log1p(-u);
}

int pacer_new(const struct rate_segment *segs, size_t nsegs, enum pacer_arrival arrival,
	      uint64_t seed, unsigned worker_index, unsigned worker_count, struct pacer **out)
{
	struct pacer *p;
	uint64_t sm = seed;
	int rc;

	if (!out || worker_count == 0 || worker_index >= worker_count)
		return -EINVAL;
	if (arrival != PACER_UNIFORM && arrival != PACER_POISSON)
		return -EINVAL;
	rc = check_segments(segs, nsegs);
	if (rc)
		return rc;

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->segs = malloc((nsegs ? nsegs : 1) * sizeof(*segs));
	p->cum = malloc((nsegs + 1) * sizeof(double));
	if (!p->segs || !p->cum) {
		pacer_free(p);
		return -ENOMEM;
	}
	if (nsegs)
		memcpy(p->segs, segs, nsegs * sizeof(*segs));
	p->cum[0] = 0;
	for (size_t i = 0; i < nsegs; i++)
		p->cum[i + 1] = p->cum[i] + seg_integral(&segs[i]);

	p->arrival = arrival;
	p->index = worker_index;
	p->count = worker_count;
	p->nsegs = nsegs;
	p->next_i = worker_index;
	for (int i = 0; i < 4; i++)
		p->rng[i] = splitmix64(&sm);
	*out = p;
	return 0;
}

void pacer_free(struct pacer *p)
{
	if (!p)
		return;
	free(p->segs);
	free(p->cum);
	free(p);
}

/*
 * Time at which the integral reaches target (0 < target <= cum[nsegs]).
 * Inside a segment with rate r0 + k*tau the integral is r0*tau + k*tau^2/2;
 * the root is written 2a / (r0 + sqrt(r0^2 + 2ka)), which never subtracts
 * nearly equal numbers (the textbook form loses every digit when k is tiny)
 * and covers k = 0, ramps from 0 (r0 = 0, tau = sqrt(2a/k)) and ramps down
 * to 0 (the discriminant reaches 0 exactly at the segment's end).
 */
static uint64_t invert(struct pacer *p, double target)
{
	const struct rate_segment *s;
	double a, dt, k, disc, den, tau_ns;
	uint64_t span, off;

	/* cum[nsegs] >= target stops this; zero-rate segments (cum unchanged)
	 * are skipped because a target strictly above cum[cur] is needed. */
	while (p->cum[p->cur + 1] < target)
		p->cur++;
	s = &p->segs[p->cur];
	a = target - p->cum[p->cur];
	if (a < 0)
		a = 0;
	dt = (double)(s->t1 - s->t0) / 1e9;
	k = (s->r1 - s->r0) / dt;
	disc = s->r0 * s->r0 + 2 * k * a;
	if (disc < 0)
		disc = 0;
	den = s->r0 + sqrt(disc);
	tau_ns = den > 0 ? 2 * a / den * 1e9 : 0;

	/* Nearest ns, kept inside the segment; the comparison is done in
	 * double first so the conversion never overflows. */
	span = s->t1 - s->t0;
	tau_ns = floor(tau_ns + 0.5);
	if (tau_ns < (double)span) {
		off = (uint64_t)tau_ns;
		if (off > span)
			off = span;
	} else {
		off = span;
	}
	return s->t0 + off;
}

uint64_t pacer_next(struct pacer *p)
{
	double target;
	uint64_t t;

	if (p->done)
		return UINT64_MAX;
	if (p->arrival == PACER_UNIFORM) {
		target = (double)p->next_i + 1;
		p->next_i += p->count;
	} else {
		/* Every worker draws the whole global sequence and keeps its own
		 * events: W draws per own request, in exchange for a schedule that
		 * is identical however it is split. */
		unsigned draws = p->started ? p->count : p->index + 1;

		p->started = true;
		for (unsigned i = 0; i < draws; i++)
			p->e += exp_draw(p->rng);
		target = p->e;
	}
	if (target > p->cum[p->nsegs] || p->nsegs == 0) {
		p->done = true;
		return UINT64_MAX;
	}
	t = invert(p, target);
	if (t == UINT64_MAX)
		t = UINT64_MAX - 1;
	/* Within a segment the root is monotonic in exact arithmetic; this
	 * guards against a rounding wobble ever reordering two sends. */
	if (t < p->last)
		t = p->last;
	p->last = t;
	return t;
}

double pacer_integral(const struct rate_segment *segs, size_t nsegs, uint64_t t)
{
	double sum = 0;

	for (size_t i = 0; i < nsegs; i++) {
		const struct rate_segment *s = &segs[i];

		if (t >= s->t1) {
			sum += seg_integral(s);
			continue;
		}
		if (t > s->t0)
			sum += (s->r0 + seg_value(s, t)) * (double)(t - s->t0) / 2e9;
		break;
	}
	/* Request i is due when the integral reaches i+1: floor counts the
	 * requests due by t. */
	return floor(sum);
}

const struct rate_segment *pacer_segment_at(const struct rate_segment *segs, size_t nsegs,
					    uint64_t t)
{
	size_t lo = 0, hi = nsegs;

	if (nsegs == 0 || t >= segs[nsegs - 1].t1)
		return NULL;
	/* First segment with t1 > t: it holds t (zero-length ones never do). */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (segs[mid].t1 > t)
			hi = mid;
		else
			lo = mid + 1;
	}
	return &segs[lo];
}

double pacer_rate_at(const struct rate_segment *segs, size_t nsegs, uint64_t t)
{
	const struct rate_segment *s = pacer_segment_at(segs, nsegs, t);

	return s ? seg_value(s, t) : 0;
}

/* The schedule's rate just inside [x, y), a span no boundary of it cuts:
 * its values at x and at y, exact at the segment's own ends. */
static void span_rates(const struct rate_segment *segs, size_t nsegs, uint64_t x, uint64_t y,
		       double *from, double *to)
{
	const struct rate_segment *s = pacer_segment_at(segs, nsegs, x);

	if (!s || s->t0 > x || s->t1 < y)
		return; /* past its end (or a gap a hostile log left): 0 */
	*from += x == s->t0 ? s->r0 : seg_value(s, x);
	*to += y == s->t1 ? s->r1 : seg_value(s, y);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int pacer_segments_add(const struct rate_segment *a, size_t na, const struct rate_segment *b,
		       size_t nb, struct rate_segment **out, size_t *nout)
{
	bool same = na == nb;
	size_t n = 0;

	*out = NULL;
	*nout = 0;
	for (size_t i = 0; same && i < na; i++)
		same = a[i].t0 == b[i].t0 && a[i].t1 == b[i].t1;
	if (same || !na || !nb) {
		/* Segment by segment: zero-length ones (a jump) are kept. */
		const struct rate_segment *big = na >= nb ? a : b;
		size_t nbig = na >= nb ? na : nb;
		if (!nbig)
			return 0;
		if (!(*out = malloc(nbig * sizeof(**out))))
			return -ENOMEM;
		memcpy(*out, big, nbig * sizeof(**out));
		for (size_t i = 0; same && i < na; i++) {
			(*out)[i].r0 = a[i].r0 + b[i].r0;
			(*out)[i].r1 = a[i].r1 + b[i].r1;
		}
		*nout = nbig;
		return 0;
	}
	uint64_t *at = malloc(2 * (na + nb) * sizeof(*at));
	if (!at)
		return -ENOMEM;
	for (size_t i = 0; i < na; i++) {
		at[n++] = a[i].t0;
		at[n++] = a[i].t1;
	}
	for (size_t i = 0; i < nb; i++) {
		at[n++] = b[i].t0;
		at[n++] = b[i].t1;
	}
	qsort(at, n, sizeof(*at), cmp_u64);
	size_t nat = 0;
	for (size_t i = 0; i < n; i++)
		if (!nat || at[i] != at[nat - 1])
			at[nat++] = at[i];
	struct rate_segment *sum = nat > 1 ? malloc((nat - 1) * sizeof(*sum)) : NULL;
	if (nat > 1 && !sum) {
		free(at);
		return -ENOMEM;
	}
	for (size_t i = 0; i + 1 < nat; i++) {
		struct rate_segment *s = &sum[i];
		*s = (struct rate_segment){ at[i], at[i + 1], 0, 0 };
		span_rates(a, na, s->t0, s->t1, &s->r0, &s->r1);
		span_rates(b, nb, s->t0, s->t1, &s->r0, &s->r1);
	}
	free(at);
	*out = sum;
	*nout = nat > 1 ? nat - 1 : 0;
	return 0;
}
