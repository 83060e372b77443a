/* report_held: the note under a pool that held fewer connections than asked
 * names what kept them from being held, counted: every connect failure of
 * every class (and the errno under "other"), never "no connect failed" while
 * some did; the connections the server closed or reset once open; and slow
 * connects only when nothing counted explains the shortfall. */
#include <errno.h>
#include <string.h>

#include "report_held.h"
#include "tap.h"

static struct run_result r;
static struct options o;
static char note[REPORT_HELD_NOTE_MAX];

static void fresh(int64_t asked, int64_t peak)
{
	stats_free(&r.total);
	memset(&r, 0, sizeof(r));
	memset(&o, 0, sizeof(o));
	stats_init(&r.total);
	r.peak_asked = asked;
	r.peak_open = peak;
	r.elapsed_ns = 10ull * 1000000000;
}

static void count(const char *name, int64_t n)
{
	int id = stats_counter_id(&r.total, name);
	r.total.ncounter[id].value += n;
}

static void is_note(const char *want, const char *name)
{
	int got = report_held_note(&r, &o, note, sizeof(note));
	if (!ok(got == (want != NULL) && strcmp(note, want ? want : "") == 0, "%s", name))
		diag("got %d \"%s\", want \"%s\"", got, note, want ? want : "");
}

int main(void)
{
	fresh(10, 10);
	is_note(NULL, "all held: no note");

	/* --bind to a link-local source: every connect EINVAL, class other. */
	fresh(10, 0);
	r.total.error[ERR_OTHER] = 70;
	count("errno.EINVAL", 70);
	count("conn.failed.other", 70);
	is_note("70 connects failed: other 70 (errno.EINVAL 70)",
		"connects failing as other are counted, with the errno behind them");

	/* Errno counters of named classes are not repeated under other. */
	fresh(10, 3);
	count("errno.ECONNREFUSED", 5);
	count("conn.failed.connect_refused", 5);
	count("errno.EPERM", 2);
	count("errno.ECONNRESET", 9);
	count("conn.failed.other", 2);
	count("conn.failed.tls_verify", 1);
	is_note("8 connects failed: connect refused 5 other 2 (errno.EPERM 2) tls verify 1",
		"every class counted, only other's errnos named");

	/* A log from before conn.failed.*: the classes only a connect has. */
	fresh(10, 0);
	r.total.error[ERR_CONNECT_REFUSED] = 4;
	is_note("4 connects failed: connect refused 4",
		"an older log: refused connects still counted");

	/* surge serve echo --close-on-accept: every connection opened, and the
	 * server ended each at once; no connect failed, and connects were
	 * fast. Before, the note blamed them ("connects were slow"). */
	fresh(200, 162);
	r.total.counter[ST_CONN_OPENED] = 26231;
	hist_record(r.total.hist[HI_CONNECT], 4600000);
	count("conn.lost.reset", 11915);
	count("conn.lost.unexpected_close", 12072);
	count("conn.closed_by_server", 2244);
	is_note("the server closed or reset 26231 of the 26231 connections opened (connection "
		"reset 11915, unexpected close 12072, closed with none in flight 2244)",
		"connections the server ended are named and counted, not slow connects");
	count("conn.lost.request_timeout", 3);
	is_note("the server closed or reset 26231 of the 26231 connections opened (connection "
		"reset 11915, unexpected close 12072, closed with none in flight 2244); surge closed 3 more "
		"on a fault (request timeout 3)",
		"and those surge closed on a fault");

	/* A connect failure does not explain 5000 empty slots: slow connects
	 * are named beside it. */
	fresh(25000, 20000);
	r.total.counter[ST_CONN_OPENED] = 20000;
	hist_record(r.total.hist[HI_CONNECT], 1000000000);
	count("conn.failed.connect_timeout", 1);
	is_note("1 connect failed: connect timeout 1; and connects were slow (connect p99 "
		"1000.3 ms, max 1000.3 ms)",
		"too few failures for the shortfall: slow connects too");
	count("conn.failed.connect_timeout", 5000);
	is_note("5001 connects failed: connect timeout 5001",
		"enough failures for the shortfall: connects not blamed");

	/* Nothing failed: the connect rate, then slow connects, then nothing. */
	fresh(300, 100);
	o.connect_rate = 50;
	r.elapsed_ns = 2ull * 1000000000;
	is_note("connect_rate 50/s opens 300 in 6.0 s, longer than the 2.0 s run",
		"connect_rate too slow for the run");
	fresh(10, 9);
	hist_record(r.total.hist[HI_CONNECT], 4600000);
	is_note("no connect failed, but connects were slow (connect p99 4.6 ms, max 4.6 ms)",
		"nothing failed or lost: connects were slow");
	fresh(10, 0);
	is_note("no connection opened and no connect failed in the time the run had",
		"nothing opened, nothing failed");

	stats_free(&r.total);
	return tap_done();
}
