/*
 * fuzz: what the harnesses share. Each tests/fuzz/fuzz_<name>.c defines
 * LLVMFuzzerTestOneInput and is built twice: with libFuzzer (`make fuzz`)
 * and with replay_main.c, which replays tests/fuzz/corpus/<name>/ on every
 * `make check`. A finding is a sanitizer report, a crash, or FUZZ_CHECK
 * failing: an invariant the code under test promises in its header.
 */
#ifndef SURGE_FUZZ_H
#define SURGE_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                    \
	do {                                                                                \
		if (!(cond)) {                                                              \
			fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                            \
		}                                                                           \
	} while (0)

/* The input as a C string (the parsers under test take NUL-terminated
 * text): a malloc'd copy, cut at the first NUL. NULL only on ENOMEM. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (s) {
		memcpy(s, data, size);
		s[size] = '\0';
	}
	return s;
}

/* Takes one byte off the front of the input (0 when it is empty). */
static inline uint8_t fuzz_byte(const uint8_t **data, size_t *size)
{
	if (*size == 0)
		return 0;
	(*size)--;
	return *(*data)++;
}

#endif
