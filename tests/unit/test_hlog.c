/* hlog: a written log reads back to the same histograms and counters; N
 * shards merged by the reader equal one histogram of all the samples;
 * malformed logs are refused with file:line. Also threshold parsing. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hlog.h"
#include "report.h"
#include "rng.h"
#include "tap.h"
#include "threshold.h"

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint64_t rng(void)
{
	return splitmix64(&rng_state);
}

/* Log-uniform from 1 us to 10 s. */
static int64_t sample(void)
{
	return (int64_t)pow(10, 3 + (double)(rng() % 1000000) / 1e6 * 7);
}

static bool same_hist(const struct hist *a, const struct hist *b)
{
	static const double ps[] = { 0, 10, 50, 90, 99, 99.9, 99.99, 100 };
	if (hist_total(a) != hist_total(b) || hist_max(a) != hist_max(b) || hist_min(a) != hist_min(b))
		return false;
	for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++)
		if (hist_value_at_percentile(a, ps[i]) != hist_value_at_percentile(b, ps[i]))
			return false;
	return hist_mean(a) == hist_mean(b);
}

static FILE *mem(char **buf, size_t *len)
{
	*buf = NULL;
	return open_memstream(buf, len);
}

static int read_text(const char *text, struct hlog *l, char *err, size_t errlen)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int rc = hlog_read(f, "t.hlog", l, err, errlen);
	fclose(f);
	return rc;
}

static void round_trip(void)
{
	struct stats s[3];
	char *buf;
	size_t len;
	FILE *f = mem(&buf, &len);
	struct hlog_param params[] = { { "target", "tcp://127.0.0.1:7000" },
				       { "scenario", "multi\nline" } };

	hlog_write_header(f, 1700000000.5, params, 2);
	for (int k = 0; k < 3; k++) {
		stats_init(&s[k]);
		for (int i = 0; i < 1000 * (k + 1); i++)
			hist_record(s[k].hist[HI_LATENCY], sample());
		hist_record(s[k].hist[HI_CONNECT], 1000 + k);
		int id = stats_hist_id(&s[k], "rtsp first,frame");
		hist_record(s[k].nhist[id].h, 5000000);
		s[k].counter[ST_COMPLETED] = 1000 * (k + 1);
		s[k].error[ERR_RESET] = k;
		s[k].gauge[GA_CONNS_OPEN] = 42;
		int cid = stats_counter_id(&s[k], "dns.rcode=NX DOMAIN");
		s[k].ncounter[cid].value = 7 + k;
		stats_sources_init(&s[k], 3);
		s[k].src_conns[0] = 2;
		s[k].src_reqs[2] = 100 + k; /* source 1 has nothing: not written */
		ok(hlog_write_interval(f, k, 1.0, &s[k]) == 0, "interval %d written", k);
	}
	fclose(f);
	ok(strstr(buf, "#[Histogram log format version 1.3]\n#[StartTime: 1700000000.500 (seconds "
		       "since epoch), ") == buf, "version and StartTime lines first");
	ok(strstr(buf, "#[BaseTime: 1700000000.500 (seconds since epoch)]\n") != NULL, "BaseTime");
	ok(strstr(buf, "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\","
		       "\"Interval_Compressed_Histogram\"\n") != NULL, "legend");
	ok(strstr(buf, "\nTag=latency,0.000,1.000,") != NULL, "tagged, relative timestamps");
	ok(strstr(buf, ",HISTF") != NULL, "V2 compressed payloads start HISTF in base64");
	ok(strstr(buf, "Tag=rtsp%20first%2Cframe,") != NULL, "a tag's space and comma are escaped");
	ok(strstr(buf, "#surge-param scenario multi line\n") != NULL, "newline in a param flattened");

	struct hlog l;
	char err[256] = "";
	hlog_init(&l);
	int rc = read_text(buf, &l, err, sizeof(err));
	ok(rc == 0, "reads back: %s", err);
	is_int(l.niv, 3, "three intervals");
	is_int(l.nhists, 9, "nine histogram lines");
	ok(fabs(l.start_time - 1700000000.5) < 1e-6, "start time");
	ok(hlog_param(&l, "target") && strcmp(hlog_param(&l, "target"), "tcp://127.0.0.1:7000") == 0,
	   "params read back");
	for (int k = 0; k < 3 && l.niv == 3; k++) {
		const struct stats *r = &l.iv[k].s;
		ok(l.iv[k].start == k, "interval %d starts at %d s", k, k);
		ok(same_hist(r->hist[HI_LATENCY], s[k].hist[HI_LATENCY]), "latency %d identical", k);
		ok(same_hist(r->hist[HI_CONNECT], s[k].hist[HI_CONNECT]), "connect %d identical", k);
		const struct hist *nh = stats_hist_by_name(r, "rtsp first,frame");
		ok(nh && same_hist(nh, s[k].nhist[0].h), "named metric %d identical", k);
		is_int(r->counter[ST_COMPLETED], 1000 * (k + 1), "completed counter");
		is_int(r->error[ERR_RESET], k, "errors by class");
		is_int(r->gauge[GA_CONNS_OPEN], 42, "gauge");
		is_int(stats_counter_by_name(r, "dns.rcode=NX DOMAIN"), 7 + k, "named counter, escaped");
		ok(r->nsrc == 3 && r->src_conns[0] == 2 && r->src_conns[1] == 0 && r->src_conns[2] == 0 &&
			   r->src_reqs[0] == 0 && r->src_reqs[1] == 0 && r->src_reqs[2] == 100 + k,
		   "per-source counts %d read back by position", k);
	}
	hlog_free(&l);
	for (int k = 0; k < 3; k++)
		stats_free(&s[k]);
	free(buf);
}

