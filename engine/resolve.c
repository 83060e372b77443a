/*
 * resolve: c-ares joined to libev the way sniproxy does it. c-ares tells us,
 * through its socket-state callback, which sockets it wants watched for
 * reading or writing; each gets an ev_io that hands readiness back with
 * ares_process_fd. One ev_timer, re-armed from ares_timeout() after every
 * step, drives c-ares's retries and gives up on silent servers.
 */
#include "resolve.h"

#include <arpa/inet.h>
#include <ares.h>
#include <errno.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "container.h"

#define DEFAULT_TIMEOUT_MS 2000
#define DEFAULT_TRIES 2

struct resolve_sock {
	ev_io io;
	struct resolver *r;
	struct resolve_sock *next;
};

struct resolver {
	struct ev_loop *loop;
	ares_channel ch;
	ev_timer timer;
	struct resolve_sock *socks;
	size_t pending;
	char describe[1024];
};

struct lookup {
	struct resolver *r;
	uint16_t port;
	enum resolve_family fam;
	void (*cb)(void *arg, const struct resolve_result *res);
	void *arg;
};

static void rearm_timer(struct resolver *r)
{
	struct timeval tv, *tp = ares_timeout(r->ch, NULL, &tv);

	ev_timer_stop(r->loop, &r->timer);
	if (!tp)
		return;
	ev_timer_set(&r->timer, (double)tp->tv_sec + (double)tp->tv_usec / 1e6, 0.);
	ev_timer_start(r->loop, &r->timer);
}

static void sock_io_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct resolve_sock *s = container_of(io, struct resolve_sock, io);
	struct resolver *r = s->r;
	int fd = io->fd;

	/* s may be freed inside (c-ares closes the socket): use only r after. */
	ares_process_fd(r->ch, revents & EV_READ ? fd : ARES_SOCKET_BAD,
			revents & EV_WRITE ? fd : ARES_SOCKET_BAD);
	rearm_timer(r);
}

static void timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct resolver *r = container_of(t, struct resolver, timer);

	ares_process_fd(r->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	rearm_timer(r);
}

static void sock_state_cb(void *data, ares_socket_t fd, int readable, int writable)
{
	struct resolver *r = data;
	struct resolve_sock **pp = &r->socks, *s;

	while ((s = *pp) && s->io.fd != fd)
		pp = &s->next;
	if (!readable && !writable) {
		if (s) {
			ev_io_stop(r->loop, &s->io);
			*pp = s->next;
			free(s);
		}
		return;
	}
	if (!s) {
		/* Without a watcher the query still ends: by its timeout. */
		s = calloc(1, sizeof(*s));
		if (!s)
			return;
		s->r = r;
		s->next = r->socks;
		r->socks = s;
		ev_io_init(&s->io, sock_io_cb, fd, 0);
	}
	ev_io_stop(r->loop, &s->io);
	ev_io_set(&s->io, fd, (readable ? EV_READ : 0) | (writable ? EV_WRITE : 0));
	ev_io_start(r->loop, &s->io);
}

