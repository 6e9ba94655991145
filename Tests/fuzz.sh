#!/bin/sh
# The seeded mutation fuzz loops on demand (issue 14, suite item 4): the config parser (ConfigFuzzTests), the pax
# reader over mutated copies of a real volume (next(), member(at:) and each member's data) and the volume scanner
# into a fresh catalog (VolumeFuzzTests). Every input must end in a result or a thrown error. SCALE multiplies
# the iteration counts of the normal suite (config 100,000 inputs, pax reader 500 mutated volumes, scanner 60).
#
# Usage: Tests/fuzz.sh [SCALE]   (default 20; needs a built test bundle)
# The last result is in docs/reliability.md ("The suite").
set -eu
cd "$(dirname "$0")/.."
OPTIONHOST_FUZZ_SCALE=${1:-20} exec swift test --skip-build --filter 'PipelineTests\.(ConfigFuzzTests|VolumeFuzzTests)'
