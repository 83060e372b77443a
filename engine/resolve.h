/*
 * resolve: target names to addresses with c-ares on a libev loop. c-ares's
 * sockets are watched by ev_io (its socket-state callback says which), its
 * retry timeouts run on one ev_timer: nothing blocks, no thread. A lookup
 * keeps every A and AAAA answer and the smallest TTL; literals skip DNS.
 */
#ifndef SURGE_RESOLVE_H
#define SURGE_RESOLVE_H

#include <ev.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum resolve_family { RESOLVE_ANY, RESOLVE_IPV4, RESOLVE_IPV6 };

/* The scenario's `resolver`, `family` and `resolve_every` (owned by options). */
struct resolve_config {
	char *servers;       /* "127.0.0.1:5353,[::1]:53" as written, or NULL: the system's */
	uint64_t timeout_ns; /* first try; c-ares doubles it each round. 0: 2 s */
	uint32_t tries;      /* 0: 2 */
	enum resolve_family family;
	uint64_t every_ns;   /* re-resolution period; 0: at the answer's TTL */
	int never;           /* resolve_every = "never": resolve once, before the run */
};

enum resolve_status {
	RESOLVE_OK,
	RESOLVE_NXDOMAIN,  /* the name does not exist */
	RESOLVE_NODATA,    /* it exists, but has no address of the wanted family */
	RESOLVE_TIMEOUT,   /* no server answered in time */
	RESOLVE_SERVFAIL,  /* servers answered with a failure or refused */
	RESOLVE_BADNAME,   /* not a valid name */
	RESOLVE_CANCELLED, /* the resolver was freed first */
	RESOLVE_ERROR,     /* anything else (detail says what) */
};

/* At most this many addresses are kept per name. */
#define RESOLVE_MAX_ADDRS 256
/* TTL reported for literals: they never need re-resolution. */
#define RESOLVE_TTL_NEVER UINT32_MAX

struct resolve_result {
	enum resolve_status status;
	const char *detail;             /* c-ares's wording of the failure, or "" */
	struct sockaddr_storage *addrs; /* sorted (IPv4 first, then bytes), no duplicates */
	size_t naddrs;                  /* > 0 exactly when status is RESOLVE_OK */
	uint32_t ttl;                   /* smallest TTL of the answers, seconds */
};

struct resolver;

/* A resolver on loop with cfg's servers, timeout and tries (cfg is copied).
 * Returns 0 and *out, -EINVAL with a message in err (a server that is not an
 * IP address), or -ENOMEM / -EIO (c-ares could not start). */
int resolve_new(struct ev_loop *loop, const struct resolve_config *cfg, struct resolver **out,
		char *err, size_t errlen);
/* Cancels what is pending (callbacks see RESOLVE_CANCELLED) and frees. NULL-safe. */
void resolve_free(struct resolver *r);

/* Looks up name (a name, or an IPv4 / IPv6 literal without brackets) and
 * puts port in every address. cb runs exactly once, with res valid only
 * during the call; it may start lookups but must not free the resolver. A
 * literal answers before this returns. Returns 0 (cb will run) or -ENOMEM
 * (it will not). */
int resolve_lookup(struct resolver *r, const char *name, uint16_t port, enum resolve_family fam,
		   void (*cb)(void *arg, const struct resolve_result *res), void *arg);
/* Lookups started and not yet answered. */
size_t resolve_pending(const struct resolver *r);

/* Who answers, for messages: "127.0.0.1:5353" or "the system resolver (10.0.0.53:53)". */
const char *resolve_describe(const struct resolver *r);

/* Fills *out when host is an IPv4 or IPv6 literal (no brackets). Returns 1
 * for a literal, 0 otherwise. */
int resolve_literal(const char *host, uint16_t port, struct sockaddr_storage *out);
socklen_t resolve_addrlen(const struct sockaddr_storage *a);

/* Turns a server list as people write it ("127.0.0.1:5353, [::1]:53 10.0.0.1",
 * separated by commas or spaces) into c-ares's form in out. Returns 0, or
 * -EINVAL naming the bad entry in err. */
int resolve_servers_csv(const char *list, char *out, size_t outlen, char *err, size_t errlen);

/* "the name does not exist (NXDOMAIN)" ... */
const char *resolve_status_str(enum resolve_status s);
/* "IPv4 or IPv6", "IPv4", "IPv6" */
const char *resolve_family_str(enum resolve_family f);
/* "127.0.0.1:53", "[::1]:53" */
void resolve_fmt_addr(const struct sockaddr_storage *a, char *buf, size_t len);

#endif
