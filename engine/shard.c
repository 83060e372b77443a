/*
 * shard: --shard K/N and --start-at (shard.h).
 */
#include "shard.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "units.h"

/* A whole number in [lo, hi]; the whole string. */
static int whole(const char *s, unsigned long lo, unsigned long hi, uint32_t *out)
{
	char *end;

	if (!s || *s < '0' || *s > '9') /* strtoul would take a sign or blanks */
		return -EINVAL;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

/* The shard count beside an index that brings none (Kubernetes, GNU parallel). */
static int count_from_env(const char *index_var, uint32_t *count, char *err, size_t errlen)
{
	const char *c = getenv("SURGE_SHARD_COUNT");

	if (!c) {
		snprintf(err, errlen,
			 "--shard auto: %s is set but says nothing of how many shards "
			 "there are: set SURGE_SHARD_COUNT to their number (the Job's completions, "
			 "the jobs given to parallel), or give --shard K/N",
			 index_var);
		return -EINVAL;
	}
	if (whole(c, 1, SHARD_MAX, count) < 0) {
		snprintf(err, errlen,
			 "--shard auto: SURGE_SHARD_COUNT='%s': expected a whole number "
			 "from 1 to %d",
			 c, SHARD_MAX);
		return -EINVAL;
	}
	return 0;
}

static int shard_auto(uint32_t *index, uint32_t *count, char *from, size_t fromlen, char *err,
		      size_t errlen)
{
	const char *id = getenv("SLURM_ARRAY_TASK_ID"), *n = getenv("SLURM_ARRAY_TASK_COUNT");
	uint32_t i, min = 0, step = 1;

	if (id && n) {
		const char *m = getenv("SLURM_ARRAY_TASK_MIN"),
			   *st = getenv("SLURM_ARRAY_TASK_STEP");
		if (whole(id, 0, UINT32_MAX, &i) < 0 || whole(n, 1, SHARD_MAX, count) < 0 ||
		    (m && whole(m, 0, UINT32_MAX, &min) < 0) ||
		    (st && whole(st, 1, UINT32_MAX, &step) < 0)) {
			snprintf(
			    err, errlen,
			    "--shard auto: SLURM_ARRAY_TASK_ID='%s' of "
			    "SLURM_ARRAY_TASK_COUNT='%s' are not whole numbers (count 1 to %d)",
			    id, n, SHARD_MAX);
			return -EINVAL;
		}
		if (step != 1 || i < min || i - min >= *count) {
			snprintf(
			    err, errlen,
			    "--shard auto: array task %u is not one of %u consecutive "
			    "ids from %u: submit a contiguous array (sbatch --array=0-%u, no step "
			    "or list), or give --shard K/N",
			    i, *count, min, *count - 1);
			return -EINVAL;
		}
		*index = i - min;
		snprintf(from, fromlen, "SLURM_ARRAY_TASK_ID=%s of SLURM_ARRAY_TASK_COUNT=%s", id,
			 n);
		return 0;
	}
	id = getenv("SLURM_PROCID");
	n = getenv("SLURM_NTASKS");
	if (id && n) {
		if (whole(id, 0, SHARD_MAX - 1, &i) < 0 || whole(n, 1, SHARD_MAX, count) < 0 ||
		    i >= *count) {
			snprintf(err, errlen,
				 "--shard auto: SLURM_PROCID='%s' of SLURM_NTASKS='%s' is "
				 "not a task of that many",
				 id, n);
			return -EINVAL;
		}
		*index = i;
		snprintf(from, fromlen, "SLURM_PROCID=%s of SLURM_NTASKS=%s", id, n);
		return 0;
	}
	const char *var = "JOB_COMPLETION_INDEX";
	bool one_based = false;
	id = getenv(var);
	if (!id) {
		var = "PARALLEL_SEQ";
		one_based = true;
		id = getenv(var);
	}
	if (!id) {
		snprintf(
		    err, errlen,
		    "--shard auto: no scheduler said which shard this is (none of "
		    "SLURM_ARRAY_TASK_ID + SLURM_ARRAY_TASK_COUNT, SLURM_PROCID + SLURM_NTASKS, "
		    "JOB_COMPLETION_INDEX or PARALLEL_SEQ with SURGE_SHARD_COUNT is set): give "
		    "--shard K/N");
		return -EINVAL;
	}
	if (count_from_env(var, count, err, errlen) < 0)
		return -EINVAL;
	if (whole(id, one_based, UINT32_MAX, &i) < 0 || i - one_based >= *count) {
		snprintf(err, errlen,
			 "--shard auto: %s='%s' is not a shard of SURGE_SHARD_COUNT=%u "
			 "(%s)",
			 var, id, *count, one_based ? "1 to the count" : "0 to the count - 1");
		return -EINVAL;
	}
	*index = i - one_based;
	snprintf(from, fromlen, "%s=%s of SURGE_SHARD_COUNT=%u", var, id, *count);
	return 0;
}

int shard_parse(const char *arg, uint32_t *index, uint32_t *count, char *from, size_t fromlen,
		char *err, size_t errlen)
{
	char k[32];
	const char *slash = arg ? strchr(arg, '/') : NULL;
	uint32_t kk;

	if (arg && strcmp(arg, "auto") == 0)
		return shard_auto(index, count, from, fromlen, err, errlen);
	if (!slash || (size_t)(slash - arg) >= sizeof(k))
		goto bad;
	memcpy(k, arg, (size_t)(slash - arg));
	k[slash - arg] = '\0';
	if (whole(slash + 1, 1, SHARD_MAX, count) < 0)
		goto bad;
	/* Only digits out of range are "not one of": "1 ", "" or "x" is no K. */
	if (!k[0] || strspn(k, "0123456789") != strlen(k))
		goto bad;
	if (whole(k, 1, UINT32_MAX, &kk) < 0 || kk > *count) {
		snprintf(err, errlen,
			 "--shard %s: shard %s is not one of 1 to %u (K counts from 1)", arg, k,
			 *count);
		return -EINVAL;
	}
	*index = kk - 1;
	snprintf(from, fromlen, "--shard %s", arg);
	return 0;
bad:
	snprintf(err, errlen,
		 "--shard '%s': expected K/N, shard K (from 1) of N (at most %d), e.g. "
		 "--shard 2/4, or auto (from Slurm, a Kubernetes Indexed Job or GNU parallel)",
		 arg ? arg : "", SHARD_MAX);
	return -EINVAL;
}

/* FILE holds the agreed start: made aside under a unique name, then link()ed
 * into place, which fails if another shard was first. */
static int start_file(const char *path, double want, double now, double *epoch, char *err,
		      size_t errlen)
{
	char tmp[4096];
	int n = snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());

	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		snprintf(err, errlen, "--start-at: path too long");
		return -EINVAL;
	}
	FILE *f = fopen(tmp, "wx");
	if (!f) {
		snprintf(err, errlen,
			 "--start-at: cannot create %s: %s (the start file's folder must be "
			 "writable by every shard)",
			 tmp, strerror(errno));
		return -EINVAL;
	}
	fprintf(f, "%.3f\n", want);
	int bad = ferror(f) | (fflush(f) != 0) | (fsync(fileno(f)) != 0);
	fclose(f);
	int linked = bad ? -1 : link(tmp, path);
	int link_errno = errno;
	unlink(tmp);
	if (bad) {
		snprintf(err, errlen, "--start-at: cannot write %s", tmp);
		return -EINVAL;
	}
	if (linked == 0) {
		*epoch = want;
		return 0;
	}
	if (link_errno != EEXIST) {
		snprintf(err, errlen, "--start-at: cannot create %s: %s", path,
			 strerror(link_errno));
		return -EINVAL;
	}
	f = fopen(path, "r");
	char line[64] = "", *end;
	if (!f || !fgets(line, sizeof(line), f)) {
		snprintf(err, errlen, "--start-at: cannot read %s: %s", path,
			 f ? "empty" : strerror(errno));
		if (f)
			fclose(f);
		return -EINVAL;
	}
	fclose(f);
	double t = strtod(line, &end);
	if (end == line || (*end && *end != '\n') || !(t > 0 && t < 1e10)) {
		snprintf(err, errlen,
			 "--start-at: %s holds '%.20s', not seconds since the epoch: "
			 "delete it",
			 path, line);
		return -EINVAL;
	}
	if (t < now) {
		snprintf(err, errlen,
			 "--start-at: %s says the run started %.1f s ago (a leftover of an "
			 "earlier run, or this shard came too late): delete it for a new run, or "
			 "give the shards a longer +TIME",
			 path, now - t);
		return -EINVAL;
	}
	*epoch = t;
	return 0;
}

