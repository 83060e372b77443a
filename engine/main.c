/* main: the `surge` command line — picks the subcommand; the only place that exits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doctor.h"
#include "report.h"
#include "run.h"
#include "samples_file.h"
#include "serve.h"
#include "version.h"

static const char usage[] =
	"usage: surge <command> [options]\n"
	"\n"
	"A Lua-scriptable load tester for TCP services: many connections from many\n"
	"source addresses, exact request rates, exact latency histograms.\n"
	"\n"
	"commands:\n"
	"  run SCENARIO.lua     run a load test (surge run --help)\n"
	"  serve PROTOCOL       a built-in server to test against: echo, dns, rtsp (surge serve --help)\n"
	"  doctor [SCENARIO]    can this machine hold the connections? what to fix\n"
	"  report LOG.hlog...   re-render and merge saved runs (surge report --help)\n"
	"  samples FILE         read a per-request sample log (surge run --samples FILE):\n"
	"                       counts by outcome, --csv every record, --latency the\n"
	"                       histogram (surge samples --help)\n"
	"  version              print the version\n"
	"  help                 this text\n"
	"\n"
	"Start with: surge run scenarios/echo.lua against `surge serve echo`.\n";

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[1];

	if (strcmp(cmd, "run") == 0)
		return run_main(argc - 1, argv + 1);
	if (strcmp(cmd, "doctor") == 0)
		return doctor_main(argc - 1, argv + 1);
	if (strcmp(cmd, "serve") == 0)
		return serve_main(argc - 1, argv + 1);
	if (strcmp(cmd, "report") == 0)
		return report_main(argc - 1, argv + 1);
	if (strcmp(cmd, "samples") == 0)
		return samples_main(argc - 1, argv + 1);
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("surge %s\n", SURGE_VERSION);
		return 0;
	}
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		fputs(usage, stdout);
		return 0;
	}
	fprintf(stderr, "surge: unknown command '%s'\n\n%s", cmd, usage);
	return EXIT_USAGE;
}
