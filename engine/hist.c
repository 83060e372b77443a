/* hist: HdrHistogram's bucket layout, percentile definition and V2 encoding,
 * written from the published format so surge's numbers and files agree with
 * HdrHistogram's Java, C and JS implementations value for value. */
#include "surge/hist.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define V2_COOKIE 0x1c849303u
#define V2_COMPRESSED_COOKIE 0x1c849304u
#define COOKIE_WORD_SIZE 0x10u /* HdrHistogram ORs the word-size nibble in */
#define V2_HEADER 40

struct hist {
	int64_t lowest, highest;
	int sigfigs;
	int unit_magnitude;
	int sub_bucket_half_count_magnitude;
	int32_t sub_bucket_count, sub_bucket_half_count;
	int64_t sub_bucket_mask;
	int32_t bucket_count;
	int32_t counts_len;
	int64_t total, clamped;
	int64_t min_value, max_value; /* raw extremes; INT64_MAX / 0 when empty */
	int64_t *counts; /* NULL until the first count: see counts_alloc */
};

/* A histogram's counts are allocated when the first one is written, not in
 * hist_new: the stats of a report hold four histograms per interval, most
 * never written, and each is 270 KB that calloc must clear (glibc serves
 * it from the heap once a free has raised its mmap threshold). Nothing
 * reads counts while total is 0. */
static int counts_alloc(struct hist *h)
{
	if (!h->counts && !(h->counts = calloc((size_t)h->counts_len, sizeof(*h->counts))))
		return -ENOMEM;
	return 0;
}

static int bucket_index(const struct hist *h, int64_t v)
{
	int pow2ceiling = 64 - __builtin_clzll((uint64_t)(v | h->sub_bucket_mask));
	return pow2ceiling - h->unit_magnitude - (h->sub_bucket_half_count_magnitude + 1);
}

static int32_t sub_bucket_index(const struct hist *h, int64_t v, int bucket)
{
	return (int32_t)(v >> (bucket + h->unit_magnitude));
}

static int32_t counts_index(const struct hist *h, int bucket, int32_t sub)
{
	int32_t base = (bucket + 1) << h->sub_bucket_half_count_magnitude;
	return base + (sub - h->sub_bucket_half_count);
}

static int32_t counts_index_for(const struct hist *h, int64_t v)
{
	int b = bucket_index(h, v);
	return counts_index(h, b, sub_bucket_index(h, v, b));
}

static int64_t value_at_index(const struct hist *h, int32_t index)
{
	int bucket = (index >> h->sub_bucket_half_count_magnitude) - 1;
	int32_t sub = (index & (h->sub_bucket_half_count - 1)) + h->sub_bucket_half_count;
	if (bucket < 0) {
		sub -= h->sub_bucket_half_count;
		bucket = 0;
	}
	return (int64_t)sub << (bucket + h->unit_magnitude);
}

static int64_t equivalent_range(const struct hist *h, int64_t v)
{
	int b = bucket_index(h, v);
	int32_t sub = sub_bucket_index(h, v, b);
	int adjusted = sub >= h->sub_bucket_count ? b + 1 : b;
	return (int64_t)1 << (h->unit_magnitude + adjusted);
}

int64_t hist_lowest_equivalent(const struct hist *h, int64_t v)
{
	int b = bucket_index(h, v);
	return (int64_t)sub_bucket_index(h, v, b) << (b + h->unit_magnitude);
}

int64_t hist_highest_equivalent(const struct hist *h, int64_t v)
{
	/* range - 1 first: the top bucket of a layout up to INT64_MAX ends
	 * exactly at INT64_MAX, one past which lowest + range lands. */
	return hist_lowest_equivalent(h, v) + (equivalent_range(h, v) - 1);
}

static int64_t median_equivalent(const struct hist *h, int64_t v)
{
	return hist_lowest_equivalent(h, v) + (equivalent_range(h, v) >> 1);
}

/* The indexes that can hold a count: [*lo, *hi), empty when nothing was
 * recorded. Every count lies between the extremes' indexes (0 holds the
 * value 0 and, for a lowest above 1, the values below one unit), so the
 * queries, adds and resets walk only these instead of all counts_len slots:
 * a default histogram has 33792 of them, a hostile one millions. */
