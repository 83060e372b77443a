/*
 * serve_dns: a DNS responder over TCP (RFC 1035 §4.2.2, RFC 7766) for load
 * tests. Every query is parsed with bounds checks; the reply copies the ID,
 * the opcode, RD and the question, and carries fixed records, so what a client
 * measures is the network path and the client itself, not a zone lookup.
 */
#include "serve_dns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve.h"
#include "units.h"

enum { C_QUERIES, C_NXDOMAIN, C_FORMERR, C_NOTIMP, C_REFUSED, C_BADVERS, C_TRUNCATED };

enum {
	RCODE_NOERROR = 0,
	RCODE_FORMERR = 1,
	RCODE_NXDOMAIN = 3,
	RCODE_NOTIMP = 4,
	RCODE_REFUSED = 5,
	RCODE_BADVERS = 16, /* RFC 6891 §9: 12 bits, the upper 8 in the OPT TTL */
};

enum { T_A = 1, T_AAAA = 28, T_OPT = 41, T_ANY = 255, CLASS_IN = 1 };

#define HDR 12

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint8_t *put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return p + 2;
}

static uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

/* Presentation -> wire form, lowercased (RFC 1035 §3.1: labels 1-63 octets,
 * 255 in all; the trailing dot is optional). No escapes: this is a suffix for
 * test names. Returns the wire length, or 0 if invalid. */
static size_t name_to_wire(const char *s, uint8_t *out)
{
	size_t n = 0;

	if (strcmp(s, ".") == 0) {
		out[0] = 0;
		return 1;
	}
	while (*s) {
		const char *dot = strchr(s, '.');
		size_t l = dot ? (size_t)(dot - s) : strlen(s);
		if (l == 0 || l > 63 || n + 1 + l + 1 > SERVE_DNS_NAME_MAX)
			return 0;
		out[n++] = (uint8_t)l;
		for (size_t i = 0; i < l; i++)
			out[n++] = lower((uint8_t)s[i]);
		s += l;
		if (*s == '.')
			s++;
	}
	out[n++] = 0;
	return n;
}

void serve_dns_config_init(struct serve_dns_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	/* RFC 5737/3849 would put these in documentation space; 198.18.0.0/15 and
	 * 2001:2::/48 are the benchmarking ranges (RFC 2544, RFC 5180). */
	inet_pton(AF_INET, "198.18.0.1", cfg->a);
	inet_pton(AF_INET6, "2001:2::1", cfg->aaaa);
	cfg->ttl = 300;
	cfg->records = 1;
	cfg->nx_len = name_to_wire("nx.", cfg->nx);
}

int serve_dns_config_set(struct serve_dns_config *cfg, const char *key, const char *value,
			 char *err, size_t errlen)
{
	if (strcmp(key, "answer-a") == 0) {
		if (!value || inet_pton(AF_INET, value, cfg->a) != 1) {
			snprintf(err, errlen, "--answer-a '%s': expected an IPv4 address like 198.18.0.1",
				 value ? value : "");
			return -EINVAL;
		}
	} else if (strcmp(key, "answer-aaaa") == 0) {
		if (!value || inet_pton(AF_INET6, value, cfg->aaaa) != 1) {
			snprintf(err, errlen, "--answer-aaaa '%s': expected an IPv6 address like 2001:2::1",
				 value ? value : "");
			return -EINVAL;
		}
	} else if (strcmp(key, "ttl") == 0) {
		uint64_t ns;
		/* RFC 2181 §8: a TTL is 0 to 2^31 - 1 seconds. */
		if (!value || units_duration(value, &ns) || ns % 1000000000ull ||
		    ns / 1000000000ull > 0x7fffffffull) {
			snprintf(err, errlen, "--ttl '%s': expected whole seconds from 0 to 2147483647 (e.g. 300 or 5m)",
				 value ? value : "");
			return -EINVAL;
		}
		cfg->ttl = (uint32_t)(ns / 1000000000ull);
	} else if (strcmp(key, "records") == 0) {
		char *end = NULL;
		unsigned long n = value ? strtoul(value, &end, 10) : 0;
		if (!value || *end || n < 1 || n > SERVE_DNS_RECORDS_MAX) {
			snprintf(err, errlen, "--records '%s': expected a count from 1 to %d", value ? value : "",
				 SERVE_DNS_RECORDS_MAX);
			return -EINVAL;
		}
		cfg->records = (unsigned)n;
	} else if (strcmp(key, "nxdomain") == 0) {
		if (value && strcmp(value, "none") == 0) {
			cfg->nx_len = 0;
			return 0;
		}
		size_t n = value ? name_to_wire(value, cfg->nx) : 0;
		if (!n) {
			snprintf(err, errlen, "--nxdomain '%s': expected a domain name like nx. (or none)",
				 value ? value : "");
			return -EINVAL;
		}
		cfg->nx_len = n;
	} else {
		return -ENOENT;
	}
	return 0;
}

