/*
 * dgram: connected UDP sockets as connections. The kernel delivers to a
 * connected socket only datagrams from its peer's address and port, so
 * answers from anyone else never reach the matching; whatever does arrive
 * goes through conn_on_message exactly as a framed TCP answer does.
 */
#include "dgram.h"

#include <errno.h>
#include <sys/socket.h>

#include "conn.h"
#include "dest.h"
#include "dispatch.h"
#include "lua_engine.h"
#include "worker.h"

/* Datagrams read per readiness: enough to empty a socket's queue of
 * pipelined answers in one callback, few enough to keep turns fair. */
#define DGRAM_READS 64

int dgram_errno_class(int e)
{
	switch (e) {
	case ECONNREFUSED:
		return ERR_UDP_REFUSED;
	case EADDRNOTAVAIL:
	case EADDRINUSE:
		return ERR_ADDR_NOT_AVAILABLE;
	default:
		return ERR_OTHER;
	}
}

static void count(struct worker *w, const char *name)
{
	int id = stats_counter_id(&w->stats, name);
	if (id >= 0)
		w->stats.ncounter[id].value++;
}

void dgram_read(struct worker *w, struct conn *c)
{
	for (int i = 0; i < DGRAM_READS && c->state == CONN_OPEN; i++) {
		/* The scratch buffer (64 KiB) holds any UDP payload whole. */
		ssize_t n = recv(c->io.fd, w->scratch, WORKER_SCRATCH, 0);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			conn_close(w, c, dgram_errno_class(errno));
			return;
		}
		w->stats.counter[ST_BYTES_IN] += n;
		/* Every send completes at once: all requests in flight were
		 * written before this datagram was read. */
		conn_on_message(w, c, w->scratch, (size_t)n, c->written);
	}
}

static void forget(struct worker *w, struct conn *c, uint32_t i)
{
	inflight_remove(&w->fl, &c->fl, i);
	c->inflight--;
	w->inflight--;
}

int dgram_write(struct worker *w, struct conn *c, const uint8_t *p, size_t n)
{
	ssize_t k;

	do
		k = send(c->io.fd, p, n, 0);
	while (k < 0 && errno == EINTR);
	if (k >= 0) {
		w->stats.counter[ST_BYTES_OUT] += k;
		c->written += (uint32_t)n;
		return 0;
	}
	int e = errno;
	if (e == EAGAIN || e == ENOBUFS) {
		/* Never sent: not a timeout to come but a local drop, now. */
		if (c->fl.last != INFLIGHT_NONE)
			forget(w, c, c->fl.last);
		w->stats.error[ERR_OTHER]++;
		count(w, "udp.send_dropped");
		return -EAGAIN;
	}
	conn_close(w, c, dgram_errno_class(e));
	return -e;
}

void dgram_expire(struct worker *w, struct conn *c, uint32_t i)
{
	double key = w->fl.e[i].key;

	w->stats.error[ERR_REQUEST_TIMEOUT]++;
	dest_record_failed(&w->dests, c->dest, &w->stats);
	forget(w, c, i);
	if (w->opt->match == MATCH_KEY) {
		/* The protocol frees what it kept for the request (an ID), so
		 * a late answer is unmatched and the ID can serve again. */
		w->in_lua = true;
		int rc = lua_engine_expired(w->lua, c->id, key);
		w->in_lua = false;
		if (rc < 0) {
			worker_log(w, "%s", lua_engine_last_error(w->lua));
			w->stats.error[ERR_SCRIPT]++;
		}
	}
	dispatch_conn_has_room(w, c);
}
