/*
 * addrset: address sets kept as ranges (a /64 is one range, not 2^64
 * entries), index -> address by binary search, port slices, and the pickers.
 * Addresses are 128-bit host-order integers inside this file; IPv4 uses the
 * low 32 bits.
 */
#include "addrset.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "splitmix.h"

typedef unsigned __int128 u128;

#define ENTRY_MAX 128 /* longest entry: "v6-v6" is under 100 characters */

static u128 range_first(const struct addrset_range *r)
{
	return (u128)r->hi << 64 | r->lo;
}

static void u128_to_sa(int slot, u128 a, struct sockaddr_storage *out, socklen_t *outlen)
{
	memset(out, 0, sizeof(*out));
	if (slot == ADDRSET_V4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)out;
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl((uint32_t)a);
		*outlen = sizeof(*sin);
		return;
	}
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)out;
	sin6->sin6_family = AF_INET6;
	for (int i = 15; i >= 0; i--) {
		sin6->sin6_addr.s6_addr[i] = (uint8_t)a;
		a >>= 8;
	}
	*outlen = sizeof(*sin6);
}

static void u128_ntop(int slot, u128 a, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl;

	u128_to_sa(slot, a, &ss, &sl);
	addrset_ntop(&ss, buf, len);
}

void addrset_ntop(const struct sockaddr_storage *a, char *buf, size_t len)
{
	const void *p = a->ss_family == AF_INET6
				? (const void *)&((const struct sockaddr_in6 *)a)->sin6_addr
				: (const void *)&((const struct sockaddr_in *)a)->sin_addr;
	if (!inet_ntop(a->ss_family, p, buf, (socklen_t)len))
		snprintf(buf, len, "?");
}

/* One address: sets *slot and *a; 0 or -EINVAL. */
static int parse_addr(const char *s, int *slot, u128 *a)
{
	struct in_addr v4;
	struct in6_addr v6;

	if (inet_pton(AF_INET, s, &v4) == 1) {
		*slot = ADDRSET_V4;
		*a = ntohl(v4.s_addr);
		return 0;
	}
	if (inet_pton(AF_INET6, s, &v6) == 1) {
		u128 x = 0;
		for (int i = 0; i < 16; i++)
			x = x << 8 | v6.s6_addr[i];
		*slot = ADDRSET_V6;
		*a = x;
		return 0;
	}
	return -EINVAL;
}

/* ::ffff:0:0/96 (RFC 4291 2.5.5.2): an IPv4 address written as IPv6. An
 * IPv6 socket bound to one reaches no IPv6 target (EAFNOSUPPORT at every
 * connect) and IPv4 targets take IPv4 sources: refused with its own form. */
static int refuse_mapped(const char *e, int slot, u128 first, uint64_t count, char *err,
			 size_t errlen)
{
	const u128 lo = (u128)0xffff << 32, hi = lo + 0xffffffffu;

	u128 last = first + (count - 1);
	char v4[64] = ""; /* ": write it as IPv4 (A-B)": 52 bytes at most */

	if (slot != ADDRSET_V6 || first > hi || last < lo)
		return 0;
	if (first >= lo) {
		uint32_t a = (uint32_t)(first - lo), b = (uint32_t)((last < hi ? last : hi) - lo);
		int n = snprintf(v4, sizeof(v4), ": write it as IPv4 (%u.%u.%u.%u", a >> 24,
				 (a >> 16) & 255, (a >> 8) & 255, a & 255);
		if (b != a)
			n += snprintf(v4 + n, sizeof(v4) - (size_t)n, "-%u.%u.%u.%u", b >> 24,
				      (b >> 16) & 255, (b >> 8) & 255, b & 255);
		snprintf(v4 + n, sizeof(v4) - (size_t)n, ")");
	}
	snprintf(err, errlen, "'%s' %s IPv4 written as IPv6 (v4-mapped, ::ffff:0:0/96), which no "
		 "IPv6 target can be reached from%s", e, first >= lo ? "is" : "runs into", v4);
	return -EINVAL;
}

