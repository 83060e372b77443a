/* serve_rtsp: a synthetic RTSP source (RFC 2326) over interleaved TCP. Each
 * connection is one viewer: OPTIONS, DESCRIBE, SETUP per track, PLAY, then
 * RTP paced from the 1 ms tick, RTCP sender reports each second, keepalives
 * and TEARDOWN. Faults are drawn from the core's seeded random and counted
 * here, so tests compare what readers report with what was injected. */
#include "serve_rtsp.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "serve.h"
#include "units.h"

#define MAX_TRACKS 8
#define NS UINT64_C(1000000000)
#define CLOCK_RATE 90000
#define MAX_BURST 64 /* packets one tick may catch up */
#define FRAME_MAX (65535 + 4)

enum counter {
	C_SESSIONS,   /* PLAY answered */
	C_PACKETS,    /* RTP packets sent */
	C_RTP_BYTES,  /* RTP bytes sent (without the 4-byte interleave header) */
	C_LOST,       /* packets never sent (--loss) that a later packet revealed */
	C_REORDERED,  /* packets sent after their successor (--reorder) */
	C_KEYFRAMES,  /* keyframe packets sent */
	C_RTCP,       /* sender reports sent */
	C_TEARDOWNS,
	C_KEEPALIVES, /* GET_PARAMETER and OPTIONS while a session exists */
	C_TIMEOUTS,   /* sessions closed after --session-timeout of silence */
	C_SKIPPED,    /* packets not sent: the reader was over 4 MiB behind */
	C_JITTER_US,  /* sum over tracks of the RFC 3550 jitter of the send times */
	C_JITTER_TRACKS,
	C_ERRORS,     /* 4xx/5xx answers */
	C_LOST_EDGES, /* never sent, after a track's last packet sent: no
		       * reader can tell */
	C_LOST_FIRST, /* never sent, before a track's first packet: only PLAY's
		       * RTP-Info seq reveals them (a reader's first_seq_gap) */
};

struct rtsp_config {
	uint64_t bitrate;     /* bits/s per track */
	uint64_t packet_size; /* RTP bytes per packet */
	uint64_t tracks;
	double loss, reorder;
	uint64_t jitter_ns, keyframe_ns, timeout_ns;
	long seq_start;       /* -1: random per track */
	uint64_t interval_ns; /* derived: time between packets of a track */
};

struct rtsp_track {
	bool setup, held, held_key, jit_started;
	uint8_t channel;
	uint16_t seq, held_seq;
	uint32_t ssrc, ts_base, held_ts;
	uint32_t packets, octets; /* for RTCP SR (RFC 3550 6.4.1) */
	uint32_t unrevealed;      /* lost since the last packet sent */
	uint64_t next_due;  /* ideal send time of the next packet */
	uint64_t delay;     /* injected delay of that packet */
	uint64_t next_key, next_rtcp;
	double transit, jitter; /* ns */
};

struct rtsp_state {
	uint64_t session;   /* 0: none yet */
	uint64_t start;     /* PLAY time: timestamps count from here */
	uint64_t last_request;
	bool playing;
	struct rtsp_track tr[MAX_TRACKS];
};

/* ---- pure pieces (serve_rtsp.h) ---- */

static const char *find_crlf2(const uint8_t *p, size_t n)
{
	return memmem(p, n, "\r\n\r\n", 4);
}

static bool header_is(const char *line, size_t n, const char *name, const char **value, size_t *vlen)
{
	size_t k = strlen(name);
	if (n <= k || strncasecmp(line, name, k) != 0 || line[k] != ':')
		return false;
	const char *v = line + k + 1, *end = line + n;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*value = v;
	*vlen = (size_t)(end - v);
	return true;
}

