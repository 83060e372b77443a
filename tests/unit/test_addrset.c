/* addrset: parsing of addresses, ranges and CIDRs (and their refusals),
 * index -> address, port slices, round-robin evenness, and the permutation's
 * promise: every (address, port) exactly once. */
#include "tap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "addrset.h"

static char err[512];

static int parse(struct addrset *s, const char *spec)
{
	memset(s, 0, sizeof(*s));
	err[0] = '\0';
	return addrset_parse(s, spec, err, sizeof(err));
}

static const char *at(const struct addrset *s, int slot, uint64_t i)
{
	static char buf[64];
	struct sockaddr_storage ss;
	socklen_t len;

	if (addrset_at(s, slot, i, &ss, &len) < 0)
		return "(out of range)";
	addrset_ntop(&ss, buf, sizeof(buf));
	return buf;
}

static void is_str(const char *got, const char *want, const char *name)
{
	if (!ok(strcmp(got, want) == 0, "%s", name))
		diag("got '%s', want '%s'", got, want);
}

static void test_parse(void)
{
	struct addrset s;

	is_int(parse(&s, "10.0.0.1"), 0, "single IPv4");
	is_int(addrset_size(&s, ADDRSET_V4), 1, "single: size 1");
	is_str(at(&s, ADDRSET_V4, 0), "10.0.0.1", "single: index 0");
	is_str(at(&s, ADDRSET_V4, 1), "(out of range)", "single: index 1 out of range");
	addrset_free(&s);

	is_int(parse(&s, "10.0.1.10-10.0.1.17, 2001:db8::/120"), 0, "range and v6 CIDR, mixed");
	is_int(addrset_size(&s, ADDRSET_V4), 8, "a-b range is inclusive");
	is_int(addrset_size(&s, ADDRSET_V6), 255, "/120 minus subnet-router anycast");
	is_str(at(&s, ADDRSET_V4, 7), "10.0.1.17", "range: last");
	is_str(at(&s, ADDRSET_V6, 0), "2001:db8::1", "v6 CIDR starts after ::0");
	is_str(at(&s, ADDRSET_V6, 254), "2001:db8::ff", "v6 CIDR last");
	is_int(addrset_total(&s), 263, "total over families");
	struct sockaddr_storage ss;
	socklen_t len;
	char b[64];
	addrset_at_global(&s, 8, &ss, &len);
	addrset_ntop(&ss, b, sizeof(b));
	is_str(b, "2001:db8::1", "global index: v6 after v4");
	addrset_free(&s);

	is_int(parse(&s, "127.0.0.0/28"), 0, "v4 CIDR");
	is_int(addrset_size(&s, ADDRSET_V4), 14, "/28 excludes network and broadcast");
	is_str(at(&s, ADDRSET_V4, 0), "127.0.0.1", "/28 first is .1");
	is_str(at(&s, ADDRSET_V4, 13), "127.0.0.14", "/28 last is .14");
	addrset_free(&s);

	is_int(parse(&s, "10.0.0.0/31 10.0.0.8/32"), 0, "/31 and /32 separated by blank");
	is_int(addrset_size(&s, ADDRSET_V4), 3, "/31 keeps both (RFC 3021), /32 one");
	is_str(at(&s, ADDRSET_V4, 0), "10.0.0.0", "/31 first is the even address");
	addrset_free(&s);

	is_int(parse(&s, "2001:db8::/127,2001:db8::10/128"), 0, "v6 /127 and /128");
	is_int(addrset_size(&s, ADDRSET_V6), 3, "/127 keeps both (RFC 6164)");
	addrset_free(&s);

	is_int(parse(&s, "2001:db8:1:2::/64"), 0, "v6 /64");
	ok(addrset_size(&s, ADDRSET_V6) == UINT64_MAX, "/64: 2^64 - 1 addresses, indexable");
	is_str(at(&s, ADDRSET_V6, UINT64_MAX - 1), "2001:db8:1:2:ffff:ffff:ffff:ffff", "/64 last");
	addrset_free(&s);

	is_int(parse(&s, "0.0.0.0/0"), 0, "v4 /0 is representable");
	ok(addrset_size(&s, ADDRSET_V4) == 4294967294ULL, "/0: 2^32 - 2");
	addrset_free(&s);

	is_int(parse(&s, "10.0.0.1,10.0.0.3,10.0.0.2"), 0, "a list, any order");
	is_str(at(&s, ADDRSET_V4, 1), "10.0.0.3", "list keeps the written order");
	/* Appending: a second spec extends the set. */
	is_int(addrset_parse(&s, "10.0.0.9", err, sizeof(err)), 0, "append another spec");
	is_int(addrset_size(&s, ADDRSET_V4), 4, "appended");
	/* A failed append leaves the set as it was. */
	ok(addrset_parse(&s, "10.0.0.9", err, sizeof(err)) == -EINVAL, "append overlap refused");
	is_int(addrset_size(&s, ADDRSET_V4), 4, "set unchanged after a refused append");
	addrset_free(&s);
	addrset_free(NULL);
}