static int parse_port(const char *s, uint16_t *port)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	v = strtol(s, &end, 10);
	if (*end || v < 1 || v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

/* One server as written: "1.2.3.4", "1.2.3.4:53", "::1", "[::1]", "[::1]:53". */
static int parse_server(const char *tok, char *out, size_t outlen)
{
	char host[INET6_ADDRSTRLEN + 1];
	struct in6_addr a6;
	struct in_addr a4;
	uint16_t port = 53;
	const char *colon;
	size_t hl;

	if (tok[0] == '[') {
		const char *close = strchr(tok, ']');
		if (!close)
			return -EINVAL;
		hl = (size_t)(close - tok - 1);
		if (hl >= sizeof(host))
			return -EINVAL;
		memcpy(host, tok + 1, hl);
		host[hl] = '\0';
		if (close[1] && (close[1] != ':' || parse_port(close + 2, &port) < 0))
			return -EINVAL;
		if (inet_pton(AF_INET6, host, &a6) != 1)
			return -EINVAL;
		snprintf(out, outlen, "[%s]:%u", host, port);
		return 0;
	}
	colon = strchr(tok, ':');
	if (colon && strchr(colon + 1, ':')) { /* bare IPv6, no port */
		hl = strlen(tok);
		if (hl >= sizeof(host))
			return -EINVAL;
		memcpy(host, tok, hl + 1);
		if (inet_pton(AF_INET6, host, &a6) != 1)
			return -EINVAL;
		snprintf(out, outlen, "[%s]:53", host);
		return 0;
	}
	hl = colon ? (size_t)(colon - tok) : strlen(tok);
	if (hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, tok, hl);
	host[hl] = '\0';
	if (inet_pton(AF_INET, host, &a4) != 1)
		return -EINVAL;
	if (colon && parse_port(colon + 1, &port) < 0)
		return -EINVAL;
	snprintf(out, outlen, "%s:%u", host, port);
	return 0;
}

int resolve_servers_csv(const char *list, char *out, size_t outlen, char *err, size_t errlen)
{
	const char *p = list;
	size_t used = 0, count = 0;

	if (outlen)
		out[0] = '\0';
	while (*p) {
		char tok[128], one[128];
		size_t n = strcspn(p, ", \t");
		if (n == 0) {
			p++;
			continue;
		}
		if (n >= sizeof(tok) || (snprintf(tok, sizeof(tok), "%.*s", (int)n, p),
					 parse_server(tok, one, sizeof(one)) < 0)) {
			snprintf(err, errlen,
				 "resolver server '%.*s' is not an IP address with an optional port "
				 "(e.g. 127.0.0.1:5353 or [::1]:53)",
				 (int)(n < 64 ? n : 64), p);
			return -EINVAL;
		}
		size_t l = strlen(one);
		if (used + l + 2 > outlen) {
			snprintf(err, errlen, "resolver: too many servers");
			return -EINVAL;
		}
		if (count++)
			out[used++] = ',';
		memcpy(out + used, one, l + 1);
		used += l;
		p += n;
	}
	if (count == 0) {
		snprintf(err, errlen, "resolver: no server given (e.g. 127.0.0.1:5353)");
		return -EINVAL;
	}
	return 0;
}

static void describe_system(struct resolver *r)
{
	struct ares_addr_port_node *list = NULL;
	size_t used;

	used = (size_t)snprintf(r->describe, sizeof(r->describe), "the system resolver (");
	if (ares_get_servers_ports(r->ch, &list) == ARES_SUCCESS) {
		for (struct ares_addr_port_node *n = list; n && used < sizeof(r->describe); n = n->next) {
			char a[INET6_ADDRSTRLEN] = "?";
			ares_inet_ntop(n->family, &n->addr, a, sizeof(a));
			used += (size_t)snprintf(r->describe + used, sizeof(r->describe) - used,
						 n->family == AF_INET6 ? "%s[%s]:%d" : "%s%s:%d",
						 n == list ? "" : ", ", a, n->udp_port ? n->udp_port : 53);
		}
	}
	ares_free_data(list);
	if (used < sizeof(r->describe))
		snprintf(r->describe + used, sizeof(r->describe) - used, ")");
}

int resolve_new(struct ev_loop *loop, const struct resolve_config *cfg, struct resolver **out,
		char *err, size_t errlen)
{
	struct ares_options ao = {0};
	int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
	char csv[1024];
	struct resolver *r;
	int rc;

	if (cfg->servers && resolve_servers_csv(cfg->servers, csv, sizeof(csv), err, errlen) < 0)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->loop = loop;
	ev_timer_init(&r->timer, timer_cb, 0., 0.);
	if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS) {
		free(r);
		snprintf(err, errlen, "cannot start c-ares");
		return -EIO;
	}
	ao.sock_state_cb = sock_state_cb;
	ao.sock_state_cb_data = r;
	/* c-ares's own defaults (5 s, 4 tries, doubling each round) would take a
	 * minute and more to report a dead server: a run should fail early. */
	ao.timeout = cfg->timeout_ns ? (int)((cfg->timeout_ns + 999999) / 1000000) : DEFAULT_TIMEOUT_MS;
	ao.tries = cfg->tries ? (int)cfg->tries : DEFAULT_TRIES;
	if (cfg->servers) {
		/* A chosen server answers for the name exactly as written, as
		 * `dig @server` does: no hosts file, no search domains. */
		ao.lookups = (char *)"b";
		ao.flags = ARES_FLAG_NOSEARCH;
		mask |= ARES_OPT_LOOKUPS | ARES_OPT_FLAGS;
	}
	rc = ares_init_options(&r->ch, &ao, mask);
	if (rc != ARES_SUCCESS) {
		snprintf(err, errlen, "cannot start c-ares: %s", ares_strerror(rc));
		ares_library_cleanup();
		free(r);
		return rc == ARES_ENOMEM ? -ENOMEM : -EIO;
	}
	if (cfg->servers) {
		rc = ares_set_servers_ports_csv(r->ch, csv);
		if (rc != ARES_SUCCESS) {
			snprintf(err, errlen, "resolver servers '%s': %s", cfg->servers, ares_strerror(rc));
			resolve_free(r);
			return -EINVAL;
		}
		snprintf(r->describe, sizeof(r->describe), "%s", csv);
	} else {
		describe_system(r);
	}
	*out = r;
	return 0;
}

