"""Shared by the benchmarks: memory of surge's worker processes, CPU and
system calls of a client's process tree."""
import os
import re
import resource
import shutil
import subprocess
import sys


def workers_rss_kib(parent):
    """Resident set (KiB) summed over the children of pid `parent`."""
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % pid) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            if ppid != parent:
                continue
            with open("/proc/%s/status" % pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except (OSError, ValueError, IndexError):
            pass
    return total


def _perf_counts():
    """perf, when it is installed and may count the syscall tracepoint."""
    perf = shutil.which("perf")
    if not perf:
        return None
    p = subprocess.run([perf, "stat", "-x,", "-e", "raw_syscalls:sys_enter", "true"],
                       capture_output=True, text=True)
    return perf if p.returncode == 0 and "raw_syscalls" in p.stderr else None


PERF = _perf_counts()


def measure(argv, timeout):
    """Runs argv; returns (stdout, CPU seconds of its process tree, its system
    calls or None). Syscalls are counted by `perf stat -e raw_syscalls:sys_enter`
    (children included) when perf is installed: every client measured pays the
    same tracepoint cost. /proc/PID/io's syscr/syscw would miss sendto,
    recvfrom and sendmmsg. A failed run ends the benchmark with its output."""
    if PERF:
        argv = [PERF, "stat", "-x", ",", "-e", "raw_syscalls:sys_enter", "--"] + argv
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        sys.exit("%s failed (%d): %s" % (argv[0], p.returncode, (p.stdout + p.stderr)[-2000:]))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    m = re.search(r"^(\d+),[^\n]*raw_syscalls:sys_enter", p.stderr, re.M)
    return p.stdout, cpu, int(m.group(1)) if m else None


def per_answer(calls, answers):
    """System calls per answer for a report line."""
    return ("%5.2f syscalls/answer" % (calls / answers)) if calls and answers else "syscalls: n/a"
