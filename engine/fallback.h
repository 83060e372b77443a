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
 * <proto>.tc_tcp.<class>.
 */
#ifndef SURGE_FALLBACK_H
#define SURGE_FALLBACK_H

#include <stdint.h>

struct conn;
struct worker;

/* Sends inflight entry i of datagram connection c (its kept bytes, retry.h)
 * over TCP to c's destination. Returns 0 when handled (sent, queued, or
 * failed and counted), -EINVAL when it cannot go (no copy kept, or it came
 * over TCP already): the caller settles the request. */
int fallback_send(struct worker *w, struct conn *c, uint32_t i);

/* Closes every fallback connection of the worker (NULL-safe); requests still
 * on them are left to their datagram sockets' accounting. */
void fallback_free(struct worker *w);

#endif
