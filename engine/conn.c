/*
 * conn: non-blocking connect, framed reads, pipelined requests and the
 * accounting of every request that a connection carries. Reads land in the
 * worker's scratch buffer; only a partial message is copied into the
 * connection, so idle connections hold no memory beyond struct conn.
 */
#include "conn.h"
#include "framing.h"
#include "http_parse.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alarm.h"
#include "clock.h"
#include "container.h"
#include "deadline.h"
#include "dgram.h"
#include "dispatch.h"
#include "lua_engine.h"
#include "fallback.h"
#include "pool.h"
#include "retry.h"
#include "rxtime.h"
#include "tls.h"
#include "samples.h"
#include "worker.h"

#define SESSION_RBUF_MAX (1u << 20)


static void conn_io_cb(struct ev_loop *loop, ev_io *io, int revents);
static void conn_write_failed(struct worker *w, struct conn *c, int err);
static void session_wake(struct worker *w, struct conn *c, int reason);
static void protocol_why(struct worker *w, const char *why);

/* Every call site has its worker as w: the errno itself is counted too
 * (errno.ECONNREFUSED ..., stats_count_errno), beside its class. */
#define errno_class(e, connecting) errno_class_counted(w, e, connecting)

static int errno_class_counted(struct worker *w, int e, bool connecting)
{
	stats_count_errno(&w->stats, e);
	return stats_errno_class(e, connecting);
}

/* The one seam between plain TCP and TLS (tls.h): both keep read(2) and
 * write(2)'s contract, so nothing below knows which one it uses. */
static ssize_t sock_read(struct worker *w, struct conn *c, void *p, size_t n)
{
	if (c->tls) {
		w->rx_ns = 0; /* tls_bio.c stamps it when the records are read */
		return tls_conn_read(w, c, p, n);
	}
	return rxtime_read(&w->rxclock, c->io.fd, p, n, &w->rx_ns);
}

static ssize_t sock_write(struct worker *w, struct conn *c, const void *p, size_t n)
{
	return c->tls ? tls_conn_write(w, c, p, n) : write(c->io.fd, p, n);
}

static void io_set(struct worker *w, struct conn *c, int events)
{
	if (c->io.events == events && ev_is_active(&c->io))
		return;
	ev_io_stop(w->loop, &c->io);
	ev_io_set(&c->io, c->io.fd, events);
	if (events)
		ev_io_start(w->loop, &c->io);
}

/* Binds fd to this connection's source address and port range (bind, ports).
 * IP_BIND_ADDRESS_NO_PORT defers the port to connect(), which then only needs
 * the whole 4-tuple to be unique: a plain bind() would reserve a port per
 * socket, and 64k sockets would exhaust an address whatever their
 * destinations. IP_LOCAL_PORT_RANGE keeps the kernel's choice inside this
 * worker's slice. A named port (permutation, or no per-socket range) takes
 * SO_REUSEADDR, so it may serve several destinations and reuse TIME_WAIT; one
 * someone else holds is skipped for the next. Kernel-chosen ports must not
 * take it: on 6.18 it made connect() fail with EADDRNOTAVAIL at 40% of a
 * range (tests/e2e/t_bind_70k.py). Returns 1 when it named the port, 0 when
 * the kernel will choose, or -errno. */
#define BIND_TRIES 8

static int conn_bind_source(struct worker *w, struct conn *c, int fd, int family)
{
	const struct options *o = w->opt;
	struct addrset_picker *p = &w->picker;
	struct sockaddr_storage sa;
	socklen_t len;
	int fam = addrset_slot(family), one = 1, rc = 0;
	uint64_t idx = 0;
	uint16_t port = 0;

	c->src = UINT32_MAX;
	if (!o->bind && !o->ports.lo)
		return 0;
	for (int tries = 0; tries < BIND_TRIES; tries++) {
		memset(&sa, 0, sizeof(sa));
		sa.ss_family = (sa_family_t)family;
		len = family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
		if (o->bind) {
			if (addrset_pick(p, fam, c->dest, &idx, &port) < 0 ||
			    addrset_at(o->bind, fam, idx, &sa, &len) < 0)
				return -EAFNOSUPPORT;
		} else if (p->explicit_ports) {
			uint32_t np = addrset_ports_count(&p->ports);
			port = (uint16_t)(p->ports.lo + p->cursor[fam]++ % np);
		}
		if (!port)
			break;
		if (family == AF_INET6)
			((struct sockaddr_in6 *)&sa)->sin6_port = htons(port);
		else
			((struct sockaddr_in *)&sa)->sin_port = htons(port);
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (const struct sockaddr *)&sa, len) == 0)
			goto bound;
		rc = -errno;
		if (rc != -EADDRINUSE)
			return rc;
	}
	if (port)
		return rc; /* BIND_TRIES named ports in a row were taken */
	if (o->bind && setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one)) < 0)
		return -errno;
	if (p->ports.lo) {
		uint32_t range = (uint32_t)p->ports.hi << 16 | p->ports.lo;
		if (setsockopt(fd, IPPROTO_IP, IP_LOCAL_PORT_RANGE, &range, sizeof(range)) < 0)
			return -errno;
	}
	/* Without bind, connect() picks the source and a port within the range. */
	if (o->bind && bind(fd, (const struct sockaddr *)&sa, len) < 0)
		return -errno;
bound:
	if (o->bind) {
		uint64_t g = fam == ADDRSET_V6 ? addrset_size(o->bind, ADDRSET_V4) + idx : idx;
		if (g < w->stats.nsrc)
			c->src = (uint32_t)g;
	}
	return port != 0; /* only a named port jumps here with one */
}

/* A named (source, port) whose 4-tuple to this destination is taken — an
 * earlier run's TIME_WAIT where tcp_tw_reuse does not apply, or another
 * program's connection — fails connect() at once: the next pair is tried
 * and the skip counted, not an error. */
static bool tuple_busy(struct worker *w, int named, int err, int tries)
{
	if (!named || (err != EADDRNOTAVAIL && err != EADDRINUSE) || tries + 1 >= BIND_TRIES)
		return false;
	int id = stats_counter_id(&w->stats, "source.tuple_busy");
	if (id >= 0)
		w->stats.ncounter[id].value++;
	return true;
}

