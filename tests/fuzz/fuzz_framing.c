/* framing_measure, the C framing kinds (fixed, u16, delimiter), on hostile
 * streams. The first bytes choose the kind and its settings as a scenario
 * could (size 1..256, a 1..16-byte delimiter, max_message 0 or small), one
 * more the read size. The stream is split as conn.c splits it, fed whole
 * and in reads of that size: both must give the same messages, each what
 * the kind defines, and the same end (malformed or a partial tail). */
#include "framing.h"
#include "fuzz.h"

#define MAX_MSGS 4096

struct split {
	size_t lens[MAX_MSGS];
	size_t n;
	int malformed;
};

/* Splits s into messages, k bytes per read, keeping the unconsumed tail. */
static void split(const struct options *o, const uint8_t *s, size_t len, size_t k,
		  struct split *out, uint8_t *buf)
{
	size_t have = 0, fed = 0;

	out->n = 0;
	out->malformed = 0;
	while (fed < len) {
		size_t take = len - fed < k ? len - fed : k;
		memcpy(buf + have, s + fed, take);
		have += take;
		fed += take;
		size_t off = 0;
		while (off < have) {
			long m = framing_measure(o, buf + off, have - off);
			FUZZ_CHECK(m >= 0 ? (size_t)m <= have - off : m == FRAMING_OVERSIZED);
			if (m == 0)
				break;
			if (m < 0) {
				out->malformed = 1;
				return;
			}
			FUZZ_CHECK(out->n < MAX_MSGS);
			out->lens[out->n++] = (size_t)m;
			off += (size_t)m;
		}
		memmove(buf, buf + off, have - off);
		have -= off;
	}
}

/* Each message is what its kind says it is. */
static void check_messages(const struct options *o, const uint8_t *s, const struct split *sp)
{
	size_t off = 0;
	for (size_t i = 0; i < sp->n; off += sp->lens[i++]) {
		const uint8_t *p = s + off;
		size_t m = sp->lens[i];
		switch (o->framing) {
		case FRAME_FIXED:
			FUZZ_CHECK(m == o->frame_size);
			break;
		case FRAME_U16:
			FUZZ_CHECK(m == ((size_t)p[0] << 8 | p[1]) + 2);
			break;
		case FRAME_DELIM:
			FUZZ_CHECK(m >= o->delim_len);
			FUZZ_CHECK(memcmp(p + m - o->delim_len, o->delim, o->delim_len) == 0);
			/* The first occurrence: no delimiter ends earlier. */
			FUZZ_CHECK(!memmem(p, m - 1, o->delim, o->delim_len));
			break;
		default:
			break;
		}
		FUZZ_CHECK(!o->max_message || o->framing == FRAME_FIXED || m <= o->max_message);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct split whole, chunked;
	struct options o = { 0 };

	uint8_t kind = fuzz_byte(&data, &size);
	uint8_t setting = fuzz_byte(&data, &size);
	uint8_t max = fuzz_byte(&data, &size);
	uint8_t k = fuzz_byte(&data, &size);
	switch (kind % 3) {
	case 0:
		o.framing = FRAME_FIXED;
		o.frame_size = (uint32_t)setting + 1;
		break;
	case 1:
		o.framing = FRAME_U16;
		break;
	default:
		o.framing = FRAME_DELIM;
		o.delim_len = (size_t)(setting % 16) + 1;
		for (size_t i = 0; i < o.delim_len; i++)
			o.delim[i] = (char)fuzz_byte(&data, &size);
		break;
	}
	o.max_message = max ? (uint32_t)max * 4 : 0;
	uint8_t *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	split(&o, data, size, size ? size : 1, &whole, buf);
	split(&o, data, size, (size_t)k % 64 + 1, &chunked, buf);
	check_messages(&o, data, &whole);
	FUZZ_CHECK(whole.n == chunked.n && whole.malformed == chunked.malformed);
	FUZZ_CHECK(memcmp(whole.lens, chunked.lens, whole.n * sizeof(whole.lens[0])) == 0);
	free(buf);
	return 0;
}
