/* report_shards: several logs of one run add up (report_shards.h). */
#include "report_shards.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* "K/N" as the run wrote it: 0 with *k (1-based) and *n, or -EINVAL. */
static int read_shard(const char *v, uint32_t *k, uint32_t *n)
{
	unsigned long a, b;
	char *end;

	errno = 0;
	a = strtoul(v, &end, 10);
	if (end == v || *end != '/' || errno)
		return -EINVAL;
	const char *q = end + 1;
	b = strtoul(q, &end, 10);
	if (end == q || *end || errno || b == 0 || b > 1000000 || a == 0 || a > b)
		return -EINVAL;
	*k = (uint32_t)a;
	*n = (uint32_t)b;
	return 0;
}

static double num(const struct hlog_log *g, const char *key, double dflt)
{
	const char *v = hlog_log_param(g, key);
	char *end;

	if (!v)
		return dflt;
	double d = strtod(v, &end);
	return end != v && !*end && isfinite(d) && d >= 0 && d < 1e15 ? d : dflt;
}

/* One log's rate schedule, as it recorded it: 0 and *segs (malloc'd; *n
 * of them), -EINVAL when a segment does not read (or leaves a gap), -ENOMEM. */
static int log_rates(const struct hlog_log *g, struct rate_segment **segs, size_t *n)
{
	*segs = NULL;
	*n = 0;
	for (size_t i = 0; i < g->np; i++) {
		if (strcmp(g->p[i].key, "rate_segment") != 0)
			continue;
		double t0, t1, r0, r1;
		if (sscanf(g->p[i].value, "%lf %lf %lf %lf", &t0, &t1, &r0, &r1) != 4 ||
		    !(t0 >= 0 && t1 >= t0 && t1 <= 1e9 && r0 >= 0 && r0 < 1e15 && r1 >= 0 &&
		      r1 < 1e15))
			return -EINVAL;
		struct rate_segment *more = realloc(*segs, (*n + 1) * sizeof(**segs));
		if (!more)
			return -ENOMEM;
		*segs = more;
		/* As report_cmd.c reads the first log's (s_to_ns). */
		more[*n] = (struct rate_segment){ t0 > 0 ? (uint64_t)(t0 * 1e9 + 0.5) : 0,
						  t1 > 0 ? (uint64_t)(t1 * 1e9 + 0.5) : 0, r0, r1 };
		if (more[*n].t0 != (*n ? more[*n - 1].t1 : 0))
			return -EINVAL;
		(*n)++;
	}
	return 0;
}

/* A log with a schedule: an open-model run. */
static bool paced(const struct hlog_log *g)
{
	return hlog_log_param(g, "rate_segment") != NULL;
}

/* Open- and closed-model runs merged: intended counts only the open ones'
 * requests, so achieved must too (or a closed run's thousands a second read
 * as the open one's schedule exceeded 90 times). */
static void mixed_models(const struct hlog *l, struct run_result *r, FILE *note)
{
	const char *open = NULL, *closed = NULL;

	r->sent_paced = 0;
	for (size_t i = 0; i < l->nlog_info; i++) {
		if (paced(&l->logs[i])) {
			open = open ? open : l->logs[i].name;
			r->sent_paced += l->logs[i].sent;
		} else {
			closed = closed ? closed : l->logs[i].name;
		}
	}
	r->models_mixed = open && closed;
	if (r->models_mixed && note)
		fprintf(note, "surge report: note: the logs mix open-model runs (%s, ...) and "
			      "closed-model runs (%s, ...): intended and achieved count only the "
			      "open-model runs' requests\n", open, closed);
}

int64_t report_shards_sent_paced(const struct run_result *r)
{
	return r->models_mixed ? r->sent_paced : r->total.counter[ST_SENT];
}

/* Adds what the chosen logs asked into o and r. Their schedules add as
 * functions of time from each log's start, whatever their lengths and
 * shapes (pacer_segments_add), as their seconds are overlaid. */
