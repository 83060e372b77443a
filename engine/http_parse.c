/* http_parse: see http_parse.h. Section numbers are RFC 9112's unless named. */
#include "http_parse.h"

#include <string.h>

/* A chunk-size line longer than this (extensions included) is hostile. */
#define CHUNK_LINE_MAX 4096
/* Content-Length and chunk sizes: past this a length is a lie, not a wait. */
#define LENGTH_MAX ((uint64_t)1 << 62)

struct head {
	uint16_t status;
	uint8_t minor;
	bool has_length, te, chunked, conn_close, conn_keep_alive;
	uint64_t length;
};

/* RFC 9110 5.6.2: tchar, DIGIT / ALPHA / "!#$%&'*+-.^_`|~", a bit per byte:
 * every header name of every answer goes through it. */
static bool is_tchar(uint8_t ch)
{
	static const uint32_t tchar[8] = { 0, 0x03ff6cfa, 0xc7fffffe, 0x57ffffff };
	return tchar[ch >> 5] >> (ch & 31) & 1;
}

/* Whether v[0, n) holds a control byte, HTAB aside (RFC 9110 5.5), eight
 * bytes a step: a word with a byte below 0x20 or a DEL (a borrow may flag
 * the bytes above a true one too) is looked at byte by byte. */
static bool has_ctl(const uint8_t *v, size_t n)
{
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t x, del;
		memcpy(&x, v + i, 8);
		del = x ^ (0x7f * ones);
		if (((x - 0x20 * ones) & ~x & highs) | ((del - ones) & ~del & highs))
			break;
	}
	for (; i < n; i++)
		if ((v[i] < 0x20 && v[i] != '\t') || v[i] == 0x7f)
			return true;
	return false;
}

static bool ieq(const uint8_t *p, size_t n, const char *lit)
{
	size_t k = strlen(lit);
	if (n != k)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((p[i] | 0x20) != (uint8_t)lit[i])
			return false;
	return true;
}

/* The next line of [p, end): its length without the line ending through
 * *len, and the bytes it takes with it. 0: no line ending yet. A lone LF
 * ends a line too (2.2 lets a recipient accept it). */
static size_t line(const uint8_t *p, const uint8_t *end, size_t *len)
{
	const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
	if (!nl)
		return 0;
	*len = (size_t)(nl - p) - (nl > p && nl[-1] == '\r');
	return (size_t)(nl - p) + 1;
}

static void trim(const uint8_t **v, size_t *n)
{
	while (*n && (**v == ' ' || **v == '\t'))
		(*v)++, (*n)--;
	while (*n && ((*v)[*n - 1] == ' ' || (*v)[*n - 1] == '\t'))
		(*n)--;
}

/* Calls fn for each comma-separated, trimmed, non-empty element of a list
 * (RFC 9110 5.6.1: empty elements are ignored). Returns how many there were,
 * or -1 as soon as fn returns false. */
static int each_element(const uint8_t *v, size_t n, bool (*fn)(struct head *, const uint8_t *, size_t),
			struct head *h)
{
	size_t i = 0;
	int count = 0;
	while (i <= n) {
		size_t j = i;
		while (j < n && v[j] != ',')
			j++;
		const uint8_t *e = v + i;
		size_t en = j - i;
		trim(&e, &en);
		if (en && !fn(h, e, en))
			return -1;
		count += en > 0;
		i = j + 1;
	}
	return count;
}

/* RFC 9110 8.6: a list of identical values is one value. */
static bool content_length(struct head *h, const uint8_t *v, size_t n)
{
	uint64_t x = 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9' || x > LENGTH_MAX / 10)
			return false;
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	if (x > LENGTH_MAX || (h->has_length && h->length != x))
		return false;
	h->has_length = true;
	h->length = x;
	return true;
}

/* 6.3 p.4: chunked only counts as the final coding. */
static bool transfer_coding(struct head *h, const uint8_t *v, size_t n)
{
	h->te = true;
	h->chunked = ieq(v, n, "chunked");
	return true;
}

