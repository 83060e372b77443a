/* serve_udp: a real socket pair on loopback driven through one libev loop —
 * replies go back to the sender, --drop never sends (but counts), --delay
 * holds replies in order, an oversized request gets no reply. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "serve_udp.h"
#include "tap.h"

/* The protocol: the reply is "r" + the request; counter 0 counts requests. */
static size_t echo_datagram(void *config, const uint8_t *in, size_t len, uint8_t *out, size_t cap,
			    uint64_t *counters)
{
	counters[0]++;
	if (len == 0 || len + 1 > cap)
		return 0;
	out[0] = 'r';
	memcpy(out + 1, in, len);
	return len + 1;
}

static const struct serve_proto proto = { .name = "echo-udp", .on_datagram = echo_datagram };

struct rig {
	struct ev_loop *loop;
	struct serve_udp *u;
	struct serve_fault fault;
	uint64_t counters[SERVE_MAX_COUNTERS];
	int client;
};

static int rig_open(struct rig *r)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	memset(r->counters, 0, sizeof(r->counters));
	int fd = serve_udp_open((struct sockaddr *)&a, sizeof(a));
	if (fd < 0)
		return fd;
	getsockname(fd, (struct sockaddr *)&a, &len);
	r->loop = ev_loop_new(EVFLAG_AUTO);
	r->u = serve_udp_new(r->loop, fd, &proto, NULL, &r->fault, 7, r->counters);
	r->client = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	return connect(r->client, (struct sockaddr *)&a, sizeof(a));
}

static void rig_close(struct rig *r)
{
	serve_udp_free(r->u);
	ev_loop_destroy(r->loop);
	close(r->client);
}

/* Runs the loop until n replies arrived or `ms` passed; returns how many,
 * their bytes concatenated in out (each one NUL-terminated). */
static int rig_collect(struct rig *r, int n, int ms, char *out, size_t cap)
{
	uint64_t end = clock_ns() + (uint64_t)ms * 1000000ull;
	int got = 0;
	size_t off = 0;
	while (got < n && clock_ns() < end) {
		ev_run(r->loop, EVRUN_NOWAIT);
		char b[256];
		ssize_t k = recv(r->client, b, sizeof(b) - 1, 0);
		if (k < 0) {
			usleep(200);
			continue;
		}
		if (off + (size_t)k + 1 <= cap) {
			memcpy(out + off, b, (size_t)k);
			out[off + (size_t)k] = 0;
			off += (size_t)k + 1;
		}
		got++;
	}
	return got;
}

int main(void)
{
	struct rig r = { 0 };
	struct serve_udp_totals t;
	char out[4096];

	ok(rig_open(&r) == 0, "a UDP server socket on 127.0.0.1:0 and a connected client");
	send(r.client, "a", 1, 0);
	send(r.client, "bc", 2, 0);
	int got = rig_collect(&r, 2, 2000, out, sizeof(out));
	ok(got == 2 && strcmp(out, "ra") == 0 && strcmp(out + 3, "rbc") == 0,
	   "each datagram answered, to its sender, in order");
	serve_udp_totals(r.u, &t);
	ok(t.datagrams == 2 && t.replies == 2 && t.bytes_in == 3 && t.bytes_out == 5 && r.counters[0] == 2,
	   "counted: 2 requests, 2 replies, 3 bytes in, 5 out, the protocol's counter");
	static uint8_t huge[5000];
	send(r.client, huge, sizeof(huge), 0);
	send(r.client, "d", 1, 0);
	got = rig_collect(&r, 1, 2000, out, sizeof(out));
	serve_udp_totals(r.u, &t);
	ok(got == 1 && strcmp(out, "rd") == 0 && t.too_long == 1 && t.datagrams == 4,
	   "a 5000-byte request gets no reply and counts as too long");
	rig_close(&r);

	/* --drop 1: every reply made and counted, none sent. */
	memset(&r, 0, sizeof(r));
	r.fault.drop = 1.0;
	rig_open(&r);
	for (int i = 0; i < 10; i++)
		send(r.client, "x", 1, 0);
	got = rig_collect(&r, 1, 200, out, sizeof(out));
	serve_udp_totals(r.u, &t);
	ok(got == 0 && t.datagrams == 10 && t.replies == 10 && t.dropped == 10 && t.bytes_out == 0,
	   "--drop 1: 10 replies made, 10 dropped, none sent");
	rig_close(&r);

	/* --drop 0.5 over 2000 requests: about half (a binomial 5-sigma band). */
	memset(&r, 0, sizeof(r));
	r.fault.drop = 0.5;
	rig_open(&r);
	int answered = 0;
	for (int round = 0; round < 20; round++) {
		for (int i = 0; i < 100; i++)
			send(r.client, "y", 1, 0);
		/* Until every request of the round is answered or dropped. */
		for (int w = 0; w < 2000; w++) {
			answered += rig_collect(&r, 1, 1, out, sizeof(out));
			serve_udp_totals(r.u, &t);
			if (t.datagrams == (uint64_t)(round + 1) * 100 && answered + t.dropped == t.replies)
				break;
		}
	}
	serve_udp_totals(r.u, &t);
	ok(t.dropped > 888 && t.dropped < 1112 && (uint64_t)answered + t.dropped == t.replies &&
		   t.replies == 2000,
	   "--drop 0.5: %llu of 2000 dropped, the other %d answered", (unsigned long long)t.dropped,
	   answered);
	rig_close(&r);

	/* --delay 30ms: held, then sent in arrival order. */
	memset(&r, 0, sizeof(r));
	r.fault.delay_ns = 30000000ull;
	rig_open(&r);
	uint64_t t0 = clock_ns();
	send(r.client, "1", 1, 0);
	send(r.client, "2", 1, 0);
	send(r.client, "3", 1, 0);
	got = rig_collect(&r, 3, 3000, out, sizeof(out));
	uint64_t took = clock_ns() - t0;
	ok(got == 3 && strcmp(out, "r1") == 0 && strcmp(out + 3, "r2") == 0 && strcmp(out + 6, "r3") == 0,
	   "--delay: all three replies, in order");
	ok(took >= 30000000ull, "--delay 30ms: not before 30 ms (%.1f ms)", (double)took / 1e6);
	rig_close(&r);
	return tap_done();
}
