/* refresh: the first resolution and re-resolution in the coordinator; the
 * workers apply the tables it sends in pool.c. */
#include "refresh.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "container.h"
#include "ipc.h"
#include "resolve.h"

/* One target that is a name: its timer and the state of its last lookup. */
struct refresh_name {
	ev_timer timer;
	struct refresh *rf;
	uint32_t target;
	uint32_t ttl;   /* of the last good answer */
	bool busy;      /* a lookup is in flight */
	bool failing;   /* the last lookup failed: warned once, until it recovers */
	uint32_t failures;
};

struct refresh {
	struct resolve_config cfg;
	const struct options *opt;
	struct dest_table table; /* the truth the workers copy */
	struct refresh_name *names;
	size_t nnames;
	struct resolver *res;
	struct ev_loop *loop;
	uint64_t start_ns;
	void (*ship)(void *arg, const uint8_t *buf, size_t len);
	void (*say)(void *arg, const char *line);
	void *arg;
};

/* The first resolution: one result slot per target. */
struct first {
	enum resolve_status status;
	char detail[128];
	struct sockaddr_storage *addrs;
	size_t naddrs;
	uint32_t ttl;
};

uint64_t refresh_period_ns(const struct resolve_config *cfg, uint32_t ttl)
{
	if (cfg->every_ns)
		return cfg->every_ns;
	uint64_t ns = (uint64_t)ttl * 1000000000ull;
	return ns < REFRESH_MIN_NS ? REFRESH_MIN_NS : ns;
}

static void first_cb(void *arg, const struct resolve_result *r)
{
	struct first *f = arg;

	f->status = r->status;
	snprintf(f->detail, sizeof(f->detail), "%s", r->detail);
	f->ttl = r->ttl;
	if (r->status == RESOLVE_OK) {
		f->addrs = malloc(r->naddrs * sizeof(*f->addrs));
		if (!f->addrs) {
			f->status = RESOLVE_ERROR;
			snprintf(f->detail, sizeof(f->detail), "out of memory");
			return;
		}
		memcpy(f->addrs, r->addrs, r->naddrs * sizeof(*f->addrs));
		f->naddrs = r->naddrs;
	}
}

static void say_failure(char *err, size_t errlen, const struct target_spec *t,
			const struct resolve_config *cfg, const char *via, const struct first *f)
{
	struct sockaddr_storage lit;
	enum resolve_status st = f->status;
	/* c-ares's wording adds nothing to ours for the common cases. */
	bool detail = f->detail[0] && st != RESOLVE_NXDOMAIN && st != RESOLVE_NODATA &&
		      st != RESOLVE_TIMEOUT;
	const char *next = st == RESOLVE_TIMEOUT || st == RESOLVE_SERVFAIL
				   ? "is the DNS server up? choose one with --resolver ADDR[:PORT]"
			   : st == RESOLVE_NODATA ? "check the name, or allow both with family = \"any\""
						  : "check the name in 'target'";

	if (resolve_literal(t->host, t->port, &lit)) {
		snprintf(err, errlen, "target '%s' is an %s address, but family is \"%s\"", t->host,
			 lit.ss_family == AF_INET6 ? "IPv6" : "IPv4",
			 cfg->family == RESOLVE_IPV4 ? "ipv4" : "ipv6");
		return;
	}
	snprintf(err, errlen, "cannot resolve '%s' (%s) via %s: %s%s%s%s; %s", t->host,
		 resolve_family_str(cfg->family), via, resolve_status_str(st), detail ? " (" : "",
		 detail ? f->detail : "", detail ? ")" : "", next);
}

