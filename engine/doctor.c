/*
 * doctor: one line per fact about this machine that limits how many
 * connections a run can hold, each with the command that lifts it; then, for
 * a scenario, the plan's arithmetic and its verdict. Reads /proc and asks
 * the kernel; changes nothing.
 */
#include "doctor.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "churn.h"
#include "cli.h"
#include "lua_engine.h"
#include "plan.h"
#include "shard.h"
#include "refresh.h"
#include "run.h"
#include "tls.h"
#include "units.h"

#define WIDE_PORTS (65535 - 1024 + 1)

enum level { OK, WARN, FAIL, INFO };

struct doctor {
	int fails, warns;
};

static const char doctor_usage[] =
	"usage: surge doctor [SCENARIO.lua | URL] [options]\n"
	"\n"
	"Checks whether this machine can hold many connections, and says how to fix\n"
	"what stands in the way. With a scenario, also plans its run (workers, ports\n"
	"per source and destination, bind addresses present, TLS memory); a URL (or\n"
	"--target alone) plans what surge run URL would run.\n"
	"\n"
	"  -c, --connections N     connections to plan for (e.g. 100k); with a scenario,\n"
	"                          overrides it\n"
	"      --bind ADDRS        source addresses to check (as surge run --bind)\n"
	"      --ports LO-HI       local port range (as surge run --ports)\n"
	"      --pick MODE         round-robin, random or permutation\n"
	"  -w, --workers N         worker processes\n"
	"      --target URL        destination (with a scenario: overrides it; alone:\n"
	"                          plans surge run URL)\n"
	"      --resolver ADDR     DNS server for target names (as surge run --resolver)\n"
	"  -o, --option KEY=VALUE  set any scenario option\n"
	"      --shard K/N|auto    with a scenario: plan this machine's share of a sharded\n"
	"                          run (as surge run --shard): its connections, rate,\n"
	"                          source addresses and ports\n"
	"  -h, --help              this help\n"
	"\n"
	"Exit status: 0 the scenario can run (without one: nothing blocks), 4 it\n"
	"cannot (the plan does not fit this machine), 2 bad command line or scenario.\n";