static bool connection_option(struct head *h, const uint8_t *v, size_t n)
{
	if (ieq(v, n, "close"))
		h->conn_close = true;
	else if (ieq(v, n, "keep-alive"))
		h->conn_keep_alive = true;
	return true;
}

/* Header (or trailer) field lines from p up to and including the empty line
 * that ends them (5). Returns the bytes taken, 0 for more, -1 malformed.
 * h is NULL for trailers, whose fields change nothing here. budget: bytes
 * the section may take. */
static long fields(const uint8_t *p, const uint8_t *end, const struct http_limits *lim,
		   size_t budget, struct head *h, const char **why)
{
	const uint8_t *s = p;
	uint32_t count = 0;

	for (;;) {
		size_t len, took;
		const uint8_t *stop = (size_t)(end - s) > budget ? s + budget : end;
		if (!(took = line(p, stop, &len))) {
			if (stop < end || (size_t)(end - s) == budget) {
				*why = "header too large";
				return -1;
			}
			return 0;
		}
		if (len == 0)
			return (long)(p + took - s);
		if (++count > lim->max_headers) {
			*why = "too many headers";
			return -1;
		}
		/* 5.2: obsolete line folding may be rejected; 5.1: no whitespace
		 * between name and colon. */
		size_t c = 0;
		while (c < len && is_tchar(p[c]))
			c++;
		if (c == 0 || c == len || p[c] != ':') {
			*why = "bad header";
			return -1;
		}
		const uint8_t *v = p + c + 1;
		size_t vn = len - c - 1;
		if (has_ctl(v, vn)) {
			*why = "bad header";
			return -1;
		}
		/* By length first: most names are none of the three. */
		if (!h || (c != 14 && c != 17 && c != 10)) {
			p += took;
			continue;
		}
		trim(&v, &vn);
		if (ieq(p, c, "content-length")) {
			/* 8.6: 1*DIGIT. One with no value at all ("", ",") is
			 * no length to frame by, not an absent one. */
			if (each_element(v, vn, content_length, h) <= 0) {
				*why = "bad content-length";
				return -1;
			}
		} else if (ieq(p, c, "transfer-encoding")) {
			each_element(v, vn, transfer_coding, h);
		} else if (ieq(p, c, "connection")) {
			each_element(v, vn, connection_option, h);
		}
		p += took;
	}
}

/* One response head: status line (4) and fields. Returns its length, 0 for
 * more, -1 malformed. */
