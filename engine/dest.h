/*
 * dest: the destination table of a run — every address of every target. It
 * only grows, so an index names one address for the whole run (connections
 * and statistics keep it). An entry is active (new connections may go there)
 * or draining (its name no longer resolves to it). The coordinator owns the
 * truth and ships the whole table to the workers; each picks round-robin.
 */
#ifndef SURGE_DEST_H
#define SURGE_DEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "options.h"
#include "stats.h"

#define DEST_NONE UINT32_MAX
/* Per-destination statistics are named "dest:<label>:<what>". */
#define DEST_STAT_PREFIX "dest:"

struct dest {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	uint32_t target; /* index into options.targets */
	bool active;
	char label[64];  /* "127.0.0.2:7000", "[2001:2::5]:7000" */
	int id_conns, id_failed, id_latency; /* named stats ids in a worker; -1: none */
};

struct dest_table {
	struct dest *d;
	uint32_t n, cap;
	uint32_t *act;   /* indices of the active entries, ascending */
	uint32_t nact;
	uint64_t picks;  /* connections this table has handed out */
	uint32_t *owed;  /* picks promised to newly joined entries, served first */
	uint32_t nowed, capowed;
};

/* An empty table; dest_table_free releases it (NULL-safe, idempotent). */
void dest_table_init(struct dest_table *t);
void dest_table_free(struct dest_table *t);

/* Makes target's addresses exactly addrs[0..n): new ones are appended as
 * active, ones missing from addrs become draining, returning ones active
 * again. Counts what changed in *added / *removed (either may be NULL).
 * Returns 0 or -ENOMEM (the table is then unchanged). */
int dest_table_update(struct dest_table *t, uint32_t target, const struct sockaddr_storage *addrs,
		      size_t n, uint32_t *added, uint32_t *removed);

/* The destination for the next new connection: round-robin over the active
 * entries as if one counter served all `stride` workers (this is worker
 * `offset`), so W workers together spread evenly. DEST_NONE if none is active. */
uint32_t dest_table_pick(struct dest_table *t, uint32_t stride, uint32_t offset);

/* Promises the next new connection to entry i (ahead of the round-robin):
 * how a worker moves connections onto an address that has just joined.
 * Returns 0 or -ENOMEM. */
int dest_table_owe(struct dest_table *t, uint32_t i);

/* The whole table as bytes for IPC (malloc'd, caller frees). Returns 0 or -ENOMEM. */
int dest_table_encode(const struct dest_table *t, uint8_t **buf, size_t *len);
/* Applies an encoded table. Entries already known keep their index (the
 * update must extend the table, never reorder it). Returns 0, -EINVAL on
 * malformed or inconsistent input (table unchanged), or -ENOMEM. */
int dest_table_decode(struct dest_table *t, const uint8_t *buf, size_t len);

/* Copies the table into options' plain list (what the header and reports
 * print). Returns 0 or -ENOMEM. */
int dest_table_to_options(const struct dest_table *t, struct options *o);
/* Fills t from options' list, all active (a worker's starting point). */
int dest_table_from_options(struct dest_table *t, const struct options *o);

/* Registers the named statistics of entries that have none yet. Returns 0
 * or -ENOMEM. */
int dest_table_register_stats(struct dest_table *t, struct stats *s);
void dest_record_open(const struct dest_table *t, uint32_t i, struct stats *s);
void dest_record_failed(const struct dest_table *t, uint32_t i, struct stats *s);
void dest_record_latency(const struct dest_table *t, uint32_t i, struct stats *s, int64_t ns);

#endif
