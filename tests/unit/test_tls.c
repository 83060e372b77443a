/* tls: the read/write seam over a socket pair with a real handshake —
 * reads drain decrypted records and say when the library holds more than
 * the buffer took; partial writes retried from a moved buffer lose and
 * duplicate nothing; a close is the end of the stream; a plaintext peer
 * fails the handshake. The built-in server's side (serve_tls) is the peer. */
#include <errno.h>
#include <ev.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "serve_tls.h"
#include "tap.h"
#include "tls.h"

static char cert_path[64], key_path[64];

/* A throwaway self-signed P-256 certificate, written as PEM files. */
static int make_cert(void)
{
	EVP_PKEY *pk = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	FILE *f;
	int fd;

	if (!pk || !x)
		return -1;
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, pk);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)"unit.test", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	if (!X509_sign(x, pk, EVP_sha256()))
		return -1;
	snprintf(cert_path, sizeof(cert_path), "/tmp/surge-test-tls-cert-XXXXXX");
	snprintf(key_path, sizeof(key_path), "/tmp/surge-test-tls-key-XXXXXX");
	if ((fd = mkstemp(cert_path)) < 0 || !(f = fdopen(fd, "w")) || !PEM_write_X509(f, x) || fclose(f))
		return -1;
	if ((fd = mkstemp(key_path)) < 0 || !(f = fdopen(fd, "w")) ||
	    !PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL) || fclose(f))
		return -1;
	X509_free(x);
	EVP_PKEY_free(pk);
	return 0;
}

/* Both ends of one TLS connection over a non-blocking socket pair. */
struct pair {
	SSL_CTX *cctx;
	SSL *c, *s;
	int cfd, sfd;
};

static int pair_open(struct pair *p, SSL_CTX *sctx, int sndbuf)
{
	int fds[2];

	memset(p, 0, sizeof(*p));
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds) < 0)
		return -1;
	p->cfd = fds[0];
	p->sfd = fds[1];
	if (sndbuf) {
		setsockopt(p->cfd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
		setsockopt(p->sfd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	}
	/* The client as tls.c makes it (no verification: not the point here). */
	p->cctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_mode(p->cctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
					  SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_options(p->cctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_read_ahead(p->cctx, 1);
	p->c = SSL_new(p->cctx);
	SSL_set_fd(p->c, p->cfd);
	SSL_set_connect_state(p->c);
	p->s = serve_tls_accept(sctx, p->sfd);
	return p->c && p->s ? 0 : -1;
}

/* Steps both handshakes in turn: 0 when both completed, -1 when one failed. */
static int pair_handshake(struct pair *p)
{
	int cdone = 0, sdone = 0;

	for (int i = 0; i < 100 && !(cdone && sdone); i++) {
		if (!cdone) {
			int r = SSL_do_handshake(p->c);
			if (r == 1)
				cdone = 1;
			else if (SSL_get_error(p->c, r) != SSL_ERROR_WANT_READ &&
				 SSL_get_error(p->c, r) != SSL_ERROR_WANT_WRITE)
				return -1;
		}
		if (!sdone) {
			int r = serve_tls_handshake(p->s);
			if (r < 0)
				return -1;
			sdone = r == 0;
		}
	}
	return cdone && sdone ? 0 : -1;
}

static void pair_close(struct pair *p)
{
	SSL_free(p->c);
	serve_tls_free(p->s, 0);
	SSL_CTX_free(p->cctx);
	if (p->cfd >= 0)
		close(p->cfd);
	if (p->sfd >= 0)
		close(p->sfd);
}

static void pattern(uint8_t *b, size_t n, size_t from)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)((from + i) * 131 + 7);
}

static int same_pattern(const uint8_t *b, size_t n, size_t from)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] != (uint8_t)((from + i) * 131 + 7))
			return 0;
	return 1;
}

