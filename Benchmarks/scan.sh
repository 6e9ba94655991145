#!/usr/bin/env bash
# Benchmark of `optionhost scan` (issue "scan and prune"): rebuild a catalog from the volumes of a backup of the
# small corpus (../shared/bench/make-corpus.sh: 20,000 files of 1-16 KiB in 400 directories, read only).
#
# Target: scan of the small corpus' volumes >= 20,000 files/s (whole command: process start, reading every member
# header, one SQLite row per entry, the rename into place).
#
# Usage: Benchmarks/scan.sh [RUNS]    (default 5; the median is reported)
# Env:   SCRATCH=DIR  build directory for `swift build --scratch-path` (default .build)
#        CORPUS=DIR   corpus root (default /tmp/corpus); BENCH_WORK=DIR scratch space (default /tmp/optionhost-scan-bench)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
corpus=${CORPUS:-/tmp/corpus}
work=${BENCH_WORK:-/tmp/optionhost-scan-bench}
scratch=${SCRATCH:-.build}
shared=../shared/bench/make-corpus.sh
[ -f "$shared" ] || { echo "missing $shared" >&2; exit 2; }
CORPUS=$corpus sh "$shared" >/dev/null
swift build -c release --product optionhost --scratch-path "$scratch" >/dev/null
bin=$(cd "$scratch/release" && pwd)/optionhost
rm -rf "$work"; mkdir -p "$work"
tree=$corpus/small
files=$(find "$tree" -type f | wc -l)
entries=$(find "$tree" | wc -l)

cat > "$work/small.conf" <<CONF
FileSet { Name = bench-small; Include { Options { Signature = SHA256 } File = "$tree" } }
Job { Name = bench-small; Type = Backup; Level = Full; FileSet = bench-small }
CONF
"$bin" backup "$work/small.conf" --job bench-small --catalog "$work/catalog.db" --archive "$work/volumes" >/dev/null
volumes=("$work"/volumes/*.tar)
sync

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
walls=(); rss=()
for i in $(seq "$runs"); do
    rm -f "$work/scanned.db"*
    /usr/bin/time -f "%e %M" -o "$work/time.txt" "$bin" scan "${volumes[@]}" --catalog "$work/scanned.db" \
        >/dev/null 2>"$work/stderr.txt" || { cat "$work/stderr.txt" >&2; exit 1; }
    read -r w r < "$work/time.txt"
    walls+=("$w"); rss+=("$r")
done

# The rebuilt catalog holds every entry, and verify passes on it.
rows=$(sqlite3 "$work/scanned.db" "SELECT count(*) FROM files")
[ "$rows" = "$entries" ] || { echo "scan rebuilt $rows rows, the tree has $entries entries" >&2; exit 1; }
"$bin" verify --catalog "$work/scanned.db" --jobid 1 >/dev/null || { echo "verify failed on the scanned catalog" >&2; exit 1; }

w=$(printf '%s\n' "${walls[@]}" | median)
printf '%-8s %-22s %8s %8s %10s %10s\n' corpus command files entries wall_s files/s
awk -v f="$files" -v e="$entries" -v w="$w" -v v="${#volumes[@]}" -v r="$(printf '%s\n' "${rss[@]}" | sort -g | tail -1)" 'BEGIN {
    printf "%-8s %-22s %8d %8d %10.3f %10.0f\n", "small", "optionhost scan", f, e, w, f / w
    printf "  (%d volume(s); median of runs; peak RSS %.1f MiB; target >= 20,000 files/s)\n", v, r / 1024 }'
rm -rf "$work"
