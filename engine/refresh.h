/*
 * refresh: keeps the run's destinations in step with DNS. Before the fork it
 * resolves every target once (a failure stops the run early, with the name
 * and the resolver); during the run the coordinator re-resolves each name at
 * its TTL (or resolve_every) and ships the changed table to the workers over
 * their control pipes; each worker applies it: new addresses join the
 * rotation, removed ones drain.
 *
 * Why the coordinator resolves, not each worker: one query per name per
 * period whatever the worker count, one answer for all (a round-robin DNS
 * server would otherwise give workers different sets), one log line per
 * change, and the table indices that statistics use agree everywhere.
 */
#ifndef SURGE_REFRESH_H
#define SURGE_REFRESH_H

#include <ev.h>
#include <stddef.h>
#include <stdint.h>

#include "dest.h"
#include "options.h"

struct refresh;
struct worker;

/* Resolves every target of o with c-ares (on a private loop: nothing
 * blocks), fills o->dests and returns a refresh that remembers the table and
 * the TTLs. Returns 0 and *out; -EINVAL when the resolver settings are wrong
 * (err says which); -ENOENT when a name does not resolve (err names it, the
 * family, the resolver and why); -ENOMEM / -EIO. */
int refresh_resolve(struct options *o, struct refresh **out, char *err, size_t errlen);
/* Stops re-resolution, cancels pending lookups, frees. NULL-safe. */
void refresh_free(struct refresh *rf);

/* In the coordinator, after the fork: re-resolves the names (not literals)
 * on loop. ship(arg, buf, len) gets each changed table (dest_table_encode
 * form, for IPC_DESTS); say(arg, line) each line for people (a change, a name
 * that stopped resolving). start_ns stamps log lines with the run's second.
 * Returns 0 or -errno (err filled). */
int refresh_start(struct refresh *rf, struct ev_loop *loop, uint64_t start_ns,
		  void (*ship)(void *arg, const uint8_t *buf, size_t len),
		  void (*say)(void *arg, const char *line), void *arg, char *err, size_t errlen);

/* The next re-resolution delay for an answer's TTL: resolve_every when set,
 * else the TTL clamped to at least REFRESH_MIN_NS. */
#define REFRESH_MIN_NS 1000000000ull
uint64_t refresh_period_ns(const struct resolve_config *cfg, uint32_t ttl);

/* In a worker, the updates arrive on its control pipe (worker.c) and the
 * pool applies them (pool_apply_dests). */

#endif
