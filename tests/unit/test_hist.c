/* hist against a brute-force sorted array: percentiles, min/max/mean, merge,
 * encoding round trips and hostile decoding. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "surge/hist.h"
#include "rng.h"
#include "tap.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	return splitmix64(&rng_state);
}

/* Latency-like values: log-uniform from 1 us to 10 s, some exact repeats. */
static int64_t sample(void)
{
	if (rng() % 10 == 0)
		return 250000;
	double e = 3 + (double)(rng() % 1000000) / 1000000.0 * 7;
	return (int64_t)pow(10, e);
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* The definition surge documents: the k-th smallest value, k = ceil(p% of n)
 * (not across a 1-ulp excess), reported as its bucket's highest equivalent. */
static int64_t brute_percentile(const int64_t *sorted, size_t n, double p)
{
	double fp = p / 100.0 * (double)n;
	int64_t k = (int64_t)ceil(fp - (nextafter(fp, DBL_MAX) - fp));
	if (k < 1)
		k = 1;
	return sorted[k - 1];
}

static void check_against_brute(const struct hist *h, int64_t *v, size_t n, const char *what)
{
	qsort(v, n, sizeof(*v), cmp64);
	static const double ps[] = { 0, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 99.999, 100 };
	int exact = 1, close = 1;
	for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
		int64_t truth = brute_percentile(v, n, ps[i]);
		int64_t want = ps[i] == 0 ? hist_lowest_equivalent(h, truth) : hist_highest_equivalent(h, truth);
		int64_t got = hist_value_at_percentile(h, ps[i]);
		if (got != want) {
			exact = 0;
			diag("%s p%g: got %lld want %lld", what, ps[i], (long long)got, (long long)want);
		}
		if (fabs((double)got - (double)truth) > (double)truth * 1e-3 + 1)
			close = 0;
	}
	ok(exact, "%s: percentiles are the brute-force order statistic's bucket", what);
	ok(close, "%s: percentiles within 3 significant digits of the true values", what);
	is_int(hist_total(h), n, "total count");
	is_int(hist_min(h), hist_lowest_equivalent(h, v[0]), "min is the smallest value's bucket");
	is_int(hist_max(h), hist_highest_equivalent(h, v[n - 1]), "max is the largest value's bucket");
	double mean = 0;
	for (size_t i = 0; i < n; i++)
		mean += (double)v[i];
	mean /= (double)n;
	ok(fabs(hist_mean(h) - mean) <= mean * 1e-3, "%s: mean %.1f within 0.1%% of %.1f", what,
	   hist_mean(h), mean);
}

static void test_random_against_brute(void)
{
	enum { N = 200000 };
	int64_t *v = malloc(N * sizeof(*v));
	struct hist *h = hist_new_default();
	for (size_t i = 0; i < N; i++) {
		v[i] = sample();
		hist_record(h, v[i]);
	}
	check_against_brute(h, v, N, "200000 log-uniform values");

	/* Small counts exercise the rounding of the percentile rank. */
	for (size_t n = 1; n <= 7; n++) {
		hist_reset(h);
		for (size_t i = 0; i < n; i++) {
			v[i] = 1000 * (int64_t)(i + 1);
			hist_record(h, v[i]);
		}
		char name[32];
		snprintf(name, sizeof(name), "%zu values", n);
		check_against_brute(h, v, n, name);
	}
	hist_free(h);
	free(v);
}

static void test_exact_small_values(void)
{
	/* Below 2048 every value has its own bucket at 3 significant digits. */
	struct hist *h = hist_new_default();
	for (int64_t i = 1; i <= 2000; i++)
		hist_record(h, i);
	is_int(hist_value_at_percentile(h, 50), 1000, "p50 of 1..2000 is 1000 exactly");
	is_int(hist_value_at_percentile(h, 99), 1980, "p99 of 1..2000 is 1980 exactly");
	is_int(hist_value_at_percentile(h, 100), 2000, "p100 is the max");
	is_int(hist_value_at_percentile(h, 0), 1, "p0 is the min");
	hist_free(h);
}

