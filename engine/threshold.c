/* threshold: see threshold.h. */
#include "threshold.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "units.h"

static const char metrics_help[] =
	"latency.p99, service.p50, connect.max, NAME.mean (any histogram), errors.rate, "
	"errors.count, errors.reset (a class), rate.achieved, throughput, counter.NAME";

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* "p99", "p99.9", "p50": a percentile in (0, 100]. */
static int parse_percentile(const char *s, double *p)
{
	char *end;
	if (s[0] != 'p' || !isdigit((unsigned char)s[1]))
		return -EINVAL;
	errno = 0;
	*p = strtod(s + 1, &end);
	return *end || errno || *p <= 0 || *p > 100 ? -EINVAL : 0;
}

static int parse_metric(struct threshold *t, const char *m)
{
	if (strcmp(m, "errors.rate") == 0) {
		t->kind = TH_ERRORS_RATE, t->unit = TU_FRACTION;
		return 0;
	}
	if (strcmp(m, "errors.count") == 0 || strcmp(m, "errors") == 0) {
		t->kind = TH_ERRORS_COUNT, t->unit = TU_COUNT;
		return 0;
	}
	if (strncmp(m, "errors.", 7) == 0) {
		for (int i = 0; i < ERR__COUNT; i++)
			if (strcmp(m + 7, stats_error_key(i)) == 0) {
				t->kind = TH_ERROR_CLASS, t->unit = TU_COUNT, t->err_class = i;
				return 0;
			}
		return -EINVAL;
	}
	if (strcmp(m, "rate.achieved") == 0) {
		t->kind = TH_RATE_ACHIEVED, t->unit = TU_FRACTION;
		return 0;
	}
	if (strcmp(m, "throughput") == 0) {
		t->kind = TH_THROUGHPUT, t->unit = TU_PER_S;
		return 0;
	}
	if (strncmp(m, "counter.", 8) == 0 && m[8]) {
		if (strlen(m + 8) >= sizeof(t->name))
			return -EINVAL;
		t->kind = TH_COUNTER, t->unit = TU_COUNT;
		snprintf(t->name, sizeof(t->name), "%s", m + 8);
		return 0;
	}
	/* NAME.STAT, where NAME may itself hold dots ("rtsp.first_frame.p99")
	 * and a percentile may too ("latency.p99.9"): find the ".p" that
	 * starts a valid percentile, else the last dot. */
	const char *dot = NULL;
	for (const char *p = strstr(m, ".p"); p; p = strstr(p + 1, ".p"))
		if (parse_percentile(p + 1, &t->percentile) == 0) {
			dot = p;
			t->stat = THS_PERCENTILE;
			break;
		}
	if (!dot) {
		static const struct {
			const char *key;
			enum threshold_stat stat;
		} stats[] = { { "min", THS_MIN },	{ "max", THS_MAX },	  { "mean", THS_MEAN },
			      { "stddev", THS_STDDEV }, { "count", THS_COUNT } };
		dot = strrchr(m, '.');
		if (!dot)
			return -EINVAL;
		size_t i = 0;
		for (; i < sizeof(stats) / sizeof(stats[0]); i++)
			if (strcmp(dot + 1, stats[i].key) == 0)
				break;
		if (i == sizeof(stats) / sizeof(stats[0]))
			return -EINVAL;
		t->stat = stats[i].stat;
	}
	size_t len = (size_t)(dot - m);
	if (len == 0 || len >= sizeof(t->name))
		return -EINVAL;
	memcpy(t->name, m, len);
	t->name[len] = '\0';
	t->kind = TH_HIST;
	t->unit = t->stat == THS_COUNT ? TU_COUNT : TU_NS;
	return 0;
}

static const char *unit_example(enum threshold_unit u)
{
	switch (u) {
	case TU_NS: return "a duration like 5ms, 250us or 1.5s";
	case TU_FRACTION: return "a percentage like 0.1% or 99% (or a fraction like 0.001)";
	case TU_COUNT: return "a whole number like 0, 100 or 10k";
	case TU_PER_S: return "a rate per second like 5000 or 50k";
	}
	return "";
}

