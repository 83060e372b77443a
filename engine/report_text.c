/* report_text: the summary a user reads on stdout, and the progress line. */
#include "report.h"
#include "shard.h"
#include "tls.h"

#include <math.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "quota.h"
#include "report_held.h"
#include "report_rate.h"
#include "report_shards.h"
#include "threshold.h"

void report_fmt_ns(char *buf, size_t len, double ns)
{
	if (ns < 1e3)
		snprintf(buf, len, "%.0fns", ns);
	else if (ns < 1e6)
		snprintf(buf, len, ns < 1e4 ? "%.2fus" : ns < 1e5 ? "%.1fus" : "%.0fus", ns / 1e3);
	else if (ns < 1e9)
		snprintf(buf, len, ns < 1e7 ? "%.2fms" : ns < 1e8 ? "%.1fms" : "%.0fms", ns / 1e6);
	else
		snprintf(buf, len, "%.2fs", ns / 1e9);
}

const char *report_fmt_name(char *buf, size_t len, const char *name)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		char e[5] = { (char)*p, 0 };
		if (*p == '\\' || *p == '\n' || *p == '\r' || *p == '\t') {
			e[0] = '\\';
			e[1] = *p == '\n' ? 'n' : *p == '\r' ? 'r' : *p == '\t' ? 't' : '\\';
		} else if (*p < 0x20 || *p == 0x7f) {
			e[0] = '\\', e[1] = 'x', e[2] = hex[*p >> 4], e[3] = hex[*p & 15];
		}
		size_t el = strlen(e);
		if (o + el >= len)
			break; /* shortened at a whole escape, never inside one */
		memcpy(buf + o, e, el);
		o += el;
	}
	if (len)
		buf[o] = 0;
	return buf;
}

static void fmt_count(char *buf, size_t len, double v)
{
	if (v >= 1e9)
		snprintf(buf, len, "%.2fG", v / 1e9);
	else if (v >= 1e6)
		snprintf(buf, len, "%.2fM", v / 1e6);
	else if (v >= 1e4)
		snprintf(buf, len, "%.1fk", v / 1e3);
	else
		snprintf(buf, len, "%.0f", v);
}


void report_header(FILE *f, const struct options *o)
{
	char proto[REPORT_NAME_LEN];

	fprintf(f, "surge: %s -> %s (%zu address%s), protocol %s, %u worker%s", o->scenario_path,
		o->target ? o->target : "?", o->ndests, o->ndests == 1 ? "" : "es",
		report_fmt_name(proto, sizeof(proto), o->proto_name),
		o->workers, o->workers == 1 ? "" : "s");
	if (o->bind)
		fprintf(f, ", from %llu source address%s (%s)",
			(unsigned long long)addrset_total(o->bind),
			addrset_total(o->bind) == 1 ? "" : "es", addrset_pick_name(o->pick));
	if (o->ports.lo)
		fprintf(f, ", ports %u-%u", o->ports.lo, o->ports.hi);
	if (tls_options_used(o))
		fprintf(f, ", TLS%s%s", o->tls.verify ? "" : " NOT VERIFIED (--insecure)",
			o->tls.resume ? "" : ", no resumption");
	if (o->requests && o->duration_unbounded)
		fprintf(f, ", %llu requests (no duration: unbounded until they are sent)",
			(unsigned long long)o->requests);
	else if (o->requests)
		fprintf(f, ", %llu requests or %.9g s, whichever comes first",
			(unsigned long long)o->requests, (double)o->duration_ns / 1e9);
	if (o->shards > 1)
		fprintf(f, ", shard %u of %u: %u of %u connections", o->shard + 1, o->shards,
			shard_connections(o), o->max_connections);
	if (o->start_at > 0)
		fprintf(f, ", starting at %.3f (--start-at)", o->start_at);
	fputc('\n', f);
	fflush(f);
}