static void test_merge(void)
{
	struct hist *a = hist_new_default(), *b = hist_new_default(), *all = hist_new_default();
	for (int i = 0; i < 50000; i++) {
		int64_t x = sample();
		hist_record(i % 3 ? a : b, x);
		hist_record(all, x);
	}
	is_int(hist_add(a, b), 0, "merge of same-layout histograms is exact");
	int same = hist_total(a) == hist_total(all) && hist_max(a) == hist_max(all) &&
		   hist_min(a) == hist_min(all);
	for (double p = 0; p <= 100; p += 0.5)
		same &= hist_value_at_percentile(a, p) == hist_value_at_percentile(all, p);
	ok(same, "merged shards give the same percentiles as one histogram of all samples");

	struct hist *coarse;
	is_int(hist_new(1000, 3600000000000LL, 2, &coarse), 0, "a coarser layout");
	hist_record(coarse, 123456789);
	is_int(hist_add(a, coarse), 0, "merge across layouts re-records");
	is_int(hist_total(a), hist_total(all) + 1, "and counts the value");
	hist_free(a), hist_free(b), hist_free(all), hist_free(coarse);
}

/* hist_add walks only the span between src's extremes: sparse, narrow,
 * all-zero, empty and decoded sources must add exactly as recording their
 * values one by one would. */
static void test_merge_span(void)
{
	struct hist *a = hist_new_default(), *ref = hist_new_default();
	struct hist *zeros = hist_new_default(), *narrow = hist_new_default();
	struct hist *empty = hist_new_default(), *dec = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;

	for (int i = 0; i < 20000; i++) {
		int64_t x = sample();
		hist_record(a, x);
		hist_record(ref, x);
	}
	hist_record_n(zeros, 0, 5);
	hist_record_n(ref, 0, 5);
	for (int64_t v = 1000000000; v < 1000000000 + 5000; v += 7) {
		hist_record(narrow, v);
		hist_record(ref, v);
	}
	hist_record(narrow, 3);
	hist_record(ref, 3);
	is_int(hist_encode(narrow, &buf, &len), 0, "encode a narrow histogram");
	is_int(hist_decode(buf, len, &dec), 0, "and decode it");
	hist_record_n(ref, 3, 1);
	for (int64_t v = 1000000000; v < 1000000000 + 5000; v += 7)
		hist_record(ref, v);
	int rc = hist_add(a, zeros) | hist_add(a, narrow) | hist_add(a, empty) | hist_add(a, dec);
	is_int(rc, 0, "sparse, narrow, empty and decoded sources add");
	int same = hist_total(a) == hist_total(ref) && hist_max(a) == hist_max(ref) &&
		   hist_min(a) == hist_min(ref);
	for (double p = 0; p <= 100; p += 0.1)
		same &= hist_value_at_percentile(a, p) == hist_value_at_percentile(ref, p);
	ok(same, "the sum equals one histogram of every value (total %lld, p0 %lld)",
	   (long long)hist_total(a), (long long)hist_value_at_percentile(a, 0));
	/* hist_reset clears the same span: nothing of the old counts is left. */
	hist_reset(a);
	hist_add(a, zeros);
	hist_add(a, dec);
	struct hist *fresh = hist_new_default();
	hist_add(fresh, zeros);
	hist_add(fresh, dec);
	same = hist_total(a) == hist_total(fresh);
	for (double p = 0; p <= 100; p += 0.1)
		same &= hist_value_at_percentile(a, p) == hist_value_at_percentile(fresh, p);
	ok(same, "after hist_reset only what is added again counts (total %lld)",
	   (long long)hist_total(a));
	hist_free(fresh);
	free(buf);
	hist_free(a), hist_free(ref), hist_free(zeros), hist_free(narrow), hist_free(empty);
	hist_free(dec);
}

static void test_bounds(void)
{
	struct hist *h = hist_new_default();
	hist_record(h, HIST_HIGHEST * 2);
	hist_record(h, -5);
	is_int(hist_clamped(h), 1, "a value above the range is counted as clamped");
	is_int(hist_total(h), 2, "and still recorded");
	is_int(hist_min(h), 0, "a negative value is recorded as 0");
	ok(hist_max(h) >= HIST_HIGHEST, "clamped value lands in the top bucket");
	struct hist *bad;
	is_int(hist_new(0, 100, 3, &bad), -EINVAL, "lowest 0 refused");
	is_int(hist_new(1, 100, 6, &bad), -EINVAL, "6 significant digits refused");
	is_int(hist_new(10, 15, 3, &bad), -EINVAL, "highest < 2*lowest refused");
	/* Found by tests/fuzz (fuzz_hist): bounds a hostile encoding names. */
	is_int(hist_new(INT64_MAX / 2 + 1, INT64_MAX, 3, &bad), -EINVAL,
	       "lowest above INT64_MAX/2 refused (2*lowest would overflow)");
	is_int(hist_new((int64_t)1 << 60, INT64_MAX, 1, &bad), -EINVAL,
	       "a lowest too large for the bucket mask refused");
	/* Found by tests/fuzz (fuzz_hist): the top bucket's highest value is
	 * INT64_MAX itself, computed without passing through INT64_MAX + 1. */
	struct hist *top;
	if (hist_new(1, INT64_MAX, 3, &top) == 0) {
		hist_record(top, INT64_MAX);
		ok(hist_max(top) == INT64_MAX, "a layout up to INT64_MAX: max is INT64_MAX");
		hist_free(top);
	}
	hist_free(h);
}