/* The promise: the merge of N shards equals one run's histogram of
 * all samples. Each shard has its own base time; intervals align on it. */
static void shards_merge_exactly(void)
{
	enum { SHARDS = 5, SECONDS = 4 };
	struct stats all[SECONDS];
	struct hlog l;
	char err[256] = "";

	hlog_init(&l);
	for (int t = 0; t < SECONDS; t++)
		stats_init(&all[t]);
	for (int k = 0; k < SHARDS; k++) {
		char *buf;
		size_t len;
		FILE *f = mem(&buf, &len);
		hlog_write_header(f, 1700000000.0 + k * 0.2, NULL, 0);
		for (int t = 0; t < SECONDS; t++) {
			struct stats s;
			stats_init(&s);
			int n = 500 + (int)(rng() % 3000);
			for (int i = 0; i < n; i++) {
				int64_t v = sample();
				hist_record(s.hist[HI_LATENCY], v);
				hist_record(all[t].hist[HI_LATENCY], v);
			}
			s.counter[ST_SENT] = n;
			all[t].counter[ST_SENT] += n;
			hlog_write_interval(f, t, 1.0, &s);
			stats_free(&s);
		}
		fclose(f);
		ok(read_text(buf, &l, err, sizeof(err)) == 0, "shard %d read: %s", k, err);
		free(buf);
	}
	is_int(l.nlogs, SHARDS, "all shards read");
	is_int(l.niv, SECONDS, "intervals aligned on each shard's own start");
	struct stats total, mtotal;
	stats_init(&total);
	stats_init(&mtotal);
	for (int t = 0; t < SECONDS && (size_t)t < l.niv; t++) {
		ok(same_hist(l.iv[t].s.hist[HI_LATENCY], all[t].hist[HI_LATENCY]),
		   "second %d: merged shards == histogram of all samples", t);
		is_int(l.iv[t].s.counter[ST_SENT], all[t].counter[ST_SENT], "counters add");
		stats_add(&total, &all[t]);
		stats_add(&mtotal, &l.iv[t].s);
	}
	ok(same_hist(mtotal.hist[HI_LATENCY], total.hist[HI_LATENCY]), "whole run identical too");
	ok(fabs(l.start_time - 1700000000.0) < 1e-9, "start time is the earliest shard's");
	stats_free(&total);
	stats_free(&mtotal);
	for (int t = 0; t < SECONDS; t++)
		stats_free(&all[t]);
	hlog_free(&l);
}

/* Logs HdrHistogram's Java tools write: untagged lines, absolute timestamps
 * without BaseTime. Payload: one value 1000 recorded (written by hist). */
static void foreign_logs(void)
{
	struct hist *h = hist_new_default();
	uint8_t *bin;
	size_t binlen;
	char *b64, text[1024], err[256] = "";
	struct hlog l;

	hist_record(h, 1000);
	hist_encode_compressed(h, &bin, &binlen);
	hist_base64_encode(bin, binlen, &b64);
	snprintf(text, sizeof(text),
		 "#[Logged with jHiccup version 2.0.10]\n"
		 "#[Histogram log format version 1.2]\n"
		 "#[StartTime: 1441812279.474 (seconds since epoch), Wed Sep 09 08:24:39 PDT 2015]\n"
		 "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n"
		 "1441812280.474,1.000,0.001,%s\n1441812281.474,1.000,0.001,%s\n", b64, b64);
	hlog_init(&l);
	ok(read_text(text, &l, err, sizeof(err)) == 0, "a jHiccup-style log reads: %s", err);
	is_int(l.niv, 2, "two intervals");
	ok(l.niv == 2 && fabs(l.iv[0].start - 1.0) < 1e-9, "absolute timestamps made relative");
	ok(l.niv == 2 && hist_total(l.iv[1].s.hist[HI_LATENCY]) == 1, "untagged = latency");
	ok(l.niv == 2 && fabs(l.iv[1].start - 2.0) < 1e-9,
	   "every absolute timestamp made relative, not only the first");
	hlog_free(&l);
	free(bin);
	free(b64);
	hist_free(h);
}