void report_progress_line(FILE *f, const struct options *o, const struct stats *s, uint32_t second)
{
	char p99[32], rate[32], intended[32];
	bool tty = isatty(fileno(f));

	report_fmt_ns(p99, sizeof(p99), (double)hist_value_at_percentile(s->hist[HI_LATENCY], 99));
	fmt_count(rate, sizeof(rate), (double)s->counter[ST_COMPLETED]);
	/* On a terminal the line rewrites itself; in a log it is one line a second. */
	fprintf(f, "%s[%3us] %s req/s", tty ? "\r\033[K" : "", second + 1, rate);
	if (o->rate_segs) {
		fmt_count(intended, sizeof(intended), (double)s->counter[ST_INTENDED]);
		fmt_count(rate, sizeof(rate), (double)s->counter[ST_SENT]);
		fprintf(f, "  sent %s/s of %s intended  backlog %lld  dropped %lld", rate, intended,
			(long long)s->gauge[GA_BACKLOG], (long long)s->counter[ST_DROPPED]);
	}
	if (o->requests_per_connection || o->connection_lifetime_ns)
		fprintf(f, "  opened %lld/s", (long long)s->counter[ST_CONN_OPENED]);
	fprintf(f, "  conns %lld/%lld  p99 %s  errors %lld", (long long)s->gauge[GA_CONNS_OPEN],
		(long long)s->gauge[GA_CONNS_TARGET], hist_total(s->hist[HI_LATENCY]) ? p99 : "-",
		(long long)stats_errors_total(s));
	if (!tty)
		fputc('\n', f);
	fflush(f);
}

/* Connections and latency per destination address. Shown when there is
 * more than one. */
static void report_destinations(FILE *f, const struct options *o, const struct stats *s)
{
	char p50[32], p99[32], mx[32];
	struct report_dest d;
	size_t cursor = 0;

	if (report_count_dests(s) < 2)
		return;
	fprintf(f, "\n  %-42s %8s %8s %10s %9s %9s %9s\n", "destination", "conns", "failed",
		"completed", "p50", "p99", "max");
	while (report_next_dest(s, &cursor, &d)) {
		int64_t done = d.latency ? hist_total(d.latency) : 0;
		if (done && o->shape == SHAPE_MESSAGE) {
			report_fmt_ns(p50, sizeof(p50), (double)hist_value_at_percentile(d.latency, 50));
			report_fmt_ns(p99, sizeof(p99), (double)hist_value_at_percentile(d.latency, 99));
			report_fmt_ns(mx, sizeof(mx), (double)hist_max(d.latency));
		} else {
			snprintf(p50, sizeof(p50), "-");
			snprintf(p99, sizeof(p99), "-");
			snprintf(mx, sizeof(mx), "-");
		}
		fprintf(f, "  %-42s %8lld %8lld %10lld %9s %9s %9s\n", d.label, (long long)d.conns,
			(long long)d.failed, (long long)done, p50, p99, mx);
	}
}

static void hist_row(FILE *f, int width, const char *label, const struct hist *h)
{
	static const double ps[] = {50, 90, 99, 99.9, 99.99};
	char b[32];

	fprintf(f, "  %-*s", width, label);
	if (hist_total(h) == 0) {
		/* Nothing measured is not "0 ns". */
		for (int i = 0; i < 8; i++)
			fprintf(f, " %9s", "-");
		fprintf(f, " %10d\n", 0);
		return;
	}
	for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
		report_fmt_ns(b, sizeof(b), (double)hist_value_at_percentile(h, ps[i]));
		fprintf(f, " %9s", b);
	}
	report_fmt_ns(b, sizeof(b), (double)hist_max(h));
	fprintf(f, " %9s", b);
	report_fmt_ns(b, sizeof(b), hist_mean(h));
	fprintf(f, " %9s", b);
	report_fmt_ns(b, sizeof(b), hist_stddev(h));
	fprintf(f, " %9s %10lld\n", b, (long long)hist_total(h));
}

#define SOURCES_LISTED 64

/* The spread a user would otherwise check with `ss -tan | awk ...`: every
 * source's connections and completed requests, or a summary past 64. */