void resolve_free(struct resolver *r)
{
	if (!r)
		return;
	/* Runs the pending callbacks with ARES_EDESTRUCTION and closes the
	 * sockets, which frees their watchers through sock_state_cb. */
	ares_destroy(r->ch);
	while (r->socks) {
		struct resolve_sock *s = r->socks;
		ev_io_stop(r->loop, &s->io);
		r->socks = s->next;
		free(s);
	}
	ev_timer_stop(r->loop, &r->timer);
	ares_library_cleanup();
	free(r);
}

size_t resolve_pending(const struct resolver *r)
{
	return r->pending;
}

const char *resolve_describe(const struct resolver *r)
{
	return r->describe;
}

socklen_t resolve_addrlen(const struct sockaddr_storage *a)
{
	return a->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

/* sockaddr_storage is accessed through memcpy into the typed structs:
 * casting pointers between them breaks strict aliasing. */
static void set_port(struct sockaddr_storage *a, uint16_t port)
{
	if (a->ss_family == AF_INET6) {
		struct sockaddr_in6 s6;
		memcpy(&s6, a, sizeof(s6));
		s6.sin6_port = htons(port);
		memcpy(a, &s6, sizeof(s6));
	} else {
		struct sockaddr_in s4;
		memcpy(&s4, a, sizeof(s4));
		s4.sin_port = htons(port);
		memcpy(a, &s4, sizeof(s4));
	}
}

int resolve_literal(const char *host, uint16_t port, struct sockaddr_storage *out)
{
	struct sockaddr_in s4 = {.sin_family = AF_INET, .sin_port = htons(port)};
	struct sockaddr_in6 s6 = {.sin6_family = AF_INET6, .sin6_port = htons(port)};

	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, host, &s4.sin_addr) == 1)
		memcpy(out, &s4, sizeof(s4));
	else if (inet_pton(AF_INET6, host, &s6.sin6_addr) == 1)
		memcpy(out, &s6, sizeof(s6));
	else
		return 0;
	return 1;
}

void resolve_fmt_addr(const struct sockaddr_storage *a, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (a->ss_family == AF_INET6) {
		struct sockaddr_in6 s6;
		memcpy(&s6, a, sizeof(s6));
		inet_ntop(AF_INET6, &s6.sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(s6.sin6_port));
	} else {
		struct sockaddr_in s4;
		memcpy(&s4, a, sizeof(s4));
		inet_ntop(AF_INET, &s4.sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(s4.sin_port));
	}
}

/* IPv4 before IPv6, then by address bytes and port: answers come back in
 * a rotating order, and a stable one keeps the destination table stable. */
static int addr_cmp(const void *pa, const void *pb)
{
	const struct sockaddr_storage *a = pa, *b = pb;

	if (a->ss_family != b->ss_family)
		return a->ss_family == AF_INET ? -1 : 1;
	if (a->ss_family == AF_INET6) {
		struct sockaddr_in6 x, y;
		memcpy(&x, a, sizeof(x));
		memcpy(&y, b, sizeof(y));
		int c = memcmp(&x.sin6_addr, &y.sin6_addr, sizeof(x.sin6_addr));
		return c ? c : (int)ntohs(x.sin6_port) - (int)ntohs(y.sin6_port);
	}
	struct sockaddr_in x, y;
	memcpy(&x, a, sizeof(x));
	memcpy(&y, b, sizeof(y));
	int c = memcmp(&x.sin_addr, &y.sin_addr, sizeof(x.sin_addr));
	return c ? c : (int)ntohs(x.sin_port) - (int)ntohs(y.sin_port);
}

static enum resolve_status map_status(int st)
{
	switch (st) {
	case ARES_SUCCESS:
		return RESOLVE_OK;
	case ARES_ENOTFOUND:
	case ARES_ENONAME:
		return RESOLVE_NXDOMAIN;
	case ARES_ENODATA:
		return RESOLVE_NODATA;
	case ARES_ETIMEOUT:
		return RESOLVE_TIMEOUT;
	case ARES_ESERVFAIL:
	case ARES_EREFUSED:
	case ARES_ECONNREFUSED:
	case ARES_ENOTIMP:
	case ARES_EFORMERR:
		return RESOLVE_SERVFAIL;
	case ARES_EBADNAME:
		return RESOLVE_BADNAME;
	case ARES_EDESTRUCTION:
	case ARES_ECANCELLED:
		return RESOLVE_CANCELLED;
	default:
		return RESOLVE_ERROR;
	}
}

