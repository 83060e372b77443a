/* fallback: see fallback.h. */
#include "fallback.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "conn.h"
#include "container.h"
#include "dest.h"
#include "dgram.h"
#include "retry.h"
#include "rxtime.h"
#include "worker.h"

/* A request handed over, until its TCP answer or the connection's end. */
struct pending {
	uint16_t id, orig_id; /* on this connection, and as the socket sent it */
	uint32_t conn;        /* the datagram connection's slot ... */
	uint64_t gen;         /* ... while it is the same socket (its t_connect) */
	double key;           /* the request's key there */
	uint64_t t;           /* handed over (ns) */
};

enum fb_state { FB_CLOSED, FB_CONNECTING, FB_OPEN };

struct fb_conn {
	ev_io io;
	uint32_t dest;
	uint8_t state; /* enum fb_state */
	uint16_t next_id;
	uint64_t t_open; /* connect() called (ns) */
	struct buf rbuf, wbuf;
	struct pending *pend; /* oldest first */
	uint32_t npend, cap;
};

struct fallback {
	struct fb_conn **c; /* by destination, made on first use */
	uint32_t n;
};

static void count_n(struct worker *w, const char *what, uint64_t n)
{
	char name[STATS_NAME_MAX];

	snprintf(name, sizeof(name), "%.31s.%.31s", w->opt->proto_name, what);
	int id = stats_counter_id(&w->stats, name);
	if (id >= 0)
		w->stats.ncounter[id].value += n;
}

static void count(struct worker *w, const char *what)
{
	count_n(w, what, 1);
}

/* <proto>.tc_tcp.<class>: requests the fallback lost, by its fault's class. */
static void count_lost(struct worker *w, int cls, uint64_t n)
{
	char what[64];

	snprintf(what, sizeof(what), "tc_tcp.%s", stats_error_key(cls));
	count_n(w, what, n);
}

/* The in-flight entry of datagram connection slot `conn` that pending p is
 * for, or INFLIGHT_NONE when it settled meanwhile (timed out, socket gone). */
static uint32_t entry_of(struct worker *w, const struct pending *p)
{
	struct conn *c = &w->conns[p->conn];

	if (c->state != CONN_OPEN || c->t_connect != p->gen)
		return INFLIGHT_NONE;
	for (uint32_t i = c->fl.first; i != INFLIGHT_NONE; i = w->fl.e[i].cnext)
		if (w->fl.e[i].key == p->key)
			return i;
	return INFLIGHT_NONE;
}

static void io_set(struct worker *w, struct fb_conn *f, int events)
{
	if (f->io.events == events && ev_is_active(&f->io))
		return;
	ev_io_stop(w->loop, &f->io);
	ev_io_set(&f->io, f->io.fd, events);
	if (events)
		ev_io_start(w->loop, &f->io);
}

/* The connection failed (cls) or the server closed it: the requests on it
 * fail with that class, counted apart too; the next truncated answer opens
 * a new one. A close with nothing pending is no fault (idle timeout). */
static void fb_close(struct worker *w, struct fb_conn *f, int cls)
{
	ev_io_stop(w->loop, &f->io);
	close(f->io.fd);
	f->state = FB_CLOSED;
	/* A failed connection to its destination, once, as conn_close counts
	 * a stream's; the queries it fails are not. */
	if (cls >= 0)
		dest_record_failed(&w->dests, f->dest, &w->stats);
	buf_free(&f->rbuf);
	buf_free(&f->wbuf);
	/* Failing a request may refill its socket, and a new truncated answer
	 * hand a request to this slot again: work on a copy of the list. */
	uint32_t n = f->npend;
	struct pending *p = f->pend;
	f->pend = NULL;
	f->npend = f->cap = 0;
	if (cls < 0)
		cls = ERR_UNEXPECTED_CLOSE; /* only reached with nothing pending */
	for (uint32_t k = 0; k < n; k++) {
		uint32_t i = entry_of(w, &p[k]);
		if (i == INFLIGHT_NONE)
			continue; /* timed out already: counted then */
		count_lost(w, cls, 1);
		dgram_fail(w, &w->conns[p[k].conn], i, cls);
	}
	free(p);
}