static void touched(const struct hist *h, int32_t *lo, int32_t *hi)
{
	if (h->total == 0) {
		*lo = *hi = 0;
		return;
	}
	*lo = h->counts[0] || h->min_value == INT64_MAX ? 0 : counts_index_for(h, h->min_value);
	*hi = counts_index_for(h, h->max_value) + 1;
}

static int buckets_to_cover(int64_t highest, int32_t sub_bucket_count, int unit_magnitude)
{
	int64_t smallest_untrackable = (int64_t)sub_bucket_count << unit_magnitude;
	int needed = 1;
	while (smallest_untrackable <= highest) {
		if (smallest_untrackable > INT64_MAX / 2)
			return needed + 1;
		smallest_untrackable <<= 1;
		needed++;
	}
	return needed;
}

int hist_new(int64_t lowest, int64_t highest, int sigfigs, struct hist **out)
{
	*out = NULL;
	/* highest / 2: 2 * lowest overflows for a hostile lowest. */
	if (lowest < 1 || sigfigs < 1 || sigfigs > 5 || highest / 2 < lowest)
		return -EINVAL;

	struct hist *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	int64_t single_unit = 2;
	for (int i = 0; i < sigfigs; i++)
		single_unit *= 10;
	int sub_bucket_count_magnitude = (int)ceil(log2((double)single_unit));
	h->lowest = lowest;
	h->highest = highest;
	h->sigfigs = sigfigs;
	h->unit_magnitude = (int)floor(log2((double)lowest));
	h->sub_bucket_half_count_magnitude =
		(sub_bucket_count_magnitude > 1 ? sub_bucket_count_magnitude : 1) - 1;
	h->sub_bucket_count = (int32_t)1 << (h->sub_bucket_half_count_magnitude + 1);
	h->sub_bucket_half_count = h->sub_bucket_count / 2;
	/* Before the mask: a huge lowest would shift it out of an int64_t. */
	if (h->unit_magnitude + h->sub_bucket_half_count_magnitude > 61) {
		free(h);
		return -EINVAL;
	}
	h->sub_bucket_mask = ((int64_t)h->sub_bucket_count - 1) << h->unit_magnitude;
	h->bucket_count = buckets_to_cover(highest, h->sub_bucket_count, h->unit_magnitude);
	h->counts_len = (h->bucket_count + 1) * (h->sub_bucket_count / 2);
	h->min_value = INT64_MAX;
	*out = h;
	return 0;
}

struct hist *hist_new_default(void)
{
	struct hist *h;
	return hist_new(HIST_LOWEST, HIST_HIGHEST, HIST_SIGFIGS, &h) == 0 ? h : NULL;
}

void hist_free(struct hist *h)
{
	if (!h)
		return;
	free(h->counts);
	free(h);
}

void hist_reset(struct hist *h)
{
	/* Only the recorded span: a page of counts (512 of them, half a power
	 * of two of latency) becomes resident when a value first lands on it
	 * and stays, so memory grows with the ranges a run has seen, never
	 * past the array's 270 KB. Clearing it all made every page resident
	 * from the first second: ~1 MB in each worker for its four histograms,
	 * 55 bytes a connection of a million held by 51 workers.
	 * t_worker_memory bounds the growth over a steady run. */
	int32_t lo, hi;

	touched(h, &lo, &hi);
	if (hi > lo)
		memset(h->counts + lo, 0, (size_t)(hi - lo) * sizeof(*h->counts));
	h->total = h->clamped = 0;
	h->min_value = INT64_MAX;
	h->max_value = 0;
}

void hist_record_n(struct hist *h, int64_t v, int64_t n)
{
	if (n <= 0 || counts_alloc(h) < 0)
		return;
	if (v < 0)
		v = 0;
	if (v > h->highest) {
		v = h->highest;
		h->clamped += n;
	}
	h->counts[counts_index_for(h, v)] += n;
	h->total += n;
	if (v < h->min_value && v != 0)
		h->min_value = v;
	if (v > h->max_value)
		h->max_value = v;
}

void hist_record(struct hist *h, int64_t v)
{
	hist_record_n(h, v, 1);
}

