/* serve_tls: the built-in servers' side of TLS (OpenSSL 3). */
#include "serve_tls.h"

#include <errno.h>
#include <ev.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

static void ctx_modes(SSL_CTX *ctx)
{
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
				      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_read_ahead(ctx, 1);
}

struct ssl_ctx_st *serve_tls_ctx_self_signed(const char *ca_path, char *err, size_t errlen)
{
	char why[256] = "";
	EVP_PKEY *pk = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_EXTENSION *san = NULL;
	SSL_CTX *ctx = NULL;
	FILE *f = NULL;

	if (!pk || !x)
		goto fail;
	ASN1_INTEGER_set(X509_get_serialNumber(x), (long)time(NULL));
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 30L * 86400);
	X509_set_pubkey(x, pk);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)"surge serve", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	san = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name,
				  "DNS:localhost,IP:127.0.0.1,IP:::1");
	if (!san || !X509_add_ext(x, san, -1) || !X509_sign(x, pk, EVP_sha256()))
		goto fail;
	if (!(f = fopen(ca_path, "w")) || !PEM_write_X509(f, x) || fclose(f) != 0) {
		f = NULL;
		snprintf(err, errlen, "--tls: cannot write the certificate to %s: %s", ca_path,
			 strerror(errno));
		goto out;
	}
	f = NULL;
	if (!(ctx = SSL_CTX_new(TLS_server_method())) || !SSL_CTX_use_certificate(ctx, x) ||
	    !SSL_CTX_use_PrivateKey(ctx, pk))
		goto fail;
	ctx_modes(ctx);
	goto out;
fail:
	ERR_error_string_n(ERR_peek_last_error(), why, sizeof(why));
	snprintf(err, errlen, "--tls: cannot make a certificate: %s", why);
	SSL_CTX_free(ctx);
	ctx = NULL;
out:
	if (f)
		fclose(f);
	ERR_clear_error();
	X509_EXTENSION_free(san);
	X509_free(x);
	EVP_PKEY_free(pk);
	return ctx;
}

struct ssl_ctx_st *serve_tls_ctx_new(const char *cert, const char *key, char *err, size_t errlen)
{
	char why[256] = "";
	SSL_CTX *ctx = NULL;

	for (int i = 0; i < 2; i++) {
		const char *path = i ? key : cert;
		if (access(path, R_OK) < 0) {
			snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
			return NULL;
		}
	}
	ctx = SSL_CTX_new(TLS_server_method());

	if (!ctx)
		goto fail;
	ctx_modes(ctx);
	if (!SSL_CTX_use_certificate_chain_file(ctx, cert) ||
	    !SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) || !SSL_CTX_check_private_key(ctx))
		goto fail;
	return ctx;
fail:
	ERR_error_string_n(ERR_peek_last_error(), why, sizeof(why));
	ERR_clear_error();
	snprintf(err, errlen, "--tls-cert %s --tls-key %s: %s", cert, key, why);
	SSL_CTX_free(ctx);
	return NULL;
}

int serve_tls_require_client(struct ssl_ctx_st *ctx, const char *ca, char *err, size_t errlen)
{
	char why[256] = "";

	if (!SSL_CTX_load_verify_locations(ctx, ca, NULL)) {
		ERR_error_string_n(ERR_peek_last_error(), why, sizeof(why));
		ERR_clear_error();
		snprintf(err, errlen, "--tls-client-ca %s: %s", ca, why);
		return -1;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	return 0;
}

void serve_tls_ctx_free(struct ssl_ctx_st *ctx)
{
	SSL_CTX_free(ctx);
}

struct ssl_st *serve_tls_accept(struct ssl_ctx_st *ctx, int fd)
{
	SSL *ssl = SSL_new(ctx);

	if (!ssl || !SSL_set_fd(ssl, fd)) {
		SSL_free(ssl);
		ERR_clear_error();
		return NULL;
	}
	SSL_set_accept_state(ssl);
	return ssl;
}

int serve_tls_handshake(struct ssl_st *ssl)
{
	ERR_clear_error();
	int r = SSL_do_handshake(ssl);
	if (r == 1)
		return 0;
	switch (SSL_get_error(ssl, r)) {
	case SSL_ERROR_WANT_READ:
		return EV_READ;
	case SSL_ERROR_WANT_WRITE:
		return EV_WRITE;
	default:
		ERR_clear_error();
		return -1;
	}
}

void serve_tls_shutdown(struct ssl_st *ssl)
{
	if (SSL_is_init_finished(ssl))
		SSL_shutdown(ssl);
	ERR_clear_error();
}

void serve_tls_free(struct ssl_st *ssl, int clean)
{
	if (!ssl)
		return;
	if (clean && SSL_is_init_finished(ssl))
		SSL_shutdown(ssl);
	SSL_free(ssl);
	ERR_clear_error();
}
