/* report_rate: the open model's warning when fewer requests were sent than
 * intended: only for a shortfall of 0.5% or more (a drop or two at a run's
 * edge is no bottleneck), the share cut, never rounded up to 100%, with the
 * counts; and the cause it can tell. */
#include <string.h>

#include "clock.h"
#include "pacer.h"
#include "report_rate.h"
#include "tap.h"

static struct run_result r;
static struct options o;
static struct rate_segment seg;
static char note[REPORT_RATE_NOTE_MAX];

static void fresh(int64_t intended, int64_t sent)
{
	stats_free(&r.total);
	memset(&r, 0, sizeof(r));
	memset(&o, 0, sizeof(o));
	stats_init(&r.total);
	o.rate_segs = &seg;
	o.nrate_segs = 1;
	r.elapsed_ns = 3ull * 1000000000;
	r.total.counter[ST_INTENDED] = intended;
	r.total.counter[ST_SENT] = sent;
	r.total.counter[ST_DROPPED] = intended - sent;
	r.total.counter[ST_DROPPED_NO_CONN] = intended - sent;
}

/* n of the dropped found every pipeline full, the rest none open. */
static void busy(int64_t n)
{
	r.total.counter[ST_DROPPED_BUSY] = n;
	r.total.counter[ST_DROPPED_NO_CONN] = r.total.counter[ST_DROPPED] - n;
}

static void is_note(const char *want, const char *name)
{
	int got = report_rate_note(&r, &o, note, sizeof(note));
	if (!ok(got == (want != NULL) && strcmp(note, want ? want : "") == 0, "%s", name))
		diag("got %d \"%s\", want \"%s\"", got, note, want ? want : "");
}

int main(void)
{
	fresh(7500, 7499);
	is_note(NULL, "7499 of 7500: no warning (it said \"only 100.0%\")");
	fresh(7500, 7463);
	is_note(NULL, "99.51%: under a shortfall of 0.5%, no warning");
	fresh(7500, 7462);
	is_note("only 99.49% of the intended requests were sent (7462 of 7500): 38 were dropped "
		"with no connection open to take them (the scenario's connections at 0, connects "
		"still in progress, connections the server closed, or ones draining to be replaced)",
		"99.49%: warned, with the counts");
	fresh(200000, 198999);
	r.total.counter[ST_DROPPED] = r.total.counter[ST_DROPPED_NO_CONN] = 0;
	is_note("only 99.49% of the intended requests were sent (198999 of 200000): the client, not "
		"the server, may be the bottleneck (more connections, pipeline or workers)",
		"99.4995% is cut to 99.49%, not rounded up");
	fresh(10000, 9949);
	r.total.counter[ST_DROPPED] = r.total.counter[ST_DROPPED_NO_CONN] = 0;
	is_note("only 99.49% of the intended requests were sent (9949 of 10000): the client, not the "
		"server, may be the bottleneck (more connections, pipeline or workers)",
		"exactly 99.49% is not cut to 99.48%");
	fresh(7500, 6875);
	r.workers_lost = 1;
	is_note("only 91.66% of the intended requests were sent (6875 of 7500): 1 worker died during "
		"the run (see its message above)", "a worker lost");
	fresh(200, 0);
	r.total.error[ERR_CONNECT_REFUSED] = 7;
	is_note("only 0.00% of the intended requests were sent (0 of 200): 7 connect or connection "
		"failures and 0 requests the protocol could not make (see the errors above)",
		"a refusing target: the failures, not the client");
	/* surge serve echo --drip answering in ~650 ms, 10 connections, -r 20:
	 * every request that found every pipeline full was dropped. Before, the
	 * client was blamed. 10 x 1 at 650 ms carry 15.4/s. */
	fresh(100, 77);
	seg.r0 = seg.r1 = 20;
	r.peak_open = 10;
	o.pipeline = 1;
	busy(23);
	hist_record_n(r.total.hist[HI_SERVICE], 650 * NS_PER_MS, 77);
	is_note("only 77.00% of the intended requests were sent (77 of 100): 23 were dropped "
		"while every open connection had its pipeline full, waiting for answers (service "
		"p50 650ms, p99 650ms, max 650ms); 10 connections x pipeline 1 at that latency "
		"(mean 650 ms) carry about 15.4 requests/s, under the 20.0/s intended: the server "
		"is slow for this rate, or more connections or pipeline would carry it",
		"pipelines full at the server's latency: said in numbers, not the client");
	/* Enough slots at the mean, but a stall filled them. */
	fresh(1000, 900);
	seg.r0 = seg.r1 = 100;
	r.peak_open = 10;
	o.pipeline = 1;
	busy(100);
	hist_record_n(r.total.hist[HI_SERVICE], NS_PER_MS, 899);
	hist_record(r.total.hist[HI_SERVICE], 1000 * NS_PER_MS);
	is_note("only 90.00% of the intended requests were sent (900 of 1000): 100 were dropped "
		"while every open connection had its pipeline full, waiting for answers (service "
		"p50 1.00ms, p99 1.00ms, max 1.00s): more connections or pipeline; the server was "
		"slow at times (its p99 and max), or the client was slow to read the answers (more "
		"workers)", "pipelines full, enough slots at the mean: a stall or a slow reader");
	/* A server that never answers. */
	fresh(100, 10);
	r.peak_open = 10;
	busy(90);
	r.total.error[ERR_REQUEST_TIMEOUT] = 10;
	is_note("only 10.00% of the intended requests were sent (10 of 100): 90 were dropped "
		"while every open connection had its pipeline full, waiting for answers that did "
		"not come (request timeout 10): the server did not answer",
		"pipelines full, nothing answered");

	/* A log from before dropped_busy and dropped_no_conn: the cause of its
	 * drops is unknown, and none is claimed. */
	fresh(7500, 6875);
	r.total.counter[ST_DROPPED_NO_CONN] = 0;
	is_note("only 91.66% of the intended requests were sent (6875 of 7500): the client, not the "
		"server, may be the bottleneck (more connections, pipeline or workers)",
		"an older log's drops: no cause claimed");

	fresh(200, 0);
	o.rate_segs = NULL;
	is_note(NULL, "the closed model: no schedule, no warning");

	stats_free(&r.total);
	return tap_done();
}
