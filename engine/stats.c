/* stats: per-interval counters and histograms, their exact merge and their
 * wire form between worker and coordinator. */
#include "stats.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

static const char *const error_names[ERR__COUNT] = {
	[ERR_CONNECT_REFUSED] = "connect refused",
	[ERR_CONNECT_TIMEOUT] = "connect timeout",
	[ERR_ADDR_NOT_AVAILABLE] = "address not available",
	[ERR_RESET] = "connection reset",
	[ERR_UNEXPECTED_CLOSE] = "unexpected close",
	[ERR_REQUEST_TIMEOUT] = "request timeout",
	[ERR_PROTOCOL] = "protocol error",
	[ERR_SCRIPT] = "script error",
	[ERR_OTHER] = "other",
	[ERR_UDP_REFUSED] = "udp refused",
	[ERR_TLS_HANDSHAKE] = "tls handshake",
	[ERR_TLS_VERIFY] = "tls verify",
	[ERR_UNREACHABLE] = "unreachable",
};

static const char *const error_keys[ERR__COUNT] = {
	[ERR_CONNECT_REFUSED] = "connect_refused",
	[ERR_CONNECT_TIMEOUT] = "connect_timeout",
	[ERR_ADDR_NOT_AVAILABLE] = "address_not_available",
	[ERR_RESET] = "reset",
	[ERR_UNEXPECTED_CLOSE] = "unexpected_close",
	[ERR_REQUEST_TIMEOUT] = "request_timeout",
	[ERR_PROTOCOL] = "protocol",
	[ERR_SCRIPT] = "script",
	[ERR_OTHER] = "other",
	[ERR_UDP_REFUSED] = "udp_refused",
	[ERR_TLS_HANDSHAKE] = "tls_handshake",
	[ERR_TLS_VERIFY] = "tls_verify",
	[ERR_UNREACHABLE] = "unreachable",
};

static const char *const hist_keys[HI__COUNT] = {
	[HI_LATENCY] = "latency",
	[HI_SERVICE] = "service",
	[HI_CONNECT] = "connect",
	[HI_SEND_LAG] = "send_lag",
};

static const char *const counter_keys[ST__COUNT] = {
	[ST_SENT] = "sent",
	[ST_COMPLETED] = "completed",
	[ST_CONN_ATTEMPTS] = "conn_attempts",
	[ST_CONN_OPENED] = "conn_opened",
	[ST_CONN_CLOSED] = "conn_closed",
	[ST_BYTES_OUT] = "bytes_out",
	[ST_BYTES_IN] = "bytes_in",
	[ST_INTENDED] = "intended",
	[ST_DROPPED] = "dropped",
	[ST_SESSIONS_DONE] = "sessions_done",
	[ST_UNFINISHED] = "unfinished",
	[ST_SESSIONS_UNFINISHED] = "sessions_unfinished",
	[ST_DROPPED_BUSY] = "dropped_busy",
	[ST_DROPPED_NO_CONN] = "dropped_no_conn",
};

static const char *const gauge_keys[GA__COUNT] = {
	[GA_CONNS_OPEN] = "conns_open",
	[GA_CONNS_TARGET] = "conns_target",
	[GA_INFLIGHT] = "inflight",
	[GA_BACKLOG] = "backlog",
	[GA_CONNS_PEAK] = "conns_peak",
};

const char *stats_error_name(enum stat_error e) { return error_names[e]; }
const char *stats_error_key(enum stat_error e) { return error_keys[e]; }
const char *stats_hist_key(enum stat_hist h) { return hist_keys[h]; }
const char *stats_counter_key(enum stat_counter c) { return counter_keys[c]; }
const char *stats_gauge_key(enum stat_gauge g) { return gauge_keys[g]; }

int stats_init(struct stats *s)
{
	memset(s, 0, sizeof(*s));
	for (int i = 0; i < HI__COUNT; i++) {
		s->hist[i] = hist_new_default();
		if (!s->hist[i]) {
			stats_free(s);
			return -ENOMEM;
		}
	}
	return 0;
}

