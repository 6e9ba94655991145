#!/bin/sh
# The crash consistency harness on demand (issue 14, suite item 1): the real `optionhost` binary backs up FILES
# small files and two streamed ones and is stopped at seeded random moments (SIGKILL or SIGINT during a backup,
# SIGKILL during a restore); after each trial the catalog opens, the stopped job is marked failed or cancelled,
# every stored row verifies and restores byte for byte, the next backup runs, no orphan volume is left after it
# and after `prune`, a killed restore leaves no partial file under its final name and no temporary name after the
# next restore. The normal suite runs 5 trials of 1,000 files of the same test.
#
# Usage: Tests/crash.sh [TRIALS [FILES [SEED]]]   (default 50 trials, 3,000 files, seed 14; needs a built test bundle)
# The last result is in docs/reliability.md ("The suite").
set -eu
cd "$(dirname "$0")/.."
OPTIONHOST_CRASH_TRIALS=${1:-50} OPTIONHOST_CRASH_FILES=${2:-3000} OPTIONHOST_CRASH_SEED=${3:-14} \
    exec swift test --skip-build --filter 'BackupCommandTests/testCrashConsistencyOfKilledAndInterruptedJobs'
