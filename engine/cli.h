/*
 * cli: the command line of the commands that load a scenario (run, doctor).
 * Every flag is a scenario option by another name, so parsing only collects
 * KEY=VALUE overrides in order; the scenario loader checks them, and its
 * errors name "command line".
 */
#ifndef SURGE_CLI_H
#define SURGE_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>

/* A flag (getopt code ch) that sets key: to its argument, or to value when
 * the flag takes none. */
struct cli_key {
	int ch;
	const char *key;
	const char *value;
};

struct cli_args {
	const char *scenario; /* NULL when none was given */
	const char **ov;      /* key, value, key, value ... (free() it) */
	size_t nov;           /* pairs */
	bool help;
};

/* Parses argv; -o KEY=VALUE and -h are handled here for every command.
 * Returns 0, or -EINVAL after printing what is wrong, prefixed with prog
 * ("surge run"), or -ENOMEM. */
int cli_parse(int argc, char **argv, const char *prog, const char *shortopts,
	      const struct option *longopts, const struct cli_key *keys, size_t nkeys,
	      struct cli_args *out);

#endif
