/* report_cut: which logs `surge report` read are whole, and what the others
 * lack, judged from what hlog_read saw of each (report_cut.h). */
#include "report_cut.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A time a log's header names: false when it is not there or does not read
 * (report_cmd.c refuses a first log's bad times; another's count as unsaid). */
static bool param_time(const struct hlog_log *g, const char *key, double *out)
{
	const char *v = hlog_log_param(g, key);
	char *end;

	if (!v)
		return false;
	errno = 0;
	double d = strtod(v, &end);
	if (end == v || *end || errno || !(d >= 0 && d <= 1e9))
		return false;
	*out = d;
	return true;
}

/* A count a log's header names, refused unless it is one: it adds into
 * what the report says. */
static int param_count(const struct hlog_log *g, const char *key, uint64_t *out, bool *has,
		       char *err, size_t errlen)
{
	const char *v = hlog_log_param(g, key);
	char *end;

	*has = false;
	if (!v)
		return 0;
	errno = 0;
	unsigned long long n = strtoull(v, &end, 10);
	if (*v < '0' || *v > '9' || *end || errno || n > UINT32_MAX) {
		snprintf(err, errlen, "%s: #surge-param %s %s: want a count", g->name, key, v);
		return -EINVAL;
	}
	*out = n;
	*has = true;
	return 0;
}

/* What a log lacks by its times: the seconds that lost their counts, and
 * the whole seconds between its last interval and `until`, of which those
 * lost after its last whole second are a part. */
static uint64_t lacks_until(const struct hlog_log *g, double until)
{
	/* Interval times are written to the millisecond. */
	double tail = until - g->end - 1e-3;
	uint64_t t = tail > 0 ? (uint64_t)ceil(tail) : 0;

	return g->seconds_cut - g->cut_tail + (t > g->cut_tail ? t : g->cut_tail);
}

/* Judges one log (has_n: its header says it holds n seconds): 1 and *c
 * filled when it lacks anything, 0 when whole. */
static int judge(const struct hlog_log *g, double still, bool has_n, uint64_t n,
		 struct report_cut *c)
{
	double elapsed = 0, planned = 0;
	bool has_elapsed = param_time(g, "elapsed_s", &elapsed);

	param_time(g, "duration_s", &planned);
	*c = (struct report_cut){
		.log = g->name,
		.from_s = g->seconds_cut ? fmin(g->cut_at, g->end) : g->end,
		.end_s = g->end,
		.seconds = g->seconds_cut,
		.dropped = g->seconds_cut,
		.dropped_last = g->cut_tail > 0,
		.still_s = still,
	};
	if (has_elapsed && elapsed == 0 && !g->ended) {
		/* Written as its run went: never an end line. (A whole log of a
		 * run stopped before its start also says 0 s, and ends.) */
		if (still >= REPORT_CUT_STILL_S) {
			/* How long its run would have gone on is unknown (the
			 * duration is an upper bound, a year with -n alone):
			 * only the seconds lost inside it are counted. */
			c->kind = REPORT_CUT_LEFT;
			c->took_s = planned;
			return 1;
		}
		if (g->seconds_cut > 1 || (g->seconds_cut && !g->cut_last)) {
			c->kind = REPORT_CUT_GAPS; /* not only its last second: cut or edited */
			return 1;
		}
		/* Said even at a second's boundary: it reads like a shorter run,
		 * and may be one its run is about to leave behind. */
		c->kind = REPORT_CUT_LIVE;
		c->from_s = g->seconds_cut ? g->cut_at : g->end;
		return 1;
	}
	if (has_n) {
		/* Written whole: its seconds are counted. One that lost only its
		 * end line lacks nothing. */
		c->exact = true;
		c->of = n;
		if (n > g->seconds && n - g->seconds > c->seconds)
			c->seconds = n - g->seconds;
		c->kind = g->ended ? REPORT_CUT_GAPS : REPORT_CUT_SHORT;
		return c->seconds > 0;
	}
	if (g->np && has_elapsed) {
		/* From a surge that wrote no end line: it should reach the time
		 * its run took. What came after (the drain's answers) cannot be
		 * told apart from nothing. */
		c->took_s = elapsed;
		c->seconds = lacks_until(g, elapsed);
		c->kind = c->seconds > g->seconds_cut - g->cut_tail ? REPORT_CUT_SHORT
								     : REPORT_CUT_GAPS;
		return c->seconds > 0;
	}
	/* Another tool's log, or a surge log that names no time. */
	c->kind = g->cut_tail ? REPORT_CUT_SHORT : REPORT_CUT_GAPS;
	return g->seconds_cut > 0;
}

