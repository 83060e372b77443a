/* The lower bound for surge's echo benchmarks: the least a client can do —
 * N connections, epoll, no timing of answers, no statistics. Prints the
 * number of answers received.
 *
 * Closed model (no RATE): one 64-byte request in flight on each connection.
 * Open model (RATE req/s): request i is due at i / RATE; the client sleeps
 * (epoll_pwait2, ns precision) until the next is due plus WINDOW_US (default
 * 30, surge's batching window), then writes everything due in one write on
 * the next connection in turn — the same schedule and batching as surge's
 * pacer, without anything else. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SIZE 64

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int *fds;

static int open_model(int ep, int n, int *got, const char *req, char *buf, size_t cap, double rate,
		      double window, double start, double end)
{
	static char batch[64 * SIZE];
	struct epoll_event evs[256];
	long long answers = 0, sent = 0, total = (long long)((end - start) * rate);
	int turn = 0;

	for (int i = 0; i < SIZE * 64; i++)
		batch[i] = req[i % SIZE];
	while (now() < end + 1 && (sent < total || answers < sent)) {
		double t = now();
		long long due = (long long)((t - start) * rate);
		if (due > total)
			due = total;
		while (sent < due) {
			long long k = due - sent > 64 ? 64 : due - sent;
			if (write(fds[turn], batch, (size_t)k * SIZE) != k * SIZE)
				return 1;
			sent += k;
			turn = (turn + 1) % n;
		}
		double next = start + (double)(sent + 1) / rate + window, wait = next - now();
		struct timespec ts = {0, 0};
		if (sent < total && wait > 0) {
			ts.tv_sec = (time_t)wait;
			ts.tv_nsec = (long)((wait - (double)ts.tv_sec) * 1e9);
		} else if (sent >= total) {
			ts.tv_nsec = 100000000;
		}
		int k = epoll_pwait2(ep, evs, 256, &ts, NULL);
		for (int e = 0; e < k; e++) {
			int fd = (int)(uint32_t)evs[e].data.u64, i = (int)(evs[e].data.u64 >> 32);
			ssize_t r = read(fd, buf, cap);
			if (r <= 0)
				return 1;
			got[i] += (int)r;
			answers += got[i] / SIZE;
			got[i] %= SIZE;
		}
	}
	printf("%lld\n", answers);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 5 || argc > 7) {
		fprintf(stderr, "usage: epoll_echo HOST PORT CONNECTIONS SECONDS [RATE [WINDOW_US]]\n");
		return 2;
	}
	double rate = argc > 5 ? atof(argv[5]) : 0;
	double window = argc > 6 ? atof(argv[6]) / 1e6 : 30e-6;
	int n = atoi(argv[3]);
	double secs = atof(argv[4]);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2])) };
	inet_pton(AF_INET, argv[1], &sa.sin_addr);
	int ep = epoll_create1(0);
	int *got = calloc((size_t)n, sizeof(int));
	fds = calloc((size_t)n, sizeof(int));
	char req[SIZE], buf[4096];
	memset(req, 'x', SIZE);
	for (int i = 0; i < n; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			perror("connect");
			return 1;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = ((uint64_t)i << 32) | (uint32_t)fd };
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
		fds[i] = fd;
		if (rate == 0 && write(fd, req, SIZE) != SIZE)
			return 1;
	}
	long long answers = 0;
	double start = now(), end = start + secs;
	struct epoll_event evs[256];
	if (rate > 0)
		return open_model(ep, n, got, req, buf, sizeof(buf), rate, window, start, end);
	while (now() < end) {
		int k = epoll_wait(ep, evs, 256, 100);
		for (int e = 0; e < k; e++) {
			int fd = (int)(uint32_t)evs[e].data.u64, i = (int)(evs[e].data.u64 >> 32);
			ssize_t r = read(fd, buf, sizeof(buf));
			if (r <= 0)
				return 1;
			got[i] += (int)r;
			while (got[i] >= SIZE) {
				got[i] -= SIZE;
				answers++;
				if (write(fd, req, SIZE) != SIZE)
					return 1;
			}
		}
	}
	printf("%lld\n", answers);
	return 0;
}
