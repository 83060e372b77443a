/*
 * plan: the arithmetic of fitting a run onto one machine, and the probes that
 * read the machine. Pure arithmetic in plan_make (unit-tested with a made-up
 * struct plan_system); everything that asks the kernel is at the bottom.
 */
#include "plan.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <ifaddrs.h>
#include <math.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shard.h"


#define WIDE_LO 1024
#define WIDE_HI 65535
#define CHECK_MAX 65536 /* addresses checked one by one; above, a sample */
#define MISSING_SHOWN 8

static uint64_t ceil_div(uint64_t a, uint64_t b)
{
	return b ? a / b + (a % b != 0) : 0;
}

uint64_t plan_sources_needed(uint64_t conns, uint64_t ndests, uint64_t ports)
{
	uint64_t n = ceil_div(ceil_div(conns, ndests ? ndests : 1), ports ? ports : 1);
	return n ? n : 1;
}

/* Connections on the busiest (source, destination) pair of one worker with
 * cw connections. Round-robin is exact (addrset_pick's slot mapping); random
 * gets headroom of four standard deviations of the binomial count. */
static uint64_t pair_load(enum addrset_pick pick, uint64_t cw, uint64_t ndests, uint64_t nsrc)
{
	uint64_t per_dest = ceil_div(cw, ndests);

	if (pick == ADDRSET_RANDOM && nsrc > 1) {
		double m = (double)per_dest / (double)nsrc;
		return (uint64_t)ceil(m + 4 * sqrt(m) + 1);
	}
	return ceil_div(per_dest, nsrc);
}

