/* report_cut: a log written whole is whole; one cut at a second's boundary,
 * inside a line, left behind by a run that died, or merged from cut logs
 * lacks what it lacks, counted exactly when its header says how many
 * seconds it holds; a log still being written is a note, not a cut. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hlog.h"
#include "report_cut.h"
#include "tap.h"

static void hist_line(char *buf, size_t len, double start)
{
	struct hist *h = hist_new_default();
	uint8_t *bin;
	size_t binlen;
	char *b64;

	hist_record_n(h, 1000, 3);
	hist_encode_compressed(h, &bin, &binlen);
	hist_base64_encode(bin, binlen, &b64);
	snprintf(buf, len, "%.3f,1.000,0.001,%s\n", start, b64);
	free(bin);
	free(b64);
	hist_free(h);
}

/* A surge log of `whole` seconds with its counts, then `dropped` seconds of
 * latencies without them; head before, tail after. */
static char *log_text(const char *head, int whole, int dropped, const char *tail)
{
	char *buf;
	size_t len;
	FILE *f = open_memstream(&buf, &len);
	char h[1024];

	fputs(head, f);
	for (int i = 0; i < whole + dropped; i++) {
		hist_line(h, sizeof(h), i);
		fputs(h, f);
		if (i < whole)
			fprintf(f, "#surge-interval %d.000 completed=3\n", i);
	}
	fputs(tail, f);
	fclose(f);
	return buf;
}

/* Reads text as one log and judges it, still for `still` seconds. */
static int judged(const char *text, double still, struct hlog *l, struct run_result *r, char *err,
		  size_t errlen)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int rc;

	hlog_init(l);
	memset(r, 0, sizeof(*r));
	rc = hlog_read(f, "t.hlog", l, err, errlen);
	fclose(f);
	return rc < 0 ? rc : report_cut_judge(l, &still, r, err, errlen);
}

/* What report_cut_say prints, and how many cuts it counts. */
static size_t said(const struct run_result *r, char **out)
{
	size_t len, n;
	FILE *f = open_memstream(out, &len);

	n = report_cut_say(r, f);
	fclose(f);
	return n;
}

static void check(const char *name, const char *head, int whole, int dropped, const char *tail,
		  double still, int kind, uint64_t seconds, bool exact, double from_s,
		  const char *says)
{
	struct hlog l;
	struct run_result r;
	char err[256] = "", *out = NULL;
	char *text = log_text(head, whole, dropped, tail);

	ok(judged(text, still, &l, &r, err, sizeof(err)) == 0, "%s: read and judged (%s)", name, err);
	size_t n = said(&r, &out);
	if (kind < 0) {
		if (!ok(r.ncuts == 0 && r.seconds_cut == 0 && n == 0 && !*out, "%s: whole, nothing said",
			name))
			diag("said: %s", out);
	} else {
		const struct report_cut *c = r.cuts;
		ok(r.ncuts == 1 && (int)c->kind == kind && c->seconds == seconds &&
			   c->exact == exact && fabs(c->from_s - from_s) < 1e-9,
		   "%s: kind %d, %llu seconds from %.3f s, %s", name, kind,
		   (unsigned long long)seconds, from_s, exact ? "exact" : "from its times");
		if (r.ncuts == 1 && ((int)c->kind != kind || c->seconds != seconds))
			diag("got kind %d, %llu seconds from %.3f", c->kind,
			     (unsigned long long)c->seconds, c->from_s);
		bool note = kind == REPORT_CUT_LIVE;
		ok(r.seconds_cut == (note ? 0 : seconds) && n == (note ? 0 : 1),
		   "%s: %s", name, note ? "a note: no seconds cut, no error" : "counted as cut");
		if (!ok(out && strstr(out, says), "%s: says '%s'", name, says))
			diag("said: %s", out);
	}
	free(out);
	free(text);
	run_result_free(&r);
	hlog_free(&l);
}

#define NEW "#surge-param duration_s 10\n#surge-param elapsed_s 10\n#surge-param seconds 3\n"
#define OLD "#surge-param duration_s 10\n#surge-param elapsed_s 3\n"
#define LIVE "#surge-param duration_s 10\n#surge-param elapsed_s 0\n"
#define END "#surge-end ended_by=duration\n"

