/* report_json: the --json report, schema "surge-report" version 1
 * (tests/e2e/schema/report-v1.json, README "Reports"). Add fields freely;
 * renaming or removing one bumps the version. */
#include "report.h"
#include "shard.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "report_cut.h"
#include "report_held.h"
#include "report_rate.h"
#include "report_shards.h"
#include "series.h"
#include "threshold.h"
#include "tls.h"
#include "version.h"

#define JSON_VERSION 1

const double report_percentiles[REPORT_NPERCENTILES] = { 50, 75, 90, 95, 99, 99.9, 99.99, 99.999, 100 };

static void jstr(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p < 0x20)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

/* JSON has no NaN or infinity; null says "not measured". */
static void jnum(FILE *f, double v)
{
	if (isfinite(v))
		fprintf(f, "%.10g", v);
	else
		fputs("null", f);
}

static void jkey(FILE *f, bool *first, const char *k)
{
	fputs(*first ? "" : ",", f);
	*first = false;
	jstr(f, k);
	fputc(':', f);
}

static void jint_field(FILE *f, bool *first, const char *k, long long v)
{
	jkey(f, first, k);
	fprintf(f, "%lld", v);
}

static void jnum_field(FILE *f, bool *first, const char *k, double v)
{
	jkey(f, first, k);
	jnum(f, v);
}

void report_fmt_percentile(char *buf, size_t len, double p)
{
	snprintf(buf, len, "%.10g", p);
}

size_t report_nseconds(const struct run_result *r)
{
	return series_len(r->series);
}

/* surge report: each log that lacks seconds, as stderr names it (report_cut.h). */
static void logs_cut(FILE *f, const struct run_result *r, bool *first)
{
	static const char *const kinds[] = {
		[REPORT_CUT_SHORT] = "short", [REPORT_CUT_GAPS] = "gaps", [REPORT_CUT_LEFT] = "left",
		[REPORT_CUT_LIVE] = "live",   [REPORT_CUT_MERGE] = "merge",
	};

	jkey(f, first, "logs_cut");
	fputc('[', f);
	for (size_t i = 0; i < r->ncuts; i++) {
		const struct report_cut *c = &r->cuts[i];
		bool cf = true;
		fputs(i ? ",{" : "{", f);
		jkey(f, &cf, "log");
		jstr(f, c->log);
		jkey(f, &cf, "kind");
		jstr(f, kinds[c->kind]);
		jkey(f, &cf, "from_s");
		if (c->kind == REPORT_CUT_MERGE)
			fputs("null", f); /* somewhere in the logs it merged */
		else
			jnum(f, c->from_s);
		jint_field(f, &cf, "seconds", (long long)c->seconds);
		jkey(f, &cf, "exact");
		fputs(c->exact ? "true" : "false", f);
		fputc('}', f);
	}
	fputc(']', f);
}

