/* run: the coordinator of `surge run`. */
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <ev.h>

#include "clock.h"
#include "ipc.h"
#include "lua_engine.h"
#include "pool.h"
#include "report.h"
#include "worker.h"

#define FD_RESERVE 64 /* per worker: pipes, timerfd, epoll, Lua files */

struct collector {
	struct run_result *res;
	const struct options *opt;
	struct ev_loop *loop;
	ev_io *pipes;
	struct ipc_reader *readers;
	pid_t *pids;
	uint32_t nworkers, open_pipes;
	uint32_t next_progress; /* next second to print */
	bool progress;
	int signals;
	ev_signal sigint, sigterm;
	ev_timer progress_timer;
};

static const char run_usage[] =
	"usage: surge run SCENARIO.lua [options]\n"
	"\n"
	"Runs the load test a scenario file describes. Every scenario option can be\n"
	"overridden here; the command line wins.\n"
	"\n"
	"  -c, --connections N     connections to keep open (e.g. 200, 25k)\n"
	"  -d, --duration DUR      how long to run (e.g. 30s, 2m)\n"
	"  -r, --rate R            open model: requests per second in total (e.g. 50k);\n"
	"                          without it each connection sends as fast as answers come\n"
	"  -w, --workers N         worker processes (default: CPUs, more if the\n"
	"                          connections need more file descriptors)\n"
	"  -p, --pipeline N        requests in flight per connection\n"
	"  -t, --timeout DUR       request timeout (default 5s)\n"
	"      --target URL        e.g. tcp://127.0.0.1:7000, [::1]:53\n"
	"  -o, --option KEY=VALUE  set any scenario option (repeatable)\n"
	"      --latency           print the full latency distribution (HdrHistogram format)\n"
	"      --json FILE         write the report as JSON\n"
	"      --hlog FILE         write per-second histograms (HdrHistogram interval log)\n"
	"      --html FILE         write a self-contained HTML report\n"
	"      --progress          print a progress line every second (default: on a TTY)\n"
	"      --no-progress       never print progress\n"
	"  -q, --quiet             no report on stdout (files are still written)\n"
	"  -h, --help              this help\n"
	"\n"
	"Exit status: 0 completed, 1 nothing could be measured, 2 bad command line or\n"
	"scenario, 3 a threshold failed, 4 the plan does not fit this machine,\n"
	"130 interrupted (the report still covers what ran).\n";

static int resolve_destinations(struct options *o, char *err, size_t errlen)
{
	size_t cap = 8, n = 0;
	struct destination *d = calloc(cap, sizeof(*d));

	if (!d)
		return -ENOMEM;
	for (size_t i = 0; i < o->ntargets; i++) {
		struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
		struct addrinfo *ai = NULL;
		char port[8];
		snprintf(port, sizeof(port), "%u", o->targets[i].port);
		int rc = getaddrinfo(o->targets[i].host, port, &hints, &ai);
		if (rc != 0) {
			snprintf(err, errlen, "cannot resolve '%s': %s", o->targets[i].host,
				 gai_strerror(rc));
			free(d);
			return -EINVAL;
		}
		for (struct addrinfo *p = ai; p; p = p->ai_next) {
			if (n == cap) {
				cap *= 2;
				void *nd = realloc(d, cap * sizeof(*d));
				if (!nd) {
					freeaddrinfo(ai);
					free(d);
					return -ENOMEM;
				}
				d = nd;
			}
			memcpy(&d[n].addr, p->ai_addr, p->ai_addrlen);
			d[n].addrlen = p->ai_addrlen;
			char host[INET6_ADDRSTRLEN] = "?";
			const void *a = p->ai_family == AF_INET6
						? (const void *)&((struct sockaddr_in6 *)p->ai_addr)->sin6_addr
						: (const void *)&((struct sockaddr_in *)p->ai_addr)->sin_addr;
			inet_ntop(p->ai_family, a, host, sizeof(host));
			snprintf(d[n].label, sizeof(d[n].label), p->ai_family == AF_INET6 ? "[%s]:%u" : "%s:%u",
				 host, o->targets[i].port);
			n++;
		}
		freeaddrinfo(ai);
	}
	o->dests = d;
	o->ndests = n;
	return 0;
}

/* Workers: the CPUs by default, more when one process's descriptors cannot
 * hold its share of the connections. */