int main(void)
{
	/* Written whole by this surge: its header counts the seconds that
	 * follow, its last line is the end. */
	check("whole", NEW, 3, 0, END, 0, -1, 0, false, 0, "");
	check("cut at a second's boundary", NEW, 1, 0, "", 0, REPORT_CUT_SHORT, 2, true, 1,
	      "t.hlog was cut short at 1.000 s: it ends without its #surge-end line (2 of its 3 "
	      "seconds missing)");
	check("cut inside the last second", NEW, 2, 1, "", 0, REPORT_CUT_SHORT, 1, true, 2,
	      "t.hlog: the second at 2.000 s has latencies but no #surge-interval counts (the log "
	      "was cut short): it is left out (1 of its 3 seconds missing)");
	check("cut inside a second, more missing", NEW, 1, 1, "", 0, REPORT_CUT_SHORT, 2, true, 1,
	      "(2 of its 3 seconds missing)");
	check("only the end line missing", NEW, 3, 0, "", 0, -1, 0, false, 0, "");
	/* Older surge: no count, no end line; the time its run took. */
	check("older, whole", OLD, 3, 0, "", 0, -1, 0, false, 0, "");
	check("older, cut at a boundary", OLD, 1, 0, "", 0, REPORT_CUT_SHORT, 2, false, 1,
	      "t.hlog was cut short at 1.000 s: it ends before the 3 s its run took (at least 2 "
	      "seconds missing)");
	check("older, cut inside its last second", OLD, 2, 1, "", 0, REPORT_CUT_SHORT, 1, false, 2,
	      "the log was cut short): it is left out (at least 1 second missing)");
	/* Written as the run goes. */
	check("live, still being written", LIVE, 2, 1, "", 2, REPORT_CUT_LIVE, 1, false, 2,
	      "note: t.hlog is still being written: its last second (at 2.000 s) is not whole yet");
	check("live, time of change unknown", LIVE, 2, 1, "", -1, REPORT_CUT_LIVE, 1, false, 2,
	      "is still being written");
	check("live at a boundary, being written", LIVE, 2, 0, "", 2, REPORT_CUT_LIVE, 0, false, 2,
	      "note: t.hlog is still being written: the report covers its first 2.000 s");
	/* How long a dead run would have gone on is unknown (with -n alone
	 * its duration is a year): only the seconds lost inside count. */
	check("live, left behind", LIVE, 2, 0, "", REPORT_CUT_STILL_S + 1, REPORT_CUT_LEFT, 0,
	      false, 2, "t.hlog was being written as its run went and has not changed for 61 s: "
	      "its run stopped 2.000 s in without writing its whole log");
	check("live, left behind mid-second", LIVE, 2, 1, "", 600, REPORT_CUT_LEFT, 1, false, 2,
	      "surge was killed, or its machine or disk failed; Ctrl-C and SIGTERM still write it); "
	      "what it measured after that is unknown");

	/* Whole to its end line, but a second inside lost its counts (edited). */
	struct hlog l;
	struct run_result r;
	char err[256] = "", *out = NULL, h[1024];
	hist_line(h, sizeof(h), 0);
	char *text = log_text("#surge-param elapsed_s 10\n#surge-param seconds 2\n", 0, 0, "");
	char *gaps;
	if (asprintf(&gaps, "%s%s%s#surge-interval 1.000 completed=3\n" END, text, h, h) < 0)
		return 1;
	free(text);
	ok(judged(gaps, 0, &l, &r, err, sizeof(err)) == 0 && r.ncuts == 1 &&
		   r.cuts[0].kind == REPORT_CUT_GAPS && r.cuts[0].seconds == 1 && r.seconds_cut == 1 &&
		   said(&r, &out) == 1 &&
		   strstr(out, "t.hlog: the second at 0.000 s has latencies but no #surge-interval "
			       "counts (its line is missing): it is left out"),
	   "a second inside without its counts: a gap, said (%s)", err);
	free(out);
	out = NULL;
	free(gaps);
	run_result_free(&r);
	hlog_free(&l);

	/* A second inside without its counts, and the log cut after a whole
	 * second: what it lacks begins at the gap, it was cut where it ends. */
	text = log_text("#surge-param elapsed_s 10\n#surge-param seconds 3\n", 0, 0, "");
	if (asprintf(&gaps, "%s%s%s#surge-interval 1.000 completed=3\n", text, h, h) < 0)
		return 1;
	free(text);
	ok(judged(gaps, 0, &l, &r, err, sizeof(err)) == 0 && r.ncuts == 1 &&
		   r.cuts[0].kind == REPORT_CUT_SHORT && r.cuts[0].seconds == 2 &&
		   fabs(r.cuts[0].from_s) < 1e-9 && said(&r, &out) == 1 &&
		   strstr(out, "t.hlog was cut short at 2.000 s: it ends without its #surge-end line "
			       "(2 of its 3 seconds missing)"),
	   "a gap inside and a cut end: from the gap, cut where it ends (%s)", err);
	free(out);
	out = NULL;
	free(gaps);
	run_result_free(&r);
	hlog_free(&l);

	/* A merge of cut logs says what they lacked: its readers are told. */
	text = log_text(NEW "#surge-param seconds_cut 4\n", 3, 0, END);
	ok(judged(text, 0, &l, &r, err, sizeof(err)) == 0 && r.ncuts == 1 &&
		   r.cuts[0].kind == REPORT_CUT_MERGE && r.seconds_cut == 4 && said(&r, &out) == 1 &&
		   strstr(out, "t.hlog merged logs that were cut short (surge report --partial): it "
			       "lacks their 4 missing seconds"),
	   "a merge of cut logs: their 4 seconds, said (%s)", err);
	free(out);
	free(text);
	run_result_free(&r);
	hlog_free(&l);

	for (int i = 0; i < 2; i++) {
		const char *key = i ? "seconds_cut" : "seconds";
		char head[128];
		snprintf(head, sizeof(head), "#surge-param %s -1\n", key);
		text = log_text(head, 1, 0, END);
		char want[128];
		snprintf(want, sizeof(want), "t.hlog: #surge-param %s -1: want a count", key);
		ok(judged(text, 0, &l, &r, err, sizeof(err)) == -EINVAL && strcmp(err, want) == 0,
		   "a %s that is not a count is refused, naming the log (%s)", key, err);
		free(text);
		run_result_free(&r);
		hlog_free(&l);
	}
	return tap_done();
}
