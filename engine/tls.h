/*
 * tls: TLS as a property of a connection, below every protocol module. A
 * worker has one client context (an OpenSSL SSL_CTX made from the run's tls
 * options, plus a few resumable tickets per destination); a connection whose
 * target asks for TLS gets an SSL once its TCP connect completes, shakes
 * hands on the worker's loop, then reads and writes through it with read()
 * and write()'s contract, so conn.c's framing, batching and accounting do
 * not know which transport they use.
 */
#ifndef SURGE_TLS_H
#define SURGE_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct conn;
struct options;
struct worker;
struct tls_client;

/* Checks what the options name (CA, client certificate and key, versions,
 * ALPN) by building a context, without a worker: the coordinator's check
 * before any traffic. Returns 0, or -EINVAL with err filled for people. */
int tls_options_check(const struct options *o, char *err, size_t errlen);

/* The worker's client context, or NULL when no target uses TLS. Returns 0 or
 * -EINVAL/-ENOMEM with err filled. */
int tls_client_new(struct worker *w, struct tls_client **out, char *err, size_t errlen);
/* Frees every connection's TLS state still in w->conns, then the context
 * (NULL-safe). */
void tls_client_free(struct worker *w, struct tls_client *t);

/* Whether connections to c's destination speak TLS. */
bool tls_conn_wanted(const struct worker *w, const struct conn *c);
/* The TCP connect of c completed: makes its SSL (SNI, expected name, cached
 * session). Returns 0 or -ENOMEM. */
int tls_conn_start(struct worker *w, struct conn *c);
/* Drives the handshake. Returns 0 when it completed (counted: tls_handshake
 * histogram, tls.full or tls.resumed, version and cipher), EV_READ or EV_WRITE
 * to wait for, or -1 with *cls the error class (ERR_TLS_VERIFY or
 * ERR_TLS_HANDSHAKE); the library's reason is logged once per reason. */
int tls_conn_handshake(struct worker *w, struct conn *c, int *cls);
/* The connect timeout fired during c's handshake: logs why and returns the
 * class to count (ERR_TLS_HANDSHAKE). */
int tls_conn_timed_out(struct worker *w, struct conn *c);
/* read(2) and write(2) through the session: bytes, 0 at end of stream (read),
 * or -1 with errno (EAGAIN: wait for readiness; EPROTO: a TLS failure, its
 * reason logged once).
 * A read fills buf as far as decrypted records allow; when it stopped because
 * buf was full and the library still holds data, it feeds the connection's
 * watcher a read event, since the socket will not signal it again. */
ssize_t tls_conn_read(struct worker *w, struct conn *c, void *buf, size_t n);
ssize_t tls_conn_write(struct worker *w, struct conn *c, const void *buf, size_t n);
/* A reader re-enabled reads (session backpressure released): records the
 * library already holds are delivered through a fed read event. */
void tls_conn_kick(struct worker *w, struct conn *c);
/* Ends c's session: close_notify when clean (best effort, never waits), then
 * frees the SSL. NULL-safe on c->tls. */
void tls_conn_free(struct conn *c, bool clean);

/* The same on any SSL (the built-in servers' too, serve_tls.h): *more is set
 * when buf filled up while the library still holds data. */
struct ssl_st;
ssize_t tls_ssl_read(struct ssl_st *ssl, void *buf, size_t n, bool *more);
ssize_t tls_ssl_write(struct ssl_st *ssl, const void *buf, size_t n);

/* Whether any target of the run speaks TLS. */
bool tls_options_used(const struct options *o);
/* Bytes of heap one idle client connection's TLS state holds with the run's
 * highest version, as tests/bench/bench_tls.py measured it with OpenSSL 3.0
 * (README "TLS"): what doctor counts into its plan. */
size_t tls_conn_bytes(const struct options *o);

#endif