static void run_params(FILE *f, const struct options *o, const struct run_result *r,
		       const char *const *sources, size_t nsources)
{
	bool first = true;
	char when[32] = "";
	time_t t = (time_t)r->start_epoch;
	struct tm tm;

	if (r->start_epoch > 0 && gmtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	fputs("\"run\":{", f);
	jkey(f, &first, "scenario");
	jstr(f, o->scenario_path);
	jkey(f, &first, "target");
	jstr(f, o->target);
	jkey(f, &first, "destinations");
	fputc('[', f);
	for (size_t i = 0; i < o->ndests; i++) {
		fputs(i ? "," : "", f);
		jstr(f, o->dests[i].label);
	}
	fputc(']', f);
	if (tls_options_used(o)) {
		jkey(f, &first, "tls");
		fprintf(f, "{\"verify\":%s,\"resume\":%s}", o->tls.verify ? "true" : "false",
			o->tls.resume ? "true" : "false");
	}
	jkey(f, &first, "protocol");
	jstr(f, o->proto_name);
	jkey(f, &first, "shape");
	jstr(f, o->shape == SHAPE_SESSION ? "session" : "message");
	jkey(f, &first, "transport");
	jstr(f, o->transport == TRANSPORT_UDP ? "udp" : "tcp");
	jkey(f, &first, "model");
	jstr(f, o->rate_segs ? "open" : "closed");
	jint_field(f, &first, "connections", shard_connections(o));
	jkey(f, &first, "shard");
	if (o->shards > 1)
		fprintf(f, "{\"index\":%u,\"count\":%u,\"run_connections\":%u,\"thresholds_judged\":%s}",
			o->shard + 1, o->shards, o->max_connections, o->shard_judge ? "true" : "false");
	else
		fputs("null", f);
	jkey(f, &first, "start_at");
	if (o->start_at > 0)
		fprintf(f, "%.3f", o->start_at);
	else
		fputs("null", f);
	jkey(f, &first, "rate");
	if (o->rate_segs) {
		double peak = 0, scale = shard_rate_scale(o);
		fputs("{\"arrival\":", f);
		jstr(f, o->arrival == PACER_POISSON ? "poisson" : "uniform");
		fputs(",\"segments\":[", f);
		for (size_t i = 0; i < o->nrate_segs; i++) {
			const struct rate_segment *s = &o->rate_segs[i];
			fprintf(f, "%s{\"from_s\":", i ? "," : "");
			jnum(f, (double)s->t0 / 1e9);
			fputs(",\"to_s\":", f);
			jnum(f, (double)s->t1 / 1e9);
			fputs(",\"from\":", f);
			jnum(f, s->r0 * scale);
			fputs(",\"to\":", f);
			jnum(f, s->r1 * scale);
			fputc('}', f);
			peak = fmax(peak, fmax(s->r0, s->r1) * scale);
		}
		fputs("],\"peak\":", f);
		jnum(f, peak);
		fputc('}', f);
	} else {
		fputs("null", f);
	}
	jnum_field(f, &first, "duration_s", (double)o->duration_ns / 1e9);
	jnum_field(f, &first, "elapsed_s", (double)r->elapsed_ns / 1e9);
	jkey(f, &first, "duration_unbounded");
	fputs(o->duration_unbounded ? "true" : "false", f);
	jkey(f, &first, "requests");
	if (o->requests)
		fprintf(f, "%llu", (unsigned long long)o->requests);
	else
		fputs("null", f);
	jkey(f, &first, "ended_by");
	jstr(f, report_ended_by_key(o, r));
	jint_field(f, &first, "workers", r->workers);
	jint_field(f, &first, "workers_lost", r->workers_lost);
	jint_field(f, &first, "seconds_unmerged", r->seconds_unmerged);
	jint_field(f, &first, "seconds_cut", (long long)r->seconds_cut);
	jint_field(f, &first, "pipeline", o->pipeline);
	jnum_field(f, &first, "timeout_s", (double)o->request_timeout_ns / 1e9);
	jnum_field(f, &first, "connect_timeout_s", (double)o->connect_timeout_ns / 1e9);
	jkey(f, &first, "start");
	jstr(f, o->start == START_CONNECTED ? "connected" : "now");
	jnum_field(f, &first, "connect_phase_s", (double)r->connect_phase_ns / 1e9);
	jkey(f, &first, "start_time");
	fprintf(f, "%.3f", r->start_epoch);
	jkey(f, &first, "start_time_utc");
	jstr(f, when);
	jkey(f, &first, "interrupted");
	fputs(r->interrupted ? "true" : "false", f);
	if (r->shards_of) {
		/* surge report of a sharded run: which of its shards it read. */
		jkey(f, &first, "shards");
		fprintf(f, "{\"count\":%u,\"missing\":[", r->shards_of);
		for (uint32_t i = 0; i < r->nshards_missing; i++)
			fprintf(f, "%s%u", i ? "," : "", r->shards_missing[i]);
		fputs("],\"doubled\":[", f);
		for (uint32_t i = 0; i < r->nshards_doubled; i++)
			fprintf(f, "%s%u", i ? "," : "", r->shards_doubled[i]);
		fputs("]}", f);
	}
	jkey(f, &first, "sources");
	fputc('[', f);
	for (size_t i = 0; i < nsources; i++) {
		fputs(i ? "," : "", f);
		jstr(f, sources[i]);
	}
	fputc(']', f);
	logs_cut(f, r, &first);
	fputc('}', f);
}

static void totals(FILE *f, const struct run_result *r)
{
	const struct stats *s = &r->total;
	double secs = (double)r->elapsed_ns / 1e9;
	int64_t errors = stats_errors_total(s);
	int64_t done = s->counter[ST_COMPLETED] + s->counter[ST_SESSIONS_DONE];
	bool first = true;

	fputs(",\n\"totals\":{\"requests\":{", f);
	jint_field(f, &first, "sent", s->counter[ST_SENT]);
	jint_field(f, &first, "completed", s->counter[ST_COMPLETED]);
	jint_field(f, &first, "unfinished", s->counter[ST_UNFINISHED]);
	jint_field(f, &first, "intended", s->counter[ST_INTENDED]);
	jint_field(f, &first, "dropped", s->counter[ST_DROPPED]);
	jint_field(f, &first, "dropped_busy", s->counter[ST_DROPPED_BUSY]);
	jint_field(f, &first, "dropped_no_conn", s->counter[ST_DROPPED_NO_CONN]);
	fputc('}', f);
	jint_field(f, &first, "sessions_completed", s->counter[ST_SESSIONS_DONE]);
	jint_field(f, &first, "sessions_unfinished", s->counter[ST_SESSIONS_UNFINISHED]);
	jnum_field(f, &first, "throughput_per_s", secs > 0 ? (double)done / secs : NAN);
	jnum_field(f, &first, "rate_achieved",
		   s->counter[ST_INTENDED] ? (double)report_shards_sent_paced(r) /
						     (double)s->counter[ST_INTENDED]
					   : NAN);
	jkey(f, &first, "bytes");
	fprintf(f, "{\"in\":%lld,\"out\":%lld}", (long long)s->counter[ST_BYTES_IN],
		(long long)s->counter[ST_BYTES_OUT]);
	jkey(f, &first, "connections");
	fprintf(f, "{\"attempts\":%lld,\"opened\":%lld,\"closed\":%lld,\"peak_open\":%lld}",
		(long long)s->counter[ST_CONN_ATTEMPTS], (long long)s->counter[ST_CONN_OPENED],
		(long long)s->counter[ST_CONN_CLOSED], (long long)r->peak_open);
	jkey(f, &first, "errors");
	fprintf(f, "{\"total\":%lld,\"rate\":", (long long)errors);
	jnum(f, stats_error_rate(s));
	fputs(",\"by_class\":{", f);
	bool cfirst = true;
	for (int i = 0; i < ERR__COUNT; i++)
		jint_field(f, &cfirst, stats_error_key(i), s->error[i]);
	fputs("}}}", f);
}

static int histogram(FILE *f, const char *name, const struct hist *h, bool *first)
{
	struct hist_pct_row *rows = NULL;
	size_t n = 0;
	uint8_t *bin = NULL;
	size_t binlen;
	char *b64 = NULL, pk[32];
	int rc;

	if ((rc = hist_percentile_rows(h, 5, &rows, &n)) < 0)
		goto out;
	if ((rc = hist_encode_compressed(h, &bin, &binlen)) < 0 ||
	    (rc = hist_base64_encode(bin, binlen, &b64)) < 0)
		goto out;
	fputs(*first ? "\n" : ",\n", f);
	*first = false;
	jstr(f, name);
	bool hf = true;
	fputs(":{", f);
	jkey(f, &hf, "unit");
	jstr(f, "ns");
	jint_field(f, &hf, "count", hist_total(h));
	jint_field(f, &hf, "min", hist_min(h));
	jint_field(f, &hf, "max", hist_max(h));
	jnum_field(f, &hf, "mean", hist_mean(h));
	jnum_field(f, &hf, "stddev", hist_stddev(h));
	jint_field(f, &hf, "clamped", hist_clamped(h));
	jkey(f, &hf, "percentiles");
	fputc('{', f);
	bool pf = true;
	for (size_t i = 0; i < REPORT_NPERCENTILES; i++) {
		report_fmt_percentile(pk, sizeof(pk), report_percentiles[i]);
		jint_field(f, &pf, pk, hist_value_at_percentile(h, report_percentiles[i]));
	}
	fputc('}', f);
	jkey(f, &hf, "distribution");
	fputc('[', f);
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "%s\n {\"value\":%lld,\"percentile\":", i ? "," : "",
			(long long)rows[i].value);
		jnum(f, rows[i].percentile);
		fprintf(f, ",\"total_count\":%lld}", (long long)rows[i].total_count);
	}
	fputs("]", f);
	jkey(f, &hf, "hdr");
	jstr(f, b64);
	fputc('}', f);
