/* rxtime: a read that comes late still reports when the bytes arrived, over
 * loopback TCP and UDP; without the option, no time is made up. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "rxtime.h"
#include "tap.h"

#define WAIT_NS (30 * NS_PER_MS)

/* What a worker keeps: the difference of the clocks, taken once. */
static struct rxtime_clock clk;

static void pause_ns(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / NS_PER_SEC), (long)(ns % NS_PER_SEC) };
	nanosleep(&ts, NULL);
}

/* A connected pair of sockets of type over loopback: fds[0] sends to fds[1]. */
static int pair(int type, int fds[2])
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int l = socket(AF_INET, type, 0);

	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(l, (struct sockaddr *)&a, &len) < 0)
		return -1;
	fds[0] = socket(AF_INET, type, 0);
	if (type == SOCK_STREAM) {
		if (listen(l, 1) < 0 || connect(fds[0], (struct sockaddr *)&a, len) < 0)
			return -1;
		fds[1] = accept(l, NULL, NULL);
		close(l);
	} else {
		if (connect(fds[0], (struct sockaddr *)&a, len) < 0)
			return -1;
		fds[1] = l;
	}
	return fds[1] < 0 ? -1 : 0;
}

static void late_read(int type, const char *what)
{
	int fds[2];
	char buf[64];
	uint64_t at = 1;

	if (!ok(pair(type, fds) == 0, "%s: loopback pair", what))
		return;
	ok(rxtime_enable(fds[1]) == 0, "%s: the kernel stamps what arrives", what);
	uint64_t before = clock_ns();
	ok(write(fds[0], "answer", 6) == 6, "%s: sent", what);
	pause_ns(WAIT_NS);
	ssize_t n = rxtime_read(&clk, fds[1], buf, sizeof(buf), &at);
	uint64_t after = clock_ns();
	ok(n == 6 && memcmp(buf, "answer", 6) == 0, "%s: read back", what);
	ok(at >= before && at < before + WAIT_NS / 2, "%s: read 30 ms late, stamped on arrival", what);
	if (at < before || at >= before + WAIT_NS / 2)
		diag("stamp %lld ns after the send, read %llu ns after it", (long long)(at - before),
		     (unsigned long long)(after - before));
	close(fds[0]);
	close(fds[1]);
}

/* MSG_PEEK tells when the next datagram came and leaves it queued: the
 * read that follows returns it with the same stamp. */
static void peek_then_read(void)
{
	int fds[2];
	char buf[64];
	uint64_t peeked = 0, at = 0;

	if (!ok(pair(SOCK_DGRAM, fds) == 0, "peek: loopback pair"))
		return;
	rxtime_enable(fds[1]);
	uint64_t before = clock_ns();
	ok(write(fds[0], "first", 5) == 5 && write(fds[0], "second", 6) == 6, "peek: two sent");
	pause_ns(WAIT_NS);
	ok(rxtime_recv(&clk, fds[1], buf, 1, MSG_PEEK | MSG_DONTWAIT, &peeked) == 1 && buf[0] == 'f',
	   "peek: sees the first datagram's first byte");
	ok(peeked >= before && peeked < before + WAIT_NS / 2, "peek: stamped on arrival");
	ssize_t n = rxtime_read(&clk, fds[1], buf, sizeof(buf), &at);
	ok(n == 5 && memcmp(buf, "first", 5) == 0 && at == peeked,
	   "peek: the first datagram is still there, whole, with the same stamp (%lld ns apart)",
	   (long long)(at - peeked));
	n = rxtime_read(&clk, fds[1], buf, sizeof(buf), &at);
	ok(n == 6 && memcmp(buf, "second", 6) == 0, "peek: then the second");
	ok(rxtime_recv(&clk, fds[1], buf, 1, MSG_PEEK | MSG_DONTWAIT, &at) < 0 && errno == EAGAIN,
	   "peek: an empty socket says EAGAIN");
	close(fds[0]);
	close(fds[1]);
}

/* A peek takes a UDP socket's pending error (ICMP port unreachable) as a
 * read does, so whoever peeks must count it: the read after finds nothing.
 * The closed port is tried afresh a few times: a test running beside this
 * one with thousands of UDP sockets may bind it in between, and then the
 * datagram is delivered, not refused. */
