/* serve: the process model and sockets of the built-in servers, and the
 * hooks where the faults of serve_fault.h act; protocols plug in through
 * struct serve_proto (serve.h). */
#include "serve.h"
#include "serve_fault.h"
#include "serve_udp.h"
#include "serve_tls.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "container.h"
#include "run.h"
#include "splitmix.h"
#include "tls.h"
#include "units.h"

#define SCRATCH (64 * 1024)
#define OUT_HIGH (1u << 20)   /* stop reading a client this far behind */
#define STREAM_MAX (4u << 20) /* serve_conn_stream refuses beyond this */
#define MAX_WORKERS 64

enum serve_counter {
	SC_ACCEPTED,
	SC_CLOSED_BY_PEER,
	SC_BYTES_IN,
	SC_BYTES_OUT,
	SC_REPLIES,
	SC_DROPPED,
	SC_PROTOCOL_ERRORS,
	SC_ACCEPT_ERRORS,
	SC_PEAK_OPEN, /* per worker; summed it is an upper bound of the total */
	SC_GARBLED,      /* --garbage: replies sent as garbage */
	SC_RESETS,       /* --reset-after: connections reset */
	SC_HALF_CLOSED,  /* --half-close: connections shut for writing */
	SC_FAULT_CLOSES, /* --close-on-accept, --close-after: connections closed */
	SC_UNANSWERED,   /* --half-close: requests read after the shutdown */
	SC_UDP_REQUESTS, /* datagrams read (serve_udp.c); their replies count in SC_REPLIES */
	SC_UDP_SEND_ERRORS,
	SC_TLS_FAILURES, /* --tls-cert: handshakes that failed */
	SC_TLS_STALLED,  /* --tls-fault stall: connections whose handshake was never answered */
	SC_COUNT
};

static const char *const counter_names[SC_COUNT] = {
	"accepted", "closed_by_peer", "bytes_in", "bytes_out", "replies",
	"dropped", "protocol_errors", "accept_errors", "peak_open",
	"garbled", "resets", "half_closed", "fault_closes", "unanswered",
	"udp_requests", "udp_send_errors",
	"tls_failures", "tls_stalled",
};

struct serve_totals {
	uint64_t core[SC_COUNT];
	uint64_t proto[SERVE_MAX_COUNTERS];
};

struct serve_config {
	const struct serve_proto *proto;
	void *proto_config;
	struct sockaddr_storage listen;
	socklen_t listen_len;
	char listen_text[128];
	unsigned workers;
	struct serve_fault fault;
	uint64_t exit_after_ns;
	uint64_t seed;
	const char *ready_file, *report_file;
	int backlog;
	const char *tls_cert, *tls_key, *tls_client_ca;
	bool tls_self;          /* --tls: a self-signed certificate made at start */
	enum serve_tls_fault tls_fault;
	char tls_ca[4096];      /* where --tls wrote it */
	struct ssl_ctx_st *tls; /* made before the fork: one ticket key for all workers */
};

/* A reply held back by --delay or --stall: released in due order, which is
 * also arrival order because the delay is constant and stalls end in order. */
struct held {
	struct serve_conn *conn;
	uint64_t due;
	uint32_t len;
};

struct serve_worker {
	struct ev_loop *loop;
	const struct serve_config *cfg;
	unsigned index;
	int listen_fd, report_fd;
	ev_io accept_io;
	ev_timer accept_pause, release, tick, exit_after, die_after;
	ev_signal sigterm, sigint;
	uint8_t *scratch;
	uint64_t now;
	uint64_t start;
	uint64_t rng;
	uint64_t open;
	struct serve_totals totals;
	struct held *held;
	size_t held_head, held_len, held_cap;
	struct serve_conn *tick_list;
	struct serve_fault_line drip_line; /* --drip: connections waiting to write */
	ev_timer drip;
	struct serve_conn *dead; /* closed, freed before the loop next blocks */
	ev_prepare reap;
};

struct serve_conn {
	struct serve_worker *w;
	int fd;
	ev_io rio, wio;
	struct buf in, out, held;
	uint32_t held_entries; /* entries in w->held pointing here: free when 0 */
	bool closed, close_after_write, reading_paused, ticking;
	bool half_close_due;   /* --half-close: shut writing once out and held are empty */
	bool half_closed;
	bool handshaking;      /* TLS: the handshake has not completed */
	bool tls_stalled;      /* --tls-fault stall: input read and ignored */
	struct ssl_st *ssl;    /* TLS session, or NULL */
	uint64_t bytes_in, replies;
	struct serve_fault_turn drip; /* queued: writes wait for drip.due */
	struct serve_conn *tick_prev, *tick_next, *dead_next;
	uint8_t state[]; /* the protocol's per-connection state */
};

/* ---- buffers ---- */

/* An emptied buffer is given back at once: an idle connection keeps none.
 * Kept, every connection answered once held its 4 KiB reply buffer: 4 GB of
 * the server's memory for a million idle ones, and a page fault and a page
 * cleared per connection (12% of the machine's CPU while they opened). A
 * busy connection pays a malloc and a free per write instead. */
static void consume(struct buf *b, size_t n)
{
	buf_consume(b, n);
	if (b->len == 0)
		buf_free(b);
}

/* ---- connections ---- */

/* Callers up the stack may still hold c: it is freed from the loop's
 * prepare watcher, and only when no held reply points at it. */
static void conn_bury(struct serve_conn *c)
{
	c->dead_next = c->w->dead;
	c->w->dead = c;
}

