/* dest: the append-only destination table, its round-robin and its wire form. */
#include "dest.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resolve.h"
#include "surge/hist.h"

/* Wire form of one entry: target u32, active u8, family u8, port u16 (network
 * order, as in the sockaddr), address 16 bytes (IPv4 in the first 4). */
#define WIRE_ENTRY 24

void dest_table_init(struct dest_table *t)
{
	memset(t, 0, sizeof(*t));
}

void dest_table_free(struct dest_table *t)
{
	if (!t)
		return;
	free(t->d);
	free(t->act);
	free(t->owed);
	memset(t, 0, sizeof(*t));
}

/* sockaddr_storage is read through memcpy into the typed structs: casting
 * pointers between them breaks strict aliasing, and -O2 miscompiles it. */
static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET6) {
		struct sockaddr_in6 x, y;
		memcpy(&x, a, sizeof(x));
		memcpy(&y, b, sizeof(y));
		return x.sin6_port == y.sin6_port &&
		       memcmp(&x.sin6_addr, &y.sin6_addr, sizeof(x.sin6_addr)) == 0;
	}
	struct sockaddr_in x, y;
	memcpy(&x, a, sizeof(x));
	memcpy(&y, b, sizeof(y));
	return x.sin_port == y.sin_port && x.sin_addr.s_addr == y.sin_addr.s_addr;
}

static int reserve(struct dest_table *t, uint32_t n)
{
	if (n <= t->cap)
		return 0;
	uint32_t cap = t->cap ? t->cap : 8;
	while (cap < n)
		cap *= 2;
	struct dest *d = realloc(t->d, cap * sizeof(*d));
	if (!d)
		return -ENOMEM;
	t->d = d;
	uint32_t *act = realloc(t->act, cap * sizeof(*act));
	if (!act)
		return -ENOMEM;
	t->act = act;
	t->cap = cap;
	return 0;
}

static void rebuild_active(struct dest_table *t)
{
	t->nact = 0;
	for (uint32_t i = 0; i < t->n; i++)
		if (t->d[i].active)
			t->act[t->nact++] = i;
}

static void fill(struct dest *d, const struct sockaddr_storage *a, uint32_t target, bool active)
{
	memset(d, 0, sizeof(*d));
	d->addr = *a;
	d->addrlen = resolve_addrlen(a);
	d->target = target;
	d->active = active;
	d->id_conns = d->id_failed = d->id_latency = -1;
	resolve_fmt_addr(a, d->label, sizeof(d->label));
}

int dest_table_update(struct dest_table *t, uint32_t target, const struct sockaddr_storage *addrs,
		      size_t n, uint32_t *added, uint32_t *removed)
{
	uint32_t add = 0, rm = 0, fresh = 0;

	/* Count first, so a failed allocation leaves the table as it was. */
	for (size_t k = 0; k < n; k++) {
		uint32_t i;
		for (i = 0; i < t->n; i++)
			if (t->d[i].target == target && same_addr(&t->d[i].addr, &addrs[k]))
				break;
		if (i == t->n)
			fresh++;
	}
	if (reserve(t, t->n + fresh) < 0)
		return -ENOMEM;
	for (uint32_t i = 0; i < t->n; i++) {
		if (t->d[i].target != target)
			continue;
		bool want = false;
		for (size_t k = 0; k < n && !want; k++)
			want = same_addr(&t->d[i].addr, &addrs[k]);
		if (want && !t->d[i].active)
			add++;
		else if (!want && t->d[i].active)
			rm++;
		t->d[i].active = want;
	}
	for (size_t k = 0; k < n; k++) {
		uint32_t i;
		for (i = 0; i < t->n; i++)
			if (t->d[i].target == target && same_addr(&t->d[i].addr, &addrs[k]))
				break;
		if (i < t->n)
			continue;
		fill(&t->d[t->n++], &addrs[k], target, true);
		add++;
	}
	rebuild_active(t);
	if (added)
		*added = add;
	if (removed)
		*removed = rm;
	return 0;
}

uint32_t dest_table_pick(struct dest_table *t, uint32_t stride, uint32_t offset)
{
	if (t->nact == 0)
		return DEST_NONE;
	while (t->nowed > 0) {
		uint32_t i = t->owed[--t->nowed];
		if (i < t->n && t->d[i].active)
			return i;
	}
	if (stride == 0)
		stride = 1;
	uint64_t k = t->picks++ * stride + offset;
	return t->act[k % t->nact];
}

