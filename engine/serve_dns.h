/*
 * serve_dns: the responder behind `surge serve dns` — answers each DNS query
 * (RFC 1035) with fixed A/AAAA records, NXDOMAIN under one suffix, FORMERR for
 * what does not parse. serve_dns_answer is the whole protocol as one pure
 * function over bytes; serve_dns_proto (serve.h) wraps it in u16 framing.
 */
#ifndef SURGE_SERVE_DNS_H
#define SURGE_SERVE_DNS_H

#include <stddef.h>
#include <stdint.h>

#define SERVE_DNS_NAME_MAX 255 /* RFC 1035 §3.1: octets of a wire-format name */
#define SERVE_DNS_EDNS_SIZE 1232 /* the UDP payload size our OPT advertises */

struct serve_dns_config {
	uint8_t a[4], aaaa[16];
	uint32_t ttl;
	uint8_t nx[SERVE_DNS_NAME_MAX]; /* NXDOMAIN suffix, wire form, lowercase */
	size_t nx_len;                  /* 0: no suffix answers NXDOMAIN */
};

/* What serve_dns_answer did, for the server's counters. */
enum serve_dns_kind {
	SERVE_DNS_ANSWER,   /* NOERROR, with or without records */
	SERVE_DNS_NXDOMAIN,
	SERVE_DNS_FORMERR,
	SERVE_DNS_NOTIMP,   /* an opcode other than QUERY */
	SERVE_DNS_REFUSED,  /* a class other than IN */
	SERVE_DNS_BADVERS,  /* EDNS version above 0 */
};

/* Defaults: A 198.18.0.1, AAAA 2001:2::1, TTL 300, NXDOMAIN under "nx.". */
void serve_dns_config_init(struct serve_dns_config *cfg);

/* Sets one option: key "answer-a", "answer-aaaa", "ttl" or "nxdomain" (a name;
 * "none" turns it off). Returns 0, -ENOENT for another key, or -EINVAL with
 * a message in err. */
int serve_dns_config_set(struct serve_dns_config *cfg, const char *key, const char *value,
			 char *err, size_t errlen);

/* The reply to one query message q of qlen bytes (no length prefix), written to
 * out (cap >= 512 always suffices). Returns the reply's length (what does not
 * parse, a response or a message shorter than a header among them, gets a
 * 12-byte FORMERR carrying the ID when there are 2 bytes of one), or 0 when cap
 * is below 512; *kind says what it was. */
size_t serve_dns_answer(const struct serve_dns_config *cfg, const uint8_t *q, size_t qlen,
			uint8_t *out, size_t cap, enum serve_dns_kind *kind);

#endif
