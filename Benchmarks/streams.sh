#!/usr/bin/env bash
# Benchmark of streamed files transformed off the writer thread (issue 11, part 3): the large corpus
# (4 x 256 MiB) with `Compression = GZIP` and with the gpg stage (per-file, one cv25519 recipient), this build
# against a BASE binary (e.g. a release build of main), alternating run by run, medians of RUNS (wall, user+sys
# CPU, peak RSS). Prints the load average before and after: on a shared 2-core machine compare ratios only.
#
# Usage: BASE=/path/to/main/optionhost Benchmarks/streams.sh [RUNS]   (default 3; CORPUS=/tmp/corpus,
#        BENCH_WORK=/tmp/optionhost-bench-streams)
# Needs: gnupg.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
work=${BENCH_WORK:-/tmp/optionhost-bench-streams}
: "${BASE:?set BASE to the optionhost binary to compare with}"
. Benchmarks/common.sh
bin=${THIS:-$bin}  # THIS: a binary built earlier (the release build above is then only checked)
rm -rf "$work"; mkdir -p "$work/gnupg"; chmod 700 "$work/gnupg"
export GNUPGHOME=$work/gnupg
gpg --batch --quiet --passphrase '' --quick-gen-key 'Bench <bench@example.org>' future-default default never 2>/dev/null
cv=$(gpg --batch --with-colons --list-keys bench@example.org | awk -F: '/^fpr/ {print $10; exit}')
large=$corpus/large
config gzip "$large" "; Compression = GZIP"
config gpg "$large" "; Plugin = \"gpg:recipient=$cv\""
lb=$(find "$large" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
find "$large" -type f -print0 | xargs -0 cat >/dev/null

run() { # label binary config
    rm -rf "$work/run"; mkdir -p "$work/run"
    python3 Benchmarks/timed-run.py "$work/$1.times" "$2" backup "$work/$3.conf" --job bench \
        --catalog "$work/run/catalog.db" --archive "$work/run/volumes" 2>"$work/stderr.txt" \
        || { cat "$work/stderr.txt" >&2; exit 1; }
}
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq "$runs"); do
    for config in gzip gpg; do
        run "$config-base" "$BASE" "$config"
        run "$config-this" "$bin" "$config"
    done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-12s %8s %8s %8s %9s\n' variant wall_s cpu_s MB/s peak_MiB
for v in gzip-base gzip-this gpg-base gpg-this; do
    w=$(awk '{print $1}' "$work/$v.times" | median)
    c=$(awk '{print $2 + $3}' "$work/$v.times" | median)
    r=$(awk '{print $4}' "$work/$v.times" | median)
    awk -v v="$v" -v w="$w" -v c="$c" -v b="$lb" -v r="$r" 'BEGIN {
        printf "%-12s %8.3f %8.3f %8.1f %9.1f\n", v, w, c, b/1e6/w, r/1024 }'
done
for c in gzip gpg; do
    b=$(awk '{print $1}' "$work/$c-base.times" | median); t=$(awk '{print $1}' "$work/$c-this.times" | median)
    awk -v c="$c" -v b="$b" -v t="$t" 'BEGIN { printf "%s: base/this wall = %.2fx\n", c, b/t }'
done
gpgconf --kill gpg-agent
