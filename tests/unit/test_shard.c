/* shard: --shard K/N and auto from each scheduler's variables (and every
 * refusal), --start-at (epoch, +TIME, the start file made once and read by
 * the others, stale and bad files), shares that add up exactly, and the
 * address and port slices a shard's picker draws from. */
#include "tap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addrset.h"
#include "pacer.h"
#include "shard.h"

static char err[1024], from[160];

static const char *const VARS[] = {
    "SLURM_ARRAY_TASK_ID",   "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN",
    "SLURM_ARRAY_TASK_STEP", "SLURM_PROCID",	       "SLURM_NTASKS",
    "JOB_COMPLETION_INDEX",  "PARALLEL_SEQ",	       "SURGE_SHARD_COUNT",
};

static void clear_env(void)
{
	for (size_t i = 0; i < sizeof(VARS) / sizeof(VARS[0]); i++)
		unsetenv(VARS[i]);
}

/* "K/N" -> 0-based k and n, or -1 -1 on refusal (err kept). */
static int parse(const char *arg, uint32_t *k, uint32_t *n)
{
	err[0] = '\0';
	*k = *n = (uint32_t)-1;
	return shard_parse(arg, k, n, from, sizeof(from), err, sizeof(err));
}

static void test_parse(void)
{
	uint32_t k, n;

	ok(parse("2/4", &k, &n) == 0 && k == 1 && n == 4, "2/4 is index 1 of 4");
	ok(parse("1/1", &k, &n) == 0 && k == 0 && n == 1, "1/1");
	ok(parse("100000/100000", &k, &n) == 0 && k == 99999, "SHARD_MAX/SHARD_MAX");
	static const char *const bad[] = {"0/4",  "5/4",  "2",	  "/4",		  "2/",
					  "2/0",  "-1/4", "2/4x", "x/4",	  "2/100001",
					  "+2/4", "",	  "2/ 4", "99999999999/4"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = parse(bad[i], &k, &n);
		if (!ok(rc == -EINVAL && strstr(err, "--shard"), "refused: '%s'", bad[i]))
			diag("rc %d err %s", rc, err);
	}
	ok(parse("5/4", &k, &n) < 0 && strstr(err, "not one of 1 to 4"), "5/4 says the range");
	ok(parse("0/4", &k, &n) < 0 && strstr(err, "shard 0 is not one of 1 to 4"), "0/4 says the range");
	/* A K that is no number is malformed input, not a shard out of range. */
	static const char *const malformed[] = {"1 /4", "/4", "x/4", "-1/4", "+2/4"};
	for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
		int rc = parse(malformed[i], &k, &n);
		if (!ok(rc == -EINVAL && strstr(err, "expected K/N") && !strstr(err, "not one of"),
			"'%s' says expected K/N", malformed[i]))
			diag("rc %d err %s", rc, err);
	}
}