static bool same_layout(const struct hist *a, const struct hist *b)
{
	return a->unit_magnitude == b->unit_magnitude && a->sub_bucket_count == b->sub_bucket_count;
}

int hist_add(struct hist *dst, const struct hist *src)
{
	int64_t before = dst->clamped, sum;

	/* Every count is at most the total: if the totals add, so does each. */
	if (__builtin_add_overflow(dst->total, src->total, &sum))
		return -EOVERFLOW;
	int32_t lo, hi;
	touched(src, &lo, &hi);
	if (hi > lo && counts_alloc(dst) < 0)
		return -ENOMEM;
	if (same_layout(dst, src) && src->max_value <= dst->highest) {
		/* src's max fits dst's range, so does each of src's indexes.
		 * Only src's counts are written: dst's untouched pages stay
		 * unmapped (a report sums thousands of sparse intervals). */
		for (int32_t i = lo; i < hi; i++)
			if (src->counts[i])
				dst->counts[i] += src->counts[i];
		dst->total += src->total;
		dst->clamped += src->clamped;
		if (src->min_value < dst->min_value)
			dst->min_value = src->min_value;
		if (src->max_value > dst->max_value)
			dst->max_value = src->max_value;
		return 0;
	}
	for (int32_t i = lo; i < hi; i++)
		if (src->counts[i])
			hist_record_n(dst, value_at_index(src, i), src->counts[i]);
	return dst->clamped > before ? -ERANGE : 0;
}

int hist_reserve(struct hist *dst, const struct hist *src)
{
	return src->total > 0 ? counts_alloc(dst) : 0;
}

int64_t hist_total(const struct hist *h) { return h->total; }
int64_t hist_clamped(const struct hist *h) { return h->clamped; }

int64_t hist_min(const struct hist *h)
{
	if (h->total == 0 || h->counts[0] > 0)
		return 0;
	return hist_lowest_equivalent(h, h->min_value);
}

int64_t hist_max(const struct hist *h)
{
	return h->max_value == 0 ? 0 : hist_highest_equivalent(h, h->max_value);
}

double hist_mean(const struct hist *h)
{
	if (h->total == 0)
		return 0;
	double sum = 0;
	int32_t lo, hi;
	touched(h, &lo, &hi);
	for (int32_t i = lo; i < hi; i++)
		if (h->counts[i])
			sum += (double)median_equivalent(h, value_at_index(h, i)) * (double)h->counts[i];
	return sum / (double)h->total;
}

double hist_stddev(const struct hist *h)
{
	if (h->total == 0)
		return 0;
	double mean = hist_mean(h), sq = 0;
	int32_t lo, hi;
	touched(h, &lo, &hi);
	for (int32_t i = lo; i < hi; i++)
		if (h->counts[i]) {
			double d = (double)median_equivalent(h, value_at_index(h, i)) - mean;
			sq += d * d * (double)h->counts[i];
		}
	return sqrt(sq / (double)h->total);
}

/* Java's and JS's definition: round the count up, but not across a 1-ulp
 * floating-point excess, so p99 of 100 values is the 99th, not the 100th. */
int64_t hist_value_at_percentile(const struct hist *h, double p)
{
	if (h->total == 0)
		return 0;
	if (p > 100)
		p = 100;
	if (p < 0)
		p = 0;
	double fp = p / 100.0 * (double)h->total;
	double ulp = nextafter(fp, DBL_MAX) - fp;
	int64_t want = (int64_t)ceil(fp - ulp);
	if (want < 1)
		want = 1;
	int64_t seen = 0;
	int32_t lo, hi;
	touched(h, &lo, &hi);
	for (int32_t i = lo; i < hi; i++) {
		seen += h->counts[i];
		if (seen >= want) {
			int64_t v = value_at_index(h, i);
			return p == 0 ? hist_lowest_equivalent(h, v) : hist_highest_equivalent(h, v);
		}
	}
	return 0;
}

/* HdrHistogram's percentile iterator (as hdr_percentiles_print): a row at the
 * first bucket that reaches each percentile tick, ticks_per_half_distance
 * ticks per halving of the distance to 100%, then a final 100% row. */