static int same_counts(const struct hist *a, const struct hist *b)
{
	if (hist_total(a) != hist_total(b) || hist_max(a) != hist_max(b) || hist_min(a) != hist_min(b))
		return 0;
	for (double p = 0; p <= 100; p += 0.25)
		if (hist_value_at_percentile(a, p) != hist_value_at_percentile(b, p))
			return 0;
	return 1;
}

static void test_encoding(void)
{
	struct hist *h = hist_new_default(), *d = NULL;
	for (int i = 0; i < 100000; i++)
		hist_record(h, sample());
	hist_record(h, 0);

	uint8_t *buf;
	size_t len;
	is_int(hist_encode(h, &buf, &len), 0, "V2 encode");
	is_int(hist_decode(buf, len, &d), 0, "V2 decode");
	ok(d && same_counts(h, d), "V2 round trip keeps every count");
	hist_free(d);
	uint8_t *into = malloc(hist_encode_bound(h));
	size_t into_len = hist_encode_into(h, into);
	ok(into_len == len && into_len <= hist_encode_bound(h) && memcmp(into, buf, len) == 0,
	   "encoding into the caller's memory writes the same bytes, within the bound (%zu of %zu)",
	   into_len, hist_encode_bound(h));
	free(into);
	free(buf);

	is_int(hist_encode_compressed(h, &buf, &len), 0, "compressed encode");
	char *text;
	hist_base64_encode(buf, len, &text);
	ok(strncmp(text, "HISTF", 5) == 0, "base64 of a compressed V2 histogram starts HISTF (%.8s)", text);
	uint8_t *back;
	size_t back_len;
	is_int(hist_base64_decode(text, strlen(text), &back, &back_len), 0, "base64 decode");
	ok(back_len == len && memcmp(back, buf, len) == 0, "base64 round trip");
	is_int(hist_decode(back, back_len, &d), 0, "compressed decode");
	ok(d && same_counts(h, d), "compressed round trip keeps every count");
	hist_free(d);
	free(back);

	/* Hostile input: truncations and random corruption never crash or
	 * over-read (ASan/UBSan builds run this too). */
	int refused = 0, rounds = 0;
	for (size_t cut = 0; cut < len; cut += 7, rounds++)
		refused += hist_decode(buf, cut, &d) == -EINVAL;
	ok(refused == rounds, "every truncation of a compressed histogram is refused (%d/%d)", refused,
	   rounds);
	uint8_t *raw;
	size_t raw_len;
	hist_encode(h, &raw, &raw_len);
	int survived = 1;
	for (int round = 0; round < 3000; round++) {
		uint8_t *m = malloc(raw_len);
		memcpy(m, raw, raw_len);
		for (int k = 0; k < 4; k++)
			m[rng() % raw_len] = (uint8_t)rng();
		int r = hist_decode(m, raw_len, &d);
		if (r == 0) {
			survived &= hist_total(d) >= 0;
			hist_free(d);
		}
		free(m);
	}
	ok(survived, "3000 corrupted encodings decoded or refused");
	is_int(hist_decode((const uint8_t *)"garbage!", 8, &d), -EINVAL, "a wrong cookie is refused");

	is_int(hist_base64_decode("Zm9vYmE=", 8, &back, &back_len), 0, "RFC 4648 test vector");
	ok(back_len == 5 && memcmp(back, "fooba", 5) == 0, "decodes to 'fooba'");
	free(back);
	is_int(hist_base64_decode("Zm9v!mE=", 8, &back, &back_len), -EINVAL, "bad base64 refused");
	free(text);
	free(buf);
	free(raw);
	hist_free(h);
}

/* Found by tests/fuzz (fuzz_hist): with a total past 2^46 the percentile
 * step fell below a double's resolution near 100% and the rows never ended. */
