/* resolve, dest and refresh: server lists, literals, lookups against a
 * scripted DNS server on loopback (the c-ares tests' way), the destination
 * table (updates, round-robin over workers, wire form) and the re-resolution
 * period. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dest.h"
#include "refresh.h"
#include "resolve.h"
#include "tap.h"

/* ---- a scripted DNS server: one UDP socket on the test's loop ---- */

struct mock {
	ev_io io;
	int fd;
	uint16_t port;
	int queries;
};


/* a.test: A 127.0.0.9 (TTL 7), A 127.0.0.8 (TTL 9), AAAA ::9 (TTL 3);
 * v4.test: A 127.0.0.7 only; anything else: NXDOMAIN. */
static void mock_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct mock *m = (struct mock *)io;
	uint8_t q[512], r[1024];
	struct sockaddr_storage from;
	socklen_t fl = sizeof(from);
	ssize_t n = recvfrom(m->fd, q, sizeof(q), 0, (struct sockaddr *)&from, &fl);
	char name[256];
	size_t off = 12, nl = 0;

	if (n < 17)
		return;
	m->queries++;
	while (off < (size_t)n && q[off]) {
		if (nl)
			name[nl++] = '.';
		memcpy(name + nl, q + off + 1, q[off]);
		nl += q[off];
		off += q[off] + 1;
	}
	name[nl] = '\0';
	uint16_t qtype = (uint16_t)(q[off + 1] << 8 | q[off + 2]);
	size_t qend = off + 5;
	memcpy(r, q, qend);
	r[2] = 0x84 | (q[2] & 1); /* QR, AA, RD copied */
	r[3] = 0x80;              /* RA, rcode 0 */
	r[6] = r[7] = r[8] = r[9] = r[10] = r[11] = 0;
	size_t len = qend;
	int an = 0;
	bool known = strcmp(name, "a.test") == 0 || strcmp(name, "v4.test") == 0;
	if (!known) {
		r[3] |= 3; /* NXDOMAIN */
	} else {
		static const struct {
			const char *name;
			uint16_t type;
			uint32_t ttl;
			uint8_t addr[16];
		} rrs[] = {
			{"a.test", 1, 7, {127, 0, 0, 9}},
			{"a.test", 1, 9, {127, 0, 0, 8}},
			{"a.test", 28, 3, {[15] = 9}},
			{"v4.test", 1, 5, {127, 0, 0, 7}},
		};
		for (size_t i = 0; i < sizeof(rrs) / sizeof(rrs[0]); i++) {
			if (strcmp(rrs[i].name, name) != 0 || rrs[i].type != qtype)
				continue;
			size_t alen = qtype == 1 ? 4 : 16;
			r[len++] = 0xc0; /* pointer to the question's name */
			r[len++] = 12;
			r[len++] = 0;
			r[len++] = (uint8_t)qtype;
			r[len++] = 0;
			r[len++] = 1;
			r[len++] = (uint8_t)(rrs[i].ttl >> 24);
			r[len++] = (uint8_t)(rrs[i].ttl >> 16);
			r[len++] = (uint8_t)(rrs[i].ttl >> 8);
			r[len++] = (uint8_t)rrs[i].ttl;
			r[len++] = 0;
			r[len++] = (uint8_t)alen;
			memcpy(r + len, rrs[i].addr, alen);
			len += alen;
			an++;
		}
	}
	r[7] = (uint8_t)an;
	sendto(m->fd, r, len, 0, (struct sockaddr *)&from, fl);
}

static int udp_socket(uint16_t *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &l) < 0)
		return -1;
	*port = ntohs(a.sin_port);
	return fd;
}

/* ---- lookups ---- */

struct got {
	int calls;
	enum resolve_status status;
	char detail[128];
	char addrs[8][64];
	size_t n;
	uint32_t ttl;
};