static int plan_workers(struct options *o, char *err, size_t errlen)
{
	struct rlimit rl = {1024, 1024};
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	getrlimit(RLIMIT_NOFILE, &rl);
	uint64_t usable = rl.rlim_max > FD_RESERVE ? rl.rlim_max - FD_RESERVE : 1;
	uint32_t need = (uint32_t)((o->max_connections + usable - 1) / usable);
	if (need < 1)
		need = 1;
	if (o->workers_given) {
		if (o->workers < need) {
			snprintf(err, errlen,
				 "%u connections need at least %u workers: each process may open %llu "
				 "files (%llu usable for connections); use -w %u",
				 o->max_connections, need, (unsigned long long)rl.rlim_max,
				 (unsigned long long)usable, need);
			return -EINVAL;
		}
		return 0;
	}
	o->workers = cpus > 0 ? (uint32_t)cpus : 1;
	if (o->workers < need)
		o->workers = need;
	/* More workers than connections would leave some idle. */
	if (o->workers > o->max_connections && o->max_connections > 0)
		o->workers = o->max_connections;
	return 0;
}

static void merge_interval(struct collector *col, uint32_t second, const struct stats *s)
{
	struct run_result *r = col->res;

	if (second >= r->nseconds) {
		size_t n = second + 16;
		struct stats *ns = realloc(r->seconds, n * sizeof(*ns));
		uint32_t *nr = realloc(r->reports, n * sizeof(*nr));
		if (!ns || !nr) {
			free(ns == r->seconds ? NULL : ns);
			return;
		}
		r->seconds = ns;
		r->reports = nr;
		for (size_t i = r->nseconds; i < n; i++) {
			stats_init(&r->seconds[i]);
			r->reports[i] = 0;
		}
		r->nseconds = n;
	}
	stats_add(&r->seconds[second], s);
	r->reports[second]++;
	stats_add(&r->total, s);
}

static void print_progress(struct collector *col, uint32_t second)
{
	const struct stats *s = &col->res->seconds[second];
	int64_t errors = 0;

	for (int i = 0; i < ERR__COUNT; i++)
		errors += s->error[i];
	if (s->gauge[GA_CONNS_OPEN] > col->res->peak_open)
		col->res->peak_open = s->gauge[GA_CONNS_OPEN];
	if (!col->progress)
		return;
	/* The drain after the last second only collects late answers: it is in
	 * the totals, but a line for it would read like a collapse. */
	if ((uint64_t)second * NS_PER_SEC >= col->opt->duration_ns)
		return;
	report_progress_line(stderr, col->opt, s, second);
}

static void advance_progress(struct collector *col, bool final)
{
	struct run_result *r = col->res;

	while (col->next_progress < r->nseconds &&
	       (r->reports[col->next_progress] >= col->nworkers ||
		(final && r->reports[col->next_progress] > 0))) {
		print_progress(col, col->next_progress);
		col->next_progress++;
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
		if (--col->open_pipes == 0)
			ev_break(loop, EVBREAK_ALL);
		return;
	}
	ipc_reader_feed(&col->readers[k], buf, (size_t)n);
	struct ipc_header h;
	const uint8_t *payload;
	int rc;
	while ((rc = ipc_reader_next(&col->readers[k], &h, &payload)) == 1) {
		if (h.type == IPC_INTERVAL) {
			struct stats s;
			if (stats_decode(payload, h.len, &s) == 0) {
				merge_interval(col, h.second, &s);
				stats_free(&s);
			}
		} else if (h.type == IPC_LOG) {
			if (col->progress)
				if (isatty(STDERR_FILENO)) fputs("\r\033[K", stderr);
			fprintf(stderr, "surge: %.*s\n", (int)h.len, (const char *)payload);
		}
		ipc_reader_pop(&col->readers[k], &h);
	}
	if (rc < 0) {
		ev_io_stop(loop, io);
		close(io->fd);
		col->res->worker_failed = true;
		if (--col->open_pipes == 0)
			ev_break(loop, EVBREAK_ALL);
		return;
	}
	advance_progress(col, false);
}

static void signal_cb(struct ev_loop *loop, ev_signal *s, int revents)
{
	struct collector *col = ev_userdata(loop);
	uint64_t now = clock_ns();

	if (col->signals++ == 0) {
		col->res->interrupted = true;
		if (now > col->res->start_ns)
			col->res->elapsed_ns = now - col->res->start_ns;
		for (uint32_t k = 0; k < col->nworkers; k++)
			kill(col->pids[k], SIGTERM);
		if (col->progress)
			if (isatty(STDERR_FILENO)) fputs("\r\033[K", stderr);
		fprintf(stderr, "surge: stopping (Ctrl-C again to stop at once)\n");
	} else {
		for (uint32_t k = 0; k < col->nworkers; k++)
			kill(col->pids[k], SIGKILL);
	}
}