static void say(struct doctor *d, enum level l, const char *fix, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void say(struct doctor *d, enum level l, const char *fix, const char *fmt, ...)
{
	static const char *const tag[] = {"ok", "warn", "FAIL", "info"};
	va_list ap;

	d->fails += l == FAIL;
	d->warns += l == WARN;
	printf("  %-5s ", tag[l]);
	char msg[4096];
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Messages from the plan carry their own "fix:" lines: indent them too. */
	for (const char *p = msg; *p; p++) {
		putchar(*p);
		if (*p == '\n')
			fputs("      ", stdout);
	}
	putchar('\n');
	if (fix && *fix)
		printf("        fix: %s\n", fix);
}

static int read_long(const char *path, long *out)
{
	FILE *f = fopen(path, "r");
	int rc = -ENOENT;

	if (!f)
		return -errno;
	if (fscanf(f, "%ld", out) == 1)
		rc = 0;
	fclose(f);
	return rc;
}

static void check_fds(struct doctor *d, const struct plan_system *sys)
{
	struct rlimit rl = {0, 0};
	long nr_open = 0, file_max = 0;
	char fix[256];

	getrlimit(RLIMIT_NOFILE, &rl);
	read_long("/proc/sys/fs/nr_open", &nr_open);
	read_long("/proc/sys/fs/file-max", &file_max);
	uint64_t per = sys->fd_limit > sys->fd_reserve ? sys->fd_limit - sys->fd_reserve : 0;
	snprintf(fix, sizeof(fix), "ulimit -Hn %ld (as root, or LimitNOFILE=%ld in a systemd "
		 "unit, nofile in /etc/security/limits.conf)", nr_open > 0 ? nr_open : 1048576L,
		 nr_open > 0 ? nr_open : 1048576L);
	say(d, sys->fd_limit >= 65536 ? OK : INFO, sys->fd_limit >= 65536 ? NULL : fix,
	    "open files: %llu per process (soft %llu; surge raises it to the hard limit and "
	    "holds %llu itself): %llu connections per worker, more workers are added as needed",
	    (unsigned long long)sys->fd_limit, (unsigned long long)rl.rlim_cur,
	    (unsigned long long)sys->fd_reserve, (unsigned long long)per);
	if (file_max > 0 && file_max < 1000000)
		say(d, WARN, "sysctl -w fs.file-max=2097152",
		    "fs.file-max is %ld: the whole machine's open files", file_max);
}

static void check_sysctls(struct doctor *d, const struct plan_system *sys)
{
	long v;
	uint32_t ports = addrset_ports_count(&sys->sys_ports);

	say(d, ports >= WIDE_PORTS ? OK : INFO,
	    ports >= WIDE_PORTS ? NULL : "sysctl -w net.ipv4.ip_local_port_range=\"1024 65535\"",
	    "net.ipv4.ip_local_port_range %u-%u: %u ports per (source address, destination)",
	    sys->sys_ports.lo, sys->sys_ports.hi, ports);
	if (read_long("/proc/sys/net/ipv4/tcp_tw_reuse", &v) == 0)
		say(d, v == 1 ? OK : WARN, v == 1 ? NULL : "sysctl -w net.ipv4.tcp_tw_reuse=1",
		    "net.ipv4.tcp_tw_reuse = %ld: %s", v,
		    v == 1   ? "reconnects may reuse ports in TIME_WAIT"
		    : v == 2 ? "TIME_WAIT ports are reused on loopback only; reconnect-heavy runs to "
			       "other hosts can run out of ports"
			     : "ports in TIME_WAIT (60 s) are not reused: reconnect-heavy runs run "
			       "out of ports");
	if (read_long("/proc/sys/net/core/somaxconn", &v) == 0)
		say(d, v >= 4096 ? OK : WARN, v >= 4096 ? NULL : "sysctl -w net.core.somaxconn=65535",
		    "net.core.somaxconn = %ld: %s", v,
		    v >= 4096 ? "room in a server's accept queue (surge serve, or a target here)"
			      : "a server's accept queue here drops SYNs under a connect burst");
	say(d, sys->port_range_option ? OK : WARN, NULL,
	    "per-socket port ranges (IP_LOCAL_PORT_RANGE, Linux >= 6.3): %s",
	    sys->port_range_option ? "available"
				   : "missing; --ports is applied by naming each port at bind()");
}

/* TCP sockets on this machine, TIME_WAIT included (/proc/net/sockstat), or -1. */
static long tcp_sockets_in_use(void)
{
	FILE *f = fopen("/proc/net/sockstat", "r");
	char line[256];
	long n = -1, orphan, tw;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "TCP: inuse %ld orphan %ld tw %ld", &n, &orphan, &tw) == 3) {
			n += tw;
			break;
		}
	if (f)
		fclose(f);
	return n;
}

static void check_conntrack(struct doctor *d, uint64_t conns)
{
	long max, count = 0;
	char fix[128];

	if (read_long("/proc/sys/net/netfilter/nf_conntrack_max", &max) < 0) {
		say(d, OK, NULL, "conntrack: not loaded (no connection-table limit)");
		return;
	}
	read_long("/proc/sys/net/netfilter/nf_conntrack_count", &count);
	/* Loaded, but no rule asks for tracking: the table stays empty and
	 * limits nothing (TCP sockets exist, entries do not). */
	long tcp = tcp_sockets_in_use();
	if (count == 0 && tcp > 100) {
		say(d, OK, NULL, "conntrack: loaded but tracking nothing (0 entries for %ld TCP "
		    "sockets): nf_conntrack_max = %ld does not apply", tcp, max);
		return;
	}
	uint64_t want = conns ? conns * 2 : 0; /* room for TIME_WAIT entries and the rest */
	snprintf(fix, sizeof(fix), "sysctl -w net.netfilter.nf_conntrack_max=%llu",
		 (unsigned long long)(want > 262144 ? want : 262144));
	if (conns && (uint64_t)max < conns)
		say(d, FAIL, fix, "nf_conntrack_max = %ld (%ld in use) < %llu connections: new "
		    "connections are dropped when the table is full", max, count,
		    (unsigned long long)conns);
	else
		say(d, conns && (uint64_t)max < want ? WARN : OK,
		    conns && (uint64_t)max < want ? fix : NULL,
		    "nf_conntrack_max = %ld (%ld in use)", max, count);
}