static int parse_value(struct threshold *t, const char *v)
{
	uint64_t u;
	switch (t->unit) {
	case TU_NS:
		/* "p99<200" is 200 s to units_duration, and 200 ms to a k6
		 * user: a threshold that always passes. The unit is asked for. */
		if (!strpbrk(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"))
			return -EDOM;
		if (units_duration(v, &u) < 0)
			return -EINVAL;
		t->limit = (double)u;
		return 0;
	case TU_FRACTION:
		return units_fraction(v, &t->limit);
	case TU_COUNT:
	case TU_PER_S:
		if (units_count(v, &u) < 0)
			return -EINVAL;
		t->limit = (double)u;
		return 0;
	}
	return -EINVAL;
}

/* Edits from a to b (insert, delete, replace, swap of neighbours: "reste"
 * is one from "reset"), counted up to 4. */
static unsigned edits(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char d[64][64];

	if (la >= 64 || lb >= 64)
		return 4;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = (unsigned char)(i < 4 ? i : 4);
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = (unsigned char)(j < 4 ? j : 4);
	for (size_t i = 1; i <= la; i++)
		for (size_t j = 1; j <= lb; j++) {
			unsigned best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
			if (d[i - 1][j] + 1u < best)
				best = d[i - 1][j] + 1u;
			if (d[i][j - 1] + 1u < best)
				best = d[i][j - 1] + 1u;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1u < best)
				best = d[i - 2][j - 2] + 1u;
			d[i][j] = (unsigned char)(best < 4 ? best : 4);
		}
	return d[la][lb];
}

/* The fixed metric nearest to m: "errors.reste" is errors.reset, "thruput"
 * throughput. Within two edits (three for a name of ten letters or more);
 * NULL when none is that near. */
static const char *nearest_metric(const char *m, char *buf, size_t len)
{
	static const char *const fixed[] = { "errors.rate", "errors.count", "rate.achieved",
					     "throughput" };
	unsigned best = 4;
	const char *pick = NULL;

	for (int i = -(int)(sizeof(fixed) / sizeof(fixed[0])); i < ERR__COUNT; i++) {
		char name[64];
		if (i < 0)
			snprintf(name, sizeof(name), "%s", fixed[-i - 1]);
		else
			snprintf(name, sizeof(name), "errors.%s", stats_error_key((enum stat_error)i));
		unsigned d = edits(m, name), near = strlen(name) >= 10 ? 3 : 2;
		if (d <= near && d < best) {
			best = d;
			snprintf(buf, len, "%s", name);
			pick = buf;
		}
	}
	return pick;
}

int threshold_parse(const char *metric, const char *condition, const char *where,
		    struct threshold *out, char *err, size_t errlen)
{
	char buf[256], *m;
	const char *c = condition;

	memset(out, 0, sizeof(*out));
	snprintf(out->where, sizeof(out->where), "%s", where);
	if (metric) {
		snprintf(buf, sizeof(buf), "%s", metric);
		m = trim(buf);
	} else {
		snprintf(buf, sizeof(buf), "%s", condition);
		char *op = strpbrk(buf, "<>");
		if (!op) {
			snprintf(err, errlen, "%s: threshold '%s': expected METRIC<VALUE or "
					      "METRIC>VALUE, e.g. 'latency.p99<5ms'", where, condition);
			return -EINVAL;
		}
		/* Copy the operator and value out before cutting the metric off. */
		char cond[128];
		snprintf(cond, sizeof(cond), "%s", op);
		*op = '\0';
		return threshold_parse(trim(buf), cond, where, out, err, errlen);
	}
	if (strlen(m) >= sizeof(out->metric) || parse_metric(out, m) < 0) {
		/* A counter's name alone ("http.status.5xx") is the likeliest
		 * miss: counters are named with their prefix. */
		char near[64];
		const char *mean = nearest_metric(m, near, sizeof(near));
		if (mean)
			snprintf(err, errlen, "%s: threshold on '%s': unknown metric; did you mean "
					      "'%s'? (known: %s)", where, m, mean, metrics_help);
		else if (strchr(m, '.') && strncmp(m, "counter.", 8) && strncmp(m, "errors.", 7))
			snprintf(err, errlen, "%s: threshold on '%s': unknown metric (a counter is "
					      "'counter.%.80s'; a latency metric 'NAME.p99'; known: %s)",
				 where, m, m, metrics_help);
		else
			snprintf(err, errlen, "%s: threshold on '%s': unknown metric (known: %s)",
				 where, m, metrics_help);
		return -EINVAL;
	}
	snprintf(out->metric, sizeof(out->metric), "%s", m);

	char cbuf[128];
	snprintf(cbuf, sizeof(cbuf), "%s", c ? c : "");
	char *v = trim(cbuf);
	if (v[0] == '<')
		out->op = v[1] == '=' ? TH_LE : TH_LT;
	else if (v[0] == '>')
		out->op = v[1] == '=' ? TH_GE : TH_GT;
	else
		goto bad;
	v = trim(v + (v[1] == '=' ? 2 : 1));
	int rc = parse_value(out, v);
	if (rc == -EDOM) {
		snprintf(err, errlen, "%s: threshold on '%s': '%s' has no unit; a duration needs "
				      "one: %sms, %sus or %ss", where, m, v, v, v, v);
		return -EINVAL;
	}
	if (rc < 0)
		goto bad;
	snprintf(out->condition, sizeof(out->condition), "%s %s", threshold_op_str(out->op), v);
	return 0;
bad:
	snprintf(err, errlen, "%s: threshold on '%s': expected an operator (<, <=, >, >=) and %s, "
			      "got '%s'", where, m, unit_example(out->unit), c ? c : "");
	return -EINVAL;
}

int threshold_parse_specs(const struct threshold_spec *specs, size_t n, struct threshold **out,
			  char *err, size_t errlen)
{
	struct threshold *t = n ? calloc(n, sizeof(*t)) : NULL;

	*out = NULL;
	if (n && !t)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int rc = threshold_parse(specs[i].metric, specs[i].condition, specs[i].where, &t[i],
					 err, errlen);
		if (rc < 0) {
			free(t);
			return rc;
		}
		t[i].abort = specs[i].abort;
		t[i].abort_after_ns = specs[i].abort_after_ns;
	}
	*out = t;
	return 0;
}

