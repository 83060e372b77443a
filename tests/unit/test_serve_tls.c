/* serve_tls: the certificates `surge serve --tls [--tls-fault MODE]` makes,
 * checked the way a client checks them — the server's certificate against
 * the CA written to the file, for localhost: trusted when nothing is broken
 * (and for stall and plaintext, which leave the certificate alone), refused
 * for exactly the reason each certificate fault names. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "serve_tls.h"
#include "tap.h"

/* The verdict on ctx's certificate against the PEM CA at ca for name:
 * X509_V_OK or the X509_V_ERR_* a client would see; -1 if it cannot run. */
static int verdict(SSL_CTX *ctx, const char *ca, const char *name)
{
	X509 *leaf = SSL_CTX_get0_certificate(ctx);
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *vc = X509_STORE_CTX_new();
	int r = -1;

	if (!leaf || !store || !vc || !X509_STORE_load_file(store, ca) ||
	    !X509_STORE_CTX_init(vc, store, leaf, NULL))
		goto out;
	X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(vc), name, 0);
	r = X509_verify_cert(vc) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(vc);
out:
	X509_STORE_CTX_free(vc);
	X509_STORE_free(store);
	return r;
}

int main(void)
{
	char dir[] = "/tmp/surge-test-serve-tls-XXXXXX", ca[128], err[256];
	static const struct {
		enum serve_tls_fault fault;
		const char *name;
		int want;
	} cases[] = {
		{ SERVE_TLS_OK, "none", X509_V_OK },
		{ SERVE_TLS_UNTRUSTED, "untrusted", X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT },
		{ SERVE_TLS_WRONG_NAME, "wrong-name", X509_V_ERR_HOSTNAME_MISMATCH },
		{ SERVE_TLS_EXPIRED, "expired", X509_V_ERR_CERT_HAS_EXPIRED },
		{ SERVE_TLS_STALL, "stall", X509_V_OK },
		{ SERVE_TLS_PLAINTEXT, "plaintext", X509_V_OK },
	};

	if (!mkdtemp(dir))
		return 1;
	snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum serve_tls_fault parsed = SERVE_TLS_OK;
		SSL_CTX *ctx = serve_tls_ctx_self_signed(ca, cases[i].fault, err, sizeof(err));
		ok(ctx, "%s: a context is made (%s)", cases[i].name, ctx ? "" : err);
		int v = ctx ? verdict(ctx, ca, "localhost") : -1;
		if (!ok(v == cases[i].want, "%s: the client's verdict is %s", cases[i].name,
			X509_verify_cert_error_string(cases[i].want)))
			diag("got %d: %s", v, v >= 0 ? X509_verify_cert_error_string(v) : "no verdict");
		ok(strcmp(serve_tls_fault_name(cases[i].fault), cases[i].name) == 0,
		   "%s: named as --tls-fault takes it", cases[i].name);
		if (cases[i].fault != SERVE_TLS_OK)
			ok(serve_tls_fault_parse(cases[i].name, &parsed) == 0 && parsed == cases[i].fault,
			   "--tls-fault %s is parsed back", cases[i].name);
		ok(serve_tls_fault_is_cert(cases[i].fault) ==
			   (cases[i].fault == SERVE_TLS_UNTRUSTED || cases[i].fault == SERVE_TLS_WRONG_NAME ||
			    cases[i].fault == SERVE_TLS_EXPIRED),
		   "%s: a certificate fault or not", cases[i].name);
		serve_tls_ctx_free(ctx);
	}
	enum serve_tls_fault f = SERVE_TLS_OK;
	ok(serve_tls_fault_parse("none", &f) == -EINVAL && serve_tls_fault_parse("Expired", &f) == -EINVAL &&
	   f == SERVE_TLS_OK, "unknown modes are refused, the mode left alone");

	/* The CA cannot be written: no context, the path and the reason said. */
	SSL_CTX *ctx = serve_tls_ctx_self_signed("/nonexistent/surge/ca.pem", SERVE_TLS_EXPIRED, err,
						 sizeof(err));
	ok(!ctx && strstr(err, "/nonexistent/surge/ca.pem") && strstr(err, "No such file"),
	   "an unwritable CA path: NULL, the path and why (%s)", err);
	unlink(ca);
	rmdir(dir);
	return tap_done();
}
