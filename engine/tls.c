/*
 * tls: the client side of TLS with OpenSSL 3 on a libev loop. One SSL_CTX
 * per worker, one SSL per connection, a few resumable tickets per destination.
 * Everything is non-blocking: the handshake is stepped from the connection's
 * io watcher (WANT_READ / WANT_WRITE pick the events), reads and writes keep
 * read(2) and write(2)'s contract so conn.c stays the one place that frames,
 * batches and counts.
 */
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "clock.h"
#include "conn.h"
#include "tls_bio.h"
#include "worker.h"

/* TLS 1.3 tickets kept per destination: a server sends one or two per
 * handshake, each is used once (RFC 8446 C.4) while others remain. */
#define TLS_TICKETS 8

/* Reasons already logged by this worker: the coordinator's msglog prints
 * each kind once anyway, this only spares the pipe a line per failure. */
#define TLS_LOGGED_MAX 32

struct tls_target {
	char *name;   /* sent as SNI and checked against the certificate; NULL: none */
	bool is_ip;   /* name is an address literal: checked, never sent as SNI */
};

/* A destination's resumable sessions, newest last. */
struct tls_tickets {
	SSL_SESSION *s[TLS_TICKETS];
	unsigned n;
};

struct tls_client {
	struct worker *w;
	SSL_CTX *ctx;
	BIO_METHOD *bio; /* tls_bio.h: sockets whose reads keep the arrival time */
	struct tls_target *targets; /* per options.targets */
	size_t ntargets;
	struct tls_tickets *tickets; /* per destination index */
	uint32_t ntickets;
	/* named stats ids (-1: none): counters, then tls_handshake and its
	 * split into full and resumed handshakes (their costs differ) */
	int id_resumed, id_full, id_hist, id_hist_full, id_hist_resumed;
	/* tls.version.* and tls.cipher.* ids by the library's static name
	 * strings: a handshake finds its counters without a name search */
	struct {
		const char *what;
		int id;
	} named[8];
	unsigned nnamed;
	char detail[256];  /* what the verify callback saw (names presented) */
	uint64_t logged[TLS_LOGGED_MAX];
	unsigned nlogged;
};

static int ex_conn = -1; /* SSL ex_data index of the struct conn */
/* SSL ex_data index of the handshake's start (ns, as a uintptr_t): kept
 * with the SSL rather than in every struct conn, TLS or not. */
static int ex_started = -1;
_Static_assert(sizeof(uintptr_t) >= sizeof(uint64_t), "a clock_ns() fits an ex_data slot");

/* ---- context ---- */

/* "dot,h2" -> ALPN wire format (length-prefixed). Returns bytes or -1. */
static int alpn_wire(const char *list, unsigned char *out, size_t cap)
{
	size_t n = 0;

	for (const char *p = list; *p;) {
		size_t len = strcspn(p, ",");
		if (len == 0 || len > 255 || n + 1 + len > cap)
			return -1;
		out[n++] = (unsigned char)len;
		memcpy(out + n, p, len);
		n += len;
		p += len;
		if (*p == ',')
			p++;
	}
	return (int)n;
}

/* The library's reason for the last failure, emptied from its queue. */
static const char *lib_reason(char *buf, size_t len)
{
	unsigned long e = ERR_peek_last_error();

	if (!e)
		snprintf(buf, len, "no reason given");
	else
		ERR_error_string_n(e, buf, len);
	ERR_clear_error();
	return buf;
}

static int new_session_cb(SSL *ssl, SSL_SESSION *sess);
static int verify_cb(int ok, X509_STORE_CTX *store);

