/* framing: message boundaries for fixed, u16-prefixed and delimited streams,
 * fed whole, byte by byte, and hostile. */
#include <string.h>

#include "framing.h"
#include "tap.h"

static struct options fixed(uint32_t size)
{
	struct options o = { .framing = FRAME_FIXED, .frame_size = size };
	return o;
}

/* Splits a stream into messages, feeding it k bytes at a time as a reader
 * would (keeping the unconsumed tail). Returns the message count or -1. */
static int split(const struct options *o, const uint8_t *s, size_t n, size_t k, size_t *lens)
{
	uint8_t buf[4096];
	size_t have = 0, fed = 0;
	int count = 0;
	while (fed < n || have) {
		size_t take = n - fed < k ? n - fed : k;
		memcpy(buf + have, s + fed, take);
		have += take;
		fed += take;
		long m;
		while (have && (m = framing_measure(o, buf, have)) > 0) {
			lens[count++] = (size_t)m;
			memmove(buf, buf + m, have - (size_t)m);
			have -= (size_t)m;
		}
		if (have && framing_measure(o, buf, have) < 0)
			return -1;
		if (fed == n)
			break;
	}
	return have ? -2 : count;
}

int main(void)
{
	size_t lens[64];
	struct options o = fixed(4);
	is_int(framing_measure(&o, (const uint8_t *)"abc", 3), 0, "fixed: 3 of 4 bytes need more");
	is_int(framing_measure(&o, (const uint8_t *)"abcdef", 6), 4, "fixed: a message is 4 bytes");
	is_int(split(&o, (const uint8_t *)"aaaabbbbcccc", 12, 5, lens), 3, "fixed: 12 bytes in 5-byte reads = 3 messages");

	struct options u = { .framing = FRAME_U16, .max_message = 1 << 20 };
	const uint8_t dns[] = { 0, 3, 'a', 'b', 'c', 0, 0, 0, 1, 'x' };
	is_int(framing_measure(&u, dns, 1), 0, "u16: half a prefix needs more");
	is_int(framing_measure(&u, dns, 4), 0, "u16: a partial body needs more");
	is_int(framing_measure(&u, dns, sizeof(dns)), 5, "u16: message includes its prefix");
	for (size_t k = 1; k <= sizeof(dns); k++) {
		int c = split(&u, dns, sizeof(dns), k, lens);
		if (!ok(c == 3 && lens[0] == 5 && lens[1] == 2 && lens[2] == 3, "u16: %zu-byte reads give 5, 2, 3", k))
			diag("got %d", c);
	}
	const uint8_t big[] = { 0xff, 0xff };
	is_int(framing_measure(&u, big, 2), 0, "u16: a 65535-byte message is legal, needs more");
	u.max_message = 512;
	is_int(framing_measure(&u, big, 2), FRAMING_OVERSIZED,
	       "u16: longer than max_message is oversized at once, not after the bytes");

	struct options d = { .framing = FRAME_DELIM, .delim = "\r\n", .delim_len = 2, .max_message = 16 };
	const char *lines = "OK\r\nSECOND LINE\r\n";
	is_int(framing_measure(&d, (const uint8_t *)lines, 3), 0, "delim: no delimiter yet");
	is_int(framing_measure(&d, (const uint8_t *)lines, strlen(lines)), 4, "delim: message includes the delimiter");
	for (size_t k = 1; k <= 5; k++) {
		int c = split(&d, (const uint8_t *)lines, strlen(lines), k, lens);
		ok(c == 2 && lens[0] == 4 && lens[1] == 13, "delim: %zu-byte reads (delimiter split across reads)", k);
	}
	const char *endless = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
	is_int(framing_measure(&d, (const uint8_t *)endless, strlen(endless)), FRAMING_OVERSIZED,
	       "delim: no delimiter within max_message is oversized, not a hang");
	const char *long_line = "xxxxxxxxxxxxxxxxxxxx\r\n";
	is_int(framing_measure(&d, (const uint8_t *)long_line, strlen(long_line)), FRAMING_OVERSIZED,
	       "delim: a whole line longer than max_message in one read is oversized too");
	return tap_done();
}