static void refuse(const char *spec, int rc, const char *needle)
{
	struct addrset s;
	int got = parse(&s, spec);

	if (!ok(got == rc && strstr(err, needle), "refuses '%s' (%s)", spec, needle))
		diag("rc %d, err '%s'", got, err);
	is_int(addrset_total(&s), 0, "refused spec leaves nothing");
	addrset_free(&s);
}

static void test_refusals(void)
{
	refuse("", -EINVAL, "no address given");
	refuse(" , ", -EINVAL, "no address given");
	refuse("10.0.0", -EINVAL, "is not an address");
	refuse("10.0.0.256", -EINVAL, "is not an address");
	refuse("localhost", -EINVAL, "is not an address");
	refuse("fe80::1%eth0", -EINVAL,
	       "link-local sources (an address with a %scope) are not supported");
	refuse("::ffff:127.0.0.2", -EINVAL,
	       "'::ffff:127.0.0.2' is IPv4 written as IPv6 (v4-mapped, ::ffff:0:0/96), which no IPv6 "
	       "target can be reached from: write it as IPv4 (127.0.0.2)");
	refuse("::ffff:10.0.0.1-::ffff:10.0.0.9", -EINVAL, "write it as IPv4 (10.0.0.1-10.0.0.9)");
	refuse("::ffff:0:0/96", -EINVAL, "is IPv4 written as IPv6 (v4-mapped");
	refuse("::fffe:ffff:ffff-::ffff:0:1", -EINVAL,
	       "'::fffe:ffff:ffff-::ffff:0:1' runs into IPv4 written as IPv6 (v4-mapped, ::ffff:0:0/96), "
	       "which no IPv6 target can be reached from");
	refuse("10.0.0.9-10.0.0.1", -EINVAL, "ends before it starts");
	refuse("10.0.0.1-::1", -EINVAL, "same family");
	refuse("10.0.0.1-", -EINVAL, "same family");
	refuse("10.0.0.0/33", -EINVAL, "prefix length");
	refuse("10.0.0.0/", -EINVAL, "prefix length");
	refuse("10.0.0.0/-1", -EINVAL, "prefix length");
	refuse("10.0.0.0/2x", -EINVAL, "prefix length");
	refuse("::/129", -EINVAL, "prefix length");
	refuse("10.0.0.5/24", -EINVAL, "did you mean 10.0.0.0/24?");
	refuse("2001:db8::/48", -ERANGE, "use a /64 or longer");
	refuse("10.0.0.0/24,10.0.0.7", -EINVAL, "10.0.0.7 is listed twice");
	refuse("10.0.0.1,10.0.0.1", -EINVAL, "listed twice");
	refuse("::1-ffff::", -ERANGE, "more than 2^64-1");
	refuse("2001:db8::/64 2001:db8:0:1::/64", -ERANGE, "more than 2^64-1 IPv6");
	char longspec[300];
	memset(longspec, '1', sizeof(longspec) - 1);
	longspec[sizeof(longspec) - 1] = '\0';
	refuse(longspec, -EINVAL, "too long");
	is_int(addrset_validate("10.0.0.0/30", err, sizeof(err)), 0, "validate: good");
	ok(addrset_validate("10.0.0.x", err, sizeof(err)) == -EINVAL, "validate: bad");
}

