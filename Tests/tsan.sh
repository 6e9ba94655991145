#!/bin/sh
# Runs the backup, restore and scheduler tests under the thread sanitizer (TSan), in its own build directory
# (.build-tsan) so the normal debug build stays as it is. A cold build takes ~10 minutes on 2 cores.
#
# Usage: Tests/tsan.sh [FILTER]   (default: the suites below, ~2 minutes once built; e.g. Tests/tsan.sh PythonPluginTests)
# Last run (2026-12-06, main with the catalog handed to the catalog thread as a sending value, command plugins and
# the reliability fixes merged): 136 tests, 0 failures, no race reported, no suppressions.
#
# Not included: the suites that drive the built `optionhost` binary (OptionHostTests: a subprocess, not
# instrumented by this run) and the codec/config/catalog unit suites (single-threaded). Embedded CPython is
# included (PythonPluginTests): libpython is not instrumented, so races inside Python would go unseen, but its
# GIL and our request queue synchronize through pthread calls TSan intercepts.
set -eu
cd "$(dirname "$0")/.."
filter=${1:-'PipelineTests\.(BackupRestoreTests|RestoreWorkersTests|StreamedFileTests|BoundedQueueTests|VersionsTests|LevelTests|ScanTests|PruneTests|WorkedExamplesTests)|StagesTests\.(PythonPluginTests|GPGStageTests|ChecksumStageTests|IndexStageTests)'}
# halt_on_error: the first race fails the run with its report (TSan otherwise only prints and exits 66 at the end).
# No suppressions: shared state is under `Locked` (a pthread mutex TSan intercepts) or in atomics, never under
# `Synchronization.Mutex`, whose futex TSan cannot see (it would report every access it guards as a race).
export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1 second_deadlock_stack=1}"
exec swift test --sanitize=thread --scratch-path .build-tsan --filter "$filter"