/* The end of the uncompressed name at q + off, or 0. A question name cannot
 * be compressed: a pointer could only aim into the header (RFC 1035 §4.1.4). */
static size_t question_name_end(const uint8_t *q, size_t len, size_t off)
{
	size_t total = 0;

	while (off < len) {
		uint8_t l = q[off];
		if (l == 0)
			return off + 1;
		if (l > 63)
			return 0;
		total += l + 1u;
		if (total + 1 > SERVE_DNS_NAME_MAX)
			return 0;
		off += l + 1u;
	}
	return 0;
}

/* The end of any (possibly compressed) owner name at off, or 0: pointers end
 * a name and are not followed — the server only needs to step over it. */
static size_t skip_name(const uint8_t *q, size_t len, size_t off)
{
	while (off < len) {
		uint8_t l = q[off];
		if (l == 0)
			return off + 1;
		if ((l & 0xc0) == 0xc0)
			return off + 2 <= len ? off + 2 : 0;
		if (l > 63)
			return 0;
		off += l + 1u;
	}
	return 0;
}

/* Whether the wire name (lowercase compare) ends with the suffix at a label
 * boundary: "a.b.nx." is under "nx.", "anx." is not. */
static bool under_suffix(const struct serve_dns_config *cfg, const uint8_t *name, size_t len)
{
	if (!cfg->nx_len)
		return false;
	for (size_t off = 0; off < len; off += name[off] + 1u) {
		if (len - off == cfg->nx_len) {
			for (size_t i = 0; i < cfg->nx_len; i++)
				if (lower(name[off + i]) != cfg->nx[i])
					return false;
			return true;
		}
		if (name[off] == 0)
			break;
	}
	return false;
}

/* A header-only reply: FORMERR (or NOTIMP) copies what it can of the ID,
 * opcode and RD (RFC 1035 §4.1.1), with every count 0. */
static size_t error_reply(const uint8_t *q, size_t qlen, uint8_t *out, unsigned rcode)
{
	memset(out, 0, HDR);
	if (qlen >= 2)
		memcpy(out, q, 2);
	out[2] = 0x80 | (qlen >= 3 ? (q[2] & 0x79) : 0); /* QR, opcode, RD */
	out[3] = (uint8_t)rcode;
	return HDR;
}

static uint8_t *put_rr(uint8_t *p, unsigned type, uint32_t ttl, const uint8_t *rdata, unsigned rdlen)
{
	p = put16(p, 0xc000 | HDR); /* the owner is the question's name (RFC 1035 §4.1.4) */
	p = put16(p, type);
	p = put16(p, CLASS_IN);
	p = put16(p, ttl >> 16);
	p = put16(p, ttl & 0xffff);
	p = put16(p, rdlen);
	memcpy(p, rdata, rdlen);
	return p + rdlen;
}

/* udp: the reply must also fit the client's UDP payload size (RFC 1035
 * §4.2.1: 512 without EDNS; RFC 6891 §6.2.3-6.2.5: the OPT's size, never
 * below 512). A reply that does not fit is truncated: TC set, the answer
 * section left out (RFC 2181 §9), the question and OPT kept. */
