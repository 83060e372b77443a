/*
 * conn: one connection of a worker's pool (TCP, or a connected UDP socket:
 * dgram.h) — non-blocking connect, the requests it has in flight, and the
 * bytes it could not yet write or parse.
 * An idle connection owns no buffer: rbuf/wbuf exist only while partial data
 * is pending, and its requests in flight are entries of the worker's pool.
 */
#ifndef SURGE_CONN_H
#define SURGE_CONN_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "inflight.h"

enum conn_state {
	CONN_CLOSED,     /* slot free; maybe waiting for its reconnect time */
	CONN_CONNECTING, /* connect() in progress, waiting for writable; with tls
			  * set, TCP is up and the TLS handshake is in progress */
	CONN_OPEN,
};

struct ssl_st;

struct conn {
	ev_io io;
	uint32_t id;
	uint8_t state;     /* enum conn_state */
	uint8_t wait;      /* sessions: enum surge_wait */
	uint8_t backoff : 7, /* reconnect backoff exponent */
		answered : 1; /* an answer or a session completed since it opened */
	uint8_t draining : 1, /* pool shrinking: close once idle */
		eof : 1,       /* sessions: peer closed, buffer may still hold data */
		in_ready : 1,  /* on the worker's list of connections with room */
		writing : 1,   /* EV_WRITE armed */
		session_live : 1, /* a session coroutine exists for this slot */
		corked : 1,       /* parsing a read: requests queue, one write after */
		in_free : 1,      /* on the pool's free list */
		salvaging : 1;    /* a write failed: reading what was answered, then closing */
	uint8_t close_reason; /* sessions: why it closed (surge_conn_state) */
	uint8_t alarm_kind;   /* enum alarm_kind of the alarm set */
	uint16_t inflight; /* entries in fl */
	uint32_t dest;
	uint32_t src; /* source's index in the per-source stats, or UINT32_MAX */
	/* Links of the one worker list the connection's state puts it on: the
	 * ready list while OPEN (and in_ready), the connect list (oldest connect
	 * first, for its timeout) while CONNECTING, the pool's free list while
	 * CLOSED (and in_free: a slot inside the target, free to connect). */
	uint32_t prev, next;
	uint32_t written; /* bytes the kernel took, wrapping (inflight.end) */
	uint64_t seq;      /* requests sent on this connection */
	uint64_t t_connect; /* connect() called (ns), then: reconnect-not-before */
	struct inflight_list fl; /* requests in flight, oldest first */
	struct buf rbuf;  /* a partial message (sessions: what the coroutine has not consumed) */
	struct buf wbuf;  /* output the kernel has not taken yet */
	struct ssl_st *tls; /* TLS session (tls.h) from TCP connect to close; NULL: plain */
	/* One timer, one role at a time, by shape and state (alarm.h): a
	 * session's conn:sleep() or its read/write timeout (surge_conn_wait);
	 * in the closed model, the think time before the next request, the
	 * spread first request after the connect phase, or the retry after a
	 * request callback failed (dispatch.c); closed, when the think time
	 * after its last answer ends (the slot's next connection waits for
	 * it). Connect and request timeouts are the worker's (deadline.c),
	 * never this. */
	uint64_t alarm_at;  /* when it goes off (ns, CLOCK_MONOTONIC); kept once
			     * cleared: a closed slot's end of think (alarm_keep) */
	uint32_t alarm_pos; /* its place in the worker's heap + 1; 0: none set */
};

struct worker;
struct surge_ctx;
struct http_response;

/* The context a Lua callback about c gets, its ids filled for this call:
 * written only where Lua is called, so a protocol without callbacks (echo)
 * never touches the array's pages (32 bytes a connection of a million). */
struct surge_ctx *conn_ctx(struct worker *w, struct conn *c);
/* c's alarm went off (ALARM_WAKE): a waiting session is woken. */
void conn_alarm(struct worker *w, struct conn *c);

/* Starts a non-blocking connect to the worker's destination c->dest. Returns
 * 0, or -errno when the socket could not even be started (already counted). */
int conn_open(struct worker *w, struct conn *c);
/* An open connection's traffic begins: its session starts, or its first
 * requests go (on connect, or after the connect phase). */
void conn_begin(struct worker *w, struct conn *c);
/* Closes and counts: cls is an enum stat_error, or -1 for a clean close. Every
 * request still in flight is counted under cls (or unfinished for -1). */
void conn_close(struct worker *w, struct conn *c, int cls);
/* A request on c (TCP, message-shaped) reached its deadline (sent + limit)
 * before the loop came round at `now`: what the kernel received by then is
 * read and counted, so an answer that came in time is not judged by when a
 * stalled loop woke. A read received after the deadline, or the stream's end,
 * closes c as the timeout, as the expiry would have then. */
void conn_read_arrived(struct worker *w, struct conn *c, uint64_t limit, uint64_t now);
/* Sends one request (message protocols). intended: schedule time (ns). Returns
 * 0 or -errno (the connection was closed and counted). */
int conn_send_request(struct worker *w, struct conn *c, uint64_t intended);
/* Appends bytes to the connection's output and writes what the socket takes. */
int conn_write(struct worker *w, struct conn *c, const uint8_t *p, size_t n);
/* c's output went from `before` bytes written to c->written by a write (or
 * a sendmmsg) that began at `at`: the requests it carried whole are stamped
 * sent then, their timeout counted from there, not from their queueing. */
void conn_wrote(struct worker *w, struct conn *c, uint32_t before, uint64_t at);
/* While c->corked is set, conn_write only queues; this clears it and sends
 * what queued in one write (UDP: one sendmmsg, dgram_flush). */
void conn_uncork(struct worker *w, struct conn *c);
/* One whole answer p[0, n) read on c: the response callback, matching
 * against the requests wholly written when `answerable` bytes had been, the
 * latency or the protocol error. http: the answer's framing (FRAME_HTTP),
 * else NULL; it is counted by status only once matched to a request, and
 * when it is the connection's last (http->close), c ends gracefully after
 * it. May close c (a failing callback). */
void conn_on_message(struct worker *w, struct conn *c, const uint8_t *p, size_t n,
		     uint32_t answerable, const struct http_response *http);
/* Bytes buffered but not consumed (sessions). */
void conn_consume(struct worker *w, struct conn *c, uint32_t n);

#endif
