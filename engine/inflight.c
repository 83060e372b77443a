/* inflight: one pool of request entries per worker, each in two lists. */
#include "inflight.h"

#include <stdlib.h>

#define INFLIGHT_FIRST_CAP 256

void inflight_list_init(struct inflight_list *l)
{
	l->first = l->last = INFLIGHT_NONE;
}

void inflight_pool_init(struct inflight_pool *p)
{
	p->e = NULL;
	p->cap = 0;
	p->free = INFLIGHT_NONE;
	inflight_list_init(&p->all);
}

void inflight_pool_free(struct inflight_pool *p)
{
	free(p->e);
	inflight_pool_init(p);
}

static int grow(struct inflight_pool *p)
{
	uint64_t cap = p->cap ? (uint64_t)p->cap * 2 : INFLIGHT_FIRST_CAP;

	if (cap >= INFLIGHT_NONE)
		return -1;
	struct inflight *e = realloc(p->e, cap * sizeof(*e));
	if (!e)
		return -1;
	/* New entries join the free list in index order. */
	for (uint64_t i = cap; i-- > p->cap;) {
		e[i].cnext = p->free;
		p->free = (uint32_t)i;
	}
	p->e = e;
	p->cap = (uint32_t)cap;
	return 0;
}

/* Puts entry i last in its connection's list and in the worker's: both
 * stay in send order. */
static void link_last(struct inflight_pool *p, struct inflight_list *l, uint32_t i)
{
	struct inflight *f = &p->e[i];

	f->cprev = l->last;
	f->cnext = INFLIGHT_NONE;
	if (l->last != INFLIGHT_NONE)
		p->e[l->last].cnext = i;
	else
		l->first = i;
	l->last = i;
	f->wprev = p->all.last;
	f->wnext = INFLIGHT_NONE;
	if (p->all.last != INFLIGHT_NONE)
		p->e[p->all.last].wnext = i;
	else
		p->all.first = i;
	p->all.last = i;
}

uint32_t inflight_push(struct inflight_pool *p, struct inflight_list *l, uint32_t conn)
{
	if (p->free == INFLIGHT_NONE && grow(p) < 0)
		return INFLIGHT_NONE;
	uint32_t i = p->free;
	struct inflight *f = &p->e[i];

	p->free = f->cnext;
	f->conn = conn;
	link_last(p, l, i);
	return i;
}

/* Takes entry i out of both lists, leaving it allocated. */
static void unlink_entry(struct inflight_pool *p, struct inflight_list *l, uint32_t i)
{
	struct inflight *f = &p->e[i];

	if (f->cprev != INFLIGHT_NONE)
		p->e[f->cprev].cnext = f->cnext;
	else
		l->first = f->cnext;
	if (f->cnext != INFLIGHT_NONE)
		p->e[f->cnext].cprev = f->cprev;
	else
		l->last = f->cprev;
	if (f->wprev != INFLIGHT_NONE)
		p->e[f->wprev].wnext = f->wnext;
	else
		p->all.first = f->wnext;
	if (f->wnext != INFLIGHT_NONE)
		p->e[f->wnext].wprev = f->wprev;
	else
		p->all.last = f->wprev;
}

void inflight_remove(struct inflight_pool *p, struct inflight_list *l, uint32_t i)
{
	unlink_entry(p, l, i);
	p->e[i].cnext = p->free;
	p->free = i;
}

void inflight_requeue(struct inflight_pool *p, struct inflight_list *l, uint32_t i)
{
	unlink_entry(p, l, i);
	link_last(p, l, i);
}

void inflight_resent(struct inflight_pool *p, uint32_t i)
{
	struct inflight *f = &p->e[i];

	if (p->all.last == i)
		return;
	if (f->wprev != INFLIGHT_NONE)
		p->e[f->wprev].wnext = f->wnext;
	else
		p->all.first = f->wnext;
	p->e[f->wnext].wprev = f->wprev; /* not last: it has a next */
	f->wprev = p->all.last;
	f->wnext = INFLIGHT_NONE;
	p->e[p->all.last].wnext = i;
	p->all.last = i;
}