static size_t answer(const struct serve_dns_config *cfg, const uint8_t *q, size_t qlen,
		     uint8_t *out, size_t cap, enum serve_dns_kind *kind, bool udp, bool *tc)
{
	*kind = SERVE_DNS_FORMERR;
	*tc = false;
	if (cap < 512)
		return 0;
	if (qlen < HDR || (q[2] & 0x80))
		return error_reply(q, qlen, out, RCODE_FORMERR);
	if (q[2] & 0x78) { /* RFC 1035 §4.1.1: only the standard QUERY is implemented */
		*kind = SERVE_DNS_NOTIMP;
		return error_reply(q, qlen, out, RCODE_NOTIMP);
	}
	/* RFC 9619: a QUERY carries exactly one question. */
	if (get16(q + 4) != 1)
		return error_reply(q, qlen, out, RCODE_FORMERR);
	size_t qend = question_name_end(q, qlen, HDR);
	if (!qend || qend + 4 > qlen)
		return error_reply(q, qlen, out, RCODE_FORMERR);
	unsigned qtype = get16(q + qend), qclass = get16(q + qend + 2);
	size_t qsize = qend + 4 - HDR; /* name, type, class */

	/* The other sections: every record must fit (RFC 1035 §4.1.3); the OPT
	 * record, once at most, in the additional section, owned by the root
	 * (RFC 6891 §6.1.1). */
	unsigned an = get16(q + 6), ns = get16(q + 8), ar = get16(q + 10);
	size_t off = qend + 4;
	bool edns = false, do_bit = false;
	unsigned version = 0, udp_size = 512;
	for (unsigned i = 0; i < an + ns + ar; i++) {
		size_t e = skip_name(q, qlen, off);
		if (!e || e + 10 > qlen)
			return error_reply(q, qlen, out, RCODE_FORMERR);
		size_t next = e + 10 + get16(q + e + 8);
		if (next > qlen)
			return error_reply(q, qlen, out, RCODE_FORMERR);
		if (get16(q + e) == T_OPT) {
			if (edns || i < an + ns || e != off + 1)
				return error_reply(q, qlen, out, RCODE_FORMERR);
			edns = true;
			udp_size = get16(q + e + 2) > 512 ? get16(q + e + 2) : 512;
			version = q[e + 5];            /* RFC 6891 §6.1.3: TTL = ext-rcode, version, flags */
			do_bit = (q[e + 6] & 0x80) != 0; /* RFC 3225 §3: DO is copied into the response */
		}
		off = next;
	}
	if (off != qlen) /* bytes no count covers */
		return error_reply(q, qlen, out, RCODE_FORMERR);

	unsigned rcode = RCODE_NOERROR;
	*kind = SERVE_DNS_ANSWER;
	if (edns && version > 0) {
		rcode = RCODE_BADVERS; /* RFC 6891 §6.1.3: we speak version 0 */
		*kind = SERVE_DNS_BADVERS;
	} else if (qclass != CLASS_IN) {
		rcode = RCODE_REFUSED;
		*kind = SERVE_DNS_REFUSED;
	} else if (under_suffix(cfg, q + HDR, qend - HDR)) {
		rcode = RCODE_NXDOMAIN;
		*kind = SERVE_DNS_NXDOMAIN;
	}

	/* Header (RFC 1035 §4.1.1): ID and opcode copied, QR and AA set, RD copied. */
	uint8_t *p = out;
	memcpy(p, q, 2);
	p[2] = 0x80 | (q[2] & 0x79) | 0x04;
	p[3] = (uint8_t)(rcode & 0x0f);
	p += 4;
	unsigned nans = 0;
	bool want_a = rcode == RCODE_NOERROR && (qtype == T_A || qtype == T_ANY);
	bool want_aaaa = rcode == RCODE_NOERROR && (qtype == T_AAAA || qtype == T_ANY);
	nans = (want_a + want_aaaa) * cfg->records;
	size_t need = HDR + qsize + (want_a ? cfg->records * 16u : 0) +
		      (want_aaaa ? cfg->records * 28u : 0) + (edns ? 11u : 0);
	size_t limit = udp && udp_size < cap ? udp_size : cap;
	if (need > limit) {
		/* RFC 2181 §9: TC, and no partial RRset: the client asks again over TCP. */
		*tc = true;
		out[2] |= 0x02;
		nans = 0;
		want_a = want_aaaa = false;
	}
	p = put16(p, 1);
	p = put16(p, nans);
	p = put16(p, 0);
	p = put16(p, edns);
	memcpy(p, q + HDR, qsize); /* the question, as asked */
	p += qsize;
	/* --records N: N addresses counting up from the configured one. */
	for (unsigned i = 0; want_a && i < cfg->records; i++) {
		uint8_t a[4];
		memcpy(a, cfg->a, 4);
		a[3] = (uint8_t)(a[3] + i);
		p = put_rr(p, T_A, cfg->ttl, a, 4);
	}
	for (unsigned i = 0; want_aaaa && i < cfg->records; i++) {
		uint8_t a[16];
		memcpy(a, cfg->aaaa, 16);
		a[15] = (uint8_t)(a[15] + i);
		p = put_rr(p, T_AAAA, cfg->ttl, a, 16);
	}
	if (edns) {
		/* RFC 6891 §7: a query with OPT gets OPT back; §6.1.2-6.1.3 layout. */
		*p++ = 0;
		p = put16(p, T_OPT);
		p = put16(p, SERVE_DNS_EDNS_SIZE);
		*p++ = (uint8_t)(rcode >> 4);
		*p++ = 0;
		*p++ = do_bit ? 0x80 : 0;
		*p++ = 0;
		p = put16(p, 0);
	}
	return (size_t)(p - out);
}

