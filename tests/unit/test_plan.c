/* plan: the arithmetic that decides whether a run fits (descriptors, ports
 * per (source, destination) pair, the kernel's port range, the permutation's
 * space) and the refusals a user reads: each must give the numbers and a fix. */
#include "tap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "churn.h"
#include "clock.h"
#include "plan.h"
#include "shard.h"

static char err[2048];

static struct plan_system machine(void)
{
	struct plan_system sys = {
		.fd_limit = 20000,
		.fd_reserve = 40,
		.sys_ports = {32768, 60999},
		.cpus = 2,
		.port_range_option = true,
	};
	return sys;
}

static struct destination dests[4];

static void set_dests(struct options *o, const char *const *addrs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		memset(&dests[i], 0, sizeof(dests[i]));
		if (strchr(addrs[i], ':')) {
			struct sockaddr_in6 *s = (struct sockaddr_in6 *)&dests[i].addr;
			s->sin6_family = AF_INET6;
			inet_pton(AF_INET6, addrs[i], &s->sin6_addr);
			s->sin6_port = htons(7000);
		} else {
			struct sockaddr_in *s = (struct sockaddr_in *)&dests[i].addr;
			s->sin_family = AF_INET;
			inet_pton(AF_INET, addrs[i], &s->sin_addr);
			s->sin_port = htons(7000);
		}
		snprintf(dests[i].label, sizeof(dests[i].label), "%s:7000", addrs[i]);
	}
	o->dests = dests;
	o->ndests = n;
}

static struct options base(uint32_t conns)
{
	static const char *const lo[] = {"127.0.0.1"};
	struct options o = {0};

	o.max_connections = conns;
	set_dests(&o, lo, 1);
	return o;
}

static int plan(const struct options *o, const struct plan_system *sys, struct plan *p)
{
	err[0] = '\0';
	return plan_make(o, sys, p, err, sizeof(err));
}

static void has(const char *needle, const char *name)
{
	if (!ok(strstr(err, needle) != NULL, "%s", name))
		diag("message: %s\n# missing: %s", err, needle);
}

static void test_table(void)
{
	/* The seeds' table: ports 1024-65535 (64512) per address, one destination. */
	is_int(plan_sources_needed(50000, 1, 64512), 1, "50k connections need 1 address");
	is_int(plan_sources_needed(100000, 1, 64512), 2, "100k need 2");
	is_int(plan_sources_needed(500000, 1, 64512), 8, "500k need 8");
	is_int(plan_sources_needed(1000000, 1, 64512), 16, "1M need 16");
	is_int(plan_sources_needed(150000, 1, 50000), 3, "150k with 50000 ports need 3");
	is_int(plan_sources_needed(150000, 3, 50000), 1, "150k to 3 destinations need 1");
	is_int(plan_sources_needed(0, 0, 0), 1, "degenerate input still says 1");
}