static int add_up(const struct hlog *l, const bool *take, struct options *o, struct run_result *r,
		  FILE *note)
{
	double conns = 0, workers = 0;
	struct rate_segment *sum = NULL, *one = NULL, *both;
	size_t nsum = 0, n, nboth;
	int rc = 0;

	for (size_t i = 0; i < l->nlog_info && rc == 0; i++) {
		if (!take[i])
			continue;
		conns += num(&l->logs[i], "connections", 0);
		workers += num(&l->logs[i], "workers", 0);
		/* A closed-model run has no schedule to add (mixed_models). */
		if (!paced(&l->logs[i]))
			continue;
		if ((rc = log_rates(&l->logs[i], &one, &n)) == -EINVAL) {
			if (note)
				fprintf(note, "surge report: note: %s: its rate schedule does not "
					      "read: the rate shown leaves it out\n", l->logs[i].name);
			rc = 0;
		} else if (rc == 0 &&
			   (rc = pacer_segments_add(sum, nsum, one, n, &both, &nboth)) == 0) {
			free(sum);
			sum = both;
			nsum = nboth;
		}
		free(one);
		one = NULL;
	}
	if (rc == 0 && nsum) {
		free(o->rate_segs);
		o->rate_segs = sum;
		o->nrate_segs = nsum;
		sum = NULL;
	}
	free(sum);
	o->max_connections = conns < UINT32_MAX ? (uint32_t)conns : UINT32_MAX;
	r->workers = workers < UINT32_MAX ? (uint32_t)workers : UINT32_MAX;
	return rc;
}

/* How far apart the StartTimes of one run's shards started without
 * --start-at may be: a scheduler starts its tasks within a second or two,
 * and each shard then loads, resolves, plans and opens its connections
 * before its first second (README gives --start-at +15s for that, the slowest
 * node's set-up). Further apart, the merge would overlay as one run's seconds
 * that were never run together: a shard run again later, or another run. */
#define SHARD_START_SPREAD_S 15.0

/* What makes logs shards of one run: the same scenario (its file's name:
 * each machine may keep it in a folder of its own), scenario total,
 * duration, and start. */
struct run_id {
	const char *scenario, *conns;
	double start_at, start, duration; /* start_at 0: none; duration < 0: not said */
};

static struct run_id run_id(const struct hlog_log *g)
{
	const char *sc = hlog_log_param(g, "scenario");
	const char *slash = sc ? strrchr(sc, '/') : NULL;

	return (struct run_id){
		.scenario = slash ? slash + 1 : sc,
		.conns = hlog_log_param(g, "run_connections"),
		.start_at = num(g, "start_at", 0),
		.start = g->start,
		.duration = num(g, "duration_s", -1),
	};
}

/* Whether a and b (logs named an and bn) can be shards of one run; if not,
 * why in why. Without --start-at, starts within SHARD_START_SPREAD_S and
 * within the shorter duration (or one ran after the other). */
static bool same_run(const struct run_id *a, const struct run_id *b, const char *an,
		     const char *bn, char *why, size_t len)
{
	double apart = fabs(a->start - b->start);

	if (a->scenario && b->scenario && strcmp(a->scenario, b->scenario) != 0)
		snprintf(why, len, "another scenario: %s, %s", a->scenario, b->scenario);
	else if (a->conns && b->conns && strcmp(a->conns, b->conns) != 0)
		snprintf(why, len, "another connection total: %s, %s", a->conns, b->conns);
	else if (a->duration >= 0 && b->duration >= 0 &&
		 fabs(a->duration - b->duration) > 1e-6 * fmax(a->duration, b->duration))
		snprintf(why, len, "another duration: %s ran %g s, %s %g s", an, a->duration, bn,
			 b->duration);
	else if (a->start_at > 0 && b->start_at > 0 && fabs(a->start_at - b->start_at) >= 5e-4)
		snprintf(why, len, "another start: --start-at %.3f and %.3f", a->start_at,
			 b->start_at);
	else if ((a->start_at > 0) != (b->start_at > 0))
		snprintf(why, len, "another start: %s began at --start-at %.3f, %s without "
			 "--start-at, %.1f s %s", a->start_at > 0 ? an : bn,
			 a->start_at > 0 ? a->start_at : b->start_at, a->start_at > 0 ? bn : an,
			 apart, (a->start_at > 0) == (b->start > a->start) ? "later" : "earlier");
	else if (!(a->start_at > 0) && a->start > 0 && b->start > 0 && apart > SHARD_START_SPREAD_S)
		snprintf(why, len, "another start: without --start-at they began %.1f s apart, more "
			 "than the %.0f s shards started together may be", apart, SHARD_START_SPREAD_S);
	else if (!(a->start_at > 0) && a->start > 0 && b->start > 0 && a->duration > 0 &&
		 apart >= a->duration)
		snprintf(why, len, "another start: without --start-at they began %.1f s apart, one "
			 "after the other's %g s had ended", apart, a->duration);
	else
		return true;
	return false;
}