static void test_huge_total_rows(void)
{
	struct hist *h = hist_new_default();
	struct hist_pct_row *rows;
	size_t n;

	hist_record_n(h, 1, (int64_t)1 << 60);
	hist_record_n(h, 1000, 1);
	ok(hist_percentile_rows(h, 5, &rows, &n) == 0 && n > 0 && n < 1000 &&
		   rows[n - 1].percentile == 100.0,
	   "2^60 + 1 values: percentile rows end, at 100%%");
	free(rows);
	hist_free(h);
}

static void test_print(void)
{
	struct hist *h = hist_new_default();
	for (int64_t i = 1; i <= 1000; i++)
		hist_record(h, i); /* exact buckets below 2048 */
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	is_int(hist_print_percentiles(f, h, 5, 1.0), 0, "percentile table printed");
	fclose(f);
	ok(strncmp(out, "       Value   Percentile   TotalCount 1/(1-Percentile)\n\n", 57) == 0,
	   "HdrHistogram header");
	ok(strstr(out, "     500.000     0.500000          500         2.00\n") != NULL,
	   "the 50%% row is value 500, count 500");
	ok(strstr(out, "    1000.000     1.000000         1000          inf\n") != NULL, "final 100%% row");
	ok(strstr(out, "#[Max     =     1000.000, Total count    =         1000]") != NULL, "footer");
	free(out);
	hist_free(h);
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/* Issue 12, defect 11: what a hostile log can put in a histogram header or
 * its counts is refused or saturates, never undefined behaviour (the UBSan
 * build aborts on any). */
static void test_hostile_bounds(void)
{
	struct hist *h;

	is_int(hist_new(INT64_MAX / 2 + 1, INT64_MAX, 3, &h), -EINVAL,
	       "lowest above INT64_MAX / 2: refused (no 2 * lowest overflow)");
	is_int(hist_new((int64_t)1 << 62, INT64_MAX, 3, &h), -EINVAL,
	       "a unit magnitude of 62: refused before any shift by it");
	ok(hist_new(1, INT64_MAX, 3, &h) == 0, "1 .. INT64_MAX: a layout");
	hist_record(h, INT64_MAX);
	ok(hist_max(h) == INT64_MAX, "its top bucket ends at INT64_MAX exactly (%lld)",
	   (long long)hist_max(h));
	ok(hist_value_at_percentile(h, 100) == INT64_MAX, "p100 too");
	hist_free(h);

	/* The same headers as a decoder meets them. */
	uint8_t v2[40] = { 0x1c, 0x84, 0x93, 0x13 };
	v2[15] = 3;
	put64(v2 + 16, ((uint64_t)1 << 62) + 1);
	put64(v2 + 24, INT64_MAX);
	is_int(hist_decode(v2, sizeof(v2), &h), -EINVAL, "decode: a huge lowest is refused");

	struct hist *a = hist_new_default(), *b = hist_new_default();
	hist_record_n(a, 1000, INT64_MAX - 5);
	hist_record_n(b, 2000, 10);
	is_int(hist_add(a, b), -EOVERFLOW, "counts adding past INT64_MAX: -EOVERFLOW");
	ok(hist_total(a) == INT64_MAX - 5 && hist_max(a) == hist_highest_equivalent(a, 1000),
	   "...and the destination is unchanged");
	hist_reset(b);
	hist_record_n(b, 2000, 5);
	is_int(hist_add(a, b), 0, "up to INT64_MAX exactly: added");
	is_int(hist_total(a), INT64_MAX, "...to INT64_MAX");
	hist_free(a);
	hist_free(b);
}

/* Queries, adds and resets walk only the indexes between the extremes
 * recorded. A reset that left a count outside them would hide it until a
 * later value widened the range: each check compares with a histogram that
 * was never reset, after values on both sides of the old ones. */
static void same_as(const struct hist *got, const struct hist *want, const char *what)
{
	static const double ps[] = { 0, 10, 50, 90, 99, 100 };
	int same = hist_total(got) == hist_total(want) && hist_min(got) == hist_min(want) &&
		   hist_max(got) == hist_max(want) && hist_mean(got) == hist_mean(want) &&
		   hist_stddev(got) == hist_stddev(want);
	for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++)
		same = same && hist_value_at_percentile(got, ps[i]) == hist_value_at_percentile(want, ps[i]);
	struct hist_pct_row *ra = NULL, *rb = NULL;
	size_t na, nb;
	ok(hist_percentile_rows(got, 5, &ra, &na) == 0 && hist_percentile_rows(want, 5, &rb, &nb) == 0,
	   "%s: percentile rows", what);
	same = same && na == nb && (na == 0 || memcmp(ra, rb, na * sizeof(*ra)) == 0);
	free(ra);
	free(rb);
	uint8_t *ea = NULL, *eb = NULL;
	size_t la, lb;
	ok(hist_encode(got, &ea, &la) == 0 && hist_encode(want, &eb, &lb) == 0, "%s: encoded", what);
	same = same && la == lb && memcmp(ea, eb, la) == 0;
	free(ea);
	free(eb);
	ok(same, "%s: the same total, extremes, mean, stddev, percentiles, rows and encoding", what);
}

