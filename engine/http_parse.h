/*
 * http_parse: where one HTTP/1.1 response ends in a byte stream (RFC 9112),
 * and what the engine needs from it: the status, whether the connection
 * ends after it, and how many body bytes it carried. Pure: no allocation,
 * no state between calls; a partial response is measured again from its
 * start when more bytes arrive.
 */
#ifndef SURGE_HTTP_PARSE_H
#define SURGE_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limits on one response head (status line + header fields, or a chunked
 * body's trailer section): beyond them the response is malformed. */
struct http_limits {
	uint32_t max_head;    /* bytes, CRLFs included */
	uint32_t max_headers; /* header (or trailer) fields */
	bool head;            /* the request was HEAD: no response carries a body */
};

#define HTTP_MAX_HEAD_DEFAULT 65536
#define HTTP_MAX_HEADERS_DEFAULT 100

struct http_response {
	uint16_t status;     /* the final (non-1xx) status */
	uint8_t minor;       /* HTTP/1.<minor> */
	bool close;          /* the connection ends after this response */
	bool server_closes;  /* close, because the server ends it (Connection: close,
				HTTP/1.0, a close-delimited body); a suspect framing
				surge itself closes after sets only close */
	bool until_close;    /* the body runs to the end of the connection (RFC 9112 6.3 p.8) */
	uint32_t head_len;   /* bytes before the body, interim 1xx responses included */
	uint64_t body_bytes; /* payload bytes (chunked: the chunks' data only) */
	uint64_t length;     /* the whole response's length once its head gives it
				(Content-Length, or no body), else 0 */
	const char *why;     /* malformed: a short reason, fit for a counter name */
};

/* Measures the response at p (n bytes available). Returns > 0 the length of
 * one whole response (any interim 1xx responses before it included), 0 when
 * more bytes are needed, -1 when malformed (r->why says how). On 0 with
 * r->until_close set, the head is complete and the body ends where the
 * connection does: at end of stream the whole n bytes are the response.
 * r is filled on every return. */
long http_parse_response(const uint8_t *p, size_t n, const struct http_limits *lim,
			 struct http_response *r);

#endif
