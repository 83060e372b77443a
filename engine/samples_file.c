/* samples_file: the sample log's bytes, its reader, the merge, `surge samples`. */
#include "samples_file.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stats.h"
#include "surge/hist.h"

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

void samples_record_encode(const struct samples_record *r, uint8_t *out)
{
	memset(out, 0, SAMPLES_RECORD_SIZE);
	put64(out, (uint64_t)r->intended_ns);
	put64(out + 8, (uint64_t)r->sent_ns);
	put64(out + 16, (uint64_t)r->done_ns);
	put32(out + 24, r->conn);
	put16(out + 28, r->worker);
	out[30] = r->outcome;
	out[31] = r->family;
	memcpy(out + 32, r->src, 16);
	put16(out + 48, r->src_port);
	put32(out + 52, r->dest);
	put32(out + 56, (uint32_t)r->status);
	put32(out + 60, r->bytes_in);
	put32(out + 64, r->bytes_out);
}

void samples_record_decode(const uint8_t *p, struct samples_record *r)
{
	r->intended_ns = (int64_t)get64(p);
	r->sent_ns = (int64_t)get64(p + 8);
	r->done_ns = (int64_t)get64(p + 16);
	r->conn = get32(p + 24);
	r->worker = get16(p + 28);
	r->outcome = p[30];
	r->family = p[31];
	memcpy(r->src, p + 32, 16);
	r->src_port = get16(p + 48);
	r->dest = get32(p + 52);
	r->status = (int32_t)get32(p + 56);
	r->bytes_in = get32(p + 60);
	r->bytes_out = get32(p + 64);
}

int samples_header_write(FILE *f, const char *text)
{
	static const char fields[] = "fields " SAMPLES_FIELDS "\n";
	size_t tl = strlen(fields) + strlen(text);
	uint8_t fixed[SAMPLES_FIXED_HEADER];

	memcpy(fixed, SAMPLES_MAGIC, 8);
	put32(fixed + 8, SAMPLES_VERSION);
	put32(fixed + 12, SAMPLES_RECORD_SIZE);
	put32(fixed + 16, (uint32_t)tl);
	if (fwrite(fixed, 1, sizeof(fixed), f) != sizeof(fixed) || fputs(fields, f) < 0 ||
	    fputs(text, f) < 0)
		return -(errno ? errno : EIO);
	return 0;
}

int samples_header_parse(const uint8_t *buf, size_t len, struct samples_header *h, char *err,
			 size_t errlen)
{
	memset(h, 0, sizeof(*h));
	if (len < SAMPLES_FIXED_HEADER || memcmp(buf, SAMPLES_MAGIC, 8) != 0) {
		snprintf(err, errlen, "not a surge samples file (no SURGESMP header)");
		return -EINVAL;
	}
	h->version = get32(buf + 8);
	h->record_size = get32(buf + 12);
	h->text_len = get32(buf + 16);
	if (h->version != SAMPLES_VERSION) {
		snprintf(err, errlen, "samples format version %u, this surge reads version %u",
			 h->version, SAMPLES_VERSION);
		return -EINVAL;
	}
	if (h->record_size < SAMPLES_RECORD_SIZE || h->record_size > 65536) {
		snprintf(err, errlen, "record size %u (version %u's is %u)", h->record_size,
			 h->version, SAMPLES_RECORD_SIZE);
		return -EINVAL;
	}
	if (h->text_len > SAMPLES_TEXT_MAX || h->text_len > len - SAMPLES_FIXED_HEADER) {
		snprintf(err, errlen, "header text of %u bytes runs past the end of the file",
			 h->text_len);
		return -EINVAL;
	}
	h->text = (const char *)buf + SAMPLES_FIXED_HEADER;
	h->data_off = SAMPLES_FIXED_HEADER + (size_t)h->text_len;
	return 0;
}

void samples_header_dest(const struct samples_header *h, uint32_t i, char *out, size_t outlen)
{
	char want[24];
	int wl = snprintf(want, sizeof(want), "dest %u ", i);
	const char *p = h->text, *end = h->text + h->text_len;

	snprintf(out, outlen, "?");
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (n > (size_t)wl && memcmp(p, want, (size_t)wl) == 0) {
			size_t m = n - (size_t)wl;
			if (m >= outlen)
				m = outlen - 1;
			memcpy(out, p + wl, m);
			out[m] = '\0';
			return;
		}
		p += n + 1;
	}
}

