/* rxtime: the kernel's receive time of what a read returns. */
#include "rxtime.h"

#include <errno.h>
#include <stdint.h>
#include <sys/timerfd.h>
#include <unistd.h>

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

void rxtime_clock_take(struct rxtime_clock *k)
{
	struct timespec mono, real;

	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_REALTIME, &real);
	k->mono_minus_real = ts_ns(&mono) - ts_ns(&real);
}

/* Armed first, then read: a setting between the two is seen at the next
 * turn of the loop, not missed. The timer never expires: its time, in 2262,
 * is the last the kernel's clock can say (a 2038 one would fire at once on
 * a clock set past it, and fire again at every turn). The setting cancels
 * it. A kernel without CANCEL_ON_SET leaves the fd closed: the worker then
 * takes the difference every second instead. */
static int watch_settings(struct rxtime_clock *k)
{
	struct itimerspec never = { .it_value = { .tv_sec = INT64_MAX / NS_PER_SEC - 1 } };
	int rc = timerfd_settime(k->fd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &never, NULL);

	rxtime_clock_take(k);
	return rc < 0 ? -errno : 0;
}

int rxtime_clock_open(struct rxtime_clock *k)
{
	k->fd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
	if (k->fd < 0)
		rxtime_clock_take(k);
	else if (watch_settings(k) < 0)
		rxtime_clock_close(k);
	return 0;
}

void rxtime_clock_reset(struct rxtime_clock *k)
{
	uint64_t expirations;

	/* ECANCELED is the news; the read clears it. A re-arm that failed
	 * (it did not the first time) leaves the timer disarmed: quiet. */
	if (k->fd >= 0 && !(read(k->fd, &expirations, sizeof(expirations)) < 0 && errno == EAGAIN))
		watch_settings(k);
}

void rxtime_clock_close(struct rxtime_clock *k)
{
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
}

uint64_t rxtime_of(const struct rxtime_clock *k, const struct msghdr *m)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(m); cm; cm = CMSG_NXTHDR((struct msghdr *)m, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_TIMESTAMPNS)
			continue;
		struct timespec ts;
		__builtin_memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
		int64_t at = ts_ns(&ts) + k->mono_minus_real;
		return at > 0 ? (uint64_t)at : 0;
	}
	return 0;
}

ssize_t rxtime_read(const struct rxtime_clock *k, int fd, void *p, size_t n, uint64_t *at_ns)
{
	return rxtime_recv(k, fd, p, n, 0, at_ns);
}

ssize_t rxtime_recv(const struct rxtime_clock *k, int fd, void *p, size_t n, int flags,
		    uint64_t *at_ns)
{
	union {
		char buf[RXTIME_CMSG_SPACE];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { p, n };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			    .msg_controllen = sizeof(ctl.buf) };
	ssize_t r = recvmsg(fd, &m, flags);

	*at_ns = r > 0 && m.msg_controllen ? rxtime_of(k, &m) : 0;
	return r;
}
