/* report_files: the files a run writes (--json, --hlog, --html), each
 * complete or not at all. */
#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hlog.h"
#include "series.h"
#include "threshold.h"
#include "version.h"

/* path.tmp: where a report is written before the rename (free() it). */
static char *tmp_path(const char *path)
{
	char *tmp;

	return asprintf(&tmp, "%s.tmp", path) < 0 ? NULL : tmp;
}

int report_write_file(const char *path, const char *what,
		      int (*write)(FILE *f, const struct options *o, const struct run_result *r,
				   const char *const *sources, size_t nsources),
		      const struct options *o, const struct run_result *r, const char *const *sources,
		      size_t nsources, char *err, size_t errlen)
{
	char *tmp;
	int rc;

	if (report_to_stdout(path)) {
		rc = write(stdout, o, r, sources, nsources);
		if (fflush(stdout) != 0 && rc == 0)
			rc = -errno;
		if (rc < 0)
			snprintf(err, errlen, "cannot write the %s report to stdout: %s", what,
				 strerror(-rc));
		return rc;
	}
	tmp = tmp_path(path);
	if (!tmp)
		return -ENOMEM;
	FILE *f = fopen(tmp, "w");
	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "cannot write the %s report to '%s': %s", what, path,
			 strerror(-rc));
		free(tmp);
		return rc;
	}
	rc = write(f, o, r, sources, nsources);
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0) {
		unlink(tmp);
		snprintf(err, errlen, "cannot write the %s report to '%s': %s", what, path,
			 strerror(-rc));
	}
	free(tmp);
	return rc;
}

/* Creates and removes path.tmp, as report_write_file will create it. */
static int check_writable(const char *path, const char *what, char *err, size_t errlen)
{
	char *tmp = tmp_path(path);
	struct stat st;
	int rc = 0;

	if (!tmp)
		return -ENOMEM;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		rc = -EISDIR;
	} else {
		int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd >= 0) {
			close(fd);
			unlink(tmp);
		} else if (errno != EEXIST) {
			rc = -errno;
		}
	}
	if (rc < 0)
		snprintf(err, errlen, "cannot write the %s report to '%s': %s (checked before any "
			 "traffic)", what, path, strerror(-rc));
	free(tmp);
	return rc;
}

bool report_to_stdout(const char *path)
{
	return path && strcmp(path, "-") == 0;
}

int report_stdout_count(const char *hlog, const char *json, const char *html)
{
	return report_to_stdout(hlog) + report_to_stdout(json) + report_to_stdout(html);
}

int report_files_check(const struct options *o, char *err, size_t errlen)
{
	int rc = 0;

	if (report_stdout_count(o->hlog_path, o->json_path, o->html_path) > 1) {
		snprintf(err, errlen, "only one report can go to stdout ('-'): --json, --hlog or "
				      "--html");
		return -EINVAL;
	}
	if (o->hlog_path && !report_to_stdout(o->hlog_path))
		rc = check_writable(o->hlog_path, "HdrHistogram log", err, errlen);
	if (rc == 0 && o->json_path && !report_to_stdout(o->json_path))
		rc = check_writable(o->json_path, "JSON", err, errlen);
	if (rc == 0 && o->html_path && !report_to_stdout(o->html_path))
		rc = check_writable(o->html_path, "HTML", err, errlen);
	return rc;
}

/* The run's parameters as a list that grows as they are added; an
 * allocation that fails is remembered and reported once. */
struct params {
	struct hlog_param *p;
	size_t n, cap;
	bool oom;
};