static uint64_t gcd(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

static uint32_t share(uint64_t total, uint32_t k, uint32_t n)
{
	return (uint32_t)((total + (n - 1 - k)) / n); /* as pool_share */
}

static bool is_loopback4(const struct destination *d)
{
	const struct sockaddr_in *s = (const struct sockaddr_in *)&d->addr;
	return d->addr.ss_family == AF_INET && (ntohl(s->sin_addr.s_addr) >> 24) == 127;
}

/* "127.0.0.1-127.0.0.3" for a loopback destination; otherwise a shape the
 * user fills in with addresses of this machine. */
static void suggest_bind(const struct options *o, uint64_t n, char *buf, size_t len)
{
	if (o->ndests && is_loopback4(&o->dests[0]) && n < (1u << 24) - 2) {
		char last[INET_ADDRSTRLEN];
		struct in_addr a = {htonl(0x7f000001u + (uint32_t)n - 1)};
		inet_ntop(AF_INET, &a, last, sizeof(last));
		snprintf(buf, len, "--bind 127.0.0.1%s%s", n > 1 ? "-" : "", n > 1 ? last : "");
		return;
	}
	snprintf(buf, len, "--bind with %llu addresses of this machine (e.g. --bind "
		 "10.0.0.10-10.0.0.%llu after adding them; see surge doctor)",
		 (unsigned long long)n, (unsigned long long)(9 + (n < 245 ? n : 245)));
}

/* The busiest (source, destination) pair for one choice of workers, sources
 * and ports: the connections on it and the ports it draws from. The check
 * and every fix a refusal names are computed here, so they cannot disagree. */
struct pair_fit {
	uint64_t need, cap;
	uint64_t dmeet; /* destinations each worker meets */
	uint64_t wmeet; /* workers that meet each destination */
};

/* With --ports each worker draws from its own slice; without, all workers
 * share the system range. Worker k is handed destinations k, k + W, ...
 * (dest_table_pick), so it meets D / gcd(W, D) of them and each destination
 * is met by W / gcd(W, D) workers. A shard's worker k is slot K + N k of
 * N W (shard.h): it meets D / g of them, g = gcd(N W, D), and a destination
 * is met by W gcd(N, g) / g of the shard's workers (K + N k covers the
 * residues of K mod gcd(N, g), each W gcd(N, g) / g times). */
static void pair_fit(const struct options *o, uint64_t conns, uint64_t ndests, uint64_t W,
		     uint64_t nsrc, uint64_t P, struct pair_fit *f)
{
	uint64_t N = o->shards > 1 ? o->shards : 1;
	uint64_t g = gcd(N * W, ndests);

	f->dmeet = ndests / g;
	f->wmeet = W * gcd(N, g) / g;
	if (o->transport == TRANSPORT_UDP) {
		/* UDP autobind never shares a port, whatever the destination:
		 * each socket holds a (source, port) of its own, so a source's
		 * ports are shared by all the destinations a worker meets. */
		f->dmeet = 1;
		f->wmeet = W;
	}
	f->need = 0;
	if (o->ports.lo) {
		f->cap = P / W;
		f->need = pair_load(o->pick, ceil_div(conns, W), f->dmeet, nsrc);
	} else {
		f->cap = P;
		for (uint64_t k = 0; k < f->wmeet; k++) /* the largest shares come first */
			f->need += pair_load(o->pick, share(conns, k, (uint32_t)W), f->dmeet, nsrc);
	}
}

/* The fewest sources with which the busiest pair takes at most 1/div of its
 * ports (div 1: fits; 2: within the fast half), or 0 when no number does
 * (random's headroom on a slice of one port). Doubling, then bisecting:
 * the answer always passes the check itself. */
static uint64_t fit_sources(const struct options *o, uint64_t conns, uint64_t ndests, uint64_t W,
			    uint64_t P, uint64_t div)
{
	struct pair_fit f;
	uint64_t lo = 0, hi = 1;

	for (;;) {
		pair_fit(o, conns, ndests, W, hi, P, &f);
		if (f.need * div <= f.cap)
			break;
		if (hi >= 1ULL << 40)
			return 0;
		lo = hi;
		hi *= 2;
	}
	while (hi - lo > 1) {
		uint64_t mid = lo + (hi - lo) / 2;
		pair_fit(o, conns, ndests, W, mid, P, &f);
		if (f.need * div <= f.cap)
			hi = mid;
		else
			lo = mid;
	}
	return hi;
}

static int check_schedule_rate(const struct options *o, uint32_t W, char *err, size_t errlen);

/* The worker count nearest W with which nsrc sources fit (more first: they
 * also spread the CPU; fewer only down to wmin, what the files need), or 0.
 * More is not always better: with 2 destinations, 4 workers meet one each
 * as 2 do, where 3 meet both. */
static uint64_t fit_workers(const struct options *o, uint64_t conns, uint64_t ndests, uint64_t W,
			    uint64_t wmin, uint64_t nsrc, uint64_t P, struct pair_fit *f)
{
	char scratch[256];

	for (uint64_t w = W + 1; w <= PLAN_MAX_WORKERS && w <= conns; w++) {
		if (o->ports.lo && P < w)
			break;
		pair_fit(o, conns, ndests, w, nsrc, P, f);
		if (f->need <= f->cap)
			return w;
	}
	for (uint64_t w = W - 1; w >= 1 && w >= wmin; w--) {
		pair_fit(o, conns, ndests, w, nsrc, P, f);
		if (f->need <= f->cap &&
		    check_schedule_rate(o, (uint32_t)w, scratch, sizeof(scratch)) == 0)
			return w;
	}
	return 0;
}

static int refuse_ports(const struct options *o, uint64_t conns, uint64_t ndests, uint64_t W,
			uint64_t wmin, uint64_t nsrc, uint64_t P, const struct pair_fit *f,
			uint64_t need, char *err, size_t errlen)
{
	/* Shards that share a source have the K-th of N slices of the ports. */
	uint64_t wide_ports = WIDE_HI - WIDE_LO + 1;
	if (o->ports.lo && shard_shares_sources(o))
		wide_ports /= o->shards;
	uint64_t wide = fit_sources(o, conns, ndests, W, wide_ports, 1);
	struct pair_fit wf;
	uint64_t w = fit_workers(o, conns, ndests, W, wmin, nsrc, P, &wf);
	char why[256], fix[320], walt[160] = "", alt[200] = "", meets[64], who[48] = "";
	size_t n;

	if (f->dmeet == ndests)
		snprintf(meets, sizeof(meets), "%s", ndests == 1 ? "the destination"
				: "every destination");
	else
		snprintf(meets, sizeof(meets), "%llu of the %llu destinations",
			 (unsigned long long)f->dmeet, (unsigned long long)ndests);
	if (o->ports.lo && W == 1)
		snprintf(why, sizeof(why), "one worker has them all and meets %s", meets);
	else if (o->ports.lo)
		snprintf(why, sizeof(why), "each of the %llu workers has its own %llu of them and "
			 "meets %s", (unsigned long long)W, (unsigned long long)f->cap, meets);
	else if (W == 1)
		snprintf(why, sizeof(why), "one worker meets %s", meets);
	else if (ndests == 1 || o->transport == TRANSPORT_UDP)
		snprintf(why, sizeof(why), "the %llu workers share them", (unsigned long long)W);
	else if (f->wmeet == 1)
		snprintf(why, sizeof(why), "each of the %llu workers meets %s, and no other meets "
			 "those", (unsigned long long)W, meets);
	else
		snprintf(why, sizeof(why), "each of the %llu workers meets %s, and the %llu that "
			 "meet a destination share them", (unsigned long long)W, meets,
			 (unsigned long long)f->wmeet);
	if (o->transport == TRANSPORT_UDP)
		snprintf(why + strlen(why), sizeof(why) - strlen(why), ", and a UDP socket holds "
			 "its port whatever the destination");
	if (!need)
		snprintf(fix, sizeof(fix), "no number of addresses fits %llu ports a pair: widen "
			 "the ports", (unsigned long long)f->cap);
	else if (o->bind && o->shards > 1)
		snprintf(fix, sizeof(fix), "--bind's addresses are cut among the %u shards and shard "
			 "%u/%u binds %llu of them: give --bind at least %llu addresses (%llu for each "
			 "of the %u shards)", o->shards, o->shard + 1, o->shards,
			 (unsigned long long)nsrc, (unsigned long long)(need * o->shards),
			 (unsigned long long)need, o->shards);
	else if (o->bind)
		snprintf(fix, sizeof(fix), "--bind gives %llu: add at least %llu more address%s to it",
			 (unsigned long long)nsrc, (unsigned long long)(need - nsrc),
			 need - nsrc == 1 ? "" : "es");
	else
		suggest_bind(o, need, fix, sizeof(fix));
	if (w)
		snprintf(walt, sizeof(walt), "; or use -w %llu: then %llu fall on a pair of %llu ports",
			 (unsigned long long)w, (unsigned long long)wf.need,
			 (unsigned long long)wf.cap);
	if (P < wide_ports && wide && (!need || wide < need))
		snprintf(alt, sizeof(alt), "; or widen the ports to %d-%d (sysctl -w "
			 "net.ipv4.ip_local_port_range=\"%d %d\"%s): then %llu address%s suffice",
			 WIDE_LO, WIDE_HI, WIDE_LO, WIDE_HI, o->ports.lo ? ", --ports 1024-65535" : "",
			 (unsigned long long)wide, wide == 1 ? "" : "es");
	if (o->shards > 1)
		snprintf(who, sizeof(who), "shard %u/%u: ", o->shard + 1, o->shards);
	snprintf(err, errlen, "%s%llu connections to %llu destination%s need ≥ %llu source "
		 "address%s with %llu ports each (%s: from %llu source%s, %llu connections fall on "
		 "one (source, destination) pair of %llu ports); %s%s%s%s", who,
		 (unsigned long long)conns, (unsigned long long)ndests, ndests == 1 ? "" : "s",
		 (unsigned long long)need, need == 1 ? "" : "es", (unsigned long long)P, why,
		 (unsigned long long)nsrc, nsrc == 1 ? "" : "s", (unsigned long long)f->need,
		 (unsigned long long)f->cap, o->bind || !need ? "" : "add e.g. ", fix, walt, alt);
	n = strlen(err);
	if (o->pick == ADDRSET_RANDOM && nsrc > 1 && n + 1 < errlen)
		snprintf(err + n, errlen - n, " (pick = \"random\" needs headroom for its "
			 "uneven spread; \"round-robin\" needs none)");
	return -E2BIG;
}

static const char *ordinal(uint64_t n)
{
	if (n % 100 >= 11 && n % 100 <= 13)
		return "th";
	return n % 10 == 1 ? "st" : n % 10 == 2 ? "nd" : n % 10 == 3 ? "rd" : "th";
}

/* Permutation over shards: every shard's workers walk one order of address
 * x port, worker k of shard K at positions s, s + S, ... (s = K + N k,
 * S = N W: addrset_pick by slot), so it has ceil((space - s) / S) of them,
 * whatever its own share. nsrc x P = space. Refuses (-E2BIG) the first
 * worker with more connections of a family than positions. */
static int refuse_shard_walk(const struct options *o, uint64_t conns, uint64_t W,
			     uint64_t dfam, uint64_t ndests, uint64_t nsrc, uint64_t P,
			     struct plan *out, char *err, size_t errlen)
{
	uint64_t S = (uint64_t)o->shards * W, space = nsrc * P, need = 0, bad = W;

	for (uint64_t k = 0; k < W; k++) {
		uint64_t s = o->shard + (uint64_t)o->shards * k;
		uint64_t have = space > s ? (space - 1 - s) / S + 1 : 0;
		uint64_t ck = ceil_div(share(conns, (uint32_t)k, (uint32_t)W) * dfam, ndests);
		/* The fewest addresses with ck positions: s + S (ck - 1) < nsrc P. */
		uint64_t fits = ck ? ceil_div(s + S * (ck - 1) + 1, P) : 1;
		if (fits > need)
			need = fits;
		if (ck > have && bad == W) {
			bad = k;
			out->pair_need = ck;
			out->pair_capacity = have;
		}
	}
	if (bad == W)
		return 0;
	out->sources_needed = need;
	snprintf(err, errlen, "pick = \"permutation\" walks one order of (address, port) for all "
		 "%u shards: worker %llu of shard %u/%u takes every %llu%s of %llu address%s x %llu "
		 "ports = %llu pairs: %llu for its %llu connections; give --bind at least %llu "
		 "addresses (every shard binds them all) or widen --ports",
		 o->shards, (unsigned long long)bad, o->shard + 1, o->shards, (unsigned long long)S,
		 ordinal(S), (unsigned long long)nsrc, nsrc == 1 ? "" : "es", (unsigned long long)P,
		 (unsigned long long)space, (unsigned long long)out->pair_capacity,
		 (unsigned long long)out->pair_need, (unsigned long long)need);
	return -E2BIG;
}

static double peak_rate(const struct options *o)
{
	double peak = 0;

	for (size_t i = 0; o->rate_segs && i < o->nrate_segs; i++) {
		if (o->rate_segs[i].r0 > peak)
			peak = o->rate_segs[i].r0;
		if (o->rate_segs[i].r1 > peak)
			peak = o->rate_segs[i].r1;
	}
	return peak;
}

uint64_t plan_open_workers(const struct options *o)
{
	double peak = peak_rate(o);

	if (!o->rate_segs)
		return 0;
	return peak > PLAN_OPEN_RATE_PER_WORKER ? (uint64_t)ceil(peak / PLAN_OPEN_RATE_PER_WORKER) : 1;
}

/* A schedule faster than a worker can walk (PLAN_MAX_SCHEDULE_RATE). */
static int check_schedule_rate(const struct options *o, uint32_t W, char *err, size_t errlen)
{
	double peak = peak_rate(o);
	bool poisson = o->arrival == PACER_POISSON;
	double each = poisson ? peak : peak / W;

	if (!o->rate_segs || each <= PLAN_MAX_SCHEDULE_RATE)
		return 0;
	if (poisson)
		snprintf(err, errlen, "rate %.0f/s with arrival = \"poisson\": each worker draws the "
			 "whole schedule, at most %.0f a second; use a lower rate, or arrival = "
			 "\"uniform\" (--shard splits a higher rate over machines)",
			 peak, PLAN_MAX_SCHEDULE_RATE);
	else
		snprintf(err, errlen, "rate %.0f/s is %.0f/s for each of %u worker%s, over the %.0f "
			 "a worker's schedule may hold (one sends ~1M/s at best): use -w %.0f or "
			 "more, or --shard to split it over machines", peak, each, W,
			 W == 1 ? "" : "s", PLAN_MAX_SCHEDULE_RATE, ceil(peak / PLAN_MAX_SCHEDULE_RATE));
	return -EINVAL;
}

int plan_make(const struct options *o, const struct plan_system *sys, struct plan *out,
	      char *err, size_t errlen)
{
	uint64_t conns = o->max_connections;
	uint64_t ndests = o->ndests ? o->ndests : 1;
	uint64_t dfam[ADDRSET__FAMILIES] = {0, 0};
	uint64_t nsrc = 0; /* the fewest sources of any family with destinations */

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < o->ndests; i++) {
		int f = addrset_slot(o->dests[i].addr.ss_family);
		if (f >= 0)
			dfam[f]++;
	}
	/* A shard binds its own slice of each family with round-robin and
	 * random (addrset_picker_shard); permutation walks every address. */
	bool sliced_bind = o->bind && o->shards > 1 && o->pick != ADDRSET_PERMUTATION;
	for (int f = 0; f < ADDRSET__FAMILIES; f++) {
		out->sources[f] = !o->bind	   ? 1
				  : sliced_bind ? addrset_shard_size(o->bind, f, o->shard, o->shards)
						: addrset_size(o->bind, f);
		if (!dfam[f])
			continue;
		if (out->sources[f] == 0) {
			for (size_t i = 0; i < o->ndests; i++)
				if (addrset_slot(o->dests[i].addr.ss_family) == f) {
					snprintf(err, errlen, "destination %s is %s but --bind has no %s "
						 "address: add one, or remove that destination",
						 o->dests[i].label, f ? "IPv6" : "IPv4", f ? "IPv6" : "IPv4");
					break;
				}
			return -EINVAL;
		}
		if (nsrc == 0 || out->sources[f] < nsrc)
			nsrc = out->sources[f];
	}
	if (nsrc == 0)
		nsrc = 1;

	/* Descriptors: one per connection plus what surge holds itself, and,
	 * when truncated answers are asked again over TCP, the one fallback
	 * connection a worker may open per destination (fallback.h). */
	uint64_t reserve = sys->fd_reserve + (o->tcp_fallback ? o->ndests : 0);
	uint64_t usable = sys->fd_limit > reserve ? sys->fd_limit - reserve : 0;
	if (usable == 0) {
		snprintf(err, errlen, "each process may open only %llu files and surge itself holds "
			 "%llu: raise the limit (ulimit -Hn, LimitNOFILE=)",
			 (unsigned long long)sys->fd_limit, (unsigned long long)reserve);
		return -E2BIG;
	}
	uint64_t wneed = ceil_div(conns, usable);
	if (wneed < 1)
		wneed = 1;
	if (wneed > PLAN_MAX_WORKERS) {
		snprintf(err, errlen, "%llu connections would need %llu workers (each process may "
			 "open %llu files, %llu of them held by surge itself), more than the %d "
			 "surge runs: raise the open-files limit (ulimit -Hn, LimitNOFILE=) to at "
			 "least %llu", (unsigned long long)conns, (unsigned long long)wneed,
			 (unsigned long long)sys->fd_limit, (unsigned long long)reserve,
			 PLAN_MAX_WORKERS,
			 (unsigned long long)(ceil_div(conns, PLAN_MAX_WORKERS) + reserve));
		return -E2BIG;
	}
	if (o->workers_given) {
		if (o->workers < wneed) {
			snprintf(err, errlen, "%llu connections need ≥ %llu workers: each process may "
				 "open %llu files, %llu of them held by surge itself, so %llu per "
				 "worker (%llu / %llu, rounded up); use -w %llu",
				 (unsigned long long)conns, (unsigned long long)wneed,
				 (unsigned long long)sys->fd_limit, (unsigned long long)sys->fd_reserve,
				 (unsigned long long)usable, (unsigned long long)conns,
				 (unsigned long long)usable, (unsigned long long)wneed);
			return -E2BIG;
		}
		/* A worker without a connection cannot send its share of a
		 * schedule or of requests = N: that run would drop its share or
		 * never end. */
		if (conns > 0 && o->workers > conns && (o->requests || o->rate_segs)) {
			snprintf(err, errlen, "-w %u with %llu connection%s: a worker without a "
				 "connection cannot send its share of the %s; use -w %llu or more "
				 "connections", o->workers, (unsigned long long)conns,
				 conns == 1 ? "" : "s", o->requests ? "requests" : "rate",
				 (unsigned long long)conns);
			return -EINVAL;
		}
		out->workers = o->workers;
	} else {
		uint64_t w = sys->cpus ? sys->cpus : 1;
		uint64_t wrate = plan_open_workers(o);
		if (wrate && wrate < w)
			w = wrate;
		if (w < wneed)
			w = wneed;
		/* More workers than connections would leave some idle. */
		if (w > conns && conns > 0)
			w = conns;
		out->workers = (uint32_t)w;
	}
	uint32_t W = out->workers;
	out->conns_per_worker = ceil_div(conns, W);
	if (check_schedule_rate(o, W, err, errlen) < 0)
		return -EINVAL;

	/* Ports. The kernel clamps a per-socket range into the system range, so
	 * a range outside it would silently be the system's. */
	bool perm = o->pick == ADDRSET_PERMUTATION;
	if (perm && !o->bind) {
		snprintf(err, errlen, "pick = \"permutation\" walks source addresses x ports: give "
			 "the addresses with --bind (e.g. --bind 127.0.0.1)");
		return -EINVAL;
	}
	out->ports = o->ports.lo ? o->ports : sys->sys_ports;
	out->explicit_ports = o->ports.lo && !perm && !sys->port_range_option;
	if (out->explicit_ports)
		snprintf(out->notice, sizeof(out->notice),
			 "this kernel has no per-socket port range (IP_LOCAL_PORT_RANGE, Linux ≥ "
			 "6.3): ports %u-%u are named explicitly at bind()", o->ports.lo, o->ports.hi);
	if (o->ports.lo && !perm && !out->explicit_ports &&
	    (o->ports.lo < sys->sys_ports.lo || o->ports.hi > sys->sys_ports.hi)) {
		unsigned lo = o->ports.lo < sys->sys_ports.lo ? o->ports.lo : sys->sys_ports.lo;
		unsigned hi = o->ports.hi > sys->sys_ports.hi ? o->ports.hi : sys->sys_ports.hi;
		snprintf(err, errlen, "--ports %u-%u is not inside net.ipv4.ip_local_port_range "
			 "(%u-%u), and the kernel clamps a socket's range into it: run sysctl -w "
			 "net.ipv4.ip_local_port_range=\"%u %u\", or choose ports inside %u-%u",
			 o->ports.lo, o->ports.hi, sys->sys_ports.lo, sys->sys_ports.hi, lo, hi,
			 sys->sys_ports.lo, sys->sys_ports.hi);
		return -EINVAL;
	}
	uint64_t P = addrset_ports_count(&out->ports);

	if (perm) {
		/* Each connection holds its own (address, port) of the walk. */
		for (int f = 0; f < ADDRSET__FAMILIES; f++) {
			if (!dfam[f])
				continue;
			uint64_t space = out->sources[f] > (1ULL << 62) / P ? UINT64_MAX
									       : out->sources[f] * P;
			uint64_t cf = ceil_div(conns * dfam[f], ndests);
			out->pair_need = cf;
			out->pair_capacity = space;
			if (space > (1ULL << 62)) {
				snprintf(err, errlen, "pick = \"permutation\" walks addresses x ports, "
					 "at most 2^62 of them; %llu x %llu is more: use fewer addresses "
					 "(a longer prefix) or \"round-robin\"",
					 (unsigned long long)out->sources[f], (unsigned long long)P);
				return -E2BIG;
			}
			if (cf > space) {
				out->sources_needed = ceil_div(cf, P);
				snprintf(err, errlen, "pick = \"permutation\" gives each connection its "
					 "own (address, port): %llu connections need ≥ %llu pairs, but "
					 "%llu address%s x %llu ports = %llu; add %llu more addresses or "
					 "widen --ports",
					 (unsigned long long)cf, (unsigned long long)cf,
					 (unsigned long long)out->sources[f],
					 out->sources[f] == 1 ? "" : "es", (unsigned long long)P,
					 (unsigned long long)space,
					 (unsigned long long)(out->sources_needed - out->sources[f]));
				return -E2BIG;
			}
			if (o->shards > 1 && refuse_shard_walk(o, conns, W, dfam[f], ndests,
							       out->sources[f], P, out, err, errlen) < 0)
				return -E2BIG;
		}
		return 0;
	}

	/* Kernel-chosen ports (pair_fit): with --ports each worker draws from
	 * its own slice; without, all workers share the system range. */
	if (o->ports.lo && P < W) {
		snprintf(err, errlen, "--ports %u-%u has %llu ports for %u workers: each "
			 "worker needs its own slice; widen --ports or use -w %llu",
			 o->ports.lo, o->ports.hi, (unsigned long long)P, W,
			 (unsigned long long)P);
		return -E2BIG;
	}
	struct pair_fit f;
	out->sliced = o->ports.lo != 0;
	pair_fit(o, conns, ndests, W, nsrc, P, &f);
	out->pair_need = f.need;
	out->pair_capacity = f.cap;
	out->sources_needed = fit_sources(o, conns, ndests, W, P, 1);
	if (out->pair_need > out->pair_capacity)
		return refuse_ports(o, conns, ndests, W, wneed, nsrc, P, &f, out->sources_needed,
				    err, errlen);
	/* A small datagram charges ~832 bytes of SO_RCVBUF (measured on 6.18):
	 * answers to more queries than fit in flight on one socket are lost. */
	if (o->transport == TRANSPORT_UDP && !out->notice[0] &&
	    (uint64_t)o->pipeline * 832 > plan_udp_rcvbuf())
		snprintf(out->notice, sizeof(out->notice),
			 "pipeline %u over UDP: up to %u answers may queue on one socket, more than "
			 "its receive buffer holds (%llu bytes, ~832 each); raise net.core.rmem_default "
			 "or lower pipeline", o->pipeline, o->pipeline,
			 (unsigned long long)plan_udp_rcvbuf());
	/* connect() tries the even half of a range first (Linux >= 4.6): once
	 * that is used up, every connect() walks it before taking an odd port,
	 * and opening crawls. Named ports skip the search. */
	if (!out->explicit_ports && out->pair_need * 2 > out->pair_capacity)
		snprintf(out->notice, sizeof(out->notice),
			 "%llu connections on one (source, destination) pair use over half of its "
			 "%llu ports: the kernel then scans for each connect() and opening slows; "
			 "%llu sources, or pick = \"permutation\", keep it fast",
			 (unsigned long long)out->pair_need, (unsigned long long)out->pair_capacity,
			 (unsigned long long)fit_sources(o, conns, ndests, W, P, 2));
	return 0;
}