static void source_rows(FILE *f, const struct options *o, const struct stats *s)
{
	int64_t cmin = INT64_MAX, cmax = 0, rmin = INT64_MAX, rmax = 0;
	char addr[64];

	if (!o->bind)
		return;
	if (!s->nsrc) {
		fprintf(f, "\n  sources     %llu addresses (%s): too many to count one by one\n",
			(unsigned long long)addrset_total(o->bind), addrset_pick_name(o->pick));
		return;
	}
	for (uint32_t i = 0; i < s->nsrc; i++) {
		cmin = s->src_conns[i] < cmin ? s->src_conns[i] : cmin;
		cmax = s->src_conns[i] > cmax ? s->src_conns[i] : cmax;
		rmin = s->src_reqs[i] < rmin ? s->src_reqs[i] : rmin;
		rmax = s->src_reqs[i] > rmax ? s->src_reqs[i] : rmax;
	}
	fprintf(f, "\n  sources     %u address%s (%s): connections min %lld max %lld, "
		"requests min %lld max %lld\n", s->nsrc, s->nsrc == 1 ? "" : "es",
		addrset_pick_name(o->pick), (long long)cmin, (long long)cmax, (long long)rmin,
		(long long)rmax);
	if (s->nsrc > SOURCES_LISTED)
		return;
	fprintf(f, "  %-40s %12s %12s\n", "source", "connections", "completed");
	for (uint32_t i = 0; i < s->nsrc; i++) {
		if (!report_source_addr(o, i, addr, sizeof(addr)))
			break;
		fprintf(f, "  %-40s %12lld %12lld\n", addr, (long long)s->src_conns[i],
			(long long)s->src_reqs[i]);
	}
}