void samples_csv_header(FILE *f)
{
	fputs("intended_ns,sent_ns,done_ns,latency_ns,worker,conn,outcome,src,src_port,dest,status,"
	      "bytes_in,bytes_out\n", f);
}

/* done - intended, the latency the report recorded; false for a record that
 * has none (unanswered) or whose times cannot be told apart (a hostile file). */
static bool record_latency(const struct samples_record *r, int64_t *out)
{
	return r->outcome == 0 && r->done_ns >= 0 &&
	       !__builtin_sub_overflow(r->done_ns, r->intended_ns, out);
}

static const char *outcome_name(uint8_t o)
{
	if (o == 0)
		return "ok";
	if (o == SAMPLES_UNFINISHED)
		return "unfinished";
	if (o - 1 < ERR__COUNT)
		return stats_error_key((enum stat_error)(o - 1));
	return "unknown";
}

void samples_record_csv(FILE *f, const struct samples_header *h, const struct samples_record *r)
{
	char src[INET6_ADDRSTRLEN] = "", dest[80];
	int64_t lat;

	if (r->family == 4)
		inet_ntop(AF_INET, r->src, src, sizeof(src));
	else if (r->family == 6)
		inet_ntop(AF_INET6, r->src, src, sizeof(src));
	samples_header_dest(h, r->dest, dest, sizeof(dest));
	fprintf(f, "%lld,%lld,", (long long)r->intended_ns, (long long)r->sent_ns);
	if (r->done_ns >= 0)
		fprintf(f, "%lld,", (long long)r->done_ns);
	else
		fputc(',', f);
	if (record_latency(r, &lat))
		fprintf(f, "%lld,", (long long)lat);
	else
		fputc(',', f);
	fprintf(f, "%u,%u,%s,%s,", r->worker, r->conn, outcome_name(r->outcome), src);
	if (r->family)
		fprintf(f, "%u", r->src_port);
	fprintf(f, ",%s,", dest);
	if (r->status >= 0)
		fprintf(f, "%d", r->status);
	fprintf(f, ",%u,%u\n", r->bytes_in, r->bytes_out);
}

static int read_all(const char *path, uint8_t **out, size_t *outlen)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;
	int rc = 0;

	struct stat st;

	if (!f)
		return -errno;
	/* fopen takes a directory: said as one, not as its read's EIO. */
	if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		fclose(f);
		return -EISDIR;
	}
	for (;;) {
		if (cap - len < 65536) {
			size_t ncap = cap ? cap * 2 : 1 << 20;
			uint8_t *nb = realloc(buf, ncap);
			if (!nb) {
				rc = -ENOMEM;
				break;
			}
			buf = nb;
			cap = ncap;
		}
		size_t n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0) {
			if (ferror(f))
				rc = -EIO;
			break;
		}
	}
	fclose(f);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	*out = buf;
	*outlen = len;
	return 0;
}

/* Copies the records of part (a whole samples file) to out, and its
 * header first when *header is still to be written. */
static int append_part(FILE *out, const char *part, bool *header, char *err, size_t errlen)
{
	uint8_t *buf;
	size_t len;
	struct samples_header h;
	int rc = read_all(part, &buf, &len);

	if (rc < 0) {
		snprintf(err, errlen, "%s: %s", part, strerror(-rc));
		return rc;
	}
	if (len == 0) { /* a worker that could not even write its header */
		free(buf);
		return 0;
	}
	char why[256];
	if ((rc = samples_header_parse(buf, len, &h, why, sizeof(why))) < 0) {
		snprintf(err, errlen, "%s: %s", part, why);
		free(buf);
		return rc;
	}
	/* A part cut short (the disk filled) keeps its whole records. */
	size_t from = *header ? 0 : h.data_off;
	size_t n = h.data_off - from + (len - h.data_off) / h.record_size * h.record_size;
	if (fwrite(buf + from, 1, n, out) != n) {
		rc = -(errno ? errno : EIO);
		snprintf(err, errlen, "writing the merged samples: %s", strerror(-rc));
	} else {
		*header = false;
	}
	free(buf);
	return rc;
}