static void gai_cb(void *arg, int status, int timeouts, struct ares_addrinfo *ai)
{
	struct lookup *lk = arg;
	struct resolve_result res = {map_status(status), "", NULL, 0, RESOLVE_TTL_NEVER};
	struct sockaddr_storage *addrs = NULL;
	size_t n = 0;

	if (status != ARES_SUCCESS)
		res.detail = ares_strerror(status);
	if (status == ARES_SUCCESS && ai) {
		addrs = calloc(RESOLVE_MAX_ADDRS, sizeof(*addrs));
		if (!addrs) {
			res.status = RESOLVE_ERROR;
			res.detail = "out of memory";
		}
		for (struct ares_addrinfo_node *p = ai->nodes; addrs && p && n < RESOLVE_MAX_ADDRS;
		     p = p->ai_next) {
			int want = lk->fam == RESOLVE_IPV4 ? AF_INET : lk->fam == RESOLVE_IPV6 ? AF_INET6 : 0;
			if ((p->ai_family != AF_INET && p->ai_family != AF_INET6) ||
			    (want && p->ai_family != want) || p->ai_addrlen > sizeof(*addrs))
				continue;
			memset(&addrs[n], 0, sizeof(addrs[n]));
			memcpy(&addrs[n], p->ai_addr, p->ai_addrlen);
			set_port(&addrs[n], lk->port);
			if (p->ai_ttl >= 0 && (uint32_t)p->ai_ttl < res.ttl)
				res.ttl = (uint32_t)p->ai_ttl;
			n++;
		}
		qsort(addrs, n, sizeof(*addrs), addr_cmp);
		size_t k = 0;
		for (size_t i = 0; i < n; i++)
			if (k == 0 || addr_cmp(&addrs[k - 1], &addrs[i]) != 0)
				addrs[k++] = addrs[i];
		n = k;
		if (addrs && n == 0) {
			res.status = RESOLVE_NODATA;
			res.detail = "no address of the wanted family";
		}
	}
	if (res.status == RESOLVE_OK) {
		res.addrs = addrs;
		res.naddrs = n;
	} else {
		res.ttl = 0;
	}
	lk->r->pending--;
	lk->cb(lk->arg, &res);
	free(addrs);
	free(lk);
	if (ai)
		ares_freeaddrinfo(ai);
}

int resolve_lookup(struct resolver *r, const char *name, uint16_t port, enum resolve_family fam,
		   void (*cb)(void *arg, const struct resolve_result *res), void *arg)
{
	struct sockaddr_storage lit;

	if (resolve_literal(name, port, &lit)) {
		bool ok = fam == RESOLVE_ANY || (fam == RESOLVE_IPV4) == (lit.ss_family == AF_INET);
		struct resolve_result res = {RESOLVE_OK, "", &lit, 1, RESOLVE_TTL_NEVER};
		if (!ok) {
			res = (struct resolve_result){RESOLVE_NODATA, "the literal address is of the other family",
						      NULL, 0, 0};
		}
		cb(arg, &res);
		return 0;
	}
	struct lookup *lk = calloc(1, sizeof(*lk));
	if (!lk)
		return -ENOMEM;
	struct ares_addrinfo_hints hints = {
		.ai_flags = ARES_AI_NOSORT,
		.ai_family = fam == RESOLVE_IPV4 ? AF_INET : fam == RESOLVE_IPV6 ? AF_INET6 : AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
	};
	lk->r = r;
	lk->port = port;
	lk->fam = fam;
	lk->cb = cb;
	lk->arg = arg;
	r->pending++;
	ares_getaddrinfo(r->ch, name, NULL, &hints, gai_cb, lk);
	rearm_timer(r);
	return 0;
}

const char *resolve_status_str(enum resolve_status s)
{
	switch (s) {
	case RESOLVE_OK: return "resolved";
	case RESOLVE_NXDOMAIN: return "the name does not exist (NXDOMAIN)";
	case RESOLVE_NODATA: return "the name has no address of the wanted family";
	case RESOLVE_TIMEOUT: return "no answer from the DNS server (timeout)";
	case RESOLVE_SERVFAIL: return "the DNS server failed or refused to answer";
	case RESOLVE_BADNAME: return "not a valid host name";
	case RESOLVE_CANCELLED: return "cancelled";
	case RESOLVE_ERROR: break;
	}
	return "resolution failed";
}

const char *resolve_family_str(enum resolve_family f)
{
	return f == RESOLVE_IPV4 ? "IPv4" : f == RESOLVE_IPV6 ? "IPv6" : "IPv4 or IPv6";
}
