/* inflight: entries in two send-ordered lists; growth keeps indices. */
#include <stdlib.h>

#include "inflight.h"
#include "tap.h"

static int list_len(const struct inflight_pool *p, const struct inflight_list *l)
{
	int n = 0;
	for (uint32_t i = l->first; i != INFLIGHT_NONE; i = p->e[i].cnext)
		n++;
	return n;
}

static int all_len(const struct inflight_pool *p)
{
	int n = 0;
	for (uint32_t i = p->all.first; i != INFLIGHT_NONE; i = p->e[i].wnext)
		n++;
	return n;
}

int main(void)
{
	struct inflight_pool p;
	struct inflight_list a, b;
	uint32_t ia[1000], ib[1000];

	inflight_pool_init(&p);
	inflight_list_init(&a);
	inflight_list_init(&b);
	is_int(inflight_oldest(&p), INFLIGHT_NONE, "empty pool: nothing is oldest");

	/* Interleaved sends on two connections, past several growths. */
	for (int i = 0; i < 1000; i++) {
		ia[i] = inflight_push(&p, &a, 1);
		p.e[ia[i]].sent = (uint64_t)(2 * i);
		ib[i] = inflight_push(&p, &b, 2);
		p.e[ib[i]].sent = (uint64_t)(2 * i + 1);
	}
	ok(ia[999] != INFLIGHT_NONE && ib[999] != INFLIGHT_NONE, "2000 entries pushed");
	is_int(p.e[ia[0]].sent, 0, "an index taken before growth still names its entry");
	is_int(list_len(&p, &a), 1000, "connection a holds its 1000");
	is_int(all_len(&p), 2000, "the worker's list holds all 2000");

	/* Answers: every other one of a's, out of order (match by key). */
	for (int i = 999; i >= 0; i -= 2)
		inflight_remove(&p, &a, ia[i]);
	is_int(list_len(&p, &a), 500, "a keeps 500");
	int ordered = 1;
	uint64_t last = 0;
	for (uint32_t i = p.all.first; i != INFLIGHT_NONE; i = p.e[i].wnext) {
		if (p.e[i].sent < last)
			ordered = 0;
		last = p.e[i].sent;
	}
	ok(ordered, "the worker's list stays in send order");
	is_int(inflight_oldest(&p), ia[0], "the oldest is a's first");
	inflight_remove(&p, &a, ia[0]);
	is_int(inflight_oldest(&p), ib[0], "then b's first");
	is_int(p.e[a.first].sent, 4, "a's list starts at its next oldest");

	/* Closing b drops its entries; freed entries are reused before growth. */
	uint32_t cap = p.cap;
	while (b.first != INFLIGHT_NONE)
		inflight_remove(&p, &b, b.first);
	is_int(all_len(&p), 499, "b's close leaves a's 499");
	for (int i = 0; i < 1000; i++)
		inflight_push(&p, &b, 2);
	is_int(p.cap, cap, "1000 new entries fit in the freed ones: no growth");
	ok(p.e[p.all.last].conn == 2 && p.e[b.last].cnext == INFLIGHT_NONE, "the newest is b's last");

	/* A resent request (retry.c) moves to the end of both lists, index kept. */
	uint32_t first = a.first, second = p.e[a.first].cnext, oldest = inflight_oldest(&p);
	int na = list_len(&p, &a), nall = all_len(&p);
	inflight_requeue(&p, &a, first);
	ok(a.last == first && a.first == second && p.e[first].cnext == INFLIGHT_NONE &&
		   p.e[second].cprev == INFLIGHT_NONE,
	   "requeue: a's oldest is now its last, the next one its first");
	ok(p.all.last == first && p.e[first].wnext == INFLIGHT_NONE &&
		   (oldest != first || inflight_oldest(&p) != first),
	   "and the worker's newest");
	is_int(list_len(&p, &a), na, "requeue keeps a's count");
	is_int(all_len(&p), nall, "and the worker's");
	inflight_requeue(&p, &a, first);
	ok(a.last == first && p.all.last == first, "requeueing the last entry is a no-op");
	inflight_list_init(&b);
	uint32_t only = inflight_push(&p, &b, 3);
	inflight_requeue(&p, &b, only);
	ok(b.first == only && b.last == only && p.all.last == only, "a list of one stays one");

	/* Written now (conn.c): last in the worker's list only; its
	 * connection's order is its output's. */
	uint32_t bfirst = b.first, ahead = a.first;
	nall = all_len(&p);
	inflight_resent(&p, ahead);
	ok(a.first == ahead && p.all.last == ahead && p.e[ahead].wnext == INFLIGHT_NONE,
	   "resent: the worker's newest, still a's first");
	is_int(all_len(&p), nall, "and the worker's count is kept");
	inflight_resent(&p, ahead);
	ok(p.all.last == ahead && b.first == bfirst, "resending the newest is a no-op");
	inflight_pool_free(&p);
	ok(p.e == NULL && p.cap == 0, "free empties the pool");
	return tap_done();
}