static void test_ports(void)
{
	struct addrset_ports p, sl;
	uint32_t total = 0;

	is_int(addrset_ports_parse("20000-29999", &p, err, sizeof(err)), 0, "port range");
	is_int(addrset_ports_count(&p), 10000, "10000 ports");
	is_int(addrset_ports_parse("5353", &p, err, sizeof(err)), 0, "single port");
	is_int(addrset_ports_count(&p), 1, "one port");
	ok(addrset_ports_parse("0-10", &p, err, sizeof(err)) == -EINVAL, "port 0 refused");
	ok(addrset_ports_parse("1-65536", &p, err, sizeof(err)) == -EINVAL, "port 65536 refused");
	ok(addrset_ports_parse("300-200", &p, err, sizeof(err)) == -EINVAL &&
		   strstr(err, "ends before"), "reversed range refused");
	ok(addrset_ports_parse("20000-", &p, err, sizeof(err)) == -EINVAL, "open range refused");
	ok(addrset_ports_parse("a-b", &p, err, sizeof(err)) == -EINVAL, "words refused");
	ok(addrset_ports_parse("", &p, err, sizeof(err)) == -EINVAL, "empty refused");
	is_int(addrset_ports_count(NULL), 0, "no range: 0 ports");

	addrset_ports_parse("20000-29999", &p, err, sizeof(err));
	uint16_t next = 20000;
	int contiguous = 1;
	for (uint32_t k = 0; k < 3; k++) {
		addrset_ports_slice(&p, k, 3, &sl);
		contiguous &= sl.lo == next;
		next = (uint16_t)(sl.hi + 1);
		total += addrset_ports_count(&sl);
	}
	ok(contiguous && next == 30000, "3 slices are disjoint, contiguous, end at the range end");
	is_int(total, 10000, "slices cover the range");
	addrset_ports_slice(&p, 0, 3, &sl);
	is_int(addrset_ports_count(&sl), 3333, "slice sizes differ by at most one");
	addrset_ports_parse("100-101", &p, err, sizeof(err));
	is_int(addrset_ports_slice(&p, 0, 3, &sl), -ERANGE, "fewer ports than workers refused");
	is_int(addrset_ports_slice(&p, 3, 3, &sl), -ERANGE, "worker out of range refused");
}

