/*
 * serve_udp: reads datagrams in batches (recvmmsg, up to BATCH per call),
 * answers each through the protocol and sends the replies that are due now
 * in one sendmmsg; a reply held by --delay or --stall waits in a FIFO that
 * is also due order (the delay is constant and stalls end in order), driven
 * by one timer.
 */
#include "serve_udp.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "container.h"

#define BATCH 32
#define SERVE_UDP_RCVBUF (8 << 20)
#define IN_MAX 4096 /* a request longer than this is counted as too long */

union peer {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

struct held {
	uint64_t due;
	union peer peer;
	socklen_t peerlen;
	uint32_t len;
};

struct serve_udp {
	struct ev_loop *loop;
	ev_io io;
	ev_timer release;
	int fd;
	const struct serve_proto *proto;
	void *proto_config;
	const struct serve_fault *fault;
	uint64_t *counters;
	uint64_t rng, start;
	struct serve_udp_totals t;
	/* One batch: requests in, replies out. */
	struct mmsghdr in_msg[BATCH], out_msg[BATCH];
	struct iovec in_iov[BATCH], out_iov[BATCH];
	union peer peers[BATCH];
	uint8_t in[BATCH][IN_MAX];
	uint8_t out[BATCH][SERVE_UDP_MAX];
	/* Held replies: entries in a ring, their bytes in one FIFO buffer. */
	struct held *held;
	size_t held_head, held_len, held_cap;
	struct buf held_bytes;
};

int serve_udp_open(const struct sockaddr *addr, socklen_t len)
{
	int one = 1, fd = socket(addr->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* SO_REUSEPORT only: the workers share the port, and no SO_REUSEADDR
	 * socket elsewhere can silently share it with them. */
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	/* One socket takes every client's datagrams: the default buffer holds
	 * ~256 small ones, which a burst of a few thousand sockets overflows.
	 * Root may go past net.core.rmem_max; others get what it allows. */
	int rcv = SERVE_UDP_RCVBUF;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	if (bind(fd, addr, len) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

static uint64_t next_random(struct serve_udp *u)
{
	/* splitmix64: the same generator family the TCP side seeds. */
	uint64_t z = (u->rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void send_one(struct serve_udp *u, const void *p, size_t n, const union peer *to,
		     socklen_t tolen)
{
	ssize_t k = sendto(u->fd, p, n, 0, &to->sa, tolen);
	if (k < 0)
		u->t.send_errors++;
	else
		u->t.bytes_out += (uint64_t)k;
}

static void arm(struct serve_udp *u, uint64_t now)
{
	ev_timer_stop(u->loop, &u->release);
	if (!u->held_len)
		return;
	uint64_t due = u->held[u->held_head].due;
	ev_timer_set(&u->release, due > now ? (double)(due - now) / 1e9 : 0., 0.);
	ev_timer_start(u->loop, &u->release);
}

static void on_release(struct ev_loop *loop, ev_timer *tm, int revents)
{
	struct serve_udp *u = container_of(tm, struct serve_udp, release);
	uint64_t now = clock_ns();

	while (u->held_len && u->held[u->held_head].due <= now) {
		struct held *h = &u->held[u->held_head];
		send_one(u, buf_start(&u->held_bytes), h->len, &h->peer, h->peerlen);
		buf_consume(&u->held_bytes, h->len);
		u->held_head = (u->held_head + 1) % u->held_cap;
		u->held_len--;
	}
	if (!u->held_len)
		buf_free(&u->held_bytes);
	arm(u, now);
}

/* Queues a reply until due. Returns 0 or -ENOMEM. */
static int hold(struct serve_udp *u, const uint8_t *p, size_t n, const union peer *to,
		socklen_t tolen, uint64_t due, uint64_t now)
{
	if (u->held_len == u->held_cap) {
		size_t cap = u->held_cap ? u->held_cap * 2 : 1024;
		struct held *h = malloc(cap * sizeof(*h));
		if (!h)
			return -ENOMEM;
		for (size_t i = 0; i < u->held_len; i++)
			h[i] = u->held[(u->held_head + i) % u->held_cap];
		free(u->held);
		u->held = h;
		u->held_head = 0;
		u->held_cap = cap;
	}
	if (buf_append(&u->held_bytes, p, n) < 0)
		return -ENOMEM;
	if (u->held_len) {
		/* A later reply never overtakes an earlier one. */
		uint64_t last = u->held[(u->held_head + u->held_len - 1) % u->held_cap].due;
		if (due < last)
			due = last;
	}
	u->held[(u->held_head + u->held_len) % u->held_cap] =
		(struct held){ .due = due, .peer = *to, .peerlen = tolen, .len = (uint32_t)n };
	if (++u->held_len == 1)
		arm(u, now);
	return 0;
}

static void on_readable(struct ev_loop *loop, ev_io *io, int revents)
{
	struct serve_udp *u = container_of(io, struct serve_udp, io);
	const struct serve_fault *f = u->fault;

	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < BATCH; i++) {
			u->in_msg[i].msg_hdr = (struct msghdr){ .msg_name = &u->peers[i],
								.msg_namelen = sizeof(u->peers[i]),
								.msg_iov = &u->in_iov[i],
								.msg_iovlen = 1 };
			u->in_iov[i] = (struct iovec){ u->in[i], IN_MAX };
		}
		int got = recvmmsg(u->fd, u->in_msg, BATCH, MSG_DONTWAIT, NULL);
		if (got <= 0)
			return;
		uint64_t now = clock_ns();
		int nout = 0;
		for (int i = 0; i < got; i++) {
			size_t len = u->in_msg[i].msg_len;
			u->t.datagrams++;
			u->t.bytes_in += len;
			if (u->in_msg[i].msg_hdr.msg_flags & MSG_TRUNC) {
				u->t.too_long++;
				continue;
			}
			size_t n = u->proto->on_datagram(u->proto_config, u->in[i], len, u->out[i],
							 SERVE_UDP_MAX, u->counters);
			if (!n)
				continue;
			u->t.replies++;
			if (f->drop > 0 && serve_fault_chance(f->drop, next_random(u))) {
				u->t.dropped++;
				continue;
			}
			socklen_t plen = u->in_msg[i].msg_hdr.msg_namelen;
			uint64_t due = now + f->delay_ns, wait;
			if (serve_fault_stalled(f, due - u->start, &wait))
				due += wait;
			if (due > now || u->held_len) {
				if (hold(u, u->out[i], n, &u->peers[i], plen, due, now) < 0)
					u->t.send_errors++;
				continue;
			}
			u->out_iov[nout] = (struct iovec){ u->out[i], n };
			u->out_msg[nout].msg_hdr = (struct msghdr){ .msg_name = &u->peers[i],
								    .msg_namelen = plen,
								    .msg_iov = &u->out_iov[nout],
								    .msg_iovlen = 1 };
			nout++;
		}
		for (int sent = 0; sent < nout;) {
			int k = sendmmsg(u->fd, u->out_msg + sent, (unsigned)(nout - sent), MSG_DONTWAIT);
			if (k <= 0) {
				/* Full socket buffer: the rest are lost, as on a wire. */
				u->t.send_errors += (uint64_t)(nout - sent);
				break;
			}
			for (int i = sent; i < sent + k; i++)
				u->t.bytes_out += u->out_msg[i].msg_len;
			sent += k;
		}
		if (got < BATCH)
			return;
	}
}

struct serve_udp *serve_udp_new(struct ev_loop *loop, int fd, const struct serve_proto *proto,
				void *proto_config, const struct serve_fault *fault, uint64_t seed,
				uint64_t *proto_counters)
{
	struct serve_udp *u = calloc(1, sizeof(*u));
	if (!u) {
		close(fd);
		return NULL;
	}
	u->loop = loop;
	u->fd = fd;
	u->proto = proto;
	u->proto_config = proto_config;
	u->fault = fault;
	u->counters = proto_counters;
	u->rng = seed;
	u->start = clock_ns();
	ev_io_init(&u->io, on_readable, fd, EV_READ);
	ev_io_start(loop, &u->io);
	ev_timer_init(&u->release, on_release, 0., 0.);
	return u;
}

void serve_udp_totals(const struct serve_udp *u, struct serve_udp_totals *t)
{
	*t = u->t;
}

void serve_udp_free(struct serve_udp *u)
{
	if (!u)
		return;
	ev_io_stop(u->loop, &u->io);
	ev_timer_stop(u->loop, &u->release);
	close(u->fd);
	free(u->held);
	buf_free(&u->held_bytes);
	free(u);
}
