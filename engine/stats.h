/*
 * stats: one worker's measurements for the current interval — fixed counters,
 * faults by class, gauges, the core histograms, and named counters/histograms
 * that Lua protocols add (surge.count / surge.metric). The coordinator keeps the
 * same struct for totals; stats_add merges exactly (histograms add).
 */
#ifndef SURGE_STATS_H
#define SURGE_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "surge/ffi.h"

#include "surge/hist.h"

struct buf;

enum stat_counter {
	ST_SENT,          /* requests written to a socket */
	ST_COMPLETED,     /* responses matched to a request (latency recorded) */
	ST_CONN_ATTEMPTS, /* connect() calls */
	ST_CONN_OPENED,   /* connects that succeeded */
	ST_CONN_CLOSED,   /* connections closed for any reason */
	ST_BYTES_OUT,
	ST_BYTES_IN,
	ST_INTENDED,      /* open model: requests the schedule asked for */
	ST_DROPPED,       /* open model: backlog full, request never sent */
	ST_SESSIONS_DONE, /* session protocols: sessions that returned, unfaulted */
	ST_UNFINISHED,    /* requests still in flight when the run ended */
	ST_SESSIONS_UNFINISHED, /* sessions surge ended unfaulted: run over, pool shrank */
	ST_DROPPED_BUSY,  /* open model: of ST_DROPPED, those dropped while connections were
			   * open, every one with its pipeline full (waiting for answers) */
	ST_DROPPED_NO_CONN, /* open model: of ST_DROPPED, those dropped with none open (logs
			     * before these two count neither: their cause is unknown) */
	ST__COUNT
};

/* Faults by class: every failed request or connection lands in exactly one. */
/* The classes Lua counts with surge.error() and reads back from a closed
 * connection, so their numbers are ffi.h's. */
enum stat_error {
	ERR_CONNECT_REFUSED = SURGE_ERR_CONNECT_REFUSED,
	ERR_CONNECT_TIMEOUT = SURGE_ERR_CONNECT_TIMEOUT,
	ERR_ADDR_NOT_AVAILABLE = SURGE_ERR_ADDR_NOT_AVAILABLE,
	ERR_RESET = SURGE_ERR_RESET,
	ERR_UNEXPECTED_CLOSE = SURGE_ERR_UNEXPECTED_CLOSE,
	ERR_REQUEST_TIMEOUT = SURGE_ERR_REQUEST_TIMEOUT,
	ERR_PROTOCOL = SURGE_ERR_PROTOCOL,
	ERR_SCRIPT = SURGE_ERR_SCRIPT,
	ERR_OTHER = SURGE_ERR_OTHER,
	ERR_UDP_REFUSED = SURGE_ERR_UDP_REFUSED,
	ERR_TLS_HANDSHAKE = SURGE_ERR_TLS_HANDSHAKE,
	ERR_TLS_VERIFY = SURGE_ERR_TLS_VERIFY,
	ERR_UNREACHABLE = SURGE_ERR_UNREACHABLE,
	ERR__COUNT = SURGE_ERR__COUNT
};

/* Gauges: the value at the end of the interval, summed across workers;
 * GA_CONNS_PEAK is each worker's most open at any instant of it. */
enum stat_gauge {
	GA_CONNS_OPEN,
	GA_CONNS_TARGET,
	GA_INFLIGHT,
	GA_BACKLOG,
	GA_CONNS_PEAK,
	GA__COUNT
};

enum stat_hist {
	HI_LATENCY, /* response time from the intended send time (open model) or send */
	HI_SERVICE, /* response time from the actual send */
	HI_CONNECT, /* connect() to writable */
	HI_SEND_LAG, /* open model: actual send - intended send */
	HI__COUNT
};

#define STATS_NAME_MAX 64
/* Per-source counts are kept for sets up to this size (a /64 is not). */
#define STATS_SOURCES_MAX 4096

struct stats_named_counter {
	char name[STATS_NAME_MAX];
	int64_t value;
};

/* Adds n to a script's counter, saturating at INT64_MAX / INT64_MIN: a
 * script may add any int64 (surge.count), and a pinned counter reads as
 * "at least" where a wrapped one would lie (signed overflow is UB besides). */