static long parse_number(const char *p, size_t n)
{
	long v = 0;
	if (n == 0 || n > 9)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

long serve_rtsp_parse(const uint8_t *in, size_t len, struct serve_rtsp_request *r)
{
	memset(r, 0, sizeof(*r));
	r->cseq = -1;
	const char *end = find_crlf2(in, len < SERVE_RTSP_MAX_HEAD ? len : SERVE_RTSP_MAX_HEAD);
	if (!end) {
		/* Reject garbage early rather than buffering up to the limit:
		 * a request starts with an upper-case method and a space. */
		size_t i = 0;
		while (i < len && i < 16 && ((in[i] >= 'A' && in[i] <= 'Z') || in[i] == '_'))
			i++;
		if (i < len && (i == 0 || i == 16 || in[i] != ' '))
			return -EINVAL;
		return len >= SERVE_RTSP_MAX_HEAD ? -EMSGSIZE : 0;
	}
	const char *p = (const char *)in, *head_end = end + 2;
	const char *eol = memchr(p, '\r', (size_t)(head_end - p));
	/* RFC 2326 6.1: Method SP Request-URI SP RTSP-Version CRLF */
	const char *sp1 = memchr(p, ' ', (size_t)(eol - p));
	if (!sp1 || sp1 == p || (size_t)(sp1 - p) >= sizeof(r->method))
		return -EINVAL;
	const char *sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1));
	if (!sp2 || sp2 == sp1 + 1 || eol - sp2 - 1 != 8 || memcmp(sp2 + 1, "RTSP/1.0", 8) != 0)
		return -EINVAL;
	for (const char *m = p; m < sp1; m++)
		if (!((*m >= 'A' && *m <= 'Z') || *m == '_'))
			return -EINVAL;
	memcpy(r->method, p, (size_t)(sp1 - p));
	r->url = sp1 + 1;
	r->url_len = (size_t)(sp2 - sp1 - 1);

	long body = 0;
	for (const char *line = eol + 2; line < head_end;) {
		const char *le = memchr(line, '\r', (size_t)(head_end - line));
		if (!le || le[1] != '\n')
			return -EINVAL;
		size_t n = (size_t)(le - line);
		const char *v;
		size_t vlen;
		if (n == 0)
			break;
		if (header_is(line, n, "CSeq", &v, &vlen)) {
			r->cseq = parse_number(v, vlen);
		} else if (header_is(line, n, "Session", &v, &vlen)) {
			const char *semi = memchr(v, ';', vlen);
			r->session = v;
			r->session_len = semi ? (size_t)(semi - v) : vlen;
		} else if (header_is(line, n, "Transport", &v, &vlen)) {
			r->transport = v;
			r->transport_len = vlen;
		} else if (header_is(line, n, "Content-Length", &v, &vlen)) {
			body = parse_number(v, vlen);
			if (body < 0 || body > 65536)
				return -EINVAL;
		} else if (!memchr(line, ':', n)) {
			return -EINVAL;
		}
		line = le + 2;
	}
	size_t total = (size_t)(end + 4 - p) + (size_t)body;
	if (len < total)
		return 0;
	r->length = total;
	return (long)total;
}

size_t serve_rtsp_base_len(const char *url, size_t len)
{
	while (len > 0 && url[len - 1] == '/')
		len--;
	return len;
}

int serve_rtsp_track_of(const char *url, size_t len)
{
	static const char tag[] = "/track";
	size_t k = sizeof(tag) - 1;
	if (len > 0 && url[len - 1] == '/')
		len--;
	size_t d = len;
	while (d > 0 && url[d - 1] >= '0' && url[d - 1] <= '9')
		d--;
	if (d == len || len - d > 3 || d < k || memcmp(url + d - k, tag, k) != 0)
		return -1;
	return (int)parse_number(url + d, len - d);
}

