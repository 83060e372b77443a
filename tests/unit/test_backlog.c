/* The backlog ring: oldest first, full is full, and emptied it starts over
 * at its first slot, so the slots it ever touches are as many as once
 * waited at the same time, not as many as ever waited (what
 * t_worker_memory watches from outside, among the histograms' pages). */
#include <stdint.h>

#include "backlog.h"
#include "tap.h"

int main(void)
{
	struct backlog b;
	uint32_t highest = 0;
	int order_ok = 1;

	ok(backlog_init(&b, 0) == 0 && b.cap == 1, "a capacity of 0 holds one");
	ok(backlog_push(&b, 7) && !backlog_push(&b, 8), "one fits, the second does not");
	is_int(backlog_pop(&b), 7, "and comes back");
	backlog_free(&b);

	ok(backlog_init(&b, 100000) == 0, "100000 slots");
	/* A million requests wait, at most 300 at a time, in bursts that
	 * empty the ring between them. */
	for (uint64_t t = 0; t < 1000000;) {
		uint32_t burst = 1 + (uint32_t)(t % 300);
		for (uint32_t i = 0; i < burst; i++) {
			uint32_t slot = (b.head + b.len) % b.cap;
			if (slot > highest)
				highest = slot;
			backlog_push(&b, t + i);
		}
		for (uint32_t i = 0; i < burst; i++)
			order_ok &= backlog_pop(&b) == t + i;
		t += burst;
	}
	ok(order_ok, "every request leaves in the order it came");
	ok(highest < 300, "the bursts touched the first %u slots only (of 100000)", highest + 1);
	is_int(b.len, 0, "empty after");
	is_int(b.head, 0, "and back at its first slot");

	/* Not emptied in between: the ring wraps. */
	for (uint32_t i = 0; i < 100000; i++)
		backlog_push(&b, i);
	ok(!backlog_push(&b, 100000), "full at its capacity");
	for (uint32_t i = 0; i < 50000; i++)
		backlog_pop(&b);
	for (uint32_t i = 0; i < 50000; i++)
		backlog_push(&b, 100000 + i);
	is_int(backlog_pop(&b), 50000, "after wrapping, still the oldest first");
	is_int(backlog_clear(&b), 99999, "clear says how many it forgot (counted as dropped)");
	ok(b.len == 0 && b.head == 0, "and leaves it empty, at its first slot");
	backlog_free(&b);
	ok(b.due == NULL && b.cap == 0, "freed");
	return tap_done();
}
