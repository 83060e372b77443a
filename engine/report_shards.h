/*
 * report_shards: what `surge report` makes of several logs of one run. The
 * shards of a `--shard K/N` run each recorded their own share (connections,
 * rate) and "shard K/N": the merge asks for the sum of the shards present,
 * and says which of the N are missing or read twice. Logs of runs without
 * --shard add up the same way, whether they ran at the same time (started
 * within the shortest one's duration) or one after another: their seconds
 * are overlaid from each log's start, so what they asked is too. A merge of
 * open- and closed-model runs rates only the open ones' requests.
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
	bool separate;    /* logs without --shard run at different times */
};

/* Reads the per-log parameters of l and turns o (filled from the first log)
 * and r into what the logs asked together: o->max_connections and
 * o->rate_segs summed, r->workers summed, r->shards_* filled. Notes about missing or doubled
 * shards go to note (one line each, naming shard and log). Returns 0 with
 * *out filled, or -EINVAL (logs of different sharded runs: another shard
 * count, scenario, scenario total, duration or start; shards mixed with logs
 * that are not; a "shard" parameter that does not read) with err naming the
 * log that is from another run, or -ENOMEM. */
int report_shards_merge(const struct hlog *l, struct options *o, struct run_result *r,
			struct report_shards *out, FILE *note, char *err, size_t errlen);
/* The requests the achieved rate (sent / intended) counts: every one, or in
 * a merge of open- and closed-model runs those of the open ones. */
int64_t report_shards_sent_paced(const struct run_result *r);

#endif