int serve_rtsp_transport(const char *t, size_t len, int *rtp)
{
	/* RFC 2326 12.39: a comma-separated list of alternatives, in order of
	 * preference; take the first over TCP. */
	const char *end = t + len;
	while (t < end) {
		const char *comma = memchr(t, ',', (size_t)(end - t));
		const char *alt_end = comma ? comma : end;
		size_t n = (size_t)(alt_end - t);
		while (n && (*t == ' ')) {
			t++;
			n--;
		}
		if (n >= 11 && strncasecmp(t, "RTP/AVP/TCP", 11) == 0) {
			*rtp = -1;
			const char *il = memmem(t, n, "interleaved=", 12);
			if (il) {
				const char *d = il + 12;
				long v = 0;
				int digits = 0;
				while (d < alt_end && *d >= '0' && *d <= '9' && digits < 4) {
					v = v * 10 + (*d++ - '0');
					digits++;
				}
				if (digits == 0 || v > 254)
					return -EINVAL;
				*rtp = (int)v;
			}
			return 0;
		}
		t = comma ? comma + 1 : end;
	}
	return -EPROTONOSUPPORT;
}

static void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

long serve_rtsp_packet(uint8_t *buf, size_t cap, uint8_t channel, uint16_t seq, uint32_t ts,
		       uint32_t ssrc, size_t size, int keyframe)
{
	static const uint8_t sps[] = { 0x67, 0x42, 0xc0, 0x1e, 0xd9 };
	static const uint8_t pps[] = { 0x68, 0xcb, 0x8c, 0xb2 };
	if (size < SERVE_RTSP_MIN_PACKET || size > 65535 || cap < size + 4)
		return -ENOSPC;
	buf[0] = '$';
	buf[1] = channel;
	put16(buf + 2, (uint32_t)size);
	uint8_t *r = buf + 4;
	r[0] = 0x80;       /* V=2 */
	r[1] = 0x80 | 96;  /* marker: each packet is a whole picture */
	put16(r + 2, seq);
	put32(r + 4, ts);
	put32(r + 8, ssrc);
	uint8_t *p = r + 12;
	size_t n = size - 12;
	if (keyframe) {
		/* STAP-A (24) with NRI 3: [size][SPS] [size][PPS] [size][IDR] */
		*p++ = 0x78;
		put16(p, sizeof(sps));
		memcpy(p + 2, sps, sizeof(sps));
		p += 2 + sizeof(sps);
		put16(p, sizeof(pps));
		memcpy(p + 2, pps, sizeof(pps));
		p += 2 + sizeof(pps);
		size_t idr = n - (size_t)(p - (r + 12)) - 2;
		put16(p, (uint32_t)idr);
		p += 2;
		*p++ = 0x65; /* IDR slice */
		memset(p, 0x88, idr - 1);
	} else {
		*p++ = 0x41; /* non-IDR slice */
		memset(p, 0x9a, n - 1);
	}
	return (long)(size + 4);
}

/* ---- configuration ---- */

static void *rtsp_config_new(void)
{
	struct rtsp_config *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->bitrate = 100000;
	c->packet_size = 1200;
	c->tracks = 1;
	c->keyframe_ns = NS;
	c->timeout_ns = 60 * NS;
	c->seq_start = -1;
	return c;
}