static void test_touched_range(void)
{
	struct hist *h = hist_new_default(), *fresh = hist_new_default();

	for (int64_t v = 1000000; v < 10000000000LL; v = v * 3 / 2)
		hist_record_n(h, v, 7);
	hist_record(h, 0);
	hist_reset(h);
	hist_record(h, 5000);
	hist_record(fresh, 5000);
	same_as(h, fresh, "reset, then one value below the old ones");
	hist_record(h, 20000000000LL);
	hist_record(fresh, 20000000000LL);
	same_as(h, fresh, "...then one above them");

	hist_reset(h);
	hist_reset(fresh);
	same_as(h, fresh, "reset twice: empty");
	hist_record_n(h, 0, 3);
	hist_record_n(fresh, 0, 3);
	same_as(h, fresh, "only zeros");
	is_int(hist_value_at_percentile(h, 100), 0, "...p100 0");

	/* lowest 1000: the values below one unit share index 0 with 0. */
	struct hist *coarse, *sum = hist_new_default(), *want = hist_new_default();
	ok(hist_new(1000, 3600000000000LL, 3, &coarse) == 0, "a 1000 .. 1 h layout");
	hist_record(coarse, 5);
	hist_record(coarse, 7000000);
	hist_record(coarse, 300);
	is_int(hist_value_at_percentile(coarse, 50), 511, "p50: the first unit's bucket");
	is_int(hist_add(sum, coarse), 0, "added into the default layout");
	hist_record(want, 0);
	hist_record(want, 0);
	hist_record(want, hist_lowest_equivalent(coarse, 7000000));
	same_as(sum, want, "an add across layouts re-records each count");
	hist_reset(coarse);
	hist_record(coarse, 9000000000LL);
	is_int(hist_total(coarse), 1, "reset: index 0 cleared too");
	is_int(hist_value_at_percentile(coarse, 0), hist_lowest_equivalent(coarse, 9000000000LL),
	       "...p0 is the new value's bucket");
	hist_free(coarse);
	hist_free(sum);
	hist_free(want);
	hist_free(h);
	hist_free(fresh);
}

/* Counts are allocated at the first write: a histogram never written answers
 * every query, encodes, decodes, adds and resets like an empty one. */
static void test_never_written(void)
{
	struct hist *a = hist_new_default(), *b = hist_new_default(), *d = NULL;
	struct hist_pct_row *rows = (void *)1;
	size_t n = 1, len;
	uint8_t *enc;

	hist_reset(a);
	ok(hist_total(a) == 0 && hist_min(a) == 0 && hist_max(a) == 0 && hist_mean(a) == 0 &&
	   hist_stddev(a) == 0 && hist_value_at_percentile(a, 99) == 0,
	   "never written: total, extremes, mean, stddev and p99 are 0");
	ok(hist_percentile_rows(a, 5, &rows, &n) == 0 && rows == NULL && n == 0, "...no rows");
	is_int(hist_add(b, a), 0, "...adds as nothing");
	is_int(hist_total(b), 0, "...into another never written");
	ok(hist_encode_compressed(a, &enc, &len) == 0 && hist_decode(enc, len, &d) == 0 &&
	   hist_total(d) == 0, "...encodes to a histogram that decodes empty");
	free(enc);
	hist_record(d, 42);
	is_int(hist_value_at_percentile(d, 100), 42, "a decoded empty one records");
	is_int(hist_add(a, d), 0, "...and adds into a never-written one");
	is_int(hist_value_at_percentile(a, 50), 42, "...which then holds its value");
	hist_free(a);
	hist_free(b);
	hist_free(d);
}

int main(void)
{
	test_never_written();
	test_touched_range();
	test_hostile_bounds();
	test_exact_small_values();
	test_random_against_brute();
	test_merge();
	test_merge_span();
	test_bounds();
	test_encoding();
	test_print();
	test_huge_total_rows();
	return tap_done();
}
