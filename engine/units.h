/* units: durations, percentages and counts as people write them on a command
 * line ("20ms", "1.5s", "2m", "0.5%", "10k"), parsed exactly. The Lua side has
 * the same grammar in lua/surge/units.lua. */
#ifndef SURGE_UNITS_H
#define SURGE_UNITS_H

#include <stdint.h>

/* "250ns" "250us" "20ms" "1.5s" "2m" "1h"; a bare number is seconds.
 * Returns 0 and *ns, or -EINVAL (garbage, negative, overflow). */
int units_duration(const char *s, uint64_t *ns);
/* "1%" or "0.01" -> 0.01. Returns 0, or -EINVAL outside [0, 1]. */
int units_fraction(const char *s, double *out);
/* "1000", "10k", "1.5M", "100kbit" style: whole numbers with k/M/G (x1000).
 * Returns 0, or -EINVAL. */
int units_count(const char *s, uint64_t *out);

#endif
