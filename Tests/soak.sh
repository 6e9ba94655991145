#!/bin/sh
# The soak on demand (issue 14, suite item 5): a Full of FILES files, then INCREMENTALS Accurate Incrementals in
# a row with seeded random changes between them (files added, modified, deleted, renamed into new directories),
# each restored and compared with the live tree by `diff -r`. The normal suite runs 300 files and 5 Incrementals.
# Peak memory at 10k/50k/200k files is Benchmarks/memory.sh.
#
# Usage: Tests/soak.sh [FILES [INCREMENTALS [SEED]]]   (default 20,000 files, 5 Incrementals, seed 5)
# The last result is in docs/reliability.md ("The suite").
set -eu
cd "$(dirname "$0")/.."
OPTIONHOST_SOAK_FILES=${1:-20000} OPTIONHOST_SOAK_INCREMENTALS=${2:-5} OPTIONHOST_SOAK_SEED=${3:-5} \
    exec swift test --skip-build --filter 'BackupCommandTests/testSoakOfIncrementalsWithRandomChangesEachRestoresTheLiveTree'