/* Forks the workers. In a child this returns the worker's exit code through
 * *child_rc and 1; in the coordinator it returns 0. */
static int spawn(struct collector *col, struct options *o, struct lua_engine *le, int *child_rc)
{
	uint64_t start_ns = clock_ns() + 150 * NS_PER_MS;
	int *rfd = calloc(o->workers, sizeof(int));

	if (!rfd)
		return -ENOMEM;
	col->res->start_ns = start_ns;
	fflush(stdout);
	fflush(stderr);
	for (uint32_t k = 0; k < o->workers; k++) {
		int fds[2];
		if (pipe2(fds, O_CLOEXEC) < 0) {
			free(rfd);
			return -errno;
		}
		pid_t pid = fork();
		if (pid < 0) {
			free(rfd);
			return -errno;
		}
		if (pid == 0) {
			close(fds[0]);
			for (uint32_t j = 0; j < k; j++)
				close(rfd[j]);
			free(rfd);
			*child_rc = worker_run(o, le, k, o->workers, start_ns, fds[1]);
			return 1;
		}
		close(fds[1]);
		rfd[k] = fds[0];
		col->pids[k] = pid;
	}
	for (uint32_t k = 0; k < o->workers; k++) {
		fcntl(rfd[k], F_SETFL, O_NONBLOCK);
		ev_io_init(&col->pipes[k], pipe_cb, rfd[k], EV_READ);
	}
	col->open_pipes = o->workers;
	free(rfd);
	return 0;
}

static int parse_args(int argc, char **argv, const char **scenario, const char ***ov, size_t *nov,
		      bool *help)
{
	static const struct option longopts[] = {
		{"connections", required_argument, 0, 'c'}, {"duration", required_argument, 0, 'd'},
		{"rate", required_argument, 0, 'r'},	     {"workers", required_argument, 0, 'w'},
		{"pipeline", required_argument, 0, 'p'},     {"timeout", required_argument, 0, 't'},
		{"target", required_argument, 0, 'T'},	     {"option", required_argument, 0, 'o'},
		{"latency", no_argument, 0, 'L'},	     {"json", required_argument, 0, 'J'},
		{"hlog", required_argument, 0, 'H'},	     {"html", required_argument, 0, 'M'},
		{"progress", no_argument, 0, 'P'},	     {"no-progress", no_argument, 0, 'N'},
		{"quiet", no_argument, 0, 'q'},		     {"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	const char **v = calloc((size_t)argc * 2 + 2, sizeof(char *));
	size_t n = 0;
	int ch;

	if (!v)
		return -ENOMEM;
	*help = false;
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "c:d:r:w:p:t:o:qh", longopts, NULL)) != -1) {
		const char *key = NULL, *val = optarg;
		switch (ch) {
		case 'c': key = "connections"; break;
		case 'd': key = "duration"; break;
		case 'r': key = "rate"; break;
		case 'w': key = "workers"; break;
		case 'p': key = "pipeline"; break;
		case 't': key = "timeout"; break;
		case 'T': key = "target"; break;
		case 'J': key = "json"; break;
		case 'H': key = "hlog"; break;
		case 'M': key = "html"; break;
		case 'L': key = "latency"; val = "true"; break;
		case 'P': key = "progress"; val = "on"; break;
		case 'N': key = "progress"; val = "off"; break;
		case 'q': key = "quiet"; val = "true"; break;
		case 'o': {
			char *eq = strchr(optarg, '=');
			if (!eq || eq == optarg) {
				fprintf(stderr, "surge run: -o expects KEY=VALUE, got '%s'\n", optarg);
				free(v);
				return -EINVAL;
			}
			*eq = '\0';
			key = optarg;
			val = eq + 1;
			break;
		}
		case 'h': *help = true; break;
		default:
			fprintf(stderr, "surge run: unknown option '%s' (see surge run --help)\n",
				argv[optind - 1]);
			free(v);
			return -EINVAL;
		}
		if (key) {
			v[n++] = key;
			v[n++] = val;
		}
	}
	*scenario = optind < argc ? argv[optind] : NULL;
	if (*scenario && optind + 1 < argc) {
		fprintf(stderr, "surge run: unexpected argument '%s' after the scenario\n",
			argv[optind + 1]);
		free(v);
		return -EINVAL;
	}
	*ov = v;
	*nov = n / 2;
	return 0;
}