static void test_auto(void)
{
	uint32_t k, n;

	clear_env();
	ok(parse("auto", &k, &n) == -EINVAL && strstr(err, "give --shard K/N"),
	   "auto: nothing set");
	setenv("SLURM_ARRAY_TASK_ID", "7", 1);
	setenv("SLURM_ARRAY_TASK_COUNT", "4", 1);
	setenv("SLURM_ARRAY_TASK_MIN", "5", 1);
	ok(parse("auto", &k, &n) == 0 && k == 2 && n == 4 && strstr(from, "SLURM_ARRAY_TASK_ID=7"),
	   "Slurm array 5-8: task 7 is shard 3 of 4");
	setenv("SLURM_ARRAY_TASK_STEP", "2", 1);
	ok(parse("auto", &k, &n) == -EINVAL && strstr(err, "contiguous"),
	   "a stepped array refused");
	unsetenv("SLURM_ARRAY_TASK_STEP");
	setenv("SLURM_ARRAY_TASK_ID", "9", 1);
	ok(parse("auto", &k, &n) == -EINVAL && strstr(err, "contiguous"), "an id past the count");
	setenv("SLURM_ARRAY_TASK_ID", "x", 1);
	ok(parse("auto", &k, &n) == -EINVAL && strstr(err, "whole numbers"), "a bad id");
	/* The array comes before the tasks: SLURM_PROCID is 0 in every array task. */
	setenv("SLURM_ARRAY_TASK_ID", "6", 1);
	setenv("SLURM_PROCID", "0", 1);
	setenv("SLURM_NTASKS", "1", 1);
	ok(parse("auto", &k, &n) == 0 && k == 1 && n == 4,
	   "the array task id wins over SLURM_PROCID");
	clear_env();
	setenv("SLURM_PROCID", "3", 1);
	setenv("SLURM_NTASKS", "4", 1);
	ok(parse("auto", &k, &n) == 0 && k == 3 && n == 4, "srun: SLURM_PROCID of SLURM_NTASKS");
	setenv("SLURM_PROCID", "4", 1);
	ok(parse("auto", &k, &n) == -EINVAL, "SLURM_PROCID past SLURM_NTASKS refused");
	clear_env();
	setenv("JOB_COMPLETION_INDEX", "0", 1);
	ok(parse("auto", &k, &n) == -EINVAL && strstr(err, "SURGE_SHARD_COUNT"),
	   "Kubernetes without a count: says to set SURGE_SHARD_COUNT");
	setenv("SURGE_SHARD_COUNT", "3", 1);
	ok(parse("auto", &k, &n) == 0 && k == 0 && n == 3, "JOB_COMPLETION_INDEX 0 is shard 1");
	setenv("JOB_COMPLETION_INDEX", "3", 1);
	ok(parse("auto", &k, &n) == -EINVAL, "JOB_COMPLETION_INDEX = count refused");
	setenv("SURGE_SHARD_COUNT", "0", 1);
	ok(parse("auto", &k, &n) == -EINVAL && strstr(err, "SURGE_SHARD_COUNT='0'"),
	   "count 0 refused");
	clear_env();
	setenv("PARALLEL_SEQ", "3", 1);
	setenv("SURGE_SHARD_COUNT", "3", 1);
	ok(parse("auto", &k, &n) == 0 && k == 2 && n == 3, "PARALLEL_SEQ counts from 1");
	setenv("PARALLEL_SEQ", "0", 1);
	ok(parse("auto", &k, &n) == -EINVAL, "PARALLEL_SEQ 0 refused");
	clear_env();
}