struct pct_iter {
	const struct hist *h;
	int32_t ticks;
	int32_t index, end; /* index starts one before the touched range, ends at its end */
	int64_t cumulative;
	double next, percentile;
	bool started, seen_last;
};

static bool pct_step(struct pct_iter *it)
{
	if (++it->index >= it->end)
		return false;
	it->cumulative += it->h->counts[it->index];
	return true;
}

static void pct_init(struct pct_iter *it, const struct hist *h, int32_t ticks)
{
	int32_t lo;
	*it = (struct pct_iter){ .h = h, .ticks = ticks < 1 ? 1 : ticks };
	touched(h, &lo, &it->end);
	it->index = lo - 1;
}

static bool pct_next(struct pct_iter *it)
{
	const struct hist *h = it->h;
	if (it->cumulative >= h->total) {
		if (it->seen_last || h->total == 0)
			return false;
		it->seen_last = true;
		it->percentile = 100.0;
		return true;
	}
	if (!it->started && !(it->started = pct_step(it)))
		return false;
	do {
		double current = 100.0 * (double)it->cumulative / (double)h->total;
		if (h->counts[it->index] != 0 && it->next <= current) {
			it->percentile = it->next;
			/* Capped: past 2^40 halvings (only totals above ~10^12 get
			 * there) the step would fall below a double's resolution at
			 * 100 and never move next again. */
			double left = 100.0 - it->next;
			int64_t e = left > 0 ? (int64_t)(log(100 / left) / log(2)) + 1 : 40;
			if (e > 40)
				e = 40;
			int64_t half_distance = (int64_t)pow(2, (double)e);
			it->next += 100.0 / (double)(it->ticks * half_distance);
			return true;
		}
	} while (pct_step(it));
	return false;
}

int hist_print_percentiles(FILE *f, const struct hist *h, int32_t ticks, double scale)
{
	int sig = h->sigfigs;
	struct pct_iter it;

	pct_init(&it, h, ticks);
	fprintf(f, "%12s %12s %12s %12s\n\n", "Value", "Percentile", "TotalCount", "1/(1-Percentile)");
	while (pct_next(&it)) {
		double value = (double)hist_highest_equivalent(h, value_at_index(h, it.index)) / scale;
		double pct = it.percentile / 100.0;
		fprintf(f, "%12.*f %12f %12" PRId64 " %12.2f\n", sig, value, pct, it.cumulative,
			1.0 / (1.0 - pct));
	}
	fprintf(f, "#[Mean    = %12.*f, StdDeviation   = %12.*f]\n", sig, hist_mean(h) / scale, sig,
		hist_stddev(h) / scale);
	fprintf(f, "#[Max     = %12.*f, Total count    = %12" PRId64 "]\n", sig,
		(double)hist_max(h) / scale, h->total);
	fprintf(f, "#[Buckets = %12d, SubBuckets     = %12d]\n", h->bucket_count, h->sub_bucket_count);
	return ferror(f) ? -EIO : 0;
}

int hist_percentile_rows(const struct hist *h, int32_t ticks, struct hist_pct_row **rows,
			 size_t *n)
{
	struct pct_iter it;
	size_t cap = 0, len = 0;
	struct hist_pct_row *r = NULL;

	pct_init(&it, h, ticks);
	*rows = NULL;
	*n = 0;
	while (pct_next(&it)) {
		if (len == cap) {
			cap = cap ? cap * 2 : 64;
			struct hist_pct_row *bigger = realloc(r, cap * sizeof(*r));
			if (!bigger) {
				free(r);
				return -ENOMEM;
			}
			r = bigger;
		}
		r[len++] = (struct hist_pct_row){
			.value = hist_highest_equivalent(h, value_at_index(h, it.index)),
			.percentile = it.percentile,
			.total_count = it.cumulative,
		};
	}
	*rows = r;
	*n = len;
	return 0;
}

/* ---- V2 encoding ---- */

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24, p[1] = v >> 16, p[2] = v >> 8, p[3] = v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, v >> 32);
	put_be32(p + 4, (uint32_t)v);
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