int report_cut_judge(const struct hlog *l, const double *still_s, struct run_result *r, char *err,
		     size_t errlen)
{
	/* At most two entries a log: what it lacks, and what a merge recorded. */
	struct report_cut *cuts = calloc(2 * l->nlog_info + 1, sizeof(*cuts));
	size_t n = 0;
	uint64_t total = 0;

	if (!cuts) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < l->nlog_info; i++) {
		const struct hlog_log *g = &l->logs[i];
		uint64_t count, carried;
		bool has_count, has_carried;
		int rc;
		if ((rc = param_count(g, "seconds", &count, &has_count, err, errlen)) < 0 ||
		    (rc = param_count(g, "seconds_cut", &carried, &has_carried, err, errlen)) < 0) {
			free(cuts);
			return rc;
		}
		if (judge(g, still_s ? still_s[i] : -1, has_count, count, &cuts[n])) {
			if (cuts[n].kind != REPORT_CUT_LIVE)
				total += cuts[n].seconds;
			n++;
		}
		if (has_carried && carried) {
			cuts[n++] = (struct report_cut){ .log = g->name, .kind = REPORT_CUT_MERGE,
							 .seconds = carried, .exact = true };
			total += carried;
		}
	}
	free(r->cuts);
	r->cuts = cuts;
	r->ncuts = n;
	r->seconds_cut = total;
	return 0;
}

/* "2 of its 3 seconds", "at least 1 second". */
static void lacks(const struct report_cut *c, char *buf, size_t len)
{
	unsigned long long s = c->seconds;

	if (c->exact)
		snprintf(buf, len, "%llu of its %llu second%s", s, (unsigned long long)c->of,
			 c->of == 1 ? "" : "s");
	else
		snprintf(buf, len, "at least %llu second%s", s, s == 1 ? "" : "s");
}

static void say_short(const struct report_cut *c, FILE *note)
{
	char what[96];

	lacks(c, what, sizeof(what));
	if (c->dropped == 1 && c->dropped_last)
		fprintf(note, "surge report: %s: the second at %.3f s has latencies but no "
			      "#surge-interval counts (the log was cut short): it is left out (%s "
			      "missing), the report covers the seconds before it; --partial accepts "
			      "that\n", c->log, c->from_s, what);
	else if (c->dropped > 1 && c->dropped_last)
		fprintf(note, "surge report: %s: %zu seconds, the first at %.3f s, have latencies but "
			      "no #surge-interval counts (the log was cut short): they are left out "
			      "(%s missing); --partial accepts that\n", c->log, c->dropped, c->from_s,
			what);
	else if (c->exact)
		fprintf(note, "surge report: %s was cut short at %.3f s: it ends without its "
			      "#surge-end line (%s missing), the report covers the seconds before "
			      "it; --partial accepts that\n", c->log, c->end_s, what);
	else
		fprintf(note, "surge report: %s was cut short at %.3f s: it ends before the %.9g s "
			      "its run took (%s missing), the report covers the seconds before it; "
			      "--partial accepts that\n", c->log, c->end_s, c->took_s, what);
}

size_t report_cut_say(const struct run_result *r, FILE *note)
{
	size_t n = 0;
	char what[96];

	for (size_t i = 0; i < r->ncuts; i++) {
		const struct report_cut *c = &r->cuts[i];
		n += c->kind != REPORT_CUT_LIVE;
		lacks(c, what, sizeof(what));
		switch (c->kind) {
		case REPORT_CUT_LIVE:
			if (c->dropped)
				fprintf(note, "surge report: note: %s is still being written: its last "
					      "second (at %.3f s) is not whole yet and is left out\n",
					c->log, c->from_s);
			else
				fprintf(note, "surge report: note: %s is still being written: the "
					      "report covers its first %.3f s\n", c->log, c->from_s);
			break;
		case REPORT_CUT_LEFT:
			fprintf(note, "surge report: %s was being written as its run went and has not "
				      "changed for %.0f s: its run stopped %.3f s in without writing its "
				      "whole log (surge was killed, or its machine or disk failed; Ctrl-C "
				      "and SIGTERM still write it); what it measured after that is "
				      "unknown, the report covers the seconds before; --partial accepts "
				      "that\n", c->log, c->still_s, c->from_s);
			break;
		case REPORT_CUT_MERGE:
			fprintf(note, "surge report: %s merged logs that were cut short (surge report "
				      "--partial): it lacks their %llu missing second%s; --partial accepts "
				      "that\n", c->log, (unsigned long long)c->seconds,
				c->seconds == 1 ? "" : "s");
			break;
		case REPORT_CUT_SHORT:
			say_short(c, note);
			break;
		case REPORT_CUT_GAPS:
			if (c->dropped == 1)
				fprintf(note, "surge report: %s: the second at %.3f s has latencies but "
					      "no #surge-interval counts (its line is missing): it is left "
					      "out; --partial accepts that\n", c->log, c->from_s);
			else if (c->dropped > 1)
				fprintf(note, "surge report: %s: %zu seconds, the first at %.3f s, have "
					      "latencies but no #surge-interval counts (the log was cut or "
					      "edited): they are left out; --partial accepts that\n",
					c->log, c->dropped, c->from_s);
			else
				fprintf(note, "surge report: %s lacks %s (the log was edited); "
					      "--partial accepts that\n", c->log, what);
			break;
		}
	}
	return n;
}