int refresh_resolve(struct options *o, struct refresh **out, char *err, size_t errlen)
{
	struct refresh *rf = calloc(1, sizeof(*rf));
	struct first *fs = calloc(o->ntargets ? o->ntargets : 1, sizeof(*fs));
	struct ev_loop *loop = NULL;
	struct resolver *res = NULL;
	size_t nnames = 0;
	int rc = -ENOMEM;

	if (!rf || !fs)
		goto out;
	rf->cfg = o->resolver;
	rf->opt = o;
	dest_table_init(&rf->table);
	for (size_t i = 0; i < o->ntargets; i++) {
		struct sockaddr_storage lit;
		if (!resolve_literal(o->targets[i].host, o->targets[i].port, &lit))
			nnames++;
	}
	/* Literals alone never touch c-ares (nor resolv.conf). */
	if (nnames > 0) {
		loop = ev_loop_new(EVFLAG_AUTO);
		if (!loop) {
			rc = -EIO;
			snprintf(err, errlen, "cannot create an event loop to resolve names");
			goto out;
		}
		if ((rc = resolve_new(loop, &o->resolver, &res, err, errlen)) < 0)
			goto out;
		rf->names = calloc(nnames, sizeof(*rf->names));
		if (!rf->names) {
			rc = -ENOMEM;
			goto out;
		}
	}
	for (size_t i = 0; i < o->ntargets; i++) {
		fs[i].status = RESOLVE_ERROR;
		if (res) {
			/* resolve_lookup answers literals itself, family check included. */
			if ((rc = resolve_lookup(res, o->targets[i].host, o->targets[i].port,
						 o->resolver.family, first_cb, &fs[i])) < 0)
				goto out;
			continue;
		}
		struct sockaddr_storage lit;
		resolve_literal(o->targets[i].host, o->targets[i].port, &lit);
		bool ok = o->resolver.family == RESOLVE_ANY ||
			  (o->resolver.family == RESOLVE_IPV6) == (lit.ss_family == AF_INET6);
		fs[i].status = ok ? RESOLVE_OK : RESOLVE_NODATA;
		fs[i].ttl = RESOLVE_TTL_NEVER;
		if (!ok) {
			snprintf(fs[i].detail, sizeof(fs[i].detail),
				 "the literal address is of the other family");
			continue;
		}
		fs[i].addrs = malloc(sizeof(lit));
		if (!fs[i].addrs) {
			rc = -ENOMEM;
			goto out;
		}
		fs[i].addrs[0] = lit;
		fs[i].naddrs = 1;
	}
	if (res)
		while (resolve_pending(res) > 0)
			ev_run(loop, EVRUN_ONCE);
	for (size_t i = 0; i < o->ntargets; i++) {
		if (fs[i].status != RESOLVE_OK) {
			say_failure(err, errlen, &o->targets[i], &o->resolver,
				    res ? resolve_describe(res) : "", &fs[i]);
			rc = -ENOENT;
			goto out;
		}
		if ((rc = dest_table_update(&rf->table, (uint32_t)i, fs[i].addrs, fs[i].naddrs, NULL,
					    NULL)) < 0)
			goto out;
		if (fs[i].ttl != RESOLVE_TTL_NEVER) {
			struct refresh_name *n = &rf->names[rf->nnames++];
			n->rf = rf;
			n->target = (uint32_t)i;
			n->ttl = fs[i].ttl;
		}
	}
	if ((rc = dest_table_to_options(&rf->table, o)) < 0)
		goto out;
	*out = rf;
	rf = NULL;
	rc = 0;
out:
	resolve_free(res); /* first: cancelled lookups still write into fs */
	for (size_t i = 0; fs && i < o->ntargets; i++)
		free(fs[i].addrs);
	free(fs);
	if (loop)
		ev_loop_destroy(loop);
	refresh_free(rf);
	return rc;
}

void refresh_free(struct refresh *rf)
{
	if (!rf)
		return;
	/* Before the timers: cancelled callbacks only look at their status. */
	resolve_free(rf->res);
	for (size_t i = 0; rf->loop && i < rf->nnames; i++)
		ev_timer_stop(rf->loop, &rf->names[i].timer);
	dest_table_free(&rf->table);
	free(rf->names);
	free(rf);
}

static void schedule(struct refresh_name *n, uint64_t ns)
{
	ev_timer_stop(n->rf->loop, &n->timer);
	ev_timer_set(&n->timer, (double)ns / 1e9, 0.);
	ev_timer_start(n->rf->loop, &n->timer);
}

static uint32_t second_now(const struct refresh *rf)
{
	uint64_t now = clock_ns();
	return now > rf->start_ns ? (uint32_t)((now - rf->start_ns) / NS_PER_SEC) + 1 : 0;
}

/* "+127.0.0.6:7000 -127.0.0.2:7000": target's entries whose state differs
 * from was[] (one flag per entry), at most len bytes, "..." when cut. */
static void describe_change(const struct dest_table *t, uint32_t target, const bool *was, char *buf,
			    size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (uint32_t i = 0; i < t->n && used + 1 < len; i++) {
		const struct dest *d = &t->d[i];
		if (d->target != target || d->active == was[i])
			continue;
		int k = snprintf(buf + used, len - used, "%s%c%s", used ? " " : "",
				 d->active ? '+' : '-', d->label);
		if (k < 0 || used + (size_t)k >= len) {
			if (len > 4)
				snprintf(buf + (used < len - 4 ? used : len - 4), 4, "...");
			return;
		}
		used += (size_t)k;
	}
}