static void test_fds(void)
{
	struct plan_system sys = machine();
	struct plan p;
	struct options o = base(70000);

	is_int(plan(&o, &sys, &p), -E2BIG, "70000 connections from one source refused (ports)");
	/* Descriptors alone: give plenty of sources. */
	struct addrset set = {0};
	addrset_parse(&set, "127.0.0.1-127.0.0.8", err, sizeof(err));
	o.bind = &set;
	is_int(plan(&o, &sys, &p), 0, "70000 connections from 8 sources fit");
	is_int(p.workers, 4, "70000 / (20000 - 40) rounded up: 4 workers, more than 2 CPUs");
	is_int(p.conns_per_worker, 17500, "17500 connections per worker");

	o.workers = 3;
	o.workers_given = true;
	is_int(plan(&o, &sys, &p), -E2BIG, "-w 3 for 70000 connections refused");
	has("70000 connections need ≥ 4 workers", "fd refusal states the need");
	has("20000 files, 40 of them held by surge itself, so 19960 per worker", "and the arithmetic");
	has("use -w 4", "and the fix");
	o.workers = 5;
	is_int(plan(&o, &sys, &p), 0, "-w 5 accepted");
	is_int(p.workers, 5, "given workers kept");

	o = base(10);
	is_int(plan(&o, &sys, &p), 0, "10 connections");
	is_int(p.workers, 2, "default: one worker per CPU");
	o.max_connections = 1;
	plan(&o, &sys, &p);
	is_int(p.workers, 1, "no more workers than connections");

	/* Open model: workers follow the peak rate, so each batches its sends. */
	struct rate_segment segs[2] = {{0, NS_PER_SEC, 0, 100000}, {NS_PER_SEC, 2 * NS_PER_SEC, 100000, 0}};
	o = base(200);
	o.rate_segs = segs;
	o.nrate_segs = 2;
	is_int(plan(&o, &sys, &p), 0, "200 connections at up to 100k/s");
	is_int(p.workers, 1, "open model at 100k/s: one worker, not one per CPU");
	segs[0].r1 = segs[1].r0 = 400000;
	plan(&o, &sys, &p);
	is_int(p.workers, 2, "at 400k/s: ceil(400k / 150k) = 3, capped at the 2 CPUs");
	is_int(plan_open_workers(&o), 3, "the rate alone asks for 3");
	o.max_connections = 70000;
	o.bind = &set;
	segs[0].r1 = segs[1].r0 = 1000;
	plan(&o, &sys, &p);
	is_int(p.workers, 4, "a slow rate still gets the workers its connections need");
	o.bind = NULL;

	/* A schedule no worker can walk is refused, not left to hang it. */
	o = base(200);
	o.rate_segs = segs;
	o.nrate_segs = 2;
	segs[0].r1 = segs[1].r0 = 20e6;
	is_int(plan(&o, &sys, &p), 0, "20M/s over 2 workers: 10M/s each, at the limit");
	segs[0].r1 = segs[1].r0 = 1e9;
	is_int(plan(&o, &sys, &p), -EINVAL, "1G/s over 2 workers refused");
	has("rate 1000000000/s is 500000000/s for each of 2 workers", "with each worker's share");
	has("use -w 100 or more", "and the fix");
	o.workers = 100;
	o.workers_given = true;
	is_int(plan(&o, &sys, &p), 0, "1G/s over -w 100 accepted");
	o.workers = 2;
	segs[0].r1 = segs[1].r0 = 20e6;
	o.arrival = PACER_POISSON;
	is_int(plan(&o, &sys, &p), -EINVAL, "Poisson at 20M/s refused: each worker draws all of it");
	has("each worker draws the whole schedule", "saying why");
	o.rate_segs = NULL;
	is_int(plan_open_workers(&o), 0, "closed model: no rate-based default");
	o = base(1);

	sys.fd_limit = 30;
	is_int(plan(&o, &sys, &p), -E2BIG, "a limit below surge's own needs refused");
	has("raise the limit", "with the fix");

	/* Workers are capped: 2M connections at 1000 usable files each would
	 * fork 2000 processes. */
	o = base(2000000);
	sys.fd_limit = 1040;
	is_int(plan(&o, &sys, &p), -E2BIG, "2M connections at 1000 files a process: refused");
	has("would need 2000 workers", "the need");
	has("more than the 1024 surge runs", "the cap");
	has("raise the open-files limit (ulimit -Hn, LimitNOFILE=) to at least 1994", "the fix");
	sys.fd_limit = 20000;
	addrset_free(&set);
}