#define NAME16 "abcdefghijklmnop"
#define LONG_NAME NAME16 NAME16 NAME16 NAME16 NAME16 NAME16 NAME16 NAME16 /* > STATS_NAME_MAX */

static void malformed(void)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "", "t.hlog: no intervals" },
		{ "hello\n", "t.hlog:1: expected StartTimestamp" },
		{ "#x\n0.0,1.0,x,HISTFAAA\n", "t.hlog:2: StartTimestamp, Interval_Length" },
		{ "0.0,1.0,1.0,!!!!\n", "t.hlog:1: the histogram is not valid base64" },
		{ "0.0,1.0,1.0,QUJDRA==\n", "t.hlog:1: the histogram is not an HdrHistogram" },
		{ "Tag=%zz,0.0,1.0,1.0,QUJDRA==\n", "t.hlog:1: a tag that is empty" },
		{ "#surge-interval x sent=1\n", "t.hlog:1: #surge-interval must start" },
		{ "#surge-interval 0.000 sent\n", "t.hlog:1: #surge-interval fields" },
		{ "#[StartTime: soon]\n", "t.hlog:1: #[StartTime: expects" },
		/* Found by tests/fuzz (fuzz_hlog): refused with no message at all. */
		{ "#surge-interval 0.000 count." LONG_NAME "=1\n",
		  "t.hlog:1: #surge-interval: 'count." LONG_NAME "': a counter name is 1 to 63" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct hlog l;
		char err[256] = "";
		hlog_init(&l);
		int rc = read_text(cases[i].text, &l, err, sizeof(err));
		ok(rc == -EINVAL && strncmp(err, cases[i].want, strlen(cases[i].want)) == 0,
		   "refused with '%s'", cases[i].want);
		if (rc != -EINVAL || strncmp(err, cases[i].want, strlen(cases[i].want)) != 0)
			diag("got %d '%s'", rc, err);
		hlog_free(&l);
	}
	struct hlog l;
	char err[64];
	hlog_init(&l);
	ok(read_text("#surge-interval 0.000 sent=3 from.the.future=9\n", &l, err, sizeof(err)) == 0 &&
		   l.iv[0].s.counter[ST_SENT] == 3,
	   "unknown counter keys are skipped");
	hlog_free(&l);
	/* Found by tests/fuzz (fuzz_report): reports cast it to time_t. */
	hlog_init(&l);
	ok(read_text("#[StartTime: 4e122]\n#surge-interval 0.000 sent=1\n", &l, err, sizeof(err)) < 0 &&
		   strstr(err, "t.hlog:1: #[StartTime: expects") && l.start_time == 0,
	   "a StartTime no time_t holds is refused with file:line");
	hlog_free(&l);
}

/* Any bytes in a log (surge report reads what people hand it): mutations of a
 * valid log are read or refused, never a crash, a hang or a leak (ASan). */
static void hostile(void)
{
	struct stats s;
	char *buf, *m;
	size_t len;
	FILE *f = mem(&buf, &len);
	struct hlog_param params[] = { { "bind", "127.0.0.1-127.0.0.4" } };
	int accepted = 0, refused = 0, other = 0;

	hlog_write_header(f, 1700000000.0, params, 1);
	stats_init(&s);
	for (int i = 0; i < 300; i++)
		hist_record(s.hist[HI_LATENCY], sample());
	s.counter[ST_COMPLETED] = 300;
	stats_sources_init(&s, 4);
	s.src_conns[3] = 5;
	int id = stats_counter_id(&s, "rtsp.gap");
	s.ncounter[id].value = 1;
	for (int k = 0; k < 4; k++)
		hlog_write_interval(f, k, 1.0, &s);
	fclose(f);
	m = malloc(len + 1);
	for (int iter = 0; iter < 4000; iter++) {
		size_t n = len;
		memcpy(m, buf, len);
		for (int k = 1 + (int)(rng() % 4); k > 0; k--) {
			size_t at = rng() % n;
			switch (rng() % 4) {
			case 0: m[at] = (char)rng(); break;                          /* any byte */
			case 1: m[at] = "0123456789.,=-+eE %#\n"[rng() % 22]; break; /* a plausible one */
			case 2: n = at; break;                                       /* cut short */
			default: memmove(m + at, m + at + 1, n - at - 1); n--;       /* dropped */
			}
			if (n == 0)
				break;
		}
		struct hlog l;
		char err[256];
		hlog_init(&l);
		FILE *in = fmemopen(m, n ? n : 1, "r");
		int rc = n ? hlog_read(in, "fuzz.hlog", &l, err, sizeof(err)) : -EINVAL;
		fclose(in);
		accepted += rc == 0;
		refused += rc == -EINVAL;
		other += rc != 0 && rc != -EINVAL;
		hlog_free(&l);
	}
	ok(other == 0 && accepted > 100 && refused > 100,
	   "4000 mutated logs: each read (%d) or refused as malformed (%d), nothing else (%d)",
	   accepted, refused, other);
	free(m);
	free(buf);
	stats_free(&s);
}

