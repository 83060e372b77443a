/* serve_fault: every option's grammar and message, flags that take no value,
 * what rtsp refuses, stall windows, the garbage draw and the kept prefix,
 * --drip's waiting line. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "serve.h"
#include "serve_fault.h"
#include "tap.h"

static char err[256];

static int set(struct serve_fault *f, const char *key, const char *value)
{
	err[0] = 0;
	return serve_fault_option(f, key, value, err, sizeof(err));
}

static void test_options(void)
{
	struct serve_fault f = { 0 };

	ok(set(&f, "reset-after", "640") == 0 && f.reset_after == 640, "--reset-after 640");
	ok(set(&f, "reset-after", "64k") == 0 && f.reset_after == 64000, "--reset-after 64k");
	ok(set(&f, "reset-after", "0") == -EINVAL &&
	   strcmp(err, "--reset-after '0': expected a number of bytes >= 1, e.g. 640 or 64k") == 0,
	   "--reset-after 0 is refused, with what to write (%s)", err);
	ok(set(&f, "garbage", "10%") == 0 && f.garbage == 0.1, "--garbage 10%%");
	ok(set(&f, "garbage", "2") == -EINVAL, "--garbage 2 is refused");
	ok(set(&f, "drip", "3/10ms") == 0 && f.drip_bytes == 3 && f.drip_ns == 10000000,
	   "--drip 3/10ms");
	ok(set(&f, "drip", "3") == -EINVAL && strstr(err, "BYTES/INTERVAL"), "--drip 3 (%s)", err);
	ok(set(&f, "drip", "0/1ms") == -EINVAL, "--drip 0/1ms");
	ok(set(&f, "drip", "1/0s") == -EINVAL, "--drip 1/0s");
	ok(set(&f, "drip", "/1ms") == -EINVAL, "--drip /1ms");
	ok(set(&f, "close-after", "5") == 0 && f.close_after == 5, "--close-after 5");
	ok(set(&f, "die-after", "2s") == 0 && f.die_after_ns == 2000000000ull, "--die-after 2s");
	ok(set(&f, "die-after", "0s") == -EINVAL, "--die-after 0s");
	ok(set(&f, "stall", "1s/5s") == 0 && f.stall_ns == 1000000000ull &&
	   f.stall_period_ns == 5000000000ull, "--stall 1s/5s");
	ok(set(&f, "stall", "5s/5s") == -EINVAL &&
	   strcmp(err, "--stall '5s/5s': expected STALL/PERIOD with 0 < STALL < PERIOD, e.g. 1s/5s") == 0,
	   "--stall 5s/5s (%s)", err);
	ok(set(&f, "delay", NULL) == -EINVAL &&
	   strcmp(err, "--delay needs a value: a duration like 20ms (see --help)") == 0,
	   "--delay without a value (%s)", err);
	ok(set(&f, "drop", "1%") == 0 && f.drop == 0.01, "--drop 1%%");
	ok(set(&f, "listen", "x") == -ENOENT, "other keys are not fault options");

	ok(serve_fault_is_flag("half-close") && serve_fault_is_flag("never-read") &&
	   serve_fault_is_flag("close-on-accept") && !serve_fault_is_flag("drip"),
	   "flags are known as flags");
	ok(set(&f, "half-close", NULL) == 0 && f.half_close, "--half-close");
	ok(set(&f, "never-read", "yes") == -EINVAL &&
	   strcmp(err, "--never-read takes no value (got 'yes')") == 0, "a flag with a value (%s)", err);
}

static void test_check(void)
{
	struct serve_fault f = { .drip_bytes = 1, .drip_ns = 1 };
	ok(serve_fault_check(&f, &serve_echo_proto, err, sizeof(err)) == 0, "echo takes --drip");
	ok(serve_fault_check(&f, &serve_dns_proto, err, sizeof(err)) == 0, "dns takes --drip");
	ok(serve_fault_check(&f, &serve_rtsp_proto, err, sizeof(err)) == -EINVAL &&
	   strstr(err, "--drip is not available for rtsp"), "rtsp refuses --drip (%s)", err);
	struct serve_fault g = { .reset_after = 10, .never_read = true, .die_after_ns = 1 };
	ok(serve_fault_check(&g, &serve_rtsp_proto, err, sizeof(err)) == 0,
	   "rtsp takes the connection faults");
	g.close_on_accept = true;
	ok(serve_fault_check(&g, &serve_echo_proto, err, sizeof(err)) == -EINVAL,
	   "--close-on-accept with --never-read is refused (%s)", err);
}

static void test_decisions(void)
{
	struct serve_fault f = { .stall_ns = 1000, .stall_period_ns = 5000 };
	uint64_t wait = 0;
	ok(!serve_fault_stalled(&f, 3999, &wait), "answers for period - stall");
	ok(serve_fault_stalled(&f, 4000, &wait) && wait == 1000, "then holds until the period ends");
	ok(serve_fault_stalled(&f, 9999, &wait) && wait == 1, "in every period");

	ok(!serve_fault_chance(0, ~0ull) && !serve_fault_chance(0.5, ~0ull) &&
	   serve_fault_chance(0.5, 0) && serve_fault_chance(1, ~0ull), "chance at its edges");
	uint64_t rng = 1;
	unsigned hits = 0;
	for (int i = 0; i < 10000; i++) {
		rng = rng * 6364136223846793005ull + 1442695040888963407ull;
		hits += serve_fault_chance(0.2, rng);
	}
	ok(hits > 1800 && hits < 2200, "20%% of draws (%u of 10000)", hits);

	uint8_t a[64], b[64];
	memset(a, 0xaa, sizeof(a));
	memcpy(b, a, sizeof(b));
	uint64_t seed = 7;
	serve_fault_garble(a, sizeof(a), 4, &seed);
	unsigned same = 0;
	for (size_t i = 4; i < sizeof(a); i++)
		same += a[i] == 0xaa;
	ok(memcmp(a, b, 4) == 0 && same < 4, "garbage keeps the prefix, changes the rest (%u same)",
	   same);
	uint8_t c[4] = { 1, 2, 3, 4 };
	serve_fault_garble(c, 4, 4, &seed);
	ok(c[0] == 1 && c[3] == 4, "a reply no longer than the prefix stays");
}

static void test_line(void)
{
	struct serve_fault_line l = { 0 };
	struct serve_fault_turn a = { 0 }, b = { 0 }, c = { 0 };

	ok(serve_fault_line_pop(&l, 100) == NULL, "an empty line has no turn");
	ok(serve_fault_line_add(&l, &a, 10), "the first turn is the head: arm the timer");
	ok(!serve_fault_line_add(&l, &b, 20) && !serve_fault_line_add(&l, &c, 30),
	   "later turns queue behind it");
	ok(serve_fault_line_pop(&l, 9) == NULL, "nothing is due early");
	serve_fault_line_remove(&l, &b);
	ok(!b.queued && l.head == &a && l.tail == &c, "a turn leaves from the middle");
	serve_fault_line_remove(&l, &b);
	ok(l.head == &a && l.tail == &c, "removing it twice changes nothing");
	ok(serve_fault_line_pop(&l, 30) == &a && serve_fault_line_pop(&l, 30) == &c &&
	   serve_fault_line_pop(&l, 30) == NULL && !l.head && !l.tail && !a.queued,
	   "due turns come out in order, the line ends empty");
}

int main(void)
{
	test_options();
	test_check();
	test_decisions();
	test_line();
	return tap_done();
}
