/*
 * serve: surge's built-in servers (`surge serve echo|dns|rtsp`) — targets for
 * the demo, the tests and the benchmarks. N worker processes each accept on
 * their own SO_REUSEPORT listener with their own libev loop, so a 2-core
 * machine holds more connections than one process's fd limit. The core owns
 * sockets, buffers, the injected faults (serve_fault.h) and the counts; a
 * protocol is a struct serve_proto that turns input bytes into replies.
 */
#ifndef SURGE_SERVE_H
#define SURGE_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct serve_conn;

/* Per-protocol counters shown in the server's report: index into names[]. */
#define SERVE_MAX_COUNTERS 24

struct serve_proto {
	const char *name;
	const char *usage;        /* protocol options for `surge serve NAME --help` */
	size_t conn_state_size;   /* zeroed per connection, passed back as `state` */
	const char *counter_names[SERVE_MAX_COUNTERS]; /* NULL-terminated */
	/* --garbage leaves a reply's first garbage_keep bytes true (framing, the
	 * ID that pairs it with its request), so the garbage is read as the
	 * answer and must be judged by the client's parser. */
	size_t garbage_keep;

	/* Protocol configuration: config_new() before option parsing; option()
	 * gets each `--key value` the core does not know (value NULL for a bare
	 * flag). option returns 0, -ENOENT (unknown: the core reports it) or
	 * -EINVAL with a message in err. config_check runs after all options
	 * (NULL ok); config_free frees. */
	void *(*config_new)(void);
	int (*option)(void *config, const char *key, const char *value, char *err, size_t errlen);
	int (*config_check)(void *config, char *err, size_t errlen);
	void (*config_free)(void *config);

	/* All unconsumed input so far. Returns bytes consumed (0: need more),
	 * or -1 to close the connection (counted as a protocol error). */
	ssize_t (*on_input)(struct serve_conn *c, void *state, const uint8_t *in, size_t len);
	/* Called each tick (1 ms) while serve_conn_want_tick(c, true): for
	 * protocols that push data (RTSP streams). NULL if unused. */
	void (*on_tick)(struct serve_conn *c, void *state, uint64_t now_ns);
	/* The connection is going away (NULL ok). */
	void (*on_close)(struct serve_conn *c, void *state);
	/* UDP on the same port (NULL: TCP only, serve_udp.h): the reply to one
	 * datagram in[0, len), written to out (cap bytes, SERVE_UDP_MAX), and
	 * its length; 0 sends nothing. counters: the protocol's, by
	 * counter_names index. */
	size_t (*on_datagram)(void *config, const uint8_t *in, size_t len, uint8_t *out, size_t cap,
			      uint64_t *counters);
};

extern const struct serve_proto serve_echo_proto;
extern const struct serve_proto serve_dns_proto;
extern const struct serve_proto serve_rtsp_proto;

/* Queues a reply. It is released after --delay, held through --stall windows,
 * dropped (never sent) with probability --drop, made garbage with
 * probability --garbage, written --drip bytes at a time; --close-after and
 * --half-close count it. After a --half-close shutdown it is discarded.
 * Counts one reply. Returns 0 or -ENOMEM. */
int serve_conn_reply(struct serve_conn *c, const void *buf, size_t len);

/* Queues stream data to go out now, in order after earlier replies, with no
 * delay, stall or drop (injected faults of a stream are the protocol's job).
 * Returns 0, or -ENOBUFS when more than 4 MiB is already waiting (the
 * reader is not keeping up: the caller skips or closes). */
int serve_conn_stream(struct serve_conn *c, const void *buf, size_t len);

/* Bytes queued and not yet written to the socket. */
size_t serve_conn_pending(const struct serve_conn *c);

void serve_conn_want_tick(struct serve_conn *c, bool on);
/* Closes after the queued bytes are written. */
void serve_conn_close_after_write(struct serve_conn *c);
/* The protocol configuration made by config_new. */
void *serve_conn_config(const struct serve_conn *c);
/* CLOCK_MONOTONIC ns, cached per loop iteration. */
uint64_t serve_conn_now(const struct serve_conn *c);
/* A reproducible per-worker random 64-bit value (seeded by --seed). */
uint64_t serve_conn_random(struct serve_conn *c);
/* Adds n to the protocol's counter idx (index into counter_names). */
void serve_conn_count(struct serve_conn *c, unsigned idx, uint64_t n);

/* `surge serve PROTO [options]`: argv[0] is "serve". Returns an exit code. */
int serve_main(int argc, char **argv);

#endif
