/* report_held: connections held against connections asked. */
#include "report_held.h"

#include <stdio.h>

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

/* A connection refused at its TLS handshake was never held either. */
static const enum stat_error connect_errors[] = {
	ERR_CONNECT_REFUSED, ERR_CONNECT_TIMEOUT, ERR_ADDR_NOT_AVAILABLE, ERR_TLS_HANDSHAKE,
	ERR_TLS_VERIFY,
};

int report_held_note(const struct run_result *r, const struct options *o, char *buf, size_t len)
{
	const struct stats *s = &r->total;
	int64_t failed = 0;
	size_t n;

	buf[0] = '\0';
	if (r->peak_open >= r->peak_asked)
		return 0;
	for (size_t i = 0; i < sizeof(connect_errors) / sizeof(connect_errors[0]); i++)
		failed += s->error[connect_errors[i]];
	if (failed > 0) {
		n = (size_t)snprintf(buf, len, "%lld connect%s failed:", (long long)failed,
				     failed == 1 ? "" : "s");
		for (size_t i = 0; i < sizeof(connect_errors) / sizeof(connect_errors[0]) && n < len; i++) {
			int64_t k = s->error[connect_errors[i]];
			if (k)
				n += (size_t)snprintf(buf + n, len - n, " %s %lld",
						      stats_error_name(connect_errors[i]), (long long)k);
		}
		return 1;
	}
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
