/*
 * deadline: a worker's two timeouts, connect and request. Each has one value
 * for the whole run, so the connects (and the requests) in progress expire
 * in the order they started: one list in that order and one timer set for
 * its head, which re-arms itself for the next head when it fires (libev's
 * "method 4"). Starting, finishing and expiring are O(1); nothing sweeps.
 * The timers are nstimers: a 5 ms timeout is judged at 5 ms, not up to 6.
 */
#ifndef SURGE_DEADLINE_H
#define SURGE_DEADLINE_H

struct conn;
struct worker;

/* Returns 0 or -errno (no timerfd). */
int deadline_init(struct worker *w);
/* No more timeouts: the timers are released (safe to call again). */
void deadline_stop(struct worker *w);
/* c called connect(): it joins the connect list (and the timer starts). */
void deadline_connect_started(struct worker *w, struct conn *c);
/* c is no longer connecting (connected, failed or closed). */
void deadline_connect_done(struct worker *w, struct conn *c);
/* A request joined the worker's in-flight list: starts the timer if idle. */
void deadline_request_sent(struct worker *w);

#endif