static int rtsp_option(void *config, const char *key, const char *value, char *err, size_t errlen)
{
	struct rtsp_config *c = config;
	uint64_t n;
	if (!value) {
		snprintf(err, errlen, "--%s needs a value (see --help)", key);
		return -EINVAL;
	}
	if (strcmp(key, "bitrate") == 0) {
		if (units_count(value, &c->bitrate) || c->bitrate < 1000 || c->bitrate > 1000000000ull)
			goto bad;
	} else if (strcmp(key, "packet-size") == 0) {
		if (units_count(value, &c->packet_size) || c->packet_size < SERVE_RTSP_MIN_PACKET ||
		    c->packet_size > 65000)
			goto bad;
	} else if (strcmp(key, "tracks") == 0) {
		if (units_count(value, &c->tracks) || c->tracks < 1 || c->tracks > MAX_TRACKS)
			goto bad;
	} else if (strcmp(key, "loss") == 0) {
		if (units_fraction(value, &c->loss) || c->loss >= 0.5)
			goto bad;
	} else if (strcmp(key, "reorder") == 0) {
		if (units_fraction(value, &c->reorder) || c->reorder >= 0.5)
			goto bad;
	} else if (strcmp(key, "jitter") == 0) {
		if (units_duration(value, &c->jitter_ns) || c->jitter_ns > 10 * NS)
			goto bad;
	} else if (strcmp(key, "keyframe-interval") == 0) {
		if (units_duration(value, &c->keyframe_ns) || c->keyframe_ns == 0)
			goto bad;
	} else if (strcmp(key, "session-timeout") == 0) {
		if (units_duration(value, &c->timeout_ns) || c->timeout_ns < NS)
			goto bad;
	} else if (strcmp(key, "seq-start") == 0) {
		if (units_count(value, &n) || n > 65535)
			goto bad;
		c->seq_start = (long)n;
	} else {
		return -ENOENT;
	}
	return 0;
bad:
	snprintf(err, errlen, "--%s '%s': out of range or not understood (see --help)", key, value);
	return -EINVAL;
}

static int rtsp_config_check(void *config, char *err, size_t errlen)
{
	struct rtsp_config *c = config;
	c->interval_ns = c->packet_size * 8 * NS / c->bitrate;
	if (c->interval_ns < 100000) {
		snprintf(err, errlen, "--bitrate %" PRIu64 " with --packet-size %" PRIu64
			 " needs over 10000 packets/s per reader: raise --packet-size", c->bitrate, c->packet_size);
		return -EINVAL;
	}
	return 0;
}

/* ---- answers ---- */

/* Headers and body as long as they come: a URL of a few kilobytes (a
 * token in its query) is echoed whole in Content-Base and RTP-Info. */
static int reply(struct serve_conn *c, long cseq, const char *status, const char *headers,
		 const char *body)
{
	struct buf out = {0};
	size_t blen = body ? strlen(body) : 0;
	int rc = buf_printf(&out, "RTSP/1.0 %s\r\n", status);
	if (!rc && cseq >= 0)
		rc = buf_printf(&out, "CSeq: %ld\r\n", cseq);
	if (!rc)
		rc = buf_printf(&out, "Server: surge\r\n%s", headers ? headers : "");
	if (!rc && blen)
		rc = buf_printf(&out, "Content-Length: %zu\r\n", blen);
	if (!rc)
		rc = buf_printf(&out, "\r\n%s", body ? body : "");
	if (!rc) {
		if (status[0] != '2')
			serve_conn_count(c, C_ERRORS, 1);
		rc = serve_conn_reply(c, buf_start(&out), out.len);
	}
	buf_free(&out);
	return rc;
}

static void describe(struct serve_conn *c, const struct rtsp_config *cfg, const struct serve_rtsp_request *r)
{
	char sdp[2048];
	struct buf headers = {0};
	uint64_t id = serve_conn_random(c) >> 12;
	int n = snprintf(sdp, sizeof(sdp),
			 "v=0\r\no=- %" PRIu64 " 1 IN IP4 127.0.0.1\r\ns=surge synthetic stream\r\nt=0 0\r\n"
			 "a=control:*\r\na=range:npt=now-\r\n", id);
	/* RFC 2326 C.1.1: relative controls resolve against Content-Base. */
	for (uint64_t i = 0; i < cfg->tracks && (size_t)n < sizeof(sdp); i++)
		n += snprintf(sdp + n, sizeof(sdp) - (size_t)n,
			      "m=video 0 RTP/AVP 96\r\nc=IN IP4 0.0.0.0\r\nb=AS:%" PRIu64 "\r\n"
			      "a=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1\r\n"
			      "a=control:track%" PRIu64 "\r\n", (cfg->bitrate + 999) / 1000, i);
	bool slash = r->url_len && r->url[r->url_len - 1] == '/';
	if (buf_printf(&headers, "Content-Base: %.*s%s\r\nContent-Type: application/sdp\r\n",
		    (int)r->url_len, r->url, slash ? "" : "/") == 0)
		reply(c, r->cseq, "200 OK", (const char *)buf_start(&headers), sdp);
	else
		reply(c, r->cseq, "500 Internal Server Error", NULL, NULL);
	buf_free(&headers);
}

