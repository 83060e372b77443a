/* serve_dns: answers against hand-built wire bytes, options, and malformed,
 * truncated and random queries (a fixed-seed fuzz loop, bounded in count). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "serve_dns.h"
#include "tap.h"

/* example.com A IN, ID 0x1234, RD (RFC 1035 §4.1.1-4.1.2). */
static const uint8_t q_a[] = {
	0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
	7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0, 1, 0, 1,
};

static size_t build(uint8_t *q, const char *wire_name, size_t nlen, unsigned qtype, unsigned qclass,
		    int opt_version, int do_bit)
{
	uint8_t *p = q;
	memcpy(p, "\xab\xcd\x01\x00\x00\x01\x00\x00\x00\x00\x00", 11);
	p[11] = opt_version >= 0;
	p += 12;
	memcpy(p, wire_name, nlen);
	p += nlen;
	*p++ = (uint8_t)(qtype >> 8);
	*p++ = (uint8_t)qtype;
	*p++ = (uint8_t)(qclass >> 8);
	*p++ = (uint8_t)qclass;
	if (opt_version >= 0) {
		/* RFC 6891 §6.1.2: root, OPT, 4096, ext-rcode 0, version, DO, rdlen 0 */
		const uint8_t opt[] = { 0, 0, 41, 0x10, 0, 0, (uint8_t)opt_version, do_bit ? 0x80 : 0, 0, 0, 0 };
		memcpy(p, opt, sizeof(opt));
		p += sizeof(opt);
	}
	return (size_t)(p - q);
}

static uint64_t rng = 0x2545f4914f6cdd1dull;
static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 32);
}