static void test_ports(void)
{
	struct plan_system sys = machine();
	struct plan p;
	struct options o = base(150000);
	struct addrset set = {0};

	/* The example: 50000 ports, one destination. */
	sys.sys_ports = (struct addrset_ports){10000, 59999};
	sys.fd_limit = 1000000;
	is_int(plan(&o, &sys, &p), -E2BIG, "150000 connections, 1 destination, no --bind: refused");
	has("150000 connections to 1 destination need ≥ 3 source addresses with 50000 ports each",
	    "refusal: the arithmetic");
	has("add e.g. --bind 127.0.0.1-127.0.0.3", "refusal: a loopback --bind that fits");
	is_int(p.sources_needed, 3, "plan says 3 sources");

	addrset_parse(&set, "127.0.0.1,127.0.0.2", err, sizeof(err));
	o.bind = &set;
	is_int(plan(&o, &sys, &p), -E2BIG, "2 sources are not enough");
	has("--bind gives 2: add at least 1 more address to it", "refusal names what --bind lacks");
	addrset_parse(&set, "127.0.0.3", err, sizeof(err));
	is_int(plan(&o, &sys, &p), 0, "3 sources fit");
	ok(p.pair_need <= p.pair_capacity && p.pair_need == 50000,
	   "busiest pair: 50000 of 50000 ports (got %llu of %llu)",
	   (unsigned long long)p.pair_need, (unsigned long long)p.pair_capacity);
	ok(!p.sliced && p.ports.lo == 10000, "no --ports: the system range, shared");
	ok(strstr(p.notice, "use over half of its 50000 ports") && strstr(p.notice, "6 sources"),
	   "a full range is allowed, with a notice that opening will be slow: %s", p.notice);

	/* Two destinations halve each pair's load. */
	static const char *const two[] = {"127.0.0.1", "127.0.0.2"};
	set_dests(&o, two, 2);
	addrset_free(&set);
	addrset_parse(&set, "127.0.0.10,127.0.0.11", err, sizeof(err));
	is_int(plan(&o, &sys, &p), 0, "150000 to 2 destinations from 2 sources fit");
	is_int(p.pair_need, 37500, "37500 per pair");
	ok(strstr(p.notice, "over half"), "75%% of a range: notice");
	o.max_connections = 100000;
	plan(&o, &sys, &p);
	is_int(p.notice[0], 0, "50%% of a range: no notice");
	o.max_connections = 150000;

	/* random needs headroom */
	o.pick = ADDRSET_RANDOM;
	o.max_connections = 198000;
	is_int(plan(&o, &sys, &p), -E2BIG, "random at 99% of capacity refused");
	has("\"round-robin\" needs none", "random refusal explains the headroom");
	o.pick = ADDRSET_ROUND_ROBIN;
	is_int(plan(&o, &sys, &p), 0, "round-robin at 99% of capacity fits");
	addrset_free(&set);
}

static void test_wide(void)
{
	struct plan_system sys = machine();
	struct plan p;
	struct options o = base(50000);

	sys.fd_limit = 1000000;
	is_int(plan(&o, &sys, &p), -E2BIG, "50000 connections over the default 28232 ports refused");
	has("need ≥ 2 source addresses with 28232 ports each", "two addresses");
	has("or widen the ports to 1024-65535 (sysctl -w net.ipv4.ip_local_port_range=\"1024 "
	    "65535\"): then 1 address suffice", "or one address with the widest range");
}

static void test_port_option(void)
{
	struct plan_system sys = machine();
	struct plan p;
	struct options o = base(4000);

	o.ports = (struct addrset_ports){20000, 29999};
	is_int(plan(&o, &sys, &p), -EINVAL, "--ports outside ip_local_port_range refused");
	has("not inside net.ipv4.ip_local_port_range (32768-60999)", "says why");
	has("sysctl -w net.ipv4.ip_local_port_range=\"20000 60999\"", "gives the sysctl");

	o.ports = (struct addrset_ports){40000, 40999};
	is_int(plan(&o, &sys, &p), -E2BIG, "4000 connections on 2 slices of 500 ports refused");
	ok(p.sliced && p.pair_capacity == 500, "2 workers: slices of 500 ports");
	is_int(p.pair_need, 2000, "2000 connections per worker on one pair");
	ok(p.pair_need > p.pair_capacity, "...which is why");
	o.max_connections = 1000;
	is_int(plan(&o, &sys, &p), 0, "1000 connections over 2 slices of 500 fit");
	o.max_connections = 1001;
	is_int(plan(&o, &sys, &p), -E2BIG, "1001 do not");
	has("1001 connections to 1 destination need ≥ 2 source addresses with 1000 ports each",
	    "sliced refusal counts all slices");

	o.ports = (struct addrset_ports){40000, 40000};
	o.max_connections = 2;
	is_int(plan(&o, &sys, &p), -E2BIG, "one port for two workers refused");
	has("has 1 ports for 2 workers", "says so");

	/* An old kernel: explicit ports, any range, and a notice. */
	sys.port_range_option = false;
	o.ports = (struct addrset_ports){20000, 29999};
	o.max_connections = 100;
	is_int(plan(&o, &sys, &p), 0, "without IP_LOCAL_PORT_RANGE the range is used explicitly");
	ok(p.explicit_ports && strstr(p.notice, "named explicitly"), "with a notice: %s", p.notice);
}

/* A refusal's fix is computed as the check is: with --ports sliced per
 * worker and 2 destinations, each of 2 workers meets one destination, so
 * 6000 connections fall on a 5000-port slice: one more address, or -w 3
 * (each worker then meets both), fits. The explanation once divided the
 * 12000 over both destinations and all 10000 ports and said "add at least 0
 * more addresses". */