/* One entry -> first address, count. */
static int parse_entry(const char *e, int *slot, u128 *first, uint64_t *count, char *err,
		       size_t errlen)
{
	char buf[ENTRY_MAX];
	char *dash = NULL, *slash = NULL;
	u128 a, b;
	int s2;

	if (strlen(e) >= sizeof(buf)) {
		snprintf(err, errlen, "'%.40s...' is too long for an address", e);
		return -EINVAL;
	}
	strcpy(buf, e);
	slash = strchr(buf, '/');
	if (!slash)
		dash = strchr(buf, '-');
	if (dash)
		*dash = '\0';
	if (slash)
		*slash = '\0';
	if (strchr(buf, '%')) {
		/* fe80::1%eth0: bind() would take it, but a link-local source
		 * reaches only its own link, and the scope would have to follow
		 * it into every destination: not supported (plan.c refuses the
		 * unscoped form before traffic). */
		snprintf(err, errlen, "'%s': link-local sources (an address with a %%scope) are "
			 "not supported; bind a global or unique-local address", e);
		return -EINVAL;
	}
	if (parse_addr(buf, slot, &a) < 0) {
		snprintf(err, errlen,
			 "'%s' is not an address (expected e.g. 10.0.0.1, 10.0.0.1-10.0.0.9, "
			 "10.0.0.0/24, 2001:db8::/120)", e);
		return -EINVAL;
	}
	if (dash) {
		if (parse_addr(dash + 1, &s2, &b) < 0 || s2 != *slot) {
			snprintf(err, errlen, "'%s': the end of a range must be an address of the same "
				 "family as its start", e);
			return -EINVAL;
		}
		if (b < a) {
			snprintf(err, errlen, "'%s': the range ends before it starts", e);
			return -EINVAL;
		}
		if (b - a >= (u128)UINT64_MAX) {
			snprintf(err, errlen, "'%s': more than 2^64-1 addresses", e);
			return -ERANGE;
		}
		*first = a;
		*count = (uint64_t)(b - a) + 1;
		return 0;
	}
	if (!slash) {
		*first = a;
		*count = 1;
		return 0;
	}
	int bits = *slot == ADDRSET_V4 ? 32 : 128;
	char *end;
	long len = strtol(slash + 1, &end, 10);
	if (slash[1] == '\0' || *end != '\0' || !isdigit((unsigned char)slash[1]) || len < 0 ||
	    len > bits) {
		snprintf(err, errlen, "'%s': the prefix length must be a number from 0 to %d", e, bits);
		return -EINVAL;
	}
	int host = bits - (int)len;
	u128 hostmask = host >= 128 ? ~(u128)0 : (((u128)1 << host) - 1);
	if (a & hostmask) {
		char net[64];
		u128_ntop(*slot, a & ~hostmask, net, sizeof(net));
		snprintf(err, errlen, "'%s' has host bits set; did you mean %s/%ld?", e, net, len);
		return -EINVAL;
	}
	if (*slot == ADDRSET_V6 && host > 64) {
		snprintf(err, errlen, "'%s': a prefix shorter than /64 has more addresses than surge "
			 "indexes; use a /64 or longer", e);
		return -ERANGE;
	}
	/* IPv4 below /31: network and broadcast are not sources (RFC 3021 makes
	 * both of a /31 usable). IPv6 below /127: the all-zero interface ID is
	 * the subnet-router anycast address (RFC 4291 2.6.1; RFC 6164 for /127). */
	u128 size = (u128)1 << host;
	if (*slot == ADDRSET_V4 && host >= 2) {
		*first = a + 1;
		*count = (uint64_t)(size - 2);
	} else if (*slot == ADDRSET_V6 && host >= 2) {
		*first = a + 1;
		*count = (uint64_t)(size - 1);
	} else {
		*first = a;
		*count = (uint64_t)size;
	}
	return 0;
}

