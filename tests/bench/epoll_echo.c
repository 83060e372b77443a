/* The lower bound for surge's echo benchmark: the least a client can do —
 * N connections, one 64-byte request in flight each, epoll, no timing, no
 * statistics. Prints the number of answers received. */
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

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: epoll_echo HOST PORT CONNECTIONS SECONDS\n");
		return 2;
	}
	int n = atoi(argv[3]);
	double secs = atof(argv[4]);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2])) };
	inet_pton(AF_INET, argv[1], &sa.sin_addr);
	int ep = epoll_create1(0);
	int *got = calloc((size_t)n, sizeof(int));
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
		if (write(fd, req, SIZE) != SIZE)
			return 1;
	}
	long long answers = 0;
	double end = now() + secs;
	struct epoll_event evs[256];
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
