/* Minimal TAP producer for the C unit tests: prove reads the plan at the end. */
#ifndef SURGE_TAP_H
#define SURGE_TAP_H
#include <stdarg.h>
#include <stdio.h>

static int tap_n, tap_failed;

static inline int tap_ok(int cond, const char *fmt, ...)
{
	va_list ap;
	tap_n++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	return cond;
}

#define ok(cond, ...) tap_ok(!!(cond), __VA_ARGS__)
#define is_int(got, want, name)                                                               \
	do {                                                                                  \
		long long g_ = (long long)(got), w_ = (long long)(want);                      \
		if (!ok(g_ == w_, "%s", name))                                                \
			printf("#   got %lld, want %lld\n", g_, w_);                              \
	} while (0)
#define diag(...) (printf("# "), printf(__VA_ARGS__), printf("\n"))

static inline int tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}
#endif