static int range_cmp(const void *x, const void *y)
{
	u128 a = range_first(x), b = range_first(y);
	return a < b ? -1 : a > b;
}

/* Overlapping entries would repeat addresses: uneven round-robin, and
 * permutation's "no repeats" would be false. */
static int check_overlap(const struct addrset *s, int slot, char *err, size_t errlen)
{
	size_t n = s->nr[slot];
	struct addrset_range *t;
	int rc = 0;

	if (n < 2)
		return 0;
	t = malloc(n * sizeof(*t));
	if (!t)
		return -ENOMEM;
	memcpy(t, s->r[slot], n * sizeof(*t));
	qsort(t, n, sizeof(*t), range_cmp);
	for (size_t i = 1; i < n; i++) {
		u128 prev_last = range_first(&t[i - 1]) + t[i - 1].count - 1;
		if (range_first(&t[i]) <= prev_last) {
			char a[64], b[64];
			u128_ntop(slot, range_first(&t[i]), a, sizeof(a));
			u128_ntop(slot, range_first(&t[i - 1]), b, sizeof(b));
			snprintf(err, errlen, "address %s is listed twice (entries starting at %s and "
				 "%s overlap)", a, b, a);
			rc = -EINVAL;
			break;
		}
	}
	free(t);
	return rc;
}

static int append(struct addrset *s, int slot, u128 first, uint64_t count, char *err,
		  size_t errlen)
{
	if (count > UINT64_MAX - s->size[slot]) {
		snprintf(err, errlen, "more than 2^64-1 %s addresses in total",
			 slot == ADDRSET_V4 ? "IPv4" : "IPv6");
		return -ERANGE;
	}
	struct addrset_range *r = realloc(s->r[slot], (s->nr[slot] + 1) * sizeof(*r));
	if (!r)
		return -ENOMEM;
	s->r[slot] = r;
	r += s->nr[slot];
	r->hi = (uint64_t)(first >> 64);
	r->lo = (uint64_t)first;
	r->count = count;
	r->off = s->size[slot];
	s->nr[slot]++;
	s->size[slot] += count;
	return 0;
}

