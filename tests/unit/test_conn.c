/* A slot's next connection starts with none of the last one's write state:
 * one reset while its output was queued (EV_WRITE armed, `writing`) must not
 * leave the new connection unable to send. Before conn_open cleared it, a
 * request queued while corked (as dispatch queues them) was never written:
 * conn_uncork waited for a watcher the close had stopped.
 *
 * A request's timeout counts from when it was written, not from when it was
 * queued: a worker stopped between the two (SIGSTOP, a loaded machine's
 * scheduler) must not turn an answer that came at once into a timeout
 * (t_stall over TLS once saw one). One that really comes late still is. */
#include <arpa/inet.h>
#include <ev.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "conn.h"
#include "deadline.h"
#include "options.h"
#include "rxtime.h"
#include "tap.h"
#include "worker.h"

/* Turns w's loop until c reaches state (or 2 s pass). */
static int run_until(struct worker *w, struct conn *c, int state)
{
	for (int i = 0; i < 200 && c->state != state; i++) {
		ev_run(w->loop, EVRUN_NOWAIT);
		if (c->state != state)
			poll(NULL, 0, 10);
	}
	return c->state == state;
}

static int accept_one(int lfd)
{
	struct pollfd p = {.fd = lfd, .events = POLLIN};

	if (poll(&p, 1, 2000) != 1)
		return -1;
	return accept(lfd, NULL, NULL);
}

