/* http_parse: every framing path (Content-Length, chunked with trailers,
 * close-delimited, no body for HEAD/1xx/204/304), each cut at every byte,
 * and hostile responses (huge heads, lying lengths, bad chunk sizes). */
#include <stdio.h>
#include <string.h>

#include "http_parse.h"
#include "tap.h"

static const struct http_limits LIM = { HTTP_MAX_HEAD_DEFAULT, HTTP_MAX_HEADERS_DEFAULT, false };

static long parse(const char *s, size_t n, const struct http_limits *lim, struct http_response *r)
{
	return http_parse_response((const uint8_t *)s, n, lim, r);
}

/* Every prefix of a whole response needs more bytes, the whole is one
 * message of its length, and so is the whole with more bytes after it. */
static void whole(const char *name, const char *s, const struct http_limits *lim, int status,
		  bool close, uint64_t body)
{
	size_t n = strlen(s);
	struct http_response r;
	char buf[8192];
	int prefixes_ok = 1;

	for (size_t k = 0; k < n; k++)
		if (parse(s, k, lim, &r) != 0)
			prefixes_ok = 0;
	ok(prefixes_ok, "%s: every cut needs more", name);
	is_int(parse(s, n, lim, &r), n, name);
	is_int(r.status, status, "  status");
	is_int(r.close, close, "  connection ends after it");
	is_int(r.body_bytes, body, "  body bytes");
	ok(r.length == 0 || r.length == n, "  its length, when the head gives it, is the whole");
	snprintf(buf, sizeof(buf), "%sHTTP/1.1 200 OK\r\n", s);
	is_int(parse(buf, strlen(buf), lim, &r), n, "  followed by the next response");
}

static void malformed(const char *name, const char *s, size_t n, const struct http_limits *lim,
		      const char *why)
{
	struct http_response r;
	long m = parse(s, n, lim, &r);
	is_int(m, -1, name);
	ok(m != -1 || (r.why && strcmp(r.why, why) == 0), "  why: %s (got %s)", why,
	   r.why ? r.why : "none");
}

/* RFC 9110 5.6.2: a header name is tchars; each of the 256 bytes inside one
 * is taken or refused as the grammar says, and a control byte in a value is
 * refused wherever it stands. */