static void on_reap(struct ev_loop *loop, ev_prepare *p, int revents)
{
	struct serve_worker *w = container_of(p, struct serve_worker, reap);
	while (w->dead) {
		struct serve_conn *c = w->dead;
		w->dead = c->dead_next;
		buf_free(&c->in);
		buf_free(&c->out);
		buf_free(&c->held);
		free(c);
	}
}

static void drip_arm(struct serve_worker *w)
{
	ev_timer_stop(w->loop, &w->drip);
	if (!w->drip_line.head)
		return;
	uint64_t due = w->drip_line.head->due;
	ev_timer_set(&w->drip, due > w->now ? (double)(due - w->now) / 1e9 : 0, 0);
	ev_timer_start(w->loop, &w->drip);
}

static void conn_close(struct serve_conn *c)
{
	struct serve_worker *w = c->w;
	if (c->closed)
		return;
	c->closed = true;
	if (w->cfg->proto->on_close)
		w->cfg->proto->on_close(c, c->state);
	serve_conn_want_tick(c, false);
	serve_fault_line_remove(&w->drip_line, &c->drip);
	ev_io_stop(w->loop, &c->rio);
	ev_io_stop(w->loop, &c->wio);
	serve_tls_free(c->ssl, c->close_after_write);
	c->ssl = NULL;
	close(c->fd);
	w->open--;
	if (c->held_entries == 0)
		conn_bury(c);
}

/* --reset-after: SO_LINGER 0 makes close() send RST and drop what is unsent. */
static void conn_reset(struct serve_conn *c)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	c->w->totals.core[SC_RESETS]++;
	conn_close(c);
}

static void conn_flush(struct serve_conn *c)
{
	struct serve_worker *w = c->w;
	/* --drip: one write of drip_bytes, then the connection waits its turn. */
	size_t budget = w->cfg->fault.drip_bytes ? (size_t)w->cfg->fault.drip_bytes : SIZE_MAX;
	while (c->out.len && budget && !c->drip.queued) {
		size_t want = c->out.len < budget ? c->out.len : budget;
		ssize_t n = c->ssl ? tls_ssl_write(c->ssl, c->out.data + c->out.head, want)
				   : send(c->fd, c->out.data + c->out.head, want, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				ev_io_start(w->loop, &c->wio);
				break;
			}
			conn_close(c);
			return;
		}
		w->totals.core[SC_BYTES_OUT] += (uint64_t)n;
		consume(&c->out, (size_t)n);
		budget -= (size_t)n;
	}
	if (c->out.len && !budget) {
		ev_io_stop(w->loop, &c->wio);
		if (serve_fault_line_add(&w->drip_line, &c->drip, w->now + w->cfg->fault.drip_ns))
			drip_arm(w);
	}
	/* Held replies (--delay, --stall) still belong before a close or a shutdown. */
	if (c->out.len == 0) {
		ev_io_stop(w->loop, &c->wio);
		if (c->close_after_write && c->held.len == 0) {
			conn_close(c);
			return;
		}
		if (c->half_close_due && !c->half_closed && c->held.len == 0) {
			if (c->ssl)
				serve_tls_shutdown(c->ssl); /* close_notify, then the TCP FIN */
			shutdown(c->fd, SHUT_WR);
			c->half_closed = true;
			w->totals.core[SC_HALF_CLOSED]++;
		}
	}
	bool behind = c->out.len > OUT_HIGH;
	if (behind != c->reading_paused) {
		c->reading_paused = behind;
		if (behind)
			ev_io_stop(w->loop, &c->rio);
		else
			ev_io_start(w->loop, &c->rio);
	}
}

/* Feeds input to the protocol; keeps only an unconsumed tail. */
static void conn_feed(struct serve_conn *c, const uint8_t *p, size_t n)
{
	struct serve_worker *w = c->w;
	const struct serve_proto *proto = w->cfg->proto;
	bool own = c->in.len > 0;
	if (own) {
		if (buf_append(&c->in, p, n)) {
			conn_close(c);
			return;
		}
		p = c->in.data + c->in.head;
		n = c->in.len;
	}
	size_t used = 0;
	/* After a protocol error or the last reply --close-after allows, the
	 * rest of the input goes unanswered. */
	while (used < n && !c->closed && !c->close_after_write) {
		ssize_t r = proto->on_input(c, c->state, p + used, n - used);
		if (r < 0) {
			w->totals.core[SC_PROTOCOL_ERRORS]++;
			c->close_after_write = true;
			break;
		}
		if (r == 0)
			break;
		used += (size_t)r;
	}
	if (c->closed)
		return;
	if (own)
		consume(&c->in, used);
	else if (used < n && !c->close_after_write && buf_append(&c->in, p + used, n - used)) {
		conn_close(c);
		return;
	}
	if (c->close_after_write)
		ev_io_stop(w->loop, &c->rio);
	conn_flush(c);
}

/* TLS: one step of the handshake; true once it completed. */
static bool conn_handshake(struct serve_conn *c)
{
	struct serve_worker *w = c->w;
	int r = serve_tls_handshake(c->ssl);

	if (r < 0) {
		w->totals.core[SC_TLS_FAILURES]++;
		conn_close(c);
		return false;
	}
	if (r == EV_WRITE)
		ev_io_start(w->loop, &c->wio);
	else
		ev_io_stop(w->loop, &c->wio);
	if (r)
		return false;
	c->handshaking = false;
	return true;
}

/* --tls-fault stall: the ClientHello is read, so the kernel's buffers do
 * not stop the client, and never answered; the connection ends when the
 * client gives up. */