/* ZigZag then LEB128, at most 9 bytes: the 9th carries 8 bits (as Java's). */
static size_t put_zigzag(uint8_t *p, int64_t signed_v)
{
	uint64_t v = ((uint64_t)signed_v << 1) ^ (uint64_t)(signed_v >> 63);
	size_t n = 0;
	while (n < 8) {
		if (v < 0x80) {
			p[n++] = (uint8_t)v;
			return n;
		}
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

static int get_zigzag(const uint8_t *p, size_t len, size_t *pos, int64_t *out)
{
	uint64_t v = 0;
	int shift = 0;
	for (int n = 0; n < 9; n++) {
		if (*pos >= len)
			return -EINVAL;
		uint8_t b = p[(*pos)++];
		if (n == 8) {
			v |= (uint64_t)b << 56;
			break;
		}
		v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
		if (!(b & 0x80))
			break;
	}
	*out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
	return 0;
}

static int32_t encode_limit(const struct hist *h)
{
	int32_t lo, hi;
	touched(h, &lo, &hi);
	return hi;
}

size_t hist_encode_bound(const struct hist *h)
{
	return V2_HEADER + (size_t)encode_limit(h) * 9 + 9;
}

size_t hist_encode_into(const struct hist *h, uint8_t *p)
{
	int32_t limit = encode_limit(h);
	size_t n = V2_HEADER;
	for (int32_t i = 0; i < limit;) {
		int64_t c = h->counts[i++];
		int64_t zeros = 0;
		if (c == 0) {
			zeros = 1;
			while (i < limit && h->counts[i] == 0)
				zeros++, i++;
		}
		n += put_zigzag(p + n, zeros > 1 ? -zeros : c);
	}
	double ratio = 1.0;
	uint64_t ratio_bits;
	memcpy(&ratio_bits, &ratio, sizeof(ratio_bits));
	put_be32(p, V2_COOKIE | COOKIE_WORD_SIZE);
	put_be32(p + 4, (uint32_t)(n - V2_HEADER));
	put_be32(p + 8, 0); /* normalizing index offset */
	put_be32(p + 12, (uint32_t)h->sigfigs);
	put_be64(p + 16, (uint64_t)h->lowest);
	put_be64(p + 24, (uint64_t)h->highest);
	put_be64(p + 32, ratio_bits);
	return n;
}

int hist_encode(const struct hist *h, uint8_t **buf, size_t *len)
{
	uint8_t *p = malloc(hist_encode_bound(h));
	if (!p)
		return -ENOMEM;
	*len = hist_encode_into(h, p);
	*buf = p;
	return 0;
}

int hist_encode_compressed(const struct hist *h, uint8_t **buf, size_t *len)
{
	uint8_t *raw;
	size_t raw_len;
	int err = hist_encode(h, &raw, &raw_len);
	if (err)
		return err;
	uLongf zlen = compressBound((uLong)raw_len);
	uint8_t *p = malloc(8 + zlen);
	if (!p) {
		free(raw);
		return -ENOMEM;
	}
	if (compress2(p + 8, &zlen, raw, (uLong)raw_len, Z_DEFAULT_COMPRESSION) != Z_OK) {
		free(raw);
		free(p);
		return -EIO;
	}
	free(raw);
	put_be32(p, V2_COMPRESSED_COOKIE | COOKIE_WORD_SIZE);
	put_be32(p + 4, (uint32_t)zlen);
	*buf = p;
	*len = 8 + zlen;
	return 0;
}

static int decode_v2(const uint8_t *p, size_t len, struct hist **out)
{
	if (len < V2_HEADER || (get_be32(p) & ~0xf0u) != V2_COOKIE)
		return -EINVAL;
	uint32_t payload = get_be32(p + 4);
	int32_t sigfigs = (int32_t)get_be32(p + 12);
	int64_t lowest = (int64_t)get_be64(p + 16), highest = (int64_t)get_be64(p + 24);
	if (payload > len - V2_HEADER || get_be32(p + 8) != 0)
		return -EINVAL;
	struct hist *h;
	int err = hist_new(lowest, highest, sigfigs, &h);
	if (err)
		return err;
	size_t pos = V2_HEADER, end = V2_HEADER + payload;
	int32_t i = 0;
	while (pos < end) {
		int64_t v;
		if (get_zigzag(p, end, &pos, &v) < 0)
			goto bad;
		if (v < 0) {
			if (v < -(int64_t)(h->counts_len - i))
				goto bad;
			i += (int32_t)-v;
			continue;
		}
		if (i >= h->counts_len || h->total > INT64_MAX - v)
			goto bad;
		if (v > 0) {
			if (counts_alloc(h) < 0) {
				hist_free(h);
				return -ENOMEM;
			}
			int64_t value = value_at_index(h, i);
			h->counts[i] = v;
			h->total += v;
			if (value != 0 && value < h->min_value)
				h->min_value = value;
			if (value > h->max_value)
				h->max_value = value;
		}
		i++;
	}
	*out = h;
	return 0;
bad:
	hist_free(h);
	return -EINVAL;
}

/* A decoded payload is at most what the largest legal histogram encodes to;
 * a bound keeps a hostile length from asking zlib for gigabytes. */
#define DECODE_MAX (64u << 20)

int hist_decode(const uint8_t *buf, size_t len, struct hist **out)
{
	*out = NULL;
	if (len < 8)
		return -EINVAL;
	uint32_t cookie = get_be32(buf) & ~0xf0u;
	if (cookie == V2_COOKIE)
		return decode_v2(buf, len, out);
	if (cookie != V2_COMPRESSED_COOKIE)
		return -EINVAL;
	uint32_t zlen = get_be32(buf + 4);
	if (zlen > len - 8)
		return -EINVAL;

	z_stream zs = { .next_in = (Bytef *)buf + 8, .avail_in = zlen };
	if (inflateInit(&zs) != Z_OK)
		return -ENOMEM;
	size_t cap = 4096, n = 0;
	uint8_t *raw = malloc(cap);
	int zr = Z_OK, err = -EINVAL;
	while (raw && zr == Z_OK) {
		if (n == cap) {
			if (cap >= DECODE_MAX)
				break;
			uint8_t *bigger = realloc(raw, cap * 2);
			if (!bigger)
				break;
			raw = bigger;
			cap *= 2;
		}
		zs.next_out = raw + n;
		zs.avail_out = (uInt)(cap - n);
		zr = inflate(&zs, Z_NO_FLUSH);
		n = cap - zs.avail_out;
	}
	if (zr == Z_STREAM_END)
		err = decode_v2(raw, n, out);
	inflateEnd(&zs);
	free(raw);
	return err;
}

/* ---- base64 (RFC 4648 section 4) ---- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int hist_base64_encode(const uint8_t *in, size_t len, char **out)
{
	char *o = malloc((len + 2) / 3 * 4 + 1);
	if (!o)
		return -ENOMEM;
	size_t n = 0;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		o[n++] = b64[v >> 18 & 63];
		o[n++] = b64[v >> 12 & 63];
		o[n++] = i + 1 < len ? b64[v >> 6 & 63] : '=';
		o[n++] = i + 2 < len ? b64[v & 63] : '=';
	}
	o[n] = 0;
	*out = o;
	return 0;
}

static int b64_value(char c)
{
	const char *p = c ? strchr(b64, c) : NULL;
	return p ? (int)(p - b64) : -1;
}

int hist_base64_decode(const char *in, size_t len, uint8_t **out, size_t *outlen)
{
	while (len > 0 && (in[len - 1] == '\n' || in[len - 1] == '\r' || in[len - 1] == ' '))
		len--;
	if (len % 4)
		return -EINVAL;
	uint8_t *o = malloc(len / 4 * 3 + 1);
	if (!o)
		return -ENOMEM;
	size_t n = 0;
	for (size_t i = 0; i < len; i += 4) {
		int v[4], pad = 0;
		for (int k = 0; k < 4; k++) {
			bool last = i + 4 == len;
			if (in[i + k] == '=' && last && k >= 2 && (k == 3 || in[i + 3] == '=')) {
				v[k] = 0;
				pad++;
				continue;
			}
			v[k] = b64_value(in[i + k]);
			if (v[k] < 0 || pad) {
				free(o);
				return -EINVAL;
			}
		}
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
		o[n++] = (uint8_t)(w >> 16);
		if (pad < 2)
			o[n++] = (uint8_t)(w >> 8);
		if (pad < 1)
			o[n++] = (uint8_t)w;
	}
	*out = o;
	*outlen = n;
	return 0;
}