static SSL_CTX *ctx_new(const struct tls_options *x, char *err, size_t errlen)
{
	char why[256];
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (!ctx) {
		snprintf(err, errlen, "TLS: cannot create a context: %s", lib_reason(why, sizeof(why)));
		return NULL;
	}
	/* Idle connections give their record buffers back; writes may be
	 * partial and are retried from conn.c's buffer, which may have moved
	 * and grown since. A peer that closes without close_notify (most DNS
	 * servers) ends the stream, it is not an error. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
				      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* One read(2) takes every record the kernel holds, not a header and
	 * a body per record. */
	SSL_CTX_set_read_ahead(ctx, 1);
	if ((x->min_version && !SSL_CTX_set_min_proto_version(ctx, x->min_version)) ||
	    (x->max_version && !SSL_CTX_set_max_proto_version(ctx, x->max_version))) {
		snprintf(err, errlen, "option 'tls': this OpenSSL refuses the version range");
		goto fail;
	}
	if (x->verify) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_cb);
		if (x->ca ? !SSL_CTX_load_verify_locations(ctx, x->ca, NULL)
			  : !SSL_CTX_set_default_verify_paths(ctx)) {
			snprintf(err, errlen, "option 'tls': cannot load CA certificates from %s: %s",
				 x->ca ? x->ca : "the system's store", lib_reason(why, sizeof(why)));
			goto fail;
		}
	} else {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	}
	if (x->cert) {
		const char *key = x->key ? x->key : x->cert;
		if (!SSL_CTX_use_certificate_chain_file(ctx, x->cert)) {
			snprintf(err, errlen, "option 'tls': cannot load the client certificate %s: %s",
				 x->cert, lib_reason(why, sizeof(why)));
			goto fail;
		}
		if (!SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) ||
		    !SSL_CTX_check_private_key(ctx)) {
			snprintf(err, errlen, "option 'tls': cannot use the key %s with %s: %s", key,
				 x->cert, lib_reason(why, sizeof(why)));
			goto fail;
		}
	}
	if (x->alpn) {
		unsigned char wire[512];
		int n = alpn_wire(x->alpn, wire, sizeof(wire));
		if (n <= 0 || SSL_CTX_set_alpn_protos(ctx, wire, (unsigned)n) != 0) {
			snprintf(err, errlen, "option 'tls': bad alpn list '%s'", x->alpn);
			goto fail;
		}
	}
	if (x->resume) {
		/* The client cache is ours (one session per destination), not
		 * OpenSSL's internal store, which clients never look up. */
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
							    SSL_SESS_CACHE_NO_INTERNAL_STORE);
		SSL_CTX_sess_set_new_cb(ctx, new_session_cb);
	} else {
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

bool tls_options_used(const struct options *o)
{
	for (size_t i = 0; i < o->ntargets; i++)
		if (o->targets[i].tls)
			return true;
	return false;
}

size_t tls_conn_bytes(const struct options *o)
{
	/* 19.3 and 11.9 KiB measured at 10000 connections, plus a margin */
	return o->tls.max_version == TLS1_2_VERSION ? 14u * 1024 : 22u * 1024;
}

int tls_options_check(const struct options *o, char *err, size_t errlen)
{
	if (!tls_options_used(o))
		return 0;
	SSL_CTX *ctx = ctx_new(&o->tls, err, errlen);
	if (!ctx)
		return -EINVAL;
	SSL_CTX_free(ctx);
	return 0;
}

int tls_client_new(struct worker *w, struct tls_client **out, char *err, size_t errlen)
{
	const struct options *o = w->opt;
	struct tls_client *t;

	*out = NULL;
	if (!tls_options_used(o))
		return 0;
	if ((ex_conn < 0 && (ex_conn = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL)) < 0) ||
	    (ex_started < 0 &&
	     (ex_started = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL)) < 0)) {
		snprintf(err, errlen, "TLS: out of memory");
		return -ENOMEM;
	}
	t = calloc(1, sizeof(*t));
	if (!t || !(t->targets = calloc(o->ntargets, sizeof(*t->targets))))
		goto nomem;
	t->w = w;
	t->ntargets = o->ntargets;
	for (size_t i = 0; i < o->ntargets; i++) {
		const char *name = o->tls.sni ? o->tls.sni : o->targets[i].host;
		unsigned char a[16];
		t->targets[i].is_ip = !o->tls.sni && (inet_pton(AF_INET, name, a) == 1 ||
						      inet_pton(AF_INET6, name, a) == 1);
		if (!(t->targets[i].name = strdup(name)))
			goto nomem;
	}
	t->ctx = ctx_new(&o->tls, err, errlen);
	if (!t->ctx) {
		tls_client_free(w, t);
		return -EINVAL;
	}
	SSL_CTX_set_app_data(t->ctx, t);
	if (!(t->bio = tls_bio_method_new()))
		goto nomem;
	t->id_resumed = stats_counter_id(&w->stats, "tls.resumed");
	t->id_full = stats_counter_id(&w->stats, "tls.full");
	t->id_hist = stats_hist_id(&w->stats, "tls_handshake");
	t->id_hist_full = t->id_hist_resumed = -2; /* registered when first seen */
	*out = t;
	return 0;
