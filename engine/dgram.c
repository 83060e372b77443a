/*
 * dgram: connected UDP sockets as connections. The kernel delivers to a
 * connected socket only datagrams from its peer's address and port, so
 * answers from anyone else never reach the matching; whatever does arrive
 * goes through conn_on_message exactly as a framed TCP answer does.
 */
#include "dgram.h"

#include <errno.h>
#include <sys/socket.h>

#include "buf.h"
#include "clock.h"
#include "conn.h"
#include "dispatch.h"
#include "fallback.h"
#include "lua_engine.h"
#include "retry.h"
#include "rxtime.h"
#include "samples.h"
#include "worker.h"

/* Datagrams read per readiness: enough to empty a socket's queue of
 * pipelined answers in one callback, few enough to keep turns fair. */
#define DGRAM_READS 64
/* Datagrams one recvmmsg takes at most. */
#define DGRAM_BATCH 16

int dgram_errno_class(int e)
{
	switch (e) {
	case ECONNREFUSED:
		return ERR_UDP_REFUSED;
	case EADDRNOTAVAIL:
	case EADDRINUSE:
		return ERR_ADDR_NOT_AVAILABLE;
	case EHOSTUNREACH: /* ICMP host unreachable, as a connected socket's error */
	case ENETUNREACH:
		return ERR_UNREACHABLE;
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

/* One recv per datagram, until the socket is empty: for answers that may
 * not fit a batch slot. */
static void read_one_by_one(struct worker *w, struct conn *c)
{
	for (int i = 0; i < DGRAM_READS && c->state == CONN_OPEN; i++) {
		/* The scratch buffer (64 KiB) holds any UDP payload whole. */
		ssize_t n = rxtime_read(&w->rxclock, c->io.fd, w->scratch, WORKER_SCRATCH, &w->rx_ns);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			conn_close(w, c, dgram_errno_class(errno));
			return;
		}
		w->stats.counter[ST_BYTES_IN] += n;
		/* Every send completes at once: all requests in flight were
		 * written before this datagram was read. */
		conn_on_message(w, c, w->scratch, (size_t)n, c->written, NULL);
	}
}

/* Each answer gets a slot of max_message bytes (dns.udp: its EDNS size, the
 * most a server may send it), at least 512. */
static size_t answer_slot(const struct worker *w)
{
	return w->opt->max_message < 512 ? 512 : w->opt->max_message;
}

/* A longer answer (or one the kernel cut: MSG_TRUNC) is counted as
 * oversized, a protocol error, and not matched. */
static bool oversized(struct worker *w, size_t n, int msg_flags)
{
	if (n <= answer_slot(w) && !(msg_flags & MSG_TRUNC))
		return false;
	w->stats.error[ERR_PROTOCOL]++;
	count(w, "protocol.oversized");
	return true;
}

void dgram_read(struct worker *w, struct conn *c)
{
	/* recvmmsg takes what is queued in one call, and a short batch means
	 * the socket is empty: no closing recv that only says EAGAIN. Each
	 * answer gets a slot of max_message bytes (dns.udp: its EDNS size, the
	 * most a server may send it); a longer one is cut (MSG_TRUNC) and
	 * counted as oversized. */
	size_t slot = answer_slot(w);
	unsigned vlen = (unsigned)(WORKER_SCRATCH / (slot + 1));
	if (vlen > DGRAM_BATCH)
		vlen = DGRAM_BATCH;
	if (vlen < 2) {
		read_one_by_one(w, c);
		return;
	}
	struct mmsghdr m[DGRAM_BATCH];
	struct iovec iov[DGRAM_BATCH];
	union {
		char buf[RXTIME_CMSG_SPACE];
		struct cmsghdr align;
	} ctl[DGRAM_BATCH];
	for (int round = 0; round * DGRAM_BATCH < DGRAM_READS && c->state == CONN_OPEN; round++) {
		for (unsigned i = 0; i < vlen; i++) {
			iov[i] = (struct iovec){ w->scratch + i * (slot + 1), slot + 1 };
			m[i].msg_hdr = (struct msghdr){ .msg_iov = &iov[i], .msg_iovlen = 1,
							.msg_control = ctl[i].buf,
							.msg_controllen = sizeof(ctl[i].buf) };
		}
		int got = recvmmsg(c->io.fd, m, vlen, MSG_DONTWAIT, NULL);
		if (got < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			conn_close(w, c, dgram_errno_class(errno));
			return;
		}
		/* The requests these answers make room for (closed model) leave
		 * together: one sendmmsg after the batch. */
		c->corked = 1;
		for (int i = 0; i < got && c->state == CONN_OPEN; i++) {
			size_t n = m[i].msg_len;
			w->stats.counter[ST_BYTES_IN] += n;
			if (oversized(w, n, m[i].msg_hdr.msg_flags))
				continue;
			w->rx_ns = rxtime_of(&w->rxclock, &m[i].msg_hdr);
			conn_on_message(w, c, iov[i].iov_base, n, c->written, NULL);
		}
		conn_uncork(w, c);
		if ((unsigned)got < vlen)
			return;
	}
}

void dgram_read_arrived_by(struct worker *w, struct conn *c, uint64_t deadline)
{
	for (int i = 0; i < DGRAM_READS && c->state == CONN_OPEN; i++) {
		uint8_t head;
		uint64_t at;
		/* A peek takes a pending error (ICMP unreachable) as a read
		 * does: it is counted here, or it would be lost. */
		if (rxtime_recv(&w->rxclock, c->io.fd, &head, 1, MSG_PEEK | MSG_DONTWAIT, &at) < 0) {
			if (errno != EAGAIN && errno != EINTR)
				conn_close(w, c, dgram_errno_class(errno));
			return;
		}
		/* A datagram with no stamp came when it is read: after. */
		if (!at || at > deadline)
			return;
		ssize_t n = rxtime_recv(&w->rxclock, c->io.fd, w->scratch, WORKER_SCRATCH, MSG_DONTWAIT,
					&w->rx_ns);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				conn_close(w, c, dgram_errno_class(errno));
			return;
		}
		w->stats.counter[ST_BYTES_IN] += n;
		if (!oversized(w, (size_t)n, 0))
			conn_on_message(w, c, w->scratch, (size_t)n, c->written, NULL);
	}
}