void plan_describe(const struct options *o, const struct plan_system *sys, const struct plan *p,
		   char *buf, size_t len)
{
	int n = snprintf(buf, len,
			 "  workers     %u (each may open %llu files, surge holds %llu): up to %llu "
			 "connections each\n",
			 p->workers, (unsigned long long)sys->fd_limit,
			 (unsigned long long)sys->fd_reserve, (unsigned long long)p->conns_per_worker);
	if (n < 0 || (size_t)n >= len)
		return;
	buf += n;
	len -= (size_t)n;
	char src[96];
	if (o->bind)
		snprintf(src, sizeof(src), "%llu IPv4 + %llu IPv6 (%s)",
			 (unsigned long long)p->sources[ADDRSET_V4],
			 (unsigned long long)p->sources[ADDRSET_V6], addrset_pick_name(o->pick));
	else
		snprintf(src, sizeof(src), "the kernel's choice (no --bind): 1 per destination");
	n = snprintf(buf, len, "  sources     %s\n  ports       %u-%u%s\n", src, p->ports.lo,
		     p->ports.hi,
		     o->pick == ADDRSET_PERMUTATION ? " (permutation: named at bind)"
		     : p->sliced ? (p->explicit_ports ? " sliced per worker, named at bind"
						      : " sliced per worker (IP_LOCAL_PORT_RANGE)")
				 : " shared, chosen by the kernel");
	if (n < 0 || (size_t)n >= len)
		return;
	buf += n;
	len -= (size_t)n;
	n = snprintf(buf, len, "  busiest     %llu connections on one (source, destination) pair of "
		     "%llu available%s\n",
		     (unsigned long long)p->pair_need, (unsigned long long)p->pair_capacity,
		     o->pick == ADDRSET_PERMUTATION ? " (address, port) pairs" : " ports");
	if (n < 0 || (size_t)n >= len || o->transport != TRANSPORT_UDP)
		return;
	buf += n;
	len -= (size_t)n;
	n = snprintf(buf, len,
		     "  udp         %llu connected sockets per worker, one file each; each holds its "
		     "own (source, port) for every destination (UDP autobind never shares one)%s;\n"
		     "              answers wait in each socket's SO_RCVBUF (%llu bytes, net.core."
		     "rmem_default: ~%llu small datagrams) for pipeline %u\n",
		     (unsigned long long)p->conns_per_worker,
		     o->pick == ADDRSET_PERMUTATION ? ", except the ports surge names (permutation)" : "",
		     (unsigned long long)plan_udp_rcvbuf(), (unsigned long long)(plan_udp_rcvbuf() / 832),
		     o->pipeline);
	if (n < 0 || (size_t)n >= len || !o->tcp_fallback)
		return;
	snprintf(buf + n, len - (size_t)n,
		 "  fallback    truncated answers are asked again over TCP: up to %llu more "
		 "file%s per worker (one connection per destination)\n",
		 (unsigned long long)o->ndests, o->ndests == 1 ? "" : "s");
}

