/*
 * inflight: the requests a worker has sent and not yet seen answered. Entries
 * come from one pool per worker (grown on demand, never shrunk, so memory
 * follows the peak number in flight, not the number of connections) and sit
 * in two lists at once, both in send order: their connection's (what an
 * answer is matched against) and the worker's (what times out first). Every
 * request waits for the same timeout, so the worker's oldest entry is the
 * next deadline: push, remove and "what expires next" are all O(1).
 */
#ifndef SURGE_INFLIGHT_H
#define SURGE_INFLIGHT_H

#include <stdint.h>

#define INFLIGHT_NONE UINT32_MAX

struct inflight {
	double key;        /* match="key": what the response must carry */
	uint64_t intended; /* when the schedule wanted it sent (ns) */
	uint64_t sent;     /* when its last byte was handed to the kernel (ns);
			      until then, when it was queued */
	uint32_t end;      /* its last byte's place in the connection's output
			      (bytes queued, wrapping): answerable once written */
	uint32_t conn;     /* owning connection's slot */
	uint32_t cprev, cnext; /* the connection's list */
	uint32_t wprev, wnext; /* the worker's list */
};

/* A connection's requests, oldest first (INFLIGHT_NONE when empty). */
struct inflight_list {
	uint32_t first, last;
};

struct inflight_pool {
	struct inflight *e;
	uint32_t cap;
	uint32_t free;         /* head of the free entries, linked through cnext */
	struct inflight_list all; /* the worker's list, linked through wprev/wnext */
};

/* An empty pool or list. */
void inflight_pool_init(struct inflight_pool *p);
void inflight_list_init(struct inflight_list *l);
void inflight_pool_free(struct inflight_pool *p);

/* Appends a new entry for connection conn to l and to the worker's list.
 * Returns its index, or INFLIGHT_NONE when the pool cannot grow (ENOMEM).
 * Indices stay valid across growth; pointers into p->e do not. */
uint32_t inflight_push(struct inflight_pool *p, struct inflight_list *l, uint32_t conn);

/* Unlinks entry i from l and from the worker's list and frees it. */
void inflight_remove(struct inflight_pool *p, struct inflight_list *l, uint32_t i);

/* Moves entry i (of l) to the end of l and of the worker's list, as if sent
 * now: a datagram resent (retry.h) waits its turn behind the others again.
 * Its index stays the same. */
void inflight_requeue(struct inflight_pool *p, struct inflight_list *l, uint32_t i);

/* Moves entry i to the end of the worker's list only, as its `sent` was just
 * set to now: the worker's list stays in `sent` order, its connection's in
 * output order. */
void inflight_resent(struct inflight_pool *p, uint32_t i);

/* The worker's oldest entry (INFLIGHT_NONE when nothing is in flight). */
static inline uint32_t inflight_oldest(const struct inflight_pool *p)
{
	return p->all.first;
}

#endif
