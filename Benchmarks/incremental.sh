#!/usr/bin/env bash
# Benchmark of the levels issue: an Incremental of the small corpus (20,000 files) with 1% of the files changed
# (200 files rewritten) against the Full of the same tree, in the same run.
#
# Target: the Incremental's wall time <= 20% of the Full's.
#
# The corpus from ../shared/bench/make-corpus.sh is COPIED to a work directory (the shared /tmp/corpus is never
# modified). Each run: fresh catalog and archive, Full, rewrite 200 files (every 100th in sorted order, same size,
# new bytes), Incremental. Medians of RUNS are reported, with the Incremental's stored-file count as a check.
#
# Usage: Benchmarks/incremental.sh [RUNS]   (default 3)
# Environment: CORPUS (default /tmp/corpus), BENCH_WORK (default /tmp/optionhost-incremental-bench),
#              SCRATCH (SwiftPM scratch path for the release build, default .build),
#              MAKE_CORPUS (default ../shared/bench/make-corpus.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
corpus=${CORPUS:-/tmp/corpus}
work=${BENCH_WORK:-/tmp/optionhost-incremental-bench}
scratch=${SCRATCH:-.build}
shared=${MAKE_CORPUS:-../shared/bench/make-corpus.sh}
[ -f "$shared" ] || { echo "missing $shared" >&2; exit 2; }
[ -d "$corpus/small" ] || CORPUS=$corpus sh "$shared" >/dev/null
swift build -c release --product optionhost --scratch-path "$scratch" >/dev/null
bin=$(swift build -c release --product optionhost --scratch-path "$scratch" --show-bin-path)/optionhost
rm -rf "$work"; mkdir -p "$work"
tree=$work/small
cp -a "$corpus/small" "$tree"
find "$tree" -type f -print0 | xargs -0 cat >/dev/null  # warm cache

cat > "$work/bench.conf" <<CONF
FileSet { Name = bench-incremental; Include { Options { Signature = SHA256 } File = "$tree" } }
Job { Name = bench-incremental; Type = Backup; Level = Incremental; FileSet = bench-incremental }
CONF

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# One timed backup: prints "wall_seconds files_stored level".
timed_backup() {
    local dir=$1; shift
    sync
    local start end
    start=$(date +%s.%N)
    "$bin" backup "$work/bench.conf" --job bench-incremental --catalog "$dir/catalog.db" --archive "$dir/volumes" \
        --json "$@" > "$work/out.json" 2> "$work/err.txt" || { cat "$work/err.txt" "$work/out.json" >&2; return 1; }
    end=$(date +%s.%N)
    python3 - "$work/out.json" "$(echo "$end - $start" | bc)" <<'PY'
import json, sys
summary = json.loads(open(sys.argv[1]).read().splitlines()[-1])
print(sys.argv[2], summary["files_stored"], summary["level"])
PY
}

changed_files() { find "$tree" -type f | sort | awk 'NR % 100 == 1'; }
echo "small corpus: $(find "$tree" -type f | wc -l) files; changing $(changed_files | wc -l) per run"

fulls=(); incrementals=()
for i in $(seq "$runs"); do
    dir=$work/run-$i; mkdir -p "$dir"
    read -r wall stored level < <(timed_backup "$dir" --level Full)
    fulls+=("$wall")
    printf '  run %d: %-11s %7.3f s, %5d files stored\n' "$i" "$level" "$wall" "$stored"
    # Rewrite 1% of the files in place: same size, different bytes (reversed).
    changed_files | python3 -c '
import sys
for name in sys.stdin.read().splitlines():
    with open(name, "r+b") as f:
        data = f.read(); f.seek(0); f.write(data[::-1] if data[::-1] != data else data + b"!"); f.truncate()
'
    read -r wall stored level < <(timed_backup "$dir")
    incrementals+=("$wall")
    printf '  run %d: %-11s %7.3f s, %5d files stored\n' "$i" "$level" "$wall" "$stored"
    [ "$level" = Incremental ] && [ "$stored" -eq "$(changed_files | wc -l)" ] \
        || { echo "unexpected Incremental: level $level, $stored files stored" >&2; exit 1; }
    rm -rf "$dir"
done
full=$(printf '%s\n' "${fulls[@]}" | median)
incremental=$(printf '%s\n' "${incrementals[@]}" | median)
awk -v f="$full" -v i="$incremental" 'BEGIN {
    printf "median Full %.3f s, median Incremental %.3f s, ratio %.1f%% (target <= 20%%)\n", f, i, 100 * i / f }'
rm -rf "$work"
