/*
 * The C functions LuaJIT's FFI binds to. This header is the only declaration
 * of them: the build runs it through the preprocessor into the text that
 * lua/surge/runtime.lua hands to ffi.cdef (SURGE_FFI_CDEF set, so no system
 * header comes along), so constants are enums, never macros, and Lua reads
 * them as ffi.C.NAME. The functions take the worker as an opaque pointer
 * that Lua got once at start: no globals. Connection ids index the worker's
 * pool; bytes handed to Lua stay valid only until the next call that
 * consumes or reads.
 */
#ifndef SURGE_FFI_H
#define SURGE_FFI_H

#ifndef SURGE_FFI_CDEF
#include <stdint.h>
#endif

struct worker;

/* One per connection, reused for every request (message protocols). */
struct surge_ctx {
	uint32_t conn_id;
	uint32_t worker;
	/* Which of the scenario's targets the connection dials, from 1 (the
	 * order of `target`); 0 before it has one. */
	uint32_t target;
	/* Doubles, not uint64_t: Lua reads them as plain numbers, so ctx.seq
	 * keys a table (a uint64_t cdata is a key by identity, never found
	 * again) and compares with surge.now_ns(). Exact to 2^53. */
	double seq;      /* requests this connection issued before this one */
	double now_ns;   /* CLOCK_MONOTONIC at the request (or open, close); not per answer.
			    A fifo response sees its request's seq and send time;
			    a keyed one the newest request's (README). */
	void *user;
};

enum surge_wait { SURGE_WAIT_NONE, SURGE_WAIT_READ, SURGE_WAIT_SLEEP, SURGE_WAIT_WRITE };
/* Why a waiting session coroutine is resumed. */
enum surge_wake { SURGE_WAKE_READ = 1, SURGE_WAKE_TIMER = 2, SURGE_WAKE_WRITE = 3, SURGE_WAKE_CLOSED = 4 };
/* Error classes, as the report counts them (stats.h names them ERR_*). */
enum surge_error_class {
	SURGE_ERR_CONNECT_REFUSED,
	SURGE_ERR_CONNECT_TIMEOUT,
	SURGE_ERR_ADDR_NOT_AVAILABLE,
	SURGE_ERR_RESET,
	SURGE_ERR_UNEXPECTED_CLOSE,
	SURGE_ERR_REQUEST_TIMEOUT,
	SURGE_ERR_PROTOCOL,
	SURGE_ERR_SCRIPT,
	SURGE_ERR_OTHER,
	SURGE_ERR_UDP_REFUSED, /* ICMP port unreachable on a connected UDP socket */
	SURGE_ERR_TLS_HANDSHAKE, /* TLS: the handshake failed or stalled (tls.c) */
	SURGE_ERR_TLS_VERIFY,    /* TLS: the server's certificate was refused */
	SURGE_ERR_UNREACHABLE,   /* no route: host or network unreachable (ICMP or the table) */
	SURGE_ERR__COUNT
};
/* surge_conn_state: 0 open; otherwise why it is closed (an error class + 1, or
 * SURGE_CLOSED_EOF when the peer closed cleanly, SURGE_CLOSED_LOCAL when surge
 * ended it without a fault (the run ended, the pool shrank), or
 * SURGE_CLOSED_SELF after the session's own conn:close()). */
enum surge_closed { SURGE_CLOSED_EOF = 100, SURGE_CLOSED_LOCAL = 101, SURGE_CLOSED_SELF = 102 };
/* Bytes a message protocol's request may take in surge_reqbuf(). */
enum surge_limits { SURGE_REQBUF_SIZE = 65536 };

struct surge_ctx *surge_ctxs(struct worker *w);
/* The worker's request buffer (SURGE_REQBUF_SIZE) that message protocols write into. */
uint8_t *surge_reqbuf(struct worker *w);
uint32_t surge_worker_index(struct worker *w);
/* The worker's place in the run's split (shards included): slot of slots;
 * it takes the run's requests i with i % slots == slot. */
uint32_t surge_worker_slot(struct worker *w);
uint32_t surge_worker_slots(struct worker *w);

/* Bytes buffered for connection id: returns the count, *p points at them. */
int32_t surge_conn_peek(struct worker *w, uint32_t id, const uint8_t **p);
void surge_conn_consume(struct worker *w, uint32_t id, uint32_t n);
/* Queues n bytes and tries to write them; returns 0, or -errno if the
 * connection is closed. Returns 1 when bytes remain queued (wait for WRITE). */
int surge_conn_send(struct worker *w, uint32_t id, const uint8_t *p, uint32_t n);
/* Arms a wait; the coroutine must yield right after. timeout_s <= 0: none. */
void surge_conn_wait(struct worker *w, uint32_t id, int what, double timeout_s);
int surge_conn_state(struct worker *w, uint32_t id);
/* When the kernel received (CLOCK_MONOTONIC ns, SO_TIMESTAMPNS) the bytes of
 * connection id's latest read, while that is the worker's latest session
 * read: every byte buffered for id came then or before, and a session
 * parsing right after the read that woke it stamps its messages with when
 * they came, not with when the loop got round to them. 0 when unknown (no
 * stamp, or another session's read came since). A double, as ctx's times. */
double surge_conn_rx_ns(struct worker *w, uint32_t id);
void surge_conn_close(struct worker *w, uint32_t id);

/* Named metrics: ids from *_id (>= 0, or -1 on a bad name). */
int surge_counter_id(struct worker *w, const char *name);
int surge_metric_id(struct worker *w, const char *name);
void surge_count(struct worker *w, int id, int64_t n);
/* ns < 0 is not recorded: counted as a script error. */
void surge_metric(struct worker *w, int id, int64_t ns);
void surge_error(struct worker *w, int error_class, int64_t n);
uint64_t surge_now_ns(void);
void surge_log(struct worker *w, const char *msg);
/* The protocol's status for the answer being parsed (DNS rcode, HTTP
 * status): the sample log (--samples) records it with that request. */
void surge_status(struct worker *w, int32_t status);

#endif