static void got_cb(void *arg, const struct resolve_result *r)
{
	struct got *g = arg;

	g->calls++;
	g->status = r->status;
	snprintf(g->detail, sizeof(g->detail), "%s", r->detail);
	g->n = r->naddrs;
	g->ttl = r->ttl;
	for (size_t i = 0; i < r->naddrs && i < 8; i++)
		resolve_fmt_addr(&r->addrs[i], g->addrs[i], sizeof(g->addrs[i]));
}

static void run_until_done(struct ev_loop *loop, struct resolver *r)
{
	while (resolve_pending(r) > 0)
		ev_run(loop, EVRUN_ONCE);
}

static void test_servers_csv(void)
{
	char out[256], err[256];

	ok(resolve_servers_csv("127.0.0.1:5353", out, sizeof(out), err, sizeof(err)) == 0 &&
		   strcmp(out, "127.0.0.1:5353") == 0,
	   "servers: v4 with port (%s)", out);
	ok(resolve_servers_csv("10.0.0.1, [::1]:53 ::2", out, sizeof(out), err, sizeof(err)) == 0 &&
		   strcmp(out, "10.0.0.1:53,[::1]:53,[::2]:53") == 0,
	   "servers: port 53 by default, brackets for v6, commas or spaces (%s)", out);
	ok(resolve_servers_csv("dns.example:53", out, sizeof(out), err, sizeof(err)) == -EINVAL &&
		   strstr(err, "'dns.example:53'") && strstr(err, "127.0.0.1:5353"),
	   "servers: a name is refused, naming it and showing the form (%s)", err);
	ok(resolve_servers_csv("127.0.0.1:0", out, sizeof(out), err, sizeof(err)) == -EINVAL,
	   "servers: port 0 is refused");
	ok(resolve_servers_csv("127.0.0.1:70000", out, sizeof(out), err, sizeof(err)) == -EINVAL,
	   "servers: port 70000 is refused");
	ok(resolve_servers_csv("[::1", out, sizeof(out), err, sizeof(err)) == -EINVAL,
	   "servers: an unclosed bracket is refused");
	ok(resolve_servers_csv("[127.0.0.1]:53", out, sizeof(out), err, sizeof(err)) == -EINVAL,
	   "servers: IPv4 in brackets is refused");
	ok(resolve_servers_csv(" , ", out, sizeof(out), err, sizeof(err)) == -EINVAL &&
		   strstr(err, "no server"),
	   "servers: an empty list is refused");
}

static void test_literals(void)
{
	struct sockaddr_storage a;
	char buf[64];

	ok(resolve_literal("127.0.0.2", 7000, &a) == 1 && a.ss_family == AF_INET,
	   "literal: IPv4");
	resolve_fmt_addr(&a, buf, sizeof(buf));
	ok(strcmp(buf, "127.0.0.2:7000") == 0, "literal: formatted with its port (%s)", buf);
	ok(resolve_literal("2001:2::5", 53, &a) == 1 && a.ss_family == AF_INET6, "literal: IPv6");
	resolve_fmt_addr(&a, buf, sizeof(buf));
	ok(strcmp(buf, "[2001:2::5]:53") == 0, "literal: IPv6 formatted in brackets (%s)", buf);
	ok(resolve_literal("farm.test", 53, &a) == 0, "a name is not a literal");
	ok(resolve_literal("127.1", 53, &a) == 0, "inet_aton's shorthand is a name, not a literal");
}

