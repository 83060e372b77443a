/*
 * ipc: framed messages from a worker to the coordinator over a pipe (and
 * destination updates the other way, on a second pipe). One
 * writer per pipe, so a message is never interleaved with another; writes
 * block (the coordinator always reads), reads are incremental.
 */
#ifndef SURGE_IPC_H
#define SURGE_IPC_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

enum ipc_type {
	IPC_INTERVAL = 1, /* payload: stats_encode() of one interval */
	IPC_LOG = 2,      /* payload: a line of text for the coordinator's stderr */
	IPC_DONE = 3,     /* the worker finished; payload: uint64 ns it ran */
	IPC_DESTS = 4,    /* coordinator -> worker: dest_table_encode() of the new table */
	IPC_PROGRESS = 5, /* a stopping worker's work left; payload: struct ipc_progress */
};

/* Past the end a worker ships no seconds until it is done; instead it says
 * how much is left, so the coordinator can tell slow from stuck. */
struct ipc_progress {
	uint64_t conns;    /* connections not yet closed (open or connecting) */
	uint64_t inflight; /* requests still waiting for their answer */
};

struct ipc_header {
	uint32_t len; /* payload bytes */
	uint32_t type;
	uint32_t worker;
	uint32_t second; /* IPC_INTERVAL: interval index from the run's start */
};

#define IPC_MAX_PAYLOAD (64u << 20)

/* Writes header and payload whole. Returns 0 or -errno. */
int ipc_send(int fd, uint32_t type, uint32_t worker, uint32_t second, const void *payload,
	     size_t len);

/* Incremental reader: feed it whatever read() returned; it yields whole
 * messages. */
struct ipc_reader {
	struct buf in;
};

/* Appends bytes. Returns 0 or -ENOMEM. */
int ipc_reader_feed(struct ipc_reader *r, const uint8_t *p, size_t n);
/* Next whole message: returns 1 with *h and *payload pointing into the reader
 * (valid until ipc_reader_pop or the next feed), 0 if none is complete yet,
 * -EPROTO on an impossible length. */
int ipc_reader_next(struct ipc_reader *r, struct ipc_header *h, const uint8_t **payload);
/* Drops the message ipc_reader_next returned; call before the next one. */
void ipc_reader_pop(struct ipc_reader *r, const struct ipc_header *h);
void ipc_reader_free(struct ipc_reader *r);

#endif
