/* stats_decode on hostile bytes: the coordinator's reading of a worker's
 * second (stats.h). It promises 0 with a whole stats, or an error with
 * nothing to free: never a read out of bounds, never a success with less
 * than the bytes said (a cut-short second once decoded as an empty one).
 * What it accepts re-encodes to bytes that decode to the same, and adds into
 * a running total as the coordinator adds every second, all or nothing. */
#include <errno.h>

#include "buf.h"
#include "fuzz.h"
#include "stats.h"

static struct stats total;
static int have_total;

/* Counts past +-2^61: two of them could pass INT64's range when added (a
 * worker's second never comes near; hostile bytes do). */
static int past(int64_t v)
{
	const int64_t lim = (int64_t)1 << 61;
	return v > lim || v < -lim;
}

static int huge(const struct stats *s)
{
	int n = 0;

	for (int i = 0; i < ST__COUNT; i++)
		n += past(s->counter[i]);
	for (int i = 0; i < ERR__COUNT; i++)
		n += past(s->error[i]);
	for (int i = 0; i < GA__COUNT; i++)
		n += past(s->gauge[i]);
	for (size_t i = 0; i < s->nncounter; i++)
		n += past(s->ncounter[i].value);
	for (uint32_t i = 0; i < s->nsrc; i++)
		n += past(s->src_conns[i]) + past(s->src_reqs[i]);
	return n > 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct stats s, again;
	struct buf enc = {0}, enc2 = {0};

	if (!have_total)
		have_total = stats_init(&total) == 0;
	int rc = stats_decode(data, size, &s);
	FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOMEM || rc == -ENAMETOOLONG ||
		   rc == -E2BIG);
	if (rc < 0)
		return 0;
	FUZZ_CHECK(stats_encode(&s, &enc) == 0);
	FUZZ_CHECK(stats_decode(buf_start(&enc), enc.len, &again) == 0);
	FUZZ_CHECK(stats_encode(&again, &enc2) == 0);
	FUZZ_CHECK(enc.len == enc2.len && memcmp(buf_start(&enc), buf_start(&enc2), enc.len) == 0);
	/* A cut-short copy of what decoded is never a second. */
	if (enc.len > 0) {
		struct stats cut;
		int crc = stats_decode(buf_start(&enc), enc.len - 1, &cut);
		FUZZ_CHECK(crc < 0);
	}
	/* The total would only grow: start over now and then. */
	if (have_total && (huge(&total) || total.nncounter > 256 || total.nnhist > 64)) {
		stats_free(&total);
		have_total = stats_init(&total) == 0;
	}
	if (have_total && !huge(&s)) {
		int64_t before = total.counter[ST_COMPLETED];
		rc = stats_add(&total, &s);
		FUZZ_CHECK(rc == 0 || rc == -ENOMEM);
		FUZZ_CHECK(total.counter[ST_COMPLETED] - before ==
			   (rc == 0 ? s.counter[ST_COMPLETED] : 0));
	}
	buf_free(&enc);
	buf_free(&enc2);
	stats_free(&again);
	stats_free(&s);
	return 0;
}