int threshold_check_declared(const struct threshold *t, size_t n, threshold_declared_fn *declared,
			     void *arg, char *err, size_t errlen)
{
	char hint[512];

	for (size_t i = 0; i < n; i++) {
		if (t[i].kind != TH_COUNTER && t[i].kind != TH_HIST)
			continue;
		const char *kind = t[i].kind == TH_COUNTER ? "counter" : "histogram";
		int rc = declared(arg, kind, t[i].name, hint, sizeof(hint));
		if (rc < 0) {
			snprintf(err, errlen, "%s: threshold on '%s': %s", t[i].where, t[i].metric, hint);
			return rc;
		}
		if (rc == 0) {
			snprintf(err, errlen, "%s: threshold on '%s': no %s '%s' is declared by the "
					      "protocol or the engine (%s); a module declares its own "
					      "at load with surge.%s(\"%s\") or surge.declare(\"%s\", "
					      "\"family.*\")",
				 t[i].where, t[i].metric, kind, t[i].name, hint, kind, t[i].name, kind);
			return -EINVAL;
		}
	}
	return 0;
}

static bool compare(double a, enum threshold_op op, double b)
{
	switch (op) {
	case TH_LT: return a < b;
	case TH_LE: return a <= b;
	case TH_GT: return a > b;
	case TH_GE: return a >= b;
	}
	return false;
}