void report_text(FILE *f, const struct options *o, const struct run_result *r)
{
	const struct stats *s = &r->total;
	double secs = (double)r->elapsed_ns / 1e9;
	const char *how = r->interrupted   ? "Interrupted after"
			  : r->aborted_by  ? "Stopped by a threshold after"
			  : r->unreachable ? "Gave up (no connection) after"
					   : "Ran";
	char a[32], b[32];

	/* A run stopped before its start (in the connect phase, or waiting
	 * for --start-at) lasted 0 s: no rate is shown, not one per 1 ns. */
	bool timed = secs > 0;
	if (!timed)
		secs = 1e-9;
	uint32_t conns = shard_connections(o);
	fprintf(f, "\n%s %.2f s, up to %u connection%s, %s model%s\n", how, secs, conns,
		conns == 1 ? "" : "s",
		r->models_mixed ? "open and closed" : o->rate_segs ? "open" : "closed",
		o->shape == SHAPE_MESSAGE ? "" : " (sessions)");
	if (o->shards > 1)
		fprintf(f, "  shard       %u of %u (of the run's %u connections, 1 in %u requests "
			   "of its schedule); merge: surge report on every shard's --hlog\n",
			o->shard + 1, o->shards, o->max_connections, o->shards);
	if (o->requests)
		fprintf(f, "  ended       %s\n", report_ended_by(o, r));
	if (o->shape == SHAPE_MESSAGE) {
		fprintf(f, "  requests    sent %lld  completed %lld  unfinished %lld\n",
			(long long)s->counter[ST_SENT], (long long)s->counter[ST_COMPLETED],
			(long long)s->counter[ST_UNFINISHED]);
		if (timed)
			fprintf(f, "  throughput  %.1f req/s", (double)s->counter[ST_COMPLETED] / secs);
		else
			fprintf(f, "  throughput  - (0 s: stopped before traffic began)");
	} else {
		fprintf(f, "  sessions    completed %lld  unfinished %lld\n",
			(long long)s->counter[ST_SESSIONS_DONE],
			(long long)s->counter[ST_SESSIONS_UNFINISHED]);
		fprintf(f, "  throughput ");
	}
	fmt_count(a, sizeof(a), (double)s->counter[ST_BYTES_IN] / secs);
	fmt_count(b, sizeof(b), (double)s->counter[ST_BYTES_OUT] / secs);
	if (timed)
		fprintf(f, "  in %sB/s  out %sB/s", a, b);
	fputc('\n', f);
	int64_t paced = report_shards_sent_paced(r);
	if ((o->rate_segs || r->models_mixed) && timed) {
		int64_t intended = s->counter[ST_INTENDED];
		fprintf(f, "  rate        intended %.1f/s  achieved %.1f/s (%.2f%%)  dropped %lld%s\n",
			(double)intended / secs, (double)paced / secs,
			intended ? 100.0 * (double)paced / (double)intended : 0.0,
			(long long)s->counter[ST_DROPPED],
			r->models_mixed ? "  (the open-model logs' requests only)" : "");
	}
	if (r->workers_lost)
		fprintf(f, "  workers     %u of %u died during the run: what they had in flight is "
			   "unfinished%s\n", r->workers_lost, r->workers,
			o->rate_segs ? ", what they were to send intended but not sent" : "");
	if (r->seconds_unmerged)
		fprintf(f, "  INCOMPLETE  %u worker-second%s could not be merged (malformed, or the "
			   "coordinator out of memory): every number below misses %s\n",
			r->seconds_unmerged, r->seconds_unmerged == 1 ? "" : "s",
			r->seconds_unmerged == 1 ? "it" : "them");
	fprintf(f, "  connections opened %lld  closed %lld  attempts %lld  peak open %lld\n",
		(long long)s->counter[ST_CONN_OPENED], (long long)s->counter[ST_CONN_CLOSED],
		(long long)s->counter[ST_CONN_ATTEMPTS], (long long)r->peak_open);
	char note[REPORT_HELD_NOTE_MAX];
	if (report_held_note(r, o, note, sizeof(note)))
		fprintf(f, "  held        at most %lld of the %lld connections asked: %s\n",
			(long long)r->peak_open, (long long)r->peak_asked, note);
	if (tls_options_used(o) && !o->tls.verify)
		fprintf(f, "  tls         certificates NOT verified (--insecure / tls.verify = false)\n");

	/* The label column fits the longest metric name (rtsp.first_keyframe). */
	char name[REPORT_NAME_LEN];
	int w = 10;
	for (size_t i = 0; i < s->nnhist; i++)
		if (!report_is_dest_stat(s->nhist[i].name) &&
		    (int)strlen(report_fmt_name(name, sizeof(name), s->nhist[i].name)) > w)
			w = (int)strlen(name);
	fprintf(f, "\n  %-*s %9s %9s %9s %9s %9s %9s %9s %9s %10s\n", w, "", "p50", "p90", "p99",
		"p99.9", "p99.99", "max", "mean", "stdev", "count");
	if (o->shape == SHAPE_MESSAGE) {
		hist_row(f, w, "latency", s->hist[HI_LATENCY]);
		if (o->rate_segs) {
			hist_row(f, w, "service", s->hist[HI_SERVICE]);
			hist_row(f, w, "send lag", s->hist[HI_SEND_LAG]);
		}
	}
	hist_row(f, w, "connect", s->hist[HI_CONNECT]);
	for (size_t i = 0; i < s->nnhist; i++)
		if (!report_is_dest_stat(s->nhist[i].name))
			hist_row(f, w, report_fmt_name(name, sizeof(name), s->nhist[i].name),
				 s->nhist[i].h);
	if (o->rate_segs)
		fprintf(f, "  (latency counts from each request's intended send time; service from "
			   "its actual send)\n");

	int64_t errs = stats_errors_total(s);
	fprintf(f, "\n  errors      %lld", (long long)errs);
	for (int i = 0; i < ERR__COUNT; i++)
		if (s->error[i])
			fprintf(f, "  %s %lld", stats_error_name(i), (long long)s->error[i]);
	fputc('\n', f);
	size_t shown = 0;
	for (size_t i = 0; i < s->nncounter; i++) {
		if (report_is_dest_stat(s->ncounter[i].name))
			continue;
		fprintf(f, "%s %s %lld", shown++ ? "" : "  counters   ",
			report_fmt_name(name, sizeof(name), s->ncounter[i].name),
			(long long)s->ncounter[i].value);
	}
	if (shown)
		fputc('\n', f);
	report_destinations(f, o, s);
	source_rows(f, o, s);
	char why[REPORT_RATE_NOTE_MAX];
	if (report_rate_note(r, o, why, sizeof(why)))
		fprintf(f, "\n  warning: %s\n", why);
	if (o->latency_table && o->shape == SHAPE_MESSAGE) {
		fprintf(f, "\n  Latency distribution (HdrHistogram, milliseconds)\n");
		hist_print_percentiles(f, s->hist[HI_LATENCY], 5, 1e6);
	}
	report_thresholds_text(f, r);
	fflush(f);
}

