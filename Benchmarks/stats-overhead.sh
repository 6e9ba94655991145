#!/bin/bash
# What `backup --stats` costs: CPU time (user + sys, decision D9) of Full backups of the small corpus (20,000 files
# of 1-16 KiB) without and with --stats, and optionally with another build (BASE_BIN, e.g. main's, to see that the
# statistics cost nothing when off). Runs alternate (the order rotates every round), medians of ROUNDS.
#
# Usage: Benchmarks/stats-overhead.sh [ROUNDS]    (from the repository root; default 5 rounds)
#   TREE=DIR        the tree to back up (default: $CORPUS/small, CORPUS default /tmp/corpus; make-corpus.sh builds it)
#   BIN=PATH        the build measured (default .build/release/optionhost, built if missing)
#   BASE_BIN=PATH   another build, run without --stats, for comparison
#   CONFIGS="plain chain"   which of the two configurations run
# Two configurations: `plain` (Signature = SHA256, no stage) and `chain` (a checksum log, the no-op Python plugin
# of examples/plugins and GZIP6 compression: the most clock reads per file).
set -eu
rounds=${1:-5}
configs=(${CONFIGS:-plain chain})
tree=${TREE:-${CORPUS:-/tmp/corpus}/small}
[ -d "$tree" ] || { echo "no tree $tree: run ../shared/bench/make-corpus.sh first" >&2; exit 2; }
if [ -z "${BIN:-}" ]; then
    swift build -c release --product optionhost >/dev/null
    BIN=$PWD/.build/release/optionhost
fi
work=${BENCH_WORK:-/tmp/optionhost-bench-stats}
timed=$PWD/Benchmarks/timed-run.py
rm -rf "$work"; mkdir -p "$work"
find "$tree" -type f -print0 | xargs -0 cat >/dev/null   # warm cache

cat > "$work/plain.conf" <<CONF
FileSet { Name = fs; Include { Options { Signature = SHA256 } File = "$tree" } }
Job { Name = bench; Type = Backup; Level = Full; FileSet = fs }
CONF
cat > "$work/chain.conf" <<CONF
FileSet {
  Name = fs
  Include {
    Options {
      Signature = SHA256; Compression = GZIP6
      Plugin = "checksum:log=$work/sums.sha256"
      Plugin = "python3:module_path=$PWD/examples/plugins:module_name=noop"
    }
    File = "$tree"
  }
}
Job { Name = bench; Type = Backup; Level = Full; FileSet = fs }
CONF

variants=(off on)
[ -n "${BASE_BIN:-}" ] && variants=(base off on)
run() { # config variant
    rm -rf "$work/catalog.db" "$work/volumes" "$work/sums.sha256"
    local bin=$BIN flags=()
    [ "$2" = base ] && bin=$BASE_BIN
    [ "$2" = on ] && flags=(--stats)
    python3 "$timed" "$work/$1-$2.times" "$bin" backup "$work/$1.conf" --job bench \
        --catalog "$work/catalog.db" --archive "$work/volumes" --json "${flags[@]}"
}
for round in $(seq 1 "$rounds"); do
    for config in "${configs[@]}"; do
        count=${#variants[@]}
        for offset in $(seq 0 $((count - 1))); do
            run "$config" "${variants[$(((round + offset) % count))]}"
        done
    done
done

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "config  variant  wall_s  cpu_s (user+sys)  (medians of $rounds; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
for config in "${configs[@]}"; do
    for variant in "${variants[@]}"; do
        file=$work/$config-$variant.times
        wall=$(awk '{print $1}' "$file" | median)
        cpu=$(awk '{print $2 + $3}' "$file" | median)
        echo "$config  $variant  $wall  $cpu"
    done
    off=$(awk '{print $2 + $3}' "$work/$config-off.times" | median)
    on=$(awk '{print $2 + $3}' "$work/$config-on.times" | median)
    echo "$config  on/off CPU: $(awk -v a="$on" -v b="$off" 'BEGIN {printf "%.3f", a / b}')"
done