/* A new connection in the slot starts with none of the last one's state.
 * Every flag that gates a write is cleared here, not by the close paths: a
 * close mid-write (EAGAIN, then a reset or a fault) left `writing` set with
 * its watcher stopped, and conn_uncork, which only flushes while !writing,
 * then never wrote that slot's requests again. */
static void conn_reset_state(struct conn *c)
{
	c->writing = 0;
	c->corked = 0;
	c->salvaging = 0;
	c->eof = 0;
	c->draining = 0;
	c->close_reason = 0;
}

int conn_open(struct worker *w, struct conn *c)
{
	const struct dest *d = &w->dests.d[c->dest];
	int one = 1, cls, fd;

	w->stats.counter[ST_CONN_ATTEMPTS]++;
	for (int tries = 0;; tries++) {
		bool udp = w->opt->transport == TRANSPORT_UDP;
		fd = socket(d->addr.ss_family,
			    (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			cls = errno_class(errno, true);
			goto fail;
		}
		if (!udp)
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		rxtime_enable(fd); /* without it latency ends when the loop reads */
		int named = conn_bind_source(w, c, fd, d->addr.ss_family);
		if (named < 0) {
			cls = errno_class(-named, true);
			close(fd);
			goto fail;
		}
		c->t_connect = clock_ns();
		if (connect(fd, (const struct sockaddr *)&d->addr, d->addrlen) == 0 ||
		    errno == EINPROGRESS)
			break;
		int e = errno;
		close(fd);
		if (!tuple_busy(w, named, e, tries)) {
			cls = errno_class(e, true);
			goto fail;
		}
	}
	c->state = CONN_CONNECTING;
	c->answered = 0;
	deadline_connect_started(w, c);
	conn_reset_state(c);
	w->connecting++;
	/* Readable too while connecting: a failed connect is EPOLLERR, which
	 * libev reports as both, so writable alone is a connect that worked
	 * and needs no SO_ERROR call (one system call of ~12 a connection). */
	ev_io_init(&c->io, conn_io_cb, fd, EV_READ | EV_WRITE);
	ev_io_start(w->loop, &c->io);
	return 0;
fail:
	w->stats.error[cls]++;
	stats_count_conn(&w->stats, STATS_CONN_FAILED, cls);
	dest_record_failed(&w->dests, c->dest, &w->stats);
	pool_conn_closed(w, c, true);
	return -1;
}

/* Which of the scenario's targets c dials (options.targets), or UINT32_MAX. */
static uint32_t target_of(const struct worker *w, const struct conn *c)
{
	return c->dest < w->dests.n ? w->dests.d[c->dest].target : UINT32_MAX;
}

struct surge_ctx *conn_ctx(struct worker *w, struct conn *c)
{
	struct surge_ctx *ctx = &w->ctxs[c->id];

	ctx->conn_id = c->id;
	ctx->worker = w->index;
	ctx->target = target_of(w, c) + 1; /* from 1; UINT32_MAX wraps to 0, none */
	return ctx;
}

/* Before a call that makes or announces a request: what it is numbered and
 * when. An answer's callback sees them as its request left them. */
static void ctx_stamp(struct worker *w, struct conn *c)
{
	struct surge_ctx *ctx = conn_ctx(w, c);

	ctx->seq = (double)c->seq;
	ctx->now_ns = (double)clock_ns();
}

/* Tells a message protocol's Lua of a connection's open or close (its
 * connect/close callbacks, ctx.state). Returns 0 or -EINVAL when the callback
 * raised (logged here; the caller counts it). */
static int conn_event(struct worker *w, struct conn *c, int what, const char *why)
{
	ctx_stamp(w, c);
	w->in_lua = true;
	int rc = lua_engine_conn_event(w->lua, c->id, what, why);
	w->in_lua = false;
	if (rc < 0)
		worker_log(w, "%s", lua_engine_last_error(w->lua));
	return rc;
}

static void conn_release_buffers(struct conn *c)
{
	buf_free(&c->rbuf);
	buf_free(&c->wbuf);
}

/* Drops every request still in flight on c (they were counted by the
 * caller). */
static void conn_forget_inflight(struct worker *w, struct conn *c)
{
	while (c->fl.first != INFLIGHT_NONE)
		inflight_remove(&w->fl, &c->fl, c->fl.first);
	w->inflight -= c->inflight;
	c->inflight = 0;
}

void conn_close(struct worker *w, struct conn *c, int cls)
{
	if (c->state == CONN_CLOSED)
		return;
	bool was_open = c->state == CONN_OPEN;
	bool session = w->opt->shape == SHAPE_SESSION;

	ev_io_stop(w->loop, &c->io);
	alarm_clear(w, c);
	tls_conn_free(c, cls < 0);
	close(c->io.fd);
	if (was_open) {
		w->open--;
		w->draining -= c->draining;
	} else {
		w->connecting--;
		deadline_connect_done(w, c);
	}
	if (cls >= 0) {
		/* A reset with no request in flight lost none: counted apart, as
		 * an idle close is (the error classes count lost requests; a
		 * server's crash counted each idle connection too). */
		bool idle_reset = cls == ERR_RESET && was_open && !c->inflight && !c->wbuf.len &&
				  !session;
		int idle = idle_reset ? stats_counter_id(&w->stats, "conn.reset_idle") : -1;
		if (idle >= 0)
			w->stats.ncounter[idle].value++;
		else
			w->stats.error[cls] += c->inflight ? c->inflight : 1;
		stats_count_conn(&w->stats, was_open ? STATS_CONN_LOST : STATS_CONN_FAILED, cls);
		dest_record_failed(&w->dests, c->dest, &w->stats);
	} else {
		w->stats.counter[ST_UNFINISHED] += c->inflight;
	}
	w->stats.counter[ST_CONN_CLOSED] += was_open;
	samples_closed(w->samples, &w->fl, c, cls, clock_ns());
	conn_forget_inflight(w, c);
	pool_ready_remove(w, c);
	c->state = CONN_CLOSED;
	c->close_reason = cls >= 0 ? (uint8_t)(cls + 1) : SURGE_CLOSED_LOCAL;
	if (was_open && w->opt->has_conn_events && !w->in_lua &&
	    conn_event(w, c, LUA_CONN_CLOSED, cls >= 0 ? stats_error_key(cls) : "closed") < 0)
		w->stats.error[ERR_SCRIPT]++;

	if (session && c->session_live) {
		/* The coroutine owns the slot until it returns: it learns of the
		 * close now if parked in a wait, else on its next call. */
		c->eof = 1;
		if (!w->in_lua && c->wait != SURGE_WAIT_NONE)
			session_wake(w, c, SURGE_WAKE_CLOSED);
		return;
	}
	conn_release_buffers(c);
	pool_conn_closed(w, c, cls >= 0);
}

/* The answer just handled ends the connection (HTTP's Connection: close, a
 * response callback's "close"): no fault, and the slot connects again at
 * once. Requests still in flight went out past the end and are lost: only
 * they count, as unexpected closes. A write that failed (salvaging) closes
 * with its own class after this, so that slot waits for the pool. */
static void conn_end(struct worker *w, struct conn *c)
{
	bool reopen = !c->salvaging;

	if (c->inflight) {
		w->stats.error[ERR_UNEXPECTED_CLOSE] += c->inflight;
		conn_forget_inflight(w, c);
	}
	conn_close(w, c, -1);
	if (reopen)
		pool_reopen(w, c);
}

/* Whether a request whose last byte is at `end` of the output had been
 * handed to the kernel when `written` bytes had been. */
static bool was_written(uint32_t end, uint32_t written)
{
	return (int32_t)(written - end) >= 0;
}

/* c's output went from `before` bytes written to c->written by a write that
 * began at `at`: the requests it wrote whole left then, and their timeout
 * counts from there, as the README says, not from when they were queued. A
 * worker stopped or descheduled between the two (SIGSTOP, a loaded machine)
 * kept no server waiting; counted from the queueing, such a request expired
 * before its answer could come (t_stall over TLS, whose write comes a while
 * after the queueing). The time is taken before the write, not after it:
 * over loopback the server may answer before the write returns, and an
 * answer stamped before its request's `sent` is not believed (conn_on_message). */
void conn_wrote(struct worker *w, struct conn *c, uint32_t before, uint64_t at)
{
	uint32_t i = c->fl.last, from = INFLIGHT_NONE;

	for (; i != INFLIGHT_NONE && !was_written(w->fl.e[i].end, before); i = w->fl.e[i].cprev)
		from = i;
	for (i = from; i != INFLIGHT_NONE && was_written(w->fl.e[i].end, c->written);
	     i = w->fl.e[i].cnext) {
		struct inflight *f = &w->fl.e[i];
		struct retry_copy *r;
		f->sent = at;
		inflight_resent(&w->fl, i);
		/* Its send lag ends here too (open model), once: a UDP resend
		 * is not sent late by the schedule. */
		if (w->opt->rate_segs &&
		    !(w->opt->retries && (r = retry_copy_of(&w->retry, i)) && r->tries > 0))
			hist_record(w->stats.hist[HI_SEND_LAG], (int64_t)(at - f->intended));
	}
}

/* Writes queued output; keeps EV_WRITE armed only while some remains. */
static int conn_flush(struct worker *w, struct conn *c)
{
	while (c->wbuf.len) {
		uint64_t at = clock_ns();
		ssize_t n = sock_write(w, c, buf_start(&c->wbuf), c->wbuf.len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				io_set(w, c, EV_READ | EV_WRITE);
				c->writing = 1;
				return 1;
			}
			conn_write_failed(w, c, errno);
			return -1;
		}
		w->stats.counter[ST_BYTES_OUT] += n;
		buf_consume(&c->wbuf, (size_t)n);
		c->written += (uint32_t)n;
		conn_wrote(w, c, c->written - (uint32_t)n, at);
	}
	buf_free(&c->wbuf); /* an idle connection holds no buffer */
	if (c->writing) {
		c->writing = 0;
		io_set(w, c, c->eof ? 0 : EV_READ);
	}
	return 0;
}

