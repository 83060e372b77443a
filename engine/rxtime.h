/* rxtime: when the kernel received what a read returns (SO_TIMESTAMPNS).
 * An answer's latency ends there, not when the loop came round to read it:
 * a read that waited (dispatch.c's ticks) or a loop that ran late adds
 * nothing to what a user is shown. */
#ifndef SURGE_RXTIME_H
#define SURGE_RXTIME_H
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

/* Room for the timestamp's control message beside each read. */
#define RXTIME_CMSG_SPACE CMSG_SPACE(sizeof(struct timespec))

/* The kernel stamps in real time; latency is monotonic. The difference
 * changes only when the real-time clock is set (a step, a leap second), not
 * as NTP slews it: it is kept per worker and taken again when a timerfd
 * says the clock was set, not read twice per read. */
struct rxtime_clock {
	int64_t mono_minus_real;
	int fd; /* readable once the real-time clock was set; -1 when closed */
};

/* Takes the difference, and opens k's timerfd to hear of settings; k->fd is
 * -1 where that cannot be (no timerfd, a kernel without CANCEL_ON_SET): its
 * owner then calls rxtime_clock_take now and then. Returns 0: without the
 * fd the stamps are as right as the last take. */
int rxtime_clock_open(struct rxtime_clock *k);
/* k->fd became readable: the clock was set. Takes the difference again and
 * waits for the next setting. */
void rxtime_clock_reset(struct rxtime_clock *k);
/* Takes the difference now. */
void rxtime_clock_take(struct rxtime_clock *k);
void rxtime_clock_close(struct rxtime_clock *k);

/* Asks the kernel to stamp what fd receives. Returns 0 or -errno. The kernel
 * switches stamping on for the machine a moment after the first socket asks
 * (deferred work); what arrives before that is stamped when it is read, no
 * worse than a read without stamps. */
int rxtime_enable(int fd);

/* read(2) that also gives the monotonic time the kernel received the last
 * byte it returned in *at_ns (0 when it gave none). Across a step of the
 * real-time clock a stamp may say a time after now, or before the request
 * left: whoever uses one compares it with its own clock. */
ssize_t rxtime_read(const struct rxtime_clock *k, int fd, void *p, size_t n, uint64_t *at_ns);
/* The same with recvmsg's flags: MSG_PEEK tells when the next datagram came
 * and leaves it queued. */
ssize_t rxtime_recv(const struct rxtime_clock *k, int fd, void *p, size_t n, int flags,
		    uint64_t *at_ns);

/* The monotonic receive time in a message recvmsg/recvmmsg filled, or 0. */
uint64_t rxtime_of(const struct rxtime_clock *k, const struct msghdr *m);

#endif