static bool session_ok(const struct rtsp_state *s, const struct serve_rtsp_request *r)
{
	char id[24];
	if (!s->session)
		return false;
	int n = snprintf(id, sizeof(id), "%016" PRIx64, s->session);
	return r->session && r->session_len == (size_t)n && memcmp(r->session, id, (size_t)n) == 0;
}

static void setup(struct serve_conn *c, struct rtsp_state *s, const struct rtsp_config *cfg,
		  const struct serve_rtsp_request *r)
{
	char headers[256];
	int track = serve_rtsp_track_of(r->url, r->url_len), ch;
	if (track < 0 || (uint64_t)track >= cfg->tracks) {
		reply(c, r->cseq, "404 Not Found", NULL, NULL);
		return;
	}
	if (s->playing) {
		reply(c, r->cseq, "455 Method Not Valid in This State", NULL, NULL);
		return;
	}
	if (s->session && !session_ok(s, r)) {
		reply(c, r->cseq, "454 Session Not Found", NULL, NULL);
		return;
	}
	if (!r->transport || serve_rtsp_transport(r->transport, r->transport_len, &ch) < 0) {
		reply(c, r->cseq, "461 Unsupported Transport", NULL, NULL);
		return;
	}
	if (ch < 0)
		ch = 2 * track;
	if (!s->session)
		s->session = (serve_conn_random(c) >> 1) | 1;
	struct rtsp_track *t = &s->tr[track];
	t->setup = true;
	t->channel = (uint8_t)ch;
	t->ssrc = (uint32_t)serve_conn_random(c);
	t->ts_base = (uint32_t)serve_conn_random(c);
	t->seq = cfg->seq_start >= 0 ? (uint16_t)cfg->seq_start : (uint16_t)serve_conn_random(c);
	snprintf(headers, sizeof(headers),
		 "Transport: RTP/AVP/TCP;unicast;interleaved=%d-%d;ssrc=%08X\r\n"
		 "Session: %016" PRIx64 ";timeout=%" PRIu64 "\r\n",
		 ch, ch + 1, t->ssrc, s->session, cfg->timeout_ns / NS);
	reply(c, r->cseq, "200 OK", headers, NULL);
}

static void play(struct serve_conn *c, struct rtsp_state *s, const struct rtsp_config *cfg,
		 const struct serve_rtsp_request *r)
{
	struct buf headers = {0};
	if (!s->session) {
		reply(c, r->cseq, "455 Method Not Valid in This State", NULL, NULL);
		return;
	}
	if (!session_ok(s, r)) {
		reply(c, r->cseq, "454 Session Not Found", NULL, NULL);
		return;
	}
	uint64_t now = serve_conn_now(c);
	size_t base = serve_rtsp_base_len(r->url, r->url_len);
	int rc = buf_printf(&headers, "Session: %016" PRIx64 "\r\nRange: npt=now-\r\nRTP-Info: ",
			 s->session);
	bool first = true;
	for (int i = 0; i < MAX_TRACKS; i++) {
		struct rtsp_track *t = &s->tr[i];
		if (!t->setup)
			continue;
		if (!rc)
			rc = buf_printf(&headers, "%surl=%.*s/track%d;seq=%u;rtptime=%u", first ? "" : ",",
				     (int)base, r->url, i, t->seq, t->ts_base);
		first = false;
		if (!s->playing) {
			t->next_due = now;
			t->next_key = now;
			t->next_rtcp = now + NS;
		}
	}
	if (!rc)
		rc = buf_printf(&headers, "\r\n");
	if (!s->playing) {
		s->start = now;
		s->playing = true;
		serve_conn_count(c, C_SESSIONS, 1);
		serve_conn_want_tick(c, true);
	}
	if (rc)
		reply(c, r->cseq, "500 Internal Server Error", NULL, NULL);
	else
		reply(c, r->cseq, "200 OK", (const char *)buf_start(&headers), NULL);
	buf_free(&headers);
}

