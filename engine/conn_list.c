/* conn_list: intrusive FIFOs of connection slots. */
#include "conn_list.h"

#include "conn.h"

void conn_list_init(struct conn_list *l)
{
	l->head = l->tail = CONN_LIST_NONE;
}

void conn_list_push(struct conn_list *l, struct conn *conns, struct conn *c)
{
	c->next = CONN_LIST_NONE;
	c->prev = l->tail;
	if (l->tail != CONN_LIST_NONE)
		conns[l->tail].next = c->id;
	else
		l->head = c->id;
	l->tail = c->id;
}

void conn_list_remove(struct conn_list *l, struct conn *conns, struct conn *c)
{
	if (c->prev != CONN_LIST_NONE)
		conns[c->prev].next = c->next;
	else
		l->head = c->next;
	if (c->next != CONN_LIST_NONE)
		conns[c->next].prev = c->prev;
	else
		l->tail = c->prev;
	c->prev = c->next = CONN_LIST_NONE;
}
