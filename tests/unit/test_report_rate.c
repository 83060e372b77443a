/* report_rate: the open model's warning when fewer requests were sent than
 * intended: only for a shortfall of 0.5% or more (a drop or two at a run's
 * edge is no bottleneck), the share cut, never rounded up to 100%, with the
 * counts; and the cause it can tell. */
#include <string.h>

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
	is_note("only 99.49% of the intended requests were sent (7462 of 7500): the client, not the "
		"server, may be the bottleneck (more connections, pipeline or workers)",
		"99.49%: warned, with the counts");
	fresh(200000, 198999);
	is_note("only 99.49% of the intended requests were sent (198999 of 200000): the client, not "
		"the server, may be the bottleneck (more connections, pipeline or workers)",
		"99.4995% is cut to 99.49%, not rounded up");
	fresh(10000, 9949);
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
	fresh(200, 0);
	o.rate_segs = NULL;
	is_note(NULL, "the closed model: no schedule, no warning");

	stats_free(&r.total);
	return tap_done();
}
