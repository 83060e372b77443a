/* deadline: connect and request timeouts, one list and one timer each. */
#include "deadline.h"

#include "clock.h"
#include "conn.h"
#include "container.h"
#include "dgram.h"
#include "retry.h"
#include "tls.h"
#include "worker.h"

/* libev counts from the loop's cached time; the lists from clock_ns(). A
 * timer set for a deadline already past fires on the next loop turn. */
static void set_for(struct worker *w, ev_timer *t, uint64_t deadline, uint64_t now)
{
	/* Re-armed from its own callback after something it called (a UDP
	 * expiry's refill) armed it already: a set on an active timer would
	 * be lost. */
	ev_timer_stop(w->loop, t);
	ev_timer_set(t, deadline > now ? (double)(deadline - now) / 1e9 : 0., 0.);
	ev_timer_start(w->loop, t);
}

/* A stamp taken after `now` (earlier in the same loop turn) has not expired:
 * the unsigned difference would wrap. */
static bool expired(uint64_t since, uint64_t limit, uint64_t now)
{
	return now > since && now - since >= limit;
}

static void connect_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct worker *w = container_of(t, struct worker, connect_deadline);
	uint64_t limit = w->opt->connect_timeout_ns, now = clock_ns();

	while (w->connects.head != CONN_LIST_NONE) {
		struct conn *c = &w->conns[w->connects.head];
		if (!expired(c->t_connect, limit, now)) {
			set_for(w, t, c->t_connect + limit, now);
			return;
		}
		/* takes it off the list */
		conn_close(w, c, c->tls ? tls_conn_timed_out(w, c) : ERR_CONNECT_TIMEOUT);
	}
}

/* How long a request waits: over UDP, each try waits retry_after (the
 * timeout itself without retries), so the list stays in deadline order. */
static uint64_t request_limit(const struct worker *w)
{
	return w->opt->transport == TRANSPORT_UDP ? w->opt->retry_after_ns
						  : w->opt->request_timeout_ns;
}

static void request_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct worker *w = container_of(t, struct worker, request_deadline);
	uint64_t limit = request_limit(w), now = clock_ns();
	uint32_t i;


	while ((i = inflight_oldest(&w->fl)) != INFLIGHT_NONE) {
		const struct inflight *f = &w->fl.e[i];
		if (!expired(f->sent, limit, now)) {
			set_for(w, t, f->sent + limit, now);
			return;
		}
		if (w->opt->transport == TRANSPORT_UDP) {
			/* A lost datagram loses only its own request, once its
			 * tries are spent (each waits retry_after). */
			if (!retry_again(w, &w->conns[f->conn], i))
				dgram_expire(w, &w->conns[f->conn], i);
			continue;
		}
		/* The stream's position is unknown after a lost answer: the
		 * connection and everything on it is given up (and its entries
		 * leave the list). */
		conn_close(w, &w->conns[f->conn], ERR_REQUEST_TIMEOUT);
	}
}

void deadline_init(struct worker *w)
{
	ev_init(&w->connect_deadline, connect_cb);
	ev_init(&w->request_deadline, request_cb);
}

void deadline_stop(struct worker *w)
{
	ev_timer_stop(w->loop, &w->connect_deadline);
	ev_timer_stop(w->loop, &w->request_deadline);
}

void deadline_connect_started(struct worker *w, struct conn *c)
{
	conn_list_push(&w->connects, w->conns, c);
	if (!ev_is_active(&w->connect_deadline) && !ev_is_pending(&w->connect_deadline) &&
	    w->opt->connect_timeout_ns)
		set_for(w, &w->connect_deadline, c->t_connect + w->opt->connect_timeout_ns, clock_ns());
}

void deadline_connect_done(struct worker *w, struct conn *c)
{
	/* The timer stays set for the old head; firing, it finds the new one. */
	conn_list_remove(&w->connects, w->conns, c);
}

void deadline_request_sent(struct worker *w)
{
	/* Expired and waiting to run (pending) counts as set: it re-arms itself
	 * for the head. Arming it here would cancel that run, and the head —
	 * sent before this request — would wait a whole limit more. */
	if (ev_is_active(&w->request_deadline) || ev_is_pending(&w->request_deadline) ||
	    !request_limit(w))
		return;
	const struct inflight *f = &w->fl.e[inflight_oldest(&w->fl)];
	set_for(w, &w->request_deadline, f->sent + request_limit(w), clock_ns());
}