static inline void stats_counter_add(int64_t *v, int64_t n)
{
	if (__builtin_add_overflow(*v, n, v))
		*v = n > 0 ? INT64_MAX : INT64_MIN;
}

struct stats_named_hist {
	char name[STATS_NAME_MAX];
	struct hist *h;
};

struct stats {
	int64_t counter[ST__COUNT];
	int64_t error[ERR__COUNT];
	int64_t gauge[GA__COUNT];
	struct hist *hist[HI__COUNT];
	struct stats_named_counter *ncounter;
	size_t nncounter, capncounter;
	struct stats_named_hist *nhist;
	size_t nnhist, capnhist;
	/* Per source address, indexed as addrset_at_global (IPv4 first): the
	 * connections opened from it and the requests completed on them. NULL
	 * and 0 when the run has no --bind or more than STATS_SOURCES_MAX. */
	int64_t *src_conns, *src_reqs;
	uint32_t nsrc;
};

/* Returns 0 or -ENOMEM; stats_free releases everything (NULL-safe). */
int stats_init(struct stats *s);
void stats_free(struct stats *s);
/* Zeroes counters and histograms for the next interval; names stay registered
 * so their ids stay valid. */
void stats_reset(struct stats *s);

/* Starts per-source counting for n sources (zeroed). 0 or -ENOMEM/-E2BIG. */
int stats_sources_init(struct stats *s, uint32_t n);

/* Named metrics: ids are stable for the life of s. Return id >= 0 or -errno
 * (-ENAMETOOLONG, -ENOMEM). */
int stats_counter_id(struct stats *s, const char *name);
int stats_hist_id(struct stats *s, const char *name);
const struct hist *stats_hist_by_name(const struct stats *s, const char *name);
int64_t stats_counter_by_name(const struct stats *s, const char *name);

/* dst += src, names matched by string; gauges add too (summing workers). */
int stats_add(struct stats *dst, const struct stats *src);

/* Serialization for worker -> coordinator pipes. stats_encode replaces out's
 * contents with s's wire form and returns 0, or -errno (out is then empty);
 * the worker reuses one buffer every second, so shipping allocates nothing
 * once it has grown. stats_decode fills a fresh stats (stats_init'ed by it)
 * and rejects malformed input with -EINVAL. */
int stats_encode(const struct stats *s, struct buf *out);
int stats_decode(const uint8_t *buf, size_t len, struct stats *out);

/* Counts errno e (> 0) in the named counter errno.<NAME> (errno.EADDRNOTAVAIL):
 * the cause under an error class, for a user who needs the system's word. */
void stats_count_errno(struct stats *s, int e);
/* The class a socket's errno e counts under, while connecting or after. */
enum stat_error stats_errno_class(int e, bool connecting);
/* The errno a counter errno.<NAME> (or errno.<N>) counts, or 0 when name is
 * not one. */
int stats_errno_of(const char *name);

/* One connection's end by a fault, whatever it cost in requests: a connect
 * that never opened counts in conn.failed.<class key>, an open connection a
 * fault ended in conn.lost.<class key>. The error classes count requests; these
 * count connections, which is what the pool could not hold. */
#define STATS_CONN_FAILED "conn.failed."
#define STATS_CONN_LOST "conn.lost."
void stats_count_conn(struct stats *s, const char *prefix, enum stat_error cls);

/* Errors of every class in s. */
int64_t stats_errors_total(const struct stats *s);
/* errors / (errors + what ended without one: requests and sessions
 * completed, sessions the run's end cut short); NAN when nothing ended. */
double stats_error_rate(const struct stats *s);
const char *stats_error_name(enum stat_error e);  /* "connect refused" ... */
const char *stats_error_key(enum stat_error e);   /* "connect_refused" ... (JSON) */
const char *stats_hist_key(enum stat_hist h);     /* "latency", "service" ... */
const char *stats_counter_key(enum stat_counter c); /* "sent", "completed" ... (JSON, logs) */
const char *stats_gauge_key(enum stat_gauge g);   /* "conns_open" ... */

#endif