static void add(struct params *ps, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void add(struct params *ps, const char *key, const char *fmt, ...)
{
	va_list ap;
	char *v;

	if (ps->oom)
		return;
	if (ps->n == ps->cap) {
		size_t cap = ps->cap ? 2 * ps->cap : 32;
		struct hlog_param *p = realloc(ps->p, cap * sizeof(*p));
		if (!p) {
			ps->oom = true;
			return;
		}
		ps->p = p;
		ps->cap = cap;
	}
	va_start(ap, fmt);
	int rc = vasprintf(&v, fmt, ap);
	va_end(ap);
	if (rc < 0) {
		ps->oom = true;
		return;
	}
	ps->p[ps->n++] = (struct hlog_param){(char *)key, v}; /* the writer only reads key */
}

/* The run's parameters, as `surge report` reads them back (report_cmd.c). */
int report_hlog_header(FILE *f, const struct options *o, const struct run_result *r)
{
	struct params ps = {0};
	int rc;

	add(&ps, "generator", "surge %s", SURGE_VERSION);
	add(&ps, "scenario", "%s", o->scenario_path ? o->scenario_path : "");
	add(&ps, "target", "%s", o->target ? o->target : "");
	for (size_t i = 0; i < o->ndests; i++)
		add(&ps, "destination", "%s", o->dests[i].label);
	add(&ps, "protocol", "%s", o->proto_name);
	add(&ps, "shape", "%s", o->shape == SHAPE_SESSION ? "session" : "message");
	add(&ps, "connections", "%u", o->max_connections);
	for (size_t i = 0; i < o->nrate_segs; i++)
		add(&ps, "rate_segment", "%.9g %.9g %.17g %.17g", (double)o->rate_segs[i].t0 / 1e9,
		    (double)o->rate_segs[i].t1 / 1e9, o->rate_segs[i].r0, o->rate_segs[i].r1);
	add(&ps, "arrival", "%s", o->arrival == PACER_POISSON ? "poisson" : "uniform");
	add(&ps, "duration_s", "%.9g", (double)o->duration_ns / 1e9);
	add(&ps, "elapsed_s", "%.9g", (double)r->elapsed_ns / 1e9);
	add(&ps, "workers", "%u", r->workers);
	add(&ps, "pipeline", "%u", o->pipeline);
	add(&ps, "timeout_s", "%.9g", (double)o->request_timeout_ns / 1e9);
	add(&ps, "connect_timeout_s", "%.9g", (double)o->connect_timeout_ns / 1e9);
	add(&ps, "peak_open", "%lld", (long long)r->peak_open);
	add(&ps, "interrupted", "%d", r->interrupted);
	if (o->bind_spec) {
		add(&ps, "bind", "%s", o->bind_spec);
		add(&ps, "pick", "%s", addrset_pick_name(o->pick));
	}
	for (size_t i = 0; i < r->nthresholds; i++)
		add(&ps, "threshold", "%s %s", r->thresholds[i].metric, r->thresholds[i].condition);
	rc = ps.oom ? -ENOMEM : hlog_write_header(f, r->start_epoch, ps.p, ps.n);
	for (size_t i = 0; i < ps.n; i++)
		free(ps.p[i].value);
	free(ps.p);
	return rc;
}

int report_hlog(FILE *f, const struct options *o, const struct run_result *r)
{
	int rc = report_hlog_header(f, o, r);

	return rc < 0 ? rc : series_write_hlog(r->series, f);
}

static int write_hlog(FILE *f, const struct options *o, const struct run_result *r,
		      const char *const *sources, size_t nsources)
{
	return report_hlog(f, o, r);
}

int report_files(const struct options *o, const struct run_result *r, char *err, size_t errlen)
{
	int rc = 0;

	if (o->hlog_path)
		rc = report_write_file(o->hlog_path, "HdrHistogram log", write_hlog, o, r, NULL, 0,
				       err, errlen);
	if (rc == 0 && o->json_path)
		rc = report_write_file(o->json_path, "JSON", report_json, o, r, NULL, 0, err, errlen);
	if (rc == 0 && o->html_path)
		rc = report_write_file(o->html_path, "HTML", report_html, o, r, NULL, 0, err, errlen);
	return rc;
}