/* One answer, framing removed: back to its datagram socket's protocol.
 * Returns -1 when it cannot be one (shorter than its ID): the length prefix
 * lied, and the stream's place with it. */
static int deliver(struct worker *w, struct fb_conn *f, uint8_t *msg, size_t n)
{
	if (n < 2) {
		count(w, "tc_tcp.malformed");
		return -1;
	}
	uint16_t id = (uint16_t)(msg[0] << 8 | msg[1]);
	uint32_t k = 0;
	while (k < f->npend && f->pend[k].id != id)
		k++;
	if (k == f->npend) {
		/* An answer no query on this connection asked for (a repeat,
		 * an ID never sent): a protocol error, as an unmatched answer
		 * on any socket is, not only a counter. */
		count(w, "tc_tcp.unmatched");
		w->stats.error[ERR_PROTOCOL]++;
		int cid = stats_counter_id(&w->stats, "protocol.unmatched");
		if (cid >= 0)
			w->stats.ncounter[cid].value++;
		return 0;
	}
	struct pending p = f->pend[k];
	memmove(&f->pend[k], &f->pend[k + 1], (f->npend - k - 1) * sizeof(*f->pend));
	f->npend--;
	uint32_t i = entry_of(w, &p);
	if (i == INFLIGHT_NONE) {
		/* Its request timed out (counted then) or its socket closed. */
		count(w, "tc_tcp.late");
		return 0;
	}
	msg[0] = (uint8_t)(p.orig_id >> 8);
	msg[1] = (uint8_t)p.orig_id;
	struct conn *c = &w->conns[p.conn];
	conn_on_message(w, c, msg, n, c->written, NULL);
	return 0;
}

static void fb_read(struct worker *w, struct fb_conn *f)
{
	if (buf_reserve(&f->rbuf, 16384) < 0) {
		fb_close(w, f, ERR_OTHER);
		return;
	}
	/* Stamped like any read (rxtime.h): a TCP answer's latency ends when
	 * it arrived, not at the stale stamp of the datagram read before. */
	ssize_t n = rxtime_read(&w->rxclock, f->io.fd, buf_start(&f->rbuf) + f->rbuf.len,
				f->rbuf.cap - f->rbuf.head - f->rbuf.len, &w->rx_ns);
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			fb_close(w, f, stats_errno_class(errno, false));
		return;
	}
	if (n == 0) {
		fb_close(w, f, f->npend ? ERR_UNEXPECTED_CLOSE : -1);
		return;
	}
	w->stats.counter[ST_BYTES_IN] += n;
	f->rbuf.len += (uint32_t)n;
	/* RFC 1035 4.2.2: a 2-byte length, then the message. Delivering may
	 * close f (a failing refill), which empties rbuf: checked each turn.
	 * After a length that cannot be right every later one is read from
	 * the wrong place: the connection closes, as conn.c closes a stream
	 * on bad framing, and the next truncated answer opens a new one. */
	while (f->state == FB_OPEN && f->rbuf.len >= 2) {
		uint8_t *q = buf_start(&f->rbuf);
		size_t m = (size_t)q[0] << 8 | q[1];
		if (f->rbuf.len < 2 + m)
			break;
		if (deliver(w, f, q + 2, m) < 0) {
			fb_close(w, f, ERR_PROTOCOL);
			return;
		}
		if (f->state == FB_OPEN)
			buf_consume(&f->rbuf, 2 + m);
	}
	if (f->state == FB_OPEN && f->rbuf.len == 0)
		buf_free(&f->rbuf);
}

static void fb_flush(struct worker *w, struct fb_conn *f)
{
	while (f->wbuf.len) {
		ssize_t n = write(f->io.fd, buf_start(&f->wbuf), f->wbuf.len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				io_set(w, f, EV_READ | EV_WRITE);
				return;
			}
			fb_close(w, f, stats_errno_class(errno, false));
			return;
		}
		w->stats.counter[ST_BYTES_OUT] += n;
		buf_consume(&f->wbuf, (size_t)n);
	}
	buf_free(&f->wbuf);
	io_set(w, f, EV_READ);
}

