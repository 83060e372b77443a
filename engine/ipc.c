/* ipc: length-prefixed messages on a pipe, written whole, read incrementally. */
#include "ipc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

int ipc_send(int fd, uint32_t type, uint32_t worker, uint32_t second, const void *payload,
	     size_t len)
{
	struct ipc_header h = {(uint32_t)len, type, worker, second};
	struct iovec iov[2] = {{&h, sizeof(h)}, {(void *)payload, len}};
	size_t left = sizeof(h) + len;
	int idx = 0;

	if (len > IPC_MAX_PAYLOAD)
		return -EMSGSIZE;
	while (left > 0) {
		ssize_t n = writev(fd, iov + idx, 2 - idx);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		left -= (size_t)n;
		while (idx < 2 && (size_t)n >= iov[idx].iov_len) {
			n -= (ssize_t)iov[idx].iov_len;
			idx++;
		}
		if (idx < 2) {
			iov[idx].iov_base = (char *)iov[idx].iov_base + n;
			iov[idx].iov_len -= (size_t)n;
		}
	}
	return 0;
}

int ipc_reader_feed(struct ipc_reader *r, const uint8_t *p, size_t n)
{
	return buf_append(&r->in, p, n) < 0 ? -ENOMEM : 0;
}

int ipc_reader_next(struct ipc_reader *r, struct ipc_header *h, const uint8_t **payload)
{
	static const size_t hs = sizeof(struct ipc_header);

	if (r->in.len < hs)
		return 0;
	memcpy(h, buf_start(&r->in), hs);
	if (h->len > IPC_MAX_PAYLOAD)
		return -EPROTO;
	if (r->in.len < hs + h->len)
		return 0;
	*payload = buf_start(&r->in) + hs;
	return 1;
}

/* Drops the message ipc_reader_next returned. */
void ipc_reader_pop(struct ipc_reader *r, const struct ipc_header *h)
{
	buf_consume(&r->in, sizeof(*h) + h->len);
}

void ipc_reader_free(struct ipc_reader *r)
{
	buf_free(&r->in);
}