/* Logs of one sharded run, or the first log that is of another, said in
 * err: the run is the one most logs agree with (2 logs that disagree: both
 * named alike). -EINVAL then, or -ENOMEM. Every pair is compared: being of
 * one run is not transitive (starts within the spread of the first log's,
 * one before and one after it, may be apart by more), so a check against
 * the first log alone let such logs merge. */
static int one_run(const struct hlog *l, const uint32_t *k, uint32_t count, char *err,
		   size_t errlen)
{
	size_t n = l->nlog_info, x = 0, y = 0, agree[2] = {0, 0};
	struct run_id *id = calloc(n ? n : 1, sizeof(*id));
	char why[320], scratch[320];

	if (!id)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		id[i] = run_id(&l->logs[i]);
	for (size_t i = 0; i < n && !y; i++)
		for (size_t j = i + 1; j < n && !y; j++)
			if (!same_run(&id[i], &id[j], l->logs[i].name, l->logs[j].name, why,
				      sizeof(why))) {
				x = i;
				y = j;
			}
	if (!y) {
		free(id);
		return 0;
	}
	/* Which of the two the other logs side with: the run is theirs. */
	for (size_t j = 0; j < n; j++)
		for (int s = 0; s < 2; s++)
			agree[s] += same_run(&id[s ? y : x], &id[j], "", "", scratch,
					     sizeof(scratch));
	free(id);
	if (agree[0] == agree[1]) {
		snprintf(err, errlen, "%s (shard %u/%u) and %s (shard %u/%u) are shards of different "
			 "runs (%s): give the logs of one run", l->logs[x].name, k[x], count,
			 l->logs[y].name, k[y], count, why);
		return -EINVAL;
	}
	size_t other = agree[0] > agree[1] ? y : x, run = other == x ? y : x;
	size_t with = (agree[0] > agree[1] ? agree[0] : agree[1]) - 1; /* besides run */
	char also[48] = "";
	if (with)
		snprintf(also, sizeof(also), " and %zu other log%s", with, with == 1 ? "" : "s");
	snprintf(err, errlen, "%s (shard %u/%u) is from another run than %s (shard %u/%u)%s "
		 "(%s): these are shards of different runs; give the logs of one run, without %s",
		 l->logs[other].name, k[other], count, l->logs[run].name, k[run], count, also, why,
		 l->logs[other].name);
	return -EINVAL;
}

/* Logs without --shard ran together when each started before the earliest
 * one's planned end: a merge of machines started by hand, not of repeats. */
static bool ran_together(const struct hlog *l)
{
	double first = INFINITY, dur = INFINITY;

	for (size_t i = 0; i < l->nlog_info; i++) {
		double d = num(&l->logs[i], "duration_s", 0);
		if (l->logs[i].start <= 0 || d <= 0)
			return false;
		first = fmin(first, l->logs[i].start);
		dur = fmin(dur, d);
	}
	for (size_t i = 0; i < l->nlog_info; i++)
		if (l->logs[i].start >= first + dur)
			return false;
	return true;
}