static void test_refusal_fix(void)
{
	static const char *const two[] = {"127.0.0.1", "127.0.0.2"};
	struct plan_system sys = machine();
	struct plan p;
	struct options o = base(12000);
	struct addrset set = {0};

	set_dests(&o, two, 2);
	addrset_parse(&set, "127.0.15.1", err, sizeof(err));
	o.bind = &set;
	o.ports = (struct addrset_ports){40000, 49999};
	is_int(plan(&o, &sys, &p), -E2BIG, "12000 connections, 2 workers, 2 destinations, "
	       "1 source, 2 slices of 5000 ports: refused");
	ok(p.pair_need == 6000 && p.pair_capacity == 5000, "6000 on a pair of 5000 ports (%llu of %llu)",
	   (unsigned long long)p.pair_need, (unsigned long long)p.pair_capacity);
	has("need ≥ 2 source addresses", "the refusal asks for 2 addresses");
	has("meets 1 of the 2 destinations", "and says why: a worker meets one destination");
	has("--bind gives 1: add at least 1 more address", "one more address");
	ok(!strstr(err, "at least 0 more"), "never \"add at least 0 more\"");
	has("-w 3", "or 3 workers");
	is_int(p.sources_needed, 2, "sources_needed agrees");

	/* Each fix it names fits. */
	addrset_parse(&set, "127.0.15.2", err, sizeof(err));
	is_int(plan(&o, &sys, &p), 0, "with 2 addresses it fits");
	addrset_free(&set);
	addrset_parse(&set, "127.0.15.1", err, sizeof(err));
	o.workers = 3;
	o.workers_given = true;
	is_int(plan(&o, &sys, &p), 0, "with -w 3 it fits");
	o.workers = 4;
	is_int(plan(&o, &sys, &p), -E2BIG, "-w 4 does not (each meets one destination again)");
	has("or use -w 5: then 1200 fall on a pair of 2000 ports", "...and says -w 5 does");
	o.workers = 5;
	is_int(plan(&o, &sys, &p), 0, "as -w 5 does");
	addrset_free(&set);
}

/* A shard is planned as what it binds (shard.h): round-robin and random
 * draw from the shard's slice of each family, so 20000 connections over 4
 * shards from 8 addresses with ports 40000-40999 leave shard 1 two sources:
 * 2500 a worker over 2 is 1250 on a 500-port slice, refused as the same
 * load is without --shard (-c 5000 from 2 addresses). The plan once counted
 * all 8 (313 a pair) and the run failed 16073 connects. */
