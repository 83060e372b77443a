/* report_cmd: `surge report LOG.hlog...` — reads saved interval logs, adds
 * them (intervals aligned on each log's start, histograms added exactly),
 * re-evaluates thresholds and renders the same reports a run does. */
#include "report.h"
#include "report_cut.h"
#include "report_held.h"
#include "report_log.h"
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
	    report_log_options(&l, &o, err, sizeof(err)) < 0 ||
	    report_cut_judge(&l, still, &r, err, sizeof(err)) < 0 ||
	    report_log_result(&l, g.end, &r, err, sizeof(err)) < 0 ||
	    report_shards_merge(&l, &o, &r, &sh, stderr, err, sizeof(err)) < 0) {
		fprintf(stderr, "surge report: %s\n", err);
		goto out;
	}
	o.scenario_path = scenarios = report_log_joined(&l, "scenario");
	o.latency_table = a.latency;
	if (report_log_thresholds(&l, a.files[0], a.thresholds, a.nthresholds, &r, err,
				  sizeof(err)) < 0) {
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