void conn_uncork(struct worker *w, struct conn *c)
{
	if (c->salvaging)
		return; /* closing: nothing more is written */
	c->corked = 0;
	if (c->state == CONN_OPEN && c->wbuf.len && w->opt->transport == TRANSPORT_UDP)
		dgram_flush(w, c);
	else if (c->state == CONN_OPEN && c->wbuf.len && !c->writing)
		conn_flush(w, c);
}

int conn_write(struct worker *w, struct conn *c, const uint8_t *p, size_t n)
{
	if (c->state != CONN_OPEN)
		return -ENOTCONN;
	if (w->opt->transport == TRANSPORT_UDP)
		return dgram_write(w, c, p, n); /* whole datagrams, never a byte stream */
	if (c->wbuf.len == 0 && !c->writing && !c->corked) {
		/* Common case: nothing queued, the kernel takes it all. */
		ssize_t k = sock_write(w, c, p, n);
		if (k < 0) {
			if (errno != EAGAIN && errno != EINTR) {
				conn_write_failed(w, c, errno);
				return -ECONNRESET;
			}
			k = 0;
		}
		w->stats.counter[ST_BYTES_OUT] += k;
		/* What this writes was stamped as it was queued, just now
		 * (conn_send_request): nothing older waits unwritten. */
		c->written += (uint32_t)k;
		if ((size_t)k == n)
			return 0;
		p += k;
		n -= (size_t)k;
	}
	if (buf_append(&c->wbuf, p, n) < 0) {
		conn_close(w, c, ERR_OTHER);
		return -ENOMEM;
	}
	if (c->corked)
		return 0;
	return conn_flush(w, c) < 0 ? -ECONNRESET : 0;
}

