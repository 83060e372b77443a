/*
 * collector: the coordinator's one context while a run lasts — the workers'
 * pipes and pids, the merged results, and how the run is being stopped.
 * run.c owns it; live_hlog.c and stopping.c act on it.
 */
#ifndef SURGE_COLLECTOR_H
#define SURGE_COLLECTOR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <ev.h>

#include "msglog.h"
#include "options.h"
#include "run.h"

struct refresh;
struct ipc_reader;

/* What the coordinator knows of one worker from its pipe. */
struct collector_worker {
	uint32_t covered;  /* seconds it has reported (0 .. covered-1) */
	int64_t inflight;  /* requests in flight at the end of its last reported second */
	bool done;         /* IPC_DONE came: it finished, whatever its exit code */
	bool lost;         /* its pipe closed without IPC_DONE: it died mid-run */
	uint64_t left;         /* past the end: connections + requests it has left */
	uint64_t progress_at;  /* when `left` last fell (0: no report yet) */
	bool ended_by_requests; /* requests = N: its share ended its run ... */
	uint64_t end_ns;        /* ... this long after the start */
	uint64_t cpu_ns, cpu_at; /* its CPU time (user + sys) when first silent, and when read */
	uint64_t lua_calls;      /* its Lua call count then (lua_engine_count_calls) */
};

struct collector {
	struct run_result *res;
	const struct options *opt;
	struct ev_loop *loop;
	ev_io *pipes;
	int *ctl; /* write ends of the workers' control pipes (-1: closed) */
	struct refresh *rf;
	struct ipc_reader *readers;
	pid_t *pids;
	uint32_t nworkers, open_pipes;
	/* The seconds not yet whole, in full: pending[i] is second
	 * next_progress + i, reports[i] how many workers have sent it. Once
	 * every worker has (or it falls SETTLE_LAG_MAX behind the newest), it
	 * is printed, logged and moved into res->series. */
	uint32_t next_progress; /* next second to print: the seconds before it are settled */
	struct stats *pending;
	uint32_t *reports;
	size_t npending, cappending;
	int64_t late; /* intervals that came for a settled second: in the totals only */
	bool series_failed; /* res->series lost a second (said once) */
	bool progress;
	int terms_sent; /* stops sent to the workers: 1 drain (SIGTERM), 2 at once (SIGUSR1), 3 killed */
	uint32_t dead_seconds; /* settled seconds in a row with no connection open (-n alone) */
	int64_t dead_failed;   /* connects that had not opened when those seconds began */
	ev_signal sigint, sigterm;
	ev_timer watch;      /* workers that stop reporting, or do not stop */
	uint64_t *last_heard; /* per worker: when its last interval came (CLOCK_MONOTONIC) */
	/* SAMPLED: silent past the grace, its CPU time noted to tell a loop
	 * from a starved CPU at the next check. */
	enum stuck { STUCK_NO, STUCK_SAMPLED, STUCK_WARNED, STUCK_KILLED } *stuck;
	int *reaped; /* wait status + 1 of a worker already reaped; 0: not yet */
	uint64_t *lua_calls; /* per worker, a shared mapping: odd while a Lua call runs */
	struct collector_worker *wk;
	uint64_t deadline;   /* workers still running after this are killed */
	int live_hlog; /* --hlog as the run goes (-1: none); replaced whole at the end */
	struct msglog msgs; /* what workers said, each kind printed once */
};

/* Before a line of its own on stderr: erases the progress line on a TTY. */
void collector_clear_line(const struct collector *col);

/* --hlog as the run goes (live_hlog.c): the header now, each whole second
 * once every worker has sent it, closed before the final log replaces it. */
void live_hlog_open(struct collector *col);
/* lines: the second's interval lines (hlog_interval_lines). */
void live_hlog_second(struct collector *col, const char *lines, size_t len);
/* The run is still going: the live log's time of change is made now, so a
 * reader tells a log still being written (a drain, a lagging worker) from one
 * its run left behind (report_cut.h). Called at least once a second. */
void live_hlog_beat(struct collector *col);
void live_hlog_close(struct collector *col);

/* How a run stops (stopping.c): Ctrl-C and SIGTERM in stages, thresholds
 * marked abort, and the watchdog for workers that stop answering. */
void stopping_start(struct collector *col);
/* How long a worker past its drain may go without progress before it is
 * killed: 5 s, or SURGE_STUCK_GRACE_MS (for tests). */
uint64_t stopping_grace_ns(void);
/* Worker k said what it has left to close and drain (IPC_PROGRESS). */
void stopping_progress(struct collector *col, uint32_t k, const void *payload, size_t len);
void stopping_check_abort(struct collector *col, uint32_t second);
/* After each whole second s of a run bounded only by its count (-n, no
 * duration): gives up once no connection has been open, and connects were
 * tried, for stopping_unreachable_ns() — a mistyped port or a server that
 * died would otherwise be retried for a year. */
void stopping_check_unreachable(struct collector *col, uint32_t second, const struct stats *s);
/* That time: 10 s, or twice the connect timeout when longer, so a connect
 * that is slow but works is never cut (SURGE_UNREACHABLE_MS, for tests). */
uint64_t stopping_unreachable_ns(const struct options *o);
/* Worker k's pipe closed without IPC_DONE: it is reaped and named with what
 * ended it; what it had in flight counts as unfinished. */
void stopping_worker_lost(struct collector *col, uint32_t k);
/* Workers whose report of this second is to be waited for: those still
 * running, and those gone after they sent it. */
uint32_t stopping_reporters(const struct collector *col, uint32_t second);
/* Before a second is shown: the share of the schedule that lost workers
 * were to send in it is added to its intended count, so the run keeps the
 * schedule's total and shows the shortfall. */
void stopping_add_lost_share(struct collector *col, uint32_t second, struct stats *s);
/* After the workers are reaped: requests = N ended the run when every
 * worker said its share did (IPC_DONE); the run's elapsed time is then until
 * the last share was sent. */
void stopping_ended_by_requests(struct collector *col);

#endif
