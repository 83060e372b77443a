/* report_cmd: `surge report LOG.hlog...` — reads saved interval logs, adds
 * them (intervals aligned on each log's start, histograms added exactly),
 * re-evaluates thresholds and renders the same reports a run does. */
#include "report.h"
#include "report_cut.h"
#include "report_held.h"
#include "report_shards.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "hlog.h"
#include "series.h"
#include "threshold.h"

static const char report_usage[] =
	"usage: surge report LOG.hlog [more.hlog ...] [options]\n"
	"\n"
	"Re-renders saved runs from their HdrHistogram interval logs (surge run --hlog),\n"
	"and merges several (workers, the shards of a multi-machine run, repeated runs)\n"
	"by adding their histograms: exact, as if one run had recorded every sample.\n"
	"Logs are aligned on their own start times. The shards of one run (surge run\n"
	"--shard K/N) add up to the run: connections and rate are the sum of the shards\n"
	"read, and missing or doubled shards are named; logs without --shard add up\n"
	"the same way, whether they ran together or one after another (their seconds\n"
	"are overlaid from each log's start).\n"
	"\n"
	"      --json FILE         write the merged report as JSON\n"
	"      --html FILE         write a self-contained HTML report\n"
	"      --hlog FILE         write the merged interval log\n"
	"                          (FILE '-': that report alone on stdout)\n"
	"      --latency           print the full latency distribution\n"
	"      --threshold EXPR    check EXPR too, e.g. 'latency.p99<5ms' (repeatable);\n"
	"                          thresholds recorded in the logs are always checked,\n"
	"                          on the merge (a shard's own are judged here, not alone)\n"
	"      --partial           missing or doubled shards, or a log cut short (it ends\n"
	"                          without its #surge-end line, its run died before it\n"
	"                          was whole, or seconds lack their counts), are not an\n"
	"                          error; what is missing is still said (shards of\n"
	"                          another run are refused all the same)\n"
	"  -q, --quiet             no report on stdout\n"
	"  -h, --help              this help\n"
	"\n"
	"Exit status: what the run exited with, by its rule (130 aside: judged on what\n"
	"was measured): 0 done, 1 nothing measured, a worker lost, or a log cannot be\n"
	"read or the logs are shards of different runs (nothing is written), shards\n"
	"of the run are missing or doubled, or a log was cut short (without\n"
	"--partial; the report is still written), 2 bad command line, 3 a threshold\n"
	"failed.\n";

struct report_args {
	const char *json, *html, *hlog;
	const char **thresholds;
	size_t nthresholds;
	bool latency, quiet, help, partial;
	char **files;
	size_t nfiles;
};

