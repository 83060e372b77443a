/* splitmix: the 64-bit mixer surge seeds every pseudo-random stream from
 * (Steele, Lea and Flood's SplitMix64): fast, and the same sequence for the
 * same seed on every machine. */
#ifndef SURGE_SPLITMIX_H
#define SURGE_SPLITMIX_H

#include <stdint.h>

/* Advances *state and returns the next value. */
static inline uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* base +- jitter, drawn uniformly from *state (connection lifetimes, think
 * pauses: so what started together does not stay in step). */
static inline double splitmix_jitter(uint64_t *state, uint64_t base, uint64_t jitter)
{
	double u = (double)(splitmix64(state) >> 11) * 0x1p-53 * 2 - 1;
	return (double)base + u * (double)jitter;
}

#endif
