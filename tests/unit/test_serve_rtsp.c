/* serve_rtsp's pure pieces: request parsing (hostile input included), track
 * URLs, Transport negotiation and the RTP packets it builds. */
#include <errno.h>
#include <string.h>

#include "serve_rtsp.h"
#include "tap.h"

static long parse(const char *s, struct serve_rtsp_request *r)
{
	return serve_rtsp_parse((const uint8_t *)s, strlen(s), r);
}

static void test_parse(void)
{
	struct serve_rtsp_request r;
	const char *req = "SETUP rtsp://h/live/track0 RTSP/1.0\r\nCSeq: 3\r\n"
			  "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\nSession: abc;timeout=60\r\n\r\n";
	long n = parse(req, &r);
	is_int(n, (long)strlen(req), "whole request consumed");
	ok(strcmp(r.method, "SETUP") == 0, "method");
	ok(r.url_len == 20 && memcmp(r.url, "rtsp://h/live/track0", 20) == 0, "url");
	is_int(r.cseq, 3, "CSeq");
	ok(r.session && r.session_len == 3 && memcmp(r.session, "abc", 3) == 0, "Session id without params");
	ok(r.transport && r.transport_len == 35 && memcmp(r.transport, "RTP/AVP/TCP;unicast;interleaved=0-1", 35) == 0, "Transport value");

	/* Split input: need more, never a partial parse */
	for (size_t cut = 1; cut < strlen(req); cut++) {
		if (serve_rtsp_parse((const uint8_t *)req, cut, &r) != 0) {
			ok(0, "prefix of %zu bytes needs more", cut);
			break;
		}
	}
	ok(1, "every prefix needs more input");

	/* A body is part of the message */
	const char *body = "SET_PARAMETER rtsp://h/ RTSP/1.0\r\nCSeq: 9\r\nContent-Length: 4\r\n\r\nabcdNEXT";
	is_int(parse(body, &r), (long)strlen(body) - 4, "Content-Length body included, next message left");
	is_int(serve_rtsp_parse((const uint8_t *)body, strlen(body) - 6, &r), 0, "partial body needs more");

	/* Missing CSeq is parsed (the caller answers 400) */
	is_int(parse("OPTIONS * RTSP/1.0\r\n\r\n", &r) > 0, 1, "no CSeq still parses");
	is_int(r.cseq, -1, "missing CSeq is -1");
	parse("OPTIONS * RTSP/1.0\r\nCSeq: x1\r\n\r\n", &r);
	is_int(r.cseq, -1, "non-numeric CSeq is -1");

	/* Hostile */
	is_int(parse("GET / HTTP/1.1\r\nHost: x\r\n\r\n", &r), -EINVAL, "HTTP refused");
	is_int(parse("options * RTSP/1.0\r\n\r\n", &r), -EINVAL, "lower-case method refused");
	is_int(parse("OPTIONS * RTSP/1.0\r\nno colon here\r\n\r\n", &r), -EINVAL, "header without colon");
	is_int(parse("OPTIONS * RTSP/1.0\r\nContent-Length: -1\r\n\r\n", &r), -EINVAL, "negative length");
	is_int(parse("OPTIONS * RTSP/1.0\r\nContent-Length: 999999999\r\n\r\n", &r), -EINVAL, "huge length");
	is_int(parse("OPTIONSOPTIONSOPTIONS * RTSP/1.0\r\n\r\n", &r), -EINVAL, "overlong method");
	is_int(parse("\x16\x03\x01\x02", &r), -EINVAL, "TLS hello refused at once");
	is_int(parse("OPT", &r), 0, "a method prefix waits");
	is_int(parse("OPTIONS * RTSP", &r), 0, "a request line prefix waits");
	static uint8_t big[SERVE_RTSP_MAX_HEAD + 10];
	memcpy(big, "OPTIONS * RTSP/1.0\r\nX: ", 23);
	memset(big + 23, 'a', sizeof(big) - 23);
	is_int(serve_rtsp_parse(big, sizeof(big), &r), -EMSGSIZE, "endless head refused at the limit");
}