static void test_lookups(void)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct resolve_config cfg = {0};
	struct resolver *r = NULL;
	struct mock m = {0};
	char servers[64], err[256];
	struct got g;

	m.fd = udp_socket(&m.port);
	ok(m.fd >= 0, "mock DNS server on 127.0.0.1:%u", m.port);
	ev_io_init(&m.io, mock_cb, m.fd, EV_READ);
	ev_io_start(loop, &m.io);
	snprintf(servers, sizeof(servers), "127.0.0.1:%u", m.port);
	cfg.servers = servers;
	cfg.timeout_ns = 500000000;
	cfg.tries = 2;
	ok(resolve_new(loop, &cfg, &r, err, sizeof(err)) == 0, "resolver on the mock server");
	ok(strcmp(resolve_describe(r), servers) == 0, "describes itself by its server (%s)",
	   resolve_describe(r));

	memset(&g, 0, sizeof(g));
	resolve_lookup(r, "a.test", 7000, RESOLVE_ANY, got_cb, &g);
	run_until_done(loop, r);
	ok(g.calls == 1 && g.status == RESOLVE_OK && g.n == 3, "any: A and AAAA, all kept (%zu)", g.n);
	ok(strcmp(g.addrs[0], "127.0.0.8:7000") == 0 && strcmp(g.addrs[1], "127.0.0.9:7000") == 0 &&
		   strcmp(g.addrs[2], "[::9]:7000") == 0,
	   "sorted IPv4 first, each with the port (%s %s %s)", g.addrs[0], g.addrs[1], g.addrs[2]);
	is_int(g.ttl, 3, "the TTL is the smallest of the answers");

	memset(&g, 0, sizeof(g));
	resolve_lookup(r, "a.test", 53, RESOLVE_IPV4, got_cb, &g);
	run_until_done(loop, r);
	ok(g.status == RESOLVE_OK && g.n == 2, "ipv4: the two A records");

	memset(&g, 0, sizeof(g));
	resolve_lookup(r, "a.test", 53, RESOLVE_IPV6, got_cb, &g);
	run_until_done(loop, r);
	ok(g.status == RESOLVE_OK && g.n == 1 && strcmp(g.addrs[0], "[::9]:53") == 0,
	   "ipv6: the AAAA record");

	memset(&g, 0, sizeof(g));
	resolve_lookup(r, "v4.test", 53, RESOLVE_IPV6, got_cb, &g);
	run_until_done(loop, r);
	ok(g.status == RESOLVE_NODATA && g.n == 0, "ipv6 on an A-only name: NODATA (%s)",
	   resolve_status_str(g.status));

	memset(&g, 0, sizeof(g));
	resolve_lookup(r, "nx.test", 53, RESOLVE_ANY, got_cb, &g);
	run_until_done(loop, r);
	ok(g.status == RESOLVE_NXDOMAIN && strstr(resolve_status_str(g.status), "NXDOMAIN"),
	   "an unknown name: NXDOMAIN");

	memset(&g, 0, sizeof(g));
	int before = m.queries;
	ok(resolve_lookup(r, "::1", 53, RESOLVE_ANY, got_cb, &g) == 0 && g.calls == 1,
	   "a literal answers before resolve_lookup returns");
	ok(g.status == RESOLVE_OK && g.n == 1 && g.ttl == RESOLVE_TTL_NEVER && m.queries == before,
	   "a literal: one address, never expires, no query sent");
	memset(&g, 0, sizeof(g));
	resolve_lookup(r, "127.0.0.1", 53, RESOLVE_IPV6, got_cb, &g);
	ok(g.status == RESOLVE_NODATA, "an IPv4 literal with family ipv6 is refused");

	/* Two lookups in flight at once on one resolver. */
	struct got g1 = {0}, g2 = {0};
	resolve_lookup(r, "a.test", 1, RESOLVE_IPV4, got_cb, &g1);
	resolve_lookup(r, "nx.test", 1, RESOLVE_IPV4, got_cb, &g2);
	is_int(resolve_pending(r), 2, "two lookups pending");
	run_until_done(loop, r);
	ok(g1.status == RESOLVE_OK && g2.status == RESOLVE_NXDOMAIN, "both answered, each its own");

	/* Freeing with a lookup pending cancels it: the callback still runs once. */
	memset(&g, 0, sizeof(g));
	ev_io_stop(loop, &m.io); /* the server goes quiet */
	resolve_lookup(r, "a.test", 1, RESOLVE_ANY, got_cb, &g);
	resolve_free(r);
	ok(g.calls == 1 && g.status == RESOLVE_CANCELLED, "resolve_free cancels what is pending");

	/* A server that never answers: timeout, through the loop's timer. */
	cfg.timeout_ns = 100000000;
	cfg.tries = 1;
	ok(resolve_new(loop, &cfg, &r, err, sizeof(err)) == 0, "resolver on a silent server");
	memset(&g, 0, sizeof(g));
	resolve_lookup(r, "a.test", 1, RESOLVE_ANY, got_cb, &g);
	run_until_done(loop, r);
	ok(g.calls == 1 && g.status == RESOLVE_TIMEOUT, "a silent server: timeout (%s)", g.detail);
	resolve_free(r);
	close(m.fd);

	/* Nobody on the port: the ICMP error makes it a server failure. */
	uint16_t dead;
	int fd = udp_socket(&dead);
	close(fd);
	snprintf(servers, sizeof(servers), "127.0.0.1:%u", dead);
	cfg.timeout_ns = 200000000;
	ok(resolve_new(loop, &cfg, &r, err, sizeof(err)) == 0, "resolver on a closed port");
	memset(&g, 0, sizeof(g));
	resolve_lookup(r, "a.test", 1, RESOLVE_ANY, got_cb, &g);
	run_until_done(loop, r);
	ok(g.status == RESOLVE_SERVFAIL || g.status == RESOLVE_TIMEOUT,
	   "a closed port: server failure or timeout (%s)", resolve_status_str(g.status));
	resolve_free(r);

	cfg.servers = (char *)"ns.example";
	r = NULL;
	ok(resolve_new(loop, &cfg, &r, err, sizeof(err)) == -EINVAL && !r && strstr(err, "ns.example"),
	   "resolve_new refuses a server that is not an address (%s)", err);
	resolve_free(NULL);
	ev_loop_destroy(loop);
}