nomem:
	tls_client_free(w, t);
	snprintf(err, errlen, "TLS: out of memory");
	return -ENOMEM;
}

void tls_client_free(struct worker *w, struct tls_client *t)
{
	for (uint32_t i = 0; w->conns && i < w->nconns; i++)
		tls_conn_free(&w->conns[i], false);
	if (!t)
		return;
	for (size_t i = 0; t->targets && i < t->ntargets; i++)
		free(t->targets[i].name);
	free(t->targets);
	for (uint32_t i = 0; i < t->ntickets; i++)
		for (unsigned k = 0; k < t->tickets[i].n; k++)
			SSL_SESSION_free(t->tickets[i].s[k]);
	free(t->tickets);
	SSL_CTX_free(t->ctx);
	tls_bio_method_free(t->bio);
	free(t);
}

/* ---- sessions ---- */

/* A ticket arrived (TLS 1.3: after the handshake, read with the first
 * records; TLS 1.2: at its end): it joins the destination's, the oldest
 * dropped when they are full. Returns 1: kept. */
static int new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
	struct tls_client *t = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	struct conn *c = SSL_get_ex_data(ssl, ex_conn);

	if (!t || !c)
		return 0;
	if (c->dest >= t->ntickets) {
		uint32_t n = c->dest + 16;
		struct tls_tickets *k = realloc(t->tickets, n * sizeof(*k));
		if (!k)
			return 0;
		memset(k + t->ntickets, 0, (n - t->ntickets) * sizeof(*k));
		t->tickets = k;
		t->ntickets = n;
	}
	struct tls_tickets *k = &t->tickets[c->dest];
	if (k->n == TLS_TICKETS) {
		SSL_SESSION_free(k->s[0]);
		memmove(k->s, k->s + 1, (TLS_TICKETS - 1) * sizeof(k->s[0]));
		k->n--;
	}
	k->s[k->n++] = sess;
	return 1;
}

/* The session to resume c's destination with, referenced for the caller,
 * or NULL. A TLS 1.3 ticket is taken (used once) while others remain; the
 * last one is lent as a copy, because a handshake that resumes with a
 * session marks it not resumable (OpenSSL's tls_finish_handshake), and when
 * more connections reconnect at once than tickets arrived (a storm of 5000
 * against a server that sends 2 per handshake) every one of them would
 * otherwise pay a full handshake; servers with stateless tickets (OpenSSL's,
 * unbound's) take a ticket twice. A TLS 1.2 session stays for every later
 * connection, as TLS 1.2 resumes it. */
static SSL_SESSION *ticket_take(struct tls_client *t, uint32_t dest)
{
	struct tls_tickets *k = dest < t->ntickets ? &t->tickets[dest] : NULL;

	while (k && k->n) {
		SSL_SESSION *s = k->s[k->n - 1];
		if (!SSL_SESSION_is_resumable(s)) {
			SSL_SESSION_free(s);
			k->n--;
			continue;
		}
		if (SSL_SESSION_get_protocol_version(s) < TLS1_3_VERSION) {
			SSL_SESSION_up_ref(s);
			return s;
		}
		if (k->n == 1)
			return SSL_SESSION_dup(s);
		k->n--;
		return s;
	}
	return NULL;
}

/* ---- verification ---- */

/* The names a certificate presents: its subjectAltNames, or its CN. */
static void presented_names(X509 *cert, char *buf, size_t len)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	size_t n = 0;

	buf[0] = '\0';
	for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens) && n + 1 < len; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		char ip[INET6_ADDRSTRLEN] = "";
		if (g->type == GEN_DNS) {
			n += (size_t)snprintf(buf + n, len - n, "%sDNS:%.*s", n ? ", " : "",
					      ASN1_STRING_length(g->d.dNSName),
					      (const char *)ASN1_STRING_get0_data(g->d.dNSName));
		} else if (g->type == GEN_IPADD) {
			int l = ASN1_STRING_length(g->d.iPAddress);
			const unsigned char *a = ASN1_STRING_get0_data(g->d.iPAddress);
			inet_ntop(l == 16 ? AF_INET6 : AF_INET, a, ip, sizeof(ip));
			n += (size_t)snprintf(buf + n, len - n, "%sIP:%s", n ? ", " : "", ip);
		}
	}
	GENERAL_NAMES_free(gens);
	if (n == 0) {
		char cn[128] = "";
		X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn));
		snprintf(buf, len, "CN=%s", cn[0] ? cn : "(none)");
	}
}

