/*
 * deadline: a worker's two timeouts, connect and request. Each has one value
 * for the whole run, so the connects (and the requests) in progress expire
 * in the order they started: one list in that order and one ev_timer set for
 * its head, which re-arms itself for the next head when it fires (libev's
 * "method 4"). Starting, finishing and expiring are O(1); nothing sweeps.
 */
#ifndef SURGE_DEADLINE_H
#define SURGE_DEADLINE_H

struct conn;
struct worker;

void deadline_init(struct worker *w);
void deadline_stop(struct worker *w);
/* c called connect(): it joins the connect list (and the timer starts). */
void deadline_connect_started(struct worker *w, struct conn *c);
/* c is no longer connecting (connected, failed or closed). */
void deadline_connect_done(struct worker *w, struct conn *c);
/* A request joined the worker's in-flight list: starts the timer if idle. */
void deadline_request_sent(struct worker *w);

#endif