int conn_send_request(struct worker *w, struct conn *c, uint64_t intended)
{
	const struct options *o = w->opt;
	const uint8_t *p = o->const_request;
	size_t n = o->const_request_len;
	double key = 0;
	char why[32];

	uint32_t t = o->const_by_target ? target_of(w, c) : UINT32_MAX;
	if (t < o->nconst_by_target) {
		p = o->const_by_target[t].p;
		n = o->const_by_target[t].len;
	}

	if (!p) {
		ctx_stamp(w, c);
		w->in_lua = true;
		int rc = lua_engine_request(w->lua, c->id, w->reqbuf, WORKER_SCRATCH, &p, &n, &key,
					    why, sizeof(why));
		w->in_lua = false;
		if (rc < 0) {
			w->stats.error[rc == -EPROTO ? ERR_PROTOCOL : ERR_SCRIPT]++;
			if (rc == -EPROTO)
				protocol_why(w, why);
			else
				worker_log(w, "%s", lua_engine_last_error(w->lua));
			if (!o->rate_segs) /* the open model's entry is spent already */
				quota_unbuilt(&w->quota, clock_ns());
			int id = stats_counter_id(&w->stats, "requests.unbuilt");
			if (id >= 0)
				w->stats.ncounter[id].value++;
			return rc;
		}
		if (c->state != CONN_OPEN)
			return -ENOTCONN;
	}
	uint32_t i = inflight_push(&w->fl, &c->fl, c->id);
	if (i == INFLIGHT_NONE) {
		conn_close(w, c, ERR_OTHER);
		return -ENOMEM;
	}
	if ((o->retries || o->tcp_fallback) && retry_keep(&w->retry, i, p, n) < 0) {
		inflight_remove(&w->fl, &c->fl, i);
		conn_close(w, c, ERR_OTHER);
		return -ENOMEM;
	}
	uint64_t now = clock_ns();
	struct inflight *f = &w->fl.e[i];
	samples_sent(w->samples, i, (uint32_t)n);
	f->key = key;
	f->intended = intended ? intended : now;
	f->sent = now;
	f->end = c->written + c->wbuf.len + (uint32_t)n;
	c->inflight++;
	c->seq++;
	churn_sent(w, c, now);
	w->inflight++;
	w->stats.counter[ST_SENT]++;
	quota_sent(&w->quota, now);
	deadline_request_sent(w);
	int rc = conn_write(w, c, p, n);
	/* Written at once, it was sent now: its send lag ends here. Queued,
	 * it ends with the write that carries it (conn_wrote stamps it). */
	if (intended && c->state == CONN_OPEN && w->fl.e[i].sent == now &&
	    was_written(w->fl.e[i].end, c->written))
		hist_record(w->stats.hist[HI_SEND_LAG], (int64_t)(now - intended));
	return rc;
}

/* Length of the message at p: > 0 whole message, 0 need more, < 0 malformed
 * (FRAME_SCRIPT_ERROR: a Lua framing function raised or returned no number).
 * FRAME_HTTP fills *hr. */
static long frame_length(struct worker *w, const uint8_t *p, size_t n, struct http_response *hr)
{
	const struct options *o = w->opt;

	switch (o->framing) {
	case FRAME_HTTP:
		return http_parse_response(p, n, &o->http, hr);
	case FRAME_FIXED:
	case FRAME_U16:
	case FRAME_DELIM:
		return framing_measure(o, p, n);
	case FRAME_LUA: {
		w->in_lua = true;
		long r = lua_engine_frame(w->lua, p, n);
		w->in_lua = false;
		return r;
	}
	default:
		return (long)n;
	}
}

/* Why, in the counter protocol.<why>; the error itself is counted by the
 * caller: one bad answer, or conn_close for every request a fault loses.
 * The reason may come from a script: anything but letters, digits and
 * ._:- becomes '_', so a reason cannot break the report's counters line
 * ("bad chunk size" is protocol.bad_chunk_size). */
static void protocol_why(struct worker *w, const char *why)
{
	char name[STATS_NAME_MAX];

	int n = snprintf(name, sizeof(name), "protocol.%s", why);
	for (int i = 9; i < n && i < (int)sizeof(name) - 1; i++) {
		char ch = name[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '.' || ch == '_' || ch == ':' || ch == '-'))
			name[i] = '_';
	}
	int id = stats_counter_id(&w->stats, name);
	if (id >= 0)
		w->stats.ncounter[id].value++;
}

static void protocol_error(struct worker *w, const char *why)
{
	w->stats.error[ERR_PROTOCOL]++;
	protocol_why(w, why);
}

/* The request an answer is for: the oldest in flight, or by key the oldest
 * carrying it. Only requests wholly written before the bytes were read can be
 * answered by them: not one still queued, nor a refill queued while this read
 * is parsed, so a framing rule that cuts answers too short shows up as
 * unmatched answers instead of invented ones. INFLIGHT_NONE when none. */
static uint32_t conn_match(struct worker *w, struct conn *c, bool by_key, bool has_key, double key,
			   uint32_t answerable)
{
	for (uint32_t i = c->fl.first; i != INFLIGHT_NONE; i = w->fl.e[i].cnext) {
		const struct inflight *f = &w->fl.e[i];
		if (!was_written(f->end, answerable))
			break;
		if (!by_key || (has_key && f->key == key))
			return i;
	}
	return INFLIGHT_NONE;
}

/* Whether request i's answer, received at `at`, came after its deadline:
 * then it is the request's timeout, not a completion, whatever order the
 * loop saw them in (on a loaded machine the deadline's timer may not have
 * run yet). Over UDP a try waits retry_after; while tries are left the
 * resend would have come first and this answer still answers it. */
static bool answered_late(struct worker *w, uint32_t i, uint64_t at)
{
	const struct options *o = w->opt;
	const struct inflight *f = &w->fl.e[i];

	if (o->transport != TRANSPORT_UDP)
		return o->request_timeout_ns && at - f->sent > o->request_timeout_ns;
	const struct retry_copy *r = retry_copy_of(&w->retry, i);
	if (r && !r->via_tcp && r->tries < o->retries) /* as retry_again */
		return false;
	return o->retry_after_ns && at - f->sent > o->retry_after_ns;
}

