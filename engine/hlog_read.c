/* hlog_read: HdrHistogram interval logs read as HdrHistogram's own reader
 * reads them, plus surge's "#surge-..." lines, one log at a time or several
 * together in time order (hlog_read_stream), so that `surge report` holds a
 * few intervals whatever the length of the logs. */
#include "hlog.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define YEAR_S (365.0 * 24 * 3600)
/* Timestamps and lengths beyond this (~317 years) are not a log's: refused,
 * so every time derived from them fits in nanoseconds and milliseconds. */
#define TIME_MAX_S 1e10

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
	free(l->param_lines);
	for (size_t i = 0; i < l->nlog_info; i++) {
		for (size_t j = 0; j < l->logs[i].np; j++) {
			free(l->logs[i].p[j].key);
			free(l->logs[i].p[j].value);
		}
		free(l->logs[i].p);
	}
	free(l->logs);
	stats_free(&l->total);
	memset(l, 0, sizeof(*l));
}

const char *hlog_log_param(const struct hlog_log *g, const char *key)
{
	for (size_t i = 0; i < g->np; i++)
		if (strcmp(g->p[i].key, key) == 0)
			return g->p[i].value;
	return NULL;
}

const char *hlog_param(const struct hlog *l, const char *key)
{
	const struct hlog_param *p = hlog_param_line(l, key);
	return p ? p->value : NULL;
}

const struct hlog_param *hlog_param_line(const struct hlog *l, const char *key)
{
	for (size_t i = 0; i < l->nparams; i++)
		if (strcmp(l->params[i].key, key) == 0)
			return &l->params[i];
	return NULL;
}

void hlog_param_where(const struct hlog *l, const struct hlog_param *p, char *buf, size_t len)
{
	snprintf(buf, len, "%s:%zu", l->params_from ? l->params_from : "?",
		 l->param_lines ? l->param_lines[p - l->params] : 0);
}

/* Intervals are told apart by their start to the millisecond. */
static long long key_of(double start)
{
	return llround(start * 1000);
}