out:
	free(rows);
	free(bin);
	free(b64);
	return rc;
}

static void series_hist(FILE *f, bool *first, const char *k, const struct series_hist *h)
{
	jkey(f, first, k);
	if (!h->count) {
		fputs("null", f);
		return;
	}
	fprintf(f, "{\"count\":%lld,\"p50\":%lld,\"p90\":%lld,\"p99\":%lld,\"max\":%lld}",
		(long long)h->count, (long long)h->p50, (long long)h->p90, (long long)h->p99,
		(long long)h->max);
}

static int series(FILE *f, const struct run_result *r)
{
	size_t n = report_nseconds(r);
	struct series_point p;

	fputs(",\n\"series\":[", f);
	for (size_t i = 0; i < n; i++) {
		bool first = true;
		int rc = series_get(r->series, i, &p);
		if (rc < 0)
			return rc;
		int64_t errors = 0;
		for (int e = 0; e < ERR__COUNT; e++)
			errors += p.error[e];
		fprintf(f, "%s\n{", i ? "," : "");
		jint_field(f, &first, "second", (long long)i);
		for (int c = 0; c < ST__COUNT; c++)
			jint_field(f, &first, stats_counter_key(c), p.counter[c]);
		jint_field(f, &first, "errors", errors);
		for (int g = 0; g < GA__COUNT; g++)
			jint_field(f, &first, stats_gauge_key(g), p.gauge[g]);
		for (int h = 0; h < HI__COUNT; h++)
			series_hist(f, &first, stats_hist_key(h), &p.hist[h]);
		fputc('}', f);
	}
	fputs("]", f);
	return 0;
}

