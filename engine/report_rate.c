/* report_rate: sent against intended, and why short (report_rate.h). */
#include "report_rate.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "report.h"
#include "report_shards.h"
#include "shard.h"
#include "stats.h"

/* The schedule's highest rate (the JSON's run.rate.peak), else its mean. */
static double rate_peak(const struct run_result *r, const struct options *o)
{
	double peak = 0, scale = shard_rate_scale(o);

	for (size_t i = 0; o->rate_segs && i < o->nrate_segs; i++)
		peak = fmax(peak, fmax(o->rate_segs[i].r0, o->rate_segs[i].r1) * scale);
	if (peak > 0)
		return peak;
	return r->elapsed_ns ? (double)r->total.counter[ST_INTENDED] * 1e9 / (double)r->elapsed_ns
			     : 0;
}

/* Dropped while every open connection had its pipeline full: each slot was
 * waiting for an answer, so what limited the rate was the server's latency
 * against connections x pipeline, not the client. By Little's law the slots
 * carry at most slots / mean service time requests a second; when that is
 * under the rate asked, it says so in numbers. Service time ends at the
 * kernel's receive stamp (rxtime.h), so a client slow to read does not
 * lengthen it. */
static void pipelines_full(const struct run_result *r, const struct options *o, int64_t busy,
			   char *buf, size_t len)
{
	const struct stats *s = &r->total;
	const struct hist *h = s->hist[HI_SERVICE];
	char p50[32], p99[32], mx[32];
	int k;

	k = snprintf(buf, len, "%lld were dropped while every open connection had its pipeline "
		     "full, waiting for answers", (long long)busy);
	size_t n = k > 0 ? (size_t)k : 0;
	if (n >= len)
		return;
	if (!hist_total(h)) {
		snprintf(buf + n, len - n, " that did not come (request timeout %lld): the server "
			 "did not answer", (long long)s->error[ERR_REQUEST_TIMEOUT]);
		return;
	}
	report_fmt_ns(p50, sizeof(p50), (double)hist_value_at_percentile(h, 50));
	report_fmt_ns(p99, sizeof(p99), (double)hist_value_at_percentile(h, 99));
	report_fmt_ns(mx, sizeof(mx), (double)hist_max(h));
	k = snprintf(buf + n, len - n, " (service p50 %s, p99 %s, max %s)", p50, p99, mx);
	n += k > 0 ? (size_t)k : 0;
	if (n >= len)
		return;
	uint32_t pipeline = o->pipeline ? o->pipeline : 1;
	double mean_s = hist_mean(h) / 1e9, peak = rate_peak(r, o);
	double carry = mean_s > 0 ? (double)r->peak_open * pipeline / mean_s : INFINITY;
	if (carry < peak)
		snprintf(buf + n, len - n, "; %lld connection%s x pipeline %u at that latency "
			 "(mean %.3g ms) carry about %.1f requests/s, under the %.1f/s intended: "
			 "the server is slow for this rate, or more connections or pipeline would "
			 "carry it",
			 (long long)r->peak_open, r->peak_open == 1 ? "" : "s", pipeline,
			 mean_s * 1e3, carry, peak);
	else
		/* The slots would carry the rate at the mean: the server was
		 * slow at times, or the answers waited for the client to read
		 * them (the receive stamp is in before the read). */
		snprintf(buf + n, len - n, ": more connections or pipeline; the server was slow "
			 "at times (its p99 and max), or the client was slow to read the answers "
			 "(more workers)");
}

int report_rate_note(const struct run_result *r, const struct options *o, char *buf, size_t len)
{
	const struct stats *s = &r->total;
	int64_t intended = s->counter[ST_INTENDED];
	int64_t sent = report_shards_sent_paced(r);
	size_t n;

	buf[0] = '\0';
	if (!(o->rate_segs || r->models_mixed) || intended <= 0)
		return 0;
	double ach = (double)sent / (double)intended;
	if (!(ach < REPORT_RATE_SHORT))
		return 0;
	/* In hundredths of a percent, cut, not rounded: 99.4995% is 99.49%, never
	 * a share that was not sent (in integers: a double's product can land a
	 * hair under the exact share and cut it one lower). */
	int64_t bp = sent >= 0 && sent <= INT64_MAX / 10000 ? sent * 10000 / intended
							     : (int64_t)floor(ach * 10000);
	int k = snprintf(buf, len, "only %lld.%02lld%% of the intended requests were sent (%lld of "
			 "%lld): ", (long long)(bp / 100), (long long)(bp % 100), (long long)sent,
			 (long long)intended);
	n = k > 0 ? (size_t)k : 0;
	if (n >= len)
		return 1;
	int64_t unbuilt = stats_counter_by_name(s, "requests.unbuilt");
	int64_t conn_failed = s->error[ERR_CONNECT_REFUSED] + s->error[ERR_CONNECT_TIMEOUT] +
			      s->error[ERR_ADDR_NOT_AVAILABLE] + s->error[ERR_RESET] +
			      s->error[ERR_UNEXPECTED_CLOSE] + s->error[ERR_TLS_HANDSHAKE] +
			      s->error[ERR_TLS_VERIFY] + s->error[ERR_UDP_REFUSED] +
			      s->error[ERR_UNREACHABLE];
	int64_t busy = s->counter[ST_DROPPED_BUSY], idle = s->counter[ST_DROPPED_NO_CONN];
	/* Dropped with no cause counted: a log from before the two counters. */
	int64_t unknown = s->counter[ST_DROPPED] - busy - idle;
	if (r->workers_lost)
		snprintf(buf + n, len - n, "%u worker%s died during the run (see its message above)",
			 r->workers_lost, r->workers_lost == 1 ? "" : "s");
	else if (busy > 0 && busy >= idle + unbuilt + unknown)
		pipelines_full(r, o, busy, buf + n, len - n);
	else if (conn_failed || unbuilt)
		/* Not the client's capacity: the target refused or dropped
		 * the connections, or the protocol could not make them. */
		snprintf(buf + n, len - n, "%lld connect or connection failure%s and %lld request%s "
			 "the protocol could not make (see the errors above)", (long long)conn_failed,
			 conn_failed == 1 ? "" : "s", (long long)unbuilt, unbuilt == 1 ? "" : "s");
	else if (idle > 0 && idle >= unknown)
		snprintf(buf + n, len - n, "%lld were dropped with no connection open to take "
			 "them (the scenario's connections at 0, connects still in progress, "
			 "connections the server closed, or ones draining to be replaced)",
			 (long long)idle);
	else
		snprintf(buf + n, len - n, "the client, not the server, may be the bottleneck (more "
			 "connections, pipeline or workers)");
	return 1;
}
