"""Runs one command and appends "wall user sys maxrss_kib" to a file: wall from the monotonic clock, CPU from
getrusage of the child (microsecond resolution, unlike GNU time's 10 ms), peak RSS in KiB.

Usage: timed-run.py OUT_FILE COMMAND [ARGS...]   (the command's standard output is discarded)
"""
import resource
import subprocess
import sys
import time

start = time.monotonic()
code = subprocess.run(sys.argv[2:], stdout=subprocess.DEVNULL).returncode
wall = time.monotonic() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(sys.argv[1], "a") as out:
    out.write("%.4f %.6f %.6f %d\n" % (wall, usage.ru_utime, usage.ru_stime, usage.ru_maxrss))
sys.exit(code)
