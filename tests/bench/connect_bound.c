/* The lower bound for opening many loopback connections on this machine:
 * what the kernel's work for them costs with nothing else around it. No
 * epoll, no timing, no statistics: blocking connect() from SOURCES source
 * addresses (127.0.11.1 up), each connection from a port of its own named
 * in bind() as surge's pick = "permutation" does (leaving the port to the
 * kernel costs a search of the source's ports that grows as they fill: at
 * a million it was slower than surge), and blocking accept() on the other
 * side, each process holding what it opened or accepted until killed.
 *
 *   connect_bound N PROCS SOURCES
 *
 * forks PROCS acceptors on one listening socket and PROCS connectors that
 * open N connections between them as fast as they can, then prints
 * "opened N in S s: R/s" and exits (closing everything). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Accepts and holds until killed. */
static void acceptor(int lfd)
{
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0 && errno != EINTR && errno != ECONNABORTED) {
			if (errno == EMFILE)
				pause(); /* full: the others take the rest */
		}
	}
}

/* Opens connections first .. first+n-1 of the run (connection g from
 * source g % sources, port 10000 + g / sources); 0 when all are open. */
static int connector(int port, long first, long n, int sources)
{
	struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
	int one = 1;
	for (long g = first; g < first + n; g++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0) {
			perror("socket");
			return 1;
		}
		struct sockaddr_in src = {.sin_family = AF_INET,
					  .sin_port = htons((uint16_t)(10000 + g / sources))};
		src.sin_addr.s_addr = htonl((127u << 24) | (11u << 16) | (uint32_t)(1 + g % sources));
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0 ||
		    connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0) {
			perror("connect");
			return 1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: connect_bound N PROCS SOURCES\n");
		return 2;
	}
	long n = atol(argv[1]);
	int procs = atoi(argv[2]), sources = atoi(argv[3]);
	if (n <= 0 || procs <= 0 || sources <= 0 || sources > 254)
		return 2;
	raise_nofile();
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 65535) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &alen) < 0) {
		perror("listen");
		return 1;
	}
	int port = ntohs(a.sin_port);
	pid_t *acc = calloc((size_t)procs, sizeof(*acc)), *con = calloc((size_t)procs, sizeof(*con));
	for (int i = 0; i < procs; i++)
		if ((acc[i] = fork()) == 0)
			acceptor(lfd);
	/* Each connector says on the pipe when its share is open (1) or failed
	 * (0), and holds its connections until killed: all N are open at once
	 * when the last says so, as in surge's run. */
	int done[2];
	if (pipe(done) < 0)
		return 1;
	double t0 = now();
	if (10000 + n / sources > 65535) {
		fprintf(stderr, "connect_bound: %ld connections need more than %d sources\n", n, sources);
		return 2;
	}
	long first = 0;
	for (int i = 0; i < procs; i++) {
		long share = n / procs + (i < n % procs ? 1 : 0);
		if ((con[i] = fork()) == 0) {
			char ok = connector(port, first, share, sources) == 0;
			if (write(done[1], &ok, 1) != 1)
				_exit(1);
			pause();
			_exit(0);
		}
		first += share;
	}
	int failed = 0;
	for (int i = 0; i < procs; i++) {
		char ok = 0;
		if (read(done[0], &ok, 1) != 1)
			ok = 0;
		failed |= !ok;
	}
	double took = now() - t0;
	for (int i = 0; i < procs; i++) {
		kill(con[i], SIGKILL);
		kill(acc[i], SIGKILL);
	}
	for (int i = 0; i < procs; i++) {
		waitpid(con[i], NULL, 0);
		waitpid(acc[i], NULL, 0);
	}
	if (failed) {
		fprintf(stderr, "connect_bound: a connector failed\n");
		return 1;
	}
	printf("opened %ld in %.1f s: %.0f/s\n", n, took, (double)n / took);
	return 0;
}