void report_thresholds_text(FILE *f, const struct run_result *r)
{
	char act[32], cond[160], metric[REPORT_NAME_LEN];

	if (!r->nthresholds)
		return;
	fprintf(f, "\n  thresholds  %zu of %zu passed\n", r->nthresholds - r->thresholds_failed,
		r->nthresholds);
	if (r->aborted_by) {
		const struct threshold *t = r->aborted_by;
		threshold_fmt(t, r->aborted_actual, act, sizeof(act));
		fprintf(f, "    stopped at %.0f s: %s %s failed with %s (abort is set)\n",
			r->aborted_at_s, report_fmt_name(metric, sizeof(metric), t->metric),
			t->condition, act);
	}
	for (size_t i = 0; i < r->nthresholds; i++) {
		const struct threshold *t = &r->thresholds[i];
		threshold_fmt(t, t->actual, act, sizeof(act));
		snprintf(cond, sizeof(cond), "%s %s",
			 report_fmt_name(metric, sizeof(metric), t->metric), t->condition);
		fprintf(f, "    %-4s  %-32s  %-18s (%s%s)\n", t->passed ? "ok" : "FAIL", cond,
			t->measured ? act : "not measured", t->where, t->abort ? ", abort" : "");
	}
}

void report_thresholds_failed(FILE *f, const char *who, const struct run_result *r)
{
	char act[32], metric[REPORT_NAME_LEN];

	for (size_t i = 0; i < r->nthresholds; i++) {
		const struct threshold *t = &r->thresholds[i];
		if (t->passed)
			continue;
		threshold_fmt(t, t->actual, act, sizeof(act));
		fprintf(f, "%s: threshold failed: %s %s: %s (%s)\n", who,
			report_fmt_name(metric, sizeof(metric), t->metric), t->condition,
			t->measured ? act : "not measured", t->where);
	}
}

/* Where to look for why nothing completed: the errors the text report
 * printed above, only when it printed them (not under -q) and there were
 * some. */
static void errors_hint(FILE *f, const struct options *o, const struct stats *s)
{
	int64_t errs = stats_errors_total(s);

	if (errs > 0 && !o->quiet)
		fprintf(f, " (see the errors above)");
	else if (errs > 0 && o->json_path)
		fprintf(f, " (%lld error%s: their classes are in %s, totals.errors)",
			(long long)errs, errs == 1 ? "" : "s", o->json_path);
	else if (errs > 0)
		fprintf(f, " (%lld error%s: run without -q, or with --json, to see their classes)",
			(long long)errs, errs == 1 ? "" : "s");
	else if (s->counter[ST_UNFINISHED] > 0)
		fprintf(f, " (no error: %lld request%s still waited for an answer at the end; a "
			   "longer duration?)", (long long)s->counter[ST_UNFINISHED],
			s->counter[ST_UNFINISHED] == 1 ? "" : "s");
	else if (s->counter[ST_SENT] == 0)
		fprintf(f, " (no error: no request was sent)");
}

void report_nothing_measured(FILE *f, const struct options *o, const struct run_result *r)
{
	const struct stats *s = &r->total;

	/* Sessions that failed part-way may have measured much on the way
	 * (an RTSP reader's packets, its jitter): what failed is that none
	 * completed. */
	bool session_failed = o->shape == SHAPE_SESSION && s->counter[ST_CONN_OPENED] > 0;
	fprintf(f, session_failed ? "surge: no session completed: " : "surge: nothing was measured: ");
	if (o->rate_segs && s->counter[ST_INTENDED] == 0 && s->counter[ST_SENT] == 0) {
		/* Not a fault of the target: the ramp never rose above 0. */
		fprintf(f, "the schedule asked for no requests (its rate is 0 throughout): give "
			   "`rate` a stage above 0");
	} else if (s->counter[ST_CONN_OPENED] == 0) {
		fprintf(f, "no connection to %s could be opened", o->target ? o->target : "the target");
		if (s->error[ERR_CONNECT_REFUSED])
			fprintf(f, " (connection refused: is the server listening there?)");
		else if (s->error[ERR_CONNECT_TIMEOUT])
			fprintf(f, " (connect timed out: is the address reachable?)");
		else if (s->error[ERR_UNREACHABLE])
			fprintf(f, " (host or network unreachable: no route to it from the source "
				   "address; `ip route get ADDRESS` shows the route taken)");
		else if (s->error[ERR_ADDR_NOT_AVAILABLE])
			fprintf(f, " (source address not available: see surge doctor)");
		else if (s->error[ERR_TLS_VERIFY])
			fprintf(f, " (the server's certificate was refused: check tls.ca and the "
				   "name, --sni; --insecure skips the check)");
		else if (s->error[ERR_TLS_HANDSHAKE])
			fprintf(f, " (TLS handshakes failed: does the server speak TLS on that port?)");
	} else if (o->shape == SHAPE_SESSION) {
		fprintf(f, "connections opened but every session failed (the counters measured on "
			   "the way stand; the exit code is 1)");
		errors_hint(f, o, s);
	} else if (s->error[ERR_PROTOCOL] > 0 && s->counter[ST_SENT] > 0 &&
		   s->error[ERR_PROTOCOL] == stats_errors_total(s)) {
		/* Answered, but never rightly: not a silent server. */
		fprintf(f, "the server answered, but no answer was a valid one (%lld protocol "
			   "error%s)", (long long)s->error[ERR_PROTOCOL],
			s->error[ERR_PROTOCOL] == 1 ? "" : "s");
		errors_hint(f, o, s);
	} else {
		fprintf(f, "connections opened but no response completed");
		errors_hint(f, o, s);
	}
	fputc('\n', f);
}