void stats_free(struct stats *s)
{
	if (!s)
		return;
	for (int i = 0; i < HI__COUNT; i++)
		hist_free(s->hist[i]);
	for (size_t i = 0; i < s->nnhist; i++)
		hist_free(s->nhist[i].h);
	free(s->nhist);
	free(s->ncounter);
	free(s->src_conns);
	free(s->src_reqs);
	memset(s, 0, sizeof(*s));
}

void stats_reset(struct stats *s)
{
	memset(s->counter, 0, sizeof(s->counter));
	memset(s->error, 0, sizeof(s->error));
	memset(s->gauge, 0, sizeof(s->gauge));
	for (int i = 0; i < HI__COUNT; i++)
		hist_reset(s->hist[i]);
	for (size_t i = 0; i < s->nncounter; i++)
		s->ncounter[i].value = 0;
	for (size_t i = 0; i < s->nnhist; i++)
		hist_reset(s->nhist[i].h);
	if (s->nsrc) {
		memset(s->src_conns, 0, s->nsrc * sizeof(*s->src_conns));
		memset(s->src_reqs, 0, s->nsrc * sizeof(*s->src_reqs));
	}
}

int stats_sources_init(struct stats *s, uint32_t n)
{
	if (n > STATS_SOURCES_MAX)
		return -E2BIG;
	if (n <= s->nsrc)
		return 0;
	int64_t *c = realloc(s->src_conns, n * sizeof(*c));
	if (!c)
		return -ENOMEM;
	s->src_conns = c;
	int64_t *r = realloc(s->src_reqs, n * sizeof(*r));
	if (!r)
		return -ENOMEM;
	s->src_reqs = r;
	memset(c + s->nsrc, 0, (n - s->nsrc) * sizeof(*c));
	memset(r + s->nsrc, 0, (n - s->nsrc) * sizeof(*r));
	s->nsrc = n;
	return 0;
}

int stats_counter_id(struct stats *s, const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len >= STATS_NAME_MAX)
		return -ENAMETOOLONG;
	for (size_t i = 0; i < s->nncounter; i++)
		if (strcmp(s->ncounter[i].name, name) == 0)
			return (int)i;
	if (s->nncounter == s->capncounter) {
		size_t cap = s->capncounter ? s->capncounter * 2 : 16;
		void *p = realloc(s->ncounter, cap * sizeof(*s->ncounter));
		if (!p)
			return -ENOMEM;
		s->ncounter = p;
		s->capncounter = cap;
	}
	memcpy(s->ncounter[s->nncounter].name, name, len + 1);
	s->ncounter[s->nncounter].value = 0;
	return (int)s->nncounter++;
}

int stats_hist_id(struct stats *s, const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len >= STATS_NAME_MAX)
		return -ENAMETOOLONG;
	for (size_t i = 0; i < s->nnhist; i++)
		if (strcmp(s->nhist[i].name, name) == 0)
			return (int)i;
	if (s->nnhist == s->capnhist) {
		size_t cap = s->capnhist ? s->capnhist * 2 : 8;
		void *p = realloc(s->nhist, cap * sizeof(*s->nhist));
		if (!p)
			return -ENOMEM;
		s->nhist = p;
		s->capnhist = cap;
	}
	struct hist *h = hist_new_default();
	if (!h)
		return -ENOMEM;
	memcpy(s->nhist[s->nnhist].name, name, len + 1);
	s->nhist[s->nnhist].h = h;
	return (int)s->nnhist++;
}

const struct hist *stats_hist_by_name(const struct stats *s, const char *name)
{
	for (int i = 0; i < HI__COUNT; i++)
		if (strcmp(hist_keys[i], name) == 0)
			return s->hist[i];
	for (size_t i = 0; i < s->nnhist; i++)
		if (strcmp(s->nhist[i].name, name) == 0)
			return s->nhist[i].h;
	return NULL;
}

int64_t stats_counter_by_name(const struct stats *s, const char *name)
{
	for (size_t i = 0; i < s->nncounter; i++)
		if (strcmp(s->ncounter[i].name, name) == 0)
			return s->ncounter[i].value;
	return 0;
}

/* Everything stats_add needs of the allocator, before it adds anything: the
 * counts of dst's histograms that src's would touch, dst's entries for src's
 * names, its per-source arrays. Names it added are taken back on failure. */
