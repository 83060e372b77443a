/* cli: flags become scenario overrides in order; -o, -h, a missing value, an
 * unknown flag and a stray argument. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tap.h"

static const struct option longopts[] = {
	{"connections", required_argument, 0, 'c'},
	{"latency", no_argument, 0, 'L'},
	{"option", required_argument, 0, 'o'},
	{"help", no_argument, 0, 'h'},
	{0, 0, 0, 0},
};

static const struct cli_key keys[] = {
	{'c', "connections", NULL},
	{'L', "latency", "true"},
};

/* The argv copies of every parse (ov points into them): freed at the end. */
static char *copies[128];
static int ncopies;

/* Parses a NULL-terminated argv (copied: getopt permutes and -o writes). */
static int parse(struct cli_args *a, const char *const *args)
{
	char *argv[16];
	int argc = 0;

	for (; args[argc]; argc++)
		argv[argc] = copies[ncopies++] = strdup(args[argc]);
	argv[argc] = NULL;
	return cli_parse(argc, argv, "surge test", ":c:o:h", longopts, keys,
			 sizeof(keys) / sizeof(keys[0]), a);
}

static bool pair(const struct cli_args *a, size_t i, const char *k, const char *v)
{
	return i < a->nov && strcmp(a->ov[2 * i], k) == 0 && strcmp(a->ov[2 * i + 1], v) == 0;
}

int main(void)
{
	struct cli_args a;

	ok(parse(&a, (const char *const[]){"run", "s.lua", "-c", "10", "--latency", "-o",
					   "rate=5k", "--connections=20", NULL}) == 0,
	   "a full command line parses");
	ok(a.scenario && strcmp(a.scenario, "s.lua") == 0, "the scenario is the one argument");
	ok(a.nov == 4 && pair(&a, 0, "connections", "10") && pair(&a, 1, "latency", "true") &&
		   pair(&a, 2, "rate", "5k") && pair(&a, 3, "connections", "20"),
	   "flags, fixed values and -o KEY=VALUE, in the order given (the last wins later)");
	ok(!a.help, "no --help");
	free(a.ov);

	ok(parse(&a, (const char *const[]){"run", "-h", NULL}) == 0 && a.help && !a.scenario,
	   "-h is a request for help, not an error");
	free(a.ov);
	ok(parse(&a, (const char *const[]){"run", "-o", "rate", NULL}) == -EINVAL,
	   "-o without '=' is refused");
	ok(parse(&a, (const char *const[]){"run", "-o", "=5", NULL}) == -EINVAL,
	   "-o with an empty key is refused");
	ok(parse(&a, (const char *const[]){"run", "s.lua", "-c", NULL}) == -EINVAL,
	   "a flag without its value is refused");
	ok(parse(&a, (const char *const[]){"run", "--connections", NULL}) == -EINVAL,
	   "a long flag without its value is refused");
	ok(parse(&a, (const char *const[]){"run", "--frobnicate", NULL}) == -EINVAL,
	   "an unknown flag is refused");
	ok(parse(&a, (const char *const[]){"run", "a.lua", "b.lua", NULL}) == -EINVAL,
	   "a second scenario is refused");
	ok(parse(&a, (const char *const[]){"run", NULL}) == 0 && !a.scenario && a.nov == 0,
	   "nothing given: no scenario, no overrides (the command says what to do)");
	free(a.ov);
	while (ncopies)
		free(copies[--ncopies]);
	return tap_done();
}