static void peek_takes_error(void)
{
	char b;
	uint64_t at;
	int fd = -1, tries = 0;
	bool refused = false;

	while (!refused && tries++ < 10) {
		struct sockaddr_in a = { .sin_family = AF_INET,
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t len = sizeof(a);
		int closed = socket(AF_INET, SOCK_DGRAM, 0);
		fd = socket(AF_INET, SOCK_DGRAM, 0);
		if (closed < 0 || fd < 0 || bind(closed, (struct sockaddr *)&a, sizeof(a)) < 0 ||
		    getsockname(closed, (struct sockaddr *)&a, &len) < 0) {
			close(closed);
			close(fd);
			break;
		}
		close(closed); /* nothing listens there now */
		if (connect(fd, (struct sockaddr *)&a, len) < 0 || write(fd, "q", 1) != 1) {
			close(fd);
			break;
		}
		pause_ns(20 * NS_PER_MS);
		refused = rxtime_recv(&clk, fd, &b, 1, MSG_PEEK | MSG_DONTWAIT, &at) < 0 &&
			  errno == ECONNREFUSED;
		if (!refused)
			close(fd);
	}
	if (!ok(refused, "peek error: the peek returns ECONNREFUSED (try %d)", tries))
		return;
	ok(rxtime_recv(&clk, fd, &b, 1, MSG_DONTWAIT, &at) < 0 && errno == EAGAIN,
	   "peek error: and takes it: the read after says EAGAIN");
	close(fd);
}

static int64_t offset_now(void)
{
	struct timespec mono, real;
	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_REALTIME, &real);
	return ((int64_t)mono.tv_sec - real.tv_sec) * (int64_t)NS_PER_SEC + mono.tv_nsec - real.tv_nsec;
}

/* The difference is taken at open, kept while the clock is not set, and
 * taken again once it is. Setting the real-time clock to what it reads (a
 * step back of the microsecond between the read and the setting) is the one
 * way to see that; it needs root, and is skipped without it. */
static void clock_setting(void)
{
	int64_t d = clk.mono_minus_real - offset_now();
	ok(d > -(int64_t)NS_PER_MS && d < (int64_t)NS_PER_MS,
	   "clock: the difference is the clocks' (%lld ns off)", (long long)d);
	int64_t kept = clk.mono_minus_real;
	rxtime_clock_reset(&clk);
	ok(clk.mono_minus_real == kept, "clock: nothing set, nothing taken again");

	struct timespec real;
	clock_gettime(CLOCK_REALTIME, &real);
	clk.mono_minus_real = 0; /* only a retake can put it right */
	if (clock_settime(CLOCK_REALTIME, &real) < 0) {
		ok(errno == EPERM, "clock: setting the clock is refused only for want of root");
		clk.mono_minus_real = kept;
		return;
	}
	struct pollfd p = { clk.fd, POLLIN, 0 };
	ok(poll(&p, 1, 1000) == 1, "clock: the setting makes the timerfd readable");
	rxtime_clock_reset(&clk);
	d = clk.mono_minus_real - offset_now();
	ok(d > -(int64_t)NS_PER_MS && d < (int64_t)NS_PER_MS,
	   "clock: taken again after the setting (%lld ns off)", (long long)d);
	ok(poll(&p, 1, 0) == 0, "clock: and armed again, quiet until the next setting");
}

int main(void)
{
	if (!ok(rxtime_clock_open(&clk) == 0 && clk.fd >= 0, "clock: a timerfd watches for settings"))
		return tap_done();
	struct pollfd quiet = { clk.fd, POLLIN, 0 };
	ok(poll(&quiet, 1, 0) == 0, "clock: quiet while the clock is not set (its time is 2262's)");
	/* The kernel turns stamping on for the whole machine a moment after the
	 * first socket asks (a deferred switch); until then it stamps what is
	 * read at the read. A socket that asks first, kept open, and a pause
	 * make the checks below about surge, not about that moment. */
	int keeper = socket(AF_INET, SOCK_DGRAM, 0);
	ok(keeper >= 0 && rxtime_enable(keeper) == 0, "stamping asked for by a first socket");
	pause_ns(50 * NS_PER_MS);

	late_read(SOCK_STREAM, "TCP");
	late_read(SOCK_DGRAM, "UDP");
	peek_then_read();
	peek_takes_error();
	clock_setting();

	int fds[2];
	char buf[8];
	uint64_t at = 1;
	if (ok(pair(SOCK_STREAM, fds) == 0, "without the option: pair")) {
		ok(write(fds[0], "x", 1) == 1, "without the option: sent");
		ok(rxtime_read(&clk, fds[1], buf, sizeof(buf), &at) == 1 && at == 0,
		   "without the option: no time is made up (0)");
		close(fds[0]);
		close(fds[1]);
	}
	ok(rxtime_enable(-1) < 0, "a bad descriptor is an error, not a crash");
	close(keeper);
	rxtime_clock_close(&clk);
	ok(clk.fd == -1, "clock: closed");
	return tap_done();
}