int main(void)
{
	struct serve_dns_config cfg;
	uint8_t out[600], q[600];
	enum serve_dns_kind kind;
	char err[200];
	size_t n;

	serve_dns_config_init(&cfg);

	/* A query: header, question copied, one A record pointing at the question. */
	static const uint8_t want_a[] = {
		0x12, 0x34, 0x85, 0x00, 0, 1, 0, 1, 0, 0, 0, 0,
		7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0, 1, 0, 1,
		0xc0, 12, 0, 1, 0, 1, 0, 0, 0x01, 0x2c, 0, 4, 198, 18, 0, 1,
	};
	n = serve_dns_answer(&cfg, q_a, sizeof(q_a), out, sizeof(out), &kind);
	ok(n == sizeof(want_a) && memcmp(out, want_a, n) == 0 && kind == SERVE_DNS_ANSWER,
	   "A query: ID, QR|AA|RD, question, 198.18.0.1 TTL 300");

	/* AAAA with EDNS and DO: the record and an OPT echoing DO (RFC 3225 §3). */
	static const char ex[] = "\x07" "example\x03" "com";
	size_t ql = build(q, ex, sizeof(ex), 28, 1, 0, 1);
	n = serve_dns_answer(&cfg, q, ql, out, sizeof(out), &kind);
	static const uint8_t aaaa_rr[] = { 0xc0, 12, 0, 28, 0, 1, 0, 0, 0x01, 0x2c, 0, 16,
					  0x20, 0x01, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
	static const uint8_t opt_rr[] = { 0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 0 };
	ok(n == 12 + 17 + sizeof(aaaa_rr) + sizeof(opt_rr) && out[7] == 1 && out[11] == 1 &&
		   memcmp(out + 29, aaaa_rr, sizeof(aaaa_rr)) == 0 &&
		   memcmp(out + 29 + sizeof(aaaa_rr), opt_rr, sizeof(opt_rr)) == 0,
	   "AAAA with EDNS: 2001:2::1 and an OPT with DO set, payload 1232");

	/* ANY: both records; MX: NOERROR, no records (NODATA). */
	ql = build(q, ex, sizeof(ex), 255, 1, -1, 0);
	n = serve_dns_answer(&cfg, q, ql, out, sizeof(out), &kind);
	is_int(out[7], 2, "ANY: A and AAAA");
	ql = build(q, ex, sizeof(ex), 15, 1, -1, 0);
	n = serve_dns_answer(&cfg, q, ql, out, sizeof(out), &kind);
	ok(n == 12 + 17 && (out[3] & 15) == 0 && out[7] == 0 && kind == SERVE_DNS_ANSWER,
	   "MX: NOERROR without records");

	/* NXDOMAIN under the suffix, case-insensitively, at label boundaries only. */
	static const char nx1[] = "\x03" "foo\x02" "nx";
	static const char nx2[] = "\x03" "foo\x02" "NX";
	static const char nx3[] = "\x03" "anx";
	static const char nx4[] = "\x02" "nx";
	ql = build(q, nx1, sizeof(nx1), 1, 1, -1, 0);
	n = serve_dns_answer(&cfg, q, ql, out, sizeof(out), &kind);
	ok((out[3] & 15) == 3 && out[7] == 0 && kind == SERVE_DNS_NXDOMAIN && (out[2] & 0x04),
	   "foo.nx: NXDOMAIN, authoritative, no records");
	ql = build(q, nx2, sizeof(nx2), 1, 1, -1, 0);
	serve_dns_answer(&cfg, q, ql, out, sizeof(out), &kind);
	ok(kind == SERVE_DNS_NXDOMAIN, "foo.NX: NXDOMAIN (case-insensitive)");
	ql = build(q, nx3, sizeof(nx3), 1, 1, -1, 0);
	serve_dns_answer(&cfg, q, ql, out, sizeof(out), &kind);
	ok(kind == SERVE_DNS_ANSWER, "anx: not under nx.");
	ql = build(q, nx4, sizeof(nx4), 1, 1, -1, 0);
	serve_dns_answer(&cfg, q, ql, out, sizeof(out), &kind);
	ok(kind == SERVE_DNS_NXDOMAIN, "nx itself: NXDOMAIN");

	/* Options. */
	ok(serve_dns_config_set(&cfg, "answer-a", "10.1.2.3", err, sizeof(err)) == 0 &&
		   serve_dns_config_set(&cfg, "ttl", "5m", err, sizeof(err)) == 0 &&
		   serve_dns_config_set(&cfg, "nxdomain", "Invalid.Test.", err, sizeof(err)) == 0,
	   "options: --answer-a, --ttl 5m, --nxdomain");
	n = serve_dns_answer(&cfg, q_a, sizeof(q_a), out, sizeof(out), &kind);
	ok(out[41] == 10 && out[44] == 3 && out[35] == 0 && out[36] == 0 && out[37] == 0x01 && out[38] == 0x2c,
	   "the answer uses them (10.1.2.3, TTL 300 = 5m)");
	static const char it[] = "\x01x\x07invalid\x04test";
	ql = build(q, it, sizeof(it), 1, 1, -1, 0);
	serve_dns_answer(&cfg, q, ql, out, sizeof(out), &kind);
	ok(kind == SERVE_DNS_NXDOMAIN, "x.invalid.test: NXDOMAIN with the new suffix");
	ql = build(q, nx1, sizeof(nx1), 1, 1, -1, 0);
	serve_dns_answer(&cfg, q, ql, out, sizeof(out), &kind);
	ok(kind == SERVE_DNS_ANSWER, "foo.nx answered now");
	ok(serve_dns_config_set(&cfg, "nxdomain", "none", err, sizeof(err)) == 0 && cfg.nx_len == 0,
	   "--nxdomain none");
	is_int(serve_dns_config_set(&cfg, "answer-a", "10.1.2", err, sizeof(err)), -EINVAL, "bad --answer-a");
	ok(strstr(err, "--answer-a '10.1.2'") != NULL, "its message names the option: %s", err);
	is_int(serve_dns_config_set(&cfg, "answer-aaaa", "2001:::1", err, sizeof(err)), -EINVAL,
	       "bad --answer-aaaa");
	is_int(serve_dns_config_set(&cfg, "answer-a", NULL, err, sizeof(err)), -EINVAL, "--answer-a without a value");
	is_int(serve_dns_config_set(&cfg, "ttl", "1.5", err, sizeof(err)), -EINVAL, "--ttl 1.5");
	is_int(serve_dns_config_set(&cfg, "ttl", "3000000000", err, sizeof(err)), -EINVAL, "--ttl above 2^31-1");
	is_int(serve_dns_config_set(&cfg, "nxdomain", "a..b", err, sizeof(err)), -EINVAL, "--nxdomain a..b");
	is_int(serve_dns_config_set(&cfg, "frobnicate", "1", err, sizeof(err)), -ENOENT, "unknown key: -ENOENT");
	serve_dns_config_init(&cfg);

	/* Errors (RFC 1035 §4.1.1; RFC 6891 §6.1.1, §6.1.3; RFC 9619). */
	n = serve_dns_answer(&cfg, q_a, 5, out, sizeof(out), &kind);
	ok(n == 12 && out[0] == 0x12 && out[1] == 0x34 && (out[3] & 15) == 1 && out[5] == 0 &&
		   kind == SERVE_DNS_FORMERR,
	   "5 bytes: FORMERR keeping the ID, no question");
	n = serve_dns_answer(&cfg, q_a, 0, out, sizeof(out), &kind);
	ok(n == 12 && (out[3] & 15) == 1, "empty message: FORMERR");
	n = serve_dns_answer(&cfg, q_a, sizeof(q_a) - 1, out, sizeof(out), &kind);
	ok(kind == SERVE_DNS_FORMERR, "question cut short: FORMERR");
	memcpy(q, q_a, sizeof(q_a));
	q[sizeof(q_a)] = 0;
	serve_dns_answer(&cfg, q, sizeof(q_a) + 1, out, sizeof(out), &kind);
	ok(kind == SERVE_DNS_FORMERR, "trailing byte: FORMERR");
	memcpy(q, q_a, sizeof(q_a));
	q[5] = 2;
	serve_dns_answer(&cfg, q, sizeof(q_a), out, sizeof(out), &kind);
	ok(kind == SERVE_DNS_FORMERR, "QDCOUNT 2: FORMERR");
	memcpy(q, q_a, sizeof(q_a));
	q[2] |= 0x80;
	serve_dns_answer(&cfg, q, sizeof(q_a), out, sizeof(out), &kind);
	ok(kind == SERVE_DNS_FORMERR, "a response (QR=1): FORMERR");
	memcpy(q, q_a, sizeof(q_a));
	q[2] |= 0x10; /* opcode 2, STATUS */
	n = serve_dns_answer(&cfg, q, sizeof(q_a), out, sizeof(out), &kind);
	ok(kind == SERVE_DNS_NOTIMP && (out[3] & 15) == 4 && (out[2] & 0x78) == 0x10, "STATUS: NOTIMP, opcode copied");
	memcpy(q, q_a, sizeof(q_a));
	q[12] = 0xc0; /* a pointer in the question */
	q[13] = 12;
	serve_dns_answer(&cfg, q, sizeof(q_a), out, sizeof(out), &kind);
	ok(kind == SERVE_DNS_FORMERR, "compressed question name: FORMERR");
	memcpy(q, q_a, sizeof(q_a));
	q[12] = 64;
	serve_dns_answer(&cfg, q, sizeof(q_a), out, sizeof(out), &kind);
	ok(kind == SERVE_DNS_FORMERR, "label length 64: FORMERR");
	ql = build(q, ex, sizeof(ex), 1, 3, -1, 0);
	n = serve_dns_answer(&cfg, q, ql, out, sizeof(out), &kind);
	ok(kind == SERVE_DNS_REFUSED && (out[3] & 15) == 5, "class CH: REFUSED");
	ql = build(q, ex, sizeof(ex), 1, 1, 1, 0);
	n = serve_dns_answer(&cfg, q, ql, out, sizeof(out), &kind);
	ok(kind == SERVE_DNS_BADVERS && (out[3] & 15) == 0 && out[7] == 0 && out[n - 6] == 1,
	   "EDNS version 1: BADVERS (extended RCODE 1 in the OPT, none in the header)");
	ql = build(q, ex, sizeof(ex), 1, 1, 0, 0);
	memcpy(q + ql, q + ql - 11, 11); /* a second OPT */
	q[11] = 2;
	serve_dns_answer(&cfg, q, ql + 11, out, sizeof(out), &kind);
	ok(kind == SERVE_DNS_FORMERR, "two OPT records: FORMERR");
	ql = build(q, ex, sizeof(ex), 1, 1, 0, 0);
	q[ql - 2] = 0;
	q[ql - 1] = 5; /* OPT rdata longer than the message */
	serve_dns_answer(&cfg, q, ql, out, sizeof(out), &kind);
	ok(kind == SERVE_DNS_FORMERR, "record past the end: FORMERR");
	{
		/* A 255-octet name: the longest question, the largest reply. */
		char longname[256];
		size_t k = 0;
		for (int l = 0; l < 4; l++) {
			int len = l < 3 ? 63 : 61;
			longname[k++] = (char)len;
			memset(longname + k, 'a', (size_t)len);
			k += (size_t)len;
		}
		longname[k++] = 0; /* 255 octets */
		ql = build(q, longname, k, 255, 1, 0, 1);
		n = serve_dns_answer(&cfg, q, ql, out, 512, &kind);
		ok(kind == SERVE_DNS_ANSWER && n > 0 && n <= 512, "255-octet name, ANY, EDNS: answered in %zu bytes", n);
		longname[0] = 63;
		memmove(longname + 2, longname + 1, k - 1);
		longname[1] = 'a';
		ql = build(q, longname, k + 1, 1, 1, -1, 0);
		serve_dns_answer(&cfg, q, ql, out, sizeof(out), &kind);
		ok(kind == SERVE_DNS_FORMERR, "256-octet name: FORMERR");
	}
	is_int(serve_dns_answer(&cfg, q_a, sizeof(q_a), out, 100, &kind), 0, "a buffer under 512: 0");

	/* UDP (RFC 1035 §4.2.1, RFC 6891 §6.2.5): --records 40 makes an A answer of
	 * 12 + 17 + 40 * 16 = 669 bytes, more than 512. */
	{
		struct serve_dns_config big;
		static uint8_t r[SERVE_DNS_REPLY_MAX];
		bool tc;
		serve_dns_config_init(&big);
		is_int(serve_dns_config_set(&big, "records", "40", err, sizeof(err)), 0, "--records 40");
		n = serve_dns_answer_udp(&big, q_a, sizeof(q_a), r, sizeof(r), &kind, &tc);
		ok(tc && n == 12 + 17 && (r[2] & 0x02) && r[7] == 0 && r[0] == 0x12 && r[1] == 0x34 &&
			   kind == SERVE_DNS_ANSWER,
		   "UDP, no EDNS, 669 bytes: TC set, question only, ANCOUNT 0");
		n = serve_dns_answer(&big, q_a, sizeof(q_a), r, sizeof(r), &kind);
		ok(n == 669 && !(r[2] & 0x02) && r[6] == 0 && r[7] == 40 && r[n - 1] == 40,
		   "TCP: the whole answer, 40 records, the last 198.18.0.40");
		size_t el = build(q, ex, sizeof(ex), 1, 1, 0, 0); /* OPT, payload 4096 */
		n = serve_dns_answer_udp(&big, q, el, r, sizeof(r), &kind, &tc);
		ok(!tc && n == 669 + 11 && r[7] == 40 && r[11] == 1, "UDP, EDNS 4096: fits, 40 records and OPT");
		q[el - 11 + 3] = 600 >> 8; /* the OPT's CLASS: the client's payload size */
		q[el - 11 + 4] = 600 & 0xff;
		n = serve_dns_answer_udp(&big, q, el, r, sizeof(r), &kind, &tc);
		ok(tc && n == 12 + 17 + 11 && r[7] == 0 && r[11] == 1 && (r[2] & 0x02),
		   "UDP, EDNS 600 < 680: TC, the OPT kept");
		q[el - 11 + 3] = 0;
		q[el - 11 + 4] = 100;
		n = serve_dns_answer_udp(&big, q, el, r, sizeof(r), &kind, &tc);
		ok(tc && n == 12 + 17 + 11, "UDP, EDNS 100 counts as 512: TC");
		n = serve_dns_answer_udp(&cfg, q, el, r, sizeof(r), &kind, &tc);
		ok(!tc && r[7] == 1, "UDP, one record: no TC");
		ok(serve_dns_config_set(&big, "records", "0", err, sizeof(err)) == -EINVAL &&
			   serve_dns_config_set(&big, "records", "201", err, sizeof(err)) == -EINVAL &&
			   serve_dns_config_set(&big, "records", "4x", err, sizeof(err)) == -EINVAL,
		   "--records refuses 0, 201 and 4x: %s", err);
		/* Random queries over UDP: the reply never exceeds 512 without EDNS. */
		int over = 0;
		for (int i = 0; i < 20000; i++) {
			size_t len = build(q, ex, sizeof(ex), 1 + (i % 2) * 254, 1, -1, 0);
			q[rnd() % len] = (uint8_t)rnd();
			n = serve_dns_answer_udp(&big, q, len, r, sizeof(r), &kind, &tc);
			bool has_opt = n >= 12 && r[11] != 0;
			if (n < 12 || (!has_opt && n > 512) || n > 4096)
				over++;
		}
		is_int(over, 0, "20000 mutated UDP queries: replies within the client's size");
	}

	/* Random and mutated queries: a reply within bounds every time. Run under
	 * ASan by `make test-asan`, which catches any read past the query. */
	int bad = 0, kinds[6] = { 0 };
	for (int i = 0; i < 200000; i++) {
		size_t len;
		if (i % 3 == 0) {
			len = rnd() % 300;
			for (size_t j = 0; j < len; j++)
				q[j] = (uint8_t)rnd();
		} else {
			len = build(q, ex, sizeof(ex), 1, 1, i % 2 ? 0 : -1, 0);
			for (int m = 0; m < 1 + (int)(rnd() % 3); m++)
				q[rnd() % len] = (uint8_t)rnd();
			if (rnd() % 4 == 0)
				len = rnd() % (len + 1);
		}
		uint8_t *heap = malloc(len ? len : 1); /* exact size, so ASan sees overreads */
		memcpy(heap, q, len);
		n = serve_dns_answer(&cfg, heap, len, out, 512, &kind);
		free(heap);
		if (n < 12 || n > 512)
			bad++;
		kinds[kind]++;
	}
	is_int(bad, 0, "200000 random queries: every reply 12-512 bytes");
	ok(kinds[SERVE_DNS_ANSWER] > 1000 && kinds[SERVE_DNS_FORMERR] > 1000,
	   "fuzz reached answers (%d) and FORMERR (%d); NXDOMAIN %d, NOTIMP %d, REFUSED %d, BADVERS %d",
	   kinds[0], kinds[2], kinds[1], kinds[3], kinds[4], kinds[5]);
	return tap_done();
}
