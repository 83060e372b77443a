/*
 * dispatch: which request goes out when, on which connection. Closed model:
 * every connection keeps `pipeline` requests in flight (after an optional
 * think time). Open model: the pacer's intended times fire a timerfd; a due
 * request takes the connection that has waited longest with room, or waits in
 * a bounded backlog — its latency still counts from its intended time.
 */
#ifndef SURGE_DISPATCH_H
#define SURGE_DISPATCH_H

#include <stdbool.h>
#include <stdint.h>

struct conn;
struct worker;

/* Open model: creates the pacer and its timerfd. Returns 0 or -errno. */
int dispatch_init(struct worker *w);
void dispatch_free(struct worker *w);
/* A connection opened or gained room: give it backlog or closed-model work,
 * or close it when it is draining and idle. */
void dispatch_conn_has_room(struct worker *w, struct conn *c);
/* The answer just in is c's last: c closes after it (Connection: close, or
 * recycled). Closed model with think time: the pause after that answer is
 * the slot's still, and its next connection's first request waits for what
 * is left of it (a pause after each answer, however the connection ended).
 * Call before closing c. */
void dispatch_conn_ends(struct worker *w, struct conn *c);
/* Closed model with think time: c's first request after delay_ns (the
 * connect phase spreads them over one think time, see pool.c). */
void dispatch_first_after(struct worker *w, struct conn *c, uint64_t delay_ns);
/* c's alarm went off (ALARM_THINK): its closed-model requests go, if it is
 * still open, idle and not draining. */
void dispatch_alarm(struct worker *w, struct conn *c);
/* Open model: sends (or backlogs) every request due at or before t now, so
 * a second's intended count is the schedule's even when the loop ran late
 * across its end. */
void dispatch_due_until(struct worker *w, uint64_t t);
/* Stops scheduling (end of run); the backlog is counted as dropped. */
void dispatch_stop(struct worker *w);
/* requests = N: this worker's share has been sent (closed model) or taken
 * from the schedule and sent or dropped (open model). Always false without
 * a count. */
bool dispatch_quota_done(struct worker *w, uint64_t now);
/* Open model: how late (ns) a request may leave to share its wake-up with
 * those due after it, at `rate` requests/s of one worker; 0 below the rate
 * where nothing would share it. */
uint64_t dispatch_window(double rate);

#endif
