#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct cli_key *find(const struct cli_key *keys, size_t n, int ch)
{
	for (size_t i = 0; i < n; i++)
		if (keys[i].ch == ch)
			return &keys[i];
	return NULL;
}

int cli_parse(int argc, char **argv, const char *prog, const char *shortopts,
	      const struct option *longopts, const struct cli_key *keys, size_t nkeys,
	      struct cli_args *out)
{
	const char **v = calloc((size_t)argc * 2 + 2, sizeof(char *));
	size_t n = 0;
	int ch;

	memset(out, 0, sizeof(*out));
	if (!v)
		return -ENOMEM;
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		const struct cli_key *k = find(keys, nkeys, ch);
		if (k) {
			v[n++] = k->key;
			v[n++] = k->value ? k->value : optarg;
		} else if (ch == 'o') {
			char *eq = strchr(optarg, '=');
			if (!eq || eq == optarg) {
				fprintf(stderr, "%s: -o expects KEY=VALUE, got '%s'\n", prog, optarg);
				goto bad;
			}
			*eq = '\0';
			v[n++] = optarg;
			v[n++] = eq + 1;
		} else if (ch == 'h') {
			out->help = true;
		} else if (ch == ':') {
			fprintf(stderr, "%s: option '%s' needs a value (see %s --help)\n", prog,
				argv[optind - 1], prog);
			goto bad;
		} else {
			fprintf(stderr, "%s: unknown option '%s' (see %s --help)\n", prog,
				argv[optind - 1], prog);
			goto bad;
		}
	}
	out->scenario = optind < argc ? argv[optind] : NULL;
	if (out->scenario && optind + 1 < argc) {
		fprintf(stderr, "%s: unexpected argument '%s' after the scenario\n", prog,
			argv[optind + 1]);
		goto bad;
	}
	out->ov = v;
	out->nov = n / 2;
	return 0;
bad:
	free(v);
	return -EINVAL;
}