static void name_bytes(void)
{
	static const char extra[] = "!#$%&'*+-.^_`|~";
	char buf[128];
	struct http_response r;
	int wrong = 0;

	for (int b = 0; b < 256; b++) {
		bool tchar = (b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') ||
			     (b >= 'A' && b <= 'Z') || (b && strchr(extra, b));
		int n = snprintf(buf, sizeof(buf), "HTTP/1.1 200 OK\r\nX%cY: v\r\n", b);
		static const char rest[] = "Content-Length: 0\r\n\r\n";
		memcpy(buf + n, rest, sizeof(rest) - 1);
		long m = parse(buf, (size_t)n + sizeof(rest) - 1, &LIM, &r);
		/* "X:Y: v" is the name X with the value "Y: v". */
		if ((m > 0) != (tchar || b == ':')) {
			diag("byte 0x%02x in a name: parsed %ld", b, m);
			wrong++;
		}
	}
	is_int(wrong, 0, "a name takes exactly the tchars");
	wrong = 0;
	for (int b = 0; b < 256; b++) { /* obs-text, 0x80 up, is allowed */
		bool ctl = (b < 0x20 && b != '\t') || b == 0x7f;
		for (int at = 0; at < 40; at += 13) {
			static const char start[] = "HTTP/1.1 200 OK\r\nX: ",
					  rest[] = "\r\nContent-Length: 0\r\n\r\n";
			size_t n = sizeof(start) - 1;
			memcpy(buf, start, n);
			memset(buf + n, 'a', 40);
			buf[n + (size_t)at] = (char)b;
			memcpy(buf + n + 40, rest, sizeof(rest) - 1);
			long m = parse(buf, n + 40 + sizeof(rest) - 1, &LIM, &r);
			if (b == '\n' || b == '\r' ? false : ctl ? m != -1 : m <= 0) {
				diag("byte 0x%02x at %d in a value: parsed %ld", b, at, m);
				wrong++;
			}
		}
	}
	is_int(wrong, 0, "a value refuses exactly the control bytes, wherever they stand");
}

int main(void)
{
	name_bytes();
	struct http_response r;
	struct http_limits head = LIM;
	head.head = true;

	whole("content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: x\r\n\r\nhello",
	      &LIM, 200, false, 5);
	whole("no reason phrase", "HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n", &LIM, 404, false, 0);
	whole("bare LF line ends", "HTTP/1.1 200 OK\nContent-Length: 2\n\nhi", &LIM, 200, false, 2);
	whole("chunked with trailers",
	      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	      "5;ext=1\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Sum: 1\r\n\r\n",
	      &LIM, 200, false, 31);
	whole("chunk sizes with leading zeros (7.1: 1*HEXDIG)",
	      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	      "00000000000000005\r\nhello\r\n000000000000000000000000000000000001a;x=1\r\n"
	      "abcdefghijklmnopqrstuvwxyz\r\n00000000000000000\r\n\r\n", &LIM, 200, false, 31);
	whole("chunked after gzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
	      "2\r\nzz\r\n0\r\n\r\n", &LIM, 200, false, 2);
	whole("connection: close", "HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\n"
	      "Content-Length: 1\r\n\r\nx", &LIM, 200, true, 1);
	whole("HTTP/1.0 closes", "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx", &LIM, 200, true, 1);
	whole("HTTP/1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n"
	      "Content-Length: 1\r\n\r\nx", &LIM, 200, false, 1);
	whole("204 has no body", "HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n", &LIM, 204,
	      false, 0);
	whole("304 has no body", "HTTP/1.1 304 Not Modified\r\n\r\n", &LIM, 304, false, 0);
	whole("HEAD has no body", "HTTP/1.1 200 OK\r\nContent-Length: 612\r\n\r\n", &head, 200,
	      false, 0);
	whole("interim 100 then the answer", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early\r\n"
	      "Link: x\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok", &LIM, 201, false, 2);
	whole("equal content-length list", "HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\nabc",
	      &LIM, 200, false, 3);

	/* Who ends the connection: the server when it says so, surge alone
	 * after a body framed by both lengths (6.3 p.3). */
	const char *cc = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx";
	parse(cc, strlen(cc), &LIM, &r);
	ok(r.close && r.server_closes, "connection: close: the server ends it");
	const char *h10 = "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx";
	parse(h10, strlen(h10), &LIM, &r);
	ok(r.close && r.server_closes, "HTTP/1.0: the server ends it");
	const char *clte = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n"
			   "\r\n5\r\nhello\r\n0\r\n\r\n";
	is_int(parse(clte, strlen(clte), &LIM, &r), strlen(clte),
	       "content-length and chunked: chunked frames it");
	ok(r.close && !r.server_closes, "  surge closes after it, the server did not say so");
	const char *ka = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx";
	parse(ka, strlen(ka), &LIM, &r);
	ok(!r.close && !r.server_closes, "keep-alive: nobody ends it");

	/* Close-delimited: never whole; the head says so once it is complete. */
	const char *cd = "HTTP/1.1 200 OK\r\nServer: x\r\n\r\nall of it";
	is_int(parse(cd, strlen(cd), &LIM, &r), 0, "close-delimited: needs the end of stream");
	ok(r.until_close && r.close && r.server_closes && r.status == 200,
	   "  until_close, the server closes, status 200");
	is_int(r.head_len, 30, "  head length");
	is_int(parse(cd, 20, &LIM, &r), 0, "  a cut head: more");
	ok(!r.until_close, "  and not yet until_close");
	const char *te = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzz";
	is_int(parse(te, strlen(te), &LIM, &r), 0, "transfer-encoding not chunked: until close");
	ok(r.until_close, "  until_close");

	/* Hostile. */
	malformed("garbage", "garbage", 7, &LIM, "bad status line");
	malformed("garbage at once", "X", 1, &LIM, "bad status line");
	malformed("HTTP/2", "HTTP/2.0 200 OK\r\n\r\n", 19, &LIM, "bad status line");
	malformed("short status", "HTTP/1.1 20 OK\r\n\r\n", 18, &LIM, "bad status line");
	malformed("status 600", "HTTP/1.1 600 X\r\n\r\n", 18, &LIM, "bad status");
	malformed("101 unasked", "HTTP/1.1 101 Switching\r\n\r\n", 26, &LIM, "unexpected 101");
	malformed("space before colon", "HTTP/1.1 200 OK\r\nContent-Length : 1\r\n\r\nx", 40, &LIM,
		  "bad header");
	malformed("obs-fold", "HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n", 29, &LIM, "bad header");
	malformed("NUL in a value", "HTTP/1.1 200 OK\r\nA: b\0c\r\n\r\n", 27, &LIM, "bad header");
	malformed("two content-lengths", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
		  "Content-Length: 2\r\n\r\nxy", 59, &LIM, "bad content-length");
	malformed("negative content-length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 40,
		  &LIM, "bad content-length");
	malformed("empty content-length", "HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\nhello", 42,
		  &LIM, "bad content-length");
	malformed("content-length of only a comma", "HTTP/1.1 200 OK\r\nContent-Length: ,\r\n\r\n"
		  "hello", 43, &LIM, "bad content-length");
	malformed("an empty content-length after a valid one", "HTTP/1.1 200 OK\r\n"
		  "Content-Length: 5\r\nContent-Length:\r\n\r\nhello", 60, &LIM,
		  "bad content-length");
	malformed("content-length past 2^62", "HTTP/1.1 200 OK\r\nContent-Length: "
		  "99999999999999999999\r\n\r\n", 57, &LIM, "bad content-length");
	const char *bc = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
	malformed("chunk size not hex", bc, strlen(bc), &LIM, "bad chunk size");
	const char *big = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
			  "fffffffffffffffff\r\n";
	malformed("chunk size of 17 digits", big, strlen(big), &LIM, "bad chunk size");
	const char *big0 = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
			   "0000fffffffffffffffff\r\n";
	malformed("  17 significant digits after zeros", big0, strlen(big0), &LIM, "bad chunk size");
	const char *lim62 = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
			    "4000000000000001\r\n";
	malformed("  16 digits past 2^62", lim62, strlen(lim62), &LIM, "bad chunk size");
	const char *lie = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n";
	malformed("chunk longer than its size", lie, strlen(lie), &LIM, "bad chunk");

	/* Limits: a head that never ends, too many fields, in trailers too. */
	static char huge[70000];
	memcpy(huge, "HTTP/1.1 200 OK\r\nX: ", 20);
	memset(huge + 20, 'a', sizeof(huge) - 20);
	malformed("head past 64 KiB", huge, sizeof(huge), &LIM, "header too large");
	is_int(parse(huge, 60000, &LIM, &r), 0, "  60 KB of it: still waiting");
	struct http_limits small = { 64, 3, false };
	malformed("head past max_head", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Long-Header: "
		  "aaaaaaaaaaaaaaaaa\r\n\r\n", 73, &small, "header too large");
	malformed("status line past max_head", huge, 100, &small, "header too large");
	malformed("4 fields, 3 allowed", "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n",
		  47, &small, "too many headers");
	const char *tr = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA: 1\r\nB: 2\r\n"
			 "C: 3\r\nD: 4\r\n\r\n";
	malformed("4 trailers, 3 allowed", tr, strlen(tr), &small, "too many headers");
	is_int(parse("HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\nabc", 47, &LIM, &r), 0,
	       "a length larger than what came: waits");
	is_int(r.length, 1000044, "  and says the whole length (the engine refuses it past max_message)");
	return tap_done();
}