static void fb_io_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct worker *w = ev_userdata(loop);
	struct fb_conn *f = container_of(io, struct fb_conn, io);

	if (f->state == FB_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof(err);
		if (getsockopt(io->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err) {
			fb_close(w, f, stats_errno_class(err, true));
			return;
		}
		f->state = FB_OPEN;
		fb_flush(w, f);
		return;
	}
	if (revents & EV_WRITE)
		fb_flush(w, f);
	if ((revents & EV_READ) && f->state == FB_OPEN)
		fb_read(w, f);
}

/* Starts a non-blocking connect to destination f->dest. 0 or an error class. */
static int fb_open(struct worker *w, struct fb_conn *f)
{
	const struct dest *d = &w->dests.d[f->dest];
	int one = 1;
	int fd = socket(d->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return stats_errno_class(errno, true) + 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	rxtime_enable(fd); /* without it answers are stamped when read */
	if (connect(fd, (const struct sockaddr *)&d->addr, d->addrlen) < 0 && errno != EINPROGRESS) {
		int cls = stats_errno_class(errno, true);
		close(fd);
		return cls + 1;
	}
	f->state = FB_CONNECTING;
	f->t_open = clock_ns();
	ev_io_init(&f->io, fb_io_cb, fd, EV_WRITE);
	ev_io_start(w->loop, &f->io);
	return 0;
}

static struct fb_conn *fb_get(struct worker *w, uint32_t dest)
{
	struct fallback *fb = w->fallback;

	if (!fb) {
		fb = w->fallback = calloc(1, sizeof(*fb));
		if (!fb)
			return NULL;
	}
	if (dest >= fb->n) {
		struct fb_conn **c = realloc(fb->c, (dest + 1) * sizeof(*c));
		if (!c)
			return NULL;
		memset(c + fb->n, 0, (dest + 1 - fb->n) * sizeof(*c));
		fb->c = c;
		fb->n = dest + 1;
	}
	if (!fb->c[dest]) {
		fb->c[dest] = calloc(1, sizeof(**fb->c));
		if (fb->c[dest])
			fb->c[dest]->dest = dest;
	}
	return fb->c[dest];
}

/* Requests handed over longer ago than any request may live have settled
 * (timed out): their records go, so a server that never answers over TCP
 * cannot grow the list. */
static void prune(struct worker *w, struct fb_conn *f, uint64_t now)
{
	const struct options *o = w->opt;
	uint64_t life = (uint64_t)(o->retries + 1) * o->retry_after_ns;
	uint32_t k = 0;

	if (o->request_timeout_ns > life)
		life = o->request_timeout_ns;
	while (k < f->npend && now - f->pend[k].t > life)
		k++;
	if (k) {
		memmove(f->pend, f->pend + k, (f->npend - k) * sizeof(*f->pend));
		f->npend -= k;
	}
}

int fallback_send(struct worker *w, struct conn *c, uint32_t i)
{
	struct retry_copy *r = retry_copy_of(&w->retry, i);

	if (!r || r->via_tcp || r->len < 2 || r->len > 0xffff)
		return -EINVAL;
	struct fb_conn *f = fb_get(w, c->dest);
	if (!f || (f->npend == f->cap && f->npend >= 0xffff))
		return -EINVAL;
	r->via_tcp = 1;
	count(w, "tc_retried_tcp");
	uint64_t now = clock_ns();
	/* A connect that never completes (SYNs dropped) is given up after the
	 * connect timeout, when the next request needs it: the requests queued
	 * on it have timed out on their sockets meanwhile, or fail now. */
	if (f->state == FB_CONNECTING && w->opt->connect_timeout_ns &&
	    now - f->t_open > w->opt->connect_timeout_ns) {
		fb_close(w, f, ERR_CONNECT_TIMEOUT);
		if (c->state != CONN_OPEN)
			return 0; /* a refill failing closed c: its requests are counted */
	}
	if (f->state == FB_CLOSED) {
		int cls = fb_open(w, f);
		if (cls) {
			dest_record_failed(&w->dests, f->dest, &w->stats);
			count_lost(w, cls - 1, 1);
			dgram_fail(w, c, i, cls - 1);
			return 0;
		}
	}
	prune(w, f, now);
	if (f->npend == f->cap) {
		uint32_t cap = f->cap ? f->cap * 2 : 16;
		struct pending *p = realloc(f->pend, cap * sizeof(*p));
		if (!p) {
			dgram_fail(w, c, i, ERR_OTHER);
			return 0;
		}
		f->pend = p;
		f->cap = cap;
	}
	/* An ID unique among this connection's requests: several sockets'
	 * requests share it, and each socket chose its IDs alone. */
	uint16_t id = f->next_id++;
	for (uint32_t k = 0; k < f->npend; k++)
		if (f->pend[k].id == id) {
			id = f->next_id++;
			k = (uint32_t)-1;
		}
	f->pend[f->npend++] = (struct pending){ id, (uint16_t)(r->p[0] << 8 | r->p[1]), c->id,
						c->t_connect, w->fl.e[i].key, now };
	uint8_t hdr[4] = { (uint8_t)(r->len >> 8), (uint8_t)r->len, (uint8_t)(id >> 8), (uint8_t)id };
	if (buf_append(&f->wbuf, hdr, 4) < 0 || buf_append(&f->wbuf, r->p + 2, r->len - 2) < 0) {
		fb_close(w, f, ERR_OTHER);
		return 0;
	}
	/* Written from the loop, never from inside a read being parsed. */
	if (f->state == FB_OPEN)
		io_set(w, f, EV_READ | EV_WRITE);
	return 0;
}

/* Destination dest's fallback connection, if one was ever made. */
static struct fb_conn *fb_find(struct worker *w, uint32_t dest)
{
	struct fallback *fb = w->fallback;

	return fb && dest < fb->n ? fb->c[dest] : NULL;
}

void fallback_read_arrived(struct worker *w, struct conn *c, uint32_t i)
{
	const struct retry_copy *r = retry_copy_of(&w->retry, i);
	struct fb_conn *f = r && r->via_tcp ? fb_find(w, c->dest) : NULL;

	/* Each answer read is judged by its arrival stamp (conn.c's
	 * answered_late): one that came after the deadline still times out. */
	if (f && f->state == FB_OPEN && f->npend)
		fb_read(w, f);
}

bool fallback_expiring(struct worker *w, struct conn *c, uint32_t i)
{
	const struct retry_copy *r = retry_copy_of(&w->retry, i);

	if (!r || !r->via_tcp)
		return false;
	count_lost(w, ERR_REQUEST_TIMEOUT, 1);
	struct fb_conn *f = fb_find(w, c->dest);
	if (!f || f->state == FB_CLOSED)
		return false;
	for (uint32_t k = 0; k < f->npend; k++) {
		const struct pending *p = &f->pend[k];
		if (p->conn == c->id && p->gen == c->t_connect && p->key == w->fl.e[i].key) {
			/* Its answer never came: the stream may be stuck on a
			 * lying length. It leaves the list (its socket settles
			 * it), the rest go with the connection. */
			memmove(&f->pend[k], &f->pend[k + 1], (f->npend - k - 1) * sizeof(*f->pend));
			f->npend--;
			return true;
		}
	}
	return false;
}

void fallback_timed_out(struct worker *w, uint32_t dest)
{
	struct fb_conn *f = fb_find(w, dest);

	if (f && f->state != FB_CLOSED)
		fb_close(w, f, ERR_REQUEST_TIMEOUT);
}

void fallback_free(struct worker *w)
{
	struct fallback *fb = w->fallback;

	if (!fb)
		return;
	for (uint32_t d = 0; d < fb->n; d++) {
		struct fb_conn *f = fb->c[d];
		if (!f)
			continue;
		if (f->state != FB_CLOSED) {
			ev_io_stop(w->loop, &f->io);
			close(f->io.fd);
		}
		buf_free(&f->rbuf);
		buf_free(&f->wbuf);
		free(f->pend);
		free(f);
	}
	free(fb->c);
	free(fb);
	w->fallback = NULL;
}
