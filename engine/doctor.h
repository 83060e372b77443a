/*
 * doctor: `surge doctor [SCENARIO] [options]` — checks this machine for many
 * connections (descriptor limits, the kernel's port range, TIME_WAIT reuse,
 * accept backlog, conntrack, per-socket port ranges, bind addresses) and, with
 * a scenario, runs the plan. Prints each finding with the command that fixes
 * it. Returns the exit status: 0 the scenario can run (or nothing blocks),
 * 4 (EXIT_PLAN) it cannot, 2 bad command line or scenario.
 */
#ifndef SURGE_DOCTOR_H
#define SURGE_DOCTOR_H

int doctor_main(int argc, char **argv);

#endif
