/*
 * shard: one run split over N machines (`--shard K/N`, `--start-at`). A
 * shard is the worker split one level up: it takes every N-th request of the
 * global schedule and of the connections (worker.h slot), its own even slice
 * of each family's source addresses (all of them when a family has fewer than
 * N, then a disjoint slice of the port range), and a seed of its own for
 * random choices; the schedule's seed stays the run's. This file parses the
 * flags, reads the schedulers' variables, agrees on a start time through a
 * shared file, and shapes the plan's view of one shard's share.
 */
#ifndef SURGE_SHARD_H
#define SURGE_SHARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "options.h"

/* Shards at most: far beyond any cluster a load test needs, and small
 * enough that shards x workers fits the 32-bit worker slot. */
#define SHARD_MAX 100000

/* "K/N" (1-based K), or "auto": the first complete set of
 * SLURM_ARRAY_TASK_ID + SLURM_ARRAY_TASK_COUNT (less SLURM_ARRAY_TASK_MIN),
 * SLURM_PROCID + SLURM_NTASKS, JOB_COMPLETION_INDEX + SURGE_SHARD_COUNT,
 * PARALLEL_SEQ (1-based) + SURGE_SHARD_COUNT, read through getenv. Returns 0
 * with *index (0-based) and *count, or -EINVAL with what to do in err; from
 * names the source ("SLURM_ARRAY_TASK_ID=2 of SLURM_ARRAY_TASK_COUNT=4"). */
int shard_parse(const char *arg, uint32_t *index, uint32_t *count, char *from, size_t fromlen,
		char *err, size_t errlen);

/* "--start-at": "1767225600" or "1767225600.5" (epoch seconds), "+10s"
 * (from now), or "+10s@FILE": the first shard to get there creates FILE
 * atomically (written aside, then link()ed: it appears whole or not at all)
 * holding now + 10 s; the others read it. now_epoch is the wall clock.
 * Returns 0 and *epoch, or -EINVAL (syntax, a time already past, an
 * unreadable FILE) with what to do in err. */
int shard_start_at(const char *arg, double now_epoch, double *epoch, char *err, size_t errlen);

/* Narrows o to this shard where the workers cannot: when shards share a
 * source address, o->ports becomes the shard's slice of the range (shard k
 * takes the k-th of N contiguous slices; its workers split that). A
 * permutation walk is already disjoint (its positions are taken by slot).
 * Returns 0, or -E2BIG (fewer ports than shards) with err filled. */
int shard_apply(struct options *o, char *err, size_t errlen);

/* This shard's share of the run, as the plan and the doctor see it:
 * connections, connect rate and request rate divided as the slots divide
 * them.
 * view is a shallow copy of o (its rate_segs are its own: free them with
 * shard_view_free). 0 or -ENOMEM. */
int shard_view(const struct options *o, struct options *view);
void shard_view_free(struct options *view);

/* Connections of total that shard k of n takes (every n-th). */
uint32_t shard_share(uint32_t total, uint32_t k, uint32_t n);

/* Worker k of count's place in the whole run's split of the schedule and
 * of requests = N (pacer.h, quota.h): every shard's workers interleave, so
 * the shards sum to the unsharded run. */
uint32_t shard_slot(const struct options *o, uint32_t k);
uint32_t shard_slots(const struct options *o, uint32_t count);

/* The addresses this shard binds, as a set of their own in *out (free with
 * addrset_free): its slice of o->bind with round-robin and random
 * (addrset_slice), every address with permutation (its walk is split by
 * position, so every shard binds the whole set), all of them when not
 * sharded. What its machine must have. o->bind must be set. 0 or -ENOMEM. */
int shard_sources(const struct options *o, struct addrset *out);

/* Whether the shards of o share a source address of some family (no bind
 * set, or a family with fewer addresses than shards): their ports must then
 * be disjoint slices. */
bool shard_shares_sources(const struct options *o);

/* What this shard asked, as its reports say: its connections (the run's
 * when not sharded), and the factor its rates are the run's times (1/N). */
uint32_t shard_connections(const struct options *o);
double shard_rate_scale(const struct options *o);

/* The flags as the command line gave them (cli.h pairs "shard",
 * "start_at", "shard_thresholds"). */
struct shard_flags {
	uint32_t index, count; /* count 0: no --shard */
	char from[160];	       /* where they came from, for the header */
	bool judge;	       /* --shard-thresholds */
	const char *start_arg; /* --start-at as written, or NULL */
	double start_at;       /* its epoch seconds, or 0 */
};

/* Takes those pairs out of ov (the rest keep their order, *nov shrinks) and
 * parses them; --start-at last, so a bad command line creates no start file.
 * 0, or -EINVAL with what to do in err (a usage error). */
int shard_take_flags(const char **ov, size_t *nov, struct shard_flags *out, char *err,
		     size_t errlen);
/* Copies them into o (after the scenario loader filled it). */
void shard_flags_apply(const struct shard_flags *f, struct options *o);

#endif
