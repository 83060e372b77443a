/* report_html: the --html report — one self-contained page (inline CSS and
 * SVG, no script, nothing fetched) with the verdict, thresholds, percentile
 * spectra on HdrHistogram's 1/(1-p) axis, per-second time series and the
 * run's parameters. Element ids and classes are part of the contract the e2e
 * test asserts on (tests/e2e/t_report_html.py). */
#include "report.h"
#include "shard.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "report_held.h"
#include "report_shards.h"
#include "series.h"
#include "threshold.h"
#include "version.h"

#define W 640
#define H 260
#define ML 70
#define MR 36
#define MT 16
#define MB 44

static const char *const palette[] = { "#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c",
				       "#0891b2" };

enum yfmt { Y_NS, Y_COUNT };

struct line {
	const char *name;
	double *x, *y; /* NAN y: no data there (the line breaks) */
	size_t n;
	bool dashed; /* a reference line (intended), not a measurement */
};

/* Text and quoted attribute values. Every name a scenario chooses (protocol,
 * metric, counter, threshold) goes through here: it is user input. */
static void hstr(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default: fputc(*s, f);
		}
	}
}

/* An id made from a name: bytes outside [A-Za-z0-9._-] percent-encoded, so
 * the id cannot leave its attribute, holds no space, and stays one-to-one
 * with the name ("spectrum-db.query" keeps its plain spelling). */
static void hid(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '_' || c == '-')
			fputc(c, f);
		else
			fprintf(f, "%%%02X", c);
	}
}

static void fmt_count(char *buf, size_t len, double v)
{
	if (v >= 1e9)
		snprintf(buf, len, "%.3gG", v / 1e9);
	else if (v >= 1e6)
		snprintf(buf, len, "%.3gM", v / 1e6);
	else if (v >= 1e3)
		snprintf(buf, len, "%.3gk", v / 1e3);
	else
		snprintf(buf, len, "%.3g", v);
}

static void fmt_y(char *buf, size_t len, enum yfmt k, double v)
{
	if (k == Y_NS)
		report_fmt_ns(buf, len, v);
	else
		fmt_count(buf, len, v);
}

/* A round step (1, 2 or 5 times a power of ten) giving about n ticks. */
static double nice_step(double max, int n)
{
	double raw = max / n, mag = pow(10, floor(log10(raw))), r = raw / mag;
	return (r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10) * mag;
}

/* id is id_prefix then id_name (encoded by hid). xlog: x is log10(1/(1-p)),
 * ticks labelled as percentiles. */
