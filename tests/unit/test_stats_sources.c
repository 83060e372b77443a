/* stats, per source address: counts survive the worker -> coordinator wire,
 * merge exactly across workers, reset per interval, and malformed counts are
 * refused. */
#include "tap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "stats.h"

int main(void)
{
	struct stats a, b, d;
	struct buf wire = {0};
	uint8_t *buf;
	size_t len;

	stats_init(&a);
	stats_init(&b);
	is_int(stats_sources_init(&a, STATS_SOURCES_MAX + 1), -E2BIG, "more than the cap refused");
	is_int(a.nsrc, 0, "...and nothing kept");
	is_int(stats_sources_init(&a, 3), 0, "3 sources");
	a.src_conns[0] = 5;
	a.src_conns[2] = 7;
	a.src_reqs[1] = 1000;
	is_int(stats_encode(&a, &wire), 0, "encode");
	buf = buf_start(&wire);
	len = wire.len;
	is_int(stats_decode(buf, len, &d), 0, "decode");
	ok(d.nsrc == 3 && d.src_conns[0] == 5 && d.src_conns[2] == 7 && d.src_reqs[1] == 1000,
	   "per-source counts survive the wire");
	stats_free(&d);
	is_int(stats_decode(buf, len - 1, &d), -EINVAL, "truncated per-source counts refused");
	/* The count field is at len - 4 - 2*3*8: claim more than the cap. */
	uint32_t huge = STATS_SOURCES_MAX + 1;
	memcpy(buf + len - 4 - 48, &huge, 4);
	is_int(stats_decode(buf, len, &d), -EINVAL, "a source count over the cap refused");

	is_int(stats_add(&b, &a), 0, "merge into a stats without sources");
	is_int(stats_add(&b, &a), 0, "merge again");
	ok(b.nsrc == 3 && b.src_conns[2] == 14 && b.src_reqs[1] == 2000, "merges add per source");
	stats_reset(&b);
	ok(b.nsrc == 3 && b.src_conns[2] == 0 && b.src_reqs[1] == 0, "reset zeroes, keeps the size");

	stats_free(&b);
	stats_init(&b);
	is_int(stats_encode(&b, &wire), 0, "encode without sources (the same buffer, reused)");
	buf = buf_start(&wire);
	len = wire.len;
	is_int(stats_decode(buf, len, &d), 0, "decode without sources");
	is_int(d.nsrc, 0, "no sources");
	buf_free(&wire);
	stats_free(&d);
	stats_free(&a);
	stats_free(&b);
	return tap_done();
}
