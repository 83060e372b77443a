/*
 * options: one run's validated settings, filled by the scenario loader
 * (lua_scenario.c) from the scenario file and the command line. Workers get
 * a copy through fork(); nothing here changes once the run starts.
 */
#ifndef SURGE_OPTIONS_H
#define SURGE_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "addrset.h"
#include "http_parse.h"
#include "pacer.h"
#include "resolve.h"

enum proto_shape { SHAPE_MESSAGE, SHAPE_SESSION };
enum framing_kind { FRAME_NONE, FRAME_FIXED, FRAME_U16, FRAME_DELIM, FRAME_LUA, FRAME_HTTP };
enum match_kind { MATCH_FIFO, MATCH_KEY };
/* TCP streams, or connected UDP sockets with one message per datagram (dgram.h). */
enum transport_kind { TRANSPORT_TCP, TRANSPORT_UDP };
enum progress_mode { PROGRESS_AUTO, PROGRESS_ON, PROGRESS_OFF };
/* When traffic begins: at the start, or once the connections had their
 * connect phase before it (run.c sizes it; worker.c holds traffic in it). */
enum start_mode { START_NOW, START_CONNECTED };

struct destination {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	uint32_t target; /* index into targets: whose address this is */
	char label[64]; /* "127.0.0.1:7000" for reports */
};

struct target_spec {
	char *host; /* a name or a literal address (no brackets) */
	uint16_t port;
	bool tls;   /* TCP + TLS (tls://, rtsps://, https://, or the tls option) */
};

/* TLS settings shared by every target that uses it (tls.h). */
struct tls_options {
	bool verify;  /* check the certificate chain and the name (--insecure: off) */
	bool resume;  /* resume sessions on reconnect (tickets) */
	char *ca;     /* CA bundle (PEM); NULL: the system's */
	char *sni;    /* server name sent and checked; NULL: the target's host name */
	char *cert, *key; /* client certificate and key (mutual TLS), or NULL */
	char *alpn;   /* "dot,h2": protocols offered, or NULL */
	uint16_t min_version, max_version; /* 0x0303 TLS 1.2, 0x0304 TLS 1.3; 0: default */
};

/* A threshold as written; threshold.c parses it before the run. */
struct threshold_spec {
	char *metric;    /* NULL: condition is a whole "latency.p99<5ms" */
	char *condition; /* "< 5ms" */
	char *where;     /* "scenarios/x.lua:12" or "--threshold" */
	bool abort;      /* checked each second: a failure stops the run */
	uint64_t abort_after_ns; /* not before this far into the run */
};

struct options {
	const char *scenario_path;
	char *scenario_shown; /* a URL run's path without its password (owned; scenario_path then) */
	char *target; /* the first target as written, e.g. "tcp://127.0.0.1:7000" */
	struct target_spec *targets; /* as parsed by the scenario loader */
	size_t ntargets;
	struct destination *dests; /* every address of every target, after resolution */
	size_t ndests;
	struct resolve_config resolver; /* resolver, family, resolve_every */
	struct tls_options tls;         /* used by the targets with tls set */

	/* Connections follow a ramp; a constant is one segment. */
	struct rate_segment *conn_segs;
	size_t nconn_segs;
	uint32_t max_connections; /* the ramp's peak: sizes the pool */
	double connect_rate;      /* new connections per second, whole run */
	double connection_rate;   /* churn.c: new connections/s as the workload, or 0 */
	uint32_t requests_per_connection; /* churn.c: 0, or recycle after this many */
	uint64_t connection_lifetime_ns;  /* churn.c: 0, or recycle at this age ... */
	uint64_t connection_jitter_ns;    /* ... give or take up to this */

	/* Open model when rate_segs is set; closed model otherwise. */
	struct rate_segment *rate_segs;
	size_t nrate_segs;
	enum pacer_arrival arrival;
	enum start_mode start;
	uint32_t backlog_max; /* per worker; beyond it a request is dropped */

