/* tls_bio: the socket under a TLS connection, as OpenSSL's socket BIO is,
 * except that reads keep the kernel's arrival time (rxtime.h) in the
 * worker's rx_ns: a decrypted answer's latency ends when its bytes came,
 * and a TLS worker can tick (dispatch.c) like a plain one. */
#ifndef SURGE_TLS_BIO_H
#define SURGE_TLS_BIO_H

#include <stdint.h>

struct bio_st;
struct bio_method_st;
struct worker;

/* The method, made once per worker. NULL when OpenSSL is out of memory. */
struct bio_method_st *tls_bio_method_new(void);
void tls_bio_method_free(struct bio_method_st *m);

/* A BIO over fd (not closed with it) that stamps w->rx_ns; NULL on ENOMEM. */
struct bio_st *tls_bio_new(const struct bio_method_st *m, struct worker *w, int fd);

/* The stamp of its last socket read that brought data (0: none yet): when
 * the library returns records it already held, they came by then. */
uint64_t tls_bio_last_at(const struct bio_st *b);

#endif