const char *report_ended_by_key(const struct options *o, const struct run_result *r)
{
	if (r->interrupted)
		return "interrupted";
	if (r->aborted_by)
		return "threshold";
	if (r->unreachable)
		return "unreachable";
	return r->ended_by_requests ? "requests" : "duration";
}

const char *report_ended_by(const struct options *o, const struct run_result *r)
{
	static char line[224];
	const char *key = report_ended_by_key(o, r);

	/* A shard's count is its share: every shards-th request of the run's. */
	bool sharded = o->shards > 1;
	uint64_t n = sharded ? quota_share(o->requests, o->shard, o->shards) : o->requests;
	int64_t unbuilt = stats_counter_by_name(&r->total, "requests.unbuilt");
	char share[80] = "";

	if (sharded)
		snprintf(share, sizeof(share), " (shard %u/%u's share of %llu)", o->shard + 1,
			 o->shards, (unsigned long long)o->requests);
	/* surge report of some of a run's shards (one alone, or --partial):
	 * the count they were to send is their shares, not the run's. */
	uint32_t of = r->shards_of, present = of - r->nshards_missing, k = 0;
	if (!sharded && of > 1 && r->nshards_missing && present) {
		for (uint32_t i = 0; i < r->nshards_missing; i++)
			n -= quota_share(o->requests, r->shards_missing[i] - 1, of);
		while (present == 1 && k < r->nshards_missing && r->shards_missing[k] == k + 1)
			k++; /* the one read: the first not missing (the list is in order) */
		if (present == 1)
			snprintf(share, sizeof(share), " (shard %u/%u's share of %llu)", k + 1, of,
				 (unsigned long long)o->requests);
		else
			snprintf(share, sizeof(share), " (the share of the %u of %u shards read, of %llu)",
				 present, of, (unsigned long long)o->requests);
	}
	if (strcmp(key, "requests") == 0 && !o->rate_segs && unbuilt > 0)
		/* The closed model counts a request its callback failed to make. */
		snprintf(line, sizeof(line),
			 "by the count: all %llu requests made%s, %lld of them not sent (the "
			 "request callback failed)",
			 (unsigned long long)n, share, (long long)unbuilt);
	else if (strcmp(key, "requests") == 0)
		snprintf(line, sizeof(line), "by the count: all %llu requests%s %s",
			 (unsigned long long)n, share,
			 o->rate_segs ? "of the schedule taken (sent or dropped)" : "sent");
	else if (strcmp(key, "duration") == 0)
		snprintf(line, sizeof(line),
			 "by the duration (%.9g s) before the count of %llu requests%s",
			 (double)o->duration_ns / 1e9, (unsigned long long)n, share);
	else if (strcmp(key, "unreachable") == 0)
		snprintf(line, sizeof(line),
			 "gave up at %.0f s: no connection open for %.0f s while connects failed, "
			 "before the count of %llu requests%s",
			 r->unreachable_at_s, r->unreachable_window_s,
			 (unsigned long long)n, share);
	else
		snprintf(line, sizeof(line), "%s, before the count of %llu requests%s",
			 strcmp(key, "threshold") == 0 ? "by a threshold" : "interrupted",
			 (unsigned long long)n, share);
	return line;
}
