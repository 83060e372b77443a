/* hlog: HdrHistogram interval logs, written as HdrHistogram's Java
 * HistogramLogWriter writes them (format 1.3) and read as its reader reads
 * them, plus surge's counters in comment lines. */
#include "hlog.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define YEAR_S (365.0 * 24 * 3600)
#define HLOG_EPOCH_MAX 1e11 /* seconds since the epoch: the year 5138 */

/* Tags and counter names: HdrHistogram forbids commas and whitespace in a tag,
 * and "#surge-interval" splits on spaces and '='; anything outside a safe set
 * is %XX-escaped so every name survives the round trip. */
static void escape(const char *in, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	for (; *in && n + 4 < outlen; in++) {
		unsigned char c = (unsigned char)*in;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("._:/+-", c)) {
			out[n++] = (char)c;
		} else {
			out[n++] = '%';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 15];
		}
	}
	out[n] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* In place; returns -EINVAL on a broken escape. */
static int unescape(char *s)
{
	char *w = s;
	for (const char *r = s; *r; r++) {
		if (*r != '%') {
			*w++ = *r;
			continue;
		}
		int hi = hexval(r[1]), lo = hi < 0 ? -1 : hexval(r[2]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		*w++ = (char)(hi << 4 | lo);
		r += 2;
	}
	*w = '\0';
	return 0;
}

int hlog_write_header(FILE *f, double start_epoch, const struct hlog_param *params,
		      size_t nparams)
{
	time_t t = (time_t)start_epoch;
	struct tm tm;
	char date[64] = "";

	if (gmtime_r(&t, &tm))
		strftime(date, sizeof(date), "%a %b %d %H:%M:%S UTC %Y", &tm);
	fprintf(f, "#[Histogram log format version 1.3]\n");
	fprintf(f, "#[StartTime: %.3f (seconds since epoch), %s]\n", start_epoch, date);
	fprintf(f, "#[BaseTime: %.3f (seconds since epoch)]\n", start_epoch);
	for (size_t i = 0; i < nparams; i++) {
		fprintf(f, "#surge-param %s ", params[i].key);
		for (const char *p = params[i].value ? params[i].value : ""; *p; p++)
			fputc(*p == '\n' || *p == '\r' ? ' ' : *p, f);
		fputc('\n', f);
	}
	fprintf(f, "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\","
		   "\"Interval_Compressed_Histogram\"\n");
	return ferror(f) ? -EIO : 0;
}

int hlog_write_hist(FILE *f, const char *tag, double start, double length, const struct hist *h)
{
	uint8_t *bin = NULL;
	size_t binlen;
	char *b64 = NULL, etag[3 * STATS_NAME_MAX + 1];
	int rc = hist_encode_compressed(h, &bin, &binlen);

	if (rc < 0)
		goto out;
	if ((rc = hist_base64_encode(bin, binlen, &b64)) < 0)
		goto out;
	if (tag) {
		escape(tag, etag, sizeof(etag));
		fprintf(f, "Tag=%s,", etag);
	}
	fprintf(f, "%.3f,%.3f,%.3f,%s\n", start, length,
		(double)hist_max(h) / HLOG_MAX_UNIT_RATIO, b64);
	rc = ferror(f) ? -EIO : 0;
out:
	free(bin);
	free(b64);
	return rc;
}

int hlog_write_interval(FILE *f, double start, double length, const struct stats *s)
{
	char name[3 * STATS_NAME_MAX + 1];
	int rc;

	for (int i = 0; i < HI__COUNT; i++)
		if (hist_total(s->hist[i]) &&
		    (rc = hlog_write_hist(f, stats_hist_key(i), start, length, s->hist[i])) < 0)
			return rc;
	for (size_t i = 0; i < s->nnhist; i++)
		if (hist_total(s->nhist[i].h) &&
		    (rc = hlog_write_hist(f, s->nhist[i].name, start, length, s->nhist[i].h)) < 0)
			return rc;
	fprintf(f, "#surge-interval %.3f", start);
	for (int i = 0; i < ST__COUNT; i++)
		if (s->counter[i])
			fprintf(f, " %s=%lld", stats_counter_key(i), (long long)s->counter[i]);
	for (int i = 0; i < ERR__COUNT; i++)
		if (s->error[i])
			fprintf(f, " err.%s=%lld", stats_error_key(i), (long long)s->error[i]);
	for (int i = 0; i < GA__COUNT; i++)
		if (s->gauge[i])
			fprintf(f, " gauge.%s=%lld", stats_gauge_key(i), (long long)s->gauge[i]);
	for (size_t i = 0; i < s->nncounter; i++) {
		escape(s->ncounter[i].name, name, sizeof(name));
		fprintf(f, " count.%s=%lld", name, (long long)s->ncounter[i].value);
	}
	/* Per source address, by its position in the "bind" parameter's set. */
	for (uint32_t i = 0; i < s->nsrc; i++) {
		if (s->src_conns[i])
			fprintf(f, " src.conns.%u=%lld", i, (long long)s->src_conns[i]);
		if (s->src_reqs[i])
			fprintf(f, " src.reqs.%u=%lld", i, (long long)s->src_reqs[i]);
	}
	fputc('\n', f);
	return ferror(f) ? -EIO : 0;
}

/* ---- reader ---- */

void hlog_init(struct hlog *l)
{
	memset(l, 0, sizeof(*l));
}

void hlog_free(struct hlog *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->niv; i++)
		stats_free(&l->iv[i].s);
	free(l->iv);
	for (size_t i = 0; i < l->nparams; i++) {
		free(l->params[i].key);
		free(l->params[i].value);
	}
	free(l->params);
	memset(l, 0, sizeof(*l));
}