size_t serve_dns_answer(const struct serve_dns_config *cfg, const uint8_t *q, size_t qlen,
			uint8_t *out, size_t cap, enum serve_dns_kind *kind)
{
	bool tc;
	return answer(cfg, q, qlen, out, cap, kind, false, &tc);
}

size_t serve_dns_answer_udp(const struct serve_dns_config *cfg, const uint8_t *q, size_t qlen,
			    uint8_t *out, size_t cap, enum serve_dns_kind *kind, bool *tc)
{
	return answer(cfg, q, qlen, out, cap, kind, true, tc);
}

/* ---- the serve_proto: u16 framing (RFC 1035 §4.2.2), one reply per query ---- */

static void *dns_config_new(void)
{
	struct serve_dns_config *cfg = malloc(sizeof(*cfg));
	if (cfg)
		serve_dns_config_init(cfg);
	return cfg;
}

static int dns_option(void *config, const char *key, const char *value, char *err, size_t errlen)
{
	return serve_dns_config_set(config, key, value, err, errlen);
}

static void dns_config_free(void *config)
{
	free(config);
}

/* What one reply was, in the protocol's counters. */
static void count_kind(uint64_t *counters, enum serve_dns_kind kind)
{
	static const int8_t idx[] = { [SERVE_DNS_ANSWER] = -1, [SERVE_DNS_NXDOMAIN] = C_NXDOMAIN,
				      [SERVE_DNS_FORMERR] = C_FORMERR, [SERVE_DNS_NOTIMP] = C_NOTIMP,
				      [SERVE_DNS_REFUSED] = C_REFUSED, [SERVE_DNS_BADVERS] = C_BADVERS };
	counters[C_QUERIES]++;
	if (idx[kind] >= 0)
		counters[idx[kind]]++;
}

static ssize_t dns_input(struct serve_conn *c, void *state, const uint8_t *in, size_t len)
{
	const struct serve_dns_config *cfg = serve_conn_config(c);
	uint8_t reply[2 + SERVE_DNS_REPLY_MAX];
	uint64_t counters[SERVE_MAX_COUNTERS] = { 0 };
	enum serve_dns_kind kind;

	if (len < 2)
		return 0;
	size_t mlen = get16(in);
	if (len < 2 + mlen)
		return 0;
	size_t n = serve_dns_answer(cfg, in + 2, mlen, reply + 2, sizeof(reply) - 2, &kind);
	put16(reply, (unsigned)n);
	count_kind(counters, kind);
	for (unsigned i = 0; i <= C_BADVERS; i++)
		if (counters[i])
			serve_conn_count(c, i, counters[i]);
	if (serve_conn_reply(c, reply, n + 2))
		return -1;
	return (ssize_t)(2 + mlen);
}

/* UDP (RFC 1035 §4.2.1): the datagram is the message; TC above the client's size. */
static size_t dns_datagram(void *config, const uint8_t *in, size_t len, uint8_t *out, size_t cap,
			   uint64_t *counters)
{
	enum serve_dns_kind kind;
	bool tc;
	size_t n = serve_dns_answer_udp(config, in, len, out, cap, &kind, &tc);
	count_kind(counters, kind);
	counters[C_TRUNCATED] += tc;
	return n;
}

const struct serve_proto serve_dns_proto = {
	.name = "dns",
	.usage = "  --answer-a ADDR      the A record for every name (default 198.18.0.1)\n"
		 "  --answer-aaaa ADDR   the AAAA record for every name (default 2001:2::1)\n"
		 "  --ttl SECONDS        TTL of those records (default 300)\n"
		 "  --nxdomain SUFFIX    NXDOMAIN for names under SUFFIX (default nx.; none: off)\n"
		 "  --records N          N addresses per A/AAAA answer, counting up (default 1):\n"
		 "                       large answers, to see TC over UDP\n"
		 "  DNS over TCP (RFC 7766): 2-byte length, then the message; pipelined queries\n"
		 "  are answered in order. DNS over UDP on the same port: one query a datagram,\n"
		 "  TC set when the answer exceeds the query's EDNS size (512 without EDNS);\n"
		 "  --delay, --stall and --drop apply to UDP too. Other types get an empty\n"
		 "  NOERROR; malformed queries FORMERR, opcodes other than QUERY NOTIMP,\n"
		 "  classes other than IN REFUSED.\n",
	.counter_names = { "queries", "nxdomain", "formerr", "notimp", "refused", "badvers",
			   "truncated", NULL },
	.garbage_keep = 4, /* the length prefix and the ID */
	.config_new = dns_config_new,
	.option = dns_option,
	.config_free = dns_config_free,
	.on_input = dns_input,
	.on_datagram = dns_datagram,
};