static void test_pick_rr(void)
{
	struct addrset s;
	struct addrset_picker pk = {0};
	uint64_t count[16][3] = {{0}};
	uint64_t idx;
	uint16_t port;
	int rc_all = 0;

	parse(&s, "127.0.0.0/28,127.0.1.1,127.0.1.2"); /* 16 addresses */
	/* 3 workers x 480 connections each, over 3 destinations in turn. */
	for (uint32_t w = 0; w < 3; w++) {
		addrset_picker_free(&pk);
		addrset_picker_init(&pk, &s, ADDRSET_ROUND_ROBIN, 1, w, 3, NULL, false);
		for (uint64_t i = 0; i < 480; i++) {
			rc_all |= addrset_pick(&pk, ADDRSET_V4, (uint32_t)(i % 3), &idx, &port);
			count[idx][i % 3]++;
			rc_all |= port != 0;
		}
	}
	is_int(rc_all, 0, "round-robin: no error, port left to the kernel");
	uint64_t mn = UINT64_MAX, mx = 0;
	for (int a = 0; a < 16; a++)
		for (int d = 0; d < 3; d++) {
			mn = count[a][d] < mn ? count[a][d] : mn;
			mx = count[a][d] > mx ? count[a][d] : mx;
		}
	ok(mn == 30 && mx == 30, "round-robin: every (source, destination) pair gets 30 of 1440 "
				 "(min %llu max %llu)", (unsigned long long)mn, (unsigned long long)mx);
	/* A small run: 2 workers x 5 slots must not all crowd the first sources. */
	uint8_t used[16] = {0};
	int distinct = 0;
	for (uint32_t w = 0; w < 2; w++) {
		addrset_picker_free(&pk);
		addrset_picker_init(&pk, &s, ADDRSET_ROUND_ROBIN, 1, w, 2, NULL, false);
		for (uint64_t i = 0; i < 5; i++) {
			addrset_pick(&pk, ADDRSET_V4, 0, &idx, &port);
			distinct += !used[idx];
			used[idx] = 1;
		}
	}
	is_int(distinct, 10, "round-robin: 10 connections over 2 workers use 10 sources");
	/* A destination index far beyond those seen (one added by re-resolution). */
	is_int(addrset_pick(&pk, ADDRSET_V4, 1000, &idx, &port), 0, "a new destination index grows the counts");
	is_int(idx, 8, "...and starts at this worker's offset (worker 1 of 2: 16 / 2)");
	is_int(addrset_pick(&pk, ADDRSET_V6, 0, &idx, &port), -EAFNOSUPPORT,
	       "no IPv6 source for an IPv6 destination");
	is_int(addrset_pick(&pk, 7, 0, &idx, &port), -EAFNOSUPPORT, "bad family slot");

	/* Explicit ports (no IP_LOCAL_PORT_RANGE): ports walk this worker's slice. */
	struct addrset_ports ports = {20000, 20009};
	addrset_picker_free(&pk);
	addrset_picker_init(&pk, &s, ADDRSET_ROUND_ROBIN, 1, 1, 2, &ports, true);
	int inslice = 1;
	for (int i = 0; i < 20; i++) {
		addrset_pick(&pk, ADDRSET_V4, 0, &idx, &port);
		inslice &= port >= 20005 && port <= 20009;
	}
	ok(inslice, "explicit ports stay in worker 1's slice 20005-20009");
	addrset_picker_free(&pk);
	addrset_picker_init(&pk, &s, ADDRSET_ROUND_ROBIN, 1, 1, 2, &ports, false);
	addrset_pick(&pk, ADDRSET_V4, 0, &idx, &port);
	ok(port == 0 && pk.ports.lo == 20005 && pk.ports.hi == 20009,
	   "kernel-chosen ports: the picker carries the slice for IP_LOCAL_PORT_RANGE");
	ports.hi = 20000;
	addrset_picker_free(&pk);
	is_int(addrset_picker_init(&pk, &s, ADDRSET_ROUND_ROBIN, 1, 0, 2, &ports, false), -ERANGE,
	       "one port for two workers refused");
	addrset_picker_free(&pk);
	addrset_picker_free(NULL);
	addrset_free(&s);
}

static void test_pick_random(void)
{
	struct addrset s;
	struct addrset_picker a, b;
	uint64_t i1, i2, count[14] = {0};
	uint16_t port;
	int same = 1, differ = 0;

	parse(&s, "10.0.0.0/28");
	addrset_picker_init(&a, &s, ADDRSET_RANDOM, 42, 0, 2, NULL, false);
	addrset_picker_init(&b, &s, ADDRSET_RANDOM, 42, 0, 2, NULL, false);
	for (int i = 0; i < 14000; i++) {
		addrset_pick(&a, ADDRSET_V4, 0, &i1, &port);
		addrset_pick(&b, ADDRSET_V4, 0, &i2, &port);
		same &= i1 == i2;
		count[i1]++;
	}
	ok(same, "random: the same seed gives the same sequence");
	uint64_t mn = UINT64_MAX, mx = 0;
	for (int i = 0; i < 14; i++) {
		mn = count[i] < mn ? count[i] : mn;
		mx = count[i] > mx ? count[i] : mx;
	}
	/* 1000 expected each; 5 standard deviations is about +-160. */
	ok(mn > 840 && mx < 1160, "random: uniform over 14 addresses (min %llu max %llu)",
	   (unsigned long long)mn, (unsigned long long)mx);
	addrset_picker_init(&b, &s, ADDRSET_RANDOM, 43, 0, 2, NULL, false);
	addrset_picker_init(&a, &s, ADDRSET_RANDOM, 42, 1, 2, NULL, false);
	for (int i = 0; i < 100; i++) {
		addrset_pick(&a, ADDRSET_V4, 0, &i1, &port);
		addrset_pick(&b, ADDRSET_V4, 0, &i2, &port);
		differ += i1 != i2;
	}
	ok(differ > 50, "random: another seed or worker gives another sequence (%d/100 differ)",
	   differ);
	addrset_free(&s);
}