int dest_table_owe(struct dest_table *t, uint32_t i)
{
	if (t->nowed == t->capowed) {
		uint32_t cap = t->capowed ? t->capowed * 2 : 16;
		uint32_t *p = realloc(t->owed, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		t->owed = p;
		t->capowed = cap;
	}
	t->owed[t->nowed++] = i;
	return 0;
}

int dest_table_encode(const struct dest_table *t, uint8_t **buf, size_t *len)
{
	size_t n = 4 + (size_t)t->n * WIRE_ENTRY;
	uint8_t *b = calloc(1, n), *p = b;

	if (!b)
		return -ENOMEM;
	memcpy(p, &t->n, 4);
	p += 4;
	for (uint32_t i = 0; i < t->n; i++, p += WIRE_ENTRY) {
		const struct dest *d = &t->d[i];
		memcpy(p, &d->target, 4);
		p[4] = d->active;
		if (d->addr.ss_family == AF_INET6) {
			struct sockaddr_in6 s6;
			memcpy(&s6, &d->addr, sizeof(s6));
			p[5] = 6;
			memcpy(p + 6, &s6.sin6_port, 2);
			memcpy(p + 8, &s6.sin6_addr, 16);
		} else {
			struct sockaddr_in s4;
			memcpy(&s4, &d->addr, sizeof(s4));
			p[5] = 4;
			memcpy(p + 6, &s4.sin_port, 2);
			memcpy(p + 8, &s4.sin_addr, 4);
		}
	}
	*buf = b;
	*len = n;
	return 0;
}

static int wire_addr(const uint8_t *p, struct sockaddr_storage *a)
{
	memset(a, 0, sizeof(*a));
	if (p[5] == 6) {
		struct sockaddr_in6 s6 = {.sin6_family = AF_INET6};
		memcpy(&s6.sin6_port, p + 6, 2);
		memcpy(&s6.sin6_addr, p + 8, 16);
		memcpy(a, &s6, sizeof(s6));
	} else if (p[5] == 4) {
		struct sockaddr_in s4 = {.sin_family = AF_INET};
		memcpy(&s4.sin_port, p + 6, 2);
		memcpy(&s4.sin_addr, p + 8, 4);
		memcpy(a, &s4, sizeof(s4));
	} else {
		return -EINVAL;
	}
	return p[4] <= 1 ? 0 : -EINVAL;
}

int dest_table_decode(struct dest_table *t, const uint8_t *buf, size_t len)
{
	uint32_t n;

	if (len < 4)
		return -EINVAL;
	memcpy(&n, buf, 4);
	if ((len - 4) / WIRE_ENTRY != n || (len - 4) % WIRE_ENTRY != 0 || n < t->n)
		return -EINVAL;
	/* Check everything before changing anything. */
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *p = buf + 4 + (size_t)i * WIRE_ENTRY;
		struct sockaddr_storage a;
		if (wire_addr(p, &a) < 0)
			return -EINVAL;
		if (i < t->n && !same_addr(&a, &t->d[i].addr))
			return -EINVAL;
	}
	if (reserve(t, n) < 0)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *p = buf + 4 + (size_t)i * WIRE_ENTRY;
		uint32_t target;
		memcpy(&target, p, 4);
		if (i >= t->n) {
			struct sockaddr_storage a;
			wire_addr(p, &a);
			fill(&t->d[i], &a, target, p[4]);
		}
		t->d[i].active = p[4];
	}
	t->n = n;
	rebuild_active(t);
	return 0;
}

int dest_table_to_options(const struct dest_table *t, struct options *o)
{
	struct destination *d = calloc(t->n ? t->n : 1, sizeof(*d));

	if (!d)
		return -ENOMEM;
	for (uint32_t i = 0; i < t->n; i++) {
		d[i].addr = t->d[i].addr;
		d[i].addrlen = t->d[i].addrlen;
		d[i].target = t->d[i].target;
		snprintf(d[i].label, sizeof(d[i].label), "%s", t->d[i].label);
	}
	free(o->dests);
	o->dests = d;
	o->ndests = t->n;
	return 0;
}

int dest_table_from_options(struct dest_table *t, const struct options *o)
{
	dest_table_init(t);
	if (reserve(t, (uint32_t)o->ndests) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < o->ndests; i++)
		fill(&t->d[i], &o->dests[i].addr, o->dests[i].target, true);
	t->n = (uint32_t)o->ndests;
	rebuild_active(t);
	return 0;
}

int dest_table_register_stats(struct dest_table *t, struct stats *s)
{
	char name[STATS_NAME_MAX];

	for (uint32_t i = 0; i < t->n; i++) {
		struct dest *d = &t->d[i];
		if (d->id_conns >= 0)
			continue;
		snprintf(name, sizeof(name), DEST_STAT_PREFIX "%.50s:conns", d->label);
		int a = stats_counter_id(s, name);
		snprintf(name, sizeof(name), DEST_STAT_PREFIX "%.50s:failed", d->label);
		int b = stats_counter_id(s, name);
		snprintf(name, sizeof(name), DEST_STAT_PREFIX "%.50s:latency", d->label);
		int c = stats_hist_id(s, name);
		if (a < 0 || b < 0 || c < 0)
			return -ENOMEM;
		d->id_conns = a;
		d->id_failed = b;
		d->id_latency = c;
	}
	return 0;
}

void dest_record_open(const struct dest_table *t, uint32_t i, struct stats *s)
{
	if (i < t->n && t->d[i].id_conns >= 0)
		s->ncounter[t->d[i].id_conns].value++;
}

void dest_record_failed(const struct dest_table *t, uint32_t i, struct stats *s)
{
	if (i < t->n && t->d[i].id_failed >= 0)
		s->ncounter[t->d[i].id_failed].value++;
}

void dest_record_latency(const struct dest_table *t, uint32_t i, struct stats *s, int64_t ns)
{
	if (i < t->n && t->d[i].id_latency >= 0)
		hist_record(s->nhist[t->d[i].id_latency].h, ns);
}
