/* report_held: connections held against connections asked. */
#include "report_held.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "surge/hist.h"

void report_held_second(struct run_result *r, const struct stats *s)
{
	int64_t open = s->gauge[GA_CONNS_PEAK] > s->gauge[GA_CONNS_OPEN] ? s->gauge[GA_CONNS_PEAK]
									  : s->gauge[GA_CONNS_OPEN];

	if (open > r->peak_open)
		r->peak_open = open;
	if (s->gauge[GA_CONNS_TARGET] > r->peak_asked)
		r->peak_asked = s->gauge[GA_CONNS_TARGET];
}

/* Appends to buf at *n what fits, as snprintf would. */
static void put(char *buf, size_t len, size_t *n, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void put(char *buf, size_t len, size_t *n, const char *fmt, ...)
{
	va_list ap;

	if (*n >= len)
		return;
	va_start(ap, fmt);
	int k = vsnprintf(buf + *n, len - *n, fmt, ap);
	va_end(ap);
	*n += k > 0 ? (size_t)k : 0;
}

static int64_t conn_count(const struct stats *s, const char *prefix, int cls)
{
	char name[STATS_NAME_MAX];

	snprintf(name, sizeof(name), "%s%s", prefix, stats_error_key(cls));
	return stats_counter_by_name(s, name);
}

/* Logs from before conn.failed.* count connect failures only in the error
 * classes; these two have no other source over TCP. */
static bool counts_conn_failed(const struct stats *s)
{
	for (size_t i = 0; i < s->nncounter; i++)
		if (strncmp(s->ncounter[i].name, STATS_CONN_FAILED,
			    sizeof(STATS_CONN_FAILED) - 1) == 0)
			return true;
	return false;
}

static int64_t failed_of(const struct stats *s, int cls, bool legacy)
{
	if (!legacy)
		return conn_count(s, STATS_CONN_FAILED, cls);
	return cls == ERR_CONNECT_REFUSED || cls == ERR_CONNECT_TIMEOUT ? s->error[cls] : 0;
}

/* "70 connects failed: other 70 (errno.EINVAL 70)": every class, and under
 * "other", which says nothing by itself, the errno counters behind it. */
static int64_t connects_failed(const struct stats *s, char *buf, size_t len, size_t *n)
{
	bool legacy = !counts_conn_failed(s);
	int64_t failed = 0;

	for (int i = 0; i < ERR__COUNT; i++)
		failed += failed_of(s, i, legacy);
	if (!failed)
		return 0;
	put(buf, len, n, "%lld connect%s failed:", (long long)failed, failed == 1 ? "" : "s");
	for (int i = 0; i < ERR__COUNT; i++) {
		int64_t k = failed_of(s, i, legacy);
		if (!k)
			continue;
		put(buf, len, n, " %s %lld", stats_error_name(i), (long long)k);
		if (i != ERR_OTHER)
			continue;
		int shown = 0;
		for (size_t j = 0; j < s->nncounter; j++) {
			int e = stats_errno_of(s->ncounter[j].name);
			if (e && stats_errno_class(e, true) == ERR_OTHER && s->ncounter[j].value)
				put(buf, len, n, "%s%s %lld", shown++ ? ", " : " (",
				    s->ncounter[j].name, (long long)s->ncounter[j].value);
		}
		if (shown)
			put(buf, len, n, ")");
	}
	return failed;
}

/* What the server did to connections once they were open: reset them, or
 * closed them, with requests in flight (unexpected close) or none (idle, or
 * right after an answer: HTTP's Connection: close counts there too). */
static const int server_ended[] = {ERR_RESET, ERR_UNEXPECTED_CLOSE};

static int64_t closed_idle(const struct stats *s)
{
	return stats_counter_by_name(s, "conn.closed_by_server") +
	       stats_counter_by_name(s, "http.closed_by_server");
}

/* "the server closed or reset 26231 of the 26231 connections opened
 * (connection reset 11915, unexpected close 12072, closed with none in flight 2244)";
 * then those surge closed on a fault of theirs (a request timeout, a
 * protocol error). Each slot reconnects after its backoff, so a server that
 * ends connections as they open keeps the pool below its target. */
static int64_t connections_lost(const struct stats *s, char *buf, size_t len, size_t *n)
{
	int64_t by_server = closed_idle(s), by_fault = 0;
	int shown = 0;

	for (size_t i = 0; i < sizeof(server_ended) / sizeof(server_ended[0]); i++)
		by_server += conn_count(s, STATS_CONN_LOST, server_ended[i]);
	for (int i = 0; i < ERR__COUNT; i++)
		by_fault += i == ERR_RESET || i == ERR_UNEXPECTED_CLOSE
				    ? 0
				    : conn_count(s, STATS_CONN_LOST, i);
	long long opened = (long long)s->counter[ST_CONN_OPENED];
	if (by_server) {
		put(buf, len, n, "%sthe server closed or reset %lld of the %lld connection%s "
		    "opened (", *n ? "; " : "", (long long)by_server, opened,
		    opened == 1 ? "" : "s");
		for (size_t i = 0; i < sizeof(server_ended) / sizeof(server_ended[0]); i++) {
			int64_t k = conn_count(s, STATS_CONN_LOST, server_ended[i]);
			if (k)
				put(buf, len, n, "%s%s %lld", shown++ ? ", " : "",
				    stats_error_name(server_ended[i]), (long long)k);
		}
		if (closed_idle(s))
			put(buf, len, n, "%sclosed with none in flight %lld", shown++ ? ", " : "",
			    (long long)closed_idle(s));
		put(buf, len, n, ")");
	}
	if (by_fault) {
		shown = 0;
		if (by_server)
			put(buf, len, n, "; surge closed %lld more on a fault (",
			    (long long)by_fault);
		else
			put(buf, len, n, "%ssurge closed %lld of the %lld connection%s opened on a "
			    "fault (", *n ? "; " : "", (long long)by_fault, opened,
			    opened == 1 ? "" : "s");
		for (int i = 0; i < ERR__COUNT; i++) {
			int64_t k = i == ERR_RESET || i == ERR_UNEXPECTED_CLOSE
					    ? 0
					    : conn_count(s, STATS_CONN_LOST, i);
			if (k)
				put(buf, len, n, "%s%s %lld", shown++ ? ", " : "",
				    stats_error_name(i), (long long)k);
		}
		put(buf, len, n, ")");
	}
	return by_server + by_fault;
}

int report_held_note(const struct run_result *r, const struct options *o, char *buf, size_t len)
{
	const struct stats *s = &r->total;
	size_t n = 0;

	buf[0] = '\0';
	if (r->peak_open >= r->peak_asked)
		return 0;
	/* Every cause there is evidence of, counted. */
	int64_t ended = connects_failed(s, buf, len, &n);
	ended += connections_lost(s, buf, len, &n);
	double need_s = o->connect_rate > 0 ? (double)r->peak_asked / o->connect_rate : 0;
	double ran_s = (double)r->elapsed_ns / 1e9;
	bool rate_short = need_s > ran_s;
	if (rate_short)
		put(buf, len, &n, "%sconnect_rate %.0f/s opens %lld in %.1f s, longer than the "
		    "%.1f s run", n ? "; " : "", o->connect_rate, (long long)r->peak_asked, need_s,
		    ran_s);
	/* Slow connects only when nothing counted explains the shortfall: a
	 * connect that failed or a connection lost leaves a slot empty at least
	 * once, fewer of them than the slots missing cannot. */
	if (rate_short || ended >= r->peak_asked - r->peak_open)
		return 1;
	if (hist_total(s->hist[HI_CONNECT]) > 0)
		put(buf, len, &n, "%sconnects were slow (connect p99 %.1f ms, max %.1f ms)",
		    n ? "; and " : "no connect failed, but ",
		    (double)hist_value_at_percentile(s->hist[HI_CONNECT], 99) / 1e6,
		    (double)hist_max(s->hist[HI_CONNECT]) / 1e6);
	else if (!n)
		put(buf, len, &n,
		    "no connection opened and no connect failed in the time the run had");
	return 1;
}