/* Each track's end, once (TEARDOWN or close): its final send-time jitter,
 * and the losses after its last packet, which no reader can see (counted
 * apart, so `lost` is what a reader reports). */
static void count_track_ends(struct serve_conn *c, struct rtsp_state *s)
{
	for (int i = 0; i < MAX_TRACKS; i++) {
		if (s->tr[i].unrevealed) {
			serve_conn_count(c, C_LOST_EDGES, s->tr[i].unrevealed);
			s->tr[i].unrevealed = 0;
		}
		if (!s->tr[i].jit_started)
			continue;
		serve_conn_count(c, C_JITTER_US, (uint64_t)(s->tr[i].jitter / 1000 + 0.5));
		serve_conn_count(c, C_JITTER_TRACKS, 1);
		s->tr[i].jit_started = false;
	}
}

static ssize_t rtsp_input(struct serve_conn *c, void *state, const uint8_t *in, size_t len)
{
	struct rtsp_state *s = state;
	const struct rtsp_config *cfg = serve_conn_config(c);
	struct serve_rtsp_request r;
	char headers[128];

	if (in[0] == '$') {
		/* RFC 2326 10.12: the client's interleaved RTCP receiver reports. */
		if (len < 4)
			return 0;
		size_t n = 4 + ((size_t)in[2] << 8 | in[3]);
		return len < n ? 0 : (ssize_t)n;
	}
	long n = serve_rtsp_parse(in, len, &r);
	if (n == 0)
		return 0;
	if (n < 0) {
		reply(c, -1, n == -EMSGSIZE ? "414 Request-URI Too Long" : "400 Bad Request", NULL, NULL);
		return -1;
	}
	s->last_request = serve_conn_now(c);
	if (r.cseq < 0) {
		/* RFC 2326 12.17: every request carries CSeq. */
		reply(c, -1, "400 Bad Request", NULL, NULL);
		return n;
	}
	if (strcmp(r.method, "OPTIONS") == 0) {
		if (s->session)
			serve_conn_count(c, C_KEEPALIVES, 1);
		reply(c, r.cseq, "200 OK",
		      "Public: OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, GET_PARAMETER, TEARDOWN\r\n", NULL);
	} else if (strcmp(r.method, "DESCRIBE") == 0) {
		describe(c, cfg, &r);
	} else if (strcmp(r.method, "SETUP") == 0) {
		setup(c, s, cfg, &r);
	} else if (strcmp(r.method, "PLAY") == 0) {
		play(c, s, cfg, &r);
	} else if (strcmp(r.method, "GET_PARAMETER") == 0 || strcmp(r.method, "PAUSE") == 0 ||
		   strcmp(r.method, "TEARDOWN") == 0) {
		if (!session_ok(s, &r)) {
			reply(c, r.cseq, "454 Session Not Found", NULL, NULL);
			return n;
		}
		snprintf(headers, sizeof(headers), "Session: %016" PRIx64 "\r\n", s->session);
		if (r.method[0] == 'G') {
			serve_conn_count(c, C_KEEPALIVES, 1);
		} else {
			s->playing = false;
			serve_conn_want_tick(c, false);
			if (r.method[0] == 'T') {
				serve_conn_count(c, C_TEARDOWNS, 1);
				s->session = 0;
				count_track_ends(c, s);
				memset(s->tr, 0, sizeof(s->tr));
			}
		}
		reply(c, r.cseq, "200 OK", headers, NULL);
	} else {
		reply(c, r.cseq, "501 Not Implemented", NULL, NULL);
	}
	return n;
}

