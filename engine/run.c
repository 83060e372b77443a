/* run: the coordinator of `surge run`. */
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <ev.h>

#include "churn.h"
#include "cli.h"
#include "clock.h"
#include "collector.h"
#include "ipc.h"
#include "lua_engine.h"
#include "msglog.h"
#include "outpath.h"
#include "plan.h"
#include "quota.h"
#include "samples_file.h"
#include "pool.h"
#include "refresh.h"
#include "report.h"
#include "report_held.h"
#include "series.h"
#include "shard.h"
#include "threshold.h"
#include "tls.h"
#include "worker.h"

static const char run_usage[] =
	"usage: surge run SCENARIO.lua [options]\n"
	"       surge run http://HOST[:PORT]/PATH [options]   (or tcp://HOST:PORT: echo)\n"
	"\n"
	"Runs the load test a scenario file describes, or for a URL the built-in HTTP/1.1\n"
	"GET (echo for tcp://) with 10 connections for 10 s (-n alone: until the count).\n"
	"Every scenario option can be overridden here; the command line wins.\n"
	"\n"
	"  -c, --connections N     connections to keep open (e.g. 200, 25k)\n"
	"  -d, --duration DUR      how long to run (e.g. 30s, 2m); with -n, at most this long\n"
	"  -n, --requests N        exactly N requests (open model: the schedule's first N),\n"
	"                          then drain; without -d the count alone ends the run\n"
	"  -r, --rate R            open model: requests per second in total (e.g. 50k);\n"
	"                          without it each connection sends as fast as answers come\n"
	"  -w, --workers N         worker processes (default: CPUs, more if the\n"
	"                          connections need more file descriptors)\n"
	"  -p, --pipeline N        requests in flight per connection\n"
	"  -t, --timeout DUR       request timeout (default 5s)\n"
	"      --target URL        e.g. tcp://127.0.0.1:7000, [::1]:53, tcp://farm.example:53\n"
	"      --resolver ADDR     DNS server(s) for target names, e.g. 127.0.0.1:5353\n"
	"                          (default: the system's); see also -o family=ipv4|ipv6|any,\n"
	"                          -o resolve_every=30s\n"
	"      --bind ADDRS        source addresses: 10.0.0.1, 10.0.0.1-10.0.0.9,\n"
	"                          10.0.0.0/24, 2001:db8::/120, or a comma list\n"
	"      --ports LO-HI       local ports, sliced between workers (e.g. 40000-49999)\n"
	"      --pick MODE         round-robin (default), random or permutation\n"
	"      --tls               TLS on every target (tls://, rtsps://, https:// always)\n"
	"      --tls-ca FILE       CA certificates (PEM) the server's must chain to\n"
	"      --sni NAME          server name to send and to check the certificate for\n"
	"      --insecure          no certificate check (the report says so)\n"
	"  -o, --option KEY=VALUE  set any scenario option (repeatable)\n"
	"  -e, --env KEY=VALUE     surge.env.KEY in the scenario and its modules (repeatable)\n"
	"  -H, --header 'N: V'     a request header, for a URL run (repeatable, as wrk's -H)\n"
	"      --latency           print the full latency distribution (HdrHistogram format)\n"
	"      --json FILE         write the report as JSON\n"
	"      --hlog FILE         write per-second histograms (HdrHistogram interval log)\n"
	"      --samples FILE      one record per request (binary; surge samples FILE --csv)\n"
	"      --samples-every N   with --samples: record 1 request in N\n"
	"      --html FILE         write a self-contained HTML report\n"
	"                          (FILE '-': that report alone on stdout)\n"
	"      --threshold EXPR    exit 3 unless EXPR holds at the end, e.g.\n"
	"                          'latency.p99<5ms', 'errors.rate<0.1%' (repeatable)\n"
	"      --threshold-abort EXPR  the same, checked every second: the first\n"
	"                          failure stops the run (exit 3, report kept)\n"
	"      --progress          print a progress line every second (default: on a TTY)\n"
	"      --no-progress       never print progress\n"
	"  -q, --quiet             no report on stdout (files are still written)\n"
	"      --shard K/N         run the K-th (from 1) of N disjoint slices of the scenario:\n"
	"                          every N-th request of its schedule, its share of the\n"
	"                          connections, its own slice of the bind addresses (or of\n"
	"                          the ports when shards share an address); merge the\n"
	"                          shards' --hlog files with surge report\n"
	"      --shard auto        K and N from SLURM_ARRAY_TASK_ID/_COUNT, SLURM_PROCID/\n"
	"                          SLURM_NTASKS, JOB_COMPLETION_INDEX or PARALLEL_SEQ (the\n"
	"                          last two with SURGE_SHARD_COUNT=N)\n"
	"      --shard-thresholds  judge the thresholds on this shard alone too (default:\n"
	"                          recorded, judged by surge report on the merge)\n"
	"      --start-at TIME     start traffic at TIME: epoch seconds, +10s from now, or\n"
	"                          +10s@FILE: the first shard writes now+10s to FILE (shared\n"
	"                          storage), every shard starts then\n"
	"  -h, --help              this help\n"
	"\n"
	"Exit status: 0 completed, 1 nothing could be measured, 2 bad command line or\n"
	"scenario, 3 a threshold failed, 4 the plan does not fit this machine,\n"
	"5 a target name did not resolve, 130 interrupted (the report still covers\n"
	"what ran).\n";