uint64_t plan_udp_rcvbuf(void)
{
	FILE *f = fopen("/proc/sys/net/core/rmem_default", "r");
	unsigned long long v = 212992; /* Linux's default */
	if (f) {
		if (fscanf(f, "%llu", &v) != 1)
			v = 212992;
		fclose(f);
	}
	return v;
}

/* ---- probing the machine ---- */

static int read_ports(struct addrset_ports *out)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
	unsigned lo, hi;
	int rc = -EINVAL;

	if (!f)
		return -errno;
	if (fscanf(f, "%u %u", &lo, &hi) == 2 && lo >= 1 && lo <= hi && hi <= 65535) {
		out->lo = (uint16_t)lo;
		out->hi = (uint16_t)hi;
		rc = 0;
	}
	fclose(f);
	return rc;
}

static uint64_t open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	uint64_t n = 0;
	struct dirent *e;

	if (!d)
		return 3;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n > 0 ? n - 1 : 0; /* not the directory's own descriptor */
}

int plan_system_probe(struct plan_system *sys)
{
	struct rlimit rl = {1024, 1024};
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	memset(sys, 0, sizeof(*sys));
	getrlimit(RLIMIT_NOFILE, &rl);
	sys->fd_limit = rl.rlim_max == RLIM_INFINITY ? (1u << 20) : rl.rlim_max;
	sys->fd_reserve = open_fds() + PLAN_WORKER_FDS;
	if (read_ports(&sys->sys_ports) < 0) {
		sys->sys_ports.lo = 32768;
		sys->sys_ports.hi = 60999;
	}
	sys->cpus = cpus > 0 ? (uint32_t)cpus : 1;
	/* SURGE_NO_PORT_RANGE=1 plays an older kernel, so the explicit-port
	 * fallback is tested on new ones. */
	const char *force = getenv("SURGE_NO_PORT_RANGE");
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		uint32_t range = (uint32_t)sys->sys_ports.hi << 16 | sys->sys_ports.lo;
		sys->port_range_option =
			setsockopt(fd, IPPROTO_IP, IP_LOCAL_PORT_RANGE, &range, sizeof(range)) == 0;
		close(fd);
	}
	if (force && strcmp(force, "1") == 0)
		sys->port_range_option = false;
	return 0;
}

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr *b)
{
	if (a->ss_family != b->sa_family)
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		      &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
}

