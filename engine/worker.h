/*
 * worker: one process of a run — its libev loop, its LuaJIT state, its share
 * of the connections and of the request schedule, and its statistics, which it
 * ships to the coordinator once a second. The one context everything in a
 * worker hangs off (ev_userdata of the loop points here).
 */
#ifndef SURGE_WORKER_H
#define SURGE_WORKER_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "addrset.h"
#include "alarm.h"
#include "backlog.h"
#include "churn.h"
#include "conn.h"
#include "conn_list.h"
#include "dest.h"
#include "http_stats.h"
#include "inflight.h"
#include "ipc.h"
#include "nstimer.h"
#include "options.h"
#include "pacer.h"
#include "quota.h"
#include "retry.h"
#include "rxtime.h"
#include "samples.h"
#include "stats.h"
#include "surge/ffi.h"

struct lua_engine;
struct tls_client;
struct fallback;

#define WORKER_SCRATCH SURGE_REQBUF_SIZE

struct worker {
	struct ev_loop *loop;
	uint32_t index, count;
	/* Place in the global split of a sharded run: shard s of S, worker k of
	 * W is slot s + S*k of S*W, so it takes the global requests (and
	 * connections) i with i % S == s and (i / S) % W == k. Unsharded: the
	 * worker's index and count. Every split by "every n-th" uses these. */
	uint32_t slot, slots;
	const struct options *opt;
	struct lua_engine *lua;
	struct stats stats;
	struct http_stats http; /* FRAME_HTTP's counter ids */
	int report_fd;

	struct conn *conns;
	struct surge_ctx *ctxs;
	uint32_t nconns;        /* pool capacity: this worker's peak share */
	uint32_t target;        /* connections wanted now */
	uint32_t open, connecting;
	uint32_t draining;      /* of open, closing once idle (pool_drain): take no requests */
	uint32_t open_peak;     /* most open at once in the interval being measured */
	uint32_t inflight;
	double connect_tokens;  /* token bucket for the new-connection rate */
	uint64_t tokens_at;
	struct dest_table dests;   /* this worker's copy; the coordinator updates it */
	ev_io control;             /* the coordinator's updates (refresh.c) */
	struct ipc_reader control_in;
	struct addrset_picker picker; /* source addresses and ports (bind, ports) */
	struct tls_client *tls;       /* TLS context (tls.h); NULL when no target uses TLS */

	struct conn_list ready;      /* open, with room in their pipeline; longest waiting first */
	struct conn_list connects;   /* connect() in progress, oldest first */
	struct conn_list free;       /* closed slots inside the target, oldest first */
	struct inflight_pool fl;     /* every request in flight, oldest first */
	struct retry_table retry;    /* udp: their bytes, to resend (retries, tcp_fallback) */
	struct fallback *fallback;   /* udp: TCP for truncated answers, opened on first use */
	struct alarm_heap alarms;    /* each connection's one timer (alarm.c) */
	struct nstimer connect_deadline; /* the oldest connect's timeout (deadline.c) */
	struct nstimer request_deadline; /* the oldest request's timeout (deadline.c) */

	/* Open model */
	struct pacer *pacer;
	int pacer_fd; /* timerfd: ns-precise wakeups (epoll waits in ms) */
	ev_io pacer_io;
	ev_prepare pacer_prepare; /* sends what fell due while the loop was busy */
	ev_idle tick_idle;        /* tick mode: the poll after a tick's sleep does not block */
	uint64_t rx_ns;           /* kernel's arrival time of the read being parsed; 0: unknown */
	struct rxtime_clock rxclock; /* turns the kernel's stamps into monotonic time */
	ev_io rxclock_io;            /* the real-time clock was set: rxclock takes it again */
	/* Sessions: the kernel's arrival time of the worker's latest session
	 * read, and whose it was (surge_conn_rx_ns). Only conn_read_session
	 * sets them: rx_ns also changes with other reads (a TLS handshake). */
	uint64_t session_rx_ns;
	uint32_t session_rx_id;
	uint64_t read_by;         /* reading for an expired request: data received later is its
				   * timeout (conn_read_arrived); 0: no bound */
	uint64_t next_due; /* intended time of the next scheduled request */
	uint64_t armed_at; /* absolute time the timerfd fires; 0 when not armed */
	struct backlog backlog; /* intended times waiting for a connection with room */
	struct quota quota; /* requests = N: this worker's share (quota.h) */
	struct samples *samples; /* --samples: this worker's part, or NULL */
	struct churn churn;      /* requests_per_connection, connection_lifetime */
	uint64_t think_rng;      /* think's jitter (splitmix64), seeded per worker slot */

	ev_timer tick;     /* pool upkeep, end of the run and of its drain */
	bool tick_resting; /* nothing for the tick until its timer says (worker_wake_tick) */
	ev_timer interval; /* ships stats every second */
	ev_signal sigterm, sigusr1;
	uint64_t start_ns, end_ns;
	uint32_t second;   /* index of the interval being measured */
	bool stopping;     /* duration over or signalled: no new requests */
	bool in_lua;       /* a Lua call is on the stack: do not re-enter */
	bool holding;      /* connect phase: connections open, traffic waits */
	bool started;      /* the run's start has come: traffic may flow */
	bool stop_early;   /* a stop came before the start: nothing is sent */
	/* The end, spread over loop turns (pool_close_some): the idle
	 * connections close at the stop, all of them once the drain is over. */
	enum worker_closing { CLOSING_NONE, CLOSING_IDLE, CLOSING_ALL } closing;
	uint32_t close_cursor;
	ev_check closer;       /* closes a batch after each poll */
	ev_idle closer_busy;   /* keeps the poll from blocking while some are left */
	uint64_t progress_at;  /* last IPC_PROGRESS sent */
	uint64_t progress_ns;  /* how often a stopping worker says what is left */

	uint8_t *scratch;  /* reads land here first; only partials are copied */
	uint8_t *reqbuf;   /* protocols build requests here */
	struct buf ship;   /* each interval's wire form: one buffer, reused */
};

/* Runs a worker to completion in the current (forked) process; control_fd
 * (or -1) carries the coordinator's destination updates. Returns the process
 * exit code. */
int worker_run(const struct options *opt, struct lua_engine *lua, uint32_t index, uint32_t count,
	       uint64_t start_ns, int report_fd, int control_fd);

void worker_log(struct worker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Something for the tick came up (a slot came free, the stop began): a
 * resting tick runs at the loop's next turn. */
void worker_wake_tick(struct worker *w);

#endif