/* A run's header names every destination: a name with many addresses is
 * the normal case for a farm, not an edge. */
static void many_destinations(void)
{
	struct options o = {0};
	struct run_result r = {0};
	char *buf;
	size_t len;
	int n = 0;

	o.ndests = 300;
	o.dests = calloc(o.ndests, sizeof(*o.dests));
	for (size_t i = 0; i < o.ndests; i++)
		snprintf(o.dests[i].label, sizeof(o.dests[i].label), "127.0.%zu.%zu:53", i / 250,
			 1 + i % 250);
	o.bind_spec = "127.0.0.1-127.0.0.8";
	FILE *f = mem(&buf, &len);
	ok(report_hlog_header(f, &o, &r, false) == 0, "a header with 300 destinations is written");
	fclose(f);
	for (const char *p = buf; (p = strstr(p, "#surge-param destination ")); p++)
		n++;
	is_int(n, 300, "it names every one of them");
	ok(strstr(buf, "#surge-param bind 127.0.0.1-127.0.0.8\n") != NULL, "and the bind set");
	free(buf);
	free(o.dests);
}

static void thresholds(void)
{
	struct threshold t;
	char err[512];
	struct stats s;

	ok(threshold_parse("latency.p99", "< 5ms", "x.lua:3", &t, err, sizeof(err)) == 0 &&
		   t.kind == TH_HIST && strcmp(t.name, "latency") == 0 && t.percentile == 99 &&
		   t.op == TH_LT && t.limit == 5e6,
	   "latency.p99 < 5ms");
	ok(threshold_parse(NULL, "rtsp.first_frame.p99.9<=1.5s", "--threshold", &t, err,
			   sizeof(err)) == 0 &&
		   strcmp(t.name, "rtsp.first_frame") == 0 && t.percentile == 99.9 && t.op == TH_LE &&
		   t.limit == 1.5e9,
	   "a dotted metric name and p99.9");
	ok(threshold_parse("errors.rate", "<0.1%", "w", &t, err, sizeof(err)) == 0 &&
		   t.kind == TH_ERRORS_RATE && fabs(t.limit - 0.001) < 1e-15,
	   "errors.rate < 0.1%%");
	ok(threshold_parse("rate.achieved", "> 99%", "w", &t, err, sizeof(err)) == 0 &&
		   t.kind == TH_RATE_ACHIEVED && t.op == TH_GT,
	   "rate.achieved > 99%%");
	ok(threshold_parse("errors.reset", "<= 10", "w", &t, err, sizeof(err)) == 0 &&
		   t.kind == TH_ERROR_CLASS && t.err_class == ERR_RESET,
	   "an error class");
	ok(threshold_parse("latency.p99", "5ms", "x.lua:3", &t, err, sizeof(err)) == -EINVAL &&
		   strstr(err, "x.lua:3: threshold on 'latency.p99': expected an operator") == err,
	   "no operator: says where and what");
	ok(threshold_parse("latency.p99", "< fast", "x.lua:3", &t, err, sizeof(err)) == -EINVAL &&
		   strstr(err, "a duration like 5ms"),
	   "bad value: shows an example of the unit");
	ok(threshold_parse("latency.p999x", "< 1ms", "x.lua:4", &t, err, sizeof(err)) == -EINVAL &&
		   strstr(err, "unknown metric"),
	   "unknown statistic refused");
	ok(threshold_parse("errors.bogus", "< 1", "w", &t, err, sizeof(err)) == -EINVAL,
	   "unknown error class refused");
	ok(threshold_parse(NULL, "latency.p99", "--threshold", &t, err, sizeof(err)) == -EINVAL &&
		   strstr(err, "METRIC<VALUE"),
	   "--threshold without an operator");

	stats_init(&s);
	for (int i = 1; i <= 100; i++)
		hist_record(s.hist[HI_LATENCY], i * 100000); /* 0.1 .. 10 ms */
	s.counter[ST_COMPLETED] = 999;
	s.error[ERR_RESET] = 1;
	s.counter[ST_SENT] = 990;
	s.counter[ST_INTENDED] = 1000;
	struct threshold ts[5];
	threshold_parse(NULL, "latency.p99<9.95ms", "a", &ts[0], err, sizeof(err));
	threshold_parse(NULL, "latency.p99<9.8ms", "b", &ts[1], err, sizeof(err));
	threshold_parse(NULL, "errors.rate<=0.1%", "c", &ts[2], err, sizeof(err));
	threshold_parse(NULL, "rate.achieved>=99%", "d", &ts[3], err, sizeof(err));
	threshold_parse(NULL, "service.p50<1s", "e", &ts[4], err, sizeof(err));
	is_int(threshold_eval(ts, 5, &s, 1.0), 2, "two of five fail");
	ok(ts[0].passed && ts[0].actual == hist_value_at_percentile(s.hist[HI_LATENCY], 99),
	   "p99 from the histogram passes");
	ok(!ts[1].passed && ts[1].measured, "a tighter p99 fails");
	ok(ts[2].passed && fabs(ts[2].actual - 0.001) < 1e-12, "errors.rate = 1/1000");
	ok(ts[3].passed && fabs(ts[3].actual - 0.99) < 1e-12, "rate.achieved = 99%%");
	ok(!ts[4].passed && !ts[4].measured, "an empty histogram is not measured: fails");
	stats_free(&s);
}