/* ---- the destination table ---- */

static struct sockaddr_storage v4(const char *a, uint16_t port)
{
	struct sockaddr_storage s;
	resolve_literal(a, port, &s);
	return s;
}

static void test_dest_table(void)
{
	struct dest_table t, w;
	struct sockaddr_storage set1[] = {v4("127.0.0.2", 80), v4("127.0.0.3", 80), v4("::2", 80)};
	uint32_t add, rm;

	dest_table_init(&t);
	ok(dest_table_pick(&t, 1, 0) == DEST_NONE, "an empty table has nothing to pick");
	ok(dest_table_update(&t, 0, set1, 3, &add, &rm) == 0 && add == 3 && rm == 0 && t.nact == 3,
	   "update: three new active addresses");
	ok(strcmp(t.d[2].label, "[::2]:80") == 0, "entries carry their label (%s)", t.d[2].label);

	struct sockaddr_storage set2[] = {v4("127.0.0.3", 80), v4("::2", 80), v4("127.0.0.4", 80)};
	ok(dest_table_update(&t, 0, set2, 3, &add, &rm) == 0 && add == 1 && rm == 1,
	   "update: one joins, one leaves (+%u -%u)", add, rm);
	ok(t.n == 4 && !t.d[0].active && t.d[3].active && t.nact == 3,
	   "the leaver stays at its index, draining; the newcomer is appended");
	ok(dest_table_update(&t, 0, set1, 3, &add, &rm) == 0 && add == 1 && rm == 1 && t.n == 4 &&
		   t.d[0].active && !t.d[3].active,
	   "an address that returns is active again at its old index");

	struct sockaddr_storage other[] = {v4("127.0.0.2", 81)};
	ok(dest_table_update(&t, 1, other, 1, &add, &rm) == 0 && add == 1 && rm == 0 && t.nact == 4,
	   "another target's addresses are its own");

	/* Round-robin over workers: 2 workers x 4 picks cover 4 addresses twice. */
	int hits[8] = {0};
	struct dest_table w0 = t, w1 = t; /* shallow copies: only picks change */
	w0.picks = w1.picks = 0;
	for (int i = 0; i < 4; i++) {
		hits[dest_table_pick(&w0, 2, 0)]++;
		hits[dest_table_pick(&w1, 2, 1)]++;
	}
	ok(hits[0] == 2 && hits[1] == 2 && hits[2] == 2 && hits[4] == 2 && hits[3] == 0,
	   "2 workers x 4 picks: every active address twice, the draining one never");

	/* Wire form: a worker's copy follows the coordinator's table. */
	uint8_t *buf;
	size_t len;
	dest_table_init(&w);
	ok(dest_table_update(&w, 0, set1, 2, NULL, NULL) == 0, "a worker's older, shorter copy");
	ok(dest_table_encode(&t, &buf, &len) == 0, "encode");
	ok(dest_table_decode(&w, buf, len) == 0 && w.n == t.n && w.nact == t.nact,
	   "decode extends the worker's copy (%u entries, %u active)", w.n, w.nact);
	bool same = true;
	for (uint32_t i = 0; i < t.n; i++)
		same = same && w.d[i].active == t.d[i].active && strcmp(w.d[i].label, t.d[i].label) == 0;
	ok(same, "every entry agrees: address, label, active");
	ok(dest_table_decode(&w, buf, len - 1) == -EINVAL, "decode refuses a truncated table");
	buf[4 + 5] = 9;
	ok(dest_table_decode(&w, buf, len) == -EINVAL, "decode refuses an unknown family");
	free(buf);

	struct dest_table x;
	struct sockaddr_storage swapped[] = {v4("127.0.0.3", 80), v4("127.0.0.2", 80)};
	dest_table_init(&x);
	dest_table_update(&x, 0, swapped, 2, NULL, NULL);
	dest_table_encode(&x, &buf, &len);
	uint32_t before = w.n;
	ok(dest_table_decode(&w, buf, len) == -EINVAL && w.n == before,
	   "decode refuses a table that would renumber entries, and changes nothing");
	free(buf);
	dest_table_free(&x);

	/* Owed picks go first, and only to active entries. */
	ok(dest_table_owe(&t, 3) == 0 && dest_table_owe(&t, 1) == 0, "owe two picks");
	ok(dest_table_pick(&t, 1, 0) == 1, "the last promise is served first");
	ok(dest_table_pick(&t, 1, 0) != 3, "a promise to a draining entry is skipped");

	struct stats s;
	stats_init(&s);
	ok(dest_table_register_stats(&t, &s) == 0 && t.d[0].id_conns >= 0, "per-destination stats");
	dest_record_open(&t, 0, &s);
	dest_record_latency(&t, 0, &s, 1500);
	dest_record_failed(&t, 2, &s);
	dest_record_open(&t, DEST_NONE, &s); /* out of range: ignored */
	is_int(stats_counter_by_name(&s, "dest:127.0.0.2:80:conns"), 1, "dest:<label>:conns");
	is_int(stats_counter_by_name(&s, "dest:[::2]:80:failed"), 1, "dest:<label>:failed");
	const struct hist *h = stats_hist_by_name(&s, "dest:127.0.0.2:80:latency");
	ok(h && hist_total(h) == 1, "dest:<label>:latency");
	stats_free(&s);

	struct options o = {0};
	ok(dest_table_to_options(&t, &o) == 0 && o.ndests == t.n &&
		   strcmp(o.dests[2].label, t.d[2].label) == 0,
	   "the table copied into options for the header");
	dest_table_free(&w);
	ok(dest_table_from_options(&w, &o) == 0 && w.n == t.n && w.nact == t.n,
	   "a worker starts from options with every entry active");
	bool same_targets = w.n == t.n;
	for (uint32_t i = 0; same_targets && i < t.n; i++)
		same_targets = w.d[i].target == t.d[i].target;
	ok(same_targets && t.d[t.n - 1].target != 0,
	   "each entry keeps its target (a connection's request is its target's)");
	dest_table_free(&w);
	free(o.dests);
	dest_table_free(&t);
	dest_table_free(&t);
	ok(t.d == NULL, "dest_table_free twice is harmless");
}

