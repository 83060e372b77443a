/* churn: recycling connections by request count and by age. */
#include "churn.h"

#include <errno.h>
#include <stdlib.h>

#include "conn.h"
#include "pool.h"
#include "splitmix.h"
#include "worker.h"

int churn_init(struct worker *w)
{
	const struct options *o = w->opt;
	struct churn *ch = &w->churn;

	ch->id_recycled = -1;
	ch->rng = o->seed ^ (0x5bd1e995ull * (w->index + 1));
	if (!o->requests_per_connection && !o->connection_lifetime_ns)
		return 0;
	ch->id_recycled = stats_counter_id(&w->stats, "conn.recycled");
	if (o->connection_lifetime_ns) {
		ch->expires = calloc(w->nconns ? w->nconns : 1, sizeof(*ch->expires));
		if (!ch->expires)
			return -ENOMEM;
	}
	return 0;
}

void churn_free(struct worker *w)
{
	free(w->churn.expires);
	w->churn.expires = NULL;
}

void churn_opened(struct worker *w, struct conn *c, uint64_t now)
{
	const struct options *o = w->opt;
	struct churn *ch = &w->churn;

	if (!ch->expires || c->id >= w->nconns)
		return;
	/* Uniform in lifetime +- jitter, so connections opened together do
	 * not all close together (and reconnect as one burst). */
	double u = (double)(splitmix64(&ch->rng) >> 11) * 0x1p-53 * 2 - 1;
	double age = (double)o->connection_lifetime_ns + u * (double)o->connection_jitter_ns;
	ch->expires[c->id] = now + (age > 1e6 ? (uint64_t)age : 1000000);
}

static void recycle(struct worker *w, struct conn *c)
{
	if (c->draining)
		return;
	c->draining = 1;
	pool_ready_remove(w, c);
	if (w->churn.id_recycled >= 0)
		w->stats.ncounter[w->churn.id_recycled].value++;
}

void churn_sent(struct worker *w, struct conn *c, uint64_t now)
{
	const struct options *o = w->opt;
	const struct churn *ch = &w->churn;

	if ((o->requests_per_connection && c->seq >= o->requests_per_connection) ||
	    (ch->expires && c->id < w->nconns && now >= ch->expires[c->id]))
		recycle(w, c);
}

void churn_tick(struct worker *w, uint64_t now)
{
	struct churn *ch = &w->churn;
	uint32_t slice = w->nconns / 10 + 1; /* the tick is 10 ms */

	if (!ch->expires || w->stopping)
		return;
	for (uint32_t k = 0; k < slice && k < w->nconns; k++) {
		struct conn *c = &w->conns[ch->cursor];
		ch->cursor = ch->cursor + 1 < w->nconns ? ch->cursor + 1 : 0;
		if (c->state != CONN_OPEN || c->session_live || now < ch->expires[c->id])
			continue;
		recycle(w, c);
		if (c->inflight == 0)
			conn_close(w, c, -1);
	}
}