/* MemAvailable in KiB, or -1. */
static long mem_available_kib(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	long kib = -1;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %ld kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

/* TLS state is most of an idle TLS connection's memory (README "TLS"). */
static void check_tls_memory(struct doctor *d, const struct options *o)
{
	size_t per = tls_conn_bytes(o);
	double need = (double)o->max_connections * (double)per / 1048576.0;
	long avail = mem_available_kib();
	enum level l = avail < 0 ? INFO : need > avail / 1024.0 ? FAIL : need > avail / 2048.0 ? WARN : OK;

	say(d, l,
	    l == OK || l == INFO ? NULL
		: "fewer connections, more memory, or tls = { max_version = \"1.2\" } (~14 KiB "
		  "a connection instead of ~22 KiB)",
	    "TLS memory: %u connections x ~%zu KiB (%s, OpenSSL) = %.0f MiB; %ld MiB available",
	    o->max_connections, per / 1024, o->tls.max_version == 0x0303 ? "TLS 1.2" : "TLS 1.3",
	    need, avail < 0 ? 0 : avail / 1024);
}

/* Kernel memory of one idle TCP socket (socket, inode, dentry, file, epoll
 * item, hash entries), measured by tests/bench/bench_scale.py --million:
 * ~10 KiB of slab per loopback connection, both ends. */
#define KERNEL_BYTES_PER_SOCKET 5120

static void read_longs(const char *path, long *v, int n)
{
	FILE *f = fopen(path, "r");

	for (int i = 0; i < n; i++)
		v[i] = -1;
	for (int i = 0; f && i < n && fscanf(f, "%ld", &v[i]) == 1; i++)
		;
	if (f)
		fclose(f);
}

/* What N connections held at once ask of this machine beyond ports: fds
 * and processes on both sides, the kernel's memory, its TCP buffer pool
 * and the orphans of the stop. ends: sockets per connection on this
 * machine (2 when the server runs here too, as surge serve does). */
static void check_scale(struct doctor *d, const struct plan_system *sys, uint64_t conns,
			unsigned ends, uint32_t workers)
{
	uint64_t per = sys->fd_limit > sys->fd_reserve ? sys->fd_limit - sys->fd_reserve : 1;
	uint64_t serve = (conns + sys->fd_limit - 65) / (sys->fd_limit > 64 ? sys->fd_limit - 64 : 1);
	uint64_t sockets = conns * ends;
	long file_max = -1, orphans = -1, mem[3];
	char fix[256];

	if (!conns)
		return;
	if (!workers)
		workers = (uint32_t)((conns + per - 1) / per);
	say(d, INFO, NULL, "%llu connections: surge runs %u workers (%llu fds each)",
	    (unsigned long long)conns, workers, (unsigned long long)per);
	if (ends == 2)
		say(d, INFO, NULL, "a server on this machine holds the other ends: >= %llu processes "
		    "at %llu fds each (e.g. surge serve echo -w %llu); both sides share %u CPUs",
		    (unsigned long long)serve, (unsigned long long)sys->fd_limit,
		    (unsigned long long)serve, sys->cpus);
	read_long("/proc/sys/fs/file-max", &file_max);
	snprintf(fix, sizeof(fix), "sysctl -w fs.file-max=%llu",
		 (unsigned long long)(sockets + sockets / 4 + 65536));
	if (file_max >= 0)
		say(d, (uint64_t)file_max < sockets ? FAIL : (uint64_t)file_max < sockets + 65536 ? WARN : OK,
		    (uint64_t)file_max < sockets + 65536 ? fix : NULL,
		    "fs.file-max = %ld: %llu sockets on this machine (%u per connection)%s", file_max,
		    (unsigned long long)sockets, ends, ends == 2 ? ", both ends" : "");

	double need = (double)sockets * KERNEL_BYTES_PER_SOCKET / 1048576.0;
	long avail = mem_available_kib();
	enum level l = avail < 0 ? INFO : need > avail / 1024.0 ? FAIL : need > avail / 2048.0 ? WARN : OK;
	say(d, l, l == FAIL || l == WARN ? "fewer connections per machine (--shard), or more memory" : NULL,
	    "kernel memory: %llu sockets x ~%d KiB (an idle TCP socket's slab) = %.0f MiB; %ld MiB "
	    "available", (unsigned long long)sockets, KERNEL_BYTES_PER_SOCKET / 1024, need,
	    avail < 0 ? 0 : avail / 1024);

	read_longs("/proc/sys/net/ipv4/tcp_mem", mem, 3);
	if (mem[2] > 0) {
		long page = 4096;
		snprintf(fix, sizeof(fix), "sysctl -w net.ipv4.tcp_mem=\"%llu %llu %llu\"",
			 (unsigned long long)sockets / 2, (unsigned long long)sockets,
			 (unsigned long long)sockets * 2);
		say(d, (uint64_t)mem[2] < sockets ? WARN : OK, (uint64_t)mem[2] < sockets ? fix : NULL,
		    "net.ipv4.tcp_mem = %ld %ld %ld pages (pressure at %ld MiB, limit %ld MiB): idle "
		    "connections charge nothing; each with data queued charges a page or more, so "
		    "past %ld such sockets the kernel trims buffers, and past %ld it drops data",
		    mem[0], mem[1], mem[2], mem[1] * page / 1048576, mem[2] * page / 1048576, mem[1],
		    mem[2]);
	}
	read_long("/proc/sys/net/ipv4/tcp_max_orphans", &orphans);
	if (orphans >= 0) {
		snprintf(fix, sizeof(fix), "sysctl -w net.ipv4.tcp_max_orphans=%llu",
			 (unsigned long long)conns + 65536);
		say(d, (uint64_t)orphans < conns ? WARN : OK, (uint64_t)orphans < conns ? fix : NULL,
		    "net.ipv4.tcp_max_orphans = %ld: at the end every connection surge closes is an "
		    "orphan until its peer's FIN; past this the kernel resets them instead", orphans);
	}
}

static void sources_table(const struct plan_system *sys)
{
	static const uint64_t counts[] = {50000, 100000, 500000, 1000000};
	uint32_t ports = addrset_ports_count(&sys->sys_ports);

	printf("  info  source addresses needed for N connections to one destination:\n");
	printf("        %-12s %22s %22s\n", "connections", "ports 1024-65535", "this machine's range");
	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
		printf("        %-12llu %22llu %22llu\n", (unsigned long long)counts[i],
		       (unsigned long long)plan_sources_needed(counts[i], 1, WIDE_PORTS),
		       (unsigned long long)plan_sources_needed(counts[i], 1, ports));
}

static const struct option doctor_longopts[] = {
	{"connections", required_argument, 0, 'c'}, {"workers", required_argument, 0, 'w'},
	{"target", required_argument, 0, 'T'},	     {"bind", required_argument, 0, 'B'},
	{"ports", required_argument, 0, 'O'},	     {"pick", required_argument, 0, 'K'},
	{"resolver", required_argument, 0, 'R'},     {"option", required_argument, 0, 'o'},
	{"help", no_argument, 0, 'h'},		     {"shard", required_argument, 0, 0x100},
	{0, 0, 0, 0},
};

static const struct cli_key doctor_keys[] = {
	{'c', "connections", NULL}, {'w', "workers", NULL}, {'T', "target", NULL},
	{'B', "bind", NULL},	    {'O', "ports", NULL},   {'K', "pick", NULL},
	{'R', "resolver", NULL},    {0x100, "shard", NULL},
};

static const char *override(const char **ov, size_t nov, const char *key)
{
	const char *v = NULL;
	for (size_t i = 0; i < nov; i++)
		if (strcmp(ov[2 * i], key) == 0)
			v = ov[2 * i + 1];
	return v;
}

/* Without a scenario the flags are checked as a run checks them, by the same
 * loader over a stand-in URL (nothing is resolved or opened): -w 0, --pick x
 * or -o foo=1 are exit 2 here as they are with a scenario. */
static int check_flags(const char **ov, size_t nov)
{
	struct options opt = {0};
	struct lua_engine *le = NULL;
	char err[2048];
	int rc = lua_engine_load("tcp://127.0.0.1:7000", ov, nov, &opt, err, sizeof(err), &le);

	if (rc < 0)
		fprintf(stderr, "surge doctor: %s\n", err);
	lua_engine_free(le);
	options_free(&opt);
	return rc < 0 ? EXIT_USAGE : EXIT_OK;
}

/* Without a scenario: --bind is checked and -c gets its source count. */
static int no_scenario(struct doctor *d, const struct plan_system *sys, const char **ov,
		       size_t nov)
{
	const char *c = override(ov, nov, "connections"), *b = override(ov, nov, "bind");
	const char *p = override(ov, nov, "ports");
	struct addrset_ports ports = sys->sys_ports;
	char err[2048];
	uint64_t conns = 0;

	if (c && units_count(c, &conns) < 0) {
		fprintf(stderr, "surge doctor: -c expects a count like 100k, got '%s'\n", c);
		return EXIT_USAGE;
	}
	if (p && addrset_ports_parse(p, &ports, err, sizeof(err)) < 0) {
		fprintf(stderr, "surge doctor: --ports: %s\n", err);
		return EXIT_USAGE;
	}
	check_conntrack(d, conns);
	check_scale(d, sys, conns, 2, 0);
	sources_table(sys);
	if (conns) {
		uint64_t need = plan_sources_needed(conns, 1, addrset_ports_count(&ports));
		say(d, INFO, NULL, "%llu connections to one destination need ≥ %llu source address%s "
		    "with ports %u-%u", (unsigned long long)conns, (unsigned long long)need,
		    need == 1 ? "" : "es", ports.lo, ports.hi);
	}
	if (b) {
		struct addrset set = {0};
		if (addrset_parse(&set, b, err, sizeof(err)) < 0) {
			fprintf(stderr, "surge doctor: --bind: %s\n", err);
			return EXIT_USAGE;
		}
		long missing = plan_check_addresses(&set, err, sizeof(err));
		if (missing > 0)
			say(d, FAIL, NULL, "%s", err);
		else
			say(d, OK, NULL, "bind addresses: all %llu can be bound here",
			    (unsigned long long)addrset_total(&set));
		if (conns && (uint64_t)addrset_total(&set) <
				     plan_sources_needed(conns, 1, addrset_ports_count(&ports)))
			say(d, FAIL, NULL, "--bind gives %llu address%s: too few for %llu connections",
			    (unsigned long long)addrset_total(&set), addrset_total(&set) == 1 ? "" : "es",
			    (unsigned long long)conns);
		addrset_free(&set);
	}
	return d->fails ? EXIT_PLAN : EXIT_OK;
}

/* --shard: the share this machine takes, and its sources and ports. */
static void shard_share_facts(struct doctor *d, const struct options *o, const struct options *v)
{
	char err[512];

	say(d, INFO, NULL, "shard %u of %u: %u of the run's %u connections, 1 in %u requests "
	    "of its schedule", o->shard + 1, o->shards, v->max_connections, o->max_connections,
	    o->shards);
	if (o->bind) {
		struct addrset mine;
		struct sockaddr_storage a, b;
		socklen_t al, bl;
		char x[64] = "", y[64] = "";
		if (shard_sources(o, &mine) < 0)
			return;
		uint64_t n = addrset_total(&mine);
		if (n && addrset_at_global(&mine, 0, &a, &al) == 0 &&
		    addrset_at_global(&mine, n - 1, &b, &bl) == 0) {
			addrset_ntop(&a, x, sizeof(x));
			addrset_ntop(&b, y, sizeof(y));
		}
		say(d, INFO, NULL, "shard sources: %llu of the %llu bind addresses (%s%s%s)%s",
		    (unsigned long long)n, (unsigned long long)addrset_total(o->bind), x,
		    n > 1 ? " ... " : "", n > 1 ? y : "",
		    o->pick == ADDRSET_PERMUTATION
			    ? "; permutation binds every address in every shard (its walk is split "
			      "by position)"
		    : shard_shares_sources(o) ? "; a family with fewer addresses than shards is "
						"shared, and its ports sliced"
					      : "");
		long missing = plan_check_addresses(&mine, err, sizeof(err));
		if (missing > 0)
			say(d, FAIL, NULL, "%s", err);
		else if (missing == 0)
			say(d, OK, NULL, "this shard's bind addresses can be bound here");
		addrset_free(&mine);
	} else {
		say(d, INFO, NULL, "shard sources: this machine's own address (no bind); shards that "
		    "share one egress address need ports = LO-HI to get disjoint port slices");
	}
	if (o->ports.lo)
		say(d, INFO, NULL, "shard ports: %u-%u", o->ports.lo, o->ports.hi);
}

/* Every destination on this machine (loopback): both ends' sockets are here. */
static bool dests_local(const struct options *o)
{
	for (size_t i = 0; i < o->ndests; i++) {
		const struct sockaddr_storage *a = &o->dests[i].addr;
		bool lo = a->ss_family == AF_INET
				  ? (ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr) >> 24) == 127
				  : a->ss_family == AF_INET6 &&
					    IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)a)->sin6_addr);
		if (!lo)
			return false;
	}
	return o->ndests > 0;
}

