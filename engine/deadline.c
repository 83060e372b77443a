/* deadline: connect and request timeouts, one list and one timer each. */
#include "deadline.h"

#include "clock.h"
#include "conn.h"
#include "container.h"
#include "dgram.h"
#include "fallback.h"
#include "retry.h"
#include "tls.h"
#include "worker.h"

/* A stamp taken after `now` (earlier in the same loop turn) has not expired:
 * the unsigned difference would wrap. */
static bool expired(uint64_t since, uint64_t limit, uint64_t now)
{
	return now > since && now - since >= limit;
}

/* A deadline already past fires at once. Set from its own callback after
 * something it called (a UDP expiry's refill) set it already: the head's
 * is the one that counts. */
static void set_for(struct nstimer *t, uint64_t deadline)
{
	nstimer_set(t, deadline ? deadline : 1);
}

static void connect_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct worker *w = container_of(io, struct worker, connect_deadline.io);
	struct nstimer *t = &w->connect_deadline;
	uint64_t limit = w->opt->connect_timeout_ns, now = clock_ns();

	if (!nstimer_due(t, now))
		return;
	while (w->connects.head != CONN_LIST_NONE) {
		struct conn *c = &w->conns[w->connects.head];
		if (!expired(c->t_connect, limit, now)) {
			set_for(t, c->t_connect + limit);
			return;
		}
		/* takes it off the list */
		conn_close(w, c, c->tls ? tls_conn_timed_out(w, c) : ERR_CONNECT_TIMEOUT);
	}
	nstimer_settle(t);
}

/* How long a request waits: over UDP, each try waits retry_after (the
 * timeout itself without retries), so the list stays in deadline order. */
static uint64_t request_limit(const struct worker *w)
{
	return w->opt->transport == TRANSPORT_UDP ? w->opt->retry_after_ns
						  : w->opt->request_timeout_ns;
}

static void request_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct worker *w = container_of(io, struct worker, request_deadline.io);
	struct nstimer *t = &w->request_deadline;
	uint64_t limit = request_limit(w), now = clock_ns();
	const struct conn *read = NULL;
	uint32_t i;

	if (!nstimer_due(t, now))
		return;
	while ((i = inflight_oldest(&w->fl)) != INFLIGHT_NONE) {
		const struct inflight *f = &w->fl.e[i];
		struct conn *c = &w->conns[f->conn];
		if (!expired(f->sent, limit, now)) {
			set_for(t, f->sent + limit);
			return;
		}
		if (w->opt->transport == TRANSPORT_UDP) {
			/* Its answer may be queued, received in time while the
			 * loop was away: what came by the deadline is read
			 * first, then the oldest looked at again. */
			uint64_t sent = f->sent;
			dgram_read_arrived_by(w, c, sent + limit);
			if (inflight_oldest(&w->fl) != i || w->fl.e[i].sent != sent)
				continue;
			fallback_read_arrived(w, c, i);
			if (inflight_oldest(&w->fl) != i || w->fl.e[i].sent != sent)
				continue;
			/* A lost datagram loses only its own request, once its
			 * tries are spent (each waits retry_after). */
			if (!retry_again(w, c, i))
				dgram_expire(w, c, i);
			continue;
		}
		/* Its answer may be waiting in the socket, received in time while
		 * the loop was away: once per connection, read what came by the
		 * deadline, then look again at whatever is oldest now. */
		if (c != read) {
			read = c;
			conn_read_arrived(w, c, limit, now);
			continue;
		}
		/* The stream's position is unknown after a lost answer: the
		 * connection and everything on it is given up (and its entries
		 * leave the list). */
		conn_close(w, c, ERR_REQUEST_TIMEOUT);
	}
	nstimer_settle(t);
}

int deadline_init(struct worker *w)
{
	int rc = nstimer_init(&w->connect_deadline, w->loop, connect_cb);
	int rc2 = nstimer_init(&w->request_deadline, w->loop, request_cb);

	return rc < 0 ? rc : rc2;
}

void deadline_stop(struct worker *w)
{
	nstimer_free(&w->connect_deadline, w->loop);
	nstimer_free(&w->request_deadline, w->loop);
}

void deadline_connect_started(struct worker *w, struct conn *c)
{
	conn_list_push(&w->connects, w->conns, c);
	/* Set (or fired and not yet handled) counts as set: it re-arms itself
	 * for the head, which started before this connect. */
	if (!w->connect_deadline.armed_at && w->opt->connect_timeout_ns)
		set_for(&w->connect_deadline, c->t_connect + w->opt->connect_timeout_ns);
}

void deadline_connect_done(struct worker *w, struct conn *c)
{
	/* The timer stays set for the old head; firing, it finds the new one. */
	conn_list_remove(&w->connects, w->conns, c);
}

void deadline_request_sent(struct worker *w)
{
	/* Set, or fired and waiting to run, counts as set: it re-arms itself
	 * for the head. Setting it here would move it later, and the head —
	 * sent before this request — would wait a whole limit more. */
	if (w->request_deadline.armed_at || !request_limit(w))
		return;
	const struct inflight *f = &w->fl.e[inflight_oldest(&w->fl)];
	set_for(&w->request_deadline, f->sent + request_limit(w));
}
