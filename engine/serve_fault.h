/*
 * serve_fault: the faults `surge serve` injects, so reliability tests can ask
 * for a hostile server by name: held replies (--delay, --stall), lost ones
 * (--drop), wrong bytes (--garbage), slow writes (--drip) and broken
 * connections (--reset-after, --half-close, --close-on-accept, --never-read,
 * --close-after, --die-after). This file owns what each option means, its
 * parsing and checks, and the small decisions the core asks at each hook;
 * serve.c owns the sockets and applies them.
 */
#ifndef SURGE_SERVE_FAULT_H
#define SURGE_SERVE_FAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct serve_proto;

struct serve_fault {
	uint64_t delay_ns;                 /* --delay: every reply held this long */
	uint64_t stall_ns, stall_period_ns; /* --stall S/P; 0: off */
	double drop;                       /* --drop: share of replies never sent */
	double garbage;                    /* --garbage: share of replies made garbage */
	uint64_t reset_after;              /* --reset-after: bytes in, then RST; 0: off */
	uint64_t drip_bytes, drip_ns;      /* --drip B/I: B bytes out every I; 0: off */
	uint64_t close_after;              /* --close-after: answers per connection; 0: off */
	uint64_t die_after_ns;             /* --die-after: the server exits; 0: off */
	bool half_close;                   /* --half-close: SHUT_WR after the first answer */
	bool close_on_accept;              /* --close-on-accept */
	bool never_read;                   /* --never-read */
};

/* The options' lines for `surge serve --help`. */
extern const char serve_fault_usage[];

/* Whether key (without "--") is a fault option that takes no value. */
bool serve_fault_is_flag(const char *key);

/* Sets one option from `--key value` (value NULL for a flag). Returns 0,
 * -ENOENT when key is not a fault option, or -EINVAL with a message in err. */
int serve_fault_option(struct serve_fault *f, const char *key, const char *value, char *err,
		       size_t errlen);

/* After every option: refuses faults that proto cannot honour. Returns 0 or
 * -EINVAL with a message in err. */
int serve_fault_check(const struct serve_fault *f, const struct serve_proto *proto, char *err,
		      size_t errlen);

/* Whether a reply due `since` ns after the worker started falls in a --stall
 * window; if so *wait is how long until the window ends. */
bool serve_fault_stalled(const struct serve_fault *f, uint64_t since, uint64_t *wait);

/* true with probability p, drawn from the 64 random bits r. */
bool serve_fault_chance(double p, uint64_t r);

/* Overwrites p[keep, n) with bytes from the 64-bit generator *rng: the
 * garbage of a reply whose first keep bytes (framing, ID) stay true. */
void serve_fault_garble(uint8_t *p, size_t n, size_t keep, uint64_t *rng);

/* --drip's waiting line: connections whose next write is due at a time,
 * embedded in each connection (the owner finds its struct with offsetof,
 * libev's way) and driven by one timer. Every turn is the same interval
 * long, so appending keeps the line in due order (libev manual, "Be smart
 * about timeouts", method 4): add and remove are O(1). */
struct serve_fault_turn {
	struct serve_fault_turn *prev, *next;
	uint64_t due;
	bool queued;
};

struct serve_fault_line {
	struct serve_fault_turn *head, *tail;
};

/* Queues t (not queued yet) at the end, due at `due` (no earlier than the
 * last one's). Returns true when t is now the head: the timer needs arming. */
bool serve_fault_line_add(struct serve_fault_line *l, struct serve_fault_turn *t, uint64_t due);
/* Takes t out of the line; a turn not queued is left alone. */
void serve_fault_line_remove(struct serve_fault_line *l, struct serve_fault_turn *t);
/* The head if it is due by now (taken out of the line), else NULL. */
struct serve_fault_turn *serve_fault_line_pop(struct serve_fault_line *l, uint64_t now);

#endif