static void test_shard(void)
{
	struct plan_system sys = machine();
	struct plan p;
	struct options o = base(20000), v;
	struct addrset set = {0};

	addrset_parse(&set, "127.0.4.1-127.0.4.8", err, sizeof(err));
	o.bind = &set;
	o.ports = (struct addrset_ports){40000, 40999};
	o.shards = 4;
	o.shard = 0;
	shard_view(&o, &v);
	is_int(plan(&v, &sys, &p), -E2BIG, "shard 1/4: 5000 connections from its 2 of 8 sources "
	       "on 2 x 500 ports refused");
	is_int(p.sources[ADDRSET_V4], 2, "the plan counts the shard's 2 sources");
	is_int(p.pair_need, 1250, "1250 connections on one pair of 500 ports");
	has("shard 1/4 binds 2 of them", "says the shard binds 2");
	has("give --bind at least 20 addresses (5 for each of the 4 shards)",
	    "and how many --bind needs for every shard");
	shard_view_free(&v);
	struct options whole = base(5000);
	struct addrset two = {0};
	addrset_parse(&two, "127.0.4.1-127.0.4.2", err, sizeof(err));
	whole.bind = &two;
	whole.ports = o.ports;
	is_int(plan(&whole, &sys, &p), -E2BIG, "as the same load without --shard");
	addrset_free(&two);

	addrset_free(&set);
	addrset_parse(&set, "127.0.4.1-127.0.4.20", err, sizeof(err));
	shard_view(&o, &v);
	is_int(plan(&v, &sys, &p), 0, "with 20 addresses it fits");
	is_int(p.pair_need, 500, "500 on a pair of 500");
	shard_view_free(&v);

	/* Fewer addresses than shards: each shard binds them all (their ports
	 * are sliced by shard_apply instead). */
	addrset_free(&set);
	addrset_parse(&set, "127.0.4.1-127.0.4.3", err, sizeof(err));
	o.max_connections = 400;
	shard_view(&o, &v);
	is_int(plan(&v, &sys, &p), 0, "3 addresses, 4 shards: planned");
	is_int(p.sources[ADDRSET_V4], 3, "a shared family counts whole");
	shard_view_free(&v);

	/* Permutation binds every address of the set, whatever the shard. */
	o.pick = ADDRSET_PERMUTATION;
	shard_view(&o, &v);
	is_int(plan(&v, &sys, &p), 0, "permutation shard planned");
	is_int(p.sources[ADDRSET_V4], 3, "permutation counts every address");
	shard_view_free(&v);
	addrset_free(&set);

	/* Destinations go by the worker's slot in the whole run: shard 1 of 2's
	 * one worker is slot 0 of 2, handed destinations 0, 2, 4, ... of 2:
	 * only the first. Its 40000 connections share one pair's 28232 ports. */
	static const char *const dsts[] = {"127.0.0.1", "127.0.0.2"};
	o = base(80000);
	set_dests(&o, dsts, 2);
	o.shards = 2;
	o.workers = 1;
	o.workers_given = true;
	sys.fd_limit = 1000000;
	shard_view(&o, &v);
	is_int(plan(&v, &sys, &p), -E2BIG, "shard 1/2, 1 worker, 2 destinations: it meets one: refused");
	is_int(p.pair_need, 40000, "40000 on its one destination's pair");
	has("meets 1 of the 2 destinations", "says so");
	shard_view_free(&v);
	o.shards = 1;
	o.max_connections = 40000;
	is_int(plan(&o, &sys, &p), 0, "unsharded, the one worker meets both: 20000 a pair fits");
}

/* Permutation: every shard's workers walk one order of address x port,
 * worker k of shard K at positions K + N k, + N W, ...: 160 connections
 * over 2 shards from 1 address x 100 ports leave each shard's worker 50
 * positions for its 80 connections (its connects then fail), as 160 do not
 * fit 100 pairs without --shard. The plan once checked 80 against 100. */
static void test_shard_perm(void)
{
	struct plan_system sys = machine();
	struct plan p;
	struct options o = base(160), v;
	struct addrset set = {0};

	addrset_parse(&set, "127.0.4.1", err, sizeof(err));
	o.bind = &set;
	o.pick = ADDRSET_PERMUTATION;
	o.ports = (struct addrset_ports){40000, 40099};
	o.workers = 1;
	o.workers_given = true;
	is_int(plan(&o, &sys, &p), -E2BIG, "160 connections over 1 x 100 pairs refused");
	o.shards = 2;
	o.shard = 1;
	shard_view(&o, &v);
	is_int(plan(&v, &sys, &p), -E2BIG, "shard 2/2: its 80 over 50 positions of the walk refused");
	has("worker 0 of shard 2/2 takes every 2nd of 1 address x 100 ports = 100 pairs: 50 "
	    "for its 80 connections", "says the shard's part of the walk");
	has("give --bind at least 2 addresses", "and the addresses that fit");
	is_int(p.sources_needed, 2, "sources_needed agrees");
	shard_view_free(&v);
	addrset_parse(&set, "127.0.4.2", err, sizeof(err));
	shard_view(&o, &v);
	is_int(plan(&v, &sys, &p), 0, "with 2 addresses: 100 positions each, it fits");
	shard_view_free(&v);
	o.max_connections = 200;
	o.workers = 2;
	shard_view(&o, &v);
	is_int(plan(&v, &sys, &p), 0, "200 over 2 shards x 2 workers, 200 pairs: 50 each, fits");
	shard_view_free(&v);
	o.max_connections = 201;
	o.shard = 0;
	shard_view(&o, &v);
	is_int(plan(&v, &sys, &p), -E2BIG, "201 do not: shard 1's first worker has 51 for 50");
	shard_view_free(&v);
	addrset_free(&set);
}