static int reserve(struct stats *dst, const struct stats *src)
{
	size_t ncounters = dst->nncounter, nhists = dst->nnhist;
	int rc = 0;

	for (int i = 0; i < HI__COUNT && rc >= 0; i++)
		rc = hist_reserve(dst->hist[i], src->hist[i]);
	for (size_t i = 0; i < src->nncounter && rc >= 0; i++)
		rc = stats_counter_id(dst, src->ncounter[i].name);
	for (size_t i = 0; i < src->nnhist && rc >= 0; i++) {
		rc = stats_hist_id(dst, src->nhist[i].name);
		if (rc >= 0)
			rc = hist_reserve(dst->nhist[rc].h, src->nhist[i].h);
	}
	if (rc >= 0 && src->nsrc)
		rc = stats_sources_init(dst, src->nsrc);
	if (rc >= 0)
		return 0;
	for (size_t i = nhists; i < dst->nnhist; i++)
		hist_free(dst->nhist[i].h);
	dst->nnhist = nhists;
	dst->nncounter = ncounters;
	return rc;
}

int stats_add(struct stats *dst, const struct stats *src)
{
	int rc = reserve(dst, src);

	if (rc < 0)
		return rc;
	for (int i = 0; i < ST__COUNT; i++)
		dst->counter[i] += src->counter[i];
	for (int i = 0; i < ERR__COUNT; i++)
		dst->error[i] += src->error[i];
	for (int i = 0; i < GA__COUNT; i++)
		dst->gauge[i] += src->gauge[i];
	/* Clamped values are counted in the histogram (hist_clamped): not a
	 * failure of the merge. */
	for (int i = 0; i < HI__COUNT; i++)
		hist_add(dst->hist[i], src->hist[i]);
	/* Each name is dst's already (reserve): its id is a lookup. */
	for (size_t i = 0; i < src->nncounter; i++) {
		int id = stats_counter_id(dst, src->ncounter[i].name);
		stats_counter_add(&dst->ncounter[id].value, src->ncounter[i].value);
	}
	for (size_t i = 0; i < src->nnhist; i++) {
		int id = stats_hist_id(dst, src->nhist[i].name);
		hist_add(dst->nhist[id].h, src->nhist[i].h);
	}
	for (uint32_t i = 0; i < src->nsrc; i++) {
		dst->src_conns[i] += src->src_conns[i];
		dst->src_reqs[i] += src->src_reqs[i];
	}
	return 0;
}

/* Wire form: a growable byte buffer of little-endian fields. Only the two
 * processes of one run read it, so it is versionless. */
struct wbuf {
	struct buf *out;
	int err; /* the first failure: later puts are skipped */
};

static void wb_put(struct wbuf *b, const void *src, size_t n)
{
	if (!b->err)
		b->err = buf_append(b->out, src, n);
}

static void wb_u32(struct wbuf *b, uint32_t v) { wb_put(b, &v, sizeof(v)); }
static void wb_i64(struct wbuf *b, int64_t v) { wb_put(b, &v, sizeof(v)); }

/* Straight into the wire buffer: a histogram's worst case is reserved (it
 * costs address space, not memory: only the bytes written are touched). */
static void wb_hist(struct wbuf *b, const struct hist *h)
{
	if (hist_total(h) == 0) {
		wb_u32(b, 0);
		return;
	}
	if (!b->err)
		b->err = buf_reserve(b->out, sizeof(uint32_t) + hist_encode_bound(h));
	if (b->err)
		return;
	uint8_t *at = buf_start(b->out) + b->out->len;
	uint32_t n = (uint32_t)hist_encode_into(h, at + sizeof(n));
	memcpy(at, &n, sizeof(n));
	b->out->len += (uint32_t)sizeof(n) + n;
}

static void wb_name(struct wbuf *b, const char *name)
{
	uint32_t n = (uint32_t)strlen(name);
	wb_u32(b, n);
	wb_put(b, name, n);
}