static int with_scenario(struct doctor *d, const struct plan_system *sys, const char *scenario,
			 const char **ov, size_t nov)
{
	struct options opt = {0}, view = {0};
	struct shard_flags sf;
	struct lua_engine *le = NULL;
	struct refresh *rf = NULL;
	struct plan p;
	char err[2048], desc[1024];
	int rc = EXIT_USAGE;

	if (shard_take_flags(ov, &nov, &sf, err, sizeof(err)) < 0) {
		fflush(stdout);
		fprintf(stderr, "surge doctor: %s\n", err);
		goto out;
	}
	if (lua_engine_load(scenario, ov, nov, &opt, err, sizeof(err), &le) < 0) {
		fflush(stdout);
		fprintf(stderr, "surge: %s\n", err);
		goto out;
	}
	shard_flags_apply(&sf, &opt);
	if (shard_apply(&opt, err, sizeof(err)) < 0)
		say(d, FAIL, NULL, "%s", err);
	check_conntrack(d, shard_connections(&opt));
	sources_table(sys);
	/* scenario_path: a URL run's without its password (lua_engine.c). */
	printf("\n%s: %u connections to %zu target%s\n", opt.scenario_path, shard_connections(&opt),
	       opt.ntargets, opt.ntargets == 1 ? "" : "s");
	/* As surge run resolves: c-ares, the scenario's resolver and family. */
	int r = refresh_resolve(&opt, &rf, err, sizeof(err));
	if (r == -ENOENT) { /* a fact about the names, like the others here */
		say(d, FAIL, NULL, "%s", err);
		goto verdict;
	}
	if (r < 0) { /* the scenario's resolver settings, or no memory */
		fflush(stdout);
		fprintf(stderr, "surge: %s\n", r == -EINVAL ? err : strerror(-r));
		rc = r == -EINVAL ? EXIT_USAGE : EXIT_FAILED;
		goto out;
	}
	say(d, OK, NULL, "targets: %zu destination address%s (%s%s)", opt.ndests,
	    opt.ndests == 1 ? "" : "es", opt.ndests ? opt.dests[0].label : "",
	    opt.ndests > 1 ? ", ..." : "");
	if (tls_options_used(&opt))
		check_tls_memory(d, &opt);
	/* The shard's share, once the names are resolved (the plan counts
	 * destinations). */
	if (shard_view(&opt, &view) < 0) {
		rc = EXIT_FAILED;
		goto out;
	}
	if (opt.shards > 1) {
		shard_share_facts(d, &opt, &view);
	} else if (opt.bind) {
		long missing = plan_check_addresses(opt.bind, err, sizeof(err));
		if (missing > 0)
			say(d, FAIL, NULL, "%s", err);
		else if (missing == 0)
			say(d, OK, NULL, "bind addresses: all %llu can be bound here",
			    (unsigned long long)addrset_total(opt.bind));
	}
	if (plan_make(&view, sys, &p, err, sizeof(err)) < 0) {
		say(d, FAIL, NULL, "%s", err);
	} else {
		plan_describe(&view, sys, &p, desc, sizeof(desc));
		fputs(desc, stdout);
		if (p.notice[0])
			say(d, INFO, NULL, "%s", p.notice);
		char churn[1024];
		if (churn_plan_warning(&view, &p, churn_tw_reuse(), churn, sizeof(churn)))
			say(d, WARN, NULL, "%s", churn);
		say(d, OK, NULL, "the plan fits: %u workers", p.workers);
		check_scale(d, sys, view.max_connections, dests_local(&view) ? 2 : 1, p.workers);
	}
verdict:
	rc = d->fails ? EXIT_PLAN : EXIT_OK;
	printf("\nverdict: %s\n", rc == EXIT_OK ? "this scenario can run here"
						  : "this scenario cannot run here until the FAIL lines "
						    "are fixed");
out:
	refresh_free(rf);
	lua_engine_free(le);
	shard_view_free(&view);
	options_free(&opt);
	return rc;
}

