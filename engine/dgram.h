/*
 * dgram: the datagram half of a connection — a connected UDP socket (opened,
 * bound and counted by conn.c like a TCP one) carries one message per
 * datagram: no framing, no partial reads, no output queue. What differs from
 * a stream: a lost answer loses only its own request, and an ICMP port
 * unreachable arrives as ECONNREFUSED on the socket's next call.
 */
#ifndef SURGE_DGRAM_H
#define SURGE_DGRAM_H

#include <stddef.h>
#include <stdint.h>

struct conn;
struct worker;

/* Reads the datagrams waiting on c (at most DGRAM_READS per readiness, so one
 * busy socket cannot starve the others), each one whole answer. An error
 * closes c: ECONNREFUSED as ERR_UDP_REFUSED, counting every request in
 * flight on it. */
void dgram_read(struct worker *w, struct conn *c);

/* Sends p[0, n) as one datagram on open c, or while c->corked queues it for
 * dgram_flush. Returns 0, -EAGAIN when the socket buffer is full (the
 * datagram is lost as on a wire: counted in udp.send_dropped, its request
 * times out), or another -errno (c closed and counted). */
int dgram_write(struct worker *w, struct conn *c, const uint8_t *p, size_t n);

/* Sends what queued while c was corked: sendmmsg, DGRAM_BATCH datagrams a
 * call, so requests due together on one socket cost one syscall. */
void dgram_flush(struct worker *w, struct conn *c);

/* Request i of c timed out: counted as a request timeout and forgotten; the
 * socket and its other requests go on, and c has room for another. */
void dgram_expire(struct worker *w, struct conn *c, uint32_t i);
/* Before a try of c's expires at `deadline`: the datagrams the kernel
 * received by then (a stalled loop has not read them) are read and matched,
 * one at a time in arrival order; the first one received later stays queued
 * for the loop, as if the expiry had come first. */
void dgram_read_arrived_by(struct worker *w, struct conn *c, uint64_t deadline);

/* Request i of c failed with error class cls (dgram_expire's, or the TCP
 * fallback's fault): counted and forgotten as there. */
void dgram_fail(struct worker *w, struct conn *c, uint32_t i, int cls);

/* The error class of errno e met on a connected UDP socket. */
int dgram_errno_class(int e);

#endif