static void chart(FILE *f, const char *id_prefix, const char *id_name, const char *title,
		  const char *xlabel, bool xlog, enum yfmt yk, const struct line *l, size_t nl)
{
	double xmax = xlog ? 2 : 1, ymax = 0;
	char b[32];

	for (size_t i = 0; i < nl; i++)
		for (size_t j = 0; j < l[i].n; j++) {
			if (isfinite(l[i].y[j]) && l[i].y[j] > ymax)
				ymax = l[i].y[j];
			if (l[i].x[j] > xmax)
				xmax = l[i].x[j];
		}
	if (xlog)
		xmax = fmin(ceil(xmax), 7);
	double ystep = nice_step(ymax > 0 ? ymax : 1, 4);
	ymax = ystep * ceil((ymax > 0 ? ymax : 1) / ystep);
	double xstep = xlog ? 1 : nice_step(xmax, 8);
	if (!xlog && xstep < 1)
		xstep = 1;
	double pw = W - ML - MR, ph = H - MT - MB;
#define PX(x) (ML + (x) / xmax * pw)
#define PY(y) (MT + ph - (y) / ymax * ph)

	fprintf(f, "<figure class=\"chart\" id=\"%s", id_prefix);
	hid(f, id_name);
	fputs("\"><figcaption>", f);
	hstr(f, title);
	fputs("<span class=\"legend\">", f);
	for (size_t i = 0; i < nl; i++) {
		fprintf(f, "<span><i style=\"background:%s\"></i>", palette[i % 6]);
		hstr(f, l[i].name);
		fputs("</span>", f);
	}
	fprintf(f, "</span></figcaption>\n<svg viewBox=\"0 0 %d %d\" role=\"img\" "
		   "xmlns=\"http://www.w3.org/2000/svg\">", W, H);
	for (double y = 0; y <= ymax * 1.0001; y += ystep) {
		fmt_y(b, sizeof(b), yk, y);
		fprintf(f, "<line class=\"grid\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\"/>"
			   "<text class=\"yt\" x=\"%d\" y=\"%.1f\">%s</text>",
			ML, W - MR, PY(y), PY(y), ML - 6, PY(y) + 4, b);
	}
	for (double x = 0; x <= xmax * 1.0001; x += xstep) {
		if (xlog) /* 1/(1-p) = 10^x */
			snprintf(b, sizeof(b), "%.*f%%", x > 2 ? (int)x - 2 : 0,
				 100 - 100 / pow(10, x));
		else
			snprintf(b, sizeof(b), "%.0fs", x);
		fprintf(f, "<line class=\"grid\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\"/>"
			   "<text class=\"xt\" x=\"%.1f\" y=\"%d\">%s</text>",
			PX(x), PX(x), MT, H - MB, PX(x), H - MB + 16, b);
	}
	fprintf(f, "<text class=\"xl\" x=\"%.1f\" y=\"%d\">", ML + pw / 2, H - 6);
	hstr(f, xlabel);
	fputs("</text>", f);
	for (size_t i = 0; i < nl; i++) {
		bool open = false;
		for (size_t j = 0; j < l[i].n; j++) {
			if (!isfinite(l[i].y[j]) || l[i].x[j] > xmax) {
				if (open)
					fputs("\"/>", f);
				open = false;
				continue;
			}
			if (!open)
				fprintf(f, "<polyline class=\"series%s\" stroke=\"%s\" points=\"",
					l[i].dashed ? " ref" : "", palette[i % 6]);
			fprintf(f, "%.1f,%.1f ", PX(l[i].x[j]), PY(l[i].y[j]));
			open = true;
		}
		if (open)
			fputs("\"/>", f);
	}
	fputs("</svg></figure>\n", f);
#undef PX
#undef PY
}

static int spectrum(FILE *f, const char *name, const struct hist *h, int idx)
{
	struct hist_pct_row *rows;
	size_t n;
	char title[128];
	int rc = hist_percentile_rows(h, 5, &rows, &n);

	if (rc < 0)
		return rc;
	double *x = calloc(n + 1, sizeof(double)), *y = calloc(n + 1, sizeof(double));
	if (!x || !y) {
		free(x);
		free(y);
		free(rows);
		return -ENOMEM;
	}
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (rows[i].percentile >= 100)
			continue;
		x[m] = log10(100 / (100 - rows[i].percentile));
		y[m++] = (double)rows[i].value;
	}
	/* The 100% row has no finite x: draw the max at the axis's end. */
	double xend = m ? fmin(ceil(x[m - 1] + 1e-9), 7) : 2;
	x[m] = xend < 2 ? 2 : xend;
	y[m++] = (double)hist_max(h);
	snprintf(title, sizeof(title), "%s — percentile spectrum (%lld values)", name,
		 (long long)hist_total(h));
	struct line l = { name, x, y, m, false };
	(void)idx;
	chart(f, "spectrum-", name, title, "percentile (log scale of 1/(1−p))", true, Y_NS, &l, 1);
	free(x);
	free(y);
	free(rows);
	return 0;
}

static void row(FILE *f, const char *k, const char *v)
{
	fputs("<tr><th>", f);
	hstr(f, k);
	fputs("</th><td>", f);
	hstr(f, v);
	fputs("</td></tr>\n", f);
}

