/*
 * serve_udp: the UDP half of `surge serve` — one socket per worker, bound with
 * SO_REUSEPORT to the port the TCP listeners use, so the kernel spreads
 * clients (by 4-tuple) over the workers as it does for TCP. Each datagram is
 * one request; the protocol's on_datagram makes the reply. The core's
 * --delay, --stall and --drop apply to it; the faults of a connection
 * (--reset-after, --half-close, --drip, --close-*, --never-read, --garbage)
 * are TCP's only.
 */
#ifndef SURGE_SERVE_UDP_H
#define SURGE_SERVE_UDP_H

#include <ev.h>
#include <stdint.h>
#include <sys/socket.h>

#include "serve.h"
#include "serve_fault.h"

/* The largest reply on_datagram may write. */
#define SERVE_UDP_MAX 16384

struct serve_udp;

struct serve_udp_totals {
	uint64_t datagrams;   /* requests read */
	uint64_t replies;     /* replies made (sent, held or dropped) */
	uint64_t dropped;     /* --drop: replies never sent */
	uint64_t bytes_in, bytes_out;
	uint64_t send_errors; /* sendto failed (the socket buffer was full) */
	uint64_t too_long;    /* requests longer than SERVE_UDP_MAX: no reply */
};

/* A non-blocking UDP socket bound to addr with SO_REUSEPORT. Returns the fd,
 * or -errno. */
int serve_udp_open(const struct sockaddr *addr, socklen_t len);

/* Serves fd (owned from now on) on loop with proto's on_datagram;
 * proto_counters is the worker's array of the protocol's counters; seed
 * draws --drop. Returns NULL on ENOMEM (fd closed). */
struct serve_udp *serve_udp_new(struct ev_loop *loop, int fd, const struct serve_proto *proto,
				void *proto_config, const struct serve_fault *fault, uint64_t seed,
				uint64_t *proto_counters);
/* What it has done so far. */
void serve_udp_totals(const struct serve_udp *u, struct serve_udp_totals *t);
/* Stops, closes the socket and frees; held replies are never sent. NULL-safe. */
void serve_udp_free(struct serve_udp *u);

#endif
