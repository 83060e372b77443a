/*
 * plan: before any traffic, decide how many workers a run needs and check that
 * it can fit this machine — descriptors per process, ports per (source,
 * destination) pair, the kernel's port range, bind addresses configured here.
 * A refusal names the arithmetic and the fix; `surge doctor` prints the same.
 */
#ifndef SURGE_PLAN_H
#define SURGE_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addrset.h"
#include "options.h"

/* Descriptors a worker holds besides its connections: epoll, libev's signal
 * pipe and signalfd, the pacer's timerfd, the report pipe, and room for Lua
 * files and the resolver. Added to what the coordinator holds at fork. */
#define PLAN_WORKER_FDS 16
/* Worker processes at most (lua/surge/scenario.lua MAX_WORKERS says the
 * same to -w): beyond it they only contend for the CPUs, and the fork of
 * each holds Ctrl-C back. More connections need more files per process. */
#define PLAN_MAX_WORKERS 1024

/* The machine, as the plan sees it (plan_system_probe fills it; tests make
 * their own). */
struct plan_system {
	uint64_t fd_limit;              /* hard RLIMIT_NOFILE: what each worker may raise to */
	uint64_t fd_reserve;            /* descriptors a worker holds besides connections */
	struct addrset_ports sys_ports; /* net.ipv4.ip_local_port_range */
	uint32_t cpus;
	bool port_range_option;         /* the kernel takes IP_LOCAL_PORT_RANGE (Linux >= 6.3) */
};

/* An open-model run's default workers: one per this many requests/s of its
 * peak rate. A worker of a fixed-rate run batches what falls due together
 * (one wake-up, one write per connection); split over more workers than the
 * rate needs, each batches less and the run costs more CPU per answer, not
 * less (tests/bench/bench_open.py: 5 connections at 100k/s cost 1.8x the CPU
 * on 2 workers as on 1). One worker keeps 100k/s of DNS over TCP at ~half a
 * core here. */
#define PLAN_OPEN_RATE_PER_WORKER 150000.0

/* The most requests a second one worker's schedule may hold: past it the
 * pacer's own loop (an intended time drawn, sent or dropped, per request)
 * cannot keep up with the clock and the worker never returns to its loop,
 * so it could not be stopped. A worker sends ~1M/s at best; Poisson
 * arrivals cost each worker the whole run's rate (pacer.h). */
#define PLAN_MAX_SCHEDULE_RATE 10e6

/* Workers an open-model run's peak rate asks for (0: closed model). */
uint64_t plan_open_workers(const struct options *o);

/* Reads the limits, the port range and CPUs, and probes IP_LOCAL_PORT_RANGE
 * once. Returns 0 (unreadable facts get Linux defaults). */
int plan_system_probe(struct plan_system *sys);

struct plan {
	uint32_t workers;
	uint64_t conns_per_worker;     /* the largest worker's share */
	struct addrset_ports ports;    /* what sockets draw from: the run's range, or the
					  system's (kernel-chosen ports, and permutation) */
	bool explicit_ports;           /* ports named at bind(): no per-socket range */
	bool sliced;                   /* each worker has its own slice of ports */
	uint64_t pair_need;            /* most connections on one (source, destination)
					  pair, summed over workers that share its ports */
	uint64_t pair_capacity;        /* ports that pair can draw from */
	uint64_t sources[ADDRSET__FAMILIES]; /* sources in use per family (1: the kernel's) */
	uint64_t sources_needed;       /* fewest sources that would fit (0: not applicable) */
	char notice[256];              /* something the user should know, or "" */
};

/* Plans o's run on sys. o->workers (if o->workers_given), o->bind, o->pick,
 * o->ports, o->dests and o->max_connections are read. Returns 0 with *out
 * filled, or -E2BIG (does not fit: fds, ports, permutation space), -EINVAL
 * (a destination without a source of its family; ports outside the system
 * range; permutation without bind) with the arithmetic and the fix in err. */
int plan_make(const struct options *o, const struct plan_system *sys, struct plan *out,
	      char *err, size_t errlen);

/* Source addresses that conns connections to ndests destinations need when
 * each has `ports` ports: ceil(ceil(conns / ndests) / ports), at least 1. */
uint64_t plan_sources_needed(uint64_t conns, uint64_t ndests, uint64_t ports);

/* Checks that every bind address can be bound here (on an interface, or
 * covered by a local route, and bind() takes it: a link-local IPv6 address
 * does not); sets of more than 65536 addresses are checked on an even sample.
 * Returns the number of addresses found missing or refused by bind() (0: all
 * bindable) with the lists, the `ip addr add` commands and bind()'s reasons
 * in err, or -errno. */
long plan_check_addresses(const struct addrset *set, char *err, size_t errlen);

/* net.core.rmem_default: a new UDP socket's receive buffer in bytes. */
uint64_t plan_udp_rcvbuf(void);

/* One line per fact the plan used and the verdict, for `surge doctor`. */
void plan_describe(const struct options *o, const struct plan_system *sys, const struct plan *p,
		   char *buf, size_t len);

#endif
