/*
 * http_stats: the counters an HTTP answer moves — http.status.<code> and its
 * class (http.status.2xx), http.body_bytes, http.closed_by_server — with each
 * counter's id looked up once per worker, not once per answer. Zeroed is
 * ready: an id is stored plus one, 0 meaning not looked up yet.
 */
#ifndef SURGE_HTTP_STATS_H
#define SURGE_HTTP_STATS_H

#include <stdint.h>

#include "http_parse.h"
#include "stats.h"

struct http_stats {
	uint16_t status[600]; /* by code, 100..599 */
	uint16_t class[6];    /* by first digit */
	uint16_t body, closed;
};

/* Counts one final answer: its status, class and body bytes. */
void http_stats_answer(struct http_stats *h, struct stats *s, const struct http_response *r);
/* Counts a connection the server ended (Connection: close, HTTP/1.0, a
 * close-delimited body, or an idle keep-alive connection closed). */
void http_stats_closed(struct http_stats *h, struct stats *s);

#endif