int report_shards_merge(const struct hlog *l, struct options *o, struct run_result *r,
			struct report_shards *out, FILE *note, char *err, size_t errlen)
{
	size_t n = l->nlog_info, with = 0;
	uint32_t *k = calloc(n ? n : 1, sizeof(*k)), count = 0;
	bool *take = calloc(n ? n : 1, sizeof(*take));
	uint32_t *seen = NULL;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (!k || !take) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const char *v = hlog_log_param(&l->logs[i], "shard");
		uint32_t nn;
		if (!v)
			continue;
		if (read_shard(v, &k[i], &nn) < 0) {
			snprintf(err, errlen, "%s: #surge-param shard: expected K/N, got '%s'",
				 l->logs[i].name, v);
			rc = -EINVAL;
			goto out;
		}
		if (with && nn != count) {
			snprintf(err, errlen,
				 "%s is shard %s, but an earlier log is of %u shards: these "
				 "are not the shards of one run (give the logs of one run)",
				 l->logs[i].name, v, count);
			rc = -EINVAL;
			goto out;
		}
		count = nn;
		with++;
	}
	if (with && with < n) {
		for (size_t i = 0; i < n; i++)
			if (!k[i]) {
				snprintf(err, errlen,
					 "%s was not run with --shard, but %zu of the other "
					 "logs were: give the logs of one sharded run",
					 l->logs[i].name, with);
				break;
			}
		rc = -EINVAL;
		goto out;
	}
	mixed_models(l, r, note);
	if (!with) {
		/* Not shards: machines started by hand, or runs one after another,
		 * whose seconds the merge overlays from each start (their open
		 * connections add): what they asked adds up the same way. */
		if (n > 1) {
			out->concurrent = ran_together(l);
			out->separate = !out->concurrent;
			for (size_t i = 0; i < n; i++)
				take[i] = true;
			rc = add_up(l, take, o, r, note);
		}
		goto out;
	}
	/* The scenario, its total, duration and start must be one run's. */
	if ((rc = one_run(l, k, count, err, errlen)) < 0)
		goto out;
	seen = calloc(count, sizeof(*seen));
	if (!seen) {
		rc = -ENOMEM;
		goto out;
	}
	out->count = count;
	r->shards_of = count;
	for (size_t i = 0; i < n; i++) {
		if (seen[k[i] - 1]++ == 0)
			take[i] = true; /* a shard read twice asked once */
	}
	for (uint32_t s = 0; s < count; s++) {
		out->missing += !seen[s];
		out->doubled += seen[s] > 1;
	}
	r->shards_missing = calloc(out->missing + 1, sizeof(uint32_t));
	r->shards_doubled = calloc(out->doubled + 1, sizeof(uint32_t));
	if (!r->shards_missing || !r->shards_doubled) {
		rc = -ENOMEM;
		goto out;
	}
	for (uint32_t s = 0; s < count; s++) {
		if (!seen[s]) {
			r->shards_missing[r->nshards_missing++] = s + 1;
			continue;
		}
		out->present++;
		if (seen[s] < 2)
			continue;
		r->shards_doubled[r->nshards_doubled++] = s + 1;
		if (!note)
			continue;
		fprintf(note, "surge report: shard %u/%u is in %u logs (", s + 1, count, seen[s]);
		const char *sep = "";
		for (size_t i = 0; i < n; i++)
			if (k[i] == s + 1) {
				fprintf(note, "%s%s", sep, l->logs[i].name);
				sep = ", ";
			}
		fprintf(note, "): its requests are counted %u times\n", seen[s]);
	}
	if (out->missing && note) {
		fprintf(note, "surge report: %u of %u shards missing:", out->missing, count);
		uint32_t said = 0;
		for (uint32_t s = 0; s < count && said < 20; s++)
			if (!seen[s]) {
				fprintf(note, " %u/%u", s + 1, count);
				said++;
			}
		fprintf(note,
			"%s (their share of the connections and the schedule is not in this "
			"report)\n",
			out->missing > said ? " ..." : "");
	}
	rc = add_up(l, take, o, r, note);
out:
	if (rc == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	free(k);
	free(take);
	free(seen);
	return rc;
}
