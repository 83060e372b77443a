/* splitmix64 for the unit tests: reproducible pseudo-random data from a seed. */
#ifndef SURGE_TEST_RNG_H
#define SURGE_TEST_RNG_H
#include "splitmix.h"
#endif