static void test_start_at(void)
{
	double t = 0, now = 1.7e9;
	char dir[] = "/tmp/surge-shard-XXXXXX", path[256];

	ok(shard_start_at("1700000100", now, &t, err, sizeof(err)) == 0 && t == 1700000100.0,
	   "epoch seconds");
	ok(shard_start_at("1700000000.5", now, &t, err, sizeof(err)) == 0 && t == 1700000000.5,
	   "fractional epoch");
	ok(shard_start_at("1699999999", now, &t, err, sizeof(err)) == -EINVAL && strstr(err, "ago"),
	   "a past epoch refused");
	ok(shard_start_at("+10s", now, &t, err, sizeof(err)) == 0 && t == now + 10,
	   "+10s from now");
	static const char *const bad[] = {"",	"+",   "+10q", "soon", "+10s@",
					  "-5", "+2d", "1e20", "nan"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(shard_start_at(bad[i], now, &t, err, sizeof(err)) == -EINVAL &&
		       strstr(err, "--start-at"),
		   "refused: '%s'", bad[i]);
	if (!mkdtemp(dir))
		return;
	snprintf(path, sizeof(path), "+10s@%s/start", dir);
	ok(shard_start_at(path, now, &t, err, sizeof(err)) == 0 && t == now + 10,
	   "the first shard writes now + 10 s");
	ok(shard_start_at(path, now + 3, &t, err, sizeof(err)) == 0 && t == now + 10,
	   "a later shard reads the same instant, not its own + 10 s");
	ok(shard_start_at(path, now + 11, &t, err, sizeof(err)) == -EINVAL &&
	       strstr(err, "delete it"),
	   "after the instant: a leftover, refused with the fix");
	snprintf(path, sizeof(path), "%s/start", dir);
	FILE *f = fopen(path, "w");
	fputs("garbage\n", f);
	fclose(f);
	snprintf(path, sizeof(path), "+10s@%s/start", dir);
	ok(shard_start_at(path, now, &t, err, sizeof(err)) == -EINVAL && strstr(err, "not seconds"),
	   "a start file that does not read is refused");
	snprintf(path, sizeof(path), "+1s@%s/no/such/dir", dir);
	ok(shard_start_at(path, now, &t, err, sizeof(err)) == -EINVAL &&
	       strstr(err, "cannot create"),
	   "an unwritable start file's folder is named");
	snprintf(path, sizeof(path), "%s/start", dir);
	unlink(path);
	rmdir(dir);
}

static void test_shares(void)
{
	/* Shards x workers: each slot's share of "every n-th" adds up to the total. */
	for (uint32_t total = 0; total < 40; total++) {
		uint64_t sum = 0;
		for (uint32_t k = 0; k < 3; k++)
			sum += shard_share(total, k, 3);
		if (!ok(sum == total, "shares of %u over 3 shards add up", total))
			break;
	}
	is_int(shard_share(7, 0, 3), 3, "7 over 3: the first takes the remainder");
	is_int(shard_share(7, 2, 3), 2, "7 over 3: the last 2");

	struct options o = {0}, v;
	struct rate_segment seg = {0, 1000000000, 300, 900};
	o.max_connections = 7;
	o.rate_segs = &seg;
	o.nrate_segs = 1;
	o.connect_rate = 300;
	o.shard = 1;
	o.shards = 3;
	ok(shard_view(&o, &v) == 0 && v.max_connections == 2 && v.rate_segs[0].r0 == 100 &&
	       v.rate_segs[0].r1 == 300 && v.connect_rate == 100,
	   "a shard's view: 2 connections, 1/3 rate");
	ok(o.rate_segs[0].r0 == 300, "the view's rates are its own copy");
	shard_view_free(&v);
	shard_view_free(NULL);
	ok(shard_connections(&o) == 2 && shard_rate_scale(&o) == 1.0 / 3, "what its reports say");
}

static void test_sources(void)
{
	struct addrset s = {0}, part;
	struct addrset_picker p;
	struct addrset_ports ports = {40000, 40011};
	char e[256];

	addrset_parse(&s, "10.0.0.1-10.0.0.4, 10.0.1.1-10.0.1.2", e, sizeof(e));
	ok(addrset_slice(&s, 1, 3, &part) == 0 && addrset_total(&part) == 2,
	   "slice 2 of 3 of 6: 2");
	struct sockaddr_storage a;
	socklen_t al;
	char buf[64];
	addrset_at(&part, ADDRSET_V4, 0, &a, &al);
	addrset_ntop(&a, buf, sizeof(buf));
	ok(strcmp(buf, "10.0.0.3") == 0, "it starts at the 3rd address (%s)", buf);
	addrset_at(&part, ADDRSET_V4, 1, &a, &al);
	addrset_ntop(&a, buf, sizeof(buf));
	ok(strcmp(buf, "10.0.0.4") == 0, "and ends at the 4th, across no range (%s)", buf);
	addrset_free(&part);
	ok(addrset_slice(&s, 2, 3, &part) == 0 && part.nr[ADDRSET_V4] == 1, "slice 3: one range");
	addrset_free(&part);
	ok(addrset_slice(&s, 3, 7, &part) == 0 && addrset_total(&part) == 6,
	   "more shards than addresses: the whole set, shared");
	addrset_free(&part);

	/* The picker of shard 2 of 3 (worker 0 of 2) draws only indexes 2 and 3. */
	bool inside = true;
	ok(addrset_picker_init(&p, &s, ADDRSET_ROUND_ROBIN, 1, 1, 6, &ports, false) == 0 &&
	       addrset_picker_shard(&p, 1, 3, 0, 2, &ports) == 0,
	   "shard picker");
	for (int i = 0; i < 50; i++) {
		uint64_t idx;
		uint16_t port;
		addrset_pick(&p, ADDRSET_V4, (uint32_t)i % 3, &idx, &port);
		inside = inside && (idx == 2 || idx == 3);
	}
	ok(inside, "round-robin stays in the shard's slice");
	ok(p.ports.lo == 40000 && p.ports.hi == 40005,
	   "ports re-sliced by worker within the shard");
	addrset_picker_free(&p);
	ok(addrset_picker_init(&p, &s, ADDRSET_RANDOM, 1, 5, 6, &ports, false) == 0 &&
	       addrset_picker_shard(&p, 2, 3, 1, 2, &ports) == 0,
	   "random shard picker");
	inside = true;
	for (int i = 0; i < 200; i++) {
		uint64_t idx;
		uint16_t port;
		addrset_pick(&p, ADDRSET_V4, 0, &idx, &port);
		inside = inside && (idx == 4 || idx == 5);
	}
	ok(inside, "random stays in the shard's slice");
	addrset_picker_free(&p);

	/* Shared source: the ports are the shard's slice (shard_apply). */
	struct addrset one = {0};
	struct options o = {0};
	addrset_parse(&one, "10.0.0.1", e, sizeof(e));
	o.bind = &one;
	o.ports = ports;
	o.shards = 3;
	o.shard = 2;
	ok(shard_shares_sources(&o) && shard_apply(&o, err, sizeof(err)) == 0 &&
	       o.ports.lo == 40008 && o.ports.hi == 40011,
	   "one source, 3 shards: shard 3 takes 40008-40011");
	o.ports = (struct addrset_ports){40000, 40001};
	ok(shard_apply(&o, err, sizeof(err)) == -E2BIG && strstr(err, "disjoint slices"),
	   "fewer ports than shards refused");
	o.bind = &s;
	o.ports = ports;
	ok(!shard_shares_sources(&o) && shard_apply(&o, err, sizeof(err)) == 0 &&
	       o.ports.lo == 40000 && o.ports.hi == 40011,
	   "own addresses: the whole port range");
	o.bind = NULL;
	ok(shard_shares_sources(&o), "no bind: the machine's address, shared");
	addrset_free(&one);
	addrset_free(&s);
}

static void test_flags(void)
{
	const char *ov[] = {"connections",	"7",	"shard",    "2/3",
			    "shard_thresholds", "true", "duration", "1s"};
	size_t nov = 4;
	struct shard_flags f;
	struct options o = {0};

	ok(shard_take_flags(ov, &nov, &f, err, sizeof(err)) == 0 && nov == 2 &&
	       strcmp(ov[0], "connections") == 0 && strcmp(ov[2], "duration") == 0,
	   "the shard's flags leave the scenario's in order");
	shard_flags_apply(&f, &o);
	ok(o.shard == 1 && o.shards == 3 && o.shard_judge && o.start_at == 0, "applied");
	const char *bad[] = {"shard", "9/3"};
	nov = 1;
	ok(shard_take_flags(bad, &nov, &f, err, sizeof(err)) == -EINVAL, "a bad --shard refused");
	const char *late[] = {"start_at", "12"};
	nov = 1;
	ok(shard_take_flags(late, &nov, &f, err, sizeof(err)) == -EINVAL && strstr(err, "ago"),
	   "a past --start-at refused");
}

int main(void)
{
	test_parse();
	test_auto();
	test_start_at();
	test_shares();
	test_sources();
	test_flags();
	return tap_done();
}