/* A histogram line of count values 1000, at start. */
static void hist_line(char *buf, size_t len, double start, int64_t count)
{
	struct hist *h = hist_new_default();
	uint8_t *bin;
	size_t binlen;
	char *b64;

	hist_record_n(h, 1000, count);
	hist_encode_compressed(h, &bin, &binlen);
	hist_base64_encode(bin, binlen, &b64);
	snprintf(buf, len, "%.3f,1.000,0.001,%s\n", start, b64);
	free(bin);
	free(b64);
	hist_free(h);
}

/* Issue 12, defect 11: counts and times no int64 or cast can hold are
 * refused with file:line, never undefined behaviour (UBSan aborts on it). */
static void hostile_numbers(void)
{
	char big[1024], one[1024], huge[8192], name[200];

	hist_line(big, sizeof(big), 0, INT64_MAX - 1);
	hist_line(one, sizeof(one), 1, 2);
	snprintf(huge, sizeof(huge), "%s%s", big, one);
	memset(name, 'n', 64);
	name[64] = '\0';
	char longname[300], emptyname[] = "#surge-interval 0.000 count.=1\n";
	snprintf(longname, sizeof(longname), "#surge-interval 0.000 count.%s=1\n", name);
	const struct {
		const char *text, *want;
	} cases[] = {
		{ "#surge-interval 0.000 sent=-1\n",
		  "t.hlog:1: #surge-interval: 'sent=-1': a count is not negative" },
		{ "#surge-interval 0.000 gauge.conns_open=-5\n", "t.hlog:1: #surge-interval: 'gauge" },
		{ "#surge-interval 0.000 sent=9223372036854775807\n#surge-interval 1.000 sent=1\n",
		  "t.hlog:2: #surge-interval: 'sent': the counts add up past 9223372036854775807" },
		{ "#surge-interval 0.000 count.x=-9223372036854775807\n"
		  "#surge-interval 1.000 count.x=-2\n", "t.hlog:2: #surge-interval: 'count.x': the counts" },
		{ longname, "t.hlog:1: #surge-interval: 'count.nnnn" },
		{ emptyname, "t.hlog:1: #surge-interval: 'count.': a counter name is 1 to 63 bytes" },
		{ huge, "t.hlog:2: the counts of 'latency' add up past 9223372036854775807" },
		{ "1e300,1.0,1.0,HISTFAAAAA==\n", "t.hlog:1: StartTimestamp and Interval_Length must be" },
		{ "#surge-interval 1e300 sent=1\n", "t.hlog:1: #surge-interval must start" },
		{ "#[StartTime: nan (seconds since epoch)]\n", "t.hlog:1: #[StartTime: expects" },
		{ "#[BaseTime: 1e300 (seconds since epoch)]\n", "t.hlog:1: #[BaseTime: expects" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct hlog l;
		char err[512] = "";
		hlog_init(&l);
		int rc = read_text(cases[i].text, &l, err, sizeof(err));
		ok(rc == -EINVAL && strncmp(err, cases[i].want, strlen(cases[i].want)) == 0,
		   "refused with '%s'", cases[i].want);
		if (rc != -EINVAL || strncmp(err, cases[i].want, strlen(cases[i].want)) != 0)
			diag("got %d '%s'", rc, err);
		hlog_free(&l);
	}
	struct hlog l;
	char err[256] = "";
	hlog_init(&l);
	ok(read_text("#surge-interval 0.000 count.x=-3\n#surge-interval 1.000 count.x=1\n", &l, err,
		     sizeof(err)) == 0 &&
		   stats_counter_by_name(&l.iv[0].s, "x") == -3 &&
		   stats_counter_by_name(&l.total, "x") == -2,
	   "surge.count() counters may count down: read, and the totals add (%s)", err);
	hlog_free(&l);
}

/* `surge report` on a log whose parameters no cast can take: exit 1 and
 * the file:line, not undefined behaviour. */
static void hostile_params(void)
{
	static const struct {
		const char *param, *want;
	} cases[] = {
		{ "connections 1e30", ":2: #surge-param connections: expected a number from 0 to 4294967295, got '1e30'" },
		{ "workers -1", ":2: #surge-param workers: expected a number from 0" },
		{ "duration_s 1e300", ":2: #surge-param duration_s: expected a number from 0 to 1000000000" },
		{ "timeout_s nan", ":2: #surge-param timeout_s" },
		{ "elapsed_s inf", ":2: #surge-param elapsed_s" },
		{ "rate_segment 0 1e30 5 5", ":2: #surge-param rate_segment: expected FROM_S TO_S" },
		{ "rate_segment 0 10 nan 5", ":2: #surge-param rate_segment" },
	};
	char path[] = "/tmp/surge-test-hlog-XXXXXX", errpath[] = "/tmp/surge-test-err-XXXXXX";
	int fd = mkstemp(path), efd = mkstemp(errpath);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		FILE *f = fopen(path, "w");
		fprintf(f, "#[StartTime: 1700000000.000 (seconds since epoch), x]\n#surge-param %s\n"
			   "#surge-interval 0.000 sent=1\n", cases[i].param);
		fclose(f);
		fflush(stderr);
		int saved = dup(2);
		ftruncate(efd, 0);
		lseek(efd, 0, SEEK_SET);
		dup2(efd, 2);
		char *argv[] = { "report", "-q", path, NULL };
		int rc = report_main(3, argv);
		fflush(stderr);
		dup2(saved, 2);
		close(saved);
		char msg[1024] = "";
		ssize_t n = pread(efd, msg, sizeof(msg) - 1, 0);
		msg[n > 0 ? n : 0] = '\0';
		char want[512];
		snprintf(want, sizeof(want), "surge report: %s%s", path, cases[i].want);
		ok(rc == 1 && strncmp(msg, want, strlen(want)) == 0, "#surge-param %s: exit 1, '%s'",
		   cases[i].param, cases[i].want);
		if (rc != 1 || strncmp(msg, want, strlen(want)) != 0)
			diag("got %d '%s'", rc, msg);
	}
	close(fd);
	close(efd);
	unlink(path);
	unlink(errpath);
}

