/* clock: CLOCK_MONOTONIC in nanoseconds, the one time base for latency and pacing
 * (ev_now() is wall-clock and coarse; it is never used to stamp a sample). */
#ifndef SURGE_CLOCK_H
#define SURGE_CLOCK_H
#include <stdint.h>
#include <time.h>

static inline uint64_t clock_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#define NS_PER_SEC 1000000000ull
#define NS_PER_MS 1000000ull
#define NS_PER_US 1000ull
#endif