static int outcome(const struct options *o, const struct run_result *r)
{
	if (r->worker_failed)
		return EXIT_FAILED;
	if (r->interrupted)
		return EXIT_INTERRUPTED;
	bool session = o->shape == SHAPE_SESSION;
	if (!session && r->total.counter[ST_COMPLETED] == 0)
		return EXIT_FAILED;
	if (session && r->total.counter[ST_CONN_OPENED] == 0)
		return EXIT_FAILED;
	return EXIT_OK;
}

int run_main(int argc, char **argv)
{
	struct options opt = {0};
	struct run_result res = {0};
	struct collector col = {0};
	struct lua_engine *le = NULL;
	const char *scenario = NULL, **ov = NULL;
	size_t nov = 0;
	bool help;
	char err[2048];
	int rc = EXIT_USAGE, child_rc = 0;

	if (parse_args(argc, argv, &scenario, &ov, &nov, &help) < 0)
		return EXIT_USAGE;
	if (help) {
		fputs(run_usage, stdout);
		free(ov);
		return EXIT_OK;
	}
	if (!scenario) {
		fprintf(stderr, "surge run: which scenario? e.g. surge run scenarios/echo.lua\n");
		free(ov);
		return EXIT_USAGE;
	}
	if (lua_engine_load(scenario, ov, nov, &opt, err, sizeof(err), &le) < 0) {
		fprintf(stderr, "surge: %s\n", err);
		goto out;
	}
	if (resolve_destinations(&opt, err, sizeof(err)) < 0) {
		fprintf(stderr, "surge: %s\n", err);
		rc = EXIT_FAILED;
		goto out;
	}
	if (plan_workers(&opt, err, sizeof(err)) < 0) {
		fprintf(stderr, "surge: %s\n", err);
		rc = EXIT_PLAN;
		goto out;
	}
	if (stats_init(&res.total) < 0)
		goto out;
	res.workers = opt.workers;
	res.elapsed_ns = opt.duration_ns;
	col.res = &res;
	col.opt = &opt;
	col.nworkers = opt.workers;
	col.pids = calloc(opt.workers, sizeof(*col.pids));
	col.pipes = calloc(opt.workers, sizeof(*col.pipes));
	col.readers = calloc(opt.workers, sizeof(*col.readers));
	if (!col.pids || !col.pipes || !col.readers)
		goto out;
	col.progress = opt.progress == PROGRESS_ON ||
		       (opt.progress == PROGRESS_AUTO && isatty(STDERR_FILENO));
	if (!opt.quiet)
		report_header(stdout, &opt);

	/* The coordinator's loop is created after fork: libev's signal state
	 * must not be inherited by the workers. */
	{
		struct timeval tv;
		gettimeofday(&tv, NULL);
		res.start_epoch = (double)tv.tv_sec + tv.tv_usec / 1e6 + 0.150;
	}
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
	ev_signal_init(&col.sigint, signal_cb, SIGINT);
	ev_signal_start(col.loop, &col.sigint);
	ev_signal_init(&col.sigterm, signal_cb, SIGTERM);
	ev_signal_start(col.loop, &col.sigterm);
	ev_run(col.loop, 0);
	for (uint32_t k = 0; k < opt.workers; k++) {
		int status;
		pid_t got;
		while ((got = waitpid(col.pids[k], &status, 0)) < 0 && errno == EINTR)
			;
		if (got < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			res.worker_failed = true;
	}
	advance_progress(&col, true);
	if (col.progress)
		if (isatty(STDERR_FILENO)) fputs("\r\033[K", stderr);
	if (res.interrupted && res.elapsed_ns > opt.duration_ns)
		res.elapsed_ns = opt.duration_ns;
	rc = outcome(&opt, &res);
	if (!opt.quiet)
		report_text(stdout, &opt, &res);
	if (report_files(&opt, &res, err, sizeof(err)) < 0) {
		fprintf(stderr, "surge: %s\n", err);
		if (rc == EXIT_OK)
			rc = EXIT_FAILED;
	}
	if (rc == EXIT_FAILED && !res.worker_failed)
		report_nothing_measured(stderr, &opt, &res);
out:
	if (col.loop)
		ev_loop_destroy(col.loop);
	lua_engine_free(le);
	for (uint32_t k = 0; k < col.nworkers && col.readers; k++)
		ipc_reader_free(&col.readers[k]);
	free(col.pids);
	free(col.pipes);
	free(col.readers);
	for (size_t i = 0; i < res.nseconds; i++)
		stats_free(&res.seconds[i]);
	free(res.seconds);
	free(res.reports);
	stats_free(&res.total);
	options_free(&opt);
	free(ov);
	return rc;
}