/* The plan (plan.c): workers, ports and sources must fit this machine
 * before any traffic; bind addresses must exist here. */
static int plan_run(struct options *o, char *err, size_t errlen)
{
	struct plan_system sys;
	struct plan p;
	struct options v; /* this shard's share (the whole run when not sharded) */
	int rc;

	if ((rc = shard_apply(o, err, errlen)) < 0)
		return rc;
	if (shard_view(o, &v) < 0) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	plan_system_probe(&sys);
	if ((rc = plan_make(&v, &sys, &p, err, errlen)) < 0)
		goto out;
	if (o->bind) {
		/* A shard's machine needs only the addresses it binds: its slice,
		 * or every one with permutation. */
		struct addrset mine;
		if ((rc = shard_sources(o, &mine)) < 0)
			goto out;
		long missing = plan_check_addresses(&mine, err, errlen);
		addrset_free(&mine);
		if (missing > 0) {
			rc = -EADDRNOTAVAIL;
			goto out;
		}
	}
	if (p.notice[0])
		fprintf(stderr, "surge: note: %s\n", p.notice);
	char churn[1024];
	int tw_reuse = churn_tw_reuse();
	if (churn_plan_warning(&v, &p, tw_reuse, churn, sizeof(churn))) {
		if (churn_plan_refuses(&v, tw_reuse)) {
			snprintf(err, errlen, "%s; this kernel will not reuse them here, so the run is "
				 "refused before traffic", churn);
			rc = -EADDRNOTAVAIL;
			goto out;
		}
		fprintf(stderr, "surge: warning: %s\n", churn);
	}
	rc = 0;
	o->workers = p.workers;
	o->explicit_ports = p.explicit_ports;
	if (o->pick == ADDRSET_PERMUTATION)
		o->ports = p.ports; /* the walk names ports: the system range if none given */
out:
	shard_view_free(&v);
	return rc;
}

/* How far behind the newest second the oldest not yet whole may fall: a
 * worker that lags more (a Lua callback stuck in a loop) stops holding
 * everyone's full histograms, ~1 MB a second; its seconds, when they come,
 * count in the totals only, and the run says so. */
#define SETTLE_LAG_MAX 30

/* Second `second` in full until it is settled; NULL once it is (or out of
 * memory). */
static struct stats *pending_at(struct collector *col, uint32_t second)
{
	if (second < col->next_progress)
		return NULL;
	size_t i = second - col->next_progress;
	if (i >= col->cappending) {
		size_t cap = col->cappending ? col->cappending : 4;
		while (cap <= i)
			cap *= 2;
		struct stats *p = realloc(col->pending, cap * sizeof(*p));
		if (!p)
			return NULL;
		col->pending = p;
		uint32_t *r = realloc(col->reports, cap * sizeof(*r));
		if (!r)
			return NULL;
		col->reports = r;
		col->cappending = cap;
	}
	for (; col->npending <= i; col->npending++) {
		if (stats_init(&col->pending[col->npending]) < 0)
			return NULL;
		col->reports[col->npending] = 0;
	}
	return &col->pending[i];
}

/* Said once; the totals stay whole. */
static void series_lost(struct collector *col, uint32_t second, int rc)
{
	if (col->series_failed)
		return;
	col->series_failed = true;
	collector_clear_line(col);
	fprintf(stderr, "surge: warning: cannot keep the per-second series from second %u on "
			"(%s): the totals are complete, the series and --hlog are not\n",
		second + 1, strerror(-rc));
}

/* A worker's second that cannot be taken in whole is left out whole (a
 * partial add would give counts their histograms lack) and counted: the
 * report says the totals miss it, and the run exits 1. */
static void unmerged(struct collector *col, uint32_t k, uint32_t second, int rc)
{
	if (col->res->seconds_unmerged++ > 0)
		return;
	collector_clear_line(col);
	fprintf(stderr, "surge: error: worker %u's second %u could not be merged (%s): the "
			"totals miss it\n", k + 1, second + 1,
		rc == -EINVAL ? "malformed" : strerror(-rc));
}

/* s is worker k's `second`, or NULL when it did not decode (decode_rc). */
static void merge_interval(struct collector *col, uint32_t k, uint32_t second,
			   const struct stats *s, int decode_rc)
{
	int rc = s ? stats_add(&col->res->total, s) : decode_rc;
	bool merged = rc == 0;

	if (!merged)
		unmerged(col, k, second, rc);
	if (second < col->next_progress) {
		col->late += merged;
		return;
	}
	/* Reported either way: the second is not waited for again. */
	struct stats *p = pending_at(col, second);
	if (!p || (merged && (rc = stats_add(p, s)) < 0))
		series_lost(col, second, p ? rc : -ENOMEM);
	if (p)
		col->reports[second - col->next_progress]++;
}

static void print_progress(struct collector *col, uint32_t second, const struct stats *s)
{
	report_held_second(col->res, s);
	if (!col->progress)
		return;
	/* The drain after the last second only collects late answers: it is in
	 * the totals, but a line for it would read like a collapse. */
	if ((uint64_t)second * NS_PER_SEC >= col->opt->duration_ns)
		return;
	report_progress_line(stderr, col->opt, s, second);
}

/* The oldest pending second is done: printed, written to the live --hlog,
 * checked against the abort thresholds, and kept only as the series keeps
 * it. A second no worker sent (a gap before a drain's last interval) is
 * kept empty, so the series stays numbered by second. */