void conn_on_message(struct worker *w, struct conn *c, const uint8_t *p, size_t n,
		     uint32_t answerable, const struct http_response *http)
{
	const struct options *o = w->opt;
	double key = 0;
	bool has_key = false, ends = false;
	char why[32] = "";

	if (http) {
		ends = http->close;
		/* Not when only surge ends it (a suspect framing): the server
		 * would have kept it open. */
		if (http->server_closes)
			http_stats_closed(&w->http, &w->stats);
		samples_status(w->samples, (int32_t)http->status); /* a callback may override it */
	}

	/* In order, an answer with no written request before it answers
	 * nothing: the callback is not asked, or the module would count what
	 * it says of an answer to no request (unsolicited, below). */
	bool fifo = o->match == MATCH_FIFO;
	if (o->has_response_fn &&
	    !(fifo && (c->fl.first == INFLIGHT_NONE ||
		       !was_written(w->fl.e[c->fl.first].end, answerable)))) {
		struct surge_ctx *ctx = conn_ctx(w, c);
		/* fifo: the answer is the oldest request's, and its callback
		 * sees that request's number and send time, not the newest's
		 * (pipelined). Requests leave c->fl in order, so the oldest is
		 * numbered c->seq - c->inflight. By key the request is known
		 * only from what the callback returns: ctx stays the newest's. */
		if (fifo) {
			ctx->seq = (double)(c->seq - c->inflight);
			ctx->now_ns = (double)w->fl.e[c->fl.first].sent;
		}
		w->in_lua = true;
		bool lua_ends = false;
		int rc = lua_engine_response(w->lua, c->id, p, n, &key, &has_key, &lua_ends, why,
					     sizeof(why));
		ends = ends || lua_ends;
		w->in_lua = false;
		if (rc < 0) {
			/* conn_close counts the requests in flight, this one among them. */
			worker_log(w, "%s", lua_engine_last_error(w->lua));
			conn_close(w, c, ERR_SCRIPT);
			return;
		}
		if (c->state != CONN_OPEN)
			return;
	}
	bool to_tcp = o->has_response_fn && o->tcp_fallback && lua_engine_then_tcp(w->lua);
	bool late = o->has_response_fn && lua_engine_late(w->lua);
	uint32_t i = late ? INFLIGHT_NONE : conn_match(w, c, o->match == MATCH_KEY, has_key, key,
							answerable);
	if (i == INFLIGHT_NONE) {
		if (o->transport == TRANSPORT_UDP && retry_late_answer(w, c->id, has_key ? key : 0))
			return; /* a resent request's other answer: counted once already */
		if (c->fl.first == INFLIGHT_NONE || !was_written(w->fl.e[c->fl.first].end, answerable))
			/* UDP: a late answer to a request that timed out. */
			protocol_error(w, w->opt->transport == TRANSPORT_UDP ? "unmatched"
									    : "unsolicited");
		else
			protocol_error(w, why[0] ? why : "unmatched");
		if (ends)
			conn_end(w, c);
		return;
	}
	if (to_tcp && !why[0]) {
		/* Truncated (RFC 1035 4.2.1): the request goes again over TCP
		 * and stays in flight here, where the TCP answer lands. */
		if (fallback_send(w, c, i) == 0)
			return;
		snprintf(why, sizeof(why), "truncated");
		/* The protocol kept the request for the TCP answer: it lets go. */
		dgram_fail(w, c, i, ERR_PROTOCOL);
		protocol_why(w, why);
		return;
	}
	uint64_t now = clock_ns();
	const struct inflight *f = &w->fl.e[i];
	/* The answer's end arrived when the kernel says, if it says so and it
	 * was after the request left (a clock step can say otherwise). */
	uint64_t at = w->rx_ns >= f->sent && w->rx_ns <= now ? w->rx_ns : now;
	if (answered_late(w, i, at)) {
		/* As if the deadline had run first: the request times out, and
		 * its answer is then a late one. */
		if (o->transport == TRANSPORT_UDP) {
			double k = w->fl.e[i].key; /* the entry is gone after expiry */
			dgram_expire(w, c, i);
			if (!retry_late_answer(w, c->id, k))
				protocol_error(w, "unmatched");
		} else {
			conn_close(w, c, ERR_REQUEST_TIMEOUT); /* the stream's place is lost */
		}
		return;
	}
	if (why[0]) {
		/* Answered, but wrongly: a protocol error, not a latency sample. */
		protocol_error(w, why);
	} else {
		hist_record(w->stats.hist[HI_LATENCY], (int64_t)(at - f->intended));
		dest_record_latency(&w->dests, c->dest, &w->stats, (int64_t)(at - f->intended));
		hist_record(w->stats.hist[HI_SERVICE], (int64_t)(at - f->sent));
		w->stats.counter[ST_COMPLETED]++;
		/* Only an answer proves the server takes this connection: one
		 * that opens and is reset at once keeps backing off (a server
		 * closing every connection was reconnected to every 10 ms). */
		c->backoff = 0;
		c->answered = 1;
		if (c->src < w->stats.nsrc)
			w->stats.src_reqs[c->src]++;
	}
	/* Counted by status only now, matched to its request: an answer
	 * refused as unsolicited answered nothing, and would count twice
	 * what the server answered once. */
	if (http)
		http_stats_answer(&w->http, &w->stats, http);
	samples_done(w->samples, c, i, f, at, (uint32_t)n, why[0] ? ERR_PROTOCOL : -1);
	if (o->transport == TRANSPORT_UDP)
		retry_settled(w, i, true);
	churn_answered(w, c, now);
	inflight_remove(&w->fl, &c->fl, i);
	c->inflight--;
	w->inflight--;
	if (ends) {
		dispatch_conn_ends(w, c);
		conn_end(w, c);
	} else {
		dispatch_conn_has_room(w, c);
	}
}

