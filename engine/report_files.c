/* report_files: the files a run writes (--json, --hlog, --html), each
 * complete or not at all. */
#include "report.h"
#include "shard.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hlog.h"
#include "outpath.h"
#include "series.h"
#include "threshold.h"
#include "tls.h"
#include "version.h"

/* Where a report goes: "-" is stdout, anything else an outpath (its
 * rules: outpath.h). */
struct dest {
	bool to_stdout;
	struct outpath out;
};

static int dest_resolve(const char *path, struct dest *d, char *why, size_t whylen)
{
	memset(d, 0, sizeof(*d));
	why[0] = '\0';
	if (report_to_stdout(path)) {
		d->to_stdout = true;
		return 0;
	}
	return outpath_resolve(path, &d->out, why, whylen);
}

/* A stdio stream over fd that keeps the errno of the first write that
 * failed: the writers can only see ferror(), which would make a full disk
 * look like EIO. */
struct sink {
	int fd;
	int err;
};

static ssize_t sink_write(void *cookie, const char *buf, size_t len)
{
	struct sink *s = cookie;
	size_t off = 0;

	while (off < len) {
		ssize_t n = write(s->fd, buf + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (!s->err)
				s->err = n < 0 ? errno : EIO;
			return 0; /* fopencookie: 0 is an error */
		}
		off += (size_t)n;
	}
	return (ssize_t)len;
}

static int write_fd(int fd, const struct report_out *out, const struct options *o,
		    const struct run_result *r, const char *const *sources, size_t nsources)
{
	struct sink s = {fd, 0};
	FILE *f = fopencookie(&s, "w", (cookie_io_functions_t){.write = sink_write});
	int rc;

	if (!f)
		return -ENOMEM;
	rc = out->write(f, o, r, sources, nsources);
	if (fclose(f) != 0 && rc == 0)
		rc = -EIO;
	if (rc < 0 && s.err)
		rc = -s.err; /* what write() said, not ferror()'s EIO */
	return rc;
}

static int write_dest(const struct dest *d, const char *path, const struct report_out *out,
		      const struct options *o, const struct run_result *r,
		      const char *const *sources, size_t nsources)
{
	char *tmp = NULL;
	int fd, rc;

	if (d->to_stdout) {
		if (fflush(stdout) != 0)
			return -errno;
		return write_fd(STDOUT_FILENO, out, o, r, sources, nsources);
	}
	if (d->out.kind == OUTPATH_DIRECT) {
		/* A FIFO's open waits for a reader, as `>` would. */
		if ((fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC)) < 0)
			return -errno;
		rc = write_fd(fd, out, o, r, sources, nsources);
		if (close(fd) < 0 && rc == 0 && errno != EINTR)
			rc = -errno;
		return rc;
	}
	if ((fd = outpath_temp_open(d->out.real, &tmp)) < 0)
		return fd;
	rc = d->out.exists && fchmod(fd, d->out.mode) < 0 ? -errno : 0;
	if (rc == 0)
		rc = write_fd(fd, out, o, r, sources, nsources);
	if (rc == 0 && fsync(fd) < 0) /* the rename must not outlive the data */
		rc = -errno;
	if (close(fd) < 0 && rc == 0 && errno != EINTR)
		rc = -errno;
	if (rc == 0 && rename(tmp, d->out.real) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	free(tmp);
	return rc;
}

static void say(char *err, size_t errlen, const struct report_out *out, const char *path, int rc,
		const char *why, const char *after)
{
	if (report_to_stdout(path))
		snprintf(err, errlen, "cannot write the %s report to stdout: %s%s", out->what,
			 strerror(-rc), after);
	else
		snprintf(err, errlen, "cannot write the %s report to '%s': %s%s", out->what, path,
			 why[0] ? why : strerror(-rc), after);
}

int report_write_file(const char *path, const struct report_out *out, const struct options *o,
		      const struct run_result *r, const char *const *sources, size_t nsources,
		      char *err, size_t errlen)
{
	struct dest d;
	char why[160];
	int rc = dest_resolve(path, &d, why, sizeof(why));

	if (rc == 0)
		rc = write_dest(&d, path, out, o, r, sources, nsources);
	if (rc < 0)
		say(err, errlen, out, path, rc, why, "");
	outpath_free(&d.out);
	return rc;
}

bool report_path_replaced(const char *path)
{
	struct stat st;

	if (!path || report_to_stdout(path))
		return false;
	return stat(path, &st) < 0 ? errno == ENOENT : S_ISREG(st.st_mode);
}

/* The absolute spelling of a path that need not exist yet: its directory
 * resolved, its name as given (NULL if the directory does not resolve). */
static char *canonical(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? strndup(path, (size_t)(slash - path + 1)) : strdup(".");
	char *rdir = dir ? realpath(dir, NULL) : NULL;
	char *out = NULL;

	if (rdir && asprintf(&out, "%s/%s", rdir, slash ? slash + 1 : path) < 0)
		out = NULL;
	free(dir);
	free(rdir);
	return out;
}