static void conn_ignore(struct serve_conn *c)
{
	for (;;) {
		ssize_t n = recv(c->fd, c->w->scratch, SCRATCH, 0);
		if (n > 0) {
			c->w->totals.core[SC_BYTES_IN] += (uint64_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		c->w->totals.core[SC_CLOSED_BY_PEER]++;
		conn_close(c);
		return;
	}
}

static ssize_t conn_recv(struct serve_conn *c, uint8_t *buf, size_t n)
{
	bool more;
	ssize_t r;

	if (!c->ssl)
		return recv(c->fd, buf, n, 0);
	r = tls_ssl_read(c->ssl, buf, n, &more);
	if (more)
		ev_feed_event(c->w->loop, &c->rio, EV_READ);
	return r;
}

static void on_readable(struct ev_loop *loop, ev_io *io, int revents)
{
	struct serve_conn *c = container_of(io, struct serve_conn, rio);
	struct serve_worker *w = c->w;
	w->now = clock_ns();
	if (c->tls_stalled) {
		conn_ignore(c);
		return;
	}
	if (c->handshaking && !conn_handshake(c))
		return;
	uint64_t reset_after = w->cfg->fault.reset_after;
	for (int rounds = 0; rounds < 4 && !c->closed && !c->reading_paused; rounds++) {
		ssize_t n = conn_recv(c, w->scratch, SCRATCH);
		if (n > 0) {
			w->totals.core[SC_BYTES_IN] += (uint64_t)n;
			/* --reset-after: what came before the limit is answered, then RST. */
			size_t take = (size_t)n;
			bool reset = reset_after && c->bytes_in + (uint64_t)n >= reset_after;
			if (reset)
				take = (size_t)(reset_after - c->bytes_in);
			c->bytes_in += take;
			conn_feed(c, w->scratch, take);
			if (reset && !c->closed) {
				conn_reset(c);
				return;
			}
			if ((size_t)n < SCRATCH)
				return;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		w->totals.core[SC_CLOSED_BY_PEER]++;
		conn_close(c);
		return;
	}
}

static void on_writable(struct ev_loop *loop, ev_io *io, int revents)
{
	struct serve_conn *c = container_of(io, struct serve_conn, wio);
	c->w->now = clock_ns(); /* a --drip turn is timed from now */
	if (c->handshaking) {
		/* Done: records that came with the client's Finished wait in
		 * the library, not the socket. */
		if (conn_handshake(c))
			ev_feed_event(loop, &c->rio, EV_READ);
		return;
	}
	conn_flush(c);
}

/* ---- the protocol's API ---- */

static void arm_release(struct serve_worker *w)
{
	if (!w->held_len) {
		ev_timer_stop(w->loop, &w->release);
		return;
	}
	uint64_t due = w->held[w->held_head].due;
	double after = due > w->now ? (double)(due - w->now) / 1e9 : 0;
	ev_timer_stop(w->loop, &w->release);
	ev_timer_set(&w->release, after, 0);
	ev_timer_start(w->loop, &w->release);
}

/* --garbage: the reply just appended to b, past the bytes the protocol keeps. */
static void garble_tail(struct serve_conn *c, struct buf *b, size_t n)
{
	uint64_t seed = serve_conn_random(c);
	serve_fault_garble(b->data + b->head + b->len - n, n, c->w->cfg->proto->garbage_keep, &seed);
	c->w->totals.core[SC_GARBLED]++;
}

int serve_conn_reply(struct serve_conn *c, const void *p, size_t n)
{
	struct serve_worker *w = c->w;
	const struct serve_fault *f = &w->cfg->fault;
	if (c->half_close_due) {
		w->totals.core[SC_UNANSWERED]++;
		return 0;
	}
	w->totals.core[SC_REPLIES]++;
	c->half_close_due = f->half_close;
	if (f->close_after && ++c->replies == f->close_after) {
		c->close_after_write = true;
		w->totals.core[SC_FAULT_CLOSES]++;
	}
	/* Random draws only for the faults asked for: the protocol's own
	 * randomness stays the same sequence for a --seed. */
	if (f->drop > 0 && serve_fault_chance(f->drop, serve_conn_random(c))) {
		w->totals.core[SC_DROPPED]++;
		return 0;
	}
	bool garble = f->garbage > 0 && serve_fault_chance(f->garbage, serve_conn_random(c));
	uint64_t due = w->now + f->delay_ns, wait;
	if (serve_fault_stalled(f, due - w->start, &wait))
		due += wait;
	if (due <= w->now && c->held.len == 0) {
		int err = buf_append(&c->out, p, n);
		if (!err && garble)
			garble_tail(c, &c->out, n);
		return err;
	}

	if (w->held_len == w->held_cap) {
		size_t cap = w->held_cap ? w->held_cap * 2 : 1024;
		struct held *h = malloc(cap * sizeof(*h));
		if (!h)
			return -ENOMEM;
		for (size_t i = 0; i < w->held_len; i++)
			h[i] = w->held[(w->held_head + i) % w->held_cap];
		free(w->held);
		w->held = h;
		w->held_head = 0;
		w->held_cap = cap;
	}
	if (buf_append(&c->held, p, n))
		return -ENOMEM;
	if (garble)
		garble_tail(c, &c->held, n);
	/* Keep due times monotonic: a later reply never overtakes an earlier one. */
	if (w->held_len) {
		uint64_t last = w->held[(w->held_head + w->held_len - 1) % w->held_cap].due;
		if (due < last)
			due = last;
	}
	w->held[(w->held_head + w->held_len) % w->held_cap] =
		(struct held){ .conn = c, .due = due, .len = (uint32_t)n };
	w->held_len++;
	c->held_entries++;
	if (w->held_len == 1)
		arm_release(w);
	return 0;
}

static void on_release(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct serve_worker *w = container_of(t, struct serve_worker, release);
	w->now = clock_ns();
	while (w->held_len && w->held[w->held_head].due <= w->now) {
		struct held h = w->held[w->held_head];
		w->held_head = (w->held_head + 1) % w->held_cap;
		w->held_len--;
		struct serve_conn *c = h.conn;
		c->held_entries--;
		if (c->closed) {
			if (c->held_entries == 0)
				conn_bury(c);
			continue;
		}
		int err = buf_append(&c->out, c->held.data + c->held.head, h.len);
		consume(&c->held, h.len);
		if (err)
			conn_close(c);
		else
			conn_flush(c);
	}
	arm_release(w);
}

int serve_conn_stream(struct serve_conn *c, const void *p, size_t n)
{
	if (c->out.len + c->held.len + n > STREAM_MAX)
		return -ENOBUFS;
	/* Behind held replies, stream data waits too, to keep the byte order. */
	if (c->held.len)
		return -ENOBUFS;
	int err = buf_append(&c->out, p, n);
	if (!err)
		ev_io_start(c->w->loop, &c->wio); /* flushed from the loop, never under the caller */
	return err;
}

size_t serve_conn_pending(const struct serve_conn *c)
{
	return c->out.len + c->held.len;
}

void serve_conn_want_tick(struct serve_conn *c, bool on)
{
	struct serve_worker *w = c->w;
	if (on == c->ticking || (on && c->closed))
		return;
	c->ticking = on;
	if (on) {
		c->tick_prev = NULL;
		c->tick_next = w->tick_list;
		if (w->tick_list)
			w->tick_list->tick_prev = c;
		w->tick_list = c;
		if (!ev_is_active(&w->tick))
			ev_timer_again(w->loop, &w->tick);
	} else {
		if (c->tick_prev)
			c->tick_prev->tick_next = c->tick_next;
		else
			w->tick_list = c->tick_next;
		if (c->tick_next)
			c->tick_next->tick_prev = c->tick_prev;
		c->tick_prev = c->tick_next = NULL;
	}
}

void serve_conn_close_after_write(struct serve_conn *c)
{
	c->close_after_write = true;
}

void *serve_conn_config(const struct serve_conn *c) { return c->w->cfg->proto_config; }
uint64_t serve_conn_now(const struct serve_conn *c) { return c->w->now; }

uint64_t serve_conn_random(struct serve_conn *c)
{
	return splitmix64(&c->w->rng); /* reproducible from --seed */
}

void serve_conn_count(struct serve_conn *c, unsigned idx, uint64_t n)
{
	if (idx < SERVE_MAX_COUNTERS)
		c->w->totals.proto[idx] += n;
}

static void on_tick(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct serve_worker *w = container_of(t, struct serve_worker, tick);
	w->now = clock_ns();
	struct serve_conn *c = w->tick_list, *next;
	for (; c; c = next) {
		next = c->tick_next; /* the call may close c and unlink it */
		w->cfg->proto->on_tick(c, c->state, w->now);
	}
	if (!w->tick_list)
		ev_timer_stop(loop, t);
}

/* ---- accepting ---- */

static void on_accept(struct ev_loop *loop, ev_io *io, int revents)
{
	struct serve_worker *w = container_of(io, struct serve_worker, accept_io);
	const struct serve_proto *proto = w->cfg->proto;
	w->now = clock_ns();
	for (int i = 0; i < 256; i++) {
		int fd = accept4(w->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
				return;
			/* Out of fds or memory: back off rather than spin on a full backlog. */
			w->totals.core[SC_ACCEPT_ERRORS]++;
			ev_io_stop(loop, io);
			/* Set again each time: a one-shot timer that fired keeps
			 * ~0 as its time, and started as it is it fires at once
			 * (a server out of fds spun a core on accept4 = EMFILE). */
			ev_timer_set(&w->accept_pause, 0.1, 0);
			ev_timer_start(loop, &w->accept_pause);
			return;
		}
		if (w->cfg->fault.close_on_accept) {
			w->totals.core[SC_ACCEPTED]++;
			w->totals.core[SC_FAULT_CLOSES]++;
			close(fd);
			continue;
		}
		struct serve_conn *c = calloc(1, sizeof(*c) + proto->conn_state_size);
		if (!c) {
			close(fd);
			w->totals.core[SC_ACCEPT_ERRORS]++;
			continue;
		}
		c->w = w;
		c->fd = fd;
		ev_io_init(&c->rio, on_readable, fd, EV_READ);
		ev_io_init(&c->wio, on_writable, fd, EV_WRITE);
		if (w->cfg->tls_fault == SERVE_TLS_STALL) {
			c->handshaking = c->tls_stalled = true;
			w->totals.core[SC_TLS_STALLED]++;
		} else if (w->cfg->tls && w->cfg->tls_fault != SERVE_TLS_PLAINTEXT) {
			if (!(c->ssl = serve_tls_accept(w->cfg->tls, fd))) {
				close(fd);
				free(c);
				w->totals.core[SC_ACCEPT_ERRORS]++;
				continue;
			}
			c->handshaking = true;
		}
		/* --never-read: the client's bytes stay in the kernel's buffers. */
		if (!w->cfg->fault.never_read)
			ev_io_start(loop, &c->rio);
		w->totals.core[SC_ACCEPTED]++;
		if (++w->open > w->totals.core[SC_PEAK_OPEN])
			w->totals.core[SC_PEAK_OPEN] = w->open;
	}
}

static void on_accept_pause(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct serve_worker *w = container_of(t, struct serve_worker, accept_pause);
	ev_io_start(loop, &w->accept_io);
}

static void on_stop(struct ev_loop *loop, ev_signal *s, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

static void on_exit_after(struct ev_loop *loop, ev_timer *t, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

static void on_drip(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct serve_worker *w = container_of(t, struct serve_worker, drip);
	w->now = clock_ns();
	struct serve_fault_turn *turn;
	/* A connection with more to write joins the line again, at its end. */
	while ((turn = serve_fault_line_pop(&w->drip_line, w->now)))
		conn_flush(container_of(turn, struct serve_conn, drip));
	drip_arm(w);
}

/* --die-after: the counts go to the parent, then the process ends here, as
 * a crash would: queued replies are lost, the kernel closes every socket
 * (RST where input was unread) and the listener. */
static void on_die_after(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct serve_worker *w = container_of(t, struct serve_worker, die_after);
	ssize_t n = write(w->report_fd, &w->totals, sizeof(w->totals));
	_exit(n == (ssize_t)sizeof(w->totals) ? EXIT_OK : EXIT_FAILED);
}

static int worker_main(const struct serve_config *cfg, unsigned index, int listen_fd, int udp_fd,
		       int report_fd)
{
	struct serve_worker w = { .cfg = cfg, .index = index, .listen_fd = listen_fd,
				  .report_fd = report_fd };
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN); /* TLS writes with write(2), not send(MSG_NOSIGNAL) */
	w.loop = ev_loop_new(EVFLAG_AUTO);
	w.scratch = malloc(SCRATCH);
	if (!w.loop || !w.scratch)
		return EXIT_FAILED;
	w.rng = cfg->seed * 0x100000001b3ull + index;
	w.start = w.now = clock_ns();

	ev_io_init(&w.accept_io, on_accept, listen_fd, EV_READ);
	ev_io_start(w.loop, &w.accept_io);
	ev_timer_init(&w.accept_pause, on_accept_pause, 0.1, 0);
	ev_timer_init(&w.release, on_release, 0, 0);
	ev_prepare_init(&w.reap, on_reap);
	ev_prepare_start(w.loop, &w.reap);
	ev_timer_init(&w.tick, on_tick, 0, 0.001);
	ev_timer_init(&w.drip, on_drip, 0, 0);
	ev_signal_init(&w.sigterm, on_stop, SIGTERM);
	ev_signal_init(&w.sigint, on_stop, SIGINT);
	ev_signal_start(w.loop, &w.sigterm);
	ev_signal_start(w.loop, &w.sigint);
	if (cfg->exit_after_ns) {
		ev_timer_init(&w.exit_after, on_exit_after, (double)cfg->exit_after_ns / 1e9, 0);
		ev_timer_start(w.loop, &w.exit_after);
	}
	if (cfg->fault.die_after_ns) {
		ev_timer_init(&w.die_after, on_die_after, (double)cfg->fault.die_after_ns / 1e9, 0);
		ev_timer_start(w.loop, &w.die_after);
	}
	struct serve_udp *udp = NULL;
	if (udp_fd >= 0) {
		udp = serve_udp_new(w.loop, udp_fd, cfg->proto, cfg->proto_config, &cfg->fault,
				    w.rng ^ 0x75647000ull, w.totals.proto);
		if (!udp)
			return EXIT_FAILED;
	}
	ev_run(w.loop, 0);

	if (udp) {
		struct serve_udp_totals ut;
		serve_udp_totals(udp, &ut);
		w.totals.core[SC_UDP_REQUESTS] += ut.datagrams;
		w.totals.core[SC_REPLIES] += ut.replies;
		w.totals.core[SC_DROPPED] += ut.dropped;
		w.totals.core[SC_BYTES_IN] += ut.bytes_in;
		w.totals.core[SC_BYTES_OUT] += ut.bytes_out;
		w.totals.core[SC_UDP_SEND_ERRORS] += ut.send_errors;
		w.totals.core[SC_PROTOCOL_ERRORS] += ut.too_long;
		serve_udp_free(udp);
	}
	if (write(report_fd, &w.totals, sizeof(w.totals)) != sizeof(w.totals))
		return EXIT_FAILED;
	/* The process exits next; the kernel closes the clients' sockets. */
	return EXIT_OK;
}

/* ---- the parent ---- */

static int parse_listen(struct serve_config *cfg, const char *s, char *err, size_t errlen)
{
	char host[128];
	const char *port;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':' || (size_t)(close - s - 1) >= sizeof(host))
			goto bad;
		memcpy(host, s + 1, (size_t)(close - s - 1));
		host[close - s - 1] = 0;
		port = close + 2;
	} else {
		const char *colon = strrchr(s, ':');
		if (!colon || (size_t)(colon - s) >= sizeof(host))
			goto bad;
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = 0;
		port = colon + 1;
	}
	/* getaddrinfo takes any number and keeps its low 16 bits (99999 listened
	 * on 34463): the port is checked here, digits only, 0 to 65535. */
	char *end;
	errno = 0;
	unsigned long pn = strtoul(port, &end, 10);
	if (!isdigit((unsigned char)port[0]) || *end || errno || pn > 65535) {
		snprintf(err, errlen, "--listen '%s': port '%s' is not a number from 0 to 65535 "
			 "(0 picks a free one), e.g. 127.0.0.1:7000", s, port);
		return -EINVAL;
	}
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
				  .ai_socktype = SOCK_STREAM }, *ai;
	if (getaddrinfo(host[0] ? host : NULL, port, &hints, &ai) != 0)
		goto bad;
	memcpy(&cfg->listen, ai->ai_addr, ai->ai_addrlen);
	cfg->listen_len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
bad:
	snprintf(err, errlen, "--listen '%s': expected ADDRESS:PORT, e.g. 127.0.0.1:7000 or [::1]:7000", s);
	return -EINVAL;
}

static int open_listener(struct serve_config *cfg, char *err, size_t errlen)
{
	int fd = socket(cfg->listen.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	/* Accepted sockets inherit it: one system call fewer per connection. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&cfg->listen, cfg->listen_len) < 0 || listen(fd, cfg->backlog) < 0)
		goto fail;
	/* Port 0: the kernel picked one; every other worker binds that one. */
	socklen_t len = cfg->listen_len;
	getsockname(fd, (struct sockaddr *)&cfg->listen, &len);
	return fd;
fail:
	snprintf(err, errlen, "cannot listen on %s: %s", cfg->listen_text, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

static void set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
	else
		((struct sockaddr_in *)ss)->sin_port = htons(port);
}

static uint16_t listen_port(const struct serve_config *cfg)
{
	const struct sockaddr_storage *ss = &cfg->listen;
	return ntohs(ss->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)ss)->sin6_port
					       : ((const struct sockaddr_in *)ss)->sin_port);
}

static void write_report(const struct serve_config *cfg, const struct serve_totals *t, FILE *f)
{
	fprintf(f, "{\"server\": \"%s\", \"workers\": %u", cfg->proto->name, cfg->workers);
	for (int i = 0; i < SC_COUNT; i++)
		fprintf(f, ", \"%s\": %" PRIu64, counter_names[i], t->core[i]);
	for (int i = 0; i < SERVE_MAX_COUNTERS && cfg->proto->counter_names[i]; i++)
		fprintf(f, ", \"%s\": %" PRIu64, cfg->proto->counter_names[i], t->proto[i]);
	fprintf(f, "}\n");
}

static const struct serve_proto *const protos[] = { &serve_echo_proto, &serve_dns_proto,
							&serve_rtsp_proto, NULL };

static const struct serve_proto *find_proto(const char *name)
{
	for (size_t i = 0; protos[i]; i++)
		if (strcmp(protos[i]->name, name) == 0)
			return protos[i];
	return NULL;
}

static void usage(FILE *f, const struct serve_proto *proto)
{
	fprintf(f,
		"usage: surge serve PROTOCOL [options]\n"
		"\n"
		"Built-in servers to load-test against. protocols:");
	for (size_t i = 0; protos[i]; i++)
		fprintf(f, " %s", protos[i]->name);
	fprintf(f,
		"\n\n"
		"  --listen ADDR:PORT   where to listen (default 127.0.0.1:7000; port 0 picks one)\n"
		"  -w, --workers N      processes, each with its own SO_REUSEPORT listener and\n"
		"                       up to ~20000 connections (default: number of CPUs)\n"
		"  --seed N             seed for --drop, --garbage and the protocol's randomness\n"
		"                       (default 1)\n"
		"  --exit-after DURATION  stop by itself (tests use it as a safety net)\n"
		"  --ready-file PATH    write the port here once listening\n"
		"  --tls                speak TLS with a self-signed certificate made at start\n"
		"                       (localhost, 127.0.0.1, ::1), written to READY-FILE.ca.pem\n"
		"                       (or $TMPDIR/surge-serve-PID.ca.pem) for clients' --tls-ca\n"
		"  --tls-cert FILE --tls-key FILE  speak TLS with this certificate chain and key;\n"
		"                       either way tickets resume on every worker\n"
		"  --tls-client-ca FILE require client certificates that chain to FILE (mutual TLS)\n"
		"  --report PATH        on exit, write the counts as JSON (accepted, bytes, replies,\n"
		"                       and what each fault did: garbled, resets, half_closed,\n"
		"                       fault_closes, unanswered, tls_failures, tls_stalled)\n"
		"  -h, --help           this text\n"
		"\n"
		"SIGINT/SIGTERM stop every worker; the counts are printed to stderr.\n\n");
	fputs(serve_fault_usage, f);
	fputs(serve_tls_fault_usage, f);
	if (proto && proto->usage)
		fprintf(f, "\n%s options:\n%s", proto->name, proto->usage);
}

static int parse_args(struct serve_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
	const struct serve_proto *proto = cfg->proto;
	for (int i = 2; i < argc; i++) {
		char key[64];
		const char *arg = argv[i], *value = NULL;
		if (strcmp(arg, "-w") == 0)
			arg = "--workers";
		if (strncmp(arg, "--", 2) != 0) {
			snprintf(err, errlen, "unexpected argument '%s'", argv[i]);
			return -EINVAL;
		}
		const char *eq = strchr(arg, '=');
		size_t klen = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
		if (klen >= sizeof(key)) {
			snprintf(err, errlen, "unknown option '%s'", arg);
			return -EINVAL;
		}
		memcpy(key, arg + 2, klen);
		key[klen] = 0;
		if (eq)
			value = eq + 1;
		else if (!serve_fault_is_flag(key) && strcmp(key, "tls") != 0 && i + 1 < argc &&
			 strncmp(argv[i + 1], "--", 2) != 0)
			value = argv[++i];
		static const char *const core_keys[] = { "listen", "workers", "seed", "exit-after",
							  "ready-file", "report", "tls-cert", "tls-key",
							  "tls-client-ca", "tls-fault" };
		uint64_t n;
		for (size_t k = 0; k < sizeof(core_keys) / sizeof(core_keys[0]); k++)
			if (strcmp(key, core_keys[k]) == 0 && !value) {
				snprintf(err, errlen, "--%s needs a value (see --help)", key);
				return -EINVAL;
			}
		int r = serve_fault_option(&cfg->fault, key, value, err, errlen);
		if (r != -ENOENT) {
			if (r)
				return r;
		} else if (strcmp(key, "listen") == 0) {
			snprintf(cfg->listen_text, sizeof(cfg->listen_text), "%s", value);
			if (parse_listen(cfg, value, err, errlen))
				return -EINVAL;
		} else if (strcmp(key, "workers") == 0) {
			if (units_count(value, &n) || n < 1 || n > MAX_WORKERS) {
				snprintf(err, errlen, "--workers '%s': expected 1 to %d", value, MAX_WORKERS);
				return -EINVAL;
			}
			cfg->workers = (unsigned)n;
		} else if (strcmp(key, "seed") == 0) {
			if (units_count(value, &cfg->seed)) {
				snprintf(err, errlen, "--seed '%s': expected a whole number", value);
				return -EINVAL;
			}
		} else if (strcmp(key, "exit-after") == 0) {
			if (units_duration(value, &cfg->exit_after_ns) || !cfg->exit_after_ns) {
				snprintf(err, errlen, "--exit-after '%s': expected a duration like 60s", value);
				return -EINVAL;
			}
		} else if (strcmp(key, "ready-file") == 0) {
			cfg->ready_file = value;
		} else if (strcmp(key, "report") == 0) {
			cfg->report_file = value;
		} else if (strcmp(key, "tls") == 0) {
			if (value) {
				snprintf(err, errlen, "--tls takes no value (--tls-cert F --tls-key F "
						      "name a certificate)");
				return -EINVAL;
			}
			cfg->tls_self = true;
		} else if (strcmp(key, "tls-cert") == 0) {
			cfg->tls_cert = value;
		} else if (strcmp(key, "tls-key") == 0) {
			cfg->tls_key = value;
		} else if (strcmp(key, "tls-client-ca") == 0) {
			cfg->tls_client_ca = value;
		} else if (strcmp(key, "tls-fault") == 0) {
			if (serve_tls_fault_parse(value, &cfg->tls_fault)) {
				snprintf(err, errlen, "--tls-fault '%s': expected untrusted, wrong-name, "
						      "expired, stall or plaintext (see --help)", value);
				return -EINVAL;
			}
		} else {
			r = proto->option ? proto->option(cfg->proto_config, key, value, err, errlen) : -ENOENT;
			if (r == -ENOENT) {
				snprintf(err, errlen, "unknown option '--%s' for surge serve %s (see --help)", key,
					 proto->name);
				return -EINVAL;
			}
			if (r)
				return r;
		}
	}
	if (!cfg->tls_cert != !cfg->tls_key) {
		snprintf(err, errlen, "--tls-cert and --tls-key go together (a PEM certificate and its key)");
		return -EINVAL;
	}
	if (cfg->tls_self && cfg->tls_cert) {
		snprintf(err, errlen, "--tls makes a certificate; --tls-cert and --tls-key bring one: "
				      "one or the other");
		return -EINVAL;
	}
	if (cfg->tls_fault && !cfg->tls_self && (serve_tls_fault_is_cert(cfg->tls_fault) || !cfg->tls_cert)) {
		snprintf(err, errlen, "--tls-fault %s needs --tls%s", serve_tls_fault_name(cfg->tls_fault),
			 serve_tls_fault_is_cert(cfg->tls_fault)
				 ? " (the server makes the certificate it breaks; not with --tls-cert)"
				 : " or --tls-cert/--tls-key");
		return -EINVAL;
	}
	if (cfg->tls_cert && !(cfg->tls = serve_tls_ctx_new(cfg->tls_cert, cfg->tls_key, err, errlen)))
		return -EINVAL;
	if (cfg->tls_self) {
		/* Beside the ready file, written before it: whoever waits for
		 * the port finds the CA too. */
		if (cfg->ready_file)
			snprintf(cfg->tls_ca, sizeof(cfg->tls_ca), "%s.ca.pem", cfg->ready_file);
		else
			snprintf(cfg->tls_ca, sizeof(cfg->tls_ca), "%s/surge-serve-%d.ca.pem",
				 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
		if (!(cfg->tls = serve_tls_ctx_self_signed(cfg->tls_ca, cfg->tls_fault, err, errlen)))
			return -EINVAL;
	}
	if (cfg->tls_client_ca && !cfg->tls) {
		snprintf(err, errlen, "--tls-client-ca needs --tls or --tls-cert/--tls-key");
		return -EINVAL;
	}
	if (cfg->tls_client_ca && serve_tls_require_client(cfg->tls, cfg->tls_client_ca, err, errlen))
		return -EINVAL;
	if (serve_fault_check(&cfg->fault, proto, err, errlen))
		return -EINVAL;
	if (proto->config_check)
		return proto->config_check(cfg->proto_config, err, errlen);
	return 0;
}

static volatile sig_atomic_t stop_signal;

static void on_parent_signal(int sig)
{
	stop_signal = sig;
}

int serve_main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout, NULL);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	struct serve_config cfg = { .seed = 1, .backlog = 65535 };
	cfg.proto = find_proto(argv[1]);
	if (!cfg.proto) {
		fprintf(stderr, "surge serve: unknown protocol '%s'\n\n", argv[1]);
		usage(stderr, NULL);
		return EXIT_USAGE;
	}
	for (int i = 2; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout, cfg.proto);
			return EXIT_OK;
		}
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	cfg.workers = cpus > 0 ? (unsigned)cpus : 1;
	char err[512] = "";
	snprintf(cfg.listen_text, sizeof(cfg.listen_text), "127.0.0.1:7000");
	parse_listen(&cfg, cfg.listen_text, err, sizeof(err));
	cfg.proto_config = cfg.proto->config_new ? cfg.proto->config_new() : NULL;
	if (cfg.proto->config_new && !cfg.proto_config) {
		fprintf(stderr, "surge serve: out of memory\n");
		return EXIT_FAILED;
	}
	int code = EXIT_USAGE;
	int fds[MAX_WORKERS], udp_fds[MAX_WORKERS], pipes[MAX_WORKERS];
	pid_t pids[MAX_WORKERS];
	unsigned started = 0;
	if (parse_args(&cfg, argc, argv, err, sizeof(err))) {
		fprintf(stderr, "surge serve %s: %s\n", cfg.proto->name, err);
		goto out;
	}

	code = EXIT_FAILED;
	/* Port 0: the first TCP listener picks the port, whose UDP twin may be
	 * someone else's; then another port is picked, a few times. */
	bool any_port = listen_port(&cfg) == 0;
	int port_tries = 0;
	for (unsigned i = 0; i < cfg.workers; i++) {
		fds[i] = open_listener(&cfg, err, sizeof(err));
		/* UDP on the same port (the TCP listener fixed it when it was 0). */
		udp_fds[i] = -1;
		if (fds[i] >= 0 && cfg.proto->on_datagram) {
			udp_fds[i] = serve_udp_open((struct sockaddr *)&cfg.listen, cfg.listen_len);
			if (udp_fds[i] == -EADDRINUSE && i == 0 && any_port && ++port_tries < 16) {
				close(fds[i]);
				set_port(&cfg.listen, 0);
				i--;
				continue;
			}
			if (udp_fds[i] < 0) {
				snprintf(err, sizeof(err), "cannot listen on UDP %s: %s", cfg.listen_text,
					 strerror(-udp_fds[i]));
				close(fds[i]);
				fds[i] = -1;
			}
		}
		if (fds[i] < 0) {
			fprintf(stderr, "surge serve %s: %s\n", cfg.proto->name, err);
			for (unsigned k = 0; k < i; k++) {
				close(fds[k]);
				if (udp_fds[k] >= 0)
					close(udp_fds[k]);
			}
			goto out;
		}
	}

	struct sigaction sa = { .sa_handler = on_parent_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	for (; started < cfg.workers; started++) {
		int p[2];
		if (pipe2(p, O_CLOEXEC) < 0)
			break;
		pid_t pid = fork();
		if (pid == 0) {
			close(p[0]);
			signal(SIGINT, SIG_DFL);
			signal(SIGTERM, SIG_DFL);
			for (unsigned k = 0; k < cfg.workers; k++)
				if (k != started) {
					close(fds[k]);
					if (udp_fds[k] >= 0)
						close(udp_fds[k]);
				}
			_exit(worker_main(&cfg, started, fds[started], udp_fds[started], p[1]));
		}
		close(p[1]);
		if (pid < 0) {
			close(p[0]);
			break;
		}
		pids[started] = pid;
		pipes[started] = p[0];
	}
	for (unsigned k = 0; k < cfg.workers; k++) {
		close(fds[k]);
		if (udp_fds[k] >= 0)
			close(udp_fds[k]);
	}
	if (started < cfg.workers) {
		fprintf(stderr, "surge serve: could only start %u of %u workers\n", started, cfg.workers);
		stop_signal = SIGTERM;
	}

	uint16_t port = listen_port(&cfg);
	fprintf(stderr, "surge serve %s: listening on %s (port %u%s), %u workers%s%s%s%s%s\n",
		cfg.proto->name, cfg.listen_text, port, cfg.proto->on_datagram ? ", TCP and UDP" : "",
		started, cfg.tls ? ", TLS" : "", cfg.tls_fault ? " broken on purpose: --tls-fault " : "",
		cfg.tls_fault ? serve_tls_fault_name(cfg.tls_fault) : "",
		cfg.tls_ca[0] ? "; its certificate (--tls-ca): " : "", cfg.tls_ca);
	if (cfg.ready_file) {
		/* Written whole, then renamed: a watcher never reads half a port. */
		char tmp[4096];
		snprintf(tmp, sizeof(tmp), "%s.tmp", cfg.ready_file);
		FILE *f = fopen(tmp, "w");
		if (!f || fprintf(f, "%u\n", port) < 0 || fclose(f) != 0 || rename(tmp, cfg.ready_file) < 0)
			fprintf(stderr, "surge serve: cannot write %s: %s\n", cfg.ready_file, strerror(errno));
	}

	/* Wait for a signal or for the workers to exit (--exit-after). */
	unsigned alive = started;
	bool forwarded = false;
	struct serve_totals sum = { 0 };
	int worker_failures = 0;
	while (alive > 0) {
		if (stop_signal && !forwarded) {
			for (unsigned i = 0; i < started; i++)
				kill(pids[i], SIGTERM);
			forwarded = true;
		}
		int status;
		pid_t pid = waitpid(-1, &status, 0);
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (unsigned i = 0; i < started; i++) {
			if (pids[i] != pid)
				continue;
			struct serve_totals t;
			if (read(pipes[i], &t, sizeof(t)) == sizeof(t)) {
				for (int k = 0; k < SC_COUNT; k++)
					sum.core[k] += t.core[k];
				for (int k = 0; k < SERVE_MAX_COUNTERS; k++)
					sum.proto[k] += t.proto[k];
			} else {
				worker_failures++;
			}
			close(pipes[i]);
			alive--;
		}
	}
	write_report(&cfg, &sum, stderr);
	if (cfg.report_file) {
		FILE *f = fopen(cfg.report_file, "w");
		if (!f || (write_report(&cfg, &sum, f), fclose(f) != 0))
			fprintf(stderr, "surge serve: cannot write %s: %s\n", cfg.report_file, strerror(errno));
	}
	code = worker_failures ? EXIT_FAILED : EXIT_OK;
out:
	serve_tls_ctx_free(cfg.tls);
	if (cfg.proto->config_free)
		cfg.proto->config_free(cfg.proto_config);
	return code;
}