struct taken {
	int n;
	double starts[16];
	int64_t sent[16];
	size_t most_held; /* intervals the reader held at once, at most */
	struct hlog *l;
};

static int take(void *arg, struct hlog_interval *iv)
{
	struct taken *t = arg;

	if (t->n < 16) {
		t->starts[t->n] = iv->start;
		t->sent[t->n] = iv->s.counter[ST_SENT];
	}
	t->n++;
	if (t->l->niv > t->most_held)
		t->most_held = t->l->niv;
	return 0;
}

/* `surge report` streams: logs read together hand each interval on once no
 * log can add to it, so a long log is never held whole; out of order is
 * refused with file:line. */
static void streaming(void)
{
	enum { SHARDS = 3, SECONDS = 12 };
	char *buf[SHARDS];
	size_t len[SHARDS];
	FILE *f[SHARDS];
	const char *names[SHARDS] = { "a.hlog", "b.hlog", "c.hlog" };
	struct hlog l, whole;
	char err[256] = "";

	hlog_init(&whole);
	for (int k = 0; k < SHARDS; k++) {
		FILE *w = mem(&buf[k], &len[k]);
		hlog_write_header(w, 1700000000.0 + k * 0.3, NULL, 0);
		for (int t = 0; t < SECONDS; t++) {
			struct stats s;
			stats_init(&s);
			for (int i = 0; i < 100; i++)
				hist_record(s.hist[HI_LATENCY], sample());
			s.counter[ST_SENT] = 10 * t + k;
			hlog_write_interval(w, t, 1.0, &s);
			stats_free(&s);
		}
		fclose(w);
		FILE *r = fmemopen(buf[k], len[k], "r");
		hlog_read(r, names[k], &whole, err, sizeof(err));
		fclose(r);
		f[k] = fmemopen(buf[k], len[k], "r");
	}
	hlog_init(&l);
	struct taken t = { .l = &l };
	ok(hlog_read_stream(f, names, SHARDS, &l, take, &t, err, sizeof(err)) == 0,
	   "three shards streamed: %s", err);
	is_int(t.n, SECONDS, "each second handed on once");
	bool in_order = true, sums = true;
	for (int i = 0; i < SECONDS && i < t.n; i++) {
		in_order &= fabs(t.starts[i] - i) < 1e-9;
		sums &= t.sent[i] == whole.iv[i].s.counter[ST_SENT];
	}
	ok(in_order, "in time order");
	ok(sums, "each merged over the shards, as hlog_read merges them");
	ok(t.most_held <= 2, "at most %zu intervals held at once (of %d)", t.most_held, SECONDS);
	is_int(l.niv, 0, "none kept after");
	is_int(l.nlogs, SHARDS, "every log counted");
	ok(same_hist(l.total.hist[HI_LATENCY], whole.total.hist[HI_LATENCY]) &&
		   l.total.counter[ST_SENT] == whole.total.counter[ST_SENT],
	   "the totals are those of reading them whole");
	for (int k = 0; k < SHARDS; k++) {
		fclose(f[k]);
		free(buf[k]);
	}
	hlog_free(&l);
	hlog_free(&whole);

	/* A line just behind its predecessor still joins its interval; one
	 * behind an interval already handed on cannot. */
	const char *text = "#surge-interval 0.000 sent=1\n#surge-interval 2.000 sent=1\n"
			   "#surge-interval 1.000 sent=1\n#surge-interval 3.000 sent=1\n"
			   "#surge-interval 4.000 sent=1\n#surge-interval 2.000 sent=1\n";
	FILE *in = fmemopen((void *)text, strlen(text), "r");
	hlog_init(&l);
	t = (struct taken){ .l = &l };
	ok(hlog_read_stream(&in, names, 1, &l, take, &t, err, sizeof(err)) == -EINVAL &&
		   strncmp(err, "a.hlog:6: this interval (at 2.000 s) starts before one already read",
			   67) == 0,
	   "an interval out of order: refused with file:line (%s)", err);
	ok(t.n == 4 && fabs(t.starts[1] - 1) < 1e-9 && fabs(t.starts[3] - 3) < 1e-9,
	   "...after the ones before it, the line just behind its predecessor included");
	fclose(in);
	hlog_free(&l);
}