int main(void)
{
	char err[512];
	struct pair p;

	if (make_cert() < 0) {
		printf("1..0 # SKIP cannot make a certificate\n");
		return 0;
	}
	SSL_CTX *sctx = serve_tls_ctx_new(cert_path, key_path, err, sizeof(err));
	ok(sctx != NULL, "the server context loads the PEM files (%s)", sctx ? "" : err);
	SSL_CTX *bad = serve_tls_ctx_new("/nonexistent.pem", key_path, err, sizeof(err));
	ok(!bad && strstr(err, "cannot read /nonexistent.pem: No such file"),
	   "a missing certificate is named: %s", err);

	/* 1. Records larger than the reader's buffer: the read fills it and
	 * says the library holds more; reading on drains it all. */
	ok(pair_open(&p, sctx, 0) == 0 && pair_handshake(&p) == 0, "handshake over a socket pair");
	static uint8_t out[1 << 20], in[1 << 20];
	pattern(out, 30000, 0);
	is_int(tls_ssl_write(p.s, out, 30000), 16384, "a write takes one record (partial write mode)");
	is_int(tls_ssl_write(p.s, out + 16384, 30000 - 16384), 30000 - 16384, "and the rest");
	bool more = false;
	ssize_t n = tls_ssl_read(p.c, in, 4096, &more);
	ok(n == 4096 && more, "a 4 KiB read of a 16 KiB record fills the buffer and says more is held");
	size_t got = (size_t)n;
	for (int i = 0; i < 20 && got < 30000; i++) {
		n = tls_ssl_read(p.c, in + got, 4096, &more);
		if (n > 0)
			got += (size_t)n;
	}
	ok(got == 30000 && same_pattern(in, got, 0), "every byte read back, in order (%zu)", got);
	errno = 0;
	n = tls_ssl_read(p.c, in, 4096, &more);
	ok(n == -1 && errno == EAGAIN && !more, "then EAGAIN, nothing held");
	is_int(tls_ssl_write(p.c, out, 0), 0, "an empty write is a no-op");
	pair_close(&p);

	/* 2. Partial writes: a small socket buffer, a writer that retries
	 * from a copy at another address (as conn.c's buffer moves), a reader
	 * that drains between tries. */
	ok(pair_open(&p, sctx, 4096) == 0 && pair_handshake(&p) == 0, "handshake, small socket buffers");
	size_t total = sizeof(out), sent = 0, recvd = 0;
	int again = 0, moved_ok = 1;
	pattern(out, total, 0);
	static uint8_t moved[1 << 20];
	for (int i = 0; i < 100000 && recvd < total; i++) {
		if (sent < total) {
			/* Retries go from a different address each time. */
			uint8_t *src = (i & 1) ? moved : out + sent;
			if (src == moved)
				memcpy(moved, out + sent, total - sent);
			ssize_t w = tls_ssl_write(p.c, src, total - sent);
			if (w > 0)
				sent += (size_t)w;
			else if (errno == EAGAIN)
				again++;
			else
				moved_ok = 0;
		}
		ssize_t r = tls_ssl_read(p.s, in + recvd, total - recvd, &more);
		if (r > 0)
			recvd += (size_t)r;
	}
	ok(again > 0, "the socket filled: writes said EAGAIN (%d times)", again);
	ok(moved_ok && sent == total && recvd == total && same_pattern(in, recvd, 0),
	   "1 MiB through partial writes retried from moved buffers: nothing lost or doubled");
	pair_close(&p);

	/* 3. The peer closes: the end of the stream, not an error. */
	ok(pair_open(&p, sctx, 0) == 0 && pair_handshake(&p) == 0, "handshake");
	serve_tls_shutdown(p.s);
	close(p.sfd);
	p.sfd = -1;
	is_int(tls_ssl_read(p.c, in, 4096, &more), 0, "close_notify then close: end of stream");
	pair_close(&p);
	ok(pair_open(&p, sctx, 0) == 0 && pair_handshake(&p) == 0, "handshake");
	close(p.sfd);
	p.sfd = -1;
	is_int(tls_ssl_read(p.c, in, 4096, &more), 0, "a close without close_notify: end of stream too");
	pair_close(&p);

	/* 4. A plaintext client: the server's handshake fails, never waits. */
	ok(pair_open(&p, sctx, 0) == 0, "a pair");
	ok(write(p.cfd, "GET / HTTP/1.0\r\n\r\n", 18) == 18, "the client speaks plaintext");
	is_int(serve_tls_handshake(p.s), -1, "the server's handshake fails");
	pair_close(&p);

	serve_tls_ctx_free(sctx);
	unlink(cert_path);
	unlink(key_path);
	return tap_done();
}
