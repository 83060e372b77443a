/*
 * threshold: pass/fail conditions on a run ("latency.p99 < 5ms", "errors.rate
 * < 0.1%", "rate.achieved > 99%"), parsed before any traffic so a typo stops
 * the run, and evaluated on the merged totals at the end (exit code 3 when one
 * fails). The grammar is in README.md, "Thresholds".
 */
#ifndef SURGE_THRESHOLD_H
#define SURGE_THRESHOLD_H

#include <stdbool.h>
#include <stddef.h>

#include "options.h"
#include "stats.h"

enum threshold_kind {
	TH_HIST,          /* NAME.pNN / .min / .max / .mean / .stddev / .count */
	TH_ERRORS_RATE,   /* errors / (completed + sessions done + errors) */
	TH_ERRORS_COUNT,  /* errors of every class */
	TH_ERROR_CLASS,   /* errors.<class>, e.g. errors.reset */
	TH_RATE_ACHIEVED, /* open model: sent / intended */
	TH_THROUGHPUT,    /* completed (or sessions done) per second */
	TH_COUNTER,       /* counter.NAME: a counter from surge.count() */
};

enum threshold_stat { THS_PERCENTILE, THS_MIN, THS_MAX, THS_MEAN, THS_STDDEV, THS_COUNT };
enum threshold_op { TH_LT, TH_LE, TH_GT, TH_GE };
enum threshold_unit { TU_NS, TU_FRACTION, TU_COUNT, TU_PER_S };

struct threshold {
	char metric[96];    /* as written: "latency.p99" */
	char condition[64]; /* normalized: "< 5ms" */
	char where[256];    /* "scenarios/x.lua:12" or "--threshold" */
	enum threshold_kind kind;
	char name[STATS_NAME_MAX]; /* histogram or counter */
	int err_class;
	enum threshold_stat stat;
	double percentile;
	enum threshold_op op;
	double limit; /* in unit: ns, a fraction (0.001 for 0.1%), a count, per second */
	enum threshold_unit unit;
	bool abort;              /* evaluated each second; failing stops the run */
	uint64_t abort_after_ns; /* ... from this far into it */
	/* The outcome, set by threshold_eval. */
	bool measured; /* false when there was nothing to compute it from: fails */
	bool passed;
	double actual;
};

/* Parses one threshold. metric NULL: condition is a whole expression,
 * "latency.p99<5ms" (the --threshold form). where says where it was written,
 * for messages. Returns 0, or -EINVAL with err saying what is wrong and an
 * example of what is right. */
int threshold_parse(const char *metric, const char *condition, const char *where,
		    struct threshold *out, char *err, size_t errlen);

/* Parses every spec into a new array (*out, NULL when n is 0; free() it).
 * Returns 0, or -EINVAL with err naming where the bad one was written, or
 * -ENOMEM. */
/* Tells whether a histogram or counter named name was declared ("counter"
 * or "histogram" in kind): 1, 0 with a hint for people, or -errno. */
typedef int threshold_declared_fn(void *arg, const char *kind, const char *name, char *hint,
				  size_t hintlen);

/* surge run, before traffic: every counter.NAME and NAME.STAT threshold
 * names something declared, so a typo cannot pass as "never counted".
 * Returns 0, or -EINVAL with err naming where it was written, the metric and
 * a did-you-mean. */
int threshold_check_declared(const struct threshold *t, size_t n, threshold_declared_fn *declared,
			     void *arg, char *err, size_t errlen);

int threshold_parse_specs(const struct threshold_spec *specs, size_t n, struct threshold **out,
			  char *err, size_t errlen);

/* Evaluates each threshold against the merged totals of a run of elapsed_s
 * seconds; sets measured, passed and actual. Returns how many failed. */
size_t threshold_eval(struct threshold *t, size_t n, const struct stats *total, double elapsed_s);

/* The first threshold marked abort that is measured and fails on the totals
 * so far, elapsed_ns into the run (and past its abort_after), with its
 * actual set; NULL when none does. Thresholds with nothing to go on yet
 * (no samples) do not abort. */
const struct threshold *threshold_abort_check(struct threshold *t, size_t n,
					      const struct stats *total, uint64_t elapsed_ns);

/* v in t's unit for people: "4.21ms", "0.012%", "1234", "9.87k/s". */
void threshold_fmt(const struct threshold *t, double v, char *buf, size_t len);
/* "<", "<=", ">", ">=" */
const char *threshold_op_str(enum threshold_op op);
/* "ns", "fraction", "count", "per_second" (JSON) */
const char *threshold_unit_key(enum threshold_unit u);

#endif
