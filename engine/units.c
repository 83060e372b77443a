/* units: see units.h. */
#include "units.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int number_prefix(const char *s, double *v, const char **rest)
{
	char *end;
	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	*v = strtod(s, &end);
	if (end == s || errno || !isfinite(*v) || *v < 0)
		return -EINVAL;
	*rest = end;
	return 0;
}

int units_duration(const char *s, uint64_t *ns)
{
	static const struct {
		const char *suffix;
		double scale;
	} units[] = { { "ns", 1 }, { "us", 1e3 }, { "ms", 1e6 }, { "s", 1e9 },
		      { "", 1e9 }, { "m", 60e9 }, { "h", 3600e9 } };
	double v;
	const char *rest;
	if (number_prefix(s, &v, &rest))
		return -EINVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(rest, units[i].suffix) == 0) {
			double x = v * units[i].scale;
			if (x >= 1.8e19)
				return -EINVAL;
			*ns = (uint64_t)llround(x);
			return 0;
		}
	}
	return -EINVAL;
}

int units_fraction(const char *s, double *out)
{
	double v;
	const char *rest;
	if (number_prefix(s, &v, &rest))
		return -EINVAL;
	if (strcmp(rest, "%") == 0)
		v /= 100;
	else if (*rest)
		return -EINVAL;
	if (v > 1)
		return -EINVAL;
	*out = v;
	return 0;
}

int units_count(const char *s, uint64_t *out)
{
	double v;
	const char *rest;
	if (number_prefix(s, &v, &rest))
		return -EINVAL;
	double scale = 1;
	if (*rest == 'k' || *rest == 'K')
		scale = 1e3, rest++;
	else if (*rest == 'M')
		scale = 1e6, rest++;
	else if (*rest == 'G')
		scale = 1e9, rest++;
	if (*rest && strcmp(rest, "bit") != 0 && strcmp(rest, "bps") != 0)
		return -EINVAL;
	double x = v * scale;
	if (x != floor(x) || x >= 1.8e19)
		return -EINVAL;
	*out = (uint64_t)x;
	return 0;
}
