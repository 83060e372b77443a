/* churn: recycling connections by request count and by age. */
#include "churn.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>

#include "conn.h"
#include "plan.h"
#include "pool.h"
#include "splitmix.h"
#include "worker.h"

int churn_init(struct worker *w)
{
	const struct options *o = w->opt;
	struct churn *ch = &w->churn;

	ch->id_recycled = ch->id_first = -1;
	ch->rng = o->seed ^ (0x5bd1e995ull * (w->slot + 1));
	if (!o->requests_per_connection && !o->connection_lifetime_ns)
		return 0;
	ch->id_recycled = stats_counter_id(&w->stats, "conn.recycled");
	ch->id_first = stats_hist_id(&w->stats, "conn.first_answer");
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
	double age = splitmix_jitter(&ch->rng, o->connection_lifetime_ns, o->connection_jitter_ns);
	ch->expires[c->id] = now + (age > 1e6 ? (uint64_t)age : 1000000);
}

static void recycle(struct worker *w, struct conn *c)
{
	if (c->draining)
		return;
	pool_drain(w, c);
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

void churn_answered(struct worker *w, struct conn *c, uint64_t now)
{
	/* Requests sent minus those still in flight (this one among them):
	 * none answered (or failed) before this one. t_connect is when
	 * connect() was called until the connection closes. Connections of
	 * the connect phase waited for the start: not counted. */
	if (w->churn.id_first >= 0 && c->seq == c->inflight && c->t_connect >= w->start_ns)
		hist_record(w->stats.nhist[w->churn.id_first].h, (int64_t)(now - c->t_connect));
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

/* Linux keeps a closed connection's port in TIME_WAIT this long
 * (TCP_TIMEWAIT_LEN, not tunable). */
#define TIME_WAIT_S 60.0

double churn_rate(const struct options *o)
{
	double r = 0;

	if (o->connection_rate > 0) {
		r = o->connection_rate;
	} else {
		if (o->requests_per_connection && o->rate_segs) {
			double peak = 0;
			for (size_t i = 0; i < o->nrate_segs; i++) {
				peak = o->rate_segs[i].r0 > peak ? o->rate_segs[i].r0 : peak;
				peak = o->rate_segs[i].r1 > peak ? o->rate_segs[i].r1 : peak;
			}
			r = peak / o->requests_per_connection;
		}
		if (o->connection_lifetime_ns > o->connection_jitter_ns) {
			double l = (double)(o->connection_lifetime_ns - o->connection_jitter_ns) / 1e9;
			double byage = o->max_connections / l;
			r = byage > r ? byage : r;
		}
	}
	return r < o->connect_rate ? r : o->connect_rate;
}

int churn_tw_reuse(void)
{
	FILE *f = fopen("/proc/sys/net/ipv4/tcp_tw_reuse", "r");
	int v = -1;

	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

bool churn_plan_warning(const struct options *o, const struct plan *p, int tw_reuse, char *buf,
			size_t len)
{
	double r = churn_rate(o);
	uint64_t nsrc = p->sources[0] ? p->sources[0] : 1;
	uint64_t ndests = o->ndests ? o->ndests : 1;

	if (r <= 0 || !p->pair_capacity)
		return false;
	if (p->sources[1] && p->sources[1] < nsrc)
		nsrc = p->sources[1];
	double pairs = (double)nsrc * (double)ndests;
	double tw = ceil(r * TIME_WAIT_S / pairs);
	double need = tw + (double)p->pair_need;
	if (need <= (double)p->pair_capacity)
		return false;
	double sources = ceil(r * TIME_WAIT_S / (double)ndests /
			      ((double)p->pair_capacity - (double)p->pair_need > 1
				       ? (double)p->pair_capacity - (double)p->pair_need
				       : 1));
	const char *reuse = tw_reuse == 1 ? "1: the kernel reuses TIME_WAIT ports for new "
					    "connections (TCP timestamps on), so this may hold"
			    : tw_reuse == 2 ? "2: the kernel reuses them for loopback destinations only"
			    : tw_reuse == 0 ? "0: the kernel never reuses them"
					    : "unknown";
	snprintf(buf, len, "connection churn of %.0f new connections/s leaves every closed one in "
		 "TIME_WAIT for %.0f s: ~%.0f ports per (source, destination) pair (%.0f/s x %.0f s "
		 "/ %.0f pair%s, plus %llu open), but a pair has %llu; net.ipv4.tcp_tw_reuse is %s. "
		 "Where ports run out connects fail with EADDRNOTAVAIL (address not available); "
		 "fixes: sysctl -w net.ipv4.tcp_tw_reuse=1, ≥ %.0f source addresses (--bind), "
		 "wider --ports, or less churn", r, TIME_WAIT_S, need, r, TIME_WAIT_S, pairs,
		 pairs == 1 ? "" : "s", (unsigned long long)p->pair_need,
		 (unsigned long long)p->pair_capacity, reuse, sources);
	return true;
}

static bool loopback(const struct sockaddr_storage *a)
{
	if (a->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr) >> 24) == 127;
	if (a->ss_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)a)->sin6_addr);
	return false;
}

bool churn_plan_refuses(const struct options *o, int tw_reuse)
{
	if (tw_reuse == 0)
		return true;
	if (tw_reuse != 2)
		return false; /* 1 reuses them; unknown is only warned of */
	for (size_t i = 0; i < o->ndests; i++)
		if (!loopback(&o->dests[i].addr))
			return true;
	return false;
}