int shard_start_at(const char *arg, double now, double *epoch, char *err, size_t errlen)
{
	if (!arg || !*arg)
		goto bad;
	if (arg[0] == '+') {
		char d[64];
		const char *at = strchr(arg, '@');
		size_t dl = at ? (size_t)(at - arg - 1) : strlen(arg + 1);
		uint64_t ns;
		if (dl == 0 || dl >= sizeof(d))
			goto bad;
		memcpy(d, arg + 1, dl);
		d[dl] = '\0';
		if (units_duration(d, &ns) < 0 || ns > 86400ull * 1000000000ull)
			goto bad;
		double want = now + (double)ns / 1e9;
		if (!at) {
			*epoch = want;
			return 0;
		}
		if (!at[1])
			goto bad;
		return start_file(at + 1, want, now, epoch, err, errlen);
	}
	char *end;
	errno = 0;
	double t = strtod(arg, &end);
	if (errno || *end || end == arg || !(t > 0 && t < 1e10))
		goto bad;
	if (t < now) {
		snprintf(err, errlen, "--start-at %s: that was %.1f s ago: give a time to come",
			 arg, now - t);
		return -EINVAL;
	}
	*epoch = t;
	return 0;
bad:
	snprintf(err, errlen,
		 "--start-at '%s': expected epoch seconds (e.g. $(( $(date +%%s) + 30 "
		 "))), +TIME from now (+10s), or +TIME@FILE: the first shard writes now + TIME to "
		 "FILE on shared storage and the others start then too",
		 arg ? arg : "");
	return -EINVAL;
}

