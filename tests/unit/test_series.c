/* series: an hour of seconds with full histograms keeps a few KiB in memory
 * (the rest is spooled), reads back as the reports show each second, and
 * writes the same interval log lines hlog_write_interval writes; without a
 * place for its file it keeps going in memory. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hlog.h"
#include "rng.h"
#include "series.h"
#include "tap.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

/* A second of a busy run: every core histogram spread over its range (the
 * worst case for an encoded form), counters, gauges, a named metric. */
static void fill(struct stats *s, int second)
{
	stats_reset(s);
	for (int h = 0; h < HI__COUNT; h++)
		for (int i = 0; i < 2000; i++)
			hist_record(s->hist[h], (int64_t)pow(10, 3 + (double)(splitmix64(&rng_state) % 1000000) / 1e6 * 7));
	hist_record(s->nhist[0].h, 1000000 + second);
	s->counter[ST_COMPLETED] = 2000 + second;
	s->counter[ST_SENT] = 2001 + second;
	s->error[ERR_RESET] = second % 3;
	s->error[ERR_REQUEST_TIMEOUT] = 1;
	s->gauge[GA_CONNS_OPEN] = 100 + second;
}

static bool point_is(const struct series_point *p, const struct stats *s)
{
	for (int h = 0; h < HI__COUNT; h++) {
		const struct series_hist *sh = &p->hist[h];
		if (sh->count != hist_total(s->hist[h]) ||
		    sh->p50 != hist_value_at_percentile(s->hist[h], 50) ||
		    sh->p90 != hist_value_at_percentile(s->hist[h], 90) ||
		    sh->p99 != hist_value_at_percentile(s->hist[h], 99) || sh->max != hist_max(s->hist[h]))
			return false;
	}
	return memcmp(p->counter, s->counter, sizeof(p->counter)) == 0 &&
	       memcmp(p->error, s->error, sizeof(p->error)) == 0 &&
	       memcmp(p->gauge, s->gauge, sizeof(p->gauge)) == 0;
}

/* seconds of fill() through a series, compared with hlog_write_interval. */
static void run(const char *what, int seconds, size_t mem_max)
{
	struct series *sr;
	struct stats s;
	char *want = NULL, *got = NULL;
	size_t wantlen = 0, gotlen = 0;
	FILE *direct = open_memstream(&want, &wantlen);
	bool lines_match = true, points_match = true;
	int failed = 0;

	is_int(series_new(true, &sr), 0, "series_new");
	stats_init(&s);
	stats_hist_id(&s, "rtsp.first_frame");
	size_t mem_at_10 = 0;
	for (int i = 0; i < seconds; i++) {
		const char *lines;
		size_t len;
		fill(&s, i);
		failed += series_append(sr, &s, &lines, &len) != 0;
		hlog_write_interval(direct, i, 1.0, &s);
		fflush(direct);
		lines_match &= len <= wantlen && memcmp(lines, want + wantlen - len, len) == 0;
		if (i == 10)
			mem_at_10 = series_mem_bytes(sr);
	}
	fclose(direct);
	is_int(failed, 0, "every second appended");
	is_int(series_len(sr), seconds, "series_len counts them");
	ok(lines_match, "%s: each second's lines are hlog_write_interval's", what);
	size_t mem = series_mem_bytes(sr);
	ok(mem <= mem_max, "%s: %d seconds of full histograms keep %zu bytes in memory (at most %zu; "
	   "%zu after 10 s)", what, seconds, mem, mem_max, mem_at_10);

	/* Points: the same seconds again, from the same random numbers. */
	struct series_point p;
	rng_state = 0x9e3779b97f4a7c15ull;
	for (int i = 0; i < seconds; i++) {
		fill(&s, i);
		points_match &= series_get(sr, (size_t)i, &p) == 0 && point_is(&p, &s);
	}
	ok(points_match, "%s: every second reads back as counted and its percentiles", what);
	is_int(series_get(sr, (size_t)seconds, &p), -ERANGE, "past the end: -ERANGE");

	FILE *out = open_memstream(&got, &gotlen);
	is_int(series_write_hlog(sr, out), 0, "series_write_hlog");
	fclose(out);
	ok(gotlen == wantlen && memcmp(got, want, wantlen) == 0,
	   "%s: the interval log is byte for byte what hlog_write_interval writes (%zu bytes)", what,
	   wantlen);
	free(got);
	free(want);
	stats_free(&s);
	series_free(sr);
}

int main(void)
{
	/* An hour: a point is ~350 bytes and a second's lines ~10 KiB, so
	 * anything kept in memory per second would show (~40 MB). */
	rng_state = 0x9e3779b97f4a7c15ull;
	run("spooled to a file", 1200, 64 * 1024);

	/* No temporary directory: the same, in memory. */
	setenv("TMPDIR", "/nonexistent/surge-test", 1);
	rng_state = 0x9e3779b97f4a7c15ull;
	run("in memory", 60, 64 * 1024 * 1024);

	struct series *sr;
	series_new(false, &sr);
	struct stats s;
	stats_init(&s);
	const char *lines = "x";
	size_t len = 1;
	is_int(series_append(sr, &s, &lines, &len), 0, "a series without the log");
	ok(lines == NULL && len == 0, "...makes no lines");
	FILE *devnull = fopen("/dev/null", "w");
	is_int(series_write_hlog(sr, devnull), -EINVAL, "...and has none to write");
	fclose(devnull);
	is_int(series_write_hlog(NULL, stdout), 0, "a NULL series writes nothing");
	stats_free(&s);
	series_free(sr);
	series_free(NULL);
	return tap_done();
}