int stats_encode(const struct stats *s, struct buf *out)
{
	struct wbuf b = {out, 0};

	out->head = out->len = 0;

	wb_put(&b, s->counter, sizeof(s->counter));
	wb_put(&b, s->error, sizeof(s->error));
	wb_put(&b, s->gauge, sizeof(s->gauge));
	for (int i = 0; i < HI__COUNT; i++)
		wb_hist(&b, s->hist[i]);
	wb_u32(&b, (uint32_t)s->nncounter);
	for (size_t i = 0; i < s->nncounter; i++) {
		wb_name(&b, s->ncounter[i].name);
		wb_i64(&b, s->ncounter[i].value);
	}
	wb_u32(&b, (uint32_t)s->nnhist);
	for (size_t i = 0; i < s->nnhist; i++) {
		wb_name(&b, s->nhist[i].name);
		wb_hist(&b, s->nhist[i].h);
	}
	wb_u32(&b, s->nsrc);
	if (s->nsrc) {
		wb_put(&b, s->src_conns, s->nsrc * sizeof(*s->src_conns));
		wb_put(&b, s->src_reqs, s->nsrc * sizeof(*s->src_reqs));
	}
	if (b.err)
		out->len = 0;
	return b.err;
}

struct rbuf {
	const uint8_t *p;
	size_t len, off;
};

static int rb_get(struct rbuf *b, void *dst, size_t n)
{
	if (b->len - b->off < n)
		return -EINVAL;
	memcpy(dst, b->p + b->off, n);
	b->off += n;
	return 0;
}

static int rb_hist_into(struct rbuf *b, struct hist **dst)
{
	uint32_t n;
	struct hist *h = NULL;

	if (rb_get(b, &n, sizeof(n)) < 0)
		return -EINVAL;
	if (n == 0)
		return 0;
	if (b->len - b->off < n)
		return -EINVAL;
	int rc = hist_decode(b->p + b->off, n, &h);
	if (rc < 0)
		return rc;
	b->off += n;
	/* Into an empty one (a fresh decode, the coordinator's case for every
	 * worker's every second) the decoded histogram is taken as it is: no
	 * second pass, no second set of pages faulted in and unmapped. hist_add
	 * handles a layout that differs wherever it is added next. */
	if (hist_total(*dst) == 0) {
		hist_free(*dst);
		*dst = h;
		return 0;
	}
	rc = hist_add(*dst, h);
	hist_free(h);
	return rc == -ENOMEM ? rc : 0;
}

static int rb_name(struct rbuf *b, char name[STATS_NAME_MAX])
{
	uint32_t n;

	if (rb_get(b, &n, sizeof(n)) < 0 || n == 0 || n >= STATS_NAME_MAX)
		return -EINVAL;
	if (rb_get(b, name, n) < 0)
		return -EINVAL;
	name[n] = '\0';
	return 0;
}

/* What the engine counts is >= 0: a negative one is no worker's. (Error
 * classes and named counters are not checked: Lua may add any n to them.) */
static bool has_negative(const struct stats *s)
{
	int64_t low = 0;

	for (int i = 0; i < ST__COUNT; i++)
		low = s->counter[i] < low ? s->counter[i] : low;
	for (int i = 0; i < GA__COUNT; i++)
		low = s->gauge[i] < low ? s->gauge[i] : low;
	for (uint32_t i = 0; i < s->nsrc; i++) {
		low = s->src_conns[i] < low ? s->src_conns[i] : low;
		low = s->src_reqs[i] < low ? s->src_reqs[i] : low;
	}
	return low < 0;
}

