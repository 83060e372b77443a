/* The pool's share of connections, and when its upkeep next has work: the
 * worker's tick rests until then (worker.c), so a wrong answer here is a
 * ramp that stalls or a pool that wakes for nothing. */
#include <stdint.h>
#include <string.h>

#include "clock.h"
#include "pool.h"
#include "tap.h"
#include "worker.h"

#define S(x) ((uint64_t)((x) * (double)NS_PER_SEC))

int main(void)
{
	struct options o;
	struct worker w;
	struct conn slot;
	const uint64_t start = S(1000);
	struct rate_segment flat[] = {{0, S(10), 100, 100}};
	struct rate_segment ramp[] = {{0, S(5), 0, 100}, {S(5), S(10), 100, 100}};
	struct rate_segment step[] = {{0, S(5), 100, 100}, {S(5), S(5), 100, 200},
				      {S(5), S(10), 200, 200}};

	uint32_t sum = 0;
	for (uint32_t i = 0; i < 7; i++)
		sum += pool_share(100, i, 7);
	is_int(sum, 100, "seven shares of 100 add up to 100");
	is_int(pool_share(100, 0, 7), 15, "the first share takes the remainder");
	is_int(pool_share(100, 6, 7), 14, "the last does not");

	memset(&o, 0, sizeof(o));
	memset(&w, 0, sizeof(w));
	memset(&slot, 0, sizeof(slot));
	w.opt = &o;
	w.start_ns = start;
	w.conns = &slot;
	conn_list_init(&w.free);

	o.conn_segs = flat;
	o.nconn_segs = 1;
	is_int(pool_upkeep_due(&w, start + S(1)), start + S(10),
	       "a flat target: nothing until it ends");
	is_int(pool_upkeep_due(&w, start - S(1)), start + S(10),
	       "before the start (connect phase): the first stretch");
	is_int(pool_upkeep_due(&w, start + S(10)), UINT64_MAX, "past the last stretch: never");

	o.conn_segs = ramp;
	o.nconn_segs = 2;
	is_int(pool_upkeep_due(&w, start + S(2)), start + S(2), "a moving target: every tick");
	is_int(pool_upkeep_due(&w, start + S(5)), start + S(10),
	       "the ramp's top: nothing until the end");

	o.conn_segs = step;
	o.nconn_segs = 3;
	is_int(pool_upkeep_due(&w, start + S(1)), start + S(5), "a step up: the tick wakes for it");
	is_int(pool_upkeep_due(&w, start + S(5)), start + S(10),
	       "the zero-length step holds no time: the next stretch's end");

	o.conn_segs = flat;
	o.nconn_segs = 1;
	slot.id = 0;
	slot.prev = slot.next = CONN_LIST_NONE;
	conn_list_push(&w.free, w.conns, &slot);
	is_int(pool_upkeep_due(&w, start + S(1)), start + S(1), "a slot waiting to connect: now");
	return tap_done();
}
