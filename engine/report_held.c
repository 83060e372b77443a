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

int report_held_note(const struct run_result *r, const struct options *o, char *buf, size_t len)
{
	const struct stats *s = &r->total;
	size_t n = 0;

	buf[0] = '\0';
	if (r->peak_open >= r->peak_asked)
		return 0;
	if (connects_failed(s, buf, len, &n) > 0)
		return 1;
	double need_s = o->connect_rate > 0 ? (double)r->peak_asked / o->connect_rate : 0;
	double ran_s = (double)r->elapsed_ns / 1e9;
	if (need_s > ran_s) {
		snprintf(buf, len, "connect_rate %.0f/s opens %lld in %.1f s, longer than the %.1f s run",
			 o->connect_rate, (long long)r->peak_asked, need_s, ran_s);
		return 1;
	}
	if (hist_total(s->hist[HI_CONNECT]) > 0) {
		snprintf(buf, len, "no connect failed, but connects were slow (connect p99 %.1f ms, "
				   "max %.1f ms)",
			 (double)hist_value_at_percentile(s->hist[HI_CONNECT], 99) / 1e6,
			 (double)hist_max(s->hist[HI_CONNECT]) / 1e6);
		return 1;
	}
	snprintf(buf, len, "no connection opened and no connect failed in the time the run had");
	return 1;
}