static void test_period(void)
{
	struct resolve_config c = {0};

	is_int(refresh_period_ns(&c, 30), 30000000000ll, "period: the TTL");
	is_int(refresh_period_ns(&c, 0), REFRESH_MIN_NS, "period: TTL 0 is clamped to 1 s");
	c.every_ns = 250000000;
	is_int(refresh_period_ns(&c, 30), 250000000, "period: resolve_every wins over the TTL");
}

/* The mock in a child process, for code that runs its own loop. */
static pid_t mock_child(uint16_t *port)
{
	struct mock m = {0};

	m.fd = udp_socket(&m.port);
	if (m.fd < 0)
		return -1;
	*port = m.port;
	pid_t pid = fork();
	if (pid != 0) {
		close(m.fd);
		return pid;
	}
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	ev_io_init(&m.io, mock_cb, m.fd, EV_READ);
	ev_io_start(loop, &m.io);
	ev_run(loop, 0);
	_exit(0);
}

static void test_first_resolution(void)
{
	struct target_spec tg[2] = {{(char *)"a.test", 7000, false}, {(char *)"127.0.0.5", 7001, false}};
	struct options o = {0};
	struct refresh *rf = NULL;
	char err[512], servers[64];
	uint16_t port = 0;
	pid_t pid = mock_child(&port);

	ok(pid > 0, "mock DNS server in a child process");
	snprintf(servers, sizeof(servers), "127.0.0.1:%u", port);
	o.targets = tg;
	o.ntargets = 2;
	o.resolver.servers = servers;
	o.resolver.family = RESOLVE_IPV4;
	ok(refresh_resolve(&o, &rf, err, sizeof(err)) == 0 && rf, "a name and a literal resolve");
	ok(o.ndests == 3 && strcmp(o.dests[0].label, "127.0.0.8:7000") == 0 &&
		   strcmp(o.dests[1].label, "127.0.0.9:7000") == 0 &&
		   strcmp(o.dests[2].label, "127.0.0.5:7001") == 0,
	   "options hold every address of every target, in order (%zu)", o.ndests);
	refresh_free(rf);
	free(o.dests);
	o.dests = NULL;

	tg[0].host = (char *)"nx.test";
	rf = NULL;
	ok(refresh_resolve(&o, &rf, err, sizeof(err)) == -ENOENT && !rf,
	   "NXDOMAIN stops the run: -ENOENT");
	ok(strstr(err, "'nx.test'") && strstr(err, servers) && strstr(err, "NXDOMAIN") &&
		   strstr(err, "(IPv4)"),
	   "the message names the name, the family, the resolver and why: %s", err);

	tg[0].host = (char *)"v4.test";
	o.resolver.family = RESOLVE_IPV6;
	ok(refresh_resolve(&o, &rf, err, sizeof(err)) == -ENOENT && strstr(err, "family"),
	   "no address of the wanted family: -ENOENT (%s)", err);

	o.resolver.servers = (char *)"ns.example:53";
	ok(refresh_resolve(&o, &rf, err, sizeof(err)) == -EINVAL && strstr(err, "ns.example"),
	   "a bad resolver setting: -EINVAL (%s)", err);

	/* Literals alone need no resolver at all, even a broken one. */
	struct target_spec lit[1] = {{(char *)"::1", 53, false}};
	o.targets = lit;
	o.ntargets = 1;
	o.resolver.family = RESOLVE_ANY;
	ok(refresh_resolve(&o, &rf, err, sizeof(err)) == 0 && o.ndests == 1 &&
		   strcmp(o.dests[0].label, "[::1]:53") == 0,
	   "a literal skips resolution");
	refresh_free(rf);
	o.resolver.family = RESOLVE_IPV4;
	rf = NULL;
	ok(refresh_resolve(&o, &rf, err, sizeof(err)) == -ENOENT && strstr(err, "'::1' is an IPv6 address"),
	   "an IPv6 literal with family ipv4 is refused (%s)", err);
	free(o.dests);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

int main(void)
{
	test_servers_csv();
	test_literals();
	test_lookups();
	test_dest_table();
	test_period();
	test_first_resolution();
	return tap_done();
}