int stats_decode(const uint8_t *buf, size_t len, struct stats *out)
{
	struct rbuf b = {buf, len, 0};
	char name[STATS_NAME_MAX];
	uint32_t n;
	int rc = stats_init(out);

	if (rc < 0)
		return rc;
	rc = -EINVAL;
	if (rb_get(&b, out->counter, sizeof(out->counter)) < 0 ||
	    rb_get(&b, out->error, sizeof(out->error)) < 0 ||
	    rb_get(&b, out->gauge, sizeof(out->gauge)) < 0)
		goto fail;
	for (int i = 0; i < HI__COUNT; i++)
		if ((rc = rb_hist_into(&b, &out->hist[i])) < 0)
			goto fail;
	rc = -EINVAL;
	if (rb_get(&b, &n, sizeof(n)) < 0)
		goto fail;
	for (uint32_t i = 0; i < n; i++) {
		int64_t v;
		if (rb_name(&b, name) < 0 || rb_get(&b, &v, sizeof(v)) < 0)
			goto fail;
		size_t known = out->nncounter;
		int id = stats_counter_id(out, name);
		if (id < 0) {
			rc = id;
			goto fail;
		}
		if ((size_t)id < known) /* a worker sends each name once */
			goto fail;
		out->ncounter[id].value = v;
	}
	if (rb_get(&b, &n, sizeof(n)) < 0)
		goto fail;
	for (uint32_t i = 0; i < n; i++) {
		/* rc is 0 after a metric: a cut in the next one's name must
		 * not return it as success. */
		rc = -EINVAL;
		if (rb_name(&b, name) < 0)
			goto fail;
		size_t known = out->nnhist;
		int id = stats_hist_id(out, name);
		if (id < 0) {
			rc = id;
			goto fail;
		}
		if ((size_t)id < known)
			goto fail;
		if ((rc = rb_hist_into(&b, &out->nhist[id].h)) < 0)
			goto fail;
	}
	rc = -EINVAL;
	if (rb_get(&b, &n, sizeof(n)) < 0 || n > STATS_SOURCES_MAX)
		goto fail;
	if (n) {
		if ((rc = stats_sources_init(out, n)) < 0)
			goto fail;
		rc = -EINVAL;
		if (rb_get(&b, out->src_conns, n * sizeof(*out->src_conns)) < 0 ||
		    rb_get(&b, out->src_reqs, n * sizeof(*out->src_reqs)) < 0)
			goto fail;
	}
	if (b.off != b.len || has_negative(out))
		goto fail;
	return 0;
fail:
	stats_free(out);
	return rc;
}

int64_t stats_errors_total(const struct stats *s)
{
	int64_t n = 0;

	for (int i = 0; i < ERR__COUNT; i++)
		n += s->error[i];
	return n;
}

double stats_error_rate(const struct stats *s)
{
	int64_t errors = stats_errors_total(s);
	int64_t base = errors + s->counter[ST_COMPLETED] + s->counter[ST_SESSIONS_DONE] +
		       s->counter[ST_SESSIONS_UNFINISHED];

	return base ? (double)errors / (double)base : NAN;
}

void stats_count_errno(struct stats *s, int e)
{
	char name[STATS_NAME_MAX];
	const char *n = e > 0 ? strerrorname_np(e) : NULL;

	if (n)
		snprintf(name, sizeof(name), "errno.%s", n);
	else
		snprintf(name, sizeof(name), "errno.%d", e);
	int id = stats_counter_id(s, name);
	if (id >= 0)
		s->ncounter[id].value++;
}

enum stat_error stats_errno_class(int e, bool connecting)
{
	switch (e) {
	case ECONNREFUSED:
		return ERR_CONNECT_REFUSED;
	case ETIMEDOUT:
		return connecting ? ERR_CONNECT_TIMEOUT : ERR_RESET;
	case EADDRNOTAVAIL:
	case EADDRINUSE:
		return ERR_ADDR_NOT_AVAILABLE;
	case ECONNRESET:
	case EPIPE:
	case ECONNABORTED:
		return ERR_RESET;
	case EPROTO: /* only the TLS layer says it (tls.h) */
		return ERR_TLS_HANDSHAKE;
	case EHOSTUNREACH:
	case ENETUNREACH:
		return ERR_UNREACHABLE;
	default:
		return ERR_OTHER;
	}
}

/* Past the largest errno Linux has (EHWPOISON, 133). */
#define ERRNO_MAX 256

int stats_errno_of(const char *name)
{
	char *end;

	if (strncmp(name, "errno.", 6) != 0 || !name[6])
		return 0;
	name += 6;
	if (isdigit((unsigned char)name[0])) {
		long e = strtol(name, &end, 10);
		return *end == '\0' && e > 0 && e < INT32_MAX ? (int)e : 0;
	}
	for (int e = 1; e < ERRNO_MAX; e++) {
		const char *n = strerrorname_np(e);
		if (n && strcmp(n, name) == 0)
			return e;
	}
	return 0;
}

void stats_count_conn(struct stats *s, const char *prefix, enum stat_error cls)
{
	char name[STATS_NAME_MAX];

	snprintf(name, sizeof(name), "%s%s", prefix, stats_error_key(cls));
	int id = stats_counter_id(s, name);
	if (id >= 0)
		s->ncounter[id].value++;
}
