#!/usr/bin/env bash
# Benchmark of the native stages (issue: native stages). Full backups, variants alternating run by run (D9: CPU
# time user+sys, medians; wall medians for files/s):
#   small corpus (20,000 files): none | checksum (sha256: reuses the host's digest) | checksum512 (sha512, hashes
#     the bytes once more on the host's buffers) | owner (exclude_user=65534, every file kept: the decision alone)
#     | pychecksum (the Python example that reads every file again, for comparison)
#   real corpus (system docs, python, headers, man pages): none | index (MIME, text, FTS5 into the catalog)
# Targets: checksum <= 10% CPU over none, owner <= 3%, index >= 2,000 files/s end to end.
#
# Usage: Benchmarks/stages.sh [RUNS]   (default 5; CORPUS=/tmp/corpus, BENCH_WORK=/tmp/optionhost-bench-stages)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
work=${BENCH_WORK:-/tmp/optionhost-bench-stages}
. Benchmarks/common.sh
examples=$PWD/examples/plugins
rm -rf "$work"; mkdir -p "$work"

small=$corpus/small
real=$corpus/real
config none "$small" ""
config checksum "$small" "; Plugin = \"checksum:log=$work/run/sums.sha256\""
config checksum512 "$small" "; Plugin = \"checksum:algorithm=sha512:log=$work/run/sums.sha512\""
config owner "$small" "; Plugin = \"owner:exclude_user=65534\""
config pychecksum "$small" "; Plugin = \"python3:module_path=$examples:module_name=bareos-fd-checksum-log:log=$work/run/py.sha256\""
config realnone "$real" ""
config index "$real" "; Plugin = \"index\""

measure() { # label variants...
    local label=$1 tree=$2; shift 2
    local files bytes
    files=$(find "$tree" -type f | wc -l)
    bytes=$(find "$tree" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
    find "$tree" -type f -print0 | xargs -0 cat >/dev/null   # warm cache
    for variant in "$@"; do : > "$work/$variant.times"; done
    for i in $(seq "$runs"); do
        for variant in "$@"; do
            rm -rf "$work/run"; mkdir -p "$work/run"
            /usr/bin/python3 Benchmarks/timed-run.py "$work/$variant.times" "$bin" backup "$work/$variant.conf" \
                --job bench --catalog "$work/run/catalog.db" --archive "$work/run/volumes" 2>"$work/stderr.txt" \
                || { cat "$work/stderr.txt" >&2; exit 1; }
        done
    done
    echo "$label: $files files, $bytes bytes; $runs runs each, medians"
    printf '%-12s %8s %8s %10s %8s %12s %9s\n' variant wall_s cpu_s files/s MB/s cpu_vs_base peak_MiB
    local base
    base=$(awk '{print $2 + $3}' "$work/$1.times" | median)
    for variant in "$@"; do
        local w c r
        w=$(awk '{print $1}' "$work/$variant.times" | median)
        c=$(awk '{print $2 + $3}' "$work/$variant.times" | median)
        r=$(awk '{print $4}' "$work/$variant.times" | median)
        awk -v v="$variant" -v w="$w" -v c="$c" -v c0="$base" -v f="$files" -v b="$bytes" -v r="$r" 'BEGIN {
            printf "%-12s %8.3f %8.3f %10.0f %8.1f %+11.1f%% %9.1f\n", v, w, c, f/w, b/1e6/w, (c/c0-1)*100, r/1024 }'
    done
}
measure "small corpus" "$small" none checksum checksum512 owner pychecksum
measure "real corpus" "$real" realnone index