static bool eval_hist(struct threshold *t, const struct stats *s)
{
	const struct hist *h = stats_hist_by_name(s, t->name);
	if (!h || hist_total(h) == 0) {
		if (t->stat != THS_COUNT)
			return false;
		t->actual = 0;
		return true;
	}
	switch (t->stat) {
	case THS_PERCENTILE: t->actual = (double)hist_value_at_percentile(h, t->percentile); break;
	case THS_MIN: t->actual = (double)hist_min(h); break;
	case THS_MAX: t->actual = (double)hist_max(h); break;
	case THS_MEAN: t->actual = hist_mean(h); break;
	case THS_STDDEV: t->actual = hist_stddev(h); break;
	case THS_COUNT: t->actual = (double)hist_total(h); break;
	}
	return true;
}

static bool eval_one(struct threshold *t, const struct stats *s, double elapsed_s)
{
	int64_t errors = stats_errors_total(s);
	int64_t done = s->counter[ST_COMPLETED] + s->counter[ST_SESSIONS_DONE];

	switch (t->kind) {
	case TH_HIST:
		return eval_hist(t, s);
	case TH_ERRORS_RATE:
		t->actual = stats_error_rate(s);
		return !isnan(t->actual);
	case TH_ERRORS_COUNT:
		t->actual = (double)errors;
		return true;
	case TH_ERROR_CLASS:
		t->actual = (double)s->error[t->err_class];
		return true;
	case TH_RATE_ACHIEVED:
		if (s->counter[ST_INTENDED] == 0)
			return false;
		t->actual = (double)s->counter[ST_SENT] / (double)s->counter[ST_INTENDED];
		return true;
	case TH_THROUGHPUT:
		if (elapsed_s <= 0)
			return false;
		t->actual = (double)done / elapsed_s;
		return true;
	case TH_COUNTER:
		t->actual = (double)stats_counter_by_name(s, t->name);
		return true;
	}
	return false;
}

const struct threshold *threshold_abort_check(struct threshold *t, size_t n,
					      const struct stats *total, uint64_t elapsed_ns)
{
	for (size_t i = 0; i < n; i++) {
		if (!t[i].abort || elapsed_ns < t[i].abort_after_ns)
			continue;
		t[i].actual = 0;
		if (eval_one(&t[i], total, (double)elapsed_ns / 1e9) &&
		    !compare(t[i].actual, t[i].op, t[i].limit))
			return &t[i];
	}
	return NULL;
}

size_t threshold_eval(struct threshold *t, size_t n, const struct stats *total, double elapsed_s)
{
	size_t failed = 0;
	for (size_t i = 0; i < n; i++) {
		t[i].actual = 0;
		t[i].measured = eval_one(&t[i], total, elapsed_s);
		t[i].passed = t[i].measured && compare(t[i].actual, t[i].op, t[i].limit);
		failed += !t[i].passed;
	}
	return failed;
}

void threshold_fmt(const struct threshold *t, double v, char *buf, size_t len)
{
	switch (t->unit) {
	case TU_NS:
		report_fmt_ns(buf, len, v);
		return;
	case TU_FRACTION:
		snprintf(buf, len, "%.4g%%", v * 100);
		return;
	case TU_COUNT:
		snprintf(buf, len, "%.0f", v);
		return;
	case TU_PER_S:
		snprintf(buf, len, "%.1f/s", v);
		return;
	}
}

const char *threshold_op_str(enum threshold_op op)
{
	static const char *const s[] = { [TH_LT] = "<", [TH_LE] = "<=", [TH_GT] = ">", [TH_GE] = ">=" };
	return s[op];
}

const char *threshold_unit_key(enum threshold_unit u)
{
	static const char *const s[] = { [TU_NS] = "ns", [TU_FRACTION] = "fraction",
					 [TU_COUNT] = "count", [TU_PER_S] = "per_second" };
	return s[u];
}