static void test_tracks(void)
{
	const char *u[] = { "rtsp://h/live/track0", "rtsp://h/live/track7/", "rtsp://h/track12",
			    "rtsp://h/live", "rtsp://h/live/track", "rtsp://h/live/trackx", "rtsp://h/live/track1234",
			    "track3" };
	int want[] = { 0, 7, 12, -1, -1, -1, -1, -1 };
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		ok(serve_rtsp_track_of(u[i], strlen(u[i])) == want[i], "track of %s", u[i]);
	/* RTP-Info's track URLs: a PLAY of the Content-Base (".../cam/") names
	 * ".../cam/track0", never ".../cam//track0". */
	const char *b[] = { "rtsp://h/cam/", "rtsp://h/cam", "rtsp://h/cam//", "/", "" };
	size_t keep[] = { 12, 12, 12, 0, 0 };
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		ok(serve_rtsp_base_len(b[i], strlen(b[i])) == keep[i], "RTP-Info base of '%s' keeps %zu",
		   b[i], keep[i]);
}

static void test_transport(void)
{
	int ch = 99;
	const char *t = "RTP/AVP/TCP;unicast;interleaved=4-5";
	is_int(serve_rtsp_transport(t, strlen(t), &ch), 0, "TCP accepted");
	is_int(ch, 4, "its channel");
	t = "RTP/AVP;unicast;client_port=5000-5001, RTP/AVP/TCP;unicast;interleaved=2-3";
	is_int(serve_rtsp_transport(t, strlen(t), &ch) == 0 && ch == 2, 1, "TCP found among alternatives");
	t = "RTP/AVP/TCP;unicast";
	is_int(serve_rtsp_transport(t, strlen(t), &ch) == 0 && ch == -1, 1, "no channels named");
	t = "RTP/AVP;unicast;client_port=5000-5001";
	is_int(serve_rtsp_transport(t, strlen(t), &ch), -EPROTONOSUPPORT, "UDP only refused");
	t = "RTP/AVP/TCP;interleaved=300-301";
	is_int(serve_rtsp_transport(t, strlen(t), &ch), -EINVAL, "channel out of range");
	t = "RTP/AVP/TCP;interleaved=x";
	is_int(serve_rtsp_transport(t, strlen(t), &ch), -EINVAL, "channel not a number");
}

static void test_packet(void)
{
	uint8_t b[2000];
	long n = serve_rtsp_packet(b, sizeof(b), 2, 0xfffe, 0x01020304, 0xdeadbeef, 1200, 0);
	is_int(n, 1204, "frame = 4 + packet size");
	ok(b[0] == '$' && b[1] == 2 && (b[2] << 8 | b[3]) == 1200, "interleave header");
	ok(b[4] == 0x80 && b[5] == (0x80 | 96), "V=2, marker, PT 96");
	ok((b[6] << 8 | b[7]) == 0xfffe, "sequence number");
	ok(b[8] == 1 && b[9] == 2 && b[10] == 3 && b[11] == 4, "timestamp");
	ok(b[12] == 0xde && b[15] == 0xef, "SSRC");
	is_int(b[16] & 0x1f, 1, "non-key: a non-IDR slice");

	n = serve_rtsp_packet(b, sizeof(b), 0, 1, 0, 1, 64, 1);
	is_int(n, 68, "smallest keyframe packet");
	uint8_t *p = b + 16;
	is_int(p[0] & 0x1f, 24, "keyframe: STAP-A");
	/* walk the STAP-A: sizes must add up to the payload exactly */
	size_t off = 1, types = 0, total = 64 - 12;
	int idr = 0;
	while (off + 2 <= total) {
		size_t sz = (size_t)(p[off] << 8 | p[off + 1]);
		off += 2;
		if (sz == 0 || off + sz > total)
			break;
		types = types * 100 + (p[off] & 0x1f);
		idr |= (p[off] & 0x1f) == 5;
		off += sz;
	}
	is_int(off, total, "STAP-A sizes cover the payload exactly");
	is_int(types, 70805, "SPS, PPS, IDR in order");
	ok(idr, "IDR inside");

	is_int(serve_rtsp_packet(b, sizeof(b), 0, 1, 0, 1, 63, 0), -ENOSPC, "below the minimum size");
	is_int(serve_rtsp_packet(b, 100, 0, 1, 0, 1, 1200, 0), -ENOSPC, "buffer too small");
}

int main(void)
{
	test_parse();
	test_tracks();
	test_transport();
	test_packet();
	return tap_done();
}
