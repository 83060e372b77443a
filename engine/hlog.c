/* hlog: HdrHistogram interval logs, written as HdrHistogram's Java
 * HistogramLogWriter writes them (format 1.3), plus surge's counters in
 * comment lines. The reader is hlog_read.c. */
#include "hlog.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* HdrHistogram's readers (Java, hdr-histogram-js, HdrHistogram_py) skip any
 * line that starts with '#' wherever it is, so a trailer leaves the log
 * theirs to read. */
int hlog_write_end(FILE *f, const char *ended_by)
{
	fprintf(f, "#surge-end ended_by=%s\n", ended_by);
	return ferror(f) ? -EIO : 0;
}

int hlog_interval_lines(double start, double length, const struct stats *s, char **buf,
			size_t *len)
{
	FILE *f = open_memstream(buf, len);

	if (!f)
		return -ENOMEM;
	int rc = hlog_write_interval(f, start, length, s);
	if (fclose(f) != 0 && rc == 0)
		rc = -ENOMEM;
	if (rc < 0) {
		free(*buf);
		*buf = NULL;
	}
	return rc;
}