/* Parses whole messages out of data; returns the bytes consumed. */
static size_t conn_parse(struct worker *w, struct conn *c, const uint8_t *data, size_t len,
			 uint32_t answerable)
{
	size_t off = 0;
	struct http_response hr;
	bool http = w->opt->framing == FRAME_HTTP;

	while (off < len && c->state == CONN_OPEN) {
		long m = frame_length(w, data + off, len - off, &hr);
		if (m == 0) {
			/* An HTTP head that announces more than max_message is
			 * refused now, not after the bytes (or a timeout). */
			if (len - off > w->opt->max_message ||
			    (http && hr.length > w->opt->max_message)) {
				protocol_why(w, "oversized");
				conn_close(w, c, ERR_PROTOCOL);
			}
			break;
		}
		if (m == FRAME_SCRIPT_ERROR) {
			worker_log(w, "%s", lua_engine_last_error(w->lua));
			conn_close(w, c, ERR_SCRIPT);
			break;
		}
		if (m < 0 || (size_t)m > len - off) {
			protocol_why(w, m == FRAMING_OVERSIZED ? "oversized"
					: http && m == -1      ? hr.why
							       : "bad framing");
			conn_close(w, c, ERR_PROTOCOL);
			break;
		}
		/* Whole messages too: one that arrived in one read is as
		 * oversized as one that dripped in (the m == 0 case above). */
		if ((size_t)m > w->opt->max_message) {
			protocol_why(w, "oversized");
			conn_close(w, c, ERR_PROTOCOL);
			break;
		}
		conn_on_message(w, c, data + off, (size_t)m, answerable, http ? &hr : NULL);
		off += (size_t)m;
	}
	return off;
}

/* The server closed a connection with no request on it and nothing half
 * read (an idle timeout, a restart; HTTP/1.1 9.3.1 allows it of a
 * keep-alive connection): nothing was lost, so it is no error, only
 * counted, and the slot connects again. */
static void conn_idle_closed(struct worker *w, struct conn *c)
{
	if (w->opt->framing == FRAME_HTTP) {
		http_stats_closed(&w->http, &w->stats);
	} else {
		int id = stats_counter_id(&w->stats, "conn.closed_by_server");
		if (id >= 0)
			w->stats.ncounter[id].value++;
	}
	/* Closed before it answered anything (a close on accept): the slot
	 * backs off as a failed one does — 50 slots against a server closing
	 * each at once made 2500 connections in 3 s. */
	if (!c->answered) {
		conn_close(w, c, -1);
		pool_conn_hold_back(w, c);
		return;
	}
	conn_end(w, c);
}

/* FRAME_HTTP at end of stream with a partial answer: a close-delimited
 * body ends here (RFC 9112 6.3 p.8), a graceful end; true when it was. */
static bool conn_http_eof(struct worker *w, struct conn *c)
{
	struct http_response hr;

	if (w->opt->framing != FRAME_HTTP)
		return false;
	if (c->rbuf.len == 0 ||
	    http_parse_response(buf_start(&c->rbuf), c->rbuf.len, &w->opt->http, &hr) != 0 ||
	    !hr.until_close)
		return false;
	conn_on_message(w, c, buf_start(&c->rbuf), c->rbuf.len, c->written, &hr);
	return true;
}

/* One read and every whole message in it. Under a bound (w->read_by, set by
 * conn_read_arrived) a read the kernel received later, or an end of stream
 * (it has no stamp), closes c as the request timeout instead, unparsed.
 * Returns true when it read something and the connection is still open. */
static bool conn_read_messages(struct worker *w, struct conn *c)
{
	uint8_t *data;
	ssize_t n;

	if (c->rbuf.len == 0) {
		data = w->scratch;
		n = sock_read(w, c, data, WORKER_SCRATCH);
	} else {
		if (buf_reserve(&c->rbuf, 16384) < 0) {
			conn_close(w, c, ERR_OTHER);
			return false;
		}
		data = buf_start(&c->rbuf);
		n = sock_read(w, c, data + c->rbuf.len, c->rbuf.cap - c->rbuf.head - c->rbuf.len);
	}
	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return false;
		if (w->read_by && c->inflight > 0)
			conn_close(w, c, ERR_REQUEST_TIMEOUT);
		else if (n < 0)
			conn_close(w, c, errno_class(errno, false));
		else if (c->salvaging)
			; /* the write took the reset's error: it closes with that */
		else if (c->inflight == 0 && (w->stopping || c->draining))
			conn_close(w, c, -1);
		else if (c->inflight == 0 && c->rbuf.len == 0)
			conn_idle_closed(w, c);
		else if (!conn_http_eof(w, c))
			conn_close(w, c, ERR_UNEXPECTED_CLOSE);
		return false;
	}
	w->stats.counter[ST_BYTES_IN] += n;
	/* No stamp: judged by now. */
	if (w->read_by && (w->rx_ns ? w->rx_ns : clock_ns()) > w->read_by) {
		conn_close(w, c, ERR_REQUEST_TIMEOUT);
		return false;
	}
	size_t len = data == w->scratch ? (size_t)n : c->rbuf.len + (size_t)n;

	/* The requests that answers make room for (closed model) go out in one
	 * write after the whole read is parsed, not one syscall and one
	 * segment per answer. */
	c->corked = 1;
	size_t used = conn_parse(w, c, data, len, c->written);
	if (c->state != CONN_OPEN)
		return false;
	/* What is left is settled before the write: a write that fails reads
	 * again (conn_write_failed), and must find the buffer as it is. */
	size_t left = len - used;
	if (left == 0) {
		buf_free(&c->rbuf);
	} else if (data == w->scratch) {
		if (buf_append(&c->rbuf, data + used, left) < 0) {
			conn_close(w, c, ERR_OTHER);
			return false;
		}
	} else {
		c->rbuf.len = (uint32_t)len; /* the read landed after the partial */
		buf_consume(&c->rbuf, used);
	}
	conn_uncork(w, c);
	return c->state == CONN_OPEN;
}

/* Reads bounded like a salvage: a stall of seconds leaves at most this many
 * socket buffers' worth for the expiry to go through. */
#define ARRIVED_READS 16

void conn_read_arrived(struct worker *w, struct conn *c, uint64_t limit, uint64_t now)
{
	if (w->opt->shape == SHAPE_SESSION || w->opt->transport == TRANSPORT_UDP)
		return;
	/* Each read is judged by the deadline of c's oldest request then: one
	 * answered makes the next one's the bound, and requests sent meanwhile
	 * (refills) are not judged by an older request's deadline. */
	for (int i = 0; i < ARRIVED_READS && c->state == CONN_OPEN && c->fl.first != INFLIGHT_NONE;
	     i++) {
		uint64_t sent = w->fl.e[c->fl.first].sent;
		if (now <= sent || now - sent < limit)
			break; /* not expired: the loop reads the rest */
		/* Salvage reads after a failed refill are held to it too. */
		w->read_by = sent + limit;
		bool more = conn_read_messages(w, c);
		w->read_by = 0;
		if (!more)
			break;
	}
}