static int parse_args(int argc, char **argv, struct report_args *a)
{
	static const struct option longopts[] = {
		{ "json", required_argument, 0, 'J' },	    { "html", required_argument, 0, 'M' },
		{ "hlog", required_argument, 0, 'H' },	    { "latency", no_argument, 0, 'L' },
		{ "threshold", required_argument, 0, 'X' }, { "quiet", no_argument, 0, 'q' },
		{ "help", no_argument, 0, 'h' },	    { "partial", no_argument, 0, 'P' },
		{ 0, 0, 0, 0 },
	};
	int ch;

	a->thresholds = calloc((size_t)argc, sizeof(*a->thresholds));
	if (!a->thresholds)
		return -ENOMEM;
	optind = 1;
	opterr = 0;
	/* The leading ':' tells a missing value (':') from an unknown option. */
	while ((ch = getopt_long(argc, argv, ":qh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'J': a->json = optarg; break;
		case 'M': a->html = optarg; break;
		case 'H': a->hlog = optarg; break;
		case 'L': a->latency = true; break;
		case 'X': a->thresholds[a->nthresholds++] = optarg; break;
		case 'q': a->quiet = true; break;
		case 'P': a->partial = true; break;
		case 'h': a->help = true; break;
		case ':':
			fprintf(stderr, "surge report: option '%s' needs a value (see surge report "
					"--help)\n", argv[optind - 1]);
			return -EINVAL;
		default:
			fprintf(stderr, "surge report: unknown option '%s' (see surge report --help)\n",
				argv[optind - 1]);
			return -EINVAL;
		}
	}
	a->files = argv + optind;
	a->nfiles = (size_t)(argc - optind);
	return 0;
}

/* A hostile log's numbers must not reach a cast they do not fit (undefined
 * behaviour): each is checked, and refused with the line it came from. */
static int bad_param(const struct hlog *l, const struct hlog_param *p, const char *want, char *err,
		     size_t errlen)
{
	char where[512];

	hlog_param_where(l, p, where, sizeof(where));
	snprintf(err, errlen, "%s: #surge-param %s: expected %s, got '%s'", where, p->key, want,
		 p->value);
	return -EINVAL;
}

/* A number within [0, max]; dflt when the log does not say. */
static int param_num(const struct hlog *l, const char *key, double max, double dflt, double *out,
		     char *err, size_t errlen)
{
	const struct hlog_param *p = hlog_param_line(l, key);
	char *end;
	char want[64];

	*out = dflt;
	if (!p)
		return 0;
	errno = 0;
	double d = strtod(p->value, &end);
	if (end == p->value || *end || errno || !(d >= 0 && d <= max)) {
		snprintf(want, sizeof(want), "a number from 0 to %.10g", max);
		return bad_param(l, p, want, err, errlen);
	}
	*out = d;
	return 0;
}

static int param_u32(const struct hlog *l, const char *key, uint32_t *out, char *err,
		     size_t errlen)
{
	double d;
	int rc = param_num(l, key, UINT32_MAX, 0, &d, err, errlen);

	*out = (uint32_t)d;
	return rc;
}

/* Seconds, as nanoseconds. */
#define PARAM_SECS_MAX 1e9
static int param_ns(const struct hlog *l, const char *key, uint64_t *out, char *err, size_t errlen)
{
	double d;
	int rc = param_num(l, key, PARAM_SECS_MAX, 0, &d, err, errlen);

	*out = (uint64_t)(d * 1e9 + 0.5);
	return rc;
}

/* A count that may pass what a double holds exactly (requests = N). */
static int param_u64(const struct hlog *l, const char *key, uint64_t *out, char *err,
		     size_t errlen)
{
	const struct hlog_param *p = hlog_param_line(l, key);
	char *end;

	*out = 0;
	if (!p)
		return 0;
	errno = 0;
	unsigned long long n = strtoull(p->value, &end, 10);
	if (p->value[0] < '0' || p->value[0] > '9' || *end || errno)
		return bad_param(l, p, "a count", err, errlen);
	*out = n;
	return 0;
}

/* The entry of the log the parameters were taken from (the first that had
 * any): how that run ended goes with them. */
static const struct hlog_log *params_log(const struct hlog *l)
{
	for (size_t i = 0; i < l->nlog_info; i++)
		if (l->logs[i].name == l->params_from)
			return &l->logs[i];
	return NULL;
}

static char *param_dup(const struct hlog *l, const char *key)
{
	const char *v = hlog_param(l, key);
	return v && *v ? strdup(v) : NULL;
}

/* Saturates: a time from the intervals is bounded (hlog_read.c), but a cast
 * out of range would be undefined. */
static uint64_t s_to_ns(double s)
{
	double ns = s * 1e9 + 0.5;

	if (!(s > 0))
		return 0;
	/* 2^64 exactly: anything at or past it (a hostile log's 4e20, or a
	 * value that rounds up to it) saturates instead of overflowing the cast. */
	return ns >= 18446744073709551616.0 ? UINT64_MAX : (uint64_t)ns;
}

/* The run's source set, so per-source rows get their addresses back. */
static int sources_from_log(const struct hlog *l, struct options *o)
{
	const char *spec = hlog_param(l, "bind"), *pick = hlog_param(l, "pick");
	char err[256];

	if (!spec)
		return 0;
	if (l->mixed_sources) {
		fprintf(stderr, "surge report: note: the logs were made with different --bind sets; "
				"per-source rows are left out\n");
		return 0;
	}
	if (pick)
		addrset_pick_parse(pick, &o->pick);
	o->bind = calloc(1, sizeof(*o->bind));
	o->bind_spec = strdup(spec);
	if (!o->bind || !o->bind_spec)
		return -ENOMEM;
	if (addrset_parse(o->bind, spec, err, sizeof(err)) < 0) {
		addrset_free(o->bind);
		free(o->bind);
		o->bind = NULL; /* a log from elsewhere: the rows go unnamed, not wrong */
	}
	return 0;
}

/* Each log's value of key, once each in the logs' order, joined by ", "
 * (logs of different runs name each their target): malloc'd, or NULL when
 * none says. */
static char *joined(const struct hlog *l, const char *key)
{
	char *out = NULL;
	size_t len = 0;

	if (!l->nlog_info)
		return param_dup(l, key);
	for (size_t i = 0; i < l->nlog_info; i++) {
		const char *v = hlog_log_param(&l->logs[i], key);
		bool seen = !v || !*v;
		for (size_t j = 0; j < i && !seen; j++) {
			const char *w = hlog_log_param(&l->logs[j], key);
			seen = w && strcmp(v, w) == 0;
		}
		if (seen)
			continue;
		char *more = realloc(out, len + strlen(v) + 3);
		if (!more) {
			free(out);
			return NULL;
		}
		out = more;
		len += (size_t)sprintf(out + len, "%s%s", len ? ", " : "", v);
	}
	return out;
}

/* Every log's destinations, each once. */
static int dests_from_logs(const struct hlog *l, struct options *o)
{
	size_t n = 0;

	for (size_t i = 0; i < l->nlog_info; i++)
		for (size_t j = 0; j < l->logs[i].np; j++)
			n += strcmp(l->logs[i].p[j].key, "destination") == 0;
	if (!n)
		return 0;
	if (!(o->dests = calloc(n, sizeof(*o->dests))))
		return -ENOMEM;
	for (size_t i = 0; i < l->nlog_info; i++) {
		for (size_t j = 0; j < l->logs[i].np; j++) {
			const struct hlog_param *p = &l->logs[i].p[j];
			size_t len = sizeof(o->dests[0].label);
			bool seen = strcmp(p->key, "destination") != 0;
			for (size_t k = 0; k < o->ndests && !seen; k++)
				seen = strncmp(o->dests[k].label, p->value, len - 1) == 0;
			if (!seen)
				snprintf(o->dests[o->ndests++].label, len, "%s", p->value);
		}
	}
	return 0;
}

/* The run's settings as the first log recorded them; what a report needs.
 * Returns 0, -EINVAL (err says which line) or -ENOMEM. */
static int options_from_log(const struct hlog *l, struct options *o, char *err, size_t errlen)
{
	size_t nseg = 0;

	for (size_t i = 0; i < l->nparams; i++)
		nseg += strcmp(l->params[i].key, "rate_segment") == 0;
	/* A merge of different runs' logs names every target they loaded. */
	o->target = joined(l, "target");
	o->rate_segs = nseg ? calloc(nseg, sizeof(*o->rate_segs)) : NULL;
	if ((nseg && !o->rate_segs) || dests_from_logs(l, o) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < l->nparams; i++) {
		const char *k = l->params[i].key, *v = l->params[i].value;
		if (strcmp(k, "rate_segment") == 0) {
			double t0, t1, r0, r1;
			if (sscanf(v, "%lf %lf %lf %lf", &t0, &t1, &r0, &r1) != 4)
				continue; /* as before: a segment that does not read is left out */
			if (!(t0 >= 0 && t0 <= PARAM_SECS_MAX && t1 >= t0 && t1 <= PARAM_SECS_MAX &&
			      r0 >= 0 && r0 < 1e15 && r1 >= 0 && r1 < 1e15))
				return bad_param(l, &l->params[i], "FROM_S TO_S FROM_RATE TO_RATE, times "
					"from 0 to 1e9 s in order and finite rates >= 0", err, errlen);
			o->rate_segs[o->nrate_segs++] = (struct rate_segment){
				s_to_ns(t0), s_to_ns(t1), r0, r1 };
		}
	}
	if (!o->nrate_segs) {
		free(o->rate_segs);
		o->rate_segs = NULL;
	}
	const char *proto = hlog_param(l, "protocol");
	snprintf(o->proto_name, sizeof(o->proto_name), "%s", proto ? proto : "unknown");
	const char *shape = hlog_param(l, "shape");
	o->shape = shape && strcmp(shape, "session") == 0 ? SHAPE_SESSION : SHAPE_MESSAGE;
	const char *arrival = hlog_param(l, "arrival");
	o->arrival = arrival && strcmp(arrival, "poisson") == 0 ? PACER_POISSON : PACER_UNIFORM;
	/* Absent from an older surge's log: what its reports said then. */
	const char *transport = hlog_param(l, "transport"), *start = hlog_param(l, "start");
	o->transport = transport && strcmp(transport, "udp") == 0 ? TRANSPORT_UDP : TRANSPORT_TCP;
	o->start = start && strcmp(start, "connected") == 0 ? START_CONNECTED : START_NOW;
	int verify, resume;
	const char *tls = hlog_param(l, "tls");
	if (tls && sscanf(tls, "verify=%d resume=%d", &verify, &resume) == 2) {
		/* Over TLS: one target that says so is what the reports look at. */
		if (!(o->targets = calloc(1, sizeof(*o->targets))))
			return -ENOMEM;
		o->targets[0].tls = true;
		o->ntargets = 1;
		o->tls.verify = verify != 0;
		o->tls.resume = resume != 0;
	}
	int rc;
	double unbounded;
	if ((rc = param_u64(l, "requests", &o->requests, err, errlen)) < 0 ||
	    (rc = param_num(l, "duration_unbounded", 1, 0, &unbounded, err, errlen)) < 0 ||
	    (rc = param_num(l, "start_at", PARAM_SECS_MAX * 10, 0, &o->start_at, err, errlen)) < 0)
		return rc;
	o->duration_unbounded = unbounded != 0;
	if ((rc = param_u32(l, "connections", &o->max_connections, err, errlen)) < 0 ||
	    (rc = param_ns(l, "duration_s", &o->duration_ns, err, errlen)) < 0 ||
	    (rc = param_u32(l, "workers", &o->workers, err, errlen)) < 0 ||
	    (rc = param_u32(l, "pipeline", &o->pipeline, err, errlen)) < 0 ||
	    (rc = param_ns(l, "timeout_s", &o->request_timeout_ns, err, errlen)) < 0 ||
	    (rc = param_ns(l, "connect_timeout_s", &o->connect_timeout_ns, err, errlen)) < 0)
		return rc;
	if ((rc = sources_from_log(l, o)) < 0)
		snprintf(err, errlen, "out of memory");
	return rc;
}

/* What the intervals make of a run as they stream by: one second per
 * interval, in order. */
struct gather {
	struct run_result *r;
	double end; /* the last interval's end, seconds */
};

static int take_interval(void *arg, struct hlog_interval *iv)
{
	struct gather *g = arg;
	struct run_result *r = g->r;

	report_held_second(r, &iv->s);
	if (iv->start + iv->length > g->end)
		g->end = iv->start + iv->length;
	return series_append(r->series, &iv->s, NULL, NULL);
}

/* After the stream: the totals (every line added, as hlog_read_stream kept
 * them) and the run's times. */
/* The sum over the logs of a count each log's header names (0 where absent). */
static int sum_log_counts(const struct hlog *l, const char *name, uint32_t *sum, char *err,
			  size_t errlen)
{
	*sum = 0;
	for (size_t i = 0; i < l->nlog_info; i++) {
		const char *v = hlog_log_param(&l->logs[i], name);
		char *end;
		if (!v)
			continue;
		errno = 0;
		unsigned long n = strtoul(v, &end, 10);
		if (*v < '0' || *v > '9' || *end || errno || n > UINT32_MAX - *sum) {
			snprintf(err, errlen, "%s: #surge-param %s %s: want a count", l->logs[i].name,
				 name, v);
			return -EINVAL;
		}
		*sum += (uint32_t)n;
	}
	return 0;
}

static int result_from_log(struct hlog *l, const struct gather *g, struct run_result *r, char *err,
			   size_t errlen)
{
	double elapsed, interrupted, workers, lost;
	int rc;

	if (l->has_total) {
		r->total = l->total; /* moved: l keeps nothing to free */
		memset(&l->total, 0, sizeof(l->total));
		l->has_total = false;
	} else if (stats_init(&r->total) < 0) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if ((rc = param_num(l, "elapsed_s", PARAM_SECS_MAX, 0, &elapsed, err, errlen)) < 0 ||
	    (rc = param_num(l, "workers", UINT32_MAX, 0, &workers, err, errlen)) < 0 ||
	    (rc = param_num(l, "workers_lost", UINT32_MAX, 0, &lost, err, errlen)) < 0 ||
	    (rc = param_num(l, "interrupted", 1, 0, &interrupted, err, errlen)) < 0 ||
	    (rc = param_ns(l, "connect_phase_s", &r->connect_phase_ns, err, errlen)) < 0)
		return rc;
	/* Several logs (shards, runs side by side) took as long as the longest:
	 * the first one's time made the totals' rates hang on the order the
	 * logs were named in. */
	for (size_t i = 0; i < l->nlog_info; i++) {
		const char *v = hlog_log_param(&l->logs[i], "elapsed_s");
		char *end;
		double e = v ? strtod(v, &end) : 0;
		if (v && end != v && !*end && e > elapsed && e <= PARAM_SECS_MAX)
			elapsed = e;
	}
	/* A log that lost seconds ran for what it recorded, not what it says (a
	 * merge of cut logs says what it recorded already). */
	bool cut = false;
	for (size_t i = 0; i < r->ncuts; i++)
		cut |= r->cuts[i].kind != REPORT_CUT_MERGE;
	/* Whole logs that say 0 s are of a run stopped before its start. */
	bool ended = l->nlog_info > 0;
	for (size_t i = 0; i < l->nlog_info; i++)
		ended &= l->logs[i].ended;
	ended &= hlog_param(l, "elapsed_s") != NULL;
	r->elapsed_ns = s_to_ns(elapsed > 0 && !cut ? elapsed : ended && !cut ? 0 : g->end);
	r->start_epoch = l->start_time;
	r->workers = (uint32_t)workers;
	/* Whatever log missed a second or lost a worker, the merge of them
	 * misses it too: both add over the logs (the first log's count alone
	 * hid a worker lost in another). */
	if ((rc = sum_log_counts(l, "workers_lost", &r->workers_lost, err, errlen)) < 0 ||
	    (rc = sum_log_counts(l, "seconds_unmerged", &r->seconds_unmerged, err, errlen)) < 0)
		return rc;
	if (!l->nlog_info)
		r->workers_lost = (uint32_t)lost;
	/* A worker lost, or one that exited with a failure, failed its run
	 * (exit 1): so does any report of its log, merged or not. */
	r->worker_failed = r->workers_lost > 0;
	for (size_t i = 0; i < l->nlog_info; i++) {
		const char *v = hlog_log_param(&l->logs[i], "worker_failed");
		r->worker_failed |= v && strcmp(v, "0") != 0;
	}
	r->interrupted = interrupted != 0;
	/* The count ended it: said only by the end line (a threshold that
	 * stopped it is named with the thresholds, load_thresholds). */
	const struct hlog_log *from = params_log(l);
	r->ended_by_requests = from && strcmp(from->ended_by, "requests") == 0;
	/* A run that gave up (no connection, -n alone) says so again, and
	 * its report fails as it did. */
	const char *gave = hlog_param(l, "unreachable_s");
	if (gave && sscanf(gave, "%lf %lf", &r->unreachable_at_s, &r->unreachable_window_s) == 2 &&
	    r->unreachable_at_s >= 0 && r->unreachable_window_s >= 0)
		r->unreachable = true;
	return 0;
}

/* How long since each log was last written: a log written as its run went
 * that has been still for long was left by a run that died (report_cut.h).
 * Negative when not known. */
static void still_for(FILE *const *files, size_t n, double *still)
{
	struct timespec now;
	struct stat st;

	clock_gettime(CLOCK_REALTIME, &now);
	for (size_t i = 0; i < n; i++) {
		still[i] = -1;
		if (fstat(fileno(files[i]), &st) == 0)
			still[i] = fmax(0, (double)(now.tv_sec - st.st_mtim.tv_sec) +
						   (double)(now.tv_nsec - st.st_mtim.tv_nsec) / 1e9);
	}
}

/* The logs' recorded thresholds, then the command line's. */
static int load_thresholds(const struct hlog *l, const char *first_log, const struct report_args *a,
			   struct run_result *r, char *err, size_t errlen)
{
	size_t n = a->nthresholds;
	for (size_t i = 0; i < l->nparams; i++)
		n += strcmp(l->params[i].key, "threshold") == 0;
	r->thresholds = n ? calloc(n, sizeof(*r->thresholds)) : NULL;
	if (n && !r->thresholds)
		return -ENOMEM;
	char where[256];
	snprintf(where, sizeof(where), "recorded in %s", first_log);
	for (size_t i = 0; i < l->nparams; i++) {
		if (strcmp(l->params[i].key, "threshold") != 0)
			continue;
		int rc = threshold_parse(NULL, l->params[i].value, where,
					 &r->thresholds[r->nthresholds], err, errlen);
		if (rc < 0)
			return rc;
		r->nthresholds++;
	}
	/* Which of them were marked abort, and the one that stopped the run:
	 * by their place among the log's threshold lines. */
	size_t recorded = r->nthresholds;
	for (size_t i = 0; i < l->nparams; i++) {
		const struct hlog_param *p = &l->params[i];
		size_t k;
		double after, at, actual;
		int end = 0;
		if (strcmp(p->key, "threshold_abort") == 0) {
			if (sscanf(p->value, "%zu %lf%n", &k, &after, &end) != 2 || p->value[end] ||
			    k >= recorded || !(after >= 0 && after <= PARAM_SECS_MAX))
				return bad_param(l, p, "THRESHOLD_INDEX ABORT_AFTER_S", err, errlen);
			r->thresholds[k].abort = true;
			r->thresholds[k].abort_after_ns = s_to_ns(after);
		} else if (strcmp(p->key, "aborted") == 0) {
			if (sscanf(p->value, "%zu %lf %lf%n", &k, &at, &actual, &end) != 3 ||
			    p->value[end] || k >= recorded || !(at >= 0 && at <= PARAM_SECS_MAX) ||
			    !isfinite(actual))
				return bad_param(l, p, "THRESHOLD_INDEX AT_S ACTUAL", err, errlen);
			r->aborted_by = &r->thresholds[k];
			r->aborted_at_s = at;
			r->aborted_actual = actual;
		}
	}
	for (size_t i = 0; i < a->nthresholds; i++) {
		int rc = threshold_parse(NULL, a->thresholds[i], "--threshold",
					 &r->thresholds[r->nthresholds], err, errlen);
		if (rc < 0)
			return rc;
		r->nthresholds++;
	}
	return 0;
}

static int write_hlog(FILE *f, const struct options *o, const struct run_result *r,
		      const char *const *sources, size_t nsources)
{
	return report_hlog(f, o, r);
}

int report_main(int argc, char **argv)
{
	struct report_args a = { 0 };
	struct options o = { 0 };
	struct run_result r = { 0 };
	struct hlog l;
	struct report_shards sh;
	FILE **files = NULL;
	double *still = NULL;
	char *scenarios = NULL;
	char err[1024];
	int rc = EXIT_USAGE;

	hlog_init(&l);
	if (parse_args(argc, argv, &a) < 0)
		goto out;
	if (a.help) {
		fputs(report_usage, stdout);
		rc = EXIT_OK;
		goto out;
	}
	if (a.nfiles == 0) {
		fprintf(stderr, "surge report: which logs? e.g. surge report run.hlog "
				"(written by surge run --hlog run.hlog)\n");
		goto out;
	}
	/* Thresholds first: a typo is a usage error whatever the logs hold. */
	for (size_t i = 0; i < a.nthresholds; i++) {
		struct threshold t;
		if (threshold_parse(NULL, a.thresholds[i], "--threshold", &t, err, sizeof(err)) < 0) {
			fprintf(stderr, "surge report: %s\n", err);
			goto out;
		}
	}
	const struct report_out outs[3] = {
		{a.hlog, "HdrHistogram log", write_hlog},
		{a.json, "JSON", report_json},
		{a.html, "HTML", report_html},
	};
	if (report_outs_check(outs, 3, err, sizeof(err)) < 0) {
		fprintf(stderr, "surge report: %s\n", err);
		goto out;
	}
	rc = EXIT_FAILED;
	/* Streamed: every log open at once, each interval kept only as the
	 * series keeps it, so a report of a day-long log holds a few seconds. */
	files = calloc(a.nfiles, sizeof(*files));
	still = calloc(a.nfiles, sizeof(*still));
	if (!files || !still || series_new(a.hlog != NULL, &r.series) < 0) {
		fprintf(stderr, "surge report: out of memory\n");
		goto out;
	}
	for (size_t i = 0; i < a.nfiles; i++) {
		struct stat st;
		if (!(files[i] = fopen(a.files[i], "r"))) {
			fprintf(stderr, "surge report: cannot open '%s': %s\n", a.files[i],
				strerror(errno));
			goto out;
		}
		/* fopen takes a directory; its first read fails with EISDIR. */
		if (fstat(fileno(files[i]), &st) == 0 && S_ISDIR(st.st_mode)) {
			fprintf(stderr, "surge report: '%s' is a directory: give the logs in it "
					"(e.g. %s/*.hlog)\n", a.files[i], a.files[i]);
			goto out;
		}
	}
	struct gather g = { .r = &r };
	still_for(files, a.nfiles, still);
	if (hlog_read_stream(files, (const char *const *)a.files, a.nfiles, &l, take_interval, &g,
			     err, sizeof(err)) < 0 ||
	    options_from_log(&l, &o, err, sizeof(err)) < 0 ||
	    report_cut_judge(&l, still, &r, err, sizeof(err)) < 0 ||
	    result_from_log(&l, &g, &r, err, sizeof(err)) < 0 ||
	    report_shards_merge(&l, &o, &r, &sh, stderr, err, sizeof(err)) < 0) {
		fprintf(stderr, "surge report: %s\n", err);
		goto out;
	}
	o.scenario_path = scenarios = joined(&l, "scenario");
	o.latency_table = a.latency;
	if (load_thresholds(&l, a.files[0], &a, &r, err, sizeof(err)) < 0) {
		fprintf(stderr, "surge report: %s\n", err);
		goto out;
	}
	r.thresholds_failed = threshold_eval(r.thresholds, r.nthresholds, &r.total,
					     (double)r.elapsed_ns / 1e9);
	size_t cut = report_cut_say(&r, stderr);
	/* As `surge run` exits 1 when a worker died, so does every report of
	 * its log: the totals miss that worker's share. */
	if (r.workers_lost)
		fprintf(stderr, "surge report: %u worker%s died during the run%s: what %s had in "
			"flight is unfinished, the rest of %s share is missing (exit 1)\n",
			r.workers_lost, r.workers_lost == 1 ? "" : "s", a.nfiles == 1 ? "" : "s",
			r.workers_lost == 1 ? "it" : "they", r.workers_lost == 1 ? "its" : "their");
	/* The run's own rule (run.c), so the report fails where its run failed;
	 * a signal that stopped the run is no failure of its report. Then what
	 * only a report can lack: shards, or seconds of a cut log. */
	r.exit_code = run_exit_code(&o, &r, true, false);
	if (r.exit_code == EXIT_OK && (sh.missing || sh.doubled || cut) && !a.partial)
		r.exit_code = EXIT_FAILED;
	int to_stdout = report_stdout_count(a.hlog, a.json, a.html);
	if ((a.quiet || to_stdout) && r.thresholds_failed)
		report_thresholds_failed(stderr, "surge report", &r);
	if (!a.quiet && !to_stdout) {
		char shards[96] = "";
		if (sh.count)
			snprintf(shards, sizeof(shards), " (shards: %u of %u%s)", sh.present, sh.count,
				 sh.doubled ? ", some twice" : "");
		else if (sh.concurrent)
			snprintf(shards, sizeof(shards), " (run together: asked connections and rate "
				 "added)");
		else if (sh.separate)
			snprintf(shards, sizeof(shards), " (separate runs, overlaid from their starts: "
				 "asked connections and rate added)");
		printf("surge report: %zu log%s%s, %zu interval%s, %s -> %s\n", a.nfiles,
		       a.nfiles == 1 ? "" : "s", shards, report_nseconds(&r),
		       report_nseconds(&r) == 1 ? "" : "s", o.scenario_path ? o.scenario_path : "?",
		       o.target ? o.target : "?");
		report_text(stdout, &o, &r);
	}
	const char *const *src = (const char *const *)a.files;
	if (report_outs_write(outs, 3, &o, &r, src, a.nfiles, err, sizeof(err)) < 0) {
		for (char *line = strtok(err, "\n"); line; line = strtok(NULL, "\n"))
			fprintf(stderr, "surge report: %s\n", line);
		goto out;
	}
	/* As the run said it: why it measured nothing, and what to check. */
	if (r.exit_code != EXIT_OK && !r.worker_failed && run_measured_nothing(&o, &r)) {
		o.quiet = a.quiet || to_stdout;
		o.json_path = a.json ? strdup(a.json) : NULL;
		report_nothing_measured(stderr, &o, &r);
	}
	rc = r.exit_code;
out:
	for (size_t i = 0; files && i < a.nfiles; i++)
		if (files[i])
			fclose(files[i]);
	free(files);
	free(still);
	free(scenarios);
	run_result_free(&r);
	options_free(&o);
	hlog_free(&l);
	free(a.thresholds);
	return rc;
}