/* Issue 7: a surge log cut between a second's histograms and its
 * "#surge-interval" line (or read while written) must not count latencies
 * of requests its counts leave out: that second is left out whole and said
 * in the log's entry; a log from another tool (no counts at all) keeps
 * every histogram. */
static void cut_logs(void)
{
	char h0[1024], h1[1024], text[4096], err[256] = "";
	struct hlog l;

	hist_line(h0, sizeof(h0), 0, 3);
	hist_line(h1, sizeof(h1), 1, 5);
	snprintf(text, sizeof(text), "#surge-param connections 5\n%s#surge-interval 0.000 sent=3 "
		 "completed=3\n%s", h0, h1);
	hlog_init(&l);
	ok(read_text(text, &l, err, sizeof(err)) == 0, "a cut log reads (%s)", err);
	ok(hist_total(l.total.hist[HI_LATENCY]) == 3 && l.total.counter[ST_COMPLETED] == 3,
	   "its latency count is its completed count: the second without counts is left out");
	ok(l.niv == 1 && l.logs[0].seconds_cut == 1 && fabs(l.logs[0].cut_at - 1) < 1e-9 &&
		   l.logs[0].cut_last,
	   "the log's entry says one second cut, at 1 s, at its end");
	hlog_free(&l);

	/* The same second missing its line mid-log: left out too, not at the end. */
	snprintf(text, sizeof(text), "#surge-param connections 5\n%s%s#surge-interval 1.000 "
		 "completed=5\n", h0, h1);
	hlog_init(&l);
	ok(read_text(text, &l, err, sizeof(err)) == 0 &&
		   hist_total(l.total.hist[HI_LATENCY]) == 5 && l.logs[0].seconds_cut == 1 &&
		   fabs(l.logs[0].cut_at) < 1e-9 && !l.logs[0].cut_last,
	   "a second without its line mid-log is left out and said, not at the end (%s)", err);
	hlog_free(&l);

	/* HdrHistogram's own logs have no counts: every histogram is kept. */
	snprintf(text, sizeof(text), "%s%s", h0, h1);
	hlog_init(&l);
	ok(read_text(text, &l, err, sizeof(err)) == 0 &&
		   hist_total(l.total.hist[HI_LATENCY]) == 8 && l.logs[0].seconds_cut == 0,
	   "a log without surge lines keeps every histogram (%s)", err);
	hlog_free(&l);

	/* Streamed with a whole log: the cut log's second 1 adds nothing, the
	 * whole log's second 1 is handed on with its own latencies only. */
	char whole[4096];
	snprintf(text, sizeof(text), "#surge-param connections 5\n%s#surge-interval 0.000 "
		 "completed=3\n%s", h0, h1);
	snprintf(whole, sizeof(whole), "#surge-param connections 5\n%s#surge-interval 0.000 "
		 "completed=3\n%s#surge-interval 1.000 completed=5\n", h0, h1);
	FILE *f[2] = { fmemopen(text, strlen(text), "r"), fmemopen(whole, strlen(whole), "r") };
	const char *names[2] = { "cut.hlog", "whole.hlog" };
	struct taken t = { .l = &l };
	hlog_init(&l);
	ok(hlog_read_stream(f, names, 2, &l, take, &t, err, sizeof(err)) == 0 && t.n == 2,
	   "a cut log and a whole one stream together (%s)", err);
	ok(hist_total(l.total.hist[HI_LATENCY]) == 3 + 3 + 5 &&
		   l.total.counter[ST_COMPLETED] == 3 + 3 + 5 && l.logs[0].seconds_cut == 1 &&
		   l.logs[1].seconds_cut == 0,
	   "merged: latencies and counts agree, the cut log's last second left out");
	fclose(f[0]);
	fclose(f[1]);
	hlog_free(&l);
}

