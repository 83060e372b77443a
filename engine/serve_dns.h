/*
 * serve_dns: the responder behind `surge serve dns` — answers each DNS query
 * (RFC 1035) with fixed A/AAAA records, NXDOMAIN under one suffix, FORMERR for
 * what does not parse. serve_dns_answer is the whole protocol as one pure
 * function over bytes; serve_dns_proto (serve.h) wraps it in u16 framing.
 */
#ifndef SURGE_SERVE_DNS_H
#define SURGE_SERVE_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SERVE_DNS_NAME_MAX 255 /* RFC 1035 §3.1: octets of a wire-format name */
#define SERVE_DNS_EDNS_SIZE 1232 /* the UDP payload size our OPT advertises */
#define SERVE_DNS_RECORDS_MAX 200 /* --records: addresses per answer */
/* Room for any reply: header, question, 200 A and 200 AAAA records, OPT. */
#define SERVE_DNS_REPLY_MAX (12 + 4 + SERVE_DNS_NAME_MAX + SERVE_DNS_RECORDS_MAX * 44 + 11)

struct serve_dns_config {
	uint8_t a[4], aaaa[16];
	uint32_t ttl;
	unsigned records; /* addresses per A or AAAA answer (default 1) */
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
 * out. Returns the reply's length (what does not parse, a response or a
 * message shorter than a header among them, gets a 12-byte FORMERR carrying
 * the ID when there are 2 bytes of one), or 0 when cap is below 512; *kind
 * says what it was. A reply larger than cap (SERVE_DNS_REPLY_MAX always
 * suffices) is sent truncated: TC set, no answer records. */
size_t serve_dns_answer(const struct serve_dns_config *cfg, const uint8_t *q, size_t qlen,
			uint8_t *out, size_t cap, enum serve_dns_kind *kind);

/* The same over UDP: the reply also fits the query's EDNS UDP payload size
 * (512 without OPT, never below 512); *tc says whether it was truncated. */
size_t serve_dns_answer_udp(const struct serve_dns_config *cfg, const uint8_t *q, size_t qlen,
			    uint8_t *out, size_t cap, enum serve_dns_kind *kind, bool *tc);

#endif