/* Keeps OpenSSL's verdict; only notes what the server presented when its
 * name is the problem, so the log can name both. */
static int verify_cb(int ok, X509_STORE_CTX *store)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct tls_client *t = ssl ? SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)) : NULL;
	int e = X509_STORE_CTX_get_error(store);

	if (!ok && t && X509_STORE_CTX_get_error_depth(store) == 0 &&
	    (e == X509_V_ERR_HOSTNAME_MISMATCH || e == X509_V_ERR_IP_ADDRESS_MISMATCH) &&
	    X509_STORE_CTX_get_current_cert(store))
		presented_names(X509_STORE_CTX_get_current_cert(store), t->detail, sizeof(t->detail));
	return ok;
}

/* ---- connections ---- */

bool tls_conn_wanted(const struct worker *w, const struct conn *c)
{
	uint32_t tg = w->dests.d[c->dest].target;
	return tg < w->opt->ntargets && w->opt->targets[tg].tls;
}

int tls_conn_start(struct worker *w, struct conn *c)
{
	struct tls_client *t = w->tls;
	const struct tls_target *tg = &t->targets[w->dests.d[c->dest].target];
	SSL *ssl = SSL_new(t->ctx);

	BIO *bio = ssl ? tls_bio_new(t->bio, w, c->io.fd) : NULL;

	if (!bio)
		goto fail;
	SSL_set_bio(ssl, bio, bio); /* the SSL owns it from here */
	if (!SSL_set_ex_data(ssl, ex_conn, c))
		goto fail;
	if (!tg->is_ip && !SSL_set_tlsext_host_name(ssl, tg->name))
		goto fail;
	if (w->opt->tls.verify) {
		if (tg->is_ip ? !X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), tg->name)
			      : !SSL_set1_host(ssl, tg->name))
			goto fail;
	}
	if (w->opt->tls.resume) {
		SSL_SESSION *sess = ticket_take(t, c->dest);
		int set = !sess || SSL_set_session(ssl, sess);
		SSL_SESSION_free(sess); /* the SSL holds its own reference */
		if (!set)
			goto fail;
	}
	SSL_set_connect_state(ssl);
	if (!SSL_set_ex_data(ssl, ex_started, (void *)(uintptr_t)clock_ns()))
		goto fail;
	c->tls = ssl;
	return 0;
fail:
	SSL_free(ssl);
	ERR_clear_error();
	return -ENOMEM;
}

/* what: a string of the library's that stays (SSL_get_version's, a
 * cipher's name), so its address is its identity. */
static void count_named(struct worker *w, const char *prefix, const char *what)
{
	struct tls_client *t = w->tls;
	char name[STATS_NAME_MAX];
	int id = -1;
	unsigned i;

	for (i = 0; i < t->nnamed; i++)
		if (t->named[i].what == what)
			break;
	if (i < t->nnamed) {
		id = t->named[i].id;
	} else {
		snprintf(name, sizeof(name), "%s%s", prefix, what ? what : "unknown");
		id = stats_counter_id(&w->stats, name);
		if (id >= 0 && what && t->nnamed < sizeof(t->named) / sizeof(t->named[0])) {
			t->named[t->nnamed].what = what;
			t->named[t->nnamed++].id = id;
		}
	}
	if (id >= 0)
		w->stats.ncounter[id].value++;
}

static void count_id(struct worker *w, int id)
{
	if (id >= 0)
		w->stats.ncounter[id].value++;
}