/* Two report paths that would end in the same file (the second would
 * replace the first). Writing twice to a character device (/dev/null) is
 * harmless. */
static bool same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
		return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino && !S_ISCHR(sa.st_mode);
	if (strcmp(a, b) == 0)
		return true;
	char *ca = canonical(a), *cb = canonical(b);
	bool same = ca && cb && strcmp(ca, cb) == 0;
	free(ca);
	free(cb);
	return same;
}

/* That a report could go where it is to: the file type, and for a regular
 * file a temp file created and removed beside it. */
static int check_dest(const char *path, const struct report_out *out, char *err, size_t errlen)
{
	static const char after[] = " (checked before any traffic)";
	struct dest d;
	char why[160];
	int rc = dest_resolve(path, &d, why, sizeof(why));

	if (rc == 0 && !d.to_stdout)
		rc = outpath_check(path, &d.out);
	if (rc < 0)
		say(err, errlen, out, path, rc, why, after);
	outpath_free(&d.out);
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

int report_outs_check(const struct report_out *outs, size_t n, char *err, size_t errlen)
{
	int nstdout = 0;

	for (size_t i = 0; i < n; i++)
		nstdout += report_to_stdout(outs[i].path);
	if (nstdout > 1) {
		snprintf(err, errlen, "only one report can go to stdout ('-'): --json, --hlog or "
				      "--html");
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if (!outs[i].path || report_to_stdout(outs[i].path))
			continue;
		for (size_t j = 0; j < i; j++) {
			if (outs[j].path && !report_to_stdout(outs[j].path) &&
			    same_file(outs[i].path, outs[j].path)) {
				snprintf(err, errlen, "the %s and the %s report would both be written "
					 "to '%s': give each its own file", outs[j].what,
					 outs[i].what, outs[i].path);
				return -EINVAL;
			}
		}
		int rc = check_dest(outs[i].path, &outs[i], err, errlen);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int report_outs_write(const struct report_out *outs, size_t n, const struct options *o,
		      const struct run_result *r, const char *const *sources, size_t nsources,
		      char *err, size_t errlen)
{
	size_t used = 0;
	int first = 0;

	if (errlen)
		err[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (!outs[i].path)
			continue;
		/* Each is attempted: one full or missing place must not cost
		 * the others. */
		char msg[1024];
		int rc = report_write_file(outs[i].path, &outs[i], o, r, sources, nsources, msg,
					   sizeof(msg));
		if (rc == 0)
			continue;
		if (!first)
			first = rc;
		if (used < errlen) {
			int w = snprintf(err + used, errlen - used, "%s%s", used ? "\n" : "", msg);
			used += w > 0 ? (size_t)w : 0;
		}
	}
	return first;
}

static int write_hlog(FILE *f, const struct options *o, const struct run_result *r,
		      const char *const *sources, size_t nsources);

/* What a run writes, in the order it writes them. */
static void run_outs(const struct options *o, struct report_out outs[3])
{
	outs[0] = (struct report_out){o->hlog_path, "HdrHistogram log", write_hlog};
	outs[1] = (struct report_out){o->json_path, "JSON", report_json};
	outs[2] = (struct report_out){o->html_path, "HTML", report_html};
}

int report_files_check(const struct options *o, char *err, size_t errlen)
{
	struct report_out outs[3];

	run_outs(o, outs);
	/* The samples are a run's output too: a report written over them
	 * (or they over it) loses one of the two. */
	for (size_t i = 0; o->samples_path && i < 3; i++) {
		if (outs[i].path && !report_to_stdout(outs[i].path) &&
		    same_file(o->samples_path, outs[i].path)) {
			snprintf(err, errlen, "the samples and the %s report would both be written to "
				 "'%s': give each its own file", outs[i].what, outs[i].path);
			return -EINVAL;
		}
	}
	return report_outs_check(outs, 3, err, errlen);
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

/* Nanoseconds as seconds, exactly ("12.345678912", "5", "0"): %.9g would
 * round a time past 10 s that a report reads back, and its JSON then says
 * another elapsed_s than the run's. */
static void add_ns(struct params *ps, const char *key, uint64_t ns)
{
	char frac[16];
	int n = snprintf(frac, sizeof(frac), ".%09llu", (unsigned long long)(ns % 1000000000));

	while (n > 1 && frac[n - 1] == '0')
		frac[--n] = '\0';
	add(ps, key, "%llu%s", (unsigned long long)(ns / 1000000000), n > 1 ? frac : "");
}

/* The run's parameters, as `surge report` reads them back (report_cmd.c):
 * whatever its reports show of the run, so the report of its log is its own. */
int report_hlog_header(FILE *f, const struct options *o, const struct run_result *r, bool live)
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
	/* What this log's run asked: a shard's share, so logs add up to the run. */
	double scale = shard_rate_scale(o);
	add(&ps, "connections", "%u", shard_connections(o));
	for (size_t i = 0; i < o->nrate_segs; i++)
		add(&ps, "rate_segment", "%.9g %.9g %.17g %.17g", (double)o->rate_segs[i].t0 / 1e9,
		    (double)o->rate_segs[i].t1 / 1e9, o->rate_segs[i].r0 * scale,
		    o->rate_segs[i].r1 * scale);
	if (o->shards > 1) {
		add(&ps, "shard", "%u/%u", o->shard + 1, o->shards);
		add(&ps, "run_connections", "%u", o->max_connections);
	}
	if (o->start_at > 0)
		add(&ps, "start_at", "%.3f", o->start_at);
	add(&ps, "arrival", "%s", o->arrival == PACER_POISSON ? "poisson" : "uniform");
	add(&ps, "duration_s", "%.9g", (double)o->duration_ns / 1e9);
	if (o->requests)
		add(&ps, "requests", "%llu", (unsigned long long)o->requests);
	if (o->duration_unbounded)
		add(&ps, "duration_unbounded", "1");
	add_ns(&ps, "elapsed_s", r->elapsed_ns);
	/* How many seconds follow, ended by "#surge-end": a reader tells a log
	 * cut at a second's boundary, and what it lost (report_cut.c). A log
	 * written as the run goes cannot know; its header says elapsed_s 0. */
	if (!live)
		add(&ps, "seconds", "%zu", series_len(r->series));
	add(&ps, "workers", "%u", r->workers);
	add(&ps, "workers_lost", "%u", r->workers_lost);
	if (r->worker_failed) /* lost, or exited with a failure: the run exits 1 */
		add(&ps, "worker_failed", "1");
	if (r->seconds_unmerged)
		add(&ps, "seconds_unmerged", "%u", r->seconds_unmerged);
	/* A merge of cut logs (surge report --partial --hlog) misses what they
	 * missed: its readers are told too. */
	if (r->seconds_cut)
		add(&ps, "seconds_cut", "%llu", (unsigned long long)r->seconds_cut);
	add(&ps, "pipeline", "%u", o->pipeline);
	add(&ps, "timeout_s", "%.9g", (double)o->request_timeout_ns / 1e9);
	add(&ps, "connect_timeout_s", "%.9g", (double)o->connect_timeout_ns / 1e9);
	add(&ps, "transport", "%s", o->transport == TRANSPORT_UDP ? "udp" : "tcp");
	add(&ps, "start", "%s", o->start == START_CONNECTED ? "connected" : "now");
	add_ns(&ps, "connect_phase_s", r->connect_phase_ns);
	if (tls_options_used(o))
		add(&ps, "tls", "verify=%d resume=%d", o->tls.verify, o->tls.resume);
	add(&ps, "peak_open", "%lld", (long long)r->peak_open);
	add(&ps, "interrupted", "%d", r->interrupted);
	if (r->unreachable) /* -n alone, and no connection: when it gave up, after how long */
		add(&ps, "unreachable_s", "%.9g %.9g", r->unreachable_at_s, r->unreachable_window_s);
	if (o->bind_spec) {
		add(&ps, "bind", "%s", o->bind_spec);
		add(&ps, "pick", "%s", addrset_pick_name(o->pick));
	}
	/* Marked abort, and which one stopped the run: the i-th threshold line
	 * (lines of their own, which older readers skip). */
	for (size_t i = 0; i < r->nthresholds; i++)
		add(&ps, "threshold", "%s %s", r->thresholds[i].metric, r->thresholds[i].condition);
	for (size_t i = 0; i < r->nthresholds; i++)
		if (r->thresholds[i].abort)
			add(&ps, "threshold_abort", "%zu %.9g", i,
			    (double)r->thresholds[i].abort_after_ns / 1e9);
	if (r->aborted_by)
		add(&ps, "aborted", "%td %.9g %.17g", r->aborted_by - r->thresholds, r->aborted_at_s,
		    r->aborted_actual);
	rc = ps.oom ? -ENOMEM : hlog_write_header(f, r->start_epoch, ps.p, ps.n);
	for (size_t i = 0; i < ps.n; i++)
		free(ps.p[i].value);
	free(ps.p);
	return rc;
}

int report_hlog(FILE *f, const struct options *o, const struct run_result *r)
{
	int rc = report_hlog_header(f, o, r, false);

	if (rc == 0)
		rc = series_write_hlog(r->series, f);
	return rc < 0 ? rc : hlog_write_end(f, report_ended_by_key(o, r));
}

static int write_hlog(FILE *f, const struct options *o, const struct run_result *r,
		      const char *const *sources, size_t nsources)
{
	return report_hlog(f, o, r);
}

int report_files(const struct options *o, const struct run_result *r, char *err, size_t errlen)
{
	struct report_out outs[3];

	run_outs(o, outs);
	return report_outs_write(outs, 3, o, r, NULL, 0, err, errlen);
}
