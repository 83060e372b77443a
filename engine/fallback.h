/*
 * fallback: the TCP connections a datagram protocol falls back to when an
 * answer comes truncated (DNS's TC bit, RFC 1035 4.2.1; RFC 7766 5: a client
 * retries over TCP). One per destination and worker, opened on first use and
 * kept for the next. A request sent here stays in flight on its datagram
 * socket (same deadline, same latency clock from its intended time); its
 * bytes go out with a 2-byte length prefix (RFC 1035 4.2.2) and an ID unique
 * on this connection, and the answer, its ID restored, is handed to the
 * protocol as if the socket had read it. Faults of this connection fail the
 * requests it carries with their class and are counted apart as
 * <proto>.tc_tcp.<class>; a request on it that times out, or a length that
 * cannot be right, closes it (its place in the stream is lost).
 */
#ifndef SURGE_FALLBACK_H
#define SURGE_FALLBACK_H

#include <stdbool.h>
#include <stdint.h>

struct conn;
struct worker;

/* Sends inflight entry i of datagram connection c (its kept bytes, retry.h)
 * over TCP to c's destination. Returns 0 when handled (sent, queued, or
 * failed and counted), -EINVAL when it cannot go (no copy kept, or it came
 * over TCP already): the caller settles the request. */
int fallback_send(struct worker *w, struct conn *c, uint32_t i);

/* Before request i of datagram connection c expires: when it went over TCP,
 * what its fallback connection has received is read first (a stalled loop
 * has not read it), so an answer that came in time is not lost with the
 * connection. May settle any request, i among them. */
void fallback_read_arrived(struct worker *w, struct conn *c, uint32_t i);

/* Request i of datagram connection c is timing out (call before settling
 * it). When it went over TCP it is counted as <proto>.tc_tcp.request_timeout
 * too; when its answer is still owed on the fallback connection, that
 * connection's place in the stream is lost, as a TCP connection's is
 * (conn.c): fallback_timed_out closes it. Returns true then. */
bool fallback_expiring(struct worker *w, struct conn *c, uint32_t i);

/* Closes destination dest's fallback connection, if open, failing the
 * requests still on it as request timeouts; the next truncated answer
 * opens a new one. */
void fallback_timed_out(struct worker *w, uint32_t dest);

/* Closes every fallback connection of the worker (NULL-safe); requests still
 * on them are left to their datagram sockets' accounting. */
void fallback_free(struct worker *w);

#endif
