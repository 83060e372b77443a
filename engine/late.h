/*
 * late: the answers still owed to requests already settled. A request sent
 * again (retries) and then answered, or timed out, may yet get an answer
 * for each try that went unanswered: those are late answers, counted apart
 * from answers nobody asked for. Each owed answer is kept under its
 * connection and its key (a DNS ID), for one request timeout (at least 1 s,
 * retry.c), so an answer
 * with an ID surge never sent is not taken for one.
 * Open addressing, linear probing; an entry whose answers are all taken or
 * whose time is over is dead, and dead entries go when the table grows.
 */
#ifndef SURGE_LATE_H
#define SURGE_LATE_H

#include <stdbool.h>
#include <stdint.h>

struct late_entry {
	double key;     /* the request's key; 0 when matched in order */
	uint64_t until; /* ns: an answer after this is not taken as one of these */
	uint32_t conn;  /* the connection's slot */
	uint32_t owed;  /* answers still expected; 0: dead (or never used) */
};

struct late_table {
	struct late_entry *e;
	uint32_t cap;  /* a power of two, or 0 */
	uint32_t used; /* entries ever filled since the last rebuild, dead ones too */
};

void late_init(struct late_table *t);
void late_free(struct late_table *t);

/* Connection conn's request with key settled: up to `answers` more answers
 * may come for it until `until`. Returns 0 or -ENOMEM (the answers will then
 * count as unmatched). */
int late_expect(struct late_table *t, uint32_t conn, double key, uint32_t answers,
		uint64_t until, uint64_t now);

/* An answer on conn with key matched no request in flight: true when one
 * was owed (now taken), false when nothing was owed to it. */
bool late_take(struct late_table *t, uint32_t conn, double key, uint64_t now);

#endif
