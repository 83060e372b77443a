/*
 * report_shards: what `surge report` makes of several logs of one run. The
 * shards of a `--shard K/N` run each recorded their own share (connections,
 * rate) and "shard K/N": the merge asks for the sum of the shards present,
 * and says which of the N are missing or read twice. Logs of runs without
 * --shard that ran at the same time (started within the shortest one's
 * duration) add up the same way; logs run one after another keep the first's
 * settings.
 */
#ifndef SURGE_REPORT_SHARDS_H
#define SURGE_REPORT_SHARDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "hlog.h"
#include "options.h"
#include "run.h"

struct report_shards {
	uint32_t count;	  /* N of the shards' "shard K/N" (0: the logs are not shards) */
	uint32_t present; /* distinct shards read */
	uint32_t missing; /* of the N, not read */
	uint32_t doubled; /* read from more than one log */
	bool concurrent;  /* logs without --shard that ran at the same time */
};

/* Reads the per-log parameters of l and turns o (filled from the first log)
 * and r into what the logs asked together: o->max_connections and
 * o->rate_segs summed, r->workers summed, r->shards_* filled. Notes about missing or doubled
 * shards go to note (one line each, naming shard and log). Returns 0 with
 * *out filled, or -EINVAL (logs of different sharded runs, shards mixed with
 * logs that are not, a "shard" parameter that does not read) with err naming
 * the logs, or -ENOMEM. */
int report_shards_merge(const struct hlog *l, struct options *o, struct run_result *r,
			struct report_shards *out, FILE *note, char *err, size_t errlen);

#endif
