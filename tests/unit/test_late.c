/* late: answers owed by connection and key, each taken once, none after its
 * time, none for a key never settled; the table grows and drops the dead. */
#include "late.h"
#include "tap.h"

int main(void)
{
	struct late_table t;
	const uint64_t s = 1000000000ull;

	late_init(&t);
	ok(!late_take(&t, 1, 7, 0), "an empty table owes nothing");
	is_int(late_expect(&t, 1, 7, 2, 10 * s, 0), 0, "conn 1, key 7: two answers owed");
	is_int(late_expect(&t, 1, 9, 0, 10 * s, 0), 0, "none owed: nothing kept");
	ok(!late_take(&t, 1, 9, s), "key 9 was owed nothing");
	ok(!late_take(&t, 2, 7, s), "the same key on another connection is not owed");
	ok(!late_take(&t, 1, 0x8007, s), "an ID surge never sent is not owed");
	ok(late_take(&t, 1, 7, s) && late_take(&t, 1, 7, s), "both answers taken");
	ok(!late_take(&t, 1, 7, s), "a third is not owed (a repeat)");

	late_expect(&t, 3, -0.0, 1, 10 * s, 0);
	ok(late_take(&t, 3, 0.0, s), "key -0 and 0 are one key (in-order matching uses 0)");

	late_expect(&t, 4, 5, 1, 2 * s, 0);
	ok(!late_take(&t, 4, 5, 3 * s), "an answer after the window is not taken as late");
	late_expect(&t, 4, 6, 1, 2 * s, 0);
	late_expect(&t, 4, 6, 2, 4 * s, s);
	ok(late_take(&t, 4, 6, 3 * s) && late_take(&t, 4, 6, 3 * s) && late_take(&t, 4, 6, 3 * s),
	   "the same key settled again: owed together, until the later end");
	ok(!late_take(&t, 4, 6, 3 * s), "and no more than the sum");
	late_expect(&t, 4, 5, 1, 6 * s, 5 * s);
	ok(late_take(&t, 4, 5, 5 * s) && !late_take(&t, 4, 5, 5 * s),
	   "settled again after its window: only the new answer is owed");

	/* Many settled over time: the table grows with the live ones and sheds
	 * the dead instead of growing for ever. */
	bool all = true;
	for (uint32_t i = 0; i < 100000; i++) {
		uint64_t now = (uint64_t)i * 1000000; /* 1 ms apart, each owed for 1 s */
		if (late_expect(&t, i % 50, (double)(i & 0xffff), 1, now + s, now) < 0)
			all = false;
	}
	ok(all, "100000 settled 1 ms apart, each owed for 1 s, all kept");
	ok(t.cap <= 8192, "the table holds the ~1000 live, not the 100000 (cap %u)", t.cap);
	uint64_t end = 99999ull * 1000000;
	bool recent = true;
	for (uint32_t i = 99000; i < 100000; i++)
		recent = recent && late_take(&t, i % 50, (double)(i & 0xffff), end);
	ok(recent, "the last second's 1000 are each owed an answer");
	ok(!late_take(&t, 98000 % 50, (double)(98000 & 0xffff), end),
	   "one settled 2 s before is no longer owed");
	late_free(&t);
	ok(t.e == NULL && t.cap == 0 && !late_take(&t, 1, 7, 0), "free empties the table");
	return tap_done();
}