int main(void)
{
	struct options o;
	struct worker w;
	struct conn c;
	struct dest d;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	static uint8_t chunk[65536];
	const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	char got[sizeof(req)] = "";

	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, len) < 0 || listen(lfd, 4) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &len) < 0) {
		diag("no loopback listener");
		return 1;
	}
	memset(&o, 0, sizeof(o));
	memset(&w, 0, sizeof(w));
	memset(&c, 0, sizeof(c));
	memset(&d, 0, sizeof(d));
	memcpy(&d.addr, &sa, sizeof(sa));
	d.addrlen = sizeof(sa);
	d.id_conns = d.id_failed = d.id_latency = -1;
	w.opt = &o;
	w.loop = ev_loop_new(EVFLAG_AUTO);
	ev_set_userdata(w.loop, &w);
	if (stats_init(&w.stats) < 0)
		return 1;
	w.dests.d = &d;
	w.dests.n = 1;
	w.conns = &c;
	w.nconns = 1;
	w.holding = true; /* connections open, nothing is dispatched */
	conn_list_init(&w.connects);
	conn_list_init(&w.ready);
	conn_list_init(&w.free);
	c.prev = c.next = CONN_LIST_NONE;
	inflight_list_init(&c.fl);

	ok(conn_open(&w, &c) == 0 && run_until(&w, &c, CONN_OPEN), "the first connection opens");
	int s1 = accept_one(lfd);
	/* The server reads nothing: the output queues until the kernel refuses. */
	for (int i = 0; i < 1000 && !c.writing && c.state == CONN_OPEN; i++)
		conn_write(&w, &c, chunk, sizeof(chunk));
	ok(c.writing && c.wbuf.len > 0, "a peer that does not read leaves output queued, EV_WRITE armed");
	/* Then it resets: the pending write fails and the connection closes. */
	struct linger lg = {1, 0};
	setsockopt(s1, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(s1);
	ok(run_until(&w, &c, CONN_CLOSED), "the reset closes it mid-write");
	is_int(w.stats.error[ERR_RESET], 1, "counted once, as reset");

	ok(conn_open(&w, &c) == 0 && run_until(&w, &c, CONN_OPEN), "the slot connects again");
	int s2 = accept_one(lfd);
	ok(!c.writing && !c.corked && !c.salvaging && !c.eof && c.wbuf.len == 0,
	   "the new connection carries none of the old one's write state");
	/* As dispatch sends: queued while corked, one write on uncork. */
	c.corked = 1;
	conn_write(&w, &c, (const uint8_t *)req, sizeof(req) - 1);
	conn_uncork(&w, &c);
	struct pollfd p = {.fd = s2, .events = POLLIN};
	ssize_t n = poll(&p, 1, 2000) == 1 ? recv(s2, got, sizeof(got) - 1, MSG_WAITALL) : -1;
	ok(n == (ssize_t)sizeof(req) - 1 && memcmp(got, req, sizeof(req) - 1) == 0,
	   "a request queued on it reaches the server");
	is_int(c.wbuf.len, 0, "nothing is left queued");

	conn_close(&w, &c, -1);
	close(s2);

	static uint8_t scratch[WORKER_SCRATCH];
	uint8_t ping[4] = "ping";
	const uint64_t limit = 200 * NS_PER_MS;
	o.const_request = ping;
	o.const_request_len = sizeof(ping);
	o.request_timeout_ns = limit;
	o.pipeline = 1;
	o.max_message = 64;
	w.scratch = scratch;
	w.churn.id_first = w.churn.id_recycled = -1;
	inflight_pool_init(&w.fl);
	if (deadline_init(&w) < 0 || rxtime_clock_open(&w.rxclock) < 0)
		return 1;
	ok(conn_open(&w, &c) == 0 && run_until(&w, &c, CONN_OPEN), "a third connection opens");
	int s3 = accept_one(lfd);
	struct pollfd answer = {.fd = c.io.fd, .events = POLLIN};

	/* Queued as dispatch queues it, written only after a stall longer
	 * than the timeout, answered at once; the expiry comes after it. */
	c.corked = 1;
	conn_send_request(&w, &c, 0);
	poll(NULL, 0, 300);
	conn_uncork(&w, &c);
	n = recv(s3, got, sizeof(ping), MSG_WAITALL);
	ok(n == sizeof(ping) && send(s3, "pong", 4, 0) == 4 && poll(&answer, 1, 2000) == 1,
	   "the server has the request only after the stall, and answers at once");
	conn_read_arrived(&w, &c, limit, clock_ns());
	for (int i = 0; i < 100 && c.inflight && c.state == CONN_OPEN; i++)
		ev_run(w.loop, EVRUN_NOWAIT);
	is_int(w.stats.error[ERR_REQUEST_TIMEOUT], 0,
	       "no timeout: it counts from the write, not from the queueing");
	is_int(w.stats.counter[ST_COMPLETED], 1, "the answer completes it");

	/* Written at once, answered after more than the timeout. */
	conn_send_request(&w, &c, 0);
	n = recv(s3, got, sizeof(ping), MSG_WAITALL);
	poll(NULL, 0, 300);
	ok(n == sizeof(ping) && send(s3, "pong", 4, 0) == 4 && poll(&answer, 1, 2000) == 1,
	   "the server answers the next one late");
	conn_read_arrived(&w, &c, limit, clock_ns());
	is_int(w.stats.error[ERR_REQUEST_TIMEOUT], 1, "a late answer is still a timeout");
	is_int(w.stats.counter[ST_COMPLETED], 1, "and completes nothing");

	conn_close(&w, &c, -1);
	close(s3);

	/* UDP: queued while corked, sent by one sendmmsg after the stall: its
	 * sent is the sendmmsg's time. */
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in ua = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t ulen = sizeof(ua);
	if (u < 0 || bind(u, (struct sockaddr *)&ua, ulen) < 0 ||
	    getsockname(u, (struct sockaddr *)&ua, &ulen) < 0)
		return 1;
	memcpy(&d.addr, &ua, sizeof(ua));
	o.transport = TRANSPORT_UDP;
	ok(conn_open(&w, &c) == 0 && run_until(&w, &c, CONN_OPEN), "a UDP socket opens");
	/* Open model (a schedule's intended times): the send lag ends at the
	 * write as well, once, whether the write comes at once or later. */
	struct rate_segment seg = {0};
	o.rate_segs = &seg;
	o.nrate_segs = 1;
	const struct hist *lag = w.stats.hist[HI_SEND_LAG];
	c.corked = 1;
	uint64_t intended = clock_ns();
	conn_send_request(&w, &c, intended);
	uint64_t queued = c.fl.first != INFLIGHT_NONE ? w.fl.e[c.fl.first].sent : 0;
	is_int(hist_total(lag), 0, "UDP: queued, no send lag yet");
	poll(NULL, 0, 300);
	uint64_t before = clock_ns();
	conn_uncork(&w, &c);
	n = recv(u, got, sizeof(got), 0);
	ok(n == sizeof(ping) && c.fl.first != INFLIGHT_NONE && queued &&
		   w.fl.e[c.fl.first].sent >= before,
	   "UDP: sent when the stalled sendmmsg went, %.0f ms after the queueing",
	   c.fl.first != INFLIGHT_NONE ? (double)(w.fl.e[c.fl.first].sent - queued) / 1e6 : -1);
	ok(hist_total(lag) == 1 && hist_max(lag) >= 300 * (int64_t)NS_PER_MS,
	   "UDP: its send lag runs to the sendmmsg (%.0f ms), counted once",
	   (double)hist_max(lag) / 1e6);
	conn_send_request(&w, &c, clock_ns());
	ok(hist_total(lag) == 2 && recv(u, got, sizeof(got), 0) == sizeof(ping),
	   "UDP: one written at once has its send lag counted at once, once");
	o.rate_segs = NULL;
	o.nrate_segs = 0;
	conn_close(&w, &c, -1);
	close(u);
	deadline_stop(&w);
	rxtime_clock_close(&w.rxclock);
	inflight_pool_free(&w.fl);
	close(lfd);
	stats_free(&w.stats);
	ev_loop_destroy(w.loop);
	return tap_done();
}