int doctor_main(int argc, char **argv)
{
	struct doctor d = {0};
	struct plan_system sys;
	struct cli_args a;
	int rc;

	if (cli_parse(argc, argv, "surge doctor", ":c:w:o:h", doctor_longopts, doctor_keys,
		      sizeof(doctor_keys) / sizeof(doctor_keys[0]), &a) < 0)
		return EXIT_USAGE;
	if (a.help) {
		fputs(doctor_usage, stdout);
		free(a.ov);
		return EXIT_OK;
	}
	const char *scenario = a.scenario, **ov = a.ov;
	size_t nov = a.nov;
	/* --target alone plans what `surge run URL` would run (its TLS memory,
	 * its addresses), as `surge doctor URL` does. */
	if (!scenario)
		scenario = override(ov, nov, "target");
	if (!scenario && override(ov, nov, "shard")) {
		fprintf(stderr, "surge doctor: --shard plans a scenario's share: give the scenario, "
				"e.g. surge doctor scn.lua --shard 2/4\n");
		free(ov);
		return EXIT_USAGE;
	}
	if (!scenario && check_flags(ov, nov) != EXIT_OK) {
		free(ov);
		return EXIT_USAGE;
	}
	plan_system_probe(&sys);
	printf("surge doctor: this machine\n");
	check_fds(&d, &sys);
	check_sysctls(&d, &sys);
	rc = scenario ? with_scenario(&d, &sys, scenario, ov, nov) : no_scenario(&d, &sys, ov, nov);
	free(ov);
	return rc;
}
