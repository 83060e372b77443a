/* http_parse_response on hostile streams. The first bytes choose the limits
 * (HEAD or not, a small or the default head size and field count), one more
 * the read size. The stream is split as conn.c splits it, fed whole and in
 * reads of that size: both must give the same responses and the same end
 * (malformed, close-delimited, or a partial tail). Each response measures
 * the same alone as with bytes after it, and its counts fit inside it. */
#include "http_parse.h"
#include "fuzz.h"

#define MAX_MSGS 4096

struct split {
	size_t lens[MAX_MSGS];
	size_t n;
	int end; /* 0 partial or none, -1 malformed, 1 close-delimited tail */
};

static void split(const struct http_limits *lim, const uint8_t *s, size_t len, size_t k,
		  struct split *out, uint8_t *buf)
{
	size_t have = 0, fed = 0;
	struct http_response r;

	out->n = 0;
	out->end = 0;
	while (fed < len) {
		size_t take = len - fed < k ? len - fed : k;
		memcpy(buf + have, s + fed, take);
		have += take;
		fed += take;
		size_t off = 0;
		while (off < have) {
			long m = http_parse_response(buf + off, have - off, lim, &r);
			FUZZ_CHECK(m >= -1 && (m < 0 || (size_t)m <= have - off));
			if (m == 0) {
				FUZZ_CHECK(!r.until_close || (r.close && r.head_len <= have - off));
				out->end = r.until_close;
				break;
			}
			if (m < 0) {
				FUZZ_CHECK(r.why != NULL);
				out->end = -1;
				return;
			}
			FUZZ_CHECK(r.status >= 200 && r.status <= 599);
			FUZZ_CHECK(r.head_len <= (size_t)m && r.body_bytes <= (size_t)m - r.head_len);
			FUZZ_CHECK(!r.until_close);
			FUZZ_CHECK(r.length == 0 || r.length == (uint64_t)m);
			FUZZ_CHECK(out->n < MAX_MSGS);
			out->lens[out->n++] = (size_t)m;
			off += (size_t)m;
			out->end = 0;
		}
		memmove(buf, buf + off, have - off);
		have -= off;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct split whole, chunked;
	struct http_limits lim = { HTTP_MAX_HEAD_DEFAULT, HTTP_MAX_HEADERS_DEFAULT, false };
	struct http_response r;

	uint8_t setting = fuzz_byte(&data, &size);
	uint8_t k = fuzz_byte(&data, &size);
	lim.head = setting & 1;
	if (setting & 2) {
		lim.max_head = (uint32_t)(setting >> 2) * 4 + 16;
		lim.max_headers = setting >> 4;
	}
	uint8_t *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	split(&lim, data, size, size ? size : 1, &whole, buf);
	split(&lim, data, size, (size_t)k % 64 + 1, &chunked, buf);
	FUZZ_CHECK(whole.n == chunked.n && whole.end == chunked.end);
	FUZZ_CHECK(memcmp(whole.lens, chunked.lens, whole.n * sizeof(whole.lens[0])) == 0);
	/* A response is measured by its own bytes: alone it is the same. */
	size_t off = 0;
	for (size_t i = 0; i < whole.n; off += whole.lens[i++])
		FUZZ_CHECK(http_parse_response(data + off, whole.lens[i], &lim, &r) ==
			   (long)whole.lens[i]);
	free(buf);
	return 0;
}