/* Per-address tables: what a user would otherwise check with ss. */
static void addresses(FILE *f, const struct options *o, const struct stats *s)
{
	struct report_dest d;
	size_t cursor = 0;
	char addr[64];
	bool first = true;

	fputs(",\n\"addresses\":{\"sources\":[", f);
	for (uint32_t i = 0; i < s->nsrc && report_source_addr(o, i, addr, sizeof(addr)); i++) {
		bool k = true;
		fprintf(f, "%s\n{", i ? "," : "");
		jkey(f, &k, "address");
		jstr(f, addr);
		jint_field(f, &k, "connections", s->src_conns[i]);
		jint_field(f, &k, "completed", s->src_reqs[i]);
		fputc('}', f);
	}
	fputs("],\n\"destinations\":[", f);
	while (report_next_dest(s, &cursor, &d)) {
		bool k = true;
		fprintf(f, "%s\n{", first ? "" : ",");
		first = false;
		jkey(f, &k, "address");
		jstr(f, d.label);
		jint_field(f, &k, "connections", d.conns);
		jint_field(f, &k, "failed", d.failed);
		jint_field(f, &k, "completed", d.latency ? hist_total(d.latency) : 0);
		jkey(f, &k, "latency");
		if (d.latency && hist_total(d.latency)) {
			jstr(f, d.latency_key);
		} else {
			fputs("null", f);
		}
		fputc('}', f);
	}
	fputs("]}", f);
}