static void test_families_and_perm(void)
{
	struct plan_system sys = machine();
	struct plan p;
	struct options o = base(100);
	struct addrset set = {0};
	static const char *const mixed[] = {"127.0.0.1", "::1"};

	addrset_parse(&set, "127.0.0.2", err, sizeof(err));
	o.bind = &set;
	set_dests(&o, mixed, 2);
	is_int(plan(&o, &sys, &p), -EINVAL, "IPv6 destination without an IPv6 source refused");
	has("destination ::1:7000 is IPv6 but --bind has no IPv6 address", "names it");
	addrset_parse(&set, "::1", err, sizeof(err));
	is_int(plan(&o, &sys, &p), 0, "with one of each family it fits");

	o = base(1000);
	o.pick = ADDRSET_PERMUTATION;
	is_int(plan(&o, &sys, &p), -EINVAL, "permutation without --bind refused");
	has("give the addresses with --bind", "says what to add");
	addrset_free(&set);
	addrset_parse(&set, "127.0.0.1-127.0.0.4", err, sizeof(err));
	o.bind = &set;
	o.pick = ADDRSET_PERMUTATION;
	o.ports = (struct addrset_ports){20000, 20199};
	is_int(plan(&o, &sys, &p), -E2BIG, "permutation: 1000 connections over 4 x 200 pairs refused");
	o.max_connections = 800;
	is_int(plan(&o, &sys, &p), 0, "permutation: 800 of 4 x 200 pairs fit");
	o.max_connections = 801;
	is_int(plan(&o, &sys, &p), -E2BIG, "permutation: 801 do not");
	has("4 addresses x 200 ports = 800", "permutation refusal: the arithmetic");
	o.ports = (struct addrset_ports){0, 0};
	o.max_connections = 1000;
	is_int(plan(&o, &sys, &p), 0, "permutation without --ports walks the system range");
	ok(p.ports.lo == 32768 && p.ports.hi == 60999, "system range used");
	addrset_free(&set);
	addrset_parse(&set, "2001:db8::/64", err, sizeof(err));
	static const char *const v6[] = {"2001:db8:1::1"};
	set_dests(&o, v6, 1);
	is_int(plan(&o, &sys, &p), -E2BIG, "permutation over a /64 x ports is refused");
	has("at most 2^62", "says why");
	o.pick = ADDRSET_ROUND_ROBIN;
	o.max_connections = 1000000;
	sys.fd_limit = 1000000;
	is_int(plan(&o, &sys, &p), 0, "round-robin over a /64: 1M connections fit");
	is_int(p.pair_need, 2, "at most one connection per source per worker");
	addrset_free(&set);
}

static void test_addresses(void)
{
	struct addrset set = {0};

	addrset_parse(&set, "127.0.0.1,127.0.0.9,127.1.2.3,::1", err, sizeof(err));
	is_int(plan_check_addresses(&set, err, sizeof(err)), 0,
	       "loopback addresses (all of 127/8 is local) are present");
	addrset_free(&set);
	/* TEST-NET-3 and the documentation prefix are never configured here. */
	addrset_parse(&set, "127.0.0.1,203.0.113.77,2001:db8::77", err, sizeof(err));
	is_int(plan_check_addresses(&set, err, sizeof(err)), 2, "two missing addresses found");
	has("2 of 3 bind addresses checked are not configured on this machine: 203.0.113.77 "
	    "2001:db8::77", "missing addresses listed");
	has("fix: ip addr add 203.0.113.77/32 dev ", "v4 fix command");
	has("fix: ip -6 addr add 2001:db8::77/128 dev ", "v6 fix command");
	addrset_free(&set);
	/* bind() refuses a link-local address without a scope (EINVAL),
	 * configured or not: every connect from it would fail. */
	addrset_parse(&set, "127.0.0.1,fe80::1", err, sizeof(err));
	is_int(plan_check_addresses(&set, err, sizeof(err)), 1, "a link-local source is refused");
	has("1 of 2 bind addresses checked cannot be bound here: fe80::1 (link-local: ",
	    "said why: link-local");
	addrset_free(&set);
	addrset_parse(&set, "203.0.113.0/28", err, sizeof(err));
	is_int(plan_check_addresses(&set, err, sizeof(err)), 14, "14 missing");
	has("and 6 more", "long lists are cut, with the local-route hint");
	addrset_free(&set);
}

/* UDP: autobind never shares a port, so a source's ports serve every
 * destination at once — 20000 sockets to 2 destinations from the kernel's
 * one source need 20000 ports, where TCP needs 10000 per pair. */
