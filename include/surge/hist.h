/*
 * hist: an HdrHistogram-compatible histogram of int64 values (surge records
 * nanoseconds). Same bucket layout, iteration and percentile definition as
 * HdrHistogram_c/Java, so encoded histograms and percentile tables are
 * interchangeable with HdrHistogram's own tools.
 */
#ifndef SURGE_HIST_H
#define SURGE_HIST_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct hist;

/* surge's default: 1 ns .. 1 h, 3 significant digits. */
#define HIST_LOWEST 1
#define HIST_HIGHEST 3600000000000LL
#define HIST_SIGFIGS 3

/* Returns 0 and *out, or -EINVAL (bad bounds) / -ENOMEM. Free with hist_free.
 * The counts (270 KB in the default layout) are allocated at the first value
 * recorded, added or decoded, not here: a histogram never written costs ~100
 * bytes. hist_reset keeps them. */
int hist_new(int64_t lowest, int64_t highest, int sigfigs, struct hist **out);
/* hist_new with the defaults above; NULL only on ENOMEM. */
struct hist *hist_new_default(void);
void hist_free(struct hist *h); /* NULL-safe */
void hist_reset(struct hist *h);

/* O(1). A value above the highest trackable is recorded as the highest and
 * counted in hist_clamped(); a negative value is recorded as 0. The first
 * record allocates the counts: if that fails, the value is not recorded. */
void hist_record(struct hist *h, int64_t value);
void hist_record_n(struct hist *h, int64_t value, int64_t count);

/* Adds every count of src to dst (exact when both share a layout; otherwise
 * values are re-recorded). Returns 0, -ERANGE if some values were clamped,
 * -EOVERFLOW (dst unchanged) when the total would pass INT64_MAX, or -ENOMEM
 * (dst unchanged) when dst's counts could not be allocated. */
int hist_add(struct hist *dst, const struct hist *src);
/* Allocates what hist_add(dst, src) would, so that a merge of many parts
 * can take its memory first and then add without failing for it. Returns 0
 * or -ENOMEM (dst's counts unchanged). */
int hist_reserve(struct hist *dst, const struct hist *src);

int64_t hist_total(const struct hist *h);
int64_t hist_clamped(const struct hist *h);
int64_t hist_min(const struct hist *h);   /* 0 when empty */
int64_t hist_max(const struct hist *h);   /* highest equivalent value, as HdrHistogram */
double hist_mean(const struct hist *h);
double hist_stddev(const struct hist *h);
/* HdrHistogram's hdr_value_at_percentile: p in [0,100]. 0 when empty. */
int64_t hist_value_at_percentile(const struct hist *h, double p);
/* Two values land in the same bucket iff they are equivalent. */
int64_t hist_lowest_equivalent(const struct hist *h, int64_t value);
int64_t hist_highest_equivalent(const struct hist *h, int64_t value);

/* Percentile distribution in HdrHistogram's text format (what wrk2 prints
 * and HdrHistogram's plotter reads): values divided by value_scale (1e6 for
 * ns -> ms), ticks_per_half_distance as hdr_percentiles_print (5 is usual). */
int hist_print_percentiles(FILE *f, const struct hist *h, int32_t ticks_per_half_distance,
                           double value_scale);

/* The rows hist_print_percentiles prints, for reports that format them
 * (JSON, HTML). Returns 0 and a malloc'd array of *n rows the caller frees
 * (*rows NULL and *n 0 when h is empty), or -ENOMEM. */
struct hist_pct_row {
	int64_t value;       /* highest equivalent value of the row's bucket */
	double percentile;   /* 0..100 */
	int64_t total_count; /* values <= value */
};
int hist_percentile_rows(const struct hist *h, int32_t ticks_per_half_distance,
			 struct hist_pct_row **rows, size_t *n);

/*
 * Encoding. V2 format (cookie 0x1c849303): header + ZigZag-LEB128 counts with
 * zero runs. Compressed V2 (cookie 0x1c849304): that payload deflated with
 * zlib, as written in HdrHistogram interval logs.
 * Each returns 0 and a malloc'd buffer the caller frees, or -errno.
 */
int hist_encode(const struct hist *h, uint8_t **buf, size_t *len);
/* The same V2 encoding into memory the caller keeps (a buffer reused every
 * second allocates nothing): room for hist_encode_bound(h) bytes at p;
 * returns the length written. */
size_t hist_encode_bound(const struct hist *h);
size_t hist_encode_into(const struct hist *h, uint8_t *p);
int hist_encode_compressed(const struct hist *h, uint8_t **buf, size_t *len);
/* Accepts both cookies; returns 0 and a new histogram, or -EINVAL on any
 * malformed input (never reads out of bounds). */
int hist_decode(const uint8_t *buf, size_t len, struct hist **out);

/* Standard base64 (RFC 4648, with padding). Caller frees *out. */
int hist_base64_encode(const uint8_t *in, size_t len, char **out);
int hist_base64_decode(const char *in, size_t len, uint8_t **out, size_t *outlen);

#endif
