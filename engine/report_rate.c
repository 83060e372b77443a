/* report_rate: sent against intended, and why short (report_rate.h). */
#include "report_rate.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "report_shards.h"
#include "stats.h"

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
			      s->error[ERR_TLS_VERIFY] + s->error[ERR_UDP_REFUSED];
	if (r->workers_lost)
		snprintf(buf + n, len - n, "%u worker%s died during the run (see its message above)",
			 r->workers_lost, r->workers_lost == 1 ? "" : "s");
	else if (conn_failed || unbuilt)
		/* Not the client's capacity: the target refused or dropped
		 * the connections, or the protocol could not make them. */
		snprintf(buf + n, len - n, "%lld connect or connection failure%s and %lld request%s "
			 "the protocol could not make (see the errors above)", (long long)conn_failed,
			 conn_failed == 1 ? "" : "s", (long long)unbuilt, unbuilt == 1 ? "" : "s");
	else
		snprintf(buf + n, len - n, "the client, not the server, may be the bottleneck (more "
			 "connections, pipeline or workers)");
	return 1;
}