static void test_udp(void)
{
	static const char *const two[] = {"127.0.0.1", "127.0.0.2"};
	struct plan_system sys = machine();
	struct plan p;
	struct options o = base(20000);

	set_dests(&o, two, 2);
	o.workers = 2;
	o.workers_given = true;
	o.pipeline = 4;
	is_int(plan(&o, &sys, &p), 0, "TCP: 20000 connections to 2 destinations fit");
	is_int(p.pair_need, 10000, "TCP: 10000 on the busiest (source, destination) pair");
	o.transport = TRANSPORT_UDP;
	is_int(plan(&o, &sys, &p), 0, "UDP: the same fits in 28232 ports");
	is_int(p.pair_need, 20000, "UDP: 20000 sockets on the one source's ports");
	o.max_connections = 30000;
	ok(plan(&o, &sys, &p) == -E2BIG, "UDP: 30000 sockets from one source do not fit 28232 ports");
	has("30000 connections", "the refusal names the sockets");
	o.transport = TRANSPORT_TCP;
	is_int(plan(&o, &sys, &p), 0, "TCP: 30000 to 2 destinations fit (15000 per pair)");
	/* The receive buffer: ~832 bytes per small queued datagram. */
	o.transport = TRANSPORT_UDP;
	o.max_connections = 100;
	o.pipeline = 4096;
	is_int(plan(&o, &sys, &p), 0, "UDP with pipeline 4096 plans");
	ok(strstr(p.notice, "receive buffer") != NULL, "and notes the receive buffer: %s", p.notice);
	char desc[1024];
	plan_describe(&o, &sys, &p, desc, sizeof(desc));
	ok(strstr(desc, "connected sockets per worker") && strstr(desc, "SO_RCVBUF"),
	   "doctor's description has a udp line");
	/* tc = "tcp": a worker may hold a fallback TCP connection per
	 * destination besides its sockets (fallback.h). */
	o.pipeline = 4;
	o.max_connections = 1000;
	o.workers = 1;
	sys.fd_limit = sys.fd_reserve + 1000;
	is_int(plan(&o, &sys, &p), 0, "UDP: 1000 sockets fit one worker's 1000 free files");
	o.tcp_fallback = true;
	ok(plan(&o, &sys, &p) == -E2BIG, "with tc = \"tcp\" they do not: 2 fallback connections");
	has("use -w 2", "the refusal says how many workers");
	o.workers = 2;
	is_int(plan(&o, &sys, &p), 0, "2 workers hold them");
	plan_describe(&o, &sys, &p, desc, sizeof(desc));
	ok(strstr(desc, "fallback    truncated answers") && strstr(desc, "up to 2 more files"),
	   "doctor's description counts the fallback connections");
}

/* Churn that TIME_WAIT cannot fit: refused where the kernel will not reuse
 * the ports (tcp_tw_reuse 0, or 2 with a destination off loopback), only
 * warned of where it will. */
static void test_churn_refusal(void)
{
	struct options o = base(10);
	static const char *const lo[] = {"127.0.0.1", "::1"};
	static const char *const far[] = {"127.0.0.1", "198.18.0.10"};

	set_dests(&o, lo, 2);
	ok(!churn_plan_refuses(&o, 2), "tw_reuse 2, loopback only: warned, not refused");
	ok(!churn_plan_refuses(&o, 1), "tw_reuse 1: warned, not refused");
	ok(!churn_plan_refuses(&o, -1), "tw_reuse unknown: warned, not refused");
	ok(churn_plan_refuses(&o, 0), "tw_reuse 0: refused");
	set_dests(&o, far, 2);
	ok(churn_plan_refuses(&o, 2), "tw_reuse 2 with 198.18.0.10 among the destinations: refused");
	ok(!churn_plan_refuses(&o, 1), "tw_reuse 1 off loopback: warned, not refused");
}

int main(void)
{
	test_udp();
	test_churn_refusal();
	test_table();
	test_fds();
	test_ports();
	test_wide();
	test_port_option();
	test_refusal_fix();
	test_shard();
	test_shard_perm();
	test_families_and_perm();
	test_addresses();

	struct plan_system sys;
	plan_system_probe(&sys);
	ok(sys.fd_limit > 0 && sys.fd_reserve > PLAN_WORKER_FDS && sys.sys_ports.lo > 0 &&
		   sys.cpus > 0, "the machine probe fills every fact");
	return tap_done();
}
