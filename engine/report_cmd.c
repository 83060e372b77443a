/* report_cmd: `surge report LOG.hlog...` — reads saved interval logs, adds
 * them (intervals aligned on each log's start, histograms added exactly),
 * re-evaluates thresholds and renders the same reports a run does. */
#include "report.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "hlog.h"
#include "threshold.h"

static const char report_usage[] =
	"usage: surge report LOG.hlog [more.hlog ...] [options]\n"
	"\n"
	"Re-renders saved runs from their HdrHistogram interval logs (surge run --hlog),\n"
	"and merges several (workers, the shards of a multi-machine run, repeated runs)\n"
	"by adding their histograms: exact, as if one run had recorded every sample.\n"
	"Logs are aligned on their own start times; run parameters come from the first.\n"
	"\n"
	"      --json FILE         write the merged report as JSON\n"
	"      --html FILE         write a self-contained HTML report\n"
	"      --hlog FILE         write the merged interval log\n"
	"                          (FILE '-': that report alone on stdout)\n"
	"      --latency           print the full latency distribution\n"
	"      --threshold EXPR    check EXPR too, e.g. 'latency.p99<5ms' (repeatable);\n"
	"                          thresholds recorded in the logs are always checked\n"
	"  -q, --quiet             no report on stdout\n"
	"  -h, --help              this help\n"
	"\n"
	"Exit status: 0 done, 1 a log cannot be read, 2 bad command line,\n"
	"3 a threshold failed.\n";

struct report_args {
	const char *json, *html, *hlog;
	const char **thresholds;
	size_t nthresholds;
	bool latency, quiet, help;
	char **files;
	size_t nfiles;
};