uint32_t shard_share(uint32_t total, uint32_t k, uint32_t n)
{
	return n ? (uint32_t)(((uint64_t)total + (n - 1 - k)) / n) : total; /* as pool_share */
}

uint32_t shard_slot(const struct options *o, uint32_t k)
{
	return o->shards > 1 ? o->shard + o->shards * k : k;
}

uint32_t shard_slots(const struct options *o, uint32_t count)
{
	return o->shards > 1 ? o->shards * count : count;
}

bool shard_shares_sources(const struct options *o)
{
	if (o->shards <= 1)
		return false;
	if (!o->bind)
		return true;
	for (int f = 0; f < ADDRSET__FAMILIES; f++)
		if (o->bind->size[f] && o->bind->size[f] < o->shards)
			return true;
	return false;
}

int shard_sources(const struct options *o, struct addrset *out)
{
	bool whole = o->shards <= 1 || o->pick == ADDRSET_PERMUTATION;

	return addrset_slice(o->bind, whole ? 0 : o->shard, whole ? 1 : o->shards, out);
}

int shard_view(const struct options *o, struct options *view)
{
	*view = *o;
	view->rate_segs = NULL;
	if (o->shards <= 1) {
		if (o->nrate_segs) {
			view->rate_segs = malloc(o->nrate_segs * sizeof(*o->rate_segs));
			if (!view->rate_segs)
				return -ENOMEM;
			memcpy(view->rate_segs, o->rate_segs,
			       o->nrate_segs * sizeof(*o->rate_segs));
		}
		return 0;
	}
	double n = o->shards;
	view->max_connections = shard_share(o->max_connections, o->shard, o->shards);
	view->connect_rate = o->connect_rate / n;
	view->connection_rate = o->connection_rate / n;
	if (o->nrate_segs) {
		view->rate_segs = malloc(o->nrate_segs * sizeof(*o->rate_segs));
		if (!view->rate_segs)
			return -ENOMEM;
		for (size_t i = 0; i < o->nrate_segs; i++) {
			view->rate_segs[i] = o->rate_segs[i];
			view->rate_segs[i].r0 /= n;
			view->rate_segs[i].r1 /= n;
		}
	}
	return 0;
}

int shard_apply(struct options *o, char *err, size_t errlen)
{
	struct addrset_ports all = o->ports;

	if (o->shards <= 1 || !o->ports.lo || o->pick == ADDRSET_PERMUTATION ||
	    !shard_shares_sources(o))
		return 0;
	if (addrset_ports_slice(&all, o->shard, o->shards, &o->ports) < 0) {
		snprintf(err, errlen,
			 "ports %u-%u: %u ports cannot be split into %u disjoint slices "
			 "for the shards that share a source address: give a wider range, or "
			 "each shard addresses of its own (bind)",
			 all.lo, all.hi, addrset_ports_count(&all), o->shards);
		return -E2BIG;
	}
	return 0;
}

void shard_view_free(struct options *view)
{
	if (!view)
		return;
	free(view->rate_segs);
	view->rate_segs = NULL;
}

int shard_take_flags(const char **ov, size_t *nov, struct shard_flags *out, char *err,
		     size_t errlen)
{
	size_t keep = 0;
	struct timespec ts;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < *nov; i++) {
		const char *k = ov[2 * i], *v = ov[2 * i + 1];
		if (strcmp(k, "shard") == 0) {
			if (shard_parse(v, &out->index, &out->count, out->from, sizeof(out->from),
					err, errlen) < 0)
				return -EINVAL;
		} else if (strcmp(k, "start_at") == 0) {
			out->start_arg = v;
		} else if (strcmp(k, "shard_thresholds") == 0) {
			out->judge = true;
		} else {
			ov[2 * keep] = k;
			ov[2 * keep + 1] = v;
			keep++;
		}
	}
	*nov = keep;
	/* Last: only a command line that is otherwise right creates the start file. */
	if (out->start_arg) {
		clock_gettime(CLOCK_REALTIME, &ts);
		if (shard_start_at(out->start_arg, (double)ts.tv_sec + ts.tv_nsec / 1e9,
				   &out->start_at, err, errlen) < 0)
			return -EINVAL;
	}
	return 0;
}

void shard_flags_apply(const struct shard_flags *f, struct options *o)
{
	o->shard = f->index;
	o->shards = f->count;
	o->shard_judge = f->judge;
	o->start_at = f->start_at;
}

uint32_t shard_connections(const struct options *o)
{
	return o->shards > 1 ? shard_share(o->max_connections, o->shard, o->shards)
			     : o->max_connections;
}

double shard_rate_scale(const struct options *o) { return o->shards > 1 ? 1.0 / o->shards : 1.0; }