/* A log written whole ends with "#surge-end": the reader says whether its
 * log did, how many whole seconds it held and where they end, and how many
 * seconds it dropped after the last whole one. */
static void end_line(void)
{
	char h0[1024], h1[1024], text[4096], err[256] = "";
	struct hlog l;
	char *buf;
	size_t len;
	FILE *f = mem(&buf, &len);

	ok(hlog_write_end(f, "interrupted") == 0, "the end line is written");
	fclose(f);
	ok(strcmp(buf, "#surge-end ended_by=interrupted\n") == 0, "as #surge-end ended_by=KEY");
	free(buf);

	hist_line(h0, sizeof(h0), 0, 3);
	hist_line(h1, sizeof(h1), 1, 5);
	const char *head = "#surge-param seconds 2\n";
	snprintf(text, sizeof(text), "%s%s#surge-interval 0.000 completed=3\n%s#surge-interval "
		 "1.000 completed=5\n#surge-end ended_by=duration\n", head, h0, h1);
	hlog_init(&l);
	ok(read_text(text, &l, err, sizeof(err)) == 0 && l.logs[0].ended &&
		   l.logs[0].seconds == 2 && fabs(l.logs[0].end - 2) < 1e-9 &&
		   l.logs[0].seconds_cut == 0,
	   "a whole log: ended, 2 whole seconds ending at 2 s (%s)", err);
	hlog_free(&l);

	/* Cut at a second's boundary: every line it has is whole. */
	snprintf(text, sizeof(text), "%s%s#surge-interval 0.000 completed=3\n", head, h0);
	hlog_init(&l);
	ok(read_text(text, &l, err, sizeof(err)) == 0 && !l.logs[0].ended &&
		   l.logs[0].seconds == 1 && fabs(l.logs[0].end - 1) < 1e-9 &&
		   l.logs[0].seconds_cut == 0,
	   "cut at a second's boundary: not ended, 1 second ending at 1 s (%s)", err);
	hlog_free(&l);

	/* The end line itself cut: no end. */
	snprintf(text, sizeof(text), "%s%s#surge-interval 0.000 completed=3\n#surge-en", head, h0);
	hlog_init(&l);
	ok(read_text(text, &l, err, sizeof(err)) == 0 && !l.logs[0].ended,
	   "an end line cut short is no end (%s)", err);
	hlog_free(&l);

	/* An end line with more after it (logs joined) ended nothing. */
	snprintf(text, sizeof(text), "%s%s#surge-interval 0.000 completed=3\n#surge-end\n%s"
		 "#surge-interval 1.000 completed=5\n", head, h0, h1);
	hlog_init(&l);
	ok(read_text(text, &l, err, sizeof(err)) == 0 && !l.logs[0].ended && l.logs[0].seconds == 2,
	   "an end line followed by more seconds is no end (%s)", err);
	hlog_free(&l);

	/* Seconds dropped after the last whole one are the tail; one dropped
	 * before a whole second is not. */
	snprintf(text, sizeof(text), "%s%s#surge-interval 0.000 completed=3\n%s", head, h0, h1);
	hlog_init(&l);
	ok(read_text(text, &l, err, sizeof(err)) == 0 && l.logs[0].seconds_cut == 1 &&
		   l.logs[0].cut_tail == 1 && fabs(l.logs[0].end - 1) < 1e-9,
	   "a second dropped at the end: in the tail, the whole ones end at 1 s (%s)", err);
	hlog_free(&l);
	snprintf(text, sizeof(text), "%s%s%s#surge-interval 1.000 completed=5\n", head, h0, h1);
	hlog_init(&l);
	ok(read_text(text, &l, err, sizeof(err)) == 0 && l.logs[0].seconds_cut == 1 &&
		   l.logs[0].cut_tail == 0 && l.logs[0].seconds == 1 && fabs(l.logs[0].end - 2) < 1e-9,
	   "a second dropped before a whole one: not in the tail (%s)", err);
	hlog_free(&l);

	/* Another tool's log: its histograms' intervals end it. */
	snprintf(text, sizeof(text), "%s%s", h0, h1);
	hlog_init(&l);
	ok(read_text(text, &l, err, sizeof(err)) == 0 && l.logs[0].seconds == 0 &&
		   fabs(l.logs[0].end - 2) < 1e-9 && !l.logs[0].ended,
	   "a foreign log: no surge seconds, its intervals end at 2 s (%s)", err);
	hlog_free(&l);
}

int main(void)
{
	round_trip();
	shards_merge_exactly();
	foreign_logs();
	malformed();
	hostile();
	many_destinations();
	thresholds();
	hostile_numbers();
	hostile_params();
	streaming();
	cut_logs();
	end_line();
	return tap_done();
}