static void relookup_cb(void *arg, const struct resolve_result *r)
{
	struct refresh_name *n = arg;
	struct refresh *rf = n->rf;
	const struct target_spec *t = &rf->opt->targets[n->target];
	char line[1024];

	if (r->status == RESOLVE_CANCELLED)
		return;
	n->busy = false;
	if (r->status != RESOLVE_OK) {
		n->failures++;
		if (!n->failing) {
			uint32_t keep = 0;
			for (uint32_t i = 0; i < rf->table.n; i++)
				keep += rf->table.d[i].target == n->target && rf->table.d[i].active;
			snprintf(line, sizeof(line),
				 "[%3us] warning: re-resolving '%s' via %s failed: %s%s%s%s; keeping the "
				 "last %u address%s",
				 second_now(rf), t->host, resolve_describe(rf->res),
				 resolve_status_str(r->status), r->detail[0] ? " (" : "", r->detail,
				 r->detail[0] ? ")" : "", keep, keep == 1 ? "" : "es");
			rf->say(rf->arg, line);
		}
		n->failing = true;
		schedule(n, refresh_period_ns(&rf->cfg, n->ttl));
		return;
	}
	n->ttl = r->ttl;
	bool *was = calloc(rf->table.n ? rf->table.n : 1, sizeof(*was));
	uint32_t added = 0, removed = 0, nbefore = rf->table.n;
	for (uint32_t i = 0; was && i < nbefore; i++)
		was[i] = rf->table.d[i].active;
	if (!was || dest_table_update(&rf->table, n->target, r->addrs, r->naddrs, &added, &removed) < 0) {
		free(was);
		schedule(n, refresh_period_ns(&rf->cfg, n->ttl));
		return;
	}
	if (n->failing) {
		snprintf(line, sizeof(line), "[%3us] '%s' resolves again (after %u failed attempt%s)",
			 second_now(rf), t->host, n->failures, n->failures == 1 ? "" : "s");
		rf->say(rf->arg, line);
		n->failing = false;
		n->failures = 0;
	}
	if (added || removed) {
		bool *w2 = realloc(was, (rf->table.n ? rf->table.n : 1) * sizeof(*was));
		if (w2) {
			was = w2;
			for (uint32_t i = nbefore; i < rf->table.n; i++)
				was[i] = false;
			char change[768];
			describe_change(&rf->table, n->target, was, change, sizeof(change));
			snprintf(line, sizeof(line), "[%3us] '%s' now has %zu address%s: %s",
				 second_now(rf), t->host, r->naddrs, r->naddrs == 1 ? "" : "es", change);
			rf->say(rf->arg, line);
		}
		uint8_t *buf;
		size_t len;
		if (dest_table_encode(&rf->table, &buf, &len) == 0) {
			rf->ship(rf->arg, buf, len);
			free(buf);
		}
	}
	free(was);
	schedule(n, refresh_period_ns(&rf->cfg, n->ttl));
}

static void name_timer_cb(struct ev_loop *loop, ev_timer *tm, int revents)
{
	struct refresh_name *n = container_of(tm, struct refresh_name, timer);
	struct refresh *rf = n->rf;
	const struct target_spec *t = &rf->opt->targets[n->target];

	if (n->busy)
		return;
	n->busy = true;
	if (resolve_lookup(rf->res, t->host, t->port, rf->cfg.family, relookup_cb, n) < 0) {
		n->busy = false;
		schedule(n, REFRESH_MIN_NS);
	}
}

int refresh_start(struct refresh *rf, struct ev_loop *loop, uint64_t start_ns,
		  void (*ship)(void *arg, const uint8_t *buf, size_t len),
		  void (*say)(void *arg, const char *line), void *arg, char *err, size_t errlen)
{
	int rc;

	if (rf->nnames == 0 || rf->cfg.never)
		return 0;
	rf->loop = loop;
	rf->start_ns = start_ns;
	rf->ship = ship;
	rf->say = say;
	rf->arg = arg;
	if ((rc = resolve_new(loop, &rf->cfg, &rf->res, err, errlen)) < 0)
		return rc;
	uint64_t now = clock_ns();
	for (size_t i = 0; i < rf->nnames; i++) {
		struct refresh_name *n = &rf->names[i];
		ev_timer_init(&n->timer, name_timer_cb, 0., 0.);
		/* Periods count from the run's start, not from the first answer. */
		uint64_t at = start_ns + refresh_period_ns(&rf->cfg, n->ttl);
		schedule(n, at > now ? at - now : 0);
	}
	return 0;
}
