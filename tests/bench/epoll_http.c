/* The lower bound for surge's HTTP benchmark: the least an HTTP/1.1 client
 * can do in wrk's closed model — N keep-alive connections, one GET in flight
 * on each, epoll (level-triggered, read interest only: a request this small
 * never waits for room), read(2) and write(2), no timing of answers, no
 * statistics, no timestamps. It frames only what nginx sends for a static
 * file (a header block and Content-Length) and reconnects when the server
 * says "Connection: close". Prints the number of answers received.
 *
 *     epoll_http HOST PORT PATH CONNECTIONS SECONDS
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CAP 65536

struct link {
	int fd;
	size_t have; /* bytes of the current answer read so far */
	char buf[CAP];
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int dial(int ep, const struct sockaddr_in *sa, struct link *l, const char *req, size_t len)
{
	int one = 1;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = l };

	l->fd = socket(AF_INET, SOCK_STREAM, 0);
	l->have = 0;
	if (l->fd < 0 || connect(l->fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0)
		return -1;
	setsockopt(l->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (epoll_ctl(ep, EPOLL_CTL_ADD, l->fd, &ev) < 0)
		return -1;
	return write(l->fd, req, len) == (ssize_t)len ? 0 : -1;
}

/* The answer's whole length once its header block is in, else 0. */
static size_t answer_len(const struct link *l, int *closing)
{
	const char *end = memmem(l->buf, l->have, "\r\n\r\n", 4);
	size_t body = 0;

	if (!end)
		return 0;
	for (const char *line = l->buf; line < end;) {
		if (!strncasecmp(line, "Content-Length:", 15))
			body = strtoul(line + 15, NULL, 10);
		else if (!strncasecmp(line, "Connection: close", 17))
			*closing = 1;
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		if (!nl)
			break;
		line = nl + 1;
	}
	return (size_t)(end - l->buf) + 4 + body;
}

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: epoll_http HOST PORT PATH CONNECTIONS SECONDS\n");
		return 2;
	}
	int n = atoi(argv[4]);
	double secs = atof(argv[5]);
	char req[1024];
	int len = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s:%s\r\n\r\n", argv[3],
			   argv[1], argv[2]);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2])) };
	struct link *links = calloc((size_t)n, sizeof(*links));
	int ep = epoll_create1(0);
	long long answers = 0;

	if (n < 1 || secs <= 0 || !links || ep < 0 || len >= (int)sizeof(req) ||
	    inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1)
		return 2;
	for (int i = 0; i < n; i++)
		if (dial(ep, &sa, &links[i], req, (size_t)len) < 0) {
			perror("connect");
			return 1;
		}
	double end = now() + secs;
	struct epoll_event evs[256];
	while (now() < end) {
		int k = epoll_wait(ep, evs, 256, 100);
		for (int i = 0; i < k; i++) {
			struct link *l = evs[i].data.ptr;
			ssize_t got = read(l->fd, l->buf + l->have, CAP - l->have);
			int closing = 0;
			size_t whole;

			if (got < 0 && errno == EAGAIN)
				continue;
			if (got == 0 && l->have == 0) { /* closed before answering: ask again */
				close(l->fd);
				if (dial(ep, &sa, l, req, (size_t)len) < 0) {
					perror("reconnect");
					return 1;
				}
				continue;
			}
			if (got <= 0) {
				fprintf(stderr, "read: %s\n", got ? strerror(errno) : "closed mid-answer");
				return 1;
			}
			l->have += (size_t)got;
			whole = answer_len(l, &closing);
			if (!whole || l->have < whole)
				continue;
			if (l->have > whole) {
				fprintf(stderr, "more than one answer\n");
				return 1;
			}
			answers++;
			l->have = 0;
			if (closing) {
				close(l->fd);
				if (dial(ep, &sa, l, req, (size_t)len) < 0) {
					perror("reconnect");
					return 1;
				}
			} else if (write(l->fd, req, (size_t)len) != len) {
				perror("write");
				return 1;
			}
		}
	}
	printf("%lld\n", answers);
	return 0;
}