static void params(FILE *f, const struct options *o, const struct run_result *r,
		   const char *const *sources, size_t nsources)
{
	char b[256], when[64] = "";
	time_t t = (time_t)r->start_epoch;
	struct tm tm;

	fputs("<section id=\"parameters\"><h2>Run parameters</h2><table class=\"kv\">\n", f);
	row(f, "scenario", o->scenario_path ? o->scenario_path : "-");
	row(f, "target", o->target ? o->target : "-");
	for (size_t i = 0; i < o->ndests; i++)
		row(f, i ? "" : "addresses", o->dests[i].label);
	row(f, "protocol", o->proto_name);
	snprintf(b, sizeof(b), "%s%s", o->rate_segs ? "open (paced)" : "closed",
		 o->shape == SHAPE_SESSION ? ", sessions" : "");
	row(f, "model", b);
	if (o->rate_segs) {
		double peak = 0;
		for (size_t i = 0; i < o->nrate_segs; i++)
			peak = fmax(peak, fmax(o->rate_segs[i].r0, o->rate_segs[i].r1) *
					       shard_rate_scale(o));
		snprintf(b, sizeof(b), "%.0f req/s peak, %s arrivals", peak,
			 o->arrival == PACER_POISSON ? "Poisson" : "uniform");
		row(f, "rate", b);
	}
	snprintf(b, sizeof(b), "%u", shard_connections(o));
	row(f, "connections", b);
	if (o->shards > 1) {
		snprintf(b, sizeof(b), "%u of %u", o->shard + 1, o->shards);
		row(f, "shard", b);
	}
	snprintf(b, sizeof(b), "%.2f s planned, %.2f s measured%s", (double)o->duration_ns / 1e9,
		 (double)r->elapsed_ns / 1e9, r->interrupted ? " (interrupted)" : "");
	if (o->duration_unbounded)
		snprintf(b, sizeof(b), "unbounded (%llu requests), %.2f s measured%s",
			 (unsigned long long)o->requests, (double)r->elapsed_ns / 1e9,
			 r->interrupted ? " (interrupted)" : "");
	row(f, "duration", b);
	if (o->requests) {
		snprintf(b, sizeof(b), "%s", report_ended_by(o, r));
		row(f, "ended", b);
	}
	snprintf(b, sizeof(b), "%u", r->workers);
	row(f, "workers", b);
	snprintf(b, sizeof(b), "%u", o->pipeline);
	row(f, "pipeline", b);
	report_fmt_ns(b, sizeof(b), (double)o->request_timeout_ns);
	row(f, "request timeout", b);
	if (r->start_epoch > 0 && gmtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	row(f, "started", when);
	for (size_t i = 0; i < nsources; i++)
		row(f, i ? "" : "merged from", sources[i]);
	fputs("</table></section>\n", f);
}

static void thresholds(FILE *f, const struct run_result *r)
{
	char act[32];

	fputs("<section id=\"thresholds\"><h2>Thresholds</h2>\n", f);
	if (!r->nthresholds) {
		fputs("<p class=\"muted\">None set (scenario <code>thresholds = {...}</code> or "
		      "<code>--threshold</code>).</p></section>\n", f);
		return;
	}
	if (r->aborted_by) {
		threshold_fmt(r->aborted_by, r->aborted_actual, act, sizeof(act));
		fprintf(f, "<p class=\"aborted\">Stopped at %.0f s: ", r->aborted_at_s);
		hstr(f, r->aborted_by->metric);
		fputc(' ', f);
		hstr(f, r->aborted_by->condition);
		fputs(" failed with ", f);
		hstr(f, act);
		fputs(" (abort is set).</p>\n", f);
	}
	fputs("<table class=\"grid\"><tr><th></th><th>metric</th><th>condition</th><th>actual</th>"
	      "<th>written at</th></tr>\n", f);
	for (size_t i = 0; i < r->nthresholds; i++) {
		const struct threshold *t = &r->thresholds[i];
		threshold_fmt(t, t->actual, act, sizeof(act));
		fprintf(f, "<tr class=\"threshold %s\"><td class=\"mark\">%s</td><td>",
			t->passed ? "pass" : "fail", t->passed ? "pass" : "FAIL");
		hstr(f, t->metric);
		fputs("</td><td>", f);
		hstr(f, t->condition);
		fputs("</td><td class=\"actual\">", f);
		hstr(f, t->measured ? act : "not measured");
		fputs("</td><td class=\"muted\">", f);
		hstr(f, t->where);
		fputs("</td></tr>\n", f);
	}
	fputs("</table></section>\n", f);
}

/* Every source (--bind) and destination address with its share: the spread
 * a user would otherwise check with ss. */
static void addresses(FILE *f, const struct options *o, const struct stats *s)
{
	struct report_dest d;
	size_t cursor = 0;
	char addr[64], p50[32], p99[32];

	if (!(s->nsrc && o->bind) && !report_count_dests(s))
		return;
	fputs("<section id=\"addresses\"><h2>Addresses</h2><div class=\"cols\">\n", f);
	if (s->nsrc && o->bind) {
		fputs("<table class=\"grid num\" id=\"sources\"><tr><th>source</th>"
		      "<th>connections</th><th>completed</th></tr>\n", f);
		for (uint32_t i = 0; i < s->nsrc && report_source_addr(o, i, addr, sizeof(addr)); i++) {
			fputs("<tr><th>", f);
			hstr(f, addr);
			fprintf(f, "</th><td>%lld</td><td>%lld</td></tr>\n", (long long)s->src_conns[i],
				(long long)s->src_reqs[i]);
		}
		fputs("</table>\n", f);
	}
	fputs("<table class=\"grid num\" id=\"destinations\"><tr><th>destination</th>"
	      "<th>connections</th><th>failed</th><th>completed</th><th>p50</th><th>p99</th></tr>\n",
	      f);
	while (report_next_dest(s, &cursor, &d)) {
		int64_t done = d.latency ? hist_total(d.latency) : 0;
		snprintf(p50, sizeof(p50), "-");
		snprintf(p99, sizeof(p99), "-");
		if (done) {
			report_fmt_ns(p50, sizeof(p50), (double)hist_value_at_percentile(d.latency, 50));
			report_fmt_ns(p99, sizeof(p99), (double)hist_value_at_percentile(d.latency, 99));
		}
		fputs("<tr><th>", f);
		hstr(f, d.label);
		fprintf(f, "</th><td>%lld</td><td>%lld</td><td>%lld</td><td>%s</td><td>%s</td></tr>\n",
			(long long)d.conns, (long long)d.failed, (long long)done, p50, p99);
	}
	fputs("</table></div></section>\n", f);
}

static void hist_table(FILE *f, const struct stats *s)
{
	char b[32], pk[32];

	fputs("<table class=\"grid num\" id=\"percentiles\"><tr><th>metric</th>", f);
	for (size_t i = 0; i < REPORT_NPERCENTILES; i++) {
		report_fmt_percentile(pk, sizeof(pk), report_percentiles[i]);
		fprintf(f, "<th>%s%s</th>", report_percentiles[i] == 100 ? "" : "p",
			report_percentiles[i] == 100 ? "max" : pk);
	}
	fputs("<th>mean</th><th>count</th></tr>\n", f);
	for (size_t k = 0; k < HI__COUNT + s->nnhist; k++) {
		const struct hist *h = k < HI__COUNT ? s->hist[k] : s->nhist[k - HI__COUNT].h;
		const char *name = k < HI__COUNT ? stats_hist_key(k) : s->nhist[k - HI__COUNT].name;
		/* Per-destination latency is in the addresses table. */
		if (!hist_total(h) || report_is_dest_stat(name))
			continue;
		fprintf(f, "<tr data-metric=\"");
		hstr(f, name);
		fputs("\"><th>", f);
		hstr(f, name);
		fputs("</th>", f);
		for (size_t i = 0; i < REPORT_NPERCENTILES; i++) {
			report_fmt_ns(b, sizeof(b),
				      (double)hist_value_at_percentile(h, report_percentiles[i]));
			fprintf(f, "<td>%s</td>", b);
		}
		report_fmt_ns(b, sizeof(b), hist_mean(h));
		fprintf(f, "<td>%s</td><td>%lld</td></tr>\n", b, (long long)hist_total(h));
	}
	fputs("</table>\n", f);
}

static void card(FILE *f, const char *id, const char *label, const char *value, const char *cls)
{
	fprintf(f, "<div class=\"card %s\" id=\"card-%s\"><div class=\"label\">", cls, id);
	hstr(f, label);
	fputs("</div><div class=\"value\">", f);
	hstr(f, value);
	fputs("</div></div>\n", f);
}

static const char css[] =
	":root{--fg:#0f172a;--muted:#64748b;--line:#e2e8f0;--bg:#f8fafc;--ok:#15803d;--bad:#b91c1c}"
	"*{box-sizing:border-box}body{margin:0;background:var(--bg);color:var(--fg);"
	"font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif}"
	"main{max-width:1360px;margin:0 auto;padding:24px 28px 40px}"
	"header{display:flex;align-items:center;gap:16px;flex-wrap:wrap;margin-bottom:8px}"
	"h1{font-size:22px;margin:0}h2{font-size:16px;margin:28px 0 10px}"
	".sub{color:var(--muted);margin:0 0 18px}.muted{color:var(--muted)}"
	".verdict{padding:4px 12px;border-radius:999px;font-weight:600;font-size:13px;color:#fff}"
	".verdict.pass{background:var(--ok)}.verdict.fail{background:var(--bad)}"
	".cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:12px}"
	".card{background:#fff;border:1px solid var(--line);border-radius:10px;padding:12px 14px}"
	".card .label{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}"
	".card .value{font-size:22px;font-weight:600;margin-top:2px}.card.bad .value{color:var(--bad)}"
	".charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:14px}"
	"figure.chart{margin:0;background:#fff;border:1px solid var(--line);border-radius:10px;"
	"padding:10px 12px 4px}figcaption{font-weight:600;display:flex;justify-content:space-between;"
	"gap:8px;flex-wrap:wrap}.legend{font-weight:400;color:var(--muted);font-size:12px}"
	".legend span{margin-left:12px}.legend i{display:inline-block;width:10px;height:10px;"
	"border-radius:2px;margin-right:4px;vertical-align:-1px}"
	"svg{width:100%;height:auto;display:block}svg .grid{stroke:var(--line);stroke-width:1}"
	"svg text{font-size:11px;fill:var(--muted)}svg .yt{text-anchor:end}svg .xt,svg .xl{text-anchor:middle}"
	"svg .series{fill:none;stroke-width:2;stroke-linejoin:round}svg .ref{stroke-dasharray:6 4;opacity:.8}"
	"table{border-collapse:collapse;background:#fff;border:1px solid var(--line);border-radius:10px}"
	"th,td{padding:6px 12px;text-align:left;border-bottom:1px solid var(--line)}"
	"table.num td{text-align:right;font-variant-numeric:tabular-nums}"
	"table.kv th{color:var(--muted);font-weight:500}"
	"tr.threshold.pass .mark{color:var(--ok);font-weight:700}"
	"tr.threshold.fail .mark{color:var(--bad);font-weight:700}tr.threshold.fail{background:#fef2f2}"
	".cols{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:14px;"
	"align-items:start}footer{margin-top:32px;color:var(--muted);font-size:12px}";

static int series_charts(FILE *f, const struct options *o, const struct run_result *r)
{
	/* The seconds the run measured: the drain after them only collects late
	 * answers (in the totals and the JSON series), and a point for it would
	 * read like a collapse. */
	size_t n = report_nseconds(r), measured = (size_t)ceil((double)r->elapsed_ns / 1e9 - 1e-9);

	if (measured > 0 && measured < n)
		n = measured;
	double *buf = calloc(n * 8 + 1, sizeof(double));

	if (!buf)
		return -ENOMEM;
	double *x = buf, *done = x + n, *intended = done + n, *open = intended + n,
	       *errs = open + n, *p50 = errs + n, *p99 = p50 + n, *opened = p99 + n;
	for (size_t i = 0; i < n; i++) {
		struct series_point p;
		int rc = series_get(r->series, i, &p);
		if (rc < 0) {
			free(buf);
			return rc;
		}
		const struct series_hist *h = &p.hist[HI_LATENCY];
		int64_t e = 0;
		for (int k = 0; k < ERR__COUNT; k++)
			e += p.error[k];
		x[i] = (double)i + 1;
		done[i] = (double)(p.counter[ST_COMPLETED] + p.counter[ST_SESSIONS_DONE]);
		intended[i] = (double)p.counter[ST_INTENDED];
		open[i] = (double)p.gauge[GA_CONNS_OPEN];
		opened[i] = (double)p.counter[ST_CONN_OPENED];
		errs[i] = (double)e;
		p50[i] = h->count ? (double)h->p50 : NAN;
		p99[i] = h->count ? (double)h->p99 : NAN;
	}
	struct line tp[2] = { { "completed/s", x, done, n, false }, { "intended/s", x, intended, n, true } };
	chart(f, "series-", "throughput", "Throughput per second", "seconds", false, Y_COUNT, tp,
	      o->rate_segs ? 2 : 1);
	struct line lat[2] = { { "p50", x, p50, n, false }, { "p99", x, p99, n, false } };
	chart(f, "series-", "latency", "Latency per second", "seconds", false, Y_NS, lat, 2);
	/* Opened per second beside open: churn (new connections as the
	 * workload, or a server closing them) shows as a steady opened line. */
	struct line cn[2] = { { "open", x, open, n, false }, { "opened/s", x, opened, n, false } };
	chart(f, "series-", "connections", "Connections: open, and opened per second", "seconds",
	      false, Y_COUNT, cn, 2);
	struct line er = { "errors/s", x, errs, n, false };
	chart(f, "series-", "errors", "Errors per second", "seconds", false, Y_COUNT, &er, 1);
	free(buf);
	return 0;
}

int report_html(FILE *f, const struct options *o, const struct run_result *r,
		const char *const *sources, size_t nsources)
{
	const struct stats *s = &r->total;
	double secs = r->elapsed_ns ? (double)r->elapsed_ns / 1e9 : 1e-9;
	int64_t errors = stats_errors_total(s);
	int64_t done = s->counter[ST_COMPLETED] + s->counter[ST_SESSIONS_DONE];
	const struct hist *lat = s->hist[HI_LATENCY];
	char b[64];
	int rc;

	fputs("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	      "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
	      "<meta name=\"generator\" content=\"surge " SURGE_VERSION "\"><title>surge report: ", f);
	hstr(f, o->target ? o->target : "run");
	fprintf(f, "</title><style>%s</style></head><body><main>\n<header><h1>surge report</h1>", css);
	bool pass = r->exit_code == 0;
	fprintf(f, "<span class=\"verdict %s\" id=\"verdict\">%s</span></header>\n",
		pass ? "pass" : "fail",
		pass ? (r->nthresholds ? "PASSED: every threshold held" : "COMPLETED")
		: r->aborted_by ? "FAILED: stopped early by a threshold"
		: r->unreachable ? "FAILED: gave up, no connection"
		: r->thresholds_failed ? "FAILED: a threshold did not hold"
				       : "FAILED: see the exit code");
	fputs("<p class=\"sub\">", f);
	hstr(f, o->scenario_path ? o->scenario_path : "");
	fputs(" &rarr; ", f);
	hstr(f, o->target ? o->target : "");
	fputs(" &middot; ", f);
	hstr(f, o->proto_name);
	fprintf(f, " &middot; exit code %d</p>\n", r->exit_code);

	fputs("<section class=\"cards\" id=\"summary\">\n", f);
	if (r->elapsed_ns)
		snprintf(b, sizeof(b), "%.1f/s", (double)done / secs);
	else
		snprintf(b, sizeof(b), "-"); /* 0 s: stopped before traffic began */
	card(f, "throughput", o->shape == SHAPE_SESSION ? "sessions" : "throughput", b, "");
	snprintf(b, sizeof(b), "%lld", (long long)done);
	card(f, "completed", "completed", b, "");
	for (int i = 0; i < 3; i++) {
		static const double ps[] = { 50, 99, 99.9 };
		static const char *const ids[] = { "p50", "p99", "p999" };
		static const char *const labels[] = { "latency p50", "latency p99", "latency p99.9" };
		if (hist_total(lat))
			report_fmt_ns(b, sizeof(b), (double)hist_value_at_percentile(lat, ps[i]));
		else
			snprintf(b, sizeof(b), "-");
		card(f, ids[i], labels[i], b, "");
	}
	snprintf(b, sizeof(b), "%lld (%.3g%%)", (long long)errors,
		 errors ? 100.0 * stats_error_rate(s) : 0.0);
	card(f, "errors", "errors", b, errors ? "bad" : "");
	char note[REPORT_HELD_NOTE_MAX];
	int short_of = report_held_note(r, o, note, sizeof(note));
	if (short_of)
		snprintf(b, sizeof(b), "%lld of %lld", (long long)r->peak_open, (long long)r->peak_asked);
	else
		snprintf(b, sizeof(b), "%lld", (long long)r->peak_open);
	card(f, "connections", "peak connections", b, short_of ? "bad" : "");
	if ((o->rate_segs || r->models_mixed) && s->counter[ST_INTENDED]) {
		snprintf(b, sizeof(b), "%.2f%%", 100.0 * (double)report_shards_sent_paced(r) /
						     (double)s->counter[ST_INTENDED]);
		card(f, "achieved", "rate achieved", b, "");
	}
	fputs("</section>\n", f);
	if (short_of) {
		fputs("<p class=\"bad\" id=\"held-note\">Held at most ", f);
		fprintf(f, "%lld of the %lld connections asked: ", (long long)r->peak_open,
			(long long)r->peak_asked);
		hstr(f, note);
		fputs("</p>\n", f);
	}

	thresholds(f, r);
	fputs("<section id=\"latency\"><h2>Latency percentiles</h2>\n", f);
	hist_table(f, s);
	fputs("<div class=\"charts\" style=\"margin-top:14px\">\n", f);
	for (int i = 0; i < HI__COUNT; i++)
		if (hist_total(s->hist[i]) && (rc = spectrum(f, stats_hist_key(i), s->hist[i], i)) < 0)
			return rc;
	/* Per-destination latency is in the table; a spectrum each would repeat
	 * the main one (one address) or drown it (many). */
	for (size_t i = 0; i < s->nnhist; i++)
		if (hist_total(s->nhist[i].h) &&
		    !report_is_dest_stat(s->nhist[i].name) &&
		    (rc = spectrum(f, s->nhist[i].name, s->nhist[i].h, (int)i)) < 0)
			return rc;
	fputs("</div></section>\n<section id=\"series\"><h2>Per second</h2><div class=\"charts\">\n",
	      f);
	if ((rc = series_charts(f, o, r)) < 0)
		return rc;
	fputs("</div></section>\n", f);
	addresses(f, o, s);
	fputs("<div class=\"cols\">\n", f);
	params(f, o, r, sources, nsources);
	fputs("<section id=\"errors\"><h2>Errors by class</h2><table class=\"grid num\">\n", f);
	for (int i = 0; i < ERR__COUNT; i++)
		fprintf(f, "<tr><th>%s</th><td>%lld</td></tr>\n", stats_error_name(i),
			(long long)s->error[i]);
	fputs("</table>\n", f);
	size_t own = 0;
	for (size_t i = 0; i < s->nncounter; i++)
		own += !report_is_dest_stat(s->ncounter[i].name);
	if (own) {
		fputs("<h2>Counters</h2><table class=\"grid num\" id=\"counters\">\n", f);
		for (size_t i = 0; i < s->nncounter; i++) {
			if (report_is_dest_stat(s->ncounter[i].name))
				continue; /* in the addresses table */
			fputs("<tr><th>", f);
			hstr(f, s->ncounter[i].name);
			fprintf(f, "</th><td>%lld</td></tr>\n", (long long)s->ncounter[i].value);
		}
		fputs("</table>\n", f);
	}
	fputs("</section></div>\n", f);
	fprintf(f, "<footer>surge %s &middot; latency counts from each request's intended send "
		   "time (no coordinated omission); percentiles as HdrHistogram computes them.</footer>\n"
		   "</main></body></html>\n", SURGE_VERSION);
	return ferror(f) ? -EIO : 0;
}