/* FILE is a FIFO or a device: the parts are written into it one after the
 * other, header first; it is never replaced. A FIFO's open waits for its
 * reader, as `>` would. */
static int merge_in_place(const char *path, char *const *parts, size_t n, char *err,
			  size_t errlen)
{
	int fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
	bool header = true;
	int rc = 0;

	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	FILE *out = fdopen(fd, "wb");
	if (!out) {
		rc = -errno;
		close(fd);
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = append_part(out, parts[i], &header, err, errlen);
	if (fflush(out) != 0 && rc == 0)
		rc = -(errno ? errno : EIO);
	if (fclose(out) != 0 && rc == 0)
		rc = -(errno ? errno : EIO);
	if (rc < 0 && !err[0])
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
	return rc;
}

/* Part 0's header and record count: the header read whole (its text is
 * bounded), the size from the file. 0 or -errno with err filled. */
static int part_head(FILE *f, const char *name, size_t *whole, char *err, size_t errlen)
{
	uint8_t fixed[SAMPLES_FIXED_HEADER];
	struct samples_header h;
	struct stat st;
	char why[256];

	if (fstat(fileno(f), &st) < 0 || fread(fixed, 1, sizeof(fixed), f) != sizeof(fixed)) {
		snprintf(err, errlen, "%s: not a surge samples file (no header)", name);
		return -EINVAL;
	}
	uint32_t tl = get32(fixed + 16);
	size_t hl = SAMPLES_FIXED_HEADER + (tl <= SAMPLES_TEXT_MAX ? tl : 0);
	uint8_t *buf = malloc(hl);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, fixed, sizeof(fixed));
	size_t got = sizeof(fixed) + fread(buf + sizeof(fixed), 1, hl - sizeof(fixed), f);
	int rc = samples_header_parse(buf, got, &h, why, sizeof(why));
	free(buf);
	if (rc < 0) {
		snprintf(err, errlen, "%s: %s", name, why);
		return rc;
	}
	size_t size = (size_t)st.st_size;
	*whole = h.data_off + (size - h.data_off) / h.record_size * h.record_size;
	return 0;
}

int samples_merge(const char *path, bool in_place, char *const *parts, size_t n, char *err,
		  size_t errlen)
{
	size_t whole = 0;
	bool header = false;
	int rc;

	if (errlen)
		err[0] = '\0';
	if (n == 0)
		return 0;
	if (in_place) {
		if ((rc = merge_in_place(path, parts, n, err, errlen)) < 0)
			return rc;
		for (size_t i = 0; i < n; i++)
			unlink(parts[i]);
		return 0;
	}
	/* Part 0 becomes FILE: its header and records stay where they are, cut
	 * to whole records, and the other parts' records follow — one copy of
	 * the data at most, none for one worker. */
	FILE *out = fopen(parts[0], "r+b");
	if (!out) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", parts[0], strerror(errno));
		return rc;
	}
	if ((rc = part_head(out, parts[0], &whole, err, errlen)) < 0) {
		fclose(out);
		return rc;
	}
	if (ftruncate(fileno(out), (off_t)whole) < 0 || fseek(out, 0, SEEK_END) < 0)
		rc = -errno;
	for (size_t i = 1; i < n && rc == 0; i++)
		rc = append_part(out, parts[i], &header, err, errlen);
	if (fflush(out) != 0 && rc == 0)
		rc = -(errno ? errno : EIO);
	if (rc < 0) /* part 0 as it was, so every part still stands alone */
		(void)!ftruncate(fileno(out), (off_t)whole);
	if (fclose(out) != 0 && rc == 0)
		rc = -(errno ? errno : EIO);
	if (rc == 0 && rename(parts[0], path) < 0)
		rc = -errno;
	if (rc < 0) {
		if (!err[0])
			snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	for (size_t i = 1; i < n; i++)
		unlink(parts[i]);
	return 0;
}

