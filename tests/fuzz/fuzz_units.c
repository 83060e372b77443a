/* units: durations, fractions and counts as people write them. Each parser
 * accepts or returns -EINVAL; what it accepts is in range, and a duration
 * or a count printed back in its base unit parses to the same value. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>

#include "fuzz.h"
#include "units.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size), again[64];
	uint64_t ns, n, back;
	double f;

	if (!s)
		return 0;
	int rc = units_duration(s, &ns);
	FUZZ_CHECK(rc == 0 || rc == -EINVAL);
	if (rc == 0) {
		snprintf(again, sizeof(again), "%" PRIu64 "ns", ns);
		FUZZ_CHECK(units_duration(again, &back) == 0 && back == ns);
	}
	rc = units_fraction(s, &f);
	FUZZ_CHECK(rc == 0 || rc == -EINVAL);
	if (rc == 0)
		FUZZ_CHECK(isfinite(f) && f >= 0 && f <= 1);
	rc = units_count(s, &n);
	FUZZ_CHECK(rc == 0 || rc == -EINVAL);
	if (rc == 0) {
		snprintf(again, sizeof(again), "%" PRIu64, n);
		FUZZ_CHECK(units_count(again, &back) == 0 && back == n);
	}
	free(s);
	return 0;
}