/* The interval starting at start (to the millisecond), created in order. */
static struct hlog_interval *interval_at(struct hlog *l, double start, double length)
{
	long long key = key_of(start);
	size_t lo = 0, hi = l->niv;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		long long k = key_of(l->iv[mid].start);
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

enum line_kind { LINE_HIST, LINE_INTERVAL };

/* One log being read. The data line read last (a histogram or a
 * "#surge-interval" line) waits in ahead until it is its turn: among several
 * logs, the one whose next interval starts first goes on. */
struct reader {
	struct hlog *l;
	FILE *f;
	const char *name;
	size_t line;
	char *buf;
	size_t cap;
	bool at_end;
	/* The line waiting: its kind, its interval, and what is parsed of it. */
	bool ahead;
	enum line_kind kind;
	double start, length;
	long long key;
	const char *tag;   /* LINE_HIST */
	struct hist *hist; /* LINE_HIST, owned */
	char *fields;      /* LINE_INTERVAL: strtok_r's place before the KEY=COUNT fields */
	double start_time, base_time;
	bool has_start, has_base, implied_base, take_params, first_log;
	size_t log; /* its entry in l->logs */
	size_t found; /* histogram and counter lines in this log */
	/* A surge log writes a second's histograms, then its "#surge-interval"
	 * line: until that line comes, the histograms wait in held, so that a
	 * log cut between them (or read while written) never counts latencies
	 * of requests its counts leave out. */
	bool holds;     /* a surge log: its histograms wait for their counts */
	bool held_any;  /* held has the histograms of the second at held_key */
	bool held_init; /* held is stats_init'ed */
	long long held_key;
	double held_start;
	struct stats held;
	char *err;
	size_t errlen;
};

static int bad(struct reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int bad(struct reader *r, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(r->err, r->errlen, "%s:%zu: ", r->name, r->line);

	if (n >= 0 && (size_t)n < r->errlen) {
		va_start(ap, fmt);
		vsnprintf(r->err + n, r->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* Timestamps are relative to BaseTime when the log names one; otherwise, as
 * HdrHistogram's readers decide from the first one, relative to StartTime
 * when they are more than a year before it, else absolute. */
static double relative(struct reader *r, double ts)
{
	if (!r->has_base) {
		if (!r->has_start) {
			r->has_start = true;
			r->start_time = ts;
		}
		r->base_time = ts < r->start_time - YEAR_S ? r->start_time : 0;
		r->has_base = true;
		r->implied_base = true;
	}
	return r->implied_base ? ts + r->base_time - r->start_time : ts;
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

/* A time in a log: finite and within TIME_MAX_S of 0. */
static int parse_time(const char *s, double *out)
{
	return parse_num(s, out) < 0 || fabs(*out) >= TIME_MAX_S ? -EINVAL : 0;
}

/* dst += h for the histogram named tag. -EOVERFLOW when a count would pass
 * INT64_MAX (dst unchanged), -ENOMEM; values beyond dst's range are
 * clamped, as a run clamps them. */
static int add_hist(struct stats *s, const char *tag, const struct hist *h)
{
	for (int i = 0; i < HI__COUNT; i++)
		if (strcmp(tag, stats_hist_key(i)) == 0) {
			int rc = hist_add(s->hist[i], h);
			return rc == -EOVERFLOW || rc == -ENOMEM ? rc : 0;
		}
	int id = stats_hist_id(s, tag);
	if (id < 0)
		return id;
	int rc = hist_add(s->nhist[id].h, h);
	return rc == -EOVERFLOW || rc == -ENOMEM ? rc : 0;
}

/* The totals of everything read, made on first use. */
static struct stats *total(struct hlog *l)
{
	if (!l->has_total) {
		if (stats_init(&l->total) < 0)
			return NULL;
		l->has_total = true;
	}
	return &l->total;
}

/* Parses a histogram line into r's waiting line. */
static int parse_hist_line(struct reader *r, char *line)
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
	if (fabs(start) >= TIME_MAX_S || length >= TIME_MAX_S)
		return bad(r, "StartTimestamp and Interval_Length must be seconds below %.0e", TIME_MAX_S);

	uint8_t *bin = NULL;
	size_t binlen;
	int rc = hist_base64_decode(field[3], strlen(field[3]), &bin, &binlen);
	if (rc == -EINVAL) {
		return bad(r, "the histogram is not valid base64");
	} else if (rc == 0 && (rc = hist_decode(bin, binlen, &r->hist)) == -EINVAL) {
		free(bin);
		return bad(r, "the histogram is not an HdrHistogram V2 encoding");
	}
	free(bin);
	if (rc < 0)
		return rc;
	r->kind = LINE_HIST;
	r->tag = tag;
	r->start = relative(r, start);
	r->length = length;
	return 0;
}

static int parse_interval_line(struct reader *r, char *line)
{
	char *tok = strtok_r(line, " ", &r->fields);
	double start;

	if (!tok || parse_time(tok, &start) < 0)
		return bad(r, "#surge-interval must start with the interval's start time");
	r->kind = LINE_INTERVAL;
	r->start = relative(r, start);
	r->length = 1;
	return 0;
}

/* Where a "#surge-interval" key adds. 0 and *slot, 1 for a key to skip (from
 * a newer surge, or a source beyond what is tracked), -EINVAL for a counter
 * name out of bounds, -ENOMEM. */
static int counter_slot(struct stats *s, const char *key, int64_t **slot)
{
	for (int i = 0; i < ST__COUNT; i++)
		if (strcmp(key, stats_counter_key(i)) == 0) {
			*slot = &s->counter[i];
			return 0;
		}
	if (strncmp(key, "err.", 4) == 0) {
		for (int i = 0; i < ERR__COUNT; i++)
			if (strcmp(key + 4, stats_error_key(i)) == 0) {
				*slot = &s->error[i];
				return 0;
			}
	} else if (strncmp(key, "gauge.", 6) == 0) {
		for (int i = 0; i < GA__COUNT; i++)
			if (strcmp(key + 6, stats_gauge_key(i)) == 0) {
				*slot = &s->gauge[i];
				return 0;
			}
	} else if (strncmp(key, "count.", 6) == 0) {
		int id = stats_counter_id(s, key + 6);
		if (id < 0)
			return id == -ENAMETOOLONG ? -EINVAL : id;
		*slot = &s->ncounter[id].value;
		return 0;
	} else if (strncmp(key, "src.conns.", 10) == 0 || strncmp(key, "src.reqs.", 9) == 0) {
		bool conns = key[4] == 'c';
		char *end;
		errno = 0;
		unsigned long i = strtoul(key + (conns ? 10 : 9), &end, 10);
		if (*end || errno || i >= STATS_SOURCES_MAX)
			return 1; /* not ours to understand: skipped */
		int rc = stats_sources_init(s, (uint32_t)i + 1);
		if (rc < 0)
			return rc;
		*slot = &(conns ? s->src_conns : s->src_reqs)[i];
		return 0;
	}
	return 1; /* a key from a newer surge: skipped, as comments are */
}

/* One KEY=COUNT into the totals, then into the interval: a sum that would
 * pass what an int64 holds is refused where it happens. */
static int add_counter(struct reader *r, struct stats *iv, const char *key, int64_t v)
{
	int64_t *t, *slot;
	int rc = counter_slot(total(r->l), key, &t);

	if (rc == 0)
		rc = counter_slot(iv, key, &slot);
	if (rc == -EINVAL)
		return bad(r, "#surge-interval: '%s': a counter name is 1 to %d bytes", key,
			   STATS_NAME_MAX - 1);
	if (rc != 0)
		return rc < 0 ? rc : 0;
	if (__builtin_add_overflow(*t, v, t))
		return bad(r, "#surge-interval: '%s': the counts add up past %lld", key,
			   (long long)INT64_MAX);
	*slot += v; /* within the total: cannot overflow */
	if (strcmp(key, "sent") == 0)
		r->l->logs[r->log].sent += v; /* within the total too */
	return 0;
}

static int apply_interval_line(struct reader *r, struct hlog_interval *iv)
{
	char *tok;

	while ((tok = strtok_r(NULL, " ", &r->fields))) {
		char *eq = strchr(tok, '='), *end;
		if (!eq)
			return bad(r, "#surge-interval fields are KEY=COUNT");
		*eq = '\0';
		errno = 0;
		long long v = strtoll(eq + 1, &end, 10);
		if (end == eq + 1 || *end || errno || unescape(tok) < 0)
			return bad(r, "#surge-interval fields are KEY=COUNT");
		/* surge.count() may count down; every other count is a count. */
		if (v < 0 && strncmp(tok, "count.", 6) != 0)
			return bad(r, "#surge-interval: '%s=%lld': a count is not negative", tok, v);
		int rc = add_counter(r, &iv->s, tok, v);
		if (rc < 0)
			return rc;
	}
	r->l->has_counters = true;
	return 0;
}

/* The waiting histogram joins its second's held ones. */
static int hold(struct reader *r)
{
	if (!r->held_init) {
		if (stats_init(&r->held) < 0)
			return -ENOMEM;
		r->held_init = true;
	}
	int rc = add_hist(&r->held, r->tag, r->hist);
	hist_free(r->hist);
	r->hist = NULL;
	if (rc == -EOVERFLOW)
		return bad(r, "the counts of '%s' add up past %lld", r->tag, (long long)INT64_MAX);
	if (rc < 0)
		return rc;
	r->held_any = true;
	r->held_key = r->key;
	r->held_start = r->start;
	r->l->nhists++;
	r->found++;
	r->ahead = false;
	return 0;
}

/* The held second's counts came: its histograms join the totals, then the
 * interval (what fits in the totals fits in the interval too). */
static int release_held(struct reader *r, struct hlog_interval *iv, struct stats *t)
{
	struct stats *h = &r->held;
	const char *tag = NULL;
	int rc = 0;

	for (size_t i = 0; i < HI__COUNT + h->nnhist && rc == 0; i++) {
		const struct hist *one = i < HI__COUNT ? h->hist[i] : h->nhist[i - HI__COUNT].h;
		tag = i < HI__COUNT ? stats_hist_key((int)i) : h->nhist[i - HI__COUNT].name;
		if (hist_total(one) && (rc = add_hist(t, tag, one)) == 0)
			rc = add_hist(&iv->s, tag, one);
	}
	stats_reset(h);
	r->held_any = false;
	if (rc == -EOVERFLOW)
		return bad(r, "the counts of '%s' add up past %lld", tag, (long long)INT64_MAX);
	return rc;
}

/* The held second ended without its counts: left out whole, and said in
 * the log's entry for the report to tell (report_cmd.c). */
static void drop_held(struct reader *r, bool at_end)
{
	struct hlog_log *g = &r->l->logs[r->log];

	if (g->seconds_cut++ == 0)
		g->cut_at = r->held_start;
	g->cut_last = at_end;
	g->cut_tail++;
	stats_reset(&r->held);
	r->held_any = false;
}

/* A whole second (or a foreign log's histogram) is kept: where the log's
 * kept intervals end, and its seconds dropped since are none. */
static void kept(struct reader *r, bool second)
{
	struct hlog_log *g = &r->l->logs[r->log];

	if (r->start + r->length > g->end)
		g->end = r->start + r->length;
	if (second) {
		g->seconds++;
		g->cut_tail = 0;
	}
}

/* The waiting line joins its interval (and the totals). */
static int apply(struct reader *r)
{
	struct hlog *l = r->l;
	int rc;

	if (l->settled && r->key <= l->settled_key)
		return bad(r, "this interval (at %.3f s) starts before one already read: each log "
			      "must be in time order, as HdrHistogram's writers write it", r->start);
	l->logs[r->log].ended = false; /* an end line with more after it ended nothing */
	l->logs[r->log].ended_by[0] = '\0';
	if (r->held_any && r->key != r->held_key)
		drop_held(r, false); /* the next second began without this one's counts */
	if (r->kind == LINE_HIST && r->holds)
		return hold(r);
	struct hlog_interval *iv = interval_at(l, r->start, r->length);
	struct stats *t = total(l);
	if (!iv || !t)
		return -ENOMEM;
	if (r->kind == LINE_INTERVAL && r->held_any && (rc = release_held(r, iv, t)) < 0)
		return rc;
	if (r->kind == LINE_HIST) {
		/* The totals first: what fits there fits in the interval too. */
		if ((rc = add_hist(t, r->tag, r->hist)) == 0)
			rc = add_hist(&iv->s, r->tag, r->hist);
		hist_free(r->hist);
		r->hist = NULL;
		if (rc == -EOVERFLOW)
			return bad(r, "the counts of '%s' add up past %lld", r->tag,
				   (long long)INT64_MAX);
		if (rc < 0)
			return rc;
		l->nhists++;
		kept(r, false);
	} else if ((rc = apply_interval_line(r, iv)) < 0) {
		return rc;
	} else {
		r->holds = true;
		kept(r, true);
	}
	r->found++;
	r->ahead = false;
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
		if (r->take_params ? !r->first_log : !first || strcmp(first, sp ? sp + 1 : "") != 0)
			l->mixed_sources = true;
	}
	struct hlog_log *g = &l->logs[r->log];
	void *more = realloc(g->p, (g->np + 1) * sizeof(*g->p));
	if (!more)
		return -ENOMEM;
	g->p = more;
	char *gk = strndup(line, klen), *gv = strdup(sp ? sp + 1 : "");
	if (!gk || !gv) {
		free(gk);
		free(gv);
		return -ENOMEM;
	}
	g->p[g->np++] = (struct hlog_param){ gk, gv };
	if (!r->take_params)
		return 0;
	void *bigger = realloc(l->params, (l->nparams + 1) * sizeof(*l->params));
	if (!bigger)
		return -ENOMEM;
	l->params = bigger;
	size_t *lines = realloc(l->param_lines, (l->nparams + 1) * sizeof(*lines));
	if (!lines)
		return -ENOMEM;
	l->param_lines = lines;
	l->param_lines[l->nparams] = r->line;
	l->params_from = r->name;
	char *k = strndup(line, klen), *v = strdup(sp ? sp + 1 : "");
	if (!k || !v) {
		free(k);
		free(v);
		return -ENOMEM;
	}
	l->params[l->nparams++] = (struct hlog_param){ k, v };
	return 0;
}

/* A line that is not data: applied as it is read. */
static int read_header_line(struct reader *r, const char *line)
{
	double t;

	if (strncmp(line, "#[StartTime: ", 13) == 0) {
		if (sscanf(line + 13, "%lf", &t) != 1 || !isfinite(t) || fabs(t) >= TIME_MAX_S)
			return bad(r, "#[StartTime: expects seconds since the epoch");
		r->start_time = t;
		r->has_start = true;
		return 0;
	}
	if (strncmp(line, "#[BaseTime: ", 12) == 0) {
		if (sscanf(line + 12, "%lf", &t) != 1 || !isfinite(t) || fabs(t) >= TIME_MAX_S)
			return bad(r, "#[BaseTime: expects seconds since the epoch");
		r->base_time = t;
		r->has_base = true;
		r->implied_base = false;
		return 0;
	}
	if (strncmp(line, "#surge-param ", 13) == 0) {
		r->holds = true; /* surge wrote it: every second has its counts */
		return read_param_line(r, line + 13);
	}
	/* Only a whole line counts (advance): a cut inside it is no end. */
	if (strcmp(line, "#surge-end") == 0 || strncmp(line, "#surge-end ", 11) == 0) {
		struct hlog_log *g = &r->l->logs[r->log];
		const char *by = strstr(line, " ended_by=");
		g->ended = true;
		/* What ended the run: a key of a few letters, or none said. */
		snprintf(g->ended_by, sizeof(g->ended_by), "%.*s", by ? (int)strcspn(by + 10, " ") : 0,
			 by ? by + 10 : "");
	}
	return 0;
}

/* Reads on to the next data line, which then waits in r (r->ahead), or to
 * the end of the log (r->at_end). 0 or -errno (err filled for -EINVAL). */
static int advance(struct reader *r)
{
	ssize_t n;
	int rc;

	while ((n = getline(&r->buf, &r->cap, r->f)) >= 0) {
		char *line = r->buf;
		r->line++;
		/* A log surge run is still writing may end mid-line: that line is
		 * not there yet (even if what is there would parse). */
		if (n == 0 || line[n - 1] != '\n')
			break;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (strncmp(line, "#surge-interval ", 16) == 0) {
			rc = parse_interval_line(r, line + 16);
		} else if (line[0] == '#' || line[0] == '"' || line[0] == '\0') {
			if ((rc = read_header_line(r, line)) < 0)
				return rc;
			continue; /* comments, the legend, blank lines */
		} else {
			rc = parse_hist_line(r, line);
		}
		if (rc < 0)
			return rc;
		r->key = key_of(r->start);
		r->ahead = true;
		return 0;
	}
	if (ferror(r->f)) {
		snprintf(r->err, r->errlen, "%s: read error", r->name);
		return -EIO;
	}
	r->at_end = true;
	if (r->held_any)
		drop_held(r, true);
	return 0;
}

/* The log is read to its end: it must have held something. */
static int finish(struct reader *r)
{
	struct hlog *l = r->l;

	if (r->found == 0) {
		snprintf(r->err, r->errlen, "%s: no intervals: is this an HdrHistogram interval log?",
			 r->name);
		return -EINVAL;
	}
	double base = r->has_base && r->base_time > 0 ? r->base_time : r->start_time;
	if (base > 0 && (l->start_time == 0 || base < l->start_time))
		l->start_time = base;
	l->logs[r->log].start = base;
	l->nlogs++;
	return 0;
}

static int reader_init(struct reader *r, struct hlog *l, FILE *f, const char *name, bool first,
		       char *err, size_t errlen)
{
	*r = (struct reader){
		.l = l, .f = f, .name = name, .first_log = first, .err = err, .errlen = errlen,
		.log = l->nlog_info,
	};
	struct hlog_log *g = realloc(l->logs, (l->nlog_info + 1) * sizeof(*g));
	if (!g) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	l->logs = g;
	l->logs[l->nlog_info++] = (struct hlog_log){ .name = name };
	return 0;
}

static void reader_done(struct reader *r)
{
	free(r->buf);
	hist_free(r->hist);
	if (r->held_init)
		stats_free(&r->held);
}

/* Messages for what the parsers return without one. */
static int say(int rc, const char *name, char *err, size_t errlen)
{
	if (rc == -ENOMEM)
		snprintf(err, errlen, "%s: out of memory", name);
	else if (rc < 0 && rc != -EINVAL && rc != -EIO)
		snprintf(err, errlen, "%s: %s", name, strerror(-rc));
	return rc;
}

int hlog_read(FILE *f, const char *name, struct hlog *l, char *err, size_t errlen)
{
	struct reader r;
	int rc;

	if (reader_init(&r, l, f, name, l->nlogs == 0, err, errlen) < 0)
		return -ENOMEM;
	r.take_params = l->nparams == 0;
	while ((rc = advance(&r)) == 0 && r.ahead && (rc = apply(&r)) == 0)
		;
	if (rc == 0)
		rc = finish(&r);
	reader_done(&r);
	return say(rc, name, err, errlen);
}

/* Hands on, oldest first, every interval that starts before `before`: no
 * log can add to it any more. */
static int settle(struct hlog *l, long long before, int (*fn)(void *arg, struct hlog_interval *iv),
		  void *arg)
{
	size_t n = 0;
	int rc = 0;

	while (n < l->niv && key_of(l->iv[n].start) < before) {
		l->settled = true;
		l->settled_key = key_of(l->iv[n].start);
		if (rc == 0)
			rc = fn(arg, &l->iv[n]);
		stats_free(&l->iv[n].s);
		n++;
	}
	if (n) /* l->iv may be NULL with nothing held: memmove's arguments never are */
		memmove(l->iv, l->iv + n, (l->niv - n) * sizeof(*l->iv));
	l->niv -= n;
	return rc;
}

int hlog_read_stream(FILE *const *files, const char *const *names, size_t n, struct hlog *l,
		     int (*fn)(void *arg, struct hlog_interval *iv), void *arg, char *err,
		     size_t errlen)
{
	struct reader *r = calloc(n ? n : 1, sizeof(*r));
	size_t failed = 0;
	int rc = 0;

	if (!r) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	/* Each log's header first (its parameters, its times), in order. */
	for (size_t i = 0; i < n; i++) {
		if (reader_init(&r[i], l, files[i], names[i], l->nlogs + i == 0, err, errlen) < 0) {
			for (size_t j = 0; j < i; j++)
				reader_done(&r[j]);
			free(r);
			return -ENOMEM;
		}
		r[i].take_params = l->nparams == 0;
		if (rc == 0 && (rc = advance(&r[i])) < 0)
			failed = i;
	}
	while (rc == 0) {
		size_t next = n;
		for (size_t i = 0; i < n; i++)
			if (r[i].ahead && (next == n || r[i].key < r[next].key))
				next = i;
		if (next == n)
			break;
		failed = next;
		if ((rc = apply(&r[next])) < 0 || (rc = advance(&r[next])) < 0)
			break;
		long long before = LLONG_MAX;
		for (size_t i = 0; i < n; i++) {
			if (r[i].ahead && r[i].key < before)
				before = r[i].key;
			if (r[i].held_any && r[i].held_key < before)
				before = r[i].held_key; /* its counts may still come */
		}
		rc = settle(l, before, fn, arg);
	}
	for (size_t i = 0; i < n && rc == 0; i++)
		if ((rc = finish(&r[i])) < 0)
			failed = i;
	if (rc < 0 && n)
		say(rc, names[failed], err, errlen);
	for (size_t i = 0; i < n; i++)
		reader_done(&r[i]);
	free(r);
	return rc;
}
