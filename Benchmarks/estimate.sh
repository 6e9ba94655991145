#!/usr/bin/env bash
# Benchmark: `optionhost estimate` on a 40,000-file tree (warm cache) against
# `find TREE -printf '%s %p\n' > /dev/null`, and parsing the Bareos default configuration tree.
# Target (issue "Foundation"): estimate within 1.5x of find; parsing the default tree under 20 ms.
# Usage: Benchmarks/estimate.sh [FILES] [RUNS]     (defaults: 40000 files, best of 7 runs)
set -euo pipefail
cd "$(dirname "$0")/.."
files=${1:-40000}
runs=${2:-7}
swift build -c release --product optionhost >/dev/null
bin=.build/release/optionhost
work=$(mktemp -d /tmp/optionhost-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
tree=$work/tree

# 400 directories of 100 files (1-4 KiB), like the small backup corpus.
python3 - "$tree" "$files" <<'PY'
import os, random, sys
root, total = sys.argv[1], int(sys.argv[2])
rng = random.Random(42)
per = 100
for i in range(total):
    d = os.path.join(root, f"d{i // per // 20:03d}", f"s{i // per:04d}")
    if i % per == 0:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i:06d}.dat"), "wb") as f:
        f.write(rng.randbytes(rng.randint(1024, 4096)))
PY
cat > "$work/bench.conf" <<CONF
FileSet { Name = bench; Include { Options { Signature = SHA256 } File = "$tree" } }
Job { Name = bench; Type = Backup; Level = Full; FileSet = bench }
CONF

find "$tree" -printf '%s %p\n' > /dev/null   # warm the cache
best() {  # best wall time in ms of "$@" over $runs runs
    local best=999999 start end ms
    for _ in $(seq "$runs"); do
        start=$(date +%s%N); "$@" > /dev/null; end=$(date +%s%N)
        ms=$(( (end - start) / 1000000 ))
        (( ms < best )) && best=$ms
    done
    echo "$best"
}
find_ms=$(best find "$tree" -printf '%s %p\n')
estimate_ms=$(best "$bin" estimate "$work/bench.conf" --job bench)
listing_ms=$(best "$bin" estimate "$work/bench.conf" --job bench --listing)
echo "tree: $files files in $(find "$tree" -type d | wc -l) directories"
echo "find -printf:              ${find_ms} ms"
echo "optionhost estimate:       ${estimate_ms} ms  (ratio $(python3 -c "print(f'{$estimate_ms/max($find_ms,1):.2f}')"), target <= 1.5)"
echo "optionhost estimate --listing: ${listing_ms} ms"
"$bin" estimate "$work/bench.conf" --job bench | head -1

fixtures=../shared/fixtures/bareos-default-config
if [ -d "$fixtures" ]; then
    "$bin" bench parse "$fixtures" --iterations 100
    echo "(target: under 20 ms)"
fi
