/* hist_decode on hostile bytes: it promises -EINVAL, never a read out of
 * bounds. What it accepts must answer every query, re-encode to something
 * that decodes to the same counts, and add into surge's default layout: one
 * histogram reset between runs, as a worker resets its own every second (a
 * reset that left a count behind shows in the next run's rows). */
#include <errno.h>

#include "fuzz.h"
#include "surge/hist.h"

static FILE *devnull;
static struct hist *sum;

static void check_same(const struct hist *a, const struct hist *b)
{
	FUZZ_CHECK(hist_total(a) == hist_total(b));
	FUZZ_CHECK(hist_min(a) == hist_min(b));
	FUZZ_CHECK(hist_max(a) == hist_max(b));
	static const double ps[] = { 0, 50, 90, 99, 99.9, 100 };
	for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++)
		FUZZ_CHECK(hist_value_at_percentile(a, ps[i]) == hist_value_at_percentile(b, ps[i]));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hist *h = NULL, *again = NULL;
	uint8_t *enc = NULL;
	size_t enclen;
	struct hist_pct_row *rows = NULL;
	size_t nrows;

	if (!devnull)
		devnull = fopen("/dev/null", "w");
	int rc = hist_decode(data, size, &h);
	FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
	FUZZ_CHECK((rc == 0) == (h != NULL));
	if (rc < 0)
		return 0;
	FUZZ_CHECK(hist_total(h) >= 0);
	FUZZ_CHECK(hist_min(h) <= hist_max(h));
	(void)hist_mean(h);
	(void)hist_stddev(h);
	if (hist_percentile_rows(h, 5, &rows, &nrows) == 0) {
		for (size_t i = 1; i < nrows; i++)
			FUZZ_CHECK(rows[i].value >= rows[i - 1].value &&
				   rows[i].total_count >= rows[i - 1].total_count);
		free(rows);
	}
	hist_print_percentiles(devnull, h, 5, 1e6);

	if (hist_encode_compressed(h, &enc, &enclen) == 0) {
		FUZZ_CHECK(hist_decode(enc, enclen, &again) == 0);
		check_same(h, again);
	}
	if (sum || (sum = hist_new_default()) != NULL) {
		hist_reset(sum);
		FUZZ_CHECK(hist_total(sum) == 0 && hist_value_at_percentile(sum, 100) == 0);
		if (hist_add(sum, h) != -ENOMEM) {
			FUZZ_CHECK(hist_total(sum) == hist_total(h));
			/* The last row counts every count: the total, no more
			 * (past 2^40, doubles cannot tell the last ticks apart). */
			if (hist_percentile_rows(sum, 1, &rows, &nrows) == 0) {
				FUZZ_CHECK(nrows == 0 || hist_total(sum) > (int64_t)1 << 40 ||
					   rows[nrows - 1].total_count == hist_total(sum));
				free(rows);
			}
		}
	}
	free(enc);
	hist_free(again);
	hist_free(h);
	return 0;
}
