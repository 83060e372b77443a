/* rxtime: the kernel's receive time of what a read returns. */
#include "rxtime.h"

#include <errno.h>

#include "clock.h"

int rxtime_enable(int fd)
{
	int one = 1;

	return setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) < 0 ? -errno : 0;
}

static int64_t ts_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * (int64_t)NS_PER_SEC + ts->tv_nsec;
}

int64_t rxtime_offset(void)
{
	struct timespec mono, real;

	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_REALTIME, &real);
	return ts_ns(&mono) - ts_ns(&real);
}

uint64_t rxtime_of(const struct msghdr *m, int64_t mono_minus_real)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(m); cm; cm = CMSG_NXTHDR((struct msghdr *)m, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_TIMESTAMPNS)
			continue;
		struct timespec ts;
		__builtin_memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
		int64_t at = ts_ns(&ts) + mono_minus_real;
		/* A step of the real-time clock between the stamp and now
		 * could put it in the future: then it says nothing. */
		return at > 0 && (uint64_t)at <= clock_ns() ? (uint64_t)at : 0;
	}
	return 0;
}

ssize_t rxtime_read(int fd, void *p, size_t n, uint64_t *at_ns)
{
	return rxtime_recv(fd, p, n, 0, at_ns);
}

ssize_t rxtime_recv(int fd, void *p, size_t n, int flags, uint64_t *at_ns)
{
	union {
		char buf[RXTIME_CMSG_SPACE];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { p, n };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			    .msg_controllen = sizeof(ctl.buf) };
	ssize_t r = recvmsg(fd, &m, flags);

	*at_ns = r > 0 && m.msg_controllen ? rxtime_of(&m, rxtime_offset()) : 0;
	return r;
}
