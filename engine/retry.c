/* retry: see retry.h. */
#include "retry.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "conn.h"
#include "dgram.h"
#include "worker.h"

void retry_table_init(struct retry_table *t)
{
	memset(t, 0, sizeof(*t));
}

void retry_table_free(struct retry_table *t)
{
	for (uint32_t i = 0; i < t->cap; i++)
		free(t->e[i].p);
	free(t->e);
	late_free(&t->late);
	retry_table_init(t);
}

int retry_keep(struct retry_table *t, uint32_t i, const uint8_t *p, size_t n)
{
	if (i >= t->cap) {
		/* The inflight pool doubles; this follows it. */
		uint32_t cap = t->cap ? t->cap : 256;
		while (cap <= i)
			cap *= 2;
		struct retry_copy *e = realloc(t->e, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		memset(e + t->cap, 0, (cap - t->cap) * sizeof(*e));
		t->e = e;
		t->cap = cap;
	}
	struct retry_copy *c = &t->e[i];
	if (n > c->cap) {
		uint8_t *q = realloc(c->p, n);
		if (!q)
			return -ENOMEM;
		c->p = q;
		c->cap = (uint32_t)n;
	}
	memcpy(c->p, p, n);
	c->len = (uint32_t)n;
	c->tries = 0;
	c->via_tcp = 0;
	return 0;
}

struct retry_copy *retry_copy_of(struct retry_table *t, uint32_t i)
{
	return i < t->cap && t->e[i].p ? &t->e[i] : NULL;
}

/* "<protocol>.<what>", e.g. dns.retries. */
static void count(struct worker *w, const char *what)
{
	char name[STATS_NAME_MAX];

	snprintf(name, sizeof(name), "%.31s.%.31s", w->opt->proto_name, what);
	int id = stats_counter_id(&w->stats, name);
	if (id >= 0)
		w->stats.ncounter[id].value++;
}

bool retry_again(struct worker *w, struct conn *c, uint32_t i)
{
	struct retry_copy *r = retry_copy_of(&w->retry, i);

	if (!r || r->via_tcp || r->tries >= w->opt->retries || c->state != CONN_OPEN)
		return false;
	r->tries++;
	count(w, "retries");
	/* Same bytes, same ID: an answer to any try answers the request, and
	 * its latency still counts from the first try's intended time. */
	struct inflight *f = &w->fl.e[i];
	inflight_requeue(&w->fl, &c->fl, i);
	f->sent = clock_ns();
	f->end = c->written + c->wbuf.len + r->len + 2; /* dgram.c counts 2 + n a datagram */
	dgram_write(w, c, r->p, r->len);
	return true;
}

/* How long after a request settles an answer to one of its tries is still
 * late rather than unmatched: the time any answer is waited for, and at
 * least a second — with a 200 ms timeout a loaded machine's scheduling
 * alone made a late answer to a 300 ms server an unmatched error. */
static uint64_t late_window(const struct worker *w)
{
	uint64_t t = w->opt->request_timeout_ns;

	if (!t)
		return 5 * NS_PER_SEC;
	return t > NS_PER_SEC ? t : NS_PER_SEC;
}

void retry_settled(struct worker *w, uint32_t i, bool answered)
{
	struct retry_copy *r = retry_copy_of(&w->retry, i);
	/* Every try left unanswered may still be answered: resends, and a
	 * query that timed out, with retries or without (its late answer is
	 * then late_answers, not a second error beside its timeout). */
	uint32_t owed = (r && w->opt->retries ? r->tries : 0u) + (answered ? 0u : 1u);

	if (!owed)
		return; /* no clock read per answer */
	const struct inflight *f = &w->fl.e[i];
	uint64_t now = clock_ns();
	/* Out of memory: its answers will count as unmatched, an error that
	 * says more than it should, never less. */
	double key = w->opt->match == MATCH_KEY ? f->key : 0;
	(void)late_expect(&w->retry.late, f->conn, key, owed, now + late_window(w), now);
}

bool retry_late_answer(struct worker *w, uint32_t conn, double key)
{
	if (w->opt->match != MATCH_KEY)
		key = 0; /* in order: any answer on conn owed one */
	if (!late_take(&w->retry.late, conn, key, clock_ns()))
		return false;
	count(w, "late_answers");
	return true;
}