int addrset_parse(struct addrset *s, const char *spec, char *err, size_t errlen)
{
	size_t keep[ADDRSET__FAMILIES] = {s->nr[0], s->nr[1]};
	uint64_t keep_size[ADDRSET__FAMILIES] = {s->size[0], s->size[1]};
	const char *p = spec;
	char entry[ENTRY_MAX + 1];
	int rc = 0, n = 0;

	while (*p) {
		while (*p == ',' || isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		size_t len = strcspn(p, ", \t\n");
		if (len > ENTRY_MAX)
			len = ENTRY_MAX;
		memcpy(entry, p, len);
		entry[len] = '\0';
		p += strcspn(p, ", \t\n");
		int slot;
		u128 first;
		uint64_t count;
		if ((rc = parse_entry(entry, &slot, &first, &count, err, errlen)) < 0 ||
		    (rc = refuse_mapped(entry, slot, first, count, err, errlen)) < 0)
			goto fail;
		if ((rc = append(s, slot, first, count, err, errlen)) < 0)
			goto fail;
		n++;
	}
	if (n == 0) {
		snprintf(err, errlen, "no address given (expected e.g. 127.0.0.1, 10.0.0.0/24)");
		rc = -EINVAL;
		goto fail;
	}
	for (int f = 0; f < ADDRSET__FAMILIES; f++)
		if ((rc = check_overlap(s, f, err, errlen)) < 0)
			goto fail;
	return 0;
fail:
	if (rc == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	for (int f = 0; f < ADDRSET__FAMILIES; f++) {
		s->nr[f] = keep[f];
		s->size[f] = keep_size[f];
	}
	return rc;
}

void addrset_free(struct addrset *s)
{
	if (!s)
		return;
	for (int f = 0; f < ADDRSET__FAMILIES; f++)
		free(s->r[f]);
	memset(s, 0, sizeof(*s));
}

int addrset_validate(const char *spec, char *err, size_t errlen)
{
	struct addrset s = {0};
	int rc = addrset_parse(&s, spec, err, errlen);

	addrset_free(&s);
	return rc;
}

uint64_t addrset_size(const struct addrset *s, int slot)
{
	return slot >= 0 && slot < ADDRSET__FAMILIES ? s->size[slot] : 0;
}

uint64_t addrset_total(const struct addrset *s)
{
	uint64_t a = s->size[ADDRSET_V4], b = s->size[ADDRSET_V6];
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

int addrset_slot(int family)
{
	return family == AF_INET ? ADDRSET_V4 : family == AF_INET6 ? ADDRSET_V6 : -1;
}

int addrset_at(const struct addrset *s, int slot, uint64_t i, struct sockaddr_storage *out,
	       socklen_t *outlen)
{
	if (slot < 0 || slot >= ADDRSET__FAMILIES || i >= s->size[slot])
		return -ERANGE;
	const struct addrset_range *r = s->r[slot];
	size_t lo = 0, hi = s->nr[slot];

	/* The last range whose off <= i. */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (r[mid].off <= i)
			lo = mid;
		else
			hi = mid;
	}
	u128_to_sa(slot, range_first(&r[lo]) + (i - r[lo].off), out, outlen);
	return 0;
}

int addrset_at_global(const struct addrset *s, uint64_t g, struct sockaddr_storage *out,
		      socklen_t *outlen)
{
	if (g < s->size[ADDRSET_V4])
		return addrset_at(s, ADDRSET_V4, g, out, outlen);
	return addrset_at(s, ADDRSET_V6, g - s->size[ADDRSET_V4], out, outlen);
}

/* The shard's part of one family: [*lo, *hi) of its indexes. */
static void shard_part(uint64_t size, uint32_t k, uint32_t n, uint64_t *lo, uint64_t *hi)
{
	if (n <= 1 || size < n) {
		*lo = 0;
		*hi = size;
		return;
	}
	*lo = (uint64_t)((u128)size * k / n);
	*hi = (uint64_t)((u128)size * (k + 1) / n);
}

uint64_t addrset_shard_size(const struct addrset *s, int slot, uint32_t k, uint32_t n)
{
	uint64_t lo, hi;

	if (slot < 0 || slot >= ADDRSET__FAMILIES)
		return 0;
	shard_part(s->size[slot], k, n, &lo, &hi);
	return hi - lo;
}

int addrset_slice(const struct addrset *s, uint32_t k, uint32_t n, struct addrset *out)
{
	char err[128];

	memset(out, 0, sizeof(*out));
	for (int f = 0; f < ADDRSET__FAMILIES; f++) {
		uint64_t lo, hi;
		shard_part(s->size[f], k, n, &lo, &hi);
		for (size_t i = 0; i < s->nr[f]; i++) {
			const struct addrset_range *r = &s->r[f][i];
			uint64_t a = r->off > lo ? r->off : lo;
			uint64_t b = r->off + r->count < hi ? r->off + r->count : hi;
			if (a < b && append(out, f, range_first(r) + (a - r->off), b - a, err,
					    sizeof(err)) < 0) {
				addrset_free(out);
				return -ENOMEM;
			}
		}
	}
	return 0;
}

/* ---- ports ---- */

static int parse_port(const char *s, const char *end, long *out)
{
	char *e;

	if (s == end || !isdigit((unsigned char)*s))
		return -EINVAL;
	long v = strtol(s, &e, 10);
	if (e != end || v < 1 || v > 65535)
		return -EINVAL;
	*out = v;
	return 0;
}

int addrset_ports_parse(const char *spec, struct addrset_ports *out, char *err, size_t errlen)
{
	const char *dash = strchr(spec, '-');
	const char *end = spec + strlen(spec);
	long lo, hi;

	if (parse_port(spec, dash ? dash : end, &lo) < 0 ||
	    (dash && parse_port(dash + 1, end, &hi) < 0)) {
		snprintf(err, errlen, "'%s' is not a port range (expected e.g. 20000-29999, ports "
			 "from 1 to 65535)", spec);
		return -EINVAL;
	}
	if (!dash)
		hi = lo;
	if (hi < lo) {
		snprintf(err, errlen, "'%s': the port range ends before it starts", spec);
		return -EINVAL;
	}
	out->lo = (uint16_t)lo;
	out->hi = (uint16_t)hi;
	return 0;
}

uint32_t addrset_ports_count(const struct addrset_ports *p)
{
	return p && p->lo ? (uint32_t)p->hi - p->lo + 1 : 0;
}

int addrset_ports_slice(const struct addrset_ports *p, uint32_t k, uint32_t n,
			struct addrset_ports *out)
{
	uint32_t total = addrset_ports_count(p);

	if (n == 0 || k >= n || total < n)
		return -ERANGE;
	/* Slice k starts at floor(k * total / n): sizes differ by at most one. */
	uint32_t a = (uint32_t)((uint64_t)k * total / n);
	uint32_t b = (uint32_t)((uint64_t)(k + 1) * total / n);
	out->lo = (uint16_t)(p->lo + a);
	out->hi = (uint16_t)(p->lo + b - 1);
	return 0;
}

/* ---- pickers ---- */

static const char *const pick_names[] = {
	[ADDRSET_ROUND_ROBIN] = "round-robin",
	[ADDRSET_RANDOM] = "random",
	[ADDRSET_PERMUTATION] = "permutation",
};

int addrset_pick_parse(const char *name, enum addrset_pick *out)
{
	for (int i = 0; i < 3; i++)
		if (name && strcmp(name, pick_names[i]) == 0) {
			*out = (enum addrset_pick)i;
			return 0;
		}
	return -EINVAL;
}

const char *addrset_pick_name(enum addrset_pick p)
{
	return (unsigned)p < 3 ? pick_names[p] : "?";
}

static uint64_t mix(uint64_t x)
{
	return splitmix64(&x);
}

int addrset_perm_init(struct addrset_perm *p, uint64_t n, uint64_t seed)
{
	uint32_t bits = 2;

	if (n == 0 || n > (1ULL << 62))
		return -ERANGE;
	while (bits < 64 && (1ULL << bits) < n)
		bits++;
	bits += bits & 1; /* two equal halves */
	p->n = n;
	p->half = bits / 2;
	p->mask = (1ULL << p->half) - 1;
	uint64_t st = seed ^ 0x5eed5eed5eed5eedULL;
	for (int r = 0; r < 4; r++)
		p->key[r] = splitmix64(&st);
	return 0;
}

/* Feistel rounds permute [0, 2^(2*half)); since that is < 4n, walking the
 * cycle until the value lands below n takes fewer than 4 steps on average
 * and stays a bijection on [0, n). */
uint64_t addrset_perm_at(const struct addrset_perm *p, uint64_t i)
{
	uint64_t x = i;

	do {
		uint64_t l = x >> p->half, r = x & p->mask;
		for (int k = 0; k < 4; k++) {
			uint64_t t = l ^ (mix(r ^ p->key[k]) & p->mask);
			l = r;
			r = t;
		}
		x = l << p->half | r;
	} while (x >= p->n);
	return x;
}

int addrset_picker_init(struct addrset_picker *p, const struct addrset *set,
			enum addrset_pick mode, uint64_t seed, uint32_t worker, uint32_t nworkers,
			const struct addrset_ports *ports, bool explicit_ports)
{
	memset(p, 0, sizeof(*p));
	p->set = set;
	p->mode = mode;
	p->worker = worker;
	p->nworkers = nworkers ? nworkers : 1;
	p->explicit_ports = explicit_ports;
	for (int f = 0; f < ADDRSET__FAMILIES; f++)
		p->span[f] = set->size[f];
	uint64_t st = seed ^ ((uint64_t)worker << 32 | 0x77);
	p->rng = splitmix64(&st);
	if (mode == ADDRSET_PERMUTATION) {
		uint32_t np = addrset_ports_count(ports);
		if (!np)
			return -EINVAL;
		p->ports = *ports;
		for (int f = 0; f < ADDRSET__FAMILIES; f++) {
			if (!set->size[f])
				continue;
			if (set->size[f] > (1ULL << 62) / np)
				return -ERANGE;
			/* Every worker walks the same permutation (same seed), each
			 * at its own positions worker, worker + W, ...: disjoint. */
			int rc = addrset_perm_init(&p->perm[f], set->size[f] * np, seed);
			if (rc < 0)
				return rc;
			p->cursor[f] = worker;
		}
		return 0;
	}
	if (addrset_ports_count(ports)) {
		int rc = addrset_ports_slice(ports, worker, p->nworkers, &p->ports);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int addrset_picker_shard(struct addrset_picker *p, uint32_t k, uint32_t n, uint32_t worker,
			 uint32_t nworkers, const struct addrset_ports *ports)
{
	if (n <= 1 || p->mode == ADDRSET_PERMUTATION)
		return 0;
	for (int f = 0; f < ADDRSET__FAMILIES; f++) {
		uint64_t lo, hi;
		shard_part(p->set->size[f], k, n, &lo, &hi);
		p->base[f] = lo;
		p->span[f] = hi - lo;
	}
	memset(&p->ports, 0, sizeof(p->ports));
	if (addrset_ports_count(ports))
		return addrset_ports_slice(ports, worker, nworkers ? nworkers : 1, &p->ports);
	return 0;
}

void addrset_picker_free(struct addrset_picker *p)
{
	if (!p)
		return;
	free(p->per_dest);
	p->per_dest = NULL;
	p->nper_dest = 0;
}

int addrset_pick(struct addrset_picker *p, int fam, uint32_t dest, uint64_t *index,
		 uint16_t *port)
{
	const struct addrset *s = p->set;

	if (fam < 0 || fam >= ADDRSET__FAMILIES || s->size[fam] == 0)
		return -EAFNOSUPPORT;
	uint64_t n = p->span[fam], base = p->base[fam];
	*port = 0;
	switch (p->mode) {
	case ADDRSET_PERMUTATION: {
		uint32_t np = addrset_ports_count(&p->ports);
		uint64_t e = addrset_perm_at(&p->perm[fam], p->cursor[fam]);
		p->cursor[fam] += p->nworkers;
		if (p->cursor[fam] >= p->perm[fam].n)
			p->cursor[fam] = p->worker % p->perm[fam].n; /* walked it all: again */
		*index = e / np;
		*port = (uint16_t)(p->ports.lo + e % np);
		return 0;
	}
	case ADDRSET_RANDOM:
		/* Multiply-high maps 64 random bits onto [0, n) without modulo's bias
		 * towards small indexes. */
		*index = base + (uint64_t)(((u128)splitmix64(&p->rng) * n) >> 64);
		break;
	default:
		/* Counted per destination, so every (source, destination) pair gets
		 * its even share whichever destinations this worker is handed.
		 * Worker k starts k * N / W sources along: a small run still uses
		 * every source, and the global spread is within W of even. */
		if (dest >= p->nper_dest) {
			uint32_t m = dest + 1 > 2 * p->nper_dest ? dest + 1 : 2 * p->nper_dest;
			uint64_t *c = realloc(p->per_dest, m * sizeof(*c));
			if (!c)
				return -ENOMEM;
			memset(c + p->nper_dest, 0, (m - p->nper_dest) * sizeof(*c));
			p->per_dest = c;
			p->nper_dest = m;
		}
		*index = base + (uint64_t)(((u128)p->per_dest[dest]++ + (u128)p->worker * n /
					      p->nworkers) % n);
		break;
	}
	if (p->explicit_ports && p->ports.lo) {
		uint32_t np = addrset_ports_count(&p->ports);
		*port = (uint16_t)(p->ports.lo + p->cursor[fam]++ % np);
	}
	return 0;
}
