/*
 * serve_tls: TLS for the built-in servers (`surge serve PROTO --tls-cert F
 * --tls-key F`). One server context made before the workers fork, so every
 * worker process shares its session-ticket key and a client resumes on any
 * of them; one SSL per accepted connection, its handshake stepped from the
 * connection's watchers. Reads and writes go through tls.h's tls_ssl_*.
 * `--tls-fault` certificates that fail a client's check on purpose are made
 * here too; serve.c applies the modes that are not about the certificate.
 */
#ifndef SURGE_SERVE_TLS_H
#define SURGE_SERVE_TLS_H

#include <stdbool.h>
#include <stddef.h>

struct ssl_ctx_st;
struct ssl_st;

/* --tls-fault: what the TLS port does wrong, so clients' error tests can ask
 * for a broken server by name. */
enum serve_tls_fault {
	SERVE_TLS_OK,
	SERVE_TLS_UNTRUSTED,  /* a self-signed certificate, not the CA written */
	SERVE_TLS_WRONG_NAME, /* signed by the CA written, for another name */
	SERVE_TLS_EXPIRED,    /* signed by the CA written, out of date */
	SERVE_TLS_STALL,      /* accepts, reads, never answers the handshake */
	SERVE_TLS_PLAINTEXT,  /* no TLS on the port: the protocol in plaintext */
};

/* The option's lines for `surge serve --help`. */
extern const char serve_tls_fault_usage[];
/* A mode by its name ("expired"). Returns 0, or -EINVAL for no such mode. */
int serve_tls_fault_parse(const char *name, enum serve_tls_fault *out);
/* The mode's name; "none" for SERVE_TLS_OK. */
const char *serve_tls_fault_name(enum serve_tls_fault f);
/* Whether the fault is in the certificate (it needs --tls, which makes one). */
bool serve_tls_fault_is_cert(enum serve_tls_fault f);

/* A server context from a PEM certificate chain and key. Returns it, or
 * NULL with err filled. serve_tls_ctx_free is NULL-safe. */
struct ssl_ctx_st *serve_tls_ctx_new(const char *cert, const char *key, char *err, size_t errlen);
/* `--tls` without files: a fresh self-signed P-256 certificate for
 * localhost, 127.0.0.1 and ::1 (valid 30 days), its PEM written to ca_path,
 * which clients take as their CA (tls.ca, --tls-ca). With a certificate
 * fault, ca_path gets a fresh CA and the server shows a certificate that
 * fails against it (serve_tls_fault); other faults do not change the
 * certificate. NULL with err filled. */
struct ssl_ctx_st *serve_tls_ctx_self_signed(const char *ca_path, enum serve_tls_fault fault,
					     char *err, size_t errlen);
/* Mutual TLS (--tls-client-ca): clients must present a certificate that
 * chains to ca. Returns 0, or -1 with err filled. */
int serve_tls_require_client(struct ssl_ctx_st *ctx, const char *ca, char *err, size_t errlen);
void serve_tls_ctx_free(struct ssl_ctx_st *ctx);

/* A session on an accepted socket, or NULL (out of memory). */
struct ssl_st *serve_tls_accept(struct ssl_ctx_st *ctx, int fd);
/* Steps the handshake: 0 done, EV_READ or EV_WRITE to wait for, -1 failed. */
int serve_tls_handshake(struct ssl_st *ssl);
/* Sends close_notify (best effort, never waits). */
void serve_tls_shutdown(struct ssl_st *ssl);
/* close_notify when clean and established (best effort), then frees. NULL-safe. */
void serve_tls_free(struct ssl_st *ssl, int clean);

#endif