/* ---- streaming ---- */

static bool chance(struct serve_conn *c, double p)
{
	return p > 0 && (double)(serve_conn_random(c) >> 11) * 0x1.0p-53 < p;
}

static uint64_t draw_delay(struct serve_conn *c, const struct rtsp_config *cfg)
{
	return cfg->jitter_ns ? serve_conn_random(c) % cfg->jitter_ns : 0;
}

static uint32_t ts_of(const struct rtsp_state *s, const struct rtsp_track *t, uint64_t due)
{
	return t->ts_base + (uint32_t)((due - s->start) * CLOCK_RATE / NS);
}

/* Sends one packet now; tracks the RFC 3550 A.8 jitter of send time against
 * the timestamp, which is what a perfect network would hand the reader. */
static int send_packet(struct serve_conn *c, struct rtsp_state *s, struct rtsp_track *t,
		       const struct rtsp_config *cfg, uint16_t seq, uint32_t ts, bool key, uint64_t now)
{
	uint8_t buf[FRAME_MAX];
	long n = serve_rtsp_packet(buf, sizeof(buf), t->channel, seq, ts, t->ssrc, cfg->packet_size, key);
	if (n < 0 || serve_conn_stream(c, buf, (size_t)n) < 0) {
		serve_conn_count(c, C_SKIPPED, 1);
		return -ENOBUFS;
	}
	double transit = (double)(now - s->start) - (double)(uint32_t)(ts - t->ts_base) * 1e9 / CLOCK_RATE;
	if (t->jit_started) {
		double d = transit - t->transit;
		t->jitter += ((d < 0 ? -d : d) - t->jitter) / 16;
	}
	t->transit = transit;
	t->jit_started = true;
	/* The gap before this packet is what a reader can see: before the
	 * track's first, only against the seq PLAY's RTP-Info announced. */
	if (t->unrevealed) {
		serve_conn_count(c, t->packets ? C_LOST : C_LOST_FIRST, t->unrevealed);
		t->unrevealed = 0;
	}
	t->packets++;
	t->octets += (uint32_t)cfg->packet_size - 12;
	serve_conn_count(c, C_PACKETS, 1);
	serve_conn_count(c, C_RTP_BYTES, cfg->packet_size);
	if (key)
		serve_conn_count(c, C_KEYFRAMES, 1);
	return 0;
}

/* The packet due at `due`, through the fault injectors: lost packets use
 * up their sequence number; a reordered one is held and sent right after
 * its successor. */
static void emit(struct serve_conn *c, struct rtsp_state *s, struct rtsp_track *t,
		 const struct rtsp_config *cfg, uint64_t due, uint64_t now)
{
	uint16_t seq = t->seq++;
	uint32_t ts = ts_of(s, t, due);
	bool key = due >= t->next_key;
	if (key)
		t->next_key += cfg->keyframe_ns;
	if (chance(c, cfg->loss)) {
		t->unrevealed++;
		return;
	}
	/* A track's first packet is not held: with nothing before it, a
	 * reader could not tell it late (RFC 3550 A.1 starts at the first
	 * packet received) and would count one loss fewer. */
	if (!t->held && t->packets > 0 && chance(c, cfg->reorder)) {
		t->held = true;
		t->held_seq = seq;
		t->held_ts = ts;
		t->held_key = key;
		return;
	}
	send_packet(c, s, t, cfg, seq, ts, key, now);
	if (t->held) {
		t->held = false;
		if (send_packet(c, s, t, cfg, t->held_seq, t->held_ts, t->held_key, now) == 0)
			serve_conn_count(c, C_REORDERED, 1);
	}
}