	uint64_t duration_ns;
	uint64_t requests;        /* requests = N: exactly N, then drain (0: by duration) */
	bool duration_unbounded;  /* requests without duration: the count alone ends it */
	uint64_t connect_timeout_ns;
	uint64_t request_timeout_ns;
	uint64_t think_ns;
	uint64_t think_jitter_ns; /* each pause drawn uniformly within think_ns +- this */
	/* Open model: how late a request may leave to share its wake-up, when
	 * the scenario says (pace_window); else the rate's (dispatch_window). */
	uint64_t pace_window_ns;
	bool pace_window_given;
	uint64_t drain_ns; /* after the end: how long in-flight requests may finish */
	/* A worker past the end and its drain that makes no progress for this
	 * long is taken for stuck (stopping.c); set by run.c, 5 s (tests:
	 * SURGE_STUCK_GRACE_MS). */
	uint64_t stuck_grace_ns;
	uint64_t seed;  /* the run's: the global schedule (Poisson) is the same in every shard */
	uint32_t workers;
	/* --shard K/N (shard.h): this run is shard `shard` (0-based) of `shards`;
	 * shards 0 when not sharded. Workers take their place in the global split
	 * (worker.h slot). */
	uint32_t shard, shards;
	bool shard_judge; /* --shard-thresholds: judge this shard's thresholds alone */
	double start_at;  /* --start-at: epoch seconds traffic starts at, or 0 */
	bool workers_given;

	/* Source addresses and ports (addrset.h). bind NULL: the kernel picks the
	 * source. ports.lo 0: not set. explicit_ports: set by the plan when the
	 * kernel lacks IP_LOCAL_PORT_RANGE, so ports are named at bind(). */
	struct addrset *bind;
	char *bind_spec; /* bind as written, for the logs that name its addresses */
	enum addrset_pick pick;
	struct addrset_ports ports;
	bool explicit_ports;

	/* Protocol */
	char proto_name[32];
	enum proto_shape shape;
	enum transport_kind transport;
	enum framing_kind framing;
	uint32_t frame_size;
	char delim[16];
	size_t delim_len;
	struct http_limits http; /* FRAME_HTTP */
	enum match_kind match;
	uint32_t pipeline;
	uint8_t *const_request; /* set when request is constant bytes: no Lua per request */
	size_t const_request_len;
	/* Constant bytes that differ by target (HTTP's Host and Authorization):
	 * one per target, in order, used instead of const_request; NULL if not. */
	struct const_request { uint8_t *p; size_t len; } *const_by_target;
	uint32_t nconst_by_target;
	bool has_request_fn, has_response_fn;
	bool has_conn_events; /* Lua hears of each connection's open and close */
	uint32_t max_message; /* largest message accepted before protocol error */
	/* transport udp (retry.h, fallback.h) */
	uint32_t retries;        /* resends of a datagram left unanswered */
	uint64_t retry_after_ns; /* how long each try waits (the request timeout
				    split over the tries unless the protocol says) */
	bool tcp_fallback;       /* a response may ask for its request over TCP */

	/* Reports */
	bool latency_table;
	enum progress_mode progress;
	char *json_path, *hlog_path, *html_path;
	char *samples_path;     /* --samples: the per-request log (samples_file.h) */
	char *samples_parts;    /* where the workers' parts go, PARTS.w<k>: beside the
				   file FILE names (a symlink followed), or in
				   samples_tmpdir for a FIFO or a device */
	char *samples_tmpdir;   /* made for the parts of a FILE written in place */
	bool samples_in_place;  /* FILE is a FIFO or a device: written into, not replaced */
	uint32_t samples_every; /* 1 in how many requests it records */
	bool quiet;
	struct threshold_spec *threshold_specs;
	size_t nthreshold_specs;
};

void options_free(struct options *o); /* NULL-safe; frees owned strings/arrays */

#endif
