/* report_log: see report_log.h. */
#include "report_log.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report_cut.h"
#include "threshold.h"

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
char *report_log_joined(const struct hlog *l, const char *key)
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
int report_log_options(const struct hlog *l, struct options *o, char *err, size_t errlen)
{
	size_t nseg = 0;

	for (size_t i = 0; i < l->nparams; i++)
		nseg += strcmp(l->params[i].key, "rate_segment") == 0;
	/* A merge of different runs' logs names every target they loaded. */
	o->target = report_log_joined(l, "target");
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

/* A log's "unreachable_s AT_S WINDOW_S" (its run gave up), when it reads and
 * is earlier than what r has: r says so. A value that does not read is left
 * out, as it always was. */
static void gave_up(const char *v, struct run_result *r)
{
	double at, window;

	if (v && sscanf(v, "%lf %lf", &at, &window) == 2 && at >= 0 && window >= 0 &&
	    (!r->unreachable || at < r->unreachable_at_s)) {
		r->unreachable = true;
		r->unreachable_at_s = at;
		r->unreachable_window_s = window;
	}
}

int report_log_result(struct hlog *l, double last_end, struct run_result *r, char *err,
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
	r->elapsed_ns = s_to_ns(elapsed > 0 && !cut ? elapsed : ended && !cut ? 0 : last_end);
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
	 * its report fails as it did. A merge ends as every one of its logs
	 * did, not as the first one named: read from it alone, a shard
	 * stopped by Ctrl-C was hidden behind one that sent its share ("ended
	 * by the count") or shown, by the order the logs were named in. Any
	 * log interrupted or given up says so for the merge (the earliest
	 * give-up, its seconds counted from that log's start as they are
	 * overlaid); the count ended it only if it ended each of them. */
	if (!l->nlog_info)
		gave_up(hlog_param(l, "unreachable_s"), r);
	for (size_t i = 0; i < l->nlog_info; i++) {
		const struct hlog_log *g = &l->logs[i];
		const char *v = hlog_log_param(g, "interrupted");
		char *end;
		double d = v ? strtod(v, &end) : 0;
		if (v && (end == v || *end || !(d == 0 || d == 1))) {
			snprintf(err, errlen, "%s: #surge-param interrupted %s: want 0 or 1", g->name, v);
			return -EINVAL;
		}
		r->interrupted |= d != 0;
		r->ended_by_requests &= strcmp(g->ended_by, "requests") == 0;
		gave_up(hlog_log_param(g, "unreachable_s"), r);
	}
	return 0;
}


/* The k-th threshold line of log g, or NULL. */
static const char *log_threshold(const struct hlog_log *g, size_t k)
{
	for (size_t i = 0; i < g->np; i++)
		if (strcmp(g->p[i].key, "threshold") == 0 && k-- == 0)
			return g->p[i].value;
	return NULL;
}

/* Any log's run may have stopped early, not the first's alone (a shard
 * judged on its own share, --shard-thresholds): the merge says the earliest
 * stop, at_s counted from each log's start as its seconds are overlaid.
 * Its threshold is the recorded one of the same metric and condition (the
 * shards share the scenario's), else that log's own, added. Room for it
 * is in r->thresholds (a slot for each such log). */
static int aborted_elsewhere(const struct hlog *l, struct run_result *r, char *err, size_t errlen)
{
	for (size_t i = 0; i < l->nlog_info; i++) {
		const struct hlog_log *g = &l->logs[i];
		const char *v = hlog_log_param(g, "aborted"), *line;
		size_t k, j;
		double at, actual;
		int end = 0;
		char where[256];
		struct threshold t;
		if (!v || g->name == l->params_from)
			continue;
		if (sscanf(v, "%zu %lf %lf%n", &k, &at, &actual, &end) != 3 || v[end] ||
		    !(at >= 0 && at <= PARAM_SECS_MAX) || !isfinite(actual) ||
		    !(line = log_threshold(g, k))) {
			snprintf(err, errlen, "%s: #surge-param aborted: expected THRESHOLD_INDEX AT_S "
				 "ACTUAL, got '%s'", g->name, v);
			return -EINVAL;
		}
		if (r->aborted_by && !(at < r->aborted_at_s))
			continue;
		snprintf(where, sizeof(where), "recorded in %s", g->name);
		int rc = threshold_parse(NULL, line, where, &t, err, errlen);
		if (rc < 0)
			return rc;
		for (j = 0; j < r->nthresholds; j++)
			if (strcmp(r->thresholds[j].metric, t.metric) == 0 &&
			    strcmp(r->thresholds[j].condition, t.condition) == 0)
				break;
		if (j == r->nthresholds) {
			t.abort = true;
			r->thresholds[r->nthresholds++] = t;
		}
		r->aborted_by = &r->thresholds[j];
		r->aborted_at_s = at;
		r->aborted_actual = actual;
	}
	return 0;
}

int report_log_thresholds(const struct hlog *l, const char *first_log, const char *const *more,
			  size_t nmore, struct run_result *r, char *err, size_t errlen)
{
	size_t n = nmore;
	for (size_t i = 0; i < l->nparams; i++)
		n += strcmp(l->params[i].key, "threshold") == 0;
	for (size_t i = 0; i < l->nlog_info; i++)
		n += hlog_log_param(&l->logs[i], "aborted") != NULL;
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
	int rc = aborted_elsewhere(l, r, err, errlen);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < nmore; i++) {
		rc = threshold_parse(NULL, more[i], "--threshold",
					 &r->thresholds[r->nthresholds], err, errlen);
		if (rc < 0)
			return rc;
		r->nthresholds++;
	}
	return 0;
}
