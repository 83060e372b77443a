/*
 * churn: connections that end by design — after requests_per_connection
 * requests, or at connection_lifetime (with jitter) of age — and are
 * replaced by the pool like any other closed slot (at connect_rate). A
 * recycled connection stops taking requests, closes cleanly once its last
 * answer is in, and is counted in conn.recycled, never as an error.
 */
#ifndef SURGE_CHURN_H
#define SURGE_CHURN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct conn;
struct worker;

struct churn {
	uint64_t *expires; /* per slot: when its connection is too old (absolute ns) */
	uint64_t rng;
	uint32_t cursor;   /* the sweep's next slot */
	int id_recycled;   /* conn.recycled */
	int id_first;      /* conn.first_answer: connect() to a fresh connection's first answer */
};

struct options;
struct plan;

/* New connections per second that churn makes by design (0: none, or not
 * known before the run: a closed model's rate is what the server gives):
 * connection_rate; the open model's peak rate / requests_per_connection;
 * connections / the shortest lifetime — at most connect_rate. */
double churn_rate(const struct options *o);
/* Before traffic: every connection surge closes waits 60 s in TIME_WAIT
 * holding its port, so churn needs rate x 60 ports per (source,
 * destination) pair besides the open ones. Writes a warning with the
 * arithmetic and the fixes into buf and returns true when a pair has fewer;
 * tw_reuse is net.ipv4.tcp_tw_reuse (-1 unknown). */
bool churn_plan_warning(const struct options *o, const struct plan *p, int tw_reuse, char *buf,
			size_t len);
/* net.ipv4.tcp_tw_reuse, or -1. */
int churn_tw_reuse(void);
/* After a churn_plan_warning: true when the kernel will not reuse TIME_WAIT
 * ports for these destinations (tcp_tw_reuse 0, or 2 and one of them is
 * not loopback), so the run cannot hold its churn and is refused. */
bool churn_plan_refuses(const struct options *o, int tw_reuse);

/* Allocates what the options need (nothing without churn). 0 or -ENOMEM. */
int churn_init(struct worker *w);
void churn_free(struct worker *w);
/* c opened at now: its age limit starts. */
void churn_opened(struct worker *w, struct conn *c, uint64_t now);
/* c sent a request at now: at its count or past its age it is recycled. */
void churn_sent(struct worker *w, struct conn *c, uint64_t now);
/* c's request was answered at now: on a fresh connection (none answered
 * before, opened after the start), the time since its connect() goes to
 * conn.first_answer (in the open model it includes the wait for the first
 * request due). */
void churn_answered(struct worker *w, struct conn *c, uint64_t now);
/* From the worker's tick: idle connections past their age close (each slot
 * is looked at about every 100 ms, a slice per tick). */
void churn_tick(struct worker *w, uint64_t now);

#endif
