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

const char serve_tls_fault_usage[] =
	"\nTLS fault mode (echo, dns and rtsp alike):\n"
	"  --tls-fault MODE     what the TLS port does wrong, for clients' error tests:\n"
	"                       untrusted   a self-signed certificate, not the CA written\n"
	"                                   to READY-FILE.ca.pem (client: tls verify,\n"
	"                                   \"self-signed certificate\")\n"
	"                       wrong-name  signed by that CA, for wrong-name.invalid only\n"
	"                                   (tls verify, \"hostname mismatch\" or \"IP address\n"
	"                                   mismatch\")\n"
	"                       expired     signed by that CA, expired a day ago (tls verify,\n"
	"                                   \"certificate has expired\")\n"
	"                       stall       accepts and reads, never answers the handshake\n"
	"                                   (tls handshake at the client's connect timeout)\n"
	"                       plaintext   no TLS on the port: the protocol in plaintext\n"
	"                                   (tls handshake)\n"
	"                       the certificate modes need --tls; stall and plaintext also\n"
	"                       work with --tls-cert\n";

static const char *const fault_names[] = {
	[SERVE_TLS_UNTRUSTED] = "untrusted", [SERVE_TLS_WRONG_NAME] = "wrong-name",
	[SERVE_TLS_EXPIRED] = "expired",     [SERVE_TLS_STALL] = "stall",
	[SERVE_TLS_PLAINTEXT] = "plaintext",
};

int serve_tls_fault_parse(const char *name, enum serve_tls_fault *out)
{
	for (int i = SERVE_TLS_UNTRUSTED; i <= SERVE_TLS_PLAINTEXT; i++)
		if (strcmp(name, fault_names[i]) == 0) {
			*out = (enum serve_tls_fault)i;
			return 0;
		}
	return -EINVAL;
}

const char *serve_tls_fault_name(enum serve_tls_fault f)
{
	return f >= SERVE_TLS_UNTRUSTED && f <= SERVE_TLS_PLAINTEXT ? fault_names[f] : "none";
}

bool serve_tls_fault_is_cert(enum serve_tls_fault f)
{
	return f == SERVE_TLS_UNTRUSTED || f == SERVE_TLS_WRONG_NAME || f == SERVE_TLS_EXPIRED;
}

/* A v3 certificate number serial for pk: subject CN=cn with the subjectAltNames san (NULL:
 * none), valid between from and until seconds from now, signed by
 * issuer/issuer_key, or by itself when issuer is NULL. ca: it may sign
 * others (basicConstraints CA:TRUE), so a client can take it as its CA and
 * verify a leaf it signed. NULL on failure, the reason in OpenSSL's queue. */
static X509 *make_cert(long serial, EVP_PKEY *pk, const char *cn, const char *san, long from, long until,
		       X509 *issuer, EVP_PKEY *issuer_key, bool ca)
{
	X509 *x = X509_new();
	X509V3_CTX v3;
	const char *exts[3][2] = { { "subjectAltName", san },
				   { "basicConstraints", ca ? "critical,CA:TRUE" : "CA:FALSE" },
				   { "keyUsage", ca ? "critical,keyCertSign,cRLSign" : NULL } };

	if (!x || !X509_set_version(x, X509_VERSION_3))
		goto fail;
	ASN1_INTEGER_set(X509_get_serialNumber(x), (long)time(NULL) * 4 + serial);
	X509_gmtime_adj(X509_getm_notBefore(x), from);
	X509_gmtime_adj(X509_getm_notAfter(x), until);
	X509_set_pubkey(x, pk);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(issuer ? issuer : x));
	X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
	for (int i = 0; i < 3; i++) {
		if (!exts[i][1])
			continue;
		X509_EXTENSION *e = X509V3_EXT_conf(NULL, &v3, exts[i][0], exts[i][1]);
		int added = e && X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
		if (!added)
			goto fail;
	}
	if (!X509_sign(x, issuer ? issuer_key : pk, EVP_sha256()))
		goto fail;
	return x;
fail:
	X509_free(x);
	return NULL;
}

static int write_pem(const char *path, X509 *x, char *err, size_t errlen)
{
	FILE *f = fopen(path, "w");

	if (!f || !PEM_write_X509(f, x) || fclose(f) != 0) {
		int e = errno;
		if (f)
			fclose(f);
		snprintf(err, errlen, "--tls: cannot write the certificate to %s: %s", path,
			 strerror(e));
		return -1;
	}
	return 0;
}

#define RIGHT_NAMES "DNS:localhost,IP:127.0.0.1,IP:::1"
#define DAY (24L * 3600)

struct ssl_ctx_st *serve_tls_ctx_self_signed(const char *ca_path, enum serve_tls_fault fault,
					     char *err, size_t errlen)
{
	char why[256] = "";
	EVP_PKEY *pk = EVP_EC_gen("P-256"), *ca_pk = NULL;
	X509 *x = NULL, *ca = NULL;
	SSL_CTX *ctx = NULL;

	if (!pk)
		goto fail;
	if (!serve_tls_fault_is_cert(fault)) {
		/* The certificate is its own CA: what the client trusts is
		 * exactly what it is shown. */
		if (!(x = make_cert(1, pk, "surge serve", RIGHT_NAMES, -60, 30 * DAY, NULL, NULL, false)))
			goto fail;
		ca = x;
	} else {
		/* A CA the client is told to trust, and a leaf wrong in one way:
		 * signed by another key, for another name, or out of date. */
		if (!(ca_pk = EVP_EC_gen("P-256")) ||
		    !(ca = make_cert(2, ca_pk, "surge serve CA", NULL, -60, 30 * DAY, NULL, NULL, true)))
			goto fail;
		if (fault == SERVE_TLS_UNTRUSTED)
			x = make_cert(1, pk, "surge serve", RIGHT_NAMES, -60, 30 * DAY, NULL, NULL, false);
		else if (fault == SERVE_TLS_WRONG_NAME)
			x = make_cert(1, pk, "wrong-name.invalid", "DNS:wrong-name.invalid", -60, 30 * DAY,
				      ca, ca_pk, false);
		else
			x = make_cert(1, pk, "surge serve", RIGHT_NAMES, -2 * DAY, -DAY, ca, ca_pk, false);
		if (!x)
			goto fail;
	}
	if (write_pem(ca_path, ca, err, errlen) < 0)
		goto out;
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
	ERR_clear_error();
	if (ca != x)
		X509_free(ca);
	X509_free(x);
	EVP_PKEY_free(ca_pk);
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