/* Logs "TLS verify failed for 127.0.0.1:853: ..." once per reason. */
static void log_once(struct worker *w, const char *what, const struct conn *c, const char *reason)
{
	struct tls_client *t = w->tls;
	uint64_t h = 1469598103934665603ull;

	for (const char *p = what; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	for (const char *p = reason; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	for (unsigned i = 0; i < t->nlogged; i++)
		if (t->logged[i] == h)
			return;
	if (t->nlogged < TLS_LOGGED_MAX)
		t->logged[t->nlogged++] = h;
	worker_log(w, "TLS %s failed with %s: %s", what, w->dests.d[c->dest].label, reason);
}

static int handshake_failed(struct worker *w, struct conn *c, int ret, int *cls)
{
	struct tls_client *t = w->tls;
	SSL *ssl = c->tls;
	int e = SSL_get_error(ssl, ret);
	long vr = SSL_get_verify_result(ssl);
	char reason[512], lib[256];

	if (w->opt->tls.verify && vr != X509_V_OK) {
		const struct tls_target *tg = &t->targets[w->dests.d[c->dest].target];
		if (t->detail[0])
			snprintf(reason, sizeof(reason), "%s: expected %s, presented %s",
				 X509_verify_cert_error_string(vr), tg->name, t->detail);
		else
			snprintf(reason, sizeof(reason), "%s", X509_verify_cert_error_string(vr));
		ERR_clear_error();
		*cls = ERR_TLS_VERIFY;
		log_once(w, "verify", c, reason);
		return -1;
	}
	if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
		snprintf(reason, sizeof(reason), "%s during the handshake",
			 errno ? strerror(errno) : "the server closed the connection");
	else
		snprintf(reason, sizeof(reason), "%s", lib_reason(lib, sizeof(lib)));
	ERR_clear_error();
	*cls = ERR_TLS_HANDSHAKE;
	log_once(w, "handshake", c, reason);
	return -1;
}

int tls_conn_handshake(struct worker *w, struct conn *c, int *cls)
{
	struct tls_client *t = w->tls;
	SSL *ssl = c->tls;

	ERR_clear_error();
	errno = 0;
	t->detail[0] = '\0';
	int ret = SSL_do_handshake(ssl);
	if (ret != 1) {
		switch (SSL_get_error(ssl, ret)) {
		case SSL_ERROR_WANT_READ:
			return EV_READ;
		case SSL_ERROR_WANT_WRITE:
			return EV_WRITE;
		default:
			return handshake_failed(w, c, ret, cls);
		}
	}
	int64_t ns = (int64_t)(clock_ns() - (uintptr_t)SSL_get_ex_data(ssl, ex_started));
	bool resumed = SSL_session_reused(ssl);
	int *slot = resumed ? &t->id_hist_resumed : &t->id_hist_full;
	if (*slot == -2)
		*slot = stats_hist_id(&w->stats, resumed ? "tls_handshake.resumed"
							  : "tls_handshake.full");
	int split = *slot;
	if (t->id_hist >= 0)
		hist_record(w->stats.nhist[t->id_hist].h, ns);
	if (split >= 0)
		hist_record(w->stats.nhist[split].h, ns);
	count_id(w, resumed ? t->id_resumed : t->id_full);
	count_named(w, "tls.version.", SSL_get_version(ssl));
	count_named(w, "tls.cipher.", SSL_get_cipher_name(ssl));
	return 0;
}

int tls_conn_timed_out(struct worker *w, struct conn *c)
{
	char reason[96];

	snprintf(reason, sizeof(reason), "no handshake within the connect timeout (%.3g s)",
		 (double)w->opt->connect_timeout_ns / 1e9);
	log_once(w, "handshake", c, reason);
	return ERR_TLS_HANDSHAKE;
}

/* SSL_free_buffers is safe from OpenSSL 3.0.14 on (CVE-2024-4741: before,
 * it could free a buffer a half-processed record still used); older ones
 * keep the buffer, and the memory. */
static void free_buffers(SSL *ssl)
{
	static int safe = -1;

	if (safe < 0)
		safe = OpenSSL_version_num() >= 0x300000e0L;
	if (safe)
		SSL_free_buffers(ssl);
}

ssize_t tls_ssl_read(struct ssl_st *ssl, void *buf, size_t n, bool *more)
{
	size_t got = 0;

	*more = false;
	ERR_clear_error();
	while (got < n) {
		size_t want = n - got > INT_MAX ? INT_MAX : n - got;
		int r = SSL_read(ssl, (uint8_t *)buf + got, (int)want);
		if (r > 0) {
			got += (size_t)r;
			/* Nothing left in the library: the socket's readiness
			 * says whether more came, without a read for EAGAIN. */
			if (!SSL_has_pending(ssl))
				break;
			continue;
		}
		int e = SSL_get_error(ssl, r);
		if (got)
			break; /* what was read first; the condition recurs on the next read */
		switch (e) {
		case SSL_ERROR_WANT_READ:
		case SSL_ERROR_WANT_WRITE:
			free_buffers(ssl); /* refused while a record is half read */
			errno = EAGAIN;
			return -1;
		case SSL_ERROR_ZERO_RETURN:
			return 0;
		case SSL_ERROR_SYSCALL:
			if (ERR_peek_error() == 0) {
				if (errno == 0)
					return 0;
				return -1;
			}
			/* fall through */
		default:
			errno = EPROTO; /* the reason stays queued for the caller */
			return -1;
		}
	}
	/* Stopped with buf full: records the library already took from the
	 * socket would wait for readiness that never comes. */
	*more = got == n && SSL_has_pending(ssl);
	/* SSL_MODE_RELEASE_BUFFERS misses the read buffer after TLS 1.3's
	 * post-handshake messages (session tickets): an idle connection kept
	 * it, ~12 KiB of its ~32 (bench_tls). Nothing half-read: give it back. */
	if (!*more)
		free_buffers(ssl);
	return (ssize_t)got;
}

/* A TLS failure after the handshake: a fatal alert (TLS 1.3 servers refuse
 * a client certificate only after the client's handshake completed) or a
 * bad record. Logged once per reason; conn.c counts EPROTO as tls_handshake. */
static void conn_failed(struct worker *w, struct conn *c)
{
	char why[256];

	log_once(w, "connection", c, lib_reason(why, sizeof(why)));
}

ssize_t tls_conn_read(struct worker *w, struct conn *c, void *buf, size_t n)
{
	bool more;
	ssize_t r = tls_ssl_read(c->tls, buf, n, &more);

	/* Records the library held from an earlier socket read came by then. */
	if (r > 0 && !w->rx_ns)
		w->rx_ns = tls_bio_last_at(SSL_get_rbio(c->tls));

	if (r < 0 && errno == EPROTO) {
		conn_failed(w, c);
		errno = EPROTO;
	}
	if (more)
		ev_feed_event(w->loop, &c->io, EV_READ);
	return r;
}

ssize_t tls_ssl_write(struct ssl_st *ssl, const void *buf, size_t n)
{
	if (n == 0)
		return 0;
	ERR_clear_error();
	errno = 0;
	int r = SSL_write(ssl, buf, n > INT_MAX ? INT_MAX : (int)n);
	if (r > 0)
		return r;
	switch (SSL_get_error(ssl, r)) {
	case SSL_ERROR_WANT_WRITE:
	case SSL_ERROR_WANT_READ:
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_error() == 0) {
			if (errno == 0)
				errno = EPIPE;
			return -1;
		}
		/* fall through */
	default:
		errno = EPROTO; /* the reason stays queued for the caller */
		return -1;
	}
}

ssize_t tls_conn_write(struct worker *w, struct conn *c, const void *buf, size_t n)
{
	ssize_t r = tls_ssl_write(c->tls, buf, n);

	if (r < 0 && errno == EPROTO) {
		conn_failed(w, c);
		errno = EPROTO;
	}
	return r;
}

void tls_conn_kick(struct worker *w, struct conn *c)
{
	if (c->tls && SSL_has_pending(c->tls))
		ev_feed_event(w->loop, &c->io, EV_READ);
}

void tls_conn_free(struct conn *c, bool clean)
{
	if (!c->tls)
		return;
	/* Freed without a shutdown, OpenSSL takes the connection's session for
	 * a bad one and marks it not resumable, and in TLS 1.3 that is one of
	 * the destination's tickets, the newest: a server that just closes (close-after,
	 * idle timeout) would cost every reconnect a full handshake. */
	if (SSL_is_init_finished(c->tls)) {
		if (clean)
			SSL_shutdown(c->tls); /* sends close_notify if the socket takes it */
		else
			SSL_set_shutdown(c->tls, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
	}
	SSL_free(c->tls);
	ERR_clear_error();
	c->tls = NULL;
}