/* 0 when a can be bound here: configured on an interface (fast path), or
 * bindable (a local route, all of 127.0.0.0/8 or an AnyIP prefix, makes an
 * address bindable without listing it). Else -errno from bind(): run time
 * would fail every connect from a with it. -EADDRNOTAVAIL is an address not
 * here; any other (EINVAL for a link-local IPv6 address, which needs an
 * interface scope, EACCES from a policy) one this machine refuses. */
static int bindable(const struct sockaddr_storage *a, socklen_t len, const struct ifaddrs *ifs)
{
	bool link_local = a->ss_family == AF_INET6 &&
			  IN6_IS_ADDR_LINKLOCAL(&((const struct sockaddr_in6 *)a)->sin6_addr);

	/* A link-local address is configured and still not bindable as given. */
	for (const struct ifaddrs *i = ifs; i && !link_local; i = i->ifa_next)
		if (i->ifa_addr && same_addr(a, i->ifa_addr))
			return 0;
	int fd = socket(a->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	if (fd < 0)
		return 0; /* cannot tell; run time will count it */
	setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	int rc = bind(fd, (const struct sockaddr *)a, len) == 0 ? 0 : -errno;
	close(fd);
	/* Short of memory, or (port 0) nothing that lasts: cannot tell. */
	if (rc == -ENOBUFS || rc == -ENOMEM || rc == -EADDRINUSE || rc == -EINTR)
		return 0;
	return rc;
}

/* The interface whose network holds a, for the `ip addr add` line; else the
 * first interface up with an address of that family; else lo. */
static const char *iface_for(const struct sockaddr_storage *a, const struct ifaddrs *ifs)
{
	for (const struct ifaddrs *i = ifs; i; i = i->ifa_next) {
		if (!i->ifa_addr || !i->ifa_netmask || i->ifa_addr->sa_family != a->ss_family)
			continue;
		const uint8_t *x, *y, *m;
		size_t n;
		if (a->ss_family == AF_INET) {
			x = (const uint8_t *)&((const struct sockaddr_in *)a)->sin_addr;
			y = (const uint8_t *)&((const struct sockaddr_in *)i->ifa_addr)->sin_addr;
			m = (const uint8_t *)&((const struct sockaddr_in *)i->ifa_netmask)->sin_addr;
			n = 4;
		} else {
			x = (const uint8_t *)&((const struct sockaddr_in6 *)a)->sin6_addr;
			y = (const uint8_t *)&((const struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
			m = (const uint8_t *)&((const struct sockaddr_in6 *)i->ifa_netmask)->sin6_addr;
			n = 16;
		}
		size_t k = 0;
		while (k < n && (x[k] & m[k]) == (y[k] & m[k]))
			k++;
		if (k == n)
			return i->ifa_name;
	}
	for (const struct ifaddrs *i = ifs; i; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == a->ss_family &&
		    (i->ifa_flags & IFF_UP) && !(i->ifa_flags & IFF_LOOPBACK))
			return i->ifa_name;
	return "lo";
}

/* Why bind() refused a, for a person. */
static const char *unbindable_why(const struct sockaddr_storage *a, int e, char *buf, size_t len)
{
	if (a->ss_family == AF_INET6 &&
	    IN6_IS_ADDR_LINKLOCAL(&((const struct sockaddr_in6 *)a)->sin6_addr))
		return "link-local: bind() takes one only with an interface scope, and surge does "
		       "not support link-local sources; bind a global or unique-local address";
	snprintf(buf, len, "bind(): %s", strerror(e));
	return buf;
}

long plan_check_addresses(const struct addrset *set, char *err, size_t errlen)
{
	struct ifaddrs *ifs = NULL;
	struct sockaddr_storage shown[MISSING_SHOWN], refused[MISSING_SHOWN];
	int refused_errno[MISSING_SHOWN];
	long missing = 0, nrefused = 0;
	uint64_t checked = 0;
	size_t off = 0;
	int n;

	if (getifaddrs(&ifs) < 0)
		return -errno;
	err[0] = '\0';
	for (int f = 0; f < ADDRSET__FAMILIES; f++) {
		uint64_t cnt = addrset_size(set, f);
		uint64_t step = cnt > CHECK_MAX ? cnt / CHECK_MAX : 1;
		for (uint64_t i = 0; i < cnt; i += step) {
			struct sockaddr_storage a;
			socklen_t len;
			if (addrset_at(set, f, i, &a, &len) < 0)
				break;
			checked++;
			int rc = bindable(&a, len, ifs);
			if (rc == -EADDRNOTAVAIL) {
				if (missing < MISSING_SHOWN)
					shown[missing] = a;
				missing++;
			} else if (rc < 0) {
				if (nrefused < MISSING_SHOWN) {
					refused[nrefused] = a;
					refused_errno[nrefused] = -rc;
				}
				nrefused++;
			}
			if (i + step < i)
				break;
		}
	}
	if (missing) {
		char txt[INET6_ADDRSTRLEN];
		n = snprintf(err, errlen, "%ld of %llu bind address%s checked %s not configured "
				 "on this machine:", missing, (unsigned long long)checked,
				 checked == 1 ? "" : "es", missing == 1 ? "is" : "are");
		off = n > 0 ? (size_t)n : 0;
		for (long i = 0; i < missing && i < MISSING_SHOWN && off < errlen; i++) {
			addrset_ntop(&shown[i], txt, sizeof(txt));
			n = snprintf(err + off, errlen - off, " %s", txt);
			off += n > 0 ? (size_t)n : 0;
		}
		if (missing > MISSING_SHOWN && off < errlen) {
			n = snprintf(err + off, errlen - off, " ...");
			off += n > 0 ? (size_t)n : 0;
		}
		for (long i = 0; i < missing && i < MISSING_SHOWN && off < errlen; i++) {
			bool v6 = shown[i].ss_family == AF_INET6;
			addrset_ntop(&shown[i], txt, sizeof(txt));
			n = snprintf(err + off, errlen - off, "\n  fix: ip %saddr add %s/%d dev %s%s",
				     v6 ? "-6 " : "", txt, v6 ? 128 : 32, iface_for(&shown[i], ifs),
				     v6 ? " nodad" : "");
			off += n > 0 ? (size_t)n : 0;
		}
		/* IPv6 binds an address of a local route only with nonlocal
		 * binding on (checked on 6.18: the route alone gives EADDRNOTAVAIL). */
		if (missing > MISSING_SHOWN && off < errlen && shown[0].ss_family == AF_INET6) {
			n = snprintf(err + off, errlen - off,
				     "\n  (and %ld more; for a whole block, e.g. `ip -6 route add local "
				     "2001:db8::/64 dev lo` and `sysctl -w net.ipv6.ip_nonlocal_bind=1` "
				     "make every address in it bindable)",
				     missing - MISSING_SHOWN);
			off += n > 0 ? (size_t)n : 0;
		} else if (missing > MISSING_SHOWN && off < errlen) {
			n = snprintf(err + off, errlen - off,
				     "\n  (and %ld more; for a whole block, e.g. `ip route add "
				     "local 10.0.1.0/24 dev lo` makes every address in it "
				     "bindable)", missing - MISSING_SHOWN);
			off += n > 0 ? (size_t)n : 0;
		}
	}
	/* Present or not, bind() refuses these: every connect from them would
	 * fail the same way, so the run is refused before traffic too. */
	if (nrefused && off < errlen) {
		char txt[INET6_ADDRSTRLEN], why[128];
		n = snprintf(err + off, errlen - off,
			     "%s%ld of %llu bind address%s checked cannot be bound here:",
			     off ? "\n" : "", nrefused, (unsigned long long)checked,
			     checked == 1 ? "" : "es");
		off += n > 0 ? (size_t)n : 0;
		for (long i = 0; i < nrefused && i < MISSING_SHOWN && off < errlen; i++) {
			addrset_ntop(&refused[i], txt, sizeof(txt));
			const char *w = unbindable_why(&refused[i], refused_errno[i], why,
						       sizeof(why));
			n = snprintf(err + off, errlen - off, "%s %s (%s)", i ? "," : "", txt, w);
			off += n > 0 ? (size_t)n : 0;
		}
		if (nrefused > MISSING_SHOWN && off < errlen)
			snprintf(err + off, errlen - off, " and %ld more",
				 nrefused - MISSING_SHOWN);
	}
	freeifaddrs(ifs);
	return missing + nrefused;
}