static void test_perm(void)
{
	struct addrset_perm p;
	static const uint64_t sizes[] = {1, 2, 3, 7, 64, 1000, 65537};

	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		uint64_t n = sizes[k];
		uint8_t *seen = calloc(n, 1);
		int fine = addrset_perm_init(&p, n, 7) == 0, identity = 1;
		for (uint64_t i = 0; i < n && fine; i++) {
			uint64_t v = addrset_perm_at(&p, i);
			fine = v < n && !seen[v];
			if (fine)
				seen[v] = 1;
			identity &= v == i;
		}
		ok(fine, "permutation of %llu: each value exactly once", (unsigned long long)n);
		if (n >= 64)
			ok(!identity, "permutation of %llu is shuffled", (unsigned long long)n);
		free(seen);
	}
	is_int(addrset_perm_init(&p, 0, 1), -ERANGE, "empty domain refused");
	is_int(addrset_perm_init(&p, (1ULL << 62) + 1, 1), -ERANGE, "domain over 2^62 refused");
	is_int(addrset_perm_init(&p, 1ULL << 62, 1), 0, "domain of 2^62 accepted");
	ok(addrset_perm_at(&p, 12345) < (1ULL << 62), "large domain stays in range");

	/* Pickers: 3 workers walk disjoint parts of 10 addresses x 100 ports;
	 * together they cover all 1000 pairs, each once. */
	struct addrset s;
	struct addrset_picker pk[3];
	struct addrset_ports ports = {40000, 40099};
	uint8_t seen[10][100] = {{0}};
	int once = 1, inrange = 1;
	parse(&s, "192.0.2.1-192.0.2.10");
	for (int w = 0; w < 3; w++)
		is_int(addrset_picker_init(&pk[w], &s, ADDRSET_PERMUTATION, 9, (uint32_t)w, 3, &ports,
					   false), 0, "permutation picker init");
	for (int i = 0; i < 1000; i++) {
		uint64_t idx;
		uint16_t port;
		addrset_pick(&pk[i % 3], ADDRSET_V4, 0, &idx, &port);
		inrange &= idx < 10 && port >= 40000 && port <= 40099;
		if (inrange) {
			once &= !seen[idx][port - 40000];
			seen[idx][port - 40000] = 1;
		}
	}
	ok(inrange, "permutation: addresses and ports in their sets");
	ok(once, "permutation: 1000 picks over 3 workers, no (address, port) repeated");
	/* The walk goes on after covering the space. */
	uint64_t idx;
	uint16_t port;
	is_int(addrset_pick(&pk[0], ADDRSET_V4, 0, &idx, &port), 0, "permutation wraps around");
	is_int(addrset_picker_init(&pk[0], &s, ADDRSET_PERMUTATION, 9, 0, 3, NULL, false), -EINVAL,
	       "permutation without ports refused");
	addrset_free(&s);
	parse(&s, "2001:db8::/64");
	is_int(addrset_picker_init(&pk[0], &s, ADDRSET_PERMUTATION, 9, 0, 3, &ports, false),
	       -ERANGE, "permutation over a /64 x 100 ports is too big to walk");
	addrset_free(&s);

	enum addrset_pick m;
	ok(addrset_pick_parse("permutation", &m) == 0 && m == ADDRSET_PERMUTATION, "pick names");
	ok(addrset_pick_parse("roundrobin", &m) == -EINVAL, "unknown pick refused");
	ok(strcmp(addrset_pick_name(ADDRSET_RANDOM), "random") == 0, "pick name");
}

int main(void)
{
	test_parse();
	test_refusals();
	test_ports();
	test_pick_rr();
	test_pick_random();
	test_perm();
	return tap_done();
}