static void thresholds(FILE *f, const struct run_result *r)
{
	fputs(",\n\"thresholds\":[", f);
	for (size_t i = 0; i < r->nthresholds; i++) {
		const struct threshold *t = &r->thresholds[i];
		bool first = true;
		fprintf(f, "%s\n{", i ? "," : "");
		jkey(f, &first, "metric");
		jstr(f, t->metric);
		jkey(f, &first, "condition");
		jstr(f, t->condition);
		jkey(f, &first, "where");
		jstr(f, t->where);
		jkey(f, &first, "op");
		jstr(f, threshold_op_str(t->op));
		jkey(f, &first, "unit");
		jstr(f, threshold_unit_key(t->unit));
		jnum_field(f, &first, "limit", t->limit);
		jnum_field(f, &first, "actual", t->measured ? t->actual : NAN);
		jkey(f, &first, "measured");
		fputs(t->measured ? "true" : "false", f);
		jkey(f, &first, "passed");
		fputs(t->passed ? "true" : "false", f);
		jkey(f, &first, "abort");
		fputs(t->abort ? "true" : "false", f);
		jnum_field(f, &first, "abort_after_s", (double)t->abort_after_ns / 1e9);
		fputc('}', f);
	}
	fputs("]", f);
}

int report_json(FILE *f, const struct options *o, const struct run_result *r,
		const char *const *sources, size_t nsources)
{
	const struct stats *s = &r->total;
	bool first = true;
	int rc = 0;

	fprintf(f, "{\"format\":\"surge-report\",\"version\":%d,\"generator\":\"surge %s\",\n",
		JSON_VERSION, SURGE_VERSION);
	run_params(f, o, r, sources, nsources);
	totals(f, r);
	fputs(",\n\"histograms\":{", f);
	for (int i = 0; i < HI__COUNT && rc == 0; i++)
		if (hist_total(s->hist[i]) || i == HI_LATENCY)
			rc = histogram(f, stats_hist_key(i), s->hist[i], &first);
	for (size_t i = 0; i < s->nnhist && rc == 0; i++)
		rc = histogram(f, s->nhist[i].name, s->nhist[i].h, &first);
	if (rc < 0)
		return rc;
	fputs("},\n\"counters\":{", f);
	first = true;
	for (size_t i = 0; i < s->nncounter; i++)
		jint_field(f, &first, s->ncounter[i].name, s->ncounter[i].value);
	fputc('}', f);
	addresses(f, o, s);
	if ((rc = series(f, r)) < 0)
		return rc;
	thresholds(f, r);
	fprintf(f, ",\n\"outcome\":{\"exit_code\":%d,\"thresholds_passed\":%s,\"aborted\":",
		r->exit_code, r->thresholds_failed || r->aborted_by ? "false" : "true");
	if (r->aborted_by) {
		first = true;
		fputc('{', f);
		jkey(f, &first, "metric");
		jstr(f, r->aborted_by->metric);
		jkey(f, &first, "condition");
		jstr(f, r->aborted_by->condition);
		jnum_field(f, &first, "at_s", r->aborted_at_s);
		jnum_field(f, &first, "actual", r->aborted_actual);
		fputc('}', f);
	} else {
		fputs("null", f);
	}
	char note[REPORT_HELD_NOTE_MAX];
	int short_of = report_held_note(r, o, note, sizeof(note));
	fprintf(f, ",\"connections_held\":{\"asked\":%lld,\"peak_open\":%lld,\"short\":%s,"
		   "\"note\":", (long long)r->peak_asked, (long long)r->peak_open,
		short_of ? "true" : "false");
	if (short_of)
		jstr(f, note);
	else
		fputs("null", f);
	char why[REPORT_RATE_NOTE_MAX];
	fputs("},\"rate_note\":", f);
	if (report_rate_note(r, o, why, sizeof(why)))
		jstr(f, why);
	else
		fputs("null", f);
	fputs("}}\n", f);
	return ferror(f) ? -EIO : 0;
}