/* A write failed (the peer reset or closed): answers it sent before that may
 * still wait in the socket, and the kernel hands them out before the error.
 * They are read and counted first; the refills they make room for only
 * queue. Then the connection closes with the write's error class (or the
 * read's, when the read meets it first). Sessions read at their own pace. */
#define SALVAGE_READS 16

static void conn_write_failed(struct worker *w, struct conn *c, int err)
{
	if (w->opt->shape != SHAPE_SESSION && !c->salvaging) {
		c->salvaging = 1;
		c->corked = 1;
		for (int i = 0; i < SALVAGE_READS && conn_read_messages(w, c); i++)
			;
	}
	if (c->state != CONN_CLOSED) /* a salvaging read may have closed it, counted */
		conn_close(w, c, errno_class(err, false));
}

/* A session coroutine returned (rc 1, or 2 when it counted an error itself)
 * or raised (rc < 0): the slot is free once the socket is closed. Only a
 * session that met no fault completed: one whose connection a fault closed
 * (counted then) or that counted its own (rc 2) failed, whatever it
 * returned, so errors.rate and thresholds see it. One whose connection
 * surge ended (the run is over, the pool shrank) returns because it was
 * cut short, whatever it was doing: unfinished, as requests in flight are. */
static void session_finish(struct worker *w, struct conn *c, int rc)
{
	bool closed = c->state == CONN_CLOSED;
	bool faulted = closed && c->close_reason > 0 && c->close_reason < SURGE_CLOSED_EOF;
	bool cut = closed && c->close_reason == SURGE_CLOSED_LOCAL;

	if (rc < 0) {
		w->stats.error[ERR_SCRIPT]++;
		worker_log(w, "%s", lua_engine_last_error(w->lua));
	} else if (rc == 1 && cut) {
		w->stats.counter[ST_SESSIONS_UNFINISHED]++;
	} else if (rc == 1 && !faulted) {
		w->stats.counter[ST_SESSIONS_DONE]++;
		c->backoff = 0;
		c->answered = 1;
	}
	c->session_live = 0;
	c->wait = SURGE_WAIT_NONE;
	if (c->state != CONN_CLOSED) {
		conn_close(w, c, -1);
		/* A session that failed (its error counted by the module, or a
		 * script error) reconnects after the backoff, as a fault does:
		 * a reader refused at DESCRIBE retried 1000 times a second. */
		if (rc != 1)
			pool_conn_hold_back(w, c);
		return;
	}
	conn_release_buffers(c);
	pool_conn_closed(w, c, c->close_reason < SURGE_CLOSED_EOF);
	if (rc != 1 && !cut && c->close_reason >= SURGE_CLOSED_EOF)
		pool_conn_hold_back(w, c); /* it closed itself, then failed */
}

static void session_wake(struct worker *w, struct conn *c, int reason)
{
	c->wait = SURGE_WAIT_NONE;
	alarm_clear(w, c);
	w->in_lua = true;
	int rc = lua_engine_session_resume(w->lua, c->id, reason);
	w->in_lua = false;
	if (rc == 0 && c->wait == SURGE_WAIT_NONE)
		rc = lua_engine_session_stray(w->lua, c->id);
	if (rc != 0)
		session_finish(w, c, rc);
}

static void conn_read_session(struct worker *w, struct conn *c)
{
	if (c->rbuf.len >= SESSION_RBUF_MAX) {
		io_set(w, c, c->writing ? EV_WRITE : 0); /* backpressure until consumed */
		return;
	}
	/* Every read lands in the worker's scratch and only what it brought is
	 * kept: with nothing buffered, in a buffer of exactly that size (a
	 * 200-byte packet costs 200 bytes, not a 4 KiB first buffer); after a
	 * partial message, appended (growth at most doubles what is held, where
	 * reading in place reserved 16 KiB more for every reader caught
	 * mid-packet). conn_consume gives it back once emptied, so a reader
	 * between packets holds no memory of its own. (Pointers from an earlier
	 * conn:fill are stale after a yield anyway.) */
	ssize_t n = sock_read(w, c, w->scratch, WORKER_SCRATCH);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		conn_close(w, c, errno_class(errno, false));
		return;
	}
	if (n == 0) {
		c->eof = 1;
		io_set(w, c, c->writing ? EV_WRITE : 0);
	} else {
		w->stats.counter[ST_BYTES_IN] += n;
		w->session_rx_ns = w->rx_ns;
		w->session_rx_id = c->id;
		if (c->rbuf.len == 0)
			buf_free(&c->rbuf);
		int rc = c->rbuf.len ? buf_append(&c->rbuf, w->scratch, (size_t)n)
				     : buf_append_exact(&c->rbuf, w->scratch, (size_t)n);
		if (rc < 0) {
			conn_close(w, c, ERR_OTHER);
			return;
		}
	}
	if (c->wait == SURGE_WAIT_READ)
		session_wake(w, c, SURGE_WAKE_READ);
}

void conn_consume(struct worker *w, struct conn *c, uint32_t n)
{
	buf_consume(&c->rbuf, n < c->rbuf.len ? n : c->rbuf.len);
	if (c->rbuf.len == 0)
		buf_free(&c->rbuf); /* a session between messages holds no buffer */
	if (c->state == CONN_OPEN && !c->eof && c->rbuf.len < SESSION_RBUF_MAX &&
	    !(c->io.events & EV_READ)) {
		io_set(w, c, EV_READ | (c->writing ? EV_WRITE : 0));
		tls_conn_kick(w, c);
	}
}

static void conn_established(struct worker *w, struct conn *c);