int samples_csv_file(const char *bin, const char *csv, char *err, size_t errlen)
{
	uint8_t *buf;
	size_t len;
	struct samples_header h;
	char why[256];
	int rc = read_all(bin, &buf, &len);

	if (rc < 0) {
		snprintf(err, errlen, "%s: %s", bin, strerror(-rc));
		return rc;
	}
	if ((rc = samples_header_parse(buf, len, &h, why, sizeof(why))) < 0) {
		snprintf(err, errlen, "%s: %s", bin, why);
		free(buf);
		return rc;
	}
	FILE *f = fopen(csv, "w");
	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", csv, strerror(errno));
		free(buf);
		return rc;
	}
	samples_csv_header(f);
	size_t n = (len - h.data_off) / h.record_size;
	for (size_t i = 0; i < n; i++) {
		struct samples_record r;
		samples_record_decode(buf + h.data_off + i * h.record_size, &r);
		samples_record_csv(f, &h, &r);
	}
	free(buf);
	if (ferror(f) | (fclose(f) != 0)) {
		snprintf(err, errlen, "%s: %s", csv, strerror(errno ? errno : EIO));
		return -(errno ? errno : EIO);
	}
	return 0;
}

static const char samples_usage[] =
	"usage: surge samples FILE [--csv | --latency]\n"
	"\n"
	"Reads a per-request sample log (surge run --samples FILE): without --csv a\n"
	"summary (records by outcome), with --csv every record as CSV on stdout:\n"
	"intended_ns,sent_ns,done_ns,latency_ns,worker,conn,outcome,src,src_port,dest,\n"
	"status,bytes_in,bytes_out (times in ns since the run's start; latency_ns =\n"
	"done_ns - intended_ns, as the report's latency histogram records it).\n"
	"--latency rebuilds that histogram from the answered records and prints it\n"
	"as surge run --latency does (with every = 1, the same table).\n";

int samples_main(int argc, char **argv)
{
	const char *path = NULL;
	bool csv = false, latency = false;
	struct hist *hist = NULL;
	uint8_t *buf;
	size_t len;
	struct samples_header h;
	char why[256];
	int rc;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--csv") == 0) {
			csv = true;
		} else if (strcmp(argv[i], "--latency") == 0) {
			latency = true;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			fputs(samples_usage, stdout);
			return 0;
		} else if (argv[i][0] == '-' || path) {
			fprintf(stderr, "surge samples: unexpected '%s'\n\n%s", argv[i], samples_usage);
			return 2;
		} else {
			path = argv[i];
		}
	}
	if (!path) {
		fputs(samples_usage, stderr);
		return 2;
	}
	if ((rc = read_all(path, &buf, &len)) < 0) {
		fprintf(stderr, "surge samples: %s: %s\n", path, strerror(-rc));
		return 1;
	}
	if (samples_header_parse(buf, len, &h, why, sizeof(why)) < 0) {
		fprintf(stderr, "surge samples: %s: %s\n", path, why);
		free(buf);
		return 1;
	}
	if (csv && latency) {
		fprintf(stderr, "surge samples: --csv or --latency, not both\n");
		free(buf);
		return 2;
	}
	if (latency && !(hist = hist_new_default())) {
		free(buf);
		return 1;
	}
	size_t nrec = (len - h.data_off) / h.record_size;
	int64_t by[256] = {0};
	if (csv)
		samples_csv_header(stdout);
	for (size_t i = 0; i < nrec; i++) {
		struct samples_record r;
		samples_record_decode(buf + h.data_off + i * h.record_size, &r);
		by[r.outcome]++;
		int64_t lat;
		if (hist && record_latency(&r, &lat))
			hist_record(hist, lat);
		if (csv)
			samples_record_csv(stdout, &h, &r);
	}
	size_t tail = (len - h.data_off) % h.record_size;
	if (tail)
		fprintf(stderr, "surge samples: %s: the last %zu bytes are part of a record (the "
				"file was cut short): left out\n", path, tail);
	if (hist) {
		printf("  Latency distribution (HdrHistogram, milliseconds)\n");
		hist_print_percentiles(stdout, hist, 5, 1e6);
		hist_free(hist);
	} else if (!csv) {
		printf("%s: %zu records (format version %u)\n", path, nrec, h.version);
		for (int o = 0; o < 256; o++)
			if (by[o])
				printf("  %-20s %lld\n", outcome_name((uint8_t)o), (long long)by[o]);
	}
	free(buf);
	return fflush(stdout) == 0 ? 0 : 1;
}
