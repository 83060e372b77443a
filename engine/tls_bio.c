/* tls_bio: a socket BIO whose reads keep the kernel's arrival time. */
#include "tls_bio.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include <openssl/bio.h>

#include "rxtime.h"
#include "worker.h"

struct tls_bio_sock {
	struct worker *w;
	int fd;
	uint64_t last_at; /* the stamp of the last read with data */
};

static int sock_read(BIO *b, char *p, int n)
{
	struct tls_bio_sock *s = BIO_get_data(b);
	uint64_t at;
	ssize_t r;

	BIO_clear_retry_flags(b);
	r = rxtime_read(&s->w->rxclock, s->fd, p, (size_t)n, &at);
	if (r > 0 && at)
		s->w->rx_ns = s->last_at = at; /* the last read with data: its last segment */
	else if (r == 0)
		BIO_set_flags(b, BIO_FLAGS_IN_EOF); /* SSL_OP_IGNORE_UNEXPECTED_EOF asks */
	else if (r < 0 && (errno == EAGAIN || errno == EINTR))
		BIO_set_retry_read(b);
	return (int)r;
}

static int sock_write(BIO *b, const char *p, int n)
{
	struct tls_bio_sock *s = BIO_get_data(b);
	ssize_t r;

	BIO_clear_retry_flags(b);
	r = write(s->fd, p, (size_t)n);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		BIO_set_retry_write(b);
	return (int)r;
}

static long sock_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct tls_bio_sock *s = BIO_get_data(b);

	switch (cmd) {
	case BIO_C_GET_FD:
		if (ptr)
			*(int *)ptr = s->fd;
		return s->fd;
	case BIO_CTRL_EOF:
		return BIO_test_flags(b, BIO_FLAGS_IN_EOF) != 0;
	case BIO_CTRL_FLUSH:
	case BIO_CTRL_DUP:
		return 1;
	default:
		return 0;
	}
}

static int sock_destroy(BIO *b)
{
	free(BIO_get_data(b));
	BIO_set_data(b, NULL);
	return 1;
}

BIO_METHOD *tls_bio_method_new(void)
{
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
				     "surge socket");

	if (m && (!BIO_meth_set_read(m, sock_read) || !BIO_meth_set_write(m, sock_write) ||
		  !BIO_meth_set_ctrl(m, sock_ctrl) || !BIO_meth_set_destroy(m, sock_destroy))) {
		BIO_meth_free(m);
		m = NULL;
	}
	return m;
}

void tls_bio_method_free(BIO_METHOD *m)
{
	BIO_meth_free(m);
}

BIO *tls_bio_new(const BIO_METHOD *m, struct worker *w, int fd)
{
	struct tls_bio_sock *s = malloc(sizeof(*s));
	BIO *b = s ? BIO_new(m) : NULL;

	if (!b) {
		free(s);
		return NULL;
	}
	*s = (struct tls_bio_sock){ w, fd, 0 };
	BIO_set_data(b, s);
	BIO_set_init(b, 1);
	return b;
}

uint64_t tls_bio_last_at(const BIO *b)
{
	const struct tls_bio_sock *s = BIO_get_data((BIO *)b);

	return s ? s->last_at : 0;
}
