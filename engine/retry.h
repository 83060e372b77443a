/*
 * retry: what a datagram protocol keeps of each request in flight so the
 * core can send it again without asking Lua: on the same socket, same bytes
 * and ID, when no answer came within retry_after (retries = N, as stub
 * resolvers do), or over TCP when the answer came truncated (fallback.h).
 * One copy per entry of the worker's inflight pool, indexed alike; a copy's
 * buffer stays with its slot and serves the next request there, so a steady
 * run allocates nothing.
 */
#ifndef SURGE_RETRY_H
#define SURGE_RETRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "late.h"

struct conn;
struct worker;

struct retry_copy {
	uint8_t *p;
	uint32_t len, cap;
	uint8_t tries;   /* times resent on its socket */
	uint8_t via_tcp; /* handed to the TCP fallback: no more datagram tries */
};

struct retry_table {
	struct retry_copy *e; /* by inflight index */
	uint32_t cap;
	/* Answers that may still come for requests already settled (answered
	 * or timed out after being resent), by connection and key: each is
	 * counted once as a late answer, not as an unmatched protocol error. */
	struct late_table late;
};

void retry_table_init(struct retry_table *t);
void retry_table_free(struct retry_table *t); /* frees every copy */

/* Keeps p[0, n) as the bytes of inflight entry i (tries 0). Returns 0 or
 * -ENOMEM. */
int retry_keep(struct retry_table *t, uint32_t i, const uint8_t *p, size_t n);

/* The copy of entry i, or NULL when none was kept. */
struct retry_copy *retry_copy_of(struct retry_table *t, uint32_t i);

/* Entry i of open datagram connection c waited retry_after unanswered.
 * Returns true when it was sent again (it stays in flight, now last in the
 * lists, its wait restarted) or c was closed trying (counted there); false
 * when it has no tries left: the caller expires it. */
bool retry_again(struct worker *w, struct conn *c, uint32_t i);

/* Entry i is settled: answered (answered true) or timed out. Its earlier
 * tries may still be answered: they become expected late answers. */
void retry_settled(struct worker *w, uint32_t i, bool answered);

/* A datagram on connection conn with key (0 when matched in order) matched
 * no request in flight: true when it is taken as the late answer to a try
 * of a request of conn with that key settled within the last request
 * timeout (counted <proto>.late_answers). */
bool retry_late_answer(struct worker *w, uint32_t conn, double key);

#endif