static void settle(struct collector *col, bool final)
{
	struct run_result *r = col->res;
	uint32_t second = col->next_progress;
	const char *lines = NULL;
	size_t len = 0;
	bool reported = col->reports[0] > 0;

	if (reported) {
		stopping_add_lost_share(col, second, &col->pending[0]);
		print_progress(col, second, &col->pending[0]);
	}
	int rc = series_append(r->series, &col->pending[0], &lines, &len);
	if (rc < 0)
		series_lost(col, second, rc);
	if (!final && reported) {
		if (lines)
			live_hlog_second(col, lines, len);
		stopping_check_abort(col, second);
		stopping_check_unreachable(col, second, &col->pending[0]);
	}
	stats_free(&col->pending[0]);
	memmove(col->pending, col->pending + 1, (col->npending - 1) * sizeof(*col->pending));
	memmove(col->reports, col->reports + 1, (col->npending - 1) * sizeof(*col->reports));
	col->npending--;
	col->next_progress++;
}

/* Settles every second all workers have sent, and any that fell too far
 * behind; at the end (final), every second up to the last one reported. */
static void advance_progress(struct collector *col, bool final)
{
	size_t last = col->npending;

	while (last > 0 && col->reports[last - 1] == 0)
		last--;
	while (col->npending > 0 &&
	       (col->reports[0] >= stopping_reporters(col, col->next_progress) ||
		col->npending > SETTLE_LAG_MAX ||
		(final && last > 0))) {
		settle(col, final);
		if (last > 0)
			last--;
	}
}

static void pipe_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct collector *col = ev_userdata(loop);
	uint32_t k = (uint32_t)(io - col->pipes);
	uint8_t buf[65536];
	ssize_t n = read(io->fd, buf, sizeof(buf));

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		ev_io_stop(loop, io);
		close(io->fd);
		stopping_worker_lost(col, k); /* unless it said it was done */
		if (--col->open_pipes == 0)
			ev_break(loop, EVBREAK_ALL);
		else
			advance_progress(col, false); /* its seconds are no longer waited for */
		return;
	}
	ipc_reader_feed(&col->readers[k], buf, (size_t)n);
	struct ipc_header h;
	const uint8_t *payload;
	int rc;
	while ((rc = ipc_reader_next(&col->readers[k], &h, &payload)) == 1) {
		if (h.type == IPC_INTERVAL) {
			struct stats s;
			col->last_heard[k] = clock_ns();
			int drc = stats_decode(payload, h.len, &s);
			merge_interval(col, k, h.second, drc == 0 ? &s : NULL, drc);
			if (drc == 0) {
				if (h.second + 1 > col->wk[k].covered) {
					col->wk[k].covered = h.second + 1;
					/* A worker behind the clock (a starved CPU)
					 * that still ships its seconds is not stuck. */
					col->wk[k].progress_at = col->last_heard[k];
				}
				col->wk[k].inflight = s.gauge[GA_INFLIGHT];
				stats_free(&s);
			}
		} else if (h.type == IPC_DONE) {
			struct quota_done_msg m;
			col->wk[k].done = true;
			/* Its exit (freeing, a sanitizer's leak check) gets a grace of its own. */
			col->wk[k].progress_at = clock_ns();
			col->wk[k].left = 0;
			if (quota_done_decode(payload, h.len, &m) == 0) {
				col->wk[k].ended_by_requests = m.ended_run != 0;
				col->wk[k].end_ns = m.end_ns;
			}
		} else if (h.type == IPC_PROGRESS) {
			stopping_progress(col, k, payload, h.len);
		} else if (h.type == IPC_LOG &&
			   msglog_first(&col->msgs, (const char *)payload, h.len)) {
			collector_clear_line(col);
			fprintf(stderr, "surge: %.*s\n", (int)h.len, (const char *)payload);
		}
		ipc_reader_pop(&col->readers[k], &h);
	}
	if (rc < 0) {
		ev_io_stop(loop, io);
		close(io->fd);
		col->res->worker_failed = true;
		stopping_worker_lost(col, k);
		if (--col->open_pipes == 0)
			ev_break(loop, EVBREAK_ALL);
		else
			advance_progress(col, false);
		return;
	}
	advance_progress(col, false);
}

/* A changed destination table goes to every worker still running. The
 * write may block: a table (24 bytes an address, at most 256 addresses a
 * name) fits a pipe's 64 KiB for any sane target list, and each worker reads
 * its control pipe on every loop iteration. */
static void ship_dests(void *arg, const uint8_t *buf, size_t len)
{
	struct collector *col = arg;

	for (uint32_t k = 0; k < col->nworkers; k++) {
		if (col->ctl[k] < 0)
			continue;
		if (ipc_send(col->ctl[k], IPC_DESTS, k, 0, buf, len) < 0) {
			close(col->ctl[k]); /* that worker has finished */
			col->ctl[k] = -1;
		}
	}
}

void collector_clear_line(const struct collector *col)
{
	if (col->progress && isatty(STDERR_FILENO))
		fputs("\r\033[K", stderr);
}

static void say_line(void *arg, const char *line)
{
	struct collector *col = arg;

	collector_clear_line(col);
	fprintf(stderr, "surge: %s\n", line);
}

/* Undoes a spawn that failed at worker n: the workers already forked are
 * killed and reaped (none may load the target unsupervised) and their pipes
 * closed. */
