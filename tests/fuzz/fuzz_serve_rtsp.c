/* serve_rtsp_parse on hostile requests: a length within the input, 0 (need
 * more), -EINVAL or -EMSGSIZE; never a read past the input (an exact-size
 * copy for ASan). What parses has its pointers inside the input, and its
 * URL and Transport go through the track and transport parsers. */
#include <errno.h>

#include "fuzz.h"
#include "serve_rtsp.h"

static int inside(const uint8_t *in, size_t len, const char *p, size_t n)
{
	return (const uint8_t *)p >= in && (const uint8_t *)p + n <= in + len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct serve_rtsp_request r;
	uint8_t *in = malloc(size ? size : 1);
	int rtp;

	if (!in)
		return 0;
	memcpy(in, data, size);
	long n = serve_rtsp_parse(in, size, &r);
	FUZZ_CHECK(n == 0 || n == -EINVAL || n == -EMSGSIZE || (n > 0 && (size_t)n <= size));
	if (n > 0) {
		FUZZ_CHECK(r.length == (size_t)n);
		FUZZ_CHECK(r.method[0] && memchr(r.method, '\0', sizeof(r.method)));
		FUZZ_CHECK(inside(in, size, r.url, r.url_len));
		FUZZ_CHECK(!r.session || inside(in, size, r.session, r.session_len));
		FUZZ_CHECK(!r.transport || inside(in, size, r.transport, r.transport_len));
		int track = serve_rtsp_track_of(r.url, r.url_len);
		FUZZ_CHECK(track >= -1);
		if (r.transport) {
			int rc = serve_rtsp_transport(r.transport, r.transport_len, &rtp);
			FUZZ_CHECK(rc == 0 || rc == -EPROTONOSUPPORT || rc == -EINVAL);
			FUZZ_CHECK(rc < 0 || rtp >= -1);
		}
	}
	/* The raw input as a URL and as a Transport value too. */
	(void)serve_rtsp_track_of((const char *)in, size);
	(void)serve_rtsp_transport((const char *)in, size, &rtp);
	free(in);
	return 0;
}
