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

/* Asks the kernel to stamp what fd receives. Returns 0 or -errno. The kernel
 * switches stamping on for the machine a moment after the first socket asks
 * (deferred work); what arrives before that is stamped when it is read, no
 * worse than a read without stamps. */
int rxtime_enable(int fd);

/* read(2) that also gives the monotonic time the kernel received the last
 * byte it returned in *at_ns (0 when it gave none). */
ssize_t rxtime_read(int fd, void *p, size_t n, uint64_t *at_ns);
/* The same with recvmsg's flags: MSG_PEEK tells when the next datagram came
 * and leaves it queued. */
ssize_t rxtime_recv(int fd, void *p, size_t n, int flags, uint64_t *at_ns);

/* The monotonic receive time in a message recvmsg/recvmmsg filled, or 0.
 * mono_minus_real is rxtime_offset() taken once for the batch. */
uint64_t rxtime_of(const struct msghdr *m, int64_t mono_minus_real);

/* CLOCK_MONOTONIC minus CLOCK_REALTIME now: the kernel stamps in real time. */
int64_t rxtime_offset(void);

#endif