/* RFC 3550 6.4.1 sender report, 28 bytes, on the track's RTCP channel. */
static void send_sr(struct serve_conn *c, struct rtsp_state *s, struct rtsp_track *t, uint64_t now)
{
	uint8_t b[4 + 28];
	b[0] = '$';
	b[1] = (uint8_t)(t->channel + 1);
	put16(b + 2, 28);
	b[4] = 0x80;
	b[5] = 200;
	put16(b + 6, 6);
	put32(b + 8, t->ssrc);
	/* NTP time: seconds since PLAY stand in for wall-clock time; readers
	 * here count reports, they do not synchronize streams. */
	uint64_t since = now - s->start;
	put32(b + 12, (uint32_t)(since / NS) + 2208988800u);
	put32(b + 16, (uint32_t)(((since % NS) << 32) / NS));
	put32(b + 20, ts_of(s, t, now));
	put32(b + 24, t->packets);
	put32(b + 28, t->octets);
	if (serve_conn_stream(c, b, sizeof(b)) == 0)
		serve_conn_count(c, C_RTCP, 1);
}

static void rtsp_tick(struct serve_conn *c, void *state, uint64_t now)
{
	struct rtsp_state *s = state;
	const struct rtsp_config *cfg = serve_conn_config(c);

	if (now - s->last_request > cfg->timeout_ns) {
		/* RFC 2326 12.37: no keepalive within the timeout ends the session. */
		serve_conn_count(c, C_TIMEOUTS, 1);
		s->playing = false;
		serve_conn_want_tick(c, false);
		serve_conn_close_after_write(c);
		return;
	}
	for (int i = 0; i < MAX_TRACKS; i++) {
		struct rtsp_track *t = &s->tr[i];
		if (!t->setup)
			continue;
		int burst = 0;
		while (now >= t->next_due + t->delay && burst++ < MAX_BURST) {
			emit(c, s, t, cfg, t->next_due, now);
			t->next_due += cfg->interval_ns;
			t->delay = draw_delay(c, cfg);
		}
		if (now >= t->next_rtcp) {
			send_sr(c, s, t, now);
			t->next_rtcp += NS;
		}
	}
}

static void rtsp_close(struct serve_conn *c, void *state)
{
	count_track_ends(c, state);
}

const struct serve_proto serve_rtsp_proto = {
	.name = "rtsp",
	.usage =
		"  --bitrate N          bits/s of each track (default 100k)\n"
		"  --packet-size N      RTP bytes per packet, header included (default 1200)\n"
		"  --tracks N           video tracks in the SDP, 1 to 8 (default 1)\n"
		"  --keyframe-interval D  time between IDR pictures (default 1s)\n"
		"  --session-timeout D  close a session after this long without a request\n"
		"                       (announced in Session: ...;timeout=, default 60s)\n"
		"  --loss FRACTION      never send this share of RTP packets (e.g. 1%)\n"
		"  --reorder FRACTION   send this share of packets after their successor\n"
		"  --jitter D           delay each packet by a uniform random 0..D, in order\n"
		"  --seq-start N        first RTP sequence number (default random)\n"
		"Streams start at PLAY; the URL path is free, tracks are <url>/track<N>.\n",
	.conn_state_size = sizeof(struct rtsp_state),
	.counter_names = { "sessions", "packets", "rtp_bytes", "lost", "reordered", "keyframes", "rtcp",
			   "teardowns", "keepalives", "timeouts", "skipped", "jitter_us_sum",
			   "jitter_tracks", "errors", "lost_edges", "lost_first", NULL },
	.config_new = rtsp_config_new,
	.option = rtsp_option,
	.config_check = rtsp_config_check,
	.config_free = free,
	.on_input = rtsp_input,
	.on_tick = rtsp_tick,
	.on_close = rtsp_close,
};
