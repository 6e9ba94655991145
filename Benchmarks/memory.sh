#!/usr/bin/env bash
# Peak RSS of the release optionhost (issue 11, Deliver 2: flat memory, <= 64 MiB): Full backup and restore of
# corpora of 10k / 50k / 200k small files, without a plugin (plain) and with a Python plugin in the chain (python:
# a handle_backup_file that returns bRC_Core, the no-op plugin of Benchmarks/python.sh, so the interpreter runs
# for every file). Peak RSS is GNU time's "Maximum resident set size".
#
# The corpora are made under WORK (default /tmp/optionhost-bench-memory): COUNT files of 0-8 KiB of random bytes,
# 100 per directory (random.Random(42)), and removed at the end.
#
# Usage: Benchmarks/memory.sh [COUNTS...]   (default: 10000 50000 200000)
# Env: BIN=path/to/optionhost to measure another build (default: builds and uses .build/release/optionhost).
set -euo pipefail
cd "$(dirname "$0")/.."
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(10000 50000 200000)
work=${BENCH_WORK:-/tmp/optionhost-bench-memory}
if [ -z "${BIN:-}" ]; then
    swift build -c release --product optionhost >/dev/null
    BIN=$PWD/.build/release/optionhost
fi
rm -rf "$work"; mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
COMMON_SETUP=no
. Benchmarks/common.sh  # make_tree


# peak KIB-VAR command...: runs the command, sets the variable to its peak RSS in KiB.
peak() {
    local var=$1; shift
    /usr/bin/time -v -o "$work/time.txt" "$@" >/dev/null 2>"$work/stderr.txt" \
        || { cat "$work/stderr.txt" "$work/time.txt" >&2; exit 1; }
    printf -v "$var" '%s' "$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.txt")"
}

printf '%-8s %-8s %12s %13s\n' files variant backup_MiB restore_MiB
for count in "${counts[@]}"; do
    tree=$work/tree-$count
    make_tree "$tree" "$count"
    for variant in plain python; do
        plugin=""
        [ "$variant" = python ] && plugin="; Plugin = \"python3:module_path=$PWD/examples/plugins:module_name=noop\""
        cat > "$work/$variant.conf" <<CONF
FileSet { Name = fs; Include { Options { Signature = SHA256 $plugin } File = "$tree" } }
Job { Name = bench; Type = Backup; Level = Full; FileSet = fs }
CONF
        run=$work/run-$variant
        rm -rf "$run"; mkdir -p "$run"
        peak backup "$BIN" backup "$work/$variant.conf" --job bench --catalog "$run/catalog.db" --archive "$run/volumes"
        peak restore "$BIN" restore --catalog "$run/catalog.db" --jobid 1 --where "$run/restore"
        awk -v c="$count" -v v="$variant" -v b="$backup" -v r="$restore" \
            'BEGIN { printf "%-8s %-8s %12.1f %13.1f\n", c, v, b/1024, r/1024 }'
        rm -rf "$run"
    done
    rm -rf "$tree"
done