static int parse_args(int argc, char **argv, struct report_args *a)
{
	static const struct option longopts[] = {
		{ "json", required_argument, 0, 'J' },	    { "html", required_argument, 0, 'M' },
		{ "hlog", required_argument, 0, 'H' },	    { "latency", no_argument, 0, 'L' },
		{ "threshold", required_argument, 0, 'X' }, { "quiet", no_argument, 0, 'q' },
		{ "help", no_argument, 0, 'h' },	    { 0, 0, 0, 0 },
	};
	int ch;

	a->thresholds = calloc((size_t)argc, sizeof(*a->thresholds));
	if (!a->thresholds)
		return -ENOMEM;
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'J': a->json = optarg; break;
		case 'M': a->html = optarg; break;
		case 'H': a->hlog = optarg; break;
		case 'L': a->latency = true; break;
		case 'X': a->thresholds[a->nthresholds++] = optarg; break;
		case 'q': a->quiet = true; break;
		case 'h': a->help = true; break;
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

static double param_num(const struct hlog *l, const char *key, double dflt)
{
	const char *v = hlog_param(l, key);
	char *end;
	double d = v ? strtod(v, &end) : dflt;
	return v && end != v ? d : dflt;
}

static char *param_dup(const struct hlog *l, const char *key)
{
	const char *v = hlog_param(l, key);
	return v && *v ? strdup(v) : NULL;
}

static uint64_t s_to_ns(double s)
{
	return s > 0 ? (uint64_t)(s * 1e9 + 0.5) : 0;
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

/* The run's settings as the first log recorded them; what a report needs. */
static int options_from_log(const struct hlog *l, struct options *o)
{
	size_t ndest = 0, nseg = 0;

	for (size_t i = 0; i < l->nparams; i++) {
		ndest += strcmp(l->params[i].key, "destination") == 0;
		nseg += strcmp(l->params[i].key, "rate_segment") == 0;
	}
	o->target = param_dup(l, "target");
	o->dests = ndest ? calloc(ndest, sizeof(*o->dests)) : NULL;
	o->rate_segs = nseg ? calloc(nseg, sizeof(*o->rate_segs)) : NULL;
	if ((ndest && !o->dests) || (nseg && !o->rate_segs))
		return -ENOMEM;
	for (size_t i = 0; i < l->nparams; i++) {
		const char *k = l->params[i].key, *v = l->params[i].value;
		if (strcmp(k, "destination") == 0) {
			snprintf(o->dests[o->ndests++].label, sizeof(o->dests[0].label), "%s", v);
		} else if (strcmp(k, "rate_segment") == 0) {
			double t0, t1, r0, r1;
			if (sscanf(v, "%lf %lf %lf %lf", &t0, &t1, &r0, &r1) == 4)
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
	o->max_connections = (uint32_t)param_num(l, "connections", 0);
	o->duration_ns = s_to_ns(param_num(l, "duration_s", 0));
	o->workers = (uint32_t)param_num(l, "workers", 0);
	o->pipeline = (uint32_t)param_num(l, "pipeline", 0);
	o->request_timeout_ns = s_to_ns(param_num(l, "timeout_s", 0));
	o->connect_timeout_ns = s_to_ns(param_num(l, "connect_timeout_s", 0));
	return sources_from_log(l, o);
}

/* One second per interval, in order; totals are the sum of all. */
static int result_from_log(struct hlog *l, struct run_result *r)
{
	double end = 0;

	if (stats_init(&r->total) < 0)
		return -ENOMEM;
	r->seconds = calloc(l->niv ? l->niv : 1, sizeof(*r->seconds));
	r->reports = calloc(l->niv ? l->niv : 1, sizeof(*r->reports));
	if (!r->seconds || !r->reports)
		return -ENOMEM;
	for (size_t i = 0; i < l->niv; i++) {
		/* Moved, not copied: l keeps an empty husk that stats_free ignores. */
		r->seconds[i] = l->iv[i].s;
		memset(&l->iv[i].s, 0, sizeof(l->iv[i].s));
		r->reports[i] = 1;
		r->nseconds++;
		int rc = stats_add(&r->total, &r->seconds[i]);
		if (rc < 0)
			return rc;
		if (r->seconds[i].gauge[GA_CONNS_OPEN] > r->peak_open)
			r->peak_open = r->seconds[i].gauge[GA_CONNS_OPEN];
		if (l->iv[i].start + l->iv[i].length > end)
			end = l->iv[i].start + l->iv[i].length;
	}
	double elapsed = param_num(l, "elapsed_s", 0);
	r->elapsed_ns = s_to_ns(elapsed > 0 ? elapsed : end);
	r->start_epoch = l->start_time;
	r->workers = (uint32_t)param_num(l, "workers", 0);
	r->workers_lost = (uint32_t)param_num(l, "workers_lost", 0);
	r->interrupted = param_num(l, "interrupted", 0) != 0;
	return 0;
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
	for (size_t i = 0; i < a.nfiles; i++) {
		FILE *f = fopen(a.files[i], "r");
		if (!f) {
			fprintf(stderr, "surge report: cannot open '%s': %s\n", a.files[i],
				strerror(errno));
			goto out;
		}
		int e = hlog_read(f, a.files[i], &l, err, sizeof(err));
		fclose(f);
		if (e < 0) {
			fprintf(stderr, "surge report: %s\n", err);
			goto out;
		}
	}
	if (options_from_log(&l, &o) < 0 || result_from_log(&l, &r) < 0) {
		fprintf(stderr, "surge report: out of memory\n");
		goto out;
	}
	o.scenario_path = hlog_param(&l, "scenario");
	o.latency_table = a.latency;
	if (load_thresholds(&l, a.files[0], &a, &r, err, sizeof(err)) < 0) {
		fprintf(stderr, "surge report: %s\n", err);
		goto out;
	}
	r.thresholds_failed = threshold_eval(r.thresholds, r.nthresholds, &r.total,
					     (double)r.elapsed_ns / 1e9);
	r.exit_code = r.thresholds_failed ? EXIT_THRESHOLDS : EXIT_OK;
	int to_stdout = report_stdout_count(a.hlog, a.json, a.html);
	if (!a.quiet && !to_stdout) {
		printf("surge report: %zu log%s, %zu interval%s, %s -> %s\n", a.nfiles,
		       a.nfiles == 1 ? "" : "s", r.nseconds, r.nseconds == 1 ? "" : "s",
		       o.scenario_path ? o.scenario_path : "?", o.target ? o.target : "?");
		report_text(stdout, &o, &r);
	}
	const char *const *src = (const char *const *)a.files;
	if (report_outs_write(outs, 3, &o, &r, src, a.nfiles, err, sizeof(err)) < 0) {
		for (char *line = strtok(err, "\n"); line; line = strtok(NULL, "\n"))
			fprintf(stderr, "surge report: %s\n", line);
		goto out;
	}
	rc = r.exit_code;
out:
	run_result_free(&r);
	options_free(&o);
	hlog_free(&l);
	free(a.thresholds);
	return rc;
}