static long head(const uint8_t *p, size_t n, const struct http_limits *lim, struct head *h,
		 const char **why)
{
	const uint8_t *end = p + n;
	size_t len, took;

	memset(h, 0, sizeof(*h));
	/* Status line first: a garbage stream is refused at its first bytes,
	 * not once max_head of it arrived. */
	static const char proto[] = "HTTP/1.";
	size_t k = n < 7 ? n : 7;
	if (memcmp(p, proto, k) != 0) {
		*why = "bad status line";
		return -1;
	}
	if (!(took = line(p, n > lim->max_head ? p + lim->max_head : end, &len))) {
		if (n >= lim->max_head) {
			*why = "header too large";
			return -1;
		}
		return 0;
	}
	/* HTTP/1.x SP 3DIGIT [SP reason-phrase]; 4: the reason may be empty,
	 * and some servers drop the space before it. */
	if (len < 12 || p[7] < '0' || p[7] > '9' || p[8] != ' ' || (len > 12 && p[12] != ' ')) {
		*why = "bad status line";
		return -1;
	}
	for (int i = 9; i < 12; i++) {
		if (p[i] < '0' || p[i] > '9') {
			*why = "bad status line";
			return -1;
		}
	}
	h->minor = (uint8_t)(p[7] - '0');
	h->status = (uint16_t)((p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0'));
	if (h->status < 100 || h->status > 599) {
		*why = "bad status";
		return -1;
	}
	if (len > 13 && has_ctl(p + 13, len - 13)) {
		*why = "bad status line";
		return -1;
	}
	long f = fields(p + took, end, lim, lim->max_head > took ? lim->max_head - took : 1, h, why);
	return f <= 0 ? f : (long)took + f;
}

/* A chunked body from p (7.1). Returns its length with the trailer section,
 * 0 for more, -1 malformed; *data counts the chunks' payload. */
static long chunked(const uint8_t *p, size_t n, const struct http_limits *lim, uint64_t *data,
		    const char **why)
{
	const uint8_t *s = p, *end = p + n;

	*data = 0;
	for (;;) {
		size_t len, took, avail = (size_t)(end - p);
		if (!(took = line(p, avail > CHUNK_LINE_MAX ? p + CHUNK_LINE_MAX : end, &len))) {
			if (avail >= CHUNK_LINE_MAX) {
				*why = "bad chunk size";
				return -1;
			}
			return 0;
		}
		/* 7.1: 1*HEXDIG, so leading zeros may be many (the line's
		 * length bounds them); past them, a 17th digit overflows. */
		uint64_t size = 0;
		size_t i = 0, z = 0;
		while (z < len && p[z] == '0')
			z++;
		for (i = z; i < len && i - z < 16; i++) {
			uint8_t ch = p[i], d;
			if (ch >= '0' && ch <= '9')
				d = (uint8_t)(ch - '0');
			else if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f')
				d = (uint8_t)((ch | 0x20) - 'a' + 10);
			else
				break;
			size = size << 4 | d;
		}
		/* After the digits: the end, or extensions (7.1.1) after BWS. */
		if (i == 0 || size > LENGTH_MAX ||
		    (i < len && p[i] != ';' && p[i] != ' ' && p[i] != '\t')) {
			*why = "bad chunk size";
			return -1;
		}
		p += took;
		if (size == 0) {
			long t = fields(p, end, lim, lim->max_head, NULL, why);
			if (t == 0 || t < 0)
				return t;
			return (long)(p + t - s);
		}
		if ((uint64_t)(end - p) < size + 2) {
			/* The chunk's data need not be all here; a wrong ending can
			 * be seen as soon as it is. */
			if ((uint64_t)(end - p) > size && p[size] != '\r' && p[size] != '\n')
				goto bad_end;
			return 0;
		}
		const uint8_t *e = p + size;
		if (e[0] == '\n')
			took = 1;
		else if (e[0] == '\r' && e[1] == '\n')
			took = 2;
		else
			goto bad_end;
		*data += size;
		p = e + took;
	}
bad_end:
	*why = "bad chunk";
	return -1;
}

long http_parse_response(const uint8_t *p, size_t n, const struct http_limits *lim,
			 struct http_response *r)
{
	struct head h;
	size_t off = 0;

	memset(r, 0, sizeof(*r));
	for (;;) {
		if (off == n)
			return 0;
		long hl = head(p + off, n - off, lim, &h, &r->why);
		if (hl <= 0)
			return hl;
		off += (size_t)hl;
		/* 15.2: interim responses precede the final one; 101 would switch
		 * protocols, which no request of surge's asks for. */
		if (h.status == 101) {
			r->why = "unexpected 101";
			return -1;
		}
		if (h.status >= 200)
			break;
	}
	r->status = h.status;
	r->minor = h.minor;
	r->head_len = (uint32_t)off;
	/* 9.3: HTTP/1.0 closes unless it asks to keep alive; a body that
	 * Transfer-Encoding framed despite a Content-Length is suspect (6.3 p.3:
	 * close after it). */
	r->server_closes = h.conn_close || (h.minor == 0 && !h.conn_keep_alive);
	r->close = r->server_closes || (h.te && h.has_length);

	/* 6.3: which rule says where the body ends. */
	if (lim->head || h.status == 204 || h.status == 304) {
		r->length = off;
		return (long)off;
	}
	if (h.te && h.chunked) {
		long b = chunked(p + off, n - off, lim, &r->body_bytes, &r->why);
		return b <= 0 ? b : (long)off + b;
	}
	if (h.te || !h.has_length) {
		r->until_close = true;
		r->close = r->server_closes = true;
		r->body_bytes = n - off;
		return 0;
	}
	r->length = off + h.length;
	if (h.length > n - off)
		return 0;
	r->body_bytes = h.length;
	return (long)(off + h.length);
}