static void spawn_undo(struct collector *col, int *rfd, uint32_t n)
{
	for (uint32_t k = 0; k < n; k++) {
		kill(col->pids[k], SIGKILL);
		close(rfd[k]);
		close(col->ctl[k]);
		col->ctl[k] = -1;
	}
	for (uint32_t k = 0; k < n; k++)
		while (waitpid(col->pids[k], NULL, 0) < 0 && errno == EINTR)
			;
}

/* In a new worker: it dies with the coordinator (SIGKILL: nobody is left
 * to collect what it measures). The coordinator may have died before the
 * prctl, so the parent is checked after it. 0 or -errno. */
static int worker_tie_to(pid_t coordinator)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		return -errno;
	return getppid() == coordinator ? 0 : -ESRCH;
}

/* Forks the workers. In a child this returns the worker's exit code through
 * *child_rc and 1; in the coordinator it returns 0, or -errno with no
 * worker left running and no descriptor left open. */
/* A new worker waits at the start gate for the run's start time, which the
 * coordinator sends only once every worker is forked: a spawn that fails
 * midway kills workers that never touched the target, and however long the
 * forks took, all start together. Returns 0 or -1 (the coordinator closed
 * the gate: it is gone or gave up). */
static int start_gate_wait(int fd, uint64_t *start_ns)
{
	uint8_t *p = (uint8_t *)start_ns;
	size_t got = 0;

	while (got < sizeof(*start_ns)) {
		ssize_t n = read(fd, p + got, sizeof(*start_ns) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

/* Opens the gate: one start time for each of n workers. 0 or -errno. */
static int start_gate_open(int fd, uint64_t start_ns, uint32_t n)
{
	for (uint32_t k = 0; k < n; k++) {
		size_t off = 0;
		while (off < sizeof(start_ns)) {
			ssize_t w = write(fd, (uint8_t *)&start_ns + off, sizeof(start_ns) - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return -errno;
			off += (size_t)w;
		}
	}
	return 0;
}

static int spawn(struct collector *col, struct options *o, struct lua_engine *le, int *child_rc)
{
	pid_t coordinator = getpid();
	int *rfd = calloc(o->workers, sizeof(int));
	int gate[2];

	if (!rfd)
		return -ENOMEM;
	if (pipe2(gate, O_CLOEXEC) < 0) {
		free(rfd);
		return -errno;
	}
	fflush(stdout);
	fflush(stderr);
	for (uint32_t k = 0; k < o->workers; k++) {
		int fds[2], ctl[2], rc;
		if (pipe2(fds, O_CLOEXEC) < 0) {
			rc = -errno;
			goto fail;
		}
		if (pipe2(ctl, O_CLOEXEC) < 0) {
			rc = -errno;
			close(fds[0]);
			close(fds[1]);
			goto fail;
		}
		pid_t pid = fork();
		if (pid < 0) {
			rc = -errno;
			close(fds[0]);
			close(fds[1]);
			close(ctl[0]);
			close(ctl[1]);
			goto fail;
		}
		if (pid == 0) {
			/* SIGTERM and SIGUSR1 stay blocked (as the coordinator
			 * blocked them for the fork) until the worker's loop
			 * watches them; Ctrl-C reaches the whole process group,
			 * but the coordinator decides what it means. */
			signal(SIGINT, SIG_IGN);
			close(gate[1]);
			close(fds[0]);
			close(ctl[1]);
			for (uint32_t j = 0; j < k; j++) {
				close(rfd[j]);
				close(col->ctl[j]);
				col->ctl[j] = -1;
			}
			free(rfd);
			if (worker_tie_to(coordinator) < 0) {
				*child_rc = 1; /* the coordinator is gone already */
				return 1;
			}
			series_free(col->res->series); /* the coordinator's spool */
			col->res->series = NULL;
			uint64_t start_ns;
			if (start_gate_wait(gate[0], &start_ns) < 0) {
				*child_rc = 1;
				return 1;
			}
			close(gate[0]);
			lua_engine_count_calls(le, &col->lua_calls[k]);
			*child_rc = worker_run(o, le, k, o->workers, start_ns, fds[1], ctl[0]);
			return 1;
		}
		close(fds[1]);
		close(ctl[0]);
		col->ctl[k] = ctl[1];
		rfd[k] = fds[0];
		col->pids[k] = pid;
		continue;
	fail:
		spawn_undo(col, rfd, k);
		free(rfd);
		close(gate[0]);
		close(gate[1]);
		return rc;
	}
	/* start = "connected": the connect phase comes before the start, so the
	 * run's clock (intervals, schedule, duration) is the traffic's. 150 ms
	 * is each worker's own set-up. */
	struct timeval tv;
	uint64_t now = clock_ns(), start_ns = now + 150 * NS_PER_MS + pool_connect_phase_ns(o);
	gettimeofday(&tv, NULL);
	double now_epoch = (double)tv.tv_sec + tv.tv_usec / 1e6;
	col->res->start_epoch = now_epoch + (double)(start_ns - now) / 1e9;
	/* --start-at: the agreed instant, so every shard's seconds line up; a
	 * shard too late for it starts as soon as it can and says so. */
	if (o->start_at > 0) {
		if (o->start_at >= col->res->start_epoch) {
			start_ns = now + (uint64_t)((o->start_at - now_epoch) * 1e9);
			col->res->start_epoch = o->start_at;
		} else {
			fprintf(stderr, "surge: warning: --start-at is %.3f s too soon for this shard's "
					"set-up: it starts late, and its seconds do not line up with the "
					"others'\n", col->res->start_epoch - o->start_at);
		}
	}
	col->res->start_ns = start_ns;
	int rc = start_gate_open(gate[1], start_ns, o->workers);
	close(gate[0]);
	close(gate[1]);
	if (rc < 0) {
		spawn_undo(col, rfd, o->workers);
		free(rfd);
		return rc;
	}
	for (uint32_t k = 0; k < o->workers; k++) {
		fcntl(rfd[k], F_SETFL, O_NONBLOCK);
		ev_io_init(&col->pipes[k], pipe_cb, rfd[k], EV_READ);
	}
	col->open_pipes = o->workers;
	free(rfd);
	return 0;
}

static const struct option run_longopts[] = {
	{"connections", required_argument, 0, 'c'}, {"duration", required_argument, 0, 'd'},
	{"rate", required_argument, 0, 'r'},	     {"workers", required_argument, 0, 'w'},
	{"pipeline", required_argument, 0, 'p'},     {"timeout", required_argument, 0, 't'},
	{"target", required_argument, 0, 'T'},	     {"option", required_argument, 0, 'o'},
	{"latency", no_argument, 0, 'L'},	     {"json", required_argument, 0, 'J'},
	{"hlog", required_argument, 0, 'G'},	     {"html", required_argument, 0, 'M'},
	{"progress", no_argument, 0, 'P'},	     {"no-progress", no_argument, 0, 'N'},
	{"threshold", required_argument, 0, 'X'},    {"threshold-abort", required_argument, 0, 'A'},
	{"quiet", no_argument, 0, 'q'},		     {"help", no_argument, 0, 'h'},
	{"resolver", required_argument, 0, 'R'},     {"bind", required_argument, 0, 'B'},
	{"ports", required_argument, 0, 'O'},	     {"pick", required_argument, 0, 'K'},
	{"env", required_argument, 0, 'e'},	     {"header", required_argument, 0, 'H'},
	{"tls", no_argument, 0, 'Y'},		     {"tls-ca", required_argument, 0, 'C'},
	{"sni", required_argument, 0, 'Z'},	     {"insecure", no_argument, 0, 'I'},
	{"requests", required_argument, 0, 'n'},     {"samples", required_argument, 0, 'S'},
	{"samples-every", required_argument, 0, 'E'},
	{"shard", required_argument, 0, 0x100},	     {"start-at", required_argument, 0, 0x101},
	{"shard-thresholds", no_argument, 0, 0x102},
	{0, 0, 0, 0},
};

static const struct cli_key run_keys[] = {
	{'c', "connections", NULL}, {'d', "duration", NULL},	 {'r', "rate", NULL},
	{'w', "workers", NULL},	    {'p', "pipeline", NULL},	 {'t', "timeout", NULL},
	{'T', "target", NULL},	    {'R', "resolver", NULL},	 {'J', "json", NULL},
	{'G', "hlog", NULL},	    {'M', "html", NULL},	 {'X', "threshold", NULL},
	{'A', "threshold_abort", NULL}, {'L', "latency", "true"}, {'P', "progress", "on"},
	{'N', "progress", "off"},   {'q', "quiet", "true"},	 {'B', "bind", NULL},
	{'O', "ports", NULL},	    {'K', "pick", NULL},	 {'e', "env", NULL},
	{'H', "header", NULL},
	{'Y', "tls", "true"},	    {'C', "tls.ca", NULL},	 {'Z', "tls.sni", NULL},
	{'I', "tls.verify", "false"},
	{'n', "requests", NULL},	    {'S', "samples", NULL},	 {'E', "samples_every", NULL},
	{0x100, "shard", NULL},	    {0x101, "start_at", NULL},	 {0x102, "shard_thresholds", "true"},
};

/* --samples FILE: where it goes, by the reports' rules (outpath.h), checked
 * without opening it (that would empty a file a refused run must leave as
 * it was, or wait on a FIFO for a reader). The workers write their parts,
 * PARTS.w<k>, beside the file to replace, so the end is a rename; a FIFO
 * or a device is written into, and its parts go to a temp directory
 * (samples_parts_dir, made once the run is sure to start). */
static int samples_check(struct options *o, char *err, size_t errlen)
{
	struct outpath d;
	char why[160];
	int rc = outpath_resolve(o->samples_path, &d, why, sizeof(why));

	if (rc == 0)
		rc = outpath_check(o->samples_path, &d);
	if (rc < 0) {
		snprintf(err, errlen, "cannot write the samples to '%s': %s (checked before any "
				      "traffic)", o->samples_path, why[0] ? why : strerror(-rc));
		outpath_free(&d);
		return rc;
	}
	o->samples_in_place = d.kind == OUTPATH_DIRECT;
	o->samples_parts = d.real; /* NULL in place */
	return 0;
}

static int samples_parts_dir(struct options *o)
{
	const char *tmp = getenv("TMPDIR");

	if (o->samples_parts)
		return 0;
	if (asprintf(&o->samples_tmpdir, "%s/surge-samples-XXXXXX", tmp && *tmp ? tmp : "/tmp") < 0) {
		o->samples_tmpdir = NULL;
		return -ENOMEM;
	}
	if (!mkdtemp(o->samples_tmpdir) ||
	    asprintf(&o->samples_parts, "%s/samples", o->samples_tmpdir) < 0) {
		int rc = errno ? -errno : -ENOMEM;
		free(o->samples_tmpdir);
		o->samples_tmpdir = NULL;
		o->samples_parts = NULL;
		return rc;
	}
	return 0;
}

/* The workers' parts, merged into FILE; a failure leaves them and says so. */
static void samples_gather(const struct options *o)
{
	char **parts = calloc(o->workers, sizeof(*parts));
	char err[4200] = "";
	size_t n = 0;

	for (uint32_t k = 0; parts && k < o->workers; k++) {
		if (asprintf(&parts[n], "%s.w%u", o->samples_parts, k) < 0)
			break;
		if (access(parts[n], F_OK) == 0)
			n++;
		else
			free(parts[n]);
	}
	/* FILE.csv: CSV, through the binary merge beside the parts. */
	size_t pl = strlen(o->samples_path);
	bool csv = pl > 4 && strcmp(o->samples_path + pl - 4, ".csv") == 0;
	char *bin = NULL;
	if (csv && asprintf(&bin, "%s.bin", o->samples_parts) < 0)
		bin = NULL;
	const char *into = csv ? bin : o->samples_in_place ? o->samples_path : o->samples_parts;
	if (!parts || !into ||
	    samples_merge(into, o->samples_in_place && !csv, parts, n, err, sizeof(err)) < 0)
		fprintf(stderr, "surge: warning: cannot merge the samples into %s (%s): the workers' "
				"parts %s.w* are left as they are, each a samples file of its own\n",
			o->samples_path, err[0] ? err : "out of memory", o->samples_parts);
	else if (csv && samples_csv_file(bin, o->samples_path, err, sizeof(err)) < 0)
		fprintf(stderr, "surge: warning: cannot write the samples as CSV (%s): they are in "
				"%s (surge samples %s --csv)\n", err, bin, bin);
	else if (csv)
		unlink(bin);
	free(bin);
	for (size_t i = 0; parts && i < n; i++)
		free(parts[i]);
	free(parts);
	if (o->samples_tmpdir)
		rmdir(o->samples_tmpdir); /* only once empty: parts left stay with it */
}

bool run_measured_nothing(const struct options *o, const struct run_result *r)
{
	if (o->shape != SHAPE_SESSION)
		return r->total.counter[ST_COMPLETED] == 0;
	/* A session that met a fault did not complete (conn.c), so a run whose
	 * every session failed measured nothing a user could rely on. Sessions
	 * the run's end cut short (readers watching longer than it lasts) did
	 * not fail. */
	return r->total.counter[ST_SESSIONS_DONE] == 0 &&
	       r->total.counter[ST_SESSIONS_UNFINISHED] == 0;
}

/* What ended or spoiled the run, before its thresholds: interrupted (the
 * run's own, surge report passes false) ranks below a failure and above
 * nothing measured. */
static int outcome(const struct options *o, const struct run_result *r, bool interrupted)
{
	if (r->worker_failed || r->seconds_unmerged || r->unreachable)
		return EXIT_FAILED;
	if (interrupted)
		return EXIT_INTERRUPTED;
	return run_measured_nothing(o, r) ? EXIT_FAILED : EXIT_OK;
}

int run_exit_code(const struct options *o, const struct run_result *r, bool judged,
		  bool interrupted)
{
	int rc = outcome(o, r, interrupted);
	bool measured_nothing = rc == EXIT_FAILED && run_measured_nothing(o, r) && !r->worker_failed &&
				!r->seconds_unmerged && !r->unreachable;

	/* An aborted run failed its threshold even if the drain after the stop
	 * brought the final figure back inside, or nothing completed before it. */
	if ((rc == EXIT_OK && r->thresholds_failed && judged) ||
	    (r->aborted_by && (rc == EXIT_OK || measured_nothing)))
		rc = EXIT_THRESHOLDS;
	return rc;
}

void run_result_free(struct run_result *r)
{
	series_free(r->series);
	stats_free(&r->total);
	free(r->thresholds);
	free(r->shards_missing);
	free(r->shards_doubled);
	free(r->cuts);
	memset(r, 0, sizeof(*r));
}

/* threshold_check_declared's question, answered by the scenario's Lua. */
static int declared(void *le, const char *kind, const char *name, char *hint, size_t hintlen)
{
	return lua_engine_declared(le, kind, name, hint, hintlen);
}

int run_main(int argc, char **argv)
{
	struct options opt = {0};
	struct run_result res = {0};
	struct collector col = {.live_hlog = -1};
	struct lua_engine *le = NULL;
	struct cli_args args;
	char err[2048];
	int rc = EXIT_USAGE, child_rc = 0;

	if (cli_parse(argc, argv, "surge run", ":c:d:n:r:w:p:t:o:e:H:qh", run_longopts, run_keys,
		      sizeof(run_keys) / sizeof(run_keys[0]), &args) < 0)
		return EXIT_USAGE;
	const char *scenario = args.scenario, **ov = args.ov;
	size_t nov = args.nov;
	struct shard_flags sf;
	if (args.help) {
		fputs(run_usage, stdout);
		free(ov);
		return EXIT_OK;
	}
	if (!scenario) {
		fprintf(stderr, "surge run: which scenario? e.g. surge run scenarios/echo.lua\n");
		free(ov);
		return EXIT_USAGE;
	}
	if (shard_take_flags(ov, &nov, &sf, err, sizeof(err)) < 0) {
		fprintf(stderr, "surge run: %s\n", err);
		free(ov);
		return EXIT_USAGE;
	}
	if (lua_engine_load(scenario, ov, nov, &opt, err, sizeof(err), &le) < 0 ||
	    tls_options_check(&opt, err, sizeof(err)) < 0) {
		fprintf(stderr, "surge: %s\n", err);
		goto out;
	}
	shard_flags_apply(&sf, &opt);
	if (opt.shards > 1 && !opt.rate_segs && opt.shape == SHAPE_MESSAGE && !opt.requests &&
	    shard_share(opt.max_connections, opt.shard, opt.shards) == 0) {
		fprintf(stderr, "surge: %s: %u connections over %u shards leave shard %u none: "
				"give at least %u connections, or fewer shards\n",
			sf.from, opt.max_connections, opt.shards, opt.shard + 1, opt.shards);
		goto out;
	}
	if (threshold_parse_specs(opt.threshold_specs, opt.nthreshold_specs, &res.thresholds, err,
				  sizeof(err)) < 0) {
		fprintf(stderr, "surge: %s\n", err);
		goto out;
	}
	res.nthresholds = opt.nthreshold_specs;
	if (threshold_check_declared(res.thresholds, res.nthresholds, declared, le, err,
				     sizeof(err)) < 0) {
		fprintf(stderr, "surge: %s\n", err);
		goto out;
	}
	/* A shard's thresholds are the scenario's, meant for the whole run:
	 * recorded for surge report, not judged (nor aborting) on a slice. */
	for (size_t i = 0; opt.shards > 1 && !opt.shard_judge && i < res.nthresholds; i++)
		res.thresholds[i].abort = false;
	for (size_t i = 0; i < res.nthresholds; i++)
		if (res.thresholds[i].abort && res.thresholds[i].abort_after_ns >= opt.duration_ns)
			fprintf(stderr, "surge: warning: %s: threshold %s %s has abort_after %.9gs, not "
					"before the end of a %.9gs run: it is only checked at the end\n",
				res.thresholds[i].where, res.thresholds[i].metric,
				res.thresholds[i].condition,
				(double)res.thresholds[i].abort_after_ns / 1e9,
				(double)opt.duration_ns / 1e9);
	if (report_files_check(&opt, err, sizeof(err)) < 0) {
		fprintf(stderr, "surge: %s\n", err);
		goto out;
	}
	if (opt.samples_path && samples_check(&opt, err, sizeof(err)) < 0) {
		fprintf(stderr, "surge: %s\n", err);
		goto out;
	}
	if (report_stdout_count(opt.hlog_path, opt.json_path, opt.html_path))
		opt.quiet = true; /* stdout carries that report alone, e.g. into jq */
	{
		int r = refresh_resolve(&opt, &col.rf, err, sizeof(err));
		if (r < 0) {
			fprintf(stderr, "surge: %s\n", err);
			rc = r == -ENOENT ? EXIT_RESOLVE : r == -EINVAL ? EXIT_USAGE : EXIT_FAILED;
			goto out;
		}
	}
	if (plan_run(&opt, err, sizeof(err)) < 0) {
		fprintf(stderr, "surge: %s\n", err);
		rc = EXIT_PLAN;
		goto out;
	}
	opt.stuck_grace_ns = stopping_grace_ns();
	if (stats_init(&res.total) < 0 || series_new(opt.hlog_path != NULL, &res.series) < 0)
		goto out;
	res.workers = opt.workers;
	res.elapsed_ns = opt.duration_ns;
	res.connect_phase_ns = pool_connect_phase_ns(&opt);
	col.res = &res;
	col.opt = &opt;
	col.nworkers = opt.workers;
	col.pids = calloc(opt.workers, sizeof(*col.pids));
	col.pipes = calloc(opt.workers, sizeof(*col.pipes));
	col.readers = calloc(opt.workers, sizeof(*col.readers));
	col.ctl = calloc(opt.workers, sizeof(*col.ctl));
	col.last_heard = calloc(opt.workers, sizeof(*col.last_heard));
	col.stuck = calloc(opt.workers, sizeof(*col.stuck));
	col.reaped = calloc(opt.workers, sizeof(*col.reaped));
	col.wk = calloc(opt.workers, sizeof(*col.wk));
	col.lua_calls = mmap(NULL, opt.workers * sizeof(*col.lua_calls), PROT_READ | PROT_WRITE,
			     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (col.lua_calls == MAP_FAILED)
		col.lua_calls = NULL;
	if (!col.pids || !col.pipes || !col.readers || !col.ctl || !col.last_heard || !col.stuck ||
	    !col.reaped || !col.wk || !col.lua_calls)
		goto out;
	for (uint32_t k = 0; k < opt.workers; k++)
		col.ctl[k] = -1;
	col.progress = opt.progress == PROGRESS_ON ||
		       (opt.progress == PROGRESS_AUTO && isatty(STDERR_FILENO));
	if (!opt.quiet)
		report_header(stdout, &opt);

	/* The coordinator's loop is created after fork: libev's signal state
	 * must not be inherited by the workers. */
	/* From the first fork until the coordinator watches them, Ctrl-C and
	 * SIGTERM wait: taken earlier, they would orphan the workers. */
	if (opt.samples_path) {
		int r = samples_parts_dir(&opt);
		if (r < 0) {
			fprintf(stderr, "surge: cannot make a directory for the workers' samples in "
					"TMPDIR: %s (set TMPDIR to one that can be written)\n",
				strerror(-r));
			rc = EXIT_FAILED;
			goto out;
		}
	}
	sigset_t stops, before;
	sigemptyset(&stops);
	sigaddset(&stops, SIGINT);
	sigaddset(&stops, SIGTERM);
	sigaddset(&stops, SIGUSR1);
	sigprocmask(SIG_BLOCK, &stops, &before);
	int sp = spawn(&col, &opt, le, &child_rc);
	if (sp == 1) {
		rc = child_rc;
		goto out;
	}
	if (sp < 0) {
		fprintf(stderr, "surge: cannot start workers: %s\n", strerror(-sp));
		rc = EXIT_FAILED;
		goto out;
	}
	/* A pending second's histograms (~270 KB each) come and go every
	 * second: with glibc's sliding mmap threshold they would move onto the
	 * heap after the first free, and its fragments keep the resident set a
	 * step above what is live. A fixed threshold keeps them mmap'd, so
	 * freeing one returns it. The workers (forked above) keep the default. */
#ifdef M_MMAP_THRESHOLD
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
#endif
	/* Not the default loop: that one reaps children itself and waitpid()
	 * below would see ECHILD instead of the workers' exit codes. */
	col.loop = ev_loop_new(EVFLAG_AUTO);
	if (!col.loop) {
		rc = EXIT_FAILED;
		goto out;
	}
	ev_set_userdata(col.loop, &col);
	for (uint32_t k = 0; k < opt.workers; k++)
		ev_io_start(col.loop, &col.pipes[k]);
	stopping_start(&col);
	sigprocmask(SIG_SETMASK, &before, NULL);
	/* A worker that has finished closes its control pipe: writing to it
	 * must be an error to skip, not a signal that kills the coordinator. */
	signal(SIGPIPE, SIG_IGN);
	if (refresh_start(col.rf, col.loop, res.start_ns, ship_dests, say_line, &col, err,
			  sizeof(err)) < 0)
		fprintf(stderr, "surge: warning: names will not be re-resolved: %s\n", err);
	live_hlog_open(&col);
	ev_run(col.loop, 0);
	for (uint32_t k = 0; k < opt.workers; k++) {
		int status = col.reaped[k] - 1;
		pid_t got = col.pids[k];
		while (!col.reaped[k] && (got = waitpid(col.pids[k], &status, 0)) < 0 && errno == EINTR)
			;
		if (got < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			res.worker_failed = true;
	}
	advance_progress(&col, true);
	collector_clear_line(&col);
	if (col.late)
		fprintf(stderr, "surge: warning: %lld interval%s came after %s second was settled (a "
				"worker more than %d s behind): counted in the totals, not in the "
				"per-second series or --hlog\n",
			(long long)col.late, col.late == 1 ? "" : "s", col.late == 1 ? "its" : "their",
			SETTLE_LAG_MAX);
	msglog_summary(&col.msgs, stderr);
	live_hlog_close(&col);
	if (res.interrupted && res.elapsed_ns > opt.duration_ns)
		res.elapsed_ns = opt.duration_ns;
	res.connect_phase_ns = pool_connect_phase_ns(&opt);
	stopping_ended_by_requests(&col);
	if (opt.samples_path)
		samples_gather(&opt);
	/* Said only when nothing completed: a run that gave up (-n alone) or
	 * lost a second may have measured plenty before. */
	bool measured_nothing = !res.interrupted && !res.worker_failed &&
				run_measured_nothing(&opt, &res);
	res.thresholds_failed = threshold_eval(res.thresholds, res.nthresholds, &res.total,
					       (double)res.elapsed_ns / 1e9);
	bool judged = opt.shards <= 1 || opt.shard_judge;
	if (!judged && res.thresholds_failed)
		fprintf(stderr, "surge: note: %zu of this shard's %zu thresholds fail on its share "
				"alone; they are judged on the merge (surge report on every shard's "
				"--hlog), or here with --shard-thresholds\n",
			res.thresholds_failed, res.nthresholds);
	rc = run_exit_code(&opt, &res, judged, res.interrupted);
	res.exit_code = rc;
	if (!opt.quiet)
		report_text(stdout, &opt, &res);
	else if (res.thresholds_failed && judged)
		report_thresholds_failed(stderr, "surge", &res);
	if (report_files(&opt, &res, err, sizeof(err)) < 0) {
		for (char *line = strtok(err, "\n"); line; line = strtok(NULL, "\n"))
			fprintf(stderr, "surge: %s\n", line);
		if (rc == EXIT_OK)
			rc = EXIT_FAILED;
	}
	if (measured_nothing)
		report_nothing_measured(stderr, &opt, &res);
out:
	refresh_free(col.rf); /* its watchers live on col.loop */
	if (col.loop)
		ev_loop_destroy(col.loop);
	lua_engine_free(le);
	for (uint32_t k = 0; k < col.nworkers && col.readers; k++)
		ipc_reader_free(&col.readers[k]);
	for (uint32_t k = 0; k < col.nworkers && col.ctl; k++)
		if (col.ctl[k] >= 0)
			close(col.ctl[k]);
	free(col.ctl);
	free(col.last_heard);
	free(col.stuck);
	free(col.reaped);
	free(col.wk);
	if (col.lua_calls)
		munmap(col.lua_calls, opt.workers * sizeof(*col.lua_calls));
	free(col.pids);
	free(col.pipes);
	free(col.readers);
	for (size_t i = 0; i < col.npending; i++)
		stats_free(&col.pending[i]);
	free(col.pending);
	free(col.reports);
	run_result_free(&res);
	options_free(&opt);
	free(ov);
	return rc;
}