const char *hlog_param(const struct hlog *l, const char *key)
{
	for (size_t i = 0; i < l->nparams; i++)
		if (strcmp(l->params[i].key, key) == 0)
			return l->params[i].value;
	return NULL;
}

/* The interval starting at start (to the millisecond), created in order. */
static struct hlog_interval *interval_at(struct hlog *l, double start, double length)
{
	long long key = llround(start * 1000);
	size_t lo = 0, hi = l->niv;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		long long k = llround(l->iv[mid].start * 1000);
		if (k == key)
			return &l->iv[mid];
		if (k < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (l->niv == l->capiv) {
		size_t cap = l->capiv ? l->capiv * 2 : 64;
		struct hlog_interval *bigger = realloc(l->iv, cap * sizeof(*bigger));
		if (!bigger)
			return NULL;
		l->iv = bigger;
		l->capiv = cap;
	}
	struct hlog_interval *iv = &l->iv[lo];
	struct stats s;
	if (stats_init(&s) < 0)
		return NULL;
	memmove(iv + 1, iv, (l->niv - lo) * sizeof(*iv));
	iv->start = (double)key / 1000;
	iv->length = length;
	iv->s = s;
	l->niv++;
	return iv;
}

struct reader {
	struct hlog *l;
	const char *name;
	size_t line;
	double start_time, base_time;
	bool has_start, has_base, take_params;
	size_t found; /* histogram and counter lines in this log */
	char *err;
	size_t errlen;
};

static int bad(struct reader *r, const char *what)
{
	snprintf(r->err, r->errlen, "%s:%zu: %s", r->name, r->line, what);
	return -EINVAL;
}

/* Timestamps are relative to BaseTime when the log names one; otherwise, as
 * HdrHistogram's readers decide, relative to StartTime when they are more
 * than a year before it, else absolute. */
static double relative(struct reader *r, double ts)
{
	if (r->has_base)
		return ts;
	if (!r->has_start) {
		r->has_start = true;
		r->start_time = ts;
	}
	if (ts < r->start_time - YEAR_S)
		r->base_time = r->start_time;
	else
		r->base_time = 0;
	r->has_base = true;
	return ts + r->base_time - r->start_time;
}

static int parse_num(const char *s, double *out)
{
	char *end;
	errno = 0;
	*out = strtod(s, &end);
	if (end == s || errno || !isfinite(*out))
		return -EINVAL;
	while (*end == ' ')
		end++;
	return *end ? -EINVAL : 0;
}

static int add_hist(struct stats *s, const char *tag, const struct hist *h)
{
	for (int i = 0; i < HI__COUNT; i++)
		if (strcmp(tag, stats_hist_key(i)) == 0) {
			hist_add(s->hist[i], h);
			return 0;
		}
	int id = stats_hist_id(s, tag);
	if (id < 0)
		return id;
	hist_add(s->nhist[id].h, h);
	return 0;
}

static int read_hist_line(struct reader *r, char *line)
{
	const char *tag = "latency"; /* untagged logs are latency logs */
	char *field[4];
	int nf = 0;

	if (strncmp(line, "Tag=", 4) == 0) {
		char *comma = strchr(line, ',');
		if (!comma)
			return bad(r, "a Tag= line without fields");
		*comma = '\0';
		tag = line + 4;
		if (unescape(line + 4) < 0 || !*tag || strlen(tag) >= STATS_NAME_MAX)
			return bad(r, "a tag that is empty, too long or badly escaped");
		line = comma + 1;
	}
	for (char *p = line; nf < 4; nf++) {
		field[nf] = p;
		char *comma = nf < 3 ? strchr(p, ',') : NULL;
		if (nf < 3 && !comma)
			return bad(r, "expected StartTimestamp,Interval_Length,Interval_Max,"
				      "Interval_Compressed_Histogram");
		if (comma) {
			*comma = '\0';
			p = comma + 1;
		}
	}
	double start, length, max;
	if (parse_num(field[0], &start) < 0 || parse_num(field[1], &length) < 0 ||
	    parse_num(field[2], &max) < 0 || length < 0)
		return bad(r, "StartTimestamp, Interval_Length and Interval_Max must be numbers");

	uint8_t *bin = NULL;
	size_t binlen;
	struct hist *h = NULL;
	int rc = hist_base64_decode(field[3], strlen(field[3]), &bin, &binlen);
	if (rc == -EINVAL) {
		return bad(r, "the histogram is not valid base64");
	} else if (rc == 0 && (rc = hist_decode(bin, binlen, &h)) == -EINVAL) {
		free(bin);
		return bad(r, "the histogram is not an HdrHistogram V2 encoding");
	}
	free(bin);
	if (rc < 0)
		return rc;
	struct hlog_interval *iv = interval_at(r->l, relative(r, start), length);
	rc = iv ? add_hist(&iv->s, tag, h) : -ENOMEM;
	hist_free(h);
	r->l->nhists++;
	r->found++;
	return rc;
}

static int add_counter(struct stats *s, const char *key, int64_t v)
{
	for (int i = 0; i < ST__COUNT; i++)
		if (strcmp(key, stats_counter_key(i)) == 0) {
			s->counter[i] += v;
			return 0;
		}
	if (strncmp(key, "err.", 4) == 0) {
		for (int i = 0; i < ERR__COUNT; i++)
			if (strcmp(key + 4, stats_error_key(i)) == 0) {
				s->error[i] += v;
				return 0;
			}
	} else if (strncmp(key, "gauge.", 6) == 0) {
		for (int i = 0; i < GA__COUNT; i++)
			if (strcmp(key + 6, stats_gauge_key(i)) == 0) {
				s->gauge[i] += v;
				return 0;
			}
	} else if (strncmp(key, "count.", 6) == 0) {
		int id = stats_counter_id(s, key + 6);
		if (id < 0)
			return id;
		s->ncounter[id].value += v;
	} else if (strncmp(key, "src.conns.", 10) == 0 || strncmp(key, "src.reqs.", 9) == 0) {
		bool conns = key[4] == 'c';
		char *end;
		errno = 0;
		unsigned long i = strtoul(key + (conns ? 10 : 9), &end, 10);
		if (*end || errno || i >= STATS_SOURCES_MAX)
			return 0; /* not ours to understand: skipped */
		int rc = stats_sources_init(s, (uint32_t)i + 1);
		if (rc < 0)
			return rc;
		(conns ? s->src_conns : s->src_reqs)[i] += v;
	}
	return 0; /* a key from a newer surge: skipped, as comments are */
}

static int read_interval_line(struct reader *r, char *line)
{
	char *save = NULL, *tok = strtok_r(line, " ", &save);
	double start;

	if (!tok || parse_num(tok, &start) < 0)
		return bad(r, "#surge-interval must start with the interval's start time");
	struct hlog_interval *iv = interval_at(r->l, relative(r, start), 1);
	if (!iv)
		return -ENOMEM;
	while ((tok = strtok_r(NULL, " ", &save))) {
		char *eq = strchr(tok, '='), *end;
		if (!eq)
			return bad(r, "#surge-interval fields are KEY=COUNT");
		*eq = '\0';
		errno = 0;
		long long v = strtoll(eq + 1, &end, 10);
		if (end == eq + 1 || *end || errno || unescape(tok) < 0)
			return bad(r, "#surge-interval fields are KEY=COUNT");
		int rc = add_counter(&iv->s, tok, v);
		if (rc < 0)
			return rc == -ENOMEM ? rc : bad(r, "a #surge-interval counter name is too long");
	}
	r->l->has_counters = true;
	r->found++;
	return 0;
}

static int read_param_line(struct reader *r, const char *line)
{
	const char *sp = strchr(line, ' ');
	size_t klen = sp ? (size_t)(sp - line) : strlen(line);
	struct hlog *l = r->l;

	/* Per-source rows add up by position in the set: only logs that name
	 * the same set can be merged that way. */
	if (klen == 4 && strncmp(line, "bind", 4) == 0) {
		const char *first = hlog_param(l, "bind");
		if (r->take_params ? l->nlogs > 0 : !first || strcmp(first, sp ? sp + 1 : "") != 0)
			l->mixed_sources = true;
	}
	if (!r->take_params)
		return 0;
	void *bigger = realloc(l->params, (l->nparams + 1) * sizeof(*l->params));
	if (!bigger)
		return -ENOMEM;
	l->params = bigger;
	char *k = strndup(line, klen), *v = strdup(sp ? sp + 1 : "");
	if (!k || !v) {
		free(k);
		free(v);
		return -ENOMEM;
	}
	l->params[l->nparams++] = (struct hlog_param){k, v};
	return 0;
}

static int read_line(struct reader *r, char *line)
{
	double t;

	if (strncmp(line, "#[StartTime: ", 13) == 0) {
		if (sscanf(line + 13, "%lf", &t) != 1)
			return bad(r, "#[StartTime: expects seconds since the epoch");
		r->start_time = t;
		r->has_start = true;
		return 0;
	}
	if (strncmp(line, "#[BaseTime: ", 12) == 0) {
		if (sscanf(line + 12, "%lf", &t) != 1)
			return bad(r, "#[BaseTime: expects seconds since the epoch");
		r->base_time = t;
		r->has_base = true;
		return 0;
	}
	if (strncmp(line, "#surge-interval ", 16) == 0)
		return read_interval_line(r, line + 16);
	if (strncmp(line, "#surge-param ", 13) == 0)
		return read_param_line(r, line + 13);
	if (line[0] == '#' || line[0] == '"' || line[0] == '\0')
		return 0;
	return read_hist_line(r, line);
}

int hlog_read(FILE *f, const char *name, struct hlog *l, char *err, size_t errlen)
{
	struct reader r = {
		.l = l, .name = name, .take_params = l->nparams == 0, .err = err, .errlen = errlen,
	};
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = 0;

	while (rc == 0 && (n = getline(&line, &cap, f)) >= 0) {
		r.line++;
		/* A log surge run is still writing may end mid-line: that line is
		 * not there yet (even if what is there would parse). */
		if (n == 0 || line[n - 1] != '\n')
			break;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		rc = read_line(&r, line);
	}
	free(line);
	if (rc == -ENOMEM)
		snprintf(err, errlen, "%s: out of memory", name);
	if (rc < 0)
		return rc;
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error", name);
		return -EIO;
	}
	if (r.found == 0) {
		snprintf(err, errlen, "%s: no intervals: is this an HdrHistogram interval log?", name);
		return -EINVAL;
	}
	/* Reports turn it into a date through time_t: a hostile StartTime
	 * (1e300) is taken as no start time at all. */
	double base = r.has_base && r.base_time > 0 ? r.base_time : r.start_time;
	if (base > 0 && base < HLOG_EPOCH_MAX && (l->start_time == 0 || base < l->start_time))
		l->start_time = base;
	l->nlogs++;
	return 0;
}
