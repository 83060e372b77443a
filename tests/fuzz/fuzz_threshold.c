/* threshold_parse on hostile expressions, in both forms (a whole
 * "latency.p99<5ms", and metric + condition split at the first newline):
 * 0, or -EINVAL with a message. Accepted thresholds evaluate and format on
 * empty and non-empty totals, and their normalized condition parses again. */
#include <errno.h>

#include "fuzz.h"
#include "threshold.h"

static struct stats empty, busy;

static void setup(void)
{
	stats_init(&empty);
	stats_init(&busy);
	for (int i = 0; i < 1000; i++)
		hist_record(busy.hist[HI_LATENCY], 1000 + i * 997);
	busy.counter[ST_SENT] = 1000;
	busy.counter[ST_COMPLETED] = 990;
	busy.error[ERR_RESET] = 10;
	int id = stats_counter_id(&busy, "dns.rcode.NOERROR");
	if (id >= 0)
		busy.ncounter[id].value = 42;
}

static void check(struct threshold *t)
{
	char buf[128], err[512];
	struct threshold again;

	FUZZ_CHECK(t->metric[0] && t->condition[0]);
	threshold_eval(t, 1, &empty, 0);
	threshold_fmt(t, t->actual, buf, sizeof(buf));
	threshold_eval(t, 1, &busy, 10);
	threshold_fmt(t, t->actual, buf, sizeof(buf));
	threshold_fmt(t, t->limit, buf, sizeof(buf));
	(void)threshold_abort_check(t, 1, &busy, 5000000000ull);
	(void)threshold_op_str(t->op);
	(void)threshold_unit_key(t->unit);
	FUZZ_CHECK(threshold_parse(t->metric, t->condition, "again", &again, err, sizeof(err)) == 0);
	FUZZ_CHECK(again.kind == t->kind && again.op == t->op && again.unit == t->unit);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	char *s = fuzz_cstr(data, size), err[512];
	struct threshold t;

	if (!ready++)
		setup();
	if (!s)
		return 0;
	err[0] = '\0';
	int rc = threshold_parse(NULL, s, "fuzz", &t, err, sizeof(err));
	FUZZ_CHECK(rc == 0 || (rc == -EINVAL && err[0]));
	if (rc == 0)
		check(&t);
	char *nl = strchr(s, '\n');
	if (nl) {
		*nl = '\0';
		err[0] = '\0';
		rc = threshold_parse(s, nl + 1, "fuzz", &t, err, sizeof(err));
		FUZZ_CHECK(rc == 0 || (rc == -EINVAL && err[0]));
		if (rc == 0)
			check(&t);
	}
	free(s);
	return 0;
}
