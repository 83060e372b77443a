/*
 * backlog: the open model's requests that fell due while no connection had
 * room, as their intended times, oldest first, in a ring of fixed capacity
 * (the scenario's `backlog`, per worker). Emptied, the ring starts over at
 * its first slot: a head that only moved on would touch a new page of the
 * array (100000 slots, 800 KB) every 512 requests that waited — resident
 * memory that grew for as long as the run went on.
 */
#ifndef SURGE_BACKLOG_H
#define SURGE_BACKLOG_H

#include <stdbool.h>
#include <stdint.h>

struct backlog {
	uint64_t *due; /* intended times (absolute ns) */
	uint32_t head, len, cap;
};

/* cap 0 holds one. 0 or -ENOMEM. */
int backlog_init(struct backlog *b, uint32_t cap);
void backlog_free(struct backlog *b);

/* False when full: the caller counts the request as dropped. */
static inline bool backlog_push(struct backlog *b, uint64_t due)
{
	if (b->len == b->cap)
		return false;
	b->due[(b->head + b->len) % b->cap] = due;
	b->len++;
	return true;
}

/* The oldest; the ring must not be empty. */
static inline uint64_t backlog_pop(struct backlog *b)
{
	uint64_t due = b->due[b->head];

	b->head = --b->len ? (b->head + 1) % b->cap : 0;
	return due;
}

/* Forgets them all; returns how many there were. */
static inline uint32_t backlog_clear(struct backlog *b)
{
	uint32_t n = b->len;

	b->len = b->head = 0;
	return n;
}
#endif