/* One step of the TLS handshake; the connect timeout still runs. */
static void conn_handshake(struct worker *w, struct conn *c)
{
	int cls = ERR_OTHER, rc = tls_conn_handshake(w, c, &cls);

	if (rc < 0)
		conn_close(w, c, cls);
	else if (rc > 0)
		io_set(w, c, rc);
	else
		conn_established(w, c);
}

static void conn_on_connected(struct worker *w, struct conn *c, int revents)
{
	int err = 0;
	socklen_t len = sizeof(err);

	/* Readable as well: a fault, or a server that spoke first. */
	if ((revents & EV_READ) && getsockopt(c->io.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err) {
		conn_close(w, c, errno_class(err, true));
		return;
	}
	hist_record(w->stats.hist[HI_CONNECT], (int64_t)(clock_ns() - c->t_connect));
	if (w->tls && tls_conn_wanted(w, c)) {
		if (tls_conn_start(w, c) < 0) {
			conn_close(w, c, ERR_OTHER);
			return;
		}
		conn_handshake(w, c);
		return;
	}
	conn_established(w, c);
}

/* The connection carries traffic from now: TCP connected, and with TLS
 * the handshake completed. */
static void conn_established(struct worker *w, struct conn *c)
{
	w->stats.counter[ST_CONN_OPENED]++;
	if (c->src < w->stats.nsrc)
		w->stats.src_conns[c->src]++;
	dest_record_open(&w->dests, c->dest, &w->stats);
	w->connecting--;
	deadline_connect_done(w, c);
	if (++w->open > w->open_peak)
		w->open_peak = w->open;
	c->state = CONN_OPEN;
	samples_conn_opened(w->samples, c);
	churn_opened(w, c, clock_ns());
	c->seq = 0;
	c->written = 0;
	io_set(w, c, EV_READ);
	if (w->opt->has_conn_events && conn_event(w, c, LUA_CONN_OPENED, NULL) < 0) {
		conn_close(w, c, ERR_SCRIPT);
		return;
	}
	if (!w->holding)
		conn_begin(w, c);
}

void conn_begin(struct worker *w, struct conn *c)
{
	if (w->opt->shape == SHAPE_SESSION) {
		c->session_live = 1;
		conn_ctx(w, c); /* conn.target reads ctx.target */
		w->in_lua = true;
		int rc = lua_engine_session_start(w->lua, c->id);
		w->in_lua = false;
		/* Parked with no wait armed (a bare coroutine.yield()): nothing
		 * would wake it, and the session would be lost uncounted. */
		if (rc == 0 && c->wait == SURGE_WAIT_NONE)
			rc = lua_engine_session_stray(w->lua, c->id);
		if (rc != 0)
			session_finish(w, c, rc);
		return;
	}
	dispatch_conn_has_room(w, c);
}

static void conn_io_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct worker *w = ev_userdata(loop);
	struct conn *c = container_of(io, struct conn, io);

	if (c->state == CONN_CONNECTING) {
		if (c->tls)
			conn_handshake(w, c);
		else
			conn_on_connected(w, c, revents);
		return;
	}
	if ((revents & EV_WRITE) && c->writing) {
		if (conn_flush(w, c) < 0)
			return;
		if (!c->writing && c->wait == SURGE_WAIT_WRITE) {
			session_wake(w, c, SURGE_WAKE_WRITE);
			return;
		}
	}
	if ((revents & EV_READ) && c->state == CONN_OPEN) {
		if (w->opt->shape == SHAPE_SESSION)
			conn_read_session(w, c);
		else if (w->opt->transport == TRANSPORT_UDP)
			dgram_read(w, c);
		else
			conn_read_messages(w, c);
	}
}

void conn_alarm(struct worker *w, struct conn *c)
{
	if (c->wait != SURGE_WAIT_NONE)
		session_wake(w, c, SURGE_WAKE_TIMER);
}

/* ---- FFI surface for session coroutines (include/surge/ffi.h) ---- */

static struct conn *conn_by_id(struct worker *w, uint32_t id)
{
	return id < w->nconns ? &w->conns[id] : NULL;
}

int32_t surge_conn_peek(struct worker *w, uint32_t id, const uint8_t **p)
{
	struct conn *c = conn_by_id(w, id);
	if (!c)
		return -1;
	*p = buf_start(&c->rbuf);
	return (int32_t)c->rbuf.len;
}

void surge_conn_consume(struct worker *w, uint32_t id, uint32_t n)
{
	struct conn *c = conn_by_id(w, id);
	if (c)
		conn_consume(w, c, n);
}

int surge_conn_send(struct worker *w, uint32_t id, const uint8_t *p, uint32_t n)
{
	struct conn *c = conn_by_id(w, id);
	if (!c || c->state != CONN_OPEN)
		return -ENOTCONN;
	int rc = conn_write(w, c, p, n);
	if (rc < 0)
		return rc;
	return c->writing ? 1 : 0;
}

void surge_conn_wait(struct worker *w, uint32_t id, int what, double timeout_s)
{
	struct conn *c = conn_by_id(w, id);
	if (!c)
		return;
	c->wait = (uint8_t)what;
	if (timeout_s > 0)
		alarm_set(w, c, (uint64_t)(timeout_s * 1e9), ALARM_WAKE);
	else
		alarm_clear(w, c);
}

double surge_conn_rx_ns(struct worker *w, uint32_t id)
{
	if (id != w->session_rx_id)
		return 0;
	/* After a step of the real-time clock a stamp may lie ahead: unknown. */
	return w->session_rx_ns <= clock_ns() ? (double)w->session_rx_ns : 0;
}

int surge_conn_state(struct worker *w, uint32_t id)
{
	struct conn *c = conn_by_id(w, id);
	if (!c)
		return SURGE_CLOSED_EOF;
	if (c->state == CONN_OPEN && !c->eof)
		return 0;
	return c->close_reason ? c->close_reason : SURGE_CLOSED_EOF;
}

void surge_conn_close(struct worker *w, uint32_t id)
{
	struct conn *c = conn_by_id(w, id);
	if (!c || c->state == CONN_CLOSED)
		return;
	conn_close(w, c, -1);
	/* The session ended it itself: it may still complete (session_finish). */
	c->close_reason = SURGE_CLOSED_SELF;
}
