/*
 * conn_list: an intrusive FIFO of a worker's connections, linked by slot
 * index through struct conn's prev/next. A connection is on at most one list
 * at a time, the one its state implies (conn.h says which), so one pair of
 * links serves them all and an idle connection pays 8 bytes for them.
 */
#ifndef SURGE_CONN_LIST_H
#define SURGE_CONN_LIST_H

#include <stdint.h>

#define CONN_LIST_NONE UINT32_MAX

struct conn;

struct conn_list {
	uint32_t head, tail; /* slot indices, CONN_LIST_NONE when empty */
};

void conn_list_init(struct conn_list *l);
/* Appends c (which must be on no list) at the tail. conns is the slot array. */
void conn_list_push(struct conn_list *l, struct conn *conns, struct conn *c);
/* Unlinks c from l (c must be on l). */
void conn_list_remove(struct conn_list *l, struct conn *conns, struct conn *c);

#endif