static void forget(struct worker *w, struct conn *c, uint32_t i)
{
	inflight_remove(&w->fl, &c->fl, i);
	c->inflight--;
	w->inflight--;
}

/* Output is counted in c->written as 2 + n per datagram (the 2 bytes are
 * the length each one takes while queued), so a request's inflight.end,
 * taken before its bytes are queued, is reached once it was handed over. */
#define DGRAM_HDR 2

/* The kernel refused a datagram (its send buffer is full): it is lost as
 * on a wire, counted, and its request times out. Another error closes c. */
static int send_failed(struct worker *w, struct conn *c, int e)
{
	if (e == EAGAIN || e == ENOBUFS) {
		count(w, "udp.send_dropped");
		return -EAGAIN;
	}
	conn_close(w, c, dgram_errno_class(e));
	return -e;
}

int dgram_write(struct worker *w, struct conn *c, const uint8_t *p, size_t n)
{
	if (c->corked) {
		/* Queued with its length; dgram_flush sends the lot at once. */
		uint8_t len[DGRAM_HDR] = { (uint8_t)(n >> 8), (uint8_t)n };
		if (n > 0xffff || buf_append(&c->wbuf, len, DGRAM_HDR) < 0 ||
		    buf_append(&c->wbuf, p, n) < 0) {
			conn_close(w, c, ERR_OTHER);
			return -ENOMEM;
		}
		return 0;
	}
	ssize_t k;
	do
		k = send(c->io.fd, p, n, 0);
	while (k < 0 && errno == EINTR);
	c->written += (uint32_t)(n + DGRAM_HDR);
	if (k < 0)
		return send_failed(w, c, errno);
	w->stats.counter[ST_BYTES_OUT] += k;
	return 0;
}

void dgram_flush(struct worker *w, struct conn *c)
{
	struct mmsghdr m[DGRAM_BATCH];
	struct iovec iov[DGRAM_BATCH];

	while (c->wbuf.len && c->state == CONN_OPEN) {
		const uint8_t *q = buf_start(&c->wbuf);
		size_t off = 0;
		unsigned k = 0;
		for (; k < DGRAM_BATCH && off + DGRAM_HDR <= c->wbuf.len; k++) {
			size_t n = (size_t)q[off] << 8 | q[off + 1];
			iov[k] = (struct iovec){ (void *)(q + off + DGRAM_HDR), n };
			m[k].msg_hdr = (struct msghdr){ .msg_iov = &iov[k], .msg_iovlen = 1 };
			off += DGRAM_HDR + n;
		}
		int sent;
		uint32_t before = c->written;
		uint64_t at = clock_ns();
		do
			sent = sendmmsg(c->io.fd, m, k, 0);
		while (sent < 0 && errno == EINTR);
		if (sent < 0 && errno != EAGAIN && errno != ENOBUFS) {
			conn_close(w, c, dgram_errno_class(errno)); /* a refused port, ... */
			return;
		}
		if (sent <= 0) {
			/* The socket's buffer is full: the batch is lost (its
			 * requests time out), and leaves the queue. */
			c->written += (uint32_t)off;
			buf_consume(&c->wbuf, off);
			for (unsigned i = 0; i < k; i++)
				count(w, "udp.send_dropped");
			conn_wrote(w, c, before, at);
			continue;
		}
		/* sendmmsg stops at the first datagram the kernel refuses, and
		 * says why at the next call, which sends the rest: a refused
		 * port (ICMP) closes the socket there, counted as such, not as
		 * datagrams dropped. */
		size_t done = 0;
		for (int i = 0; i < sent; i++) {
			w->stats.counter[ST_BYTES_OUT] += m[i].msg_len;
			done += DGRAM_HDR + iov[i].iov_len;
		}
		c->written += (uint32_t)done;
		buf_consume(&c->wbuf, done);
		conn_wrote(w, c, before, at);
	}
	buf_free(&c->wbuf);
}

void dgram_expire(struct worker *w, struct conn *c, uint32_t i)
{
	uint32_t dest = c->dest;
	bool stuck = fallback_expiring(w, c, i);

	dgram_fail(w, c, i, ERR_REQUEST_TIMEOUT);
	/* Closed once i is settled: failing the others may refill c. */
	if (stuck)
		fallback_timed_out(w, dest);
}

void dgram_fail(struct worker *w, struct conn *c, uint32_t i, int cls)
{
	double key = w->fl.e[i].key;

	/* Its record in the sample log, as a closed connection's requests get
	 * theirs: a status the protocol set belongs to an answer, not to this. */
	if (cls == ERR_REQUEST_TIMEOUT)
		samples_status(w->samples, -1);
	samples_done(w->samples, c, i, &w->fl.e[i], clock_ns(), 0, cls);
	/* Not the destination's failed connections: the socket goes on (a
	 * socket that fails closes through conn_close, which counts it). */
	w->stats.error[cls]++;
	retry_settled(w, i, false);
	forget(w, c, i);
	if (w->opt->match == MATCH_KEY) {
		/* The protocol frees what it kept for the request (an ID), so
		 * a late answer is unmatched and the ID can serve again. */
		conn_ctx(w, c);
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
