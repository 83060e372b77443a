/* stats_add is all or nothing: the coordinator merges each worker's second
 * into the run's totals, and a merge that ran out of memory halfway would
 * leave counts that disagree with their histograms (completed requests with
 * no latency). Every allocation it makes is failed in turn (the allocator is
 * wrapped at link time, see the Makefile): each either leaves dst exactly
 * as it was or gives the whole sum. stats_decode refuses what a worker could
 * not have sent (a cut inside the second metric's name once decoded as an
 * empty second: 0 from the metric before it). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "stats.h"
#include "tap.h"

/* Allocations left before one fails; negative: none fails. */
static long allocs_left = -1;

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);

static int fail_now(void)
{
	if (allocs_left < 0)
		return 0;
	if (allocs_left == 0)
		return 1;
	allocs_left--;
	return 0;
}

void *__wrap_malloc(size_t n) { return fail_now() ? NULL : __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t m) { return fail_now() ? NULL : __real_calloc(n, m); }
void *__wrap_realloc(void *p, size_t n) { return fail_now() ? NULL : __real_realloc(p, n); }

static void fill(struct stats *s, int64_t base, const char *counter, const char *metric,
		 uint32_t nsrc)
{
	s->counter[ST_SENT] = base + 10;
	s->counter[ST_COMPLETED] = base + 9;
	s->error[ERR_RESET] = 1;
	s->gauge[GA_CONNS_OPEN] = 3;
	hist_record(s->hist[HI_LATENCY], base * 1000 + 250000);
	hist_record(s->hist[HI_SERVICE], base * 1000 + 200000);
	int id = stats_counter_id(s, counter); /* before s->ncounter: it may move */
	s->ncounter[id].value += base + 1;
	id = stats_hist_id(s, metric);
	hist_record(s->nhist[id].h, 5000 + base);
	if (nsrc) {
		stats_sources_init(s, nsrc);
		s->src_conns[nsrc - 1] += 2;
		s->src_reqs[0] += base;
	}
}

/* The wire form: equal bytes, equal stats. */
static int encoded_equal(const struct stats *a, const struct buf *want)
{
	struct buf got = {0};
	int same = stats_encode(a, &got) == 0 && got.len == want->len &&
		   memcmp(buf_start(&got), buf_start(want), got.len) == 0;
	buf_free(&got);
	return same;
}

/* The system's errors behind a failed socket, in the classes a user reads. */
static void errno_classes(void)
{
	static const struct {
		int e;
		bool connecting;
		enum stat_error cls;
	} cases[] = {
		{ ECONNREFUSED, true, ERR_CONNECT_REFUSED }, { ETIMEDOUT, true, ERR_CONNECT_TIMEOUT },
		{ ETIMEDOUT, false, ERR_RESET },             { EADDRNOTAVAIL, true, ERR_ADDR_NOT_AVAILABLE },
		{ ECONNRESET, false, ERR_RESET },            { EPIPE, false, ERR_RESET },
		{ EHOSTUNREACH, true, ERR_UNREACHABLE },     { ENETUNREACH, true, ERR_UNREACHABLE },
		{ EHOSTUNREACH, false, ERR_UNREACHABLE },    { EINVAL, true, ERR_OTHER },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ok(stats_errno_class(cases[i].e, cases[i].connecting) == cases[i].cls,
		   "%s%s is %s", strerrorname_np(cases[i].e), cases[i].connecting ? " (connecting)" : "",
		   stats_error_key(cases[i].cls));
	ok(strcmp(stats_error_key(ERR_UNREACHABLE), "unreachable") == 0, "its JSON key");
}

int main(void)
{
	errno_classes();
	struct stats src, ref;
	struct buf before = {0}, after = {0};

	/* What dst holds, and what the whole add gives. */
	stats_init(&src);
	fill(&src, 7, "dns.rcode.NOERROR", "rtsp.first_frame", 4);
	fill(&src, 3, "http.status.200", "tls.resume", 0);
	stats_init(&ref);
	fill(&ref, 1, "dns.rcode.NOERROR", "other", 0);
	ok(stats_encode(&ref, &before) == 0, "dst's wire form before");
	ok(stats_add(&ref, &src) == 0, "the add without faults");
	is_int(ref.counter[ST_COMPLETED], 10 + 12, "completed adds");
	is_int(hist_total(ref.hist[HI_LATENCY]), 3, "latency adds");
	is_int(stats_counter_by_name(&ref, "dns.rcode.NOERROR"), 2 + 8, "a shared name adds");
	is_int(stats_counter_by_name(&ref, "http.status.200"), 4, "a new name comes over");
	is_int(hist_total(stats_hist_by_name(&ref, "tls.resume")), 1, "a new metric comes over");
	is_int(ref.nsrc, 4, "per-source counts come over");
	ok(stats_encode(&ref, &after) == 0, "the sum's wire form");

	int partial = 0, whole = 0;
	long k;
	for (k = 0; k < 64; k++) {
		struct stats dst;
		if (stats_decode(buf_start(&before), before.len, &dst) < 0) {
			ok(0, "decode dst");
			break;
		}
		allocs_left = k;
		int rc = stats_add(&dst, &src);
		int untouched = allocs_left > 0; /* the add needed fewer than k */
		allocs_left = -1;
		if (rc == 0) {
			whole += encoded_equal(&dst, &after);
		} else {
			if (rc != -ENOMEM || !encoded_equal(&dst, &before))
				partial++;
		}
		stats_free(&dst);
		if (rc == 0 && untouched)
			break;
	}
	ok(k > 2 && k < 64, "the add's allocations were each failed in turn (%ld)", k);
	is_int(partial, 0, "a failed add leaves dst exactly as it was, and says -ENOMEM");
	ok(whole >= 1, "an add that got its memory gives the whole sum");

	/* What no worker sends: the coordinator counts it, never merges it. */
	struct stats junk;
	struct buf enc = {0};
	stats_encode(&src, &enc);
	int refused = 0, cuts = 0;
	for (size_t cut = 0; cut < enc.len; cut++, cuts++) {
		int rc = stats_decode(buf_start(&enc), cut, &junk);
		if (rc == -EINVAL)
			refused++;
		else
			diag("cut at %zu of %zu: %d", cut, (size_t)enc.len, rc);
		if (rc == 0)
			stats_free(&junk);
	}
	is_int(refused, cuts, "every cut-short wire form is -EINVAL");
	/* Lua may count down (surge.count(name, -1)); the engine never does. */
	struct stats neg;
	stats_init(&neg);
	int id = stats_counter_id(&neg, "sessions.active");
	neg.ncounter[id].value = -3;
	stats_encode(&neg, &enc);
	ok(stats_decode(buf_start(&enc), enc.len, &junk) == 0 &&
		   stats_counter_by_name(&junk, "sessions.active") == -3,
	   "a named counter Lua counted down decodes");
	stats_free(&junk);
	neg.counter[ST_COMPLETED] = -1;
	stats_encode(&neg, &enc);
	is_int(stats_decode(buf_start(&enc), enc.len, &junk), -EINVAL,
	       "a negative count of the engine's is -EINVAL");
	stats_free(&neg);
	static const uint8_t garbage[] = "\xff\xff\xff\xff\xff\xff\xff\x7f not a second of stats";
	is_int(stats_decode(garbage, sizeof(garbage), &junk), -EINVAL, "garbage is -EINVAL");

	buf_free(&enc);
	buf_free(&before);
	buf_free(&after);
	stats_free(&src);
	stats_free(&ref);
	return tap_done();
}
