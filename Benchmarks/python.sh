#!/usr/bin/env bash
# Benchmark of the Python plugin host (issue: Python option-plugin host). Small corpus (20,000 files) from
# ../shared/bench/make-corpus.sh, Full backups with:
#   none      no plugin (the baseline)
#   loaded    a plugin that is loaded but registers no event: Python start-up and one sub-interpreter, no calls
#   trivial   a handle_backup_file that returns bRC_Core (target: <= 5 µs of CPU per file over the baseline)
#   checksum  examples/plugins/bareos-fd-checksum-log (reads every file again for its SHA-256 log)
#   gzip      examples/plugins/gzip_io (takes every file over through plugin_io; stored bytes are gzip)
#   trivial-p, checksum-p, gzip-p   the same with Plugin Isolation = process (a plugin process per plugin string)
# Per D9 the overhead is CPU time (user+sys, of optionhost and of the plugin processes it reaps) over several runs,
# medians, not wall time.
#
# Usage: [VARIANTS="none trivial trivial-p"] Benchmarks/python.sh [RUNS]   (default 7; default variants: all)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-7}
work=${BENCH_WORK:-/tmp/optionhost-bench-python}
. Benchmarks/common.sh
examples=$PWD/examples/plugins
tree=$corpus/small
rm -rf "$work"; mkdir -p "$work/plugins"
files=$(find "$tree" -type f | wc -l)
bytes=$(find "$tree" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
find "$tree" -type f -print0 | xargs -0 cat >/dev/null   # warm cache

cat > "$work/plugins/loaded.py" <<'PY'
def load_bareos_plugin(plugindef):
    return 0
def parse_plugin_definition(plugindef):
    return 0
PY

config() { # name plugin-line [isolation] (replaces common.sh's: one tree)
    cat > "$work/$1.conf" <<CONF
FileSet { Name = fs; Include { Options { Signature = SHA256 $2 } File = "$tree" } }
Job { Name = bench; Type = Backup; Level = Full; FileSet = fs; Plugin Isolation = ${3:-inprocess} }
CONF
}
config none ""
config loaded "; Plugin = \"python3:module_path=$work/plugins:module_name=loaded\""
config trivial "; Plugin = \"python3:module_path=$plugins:module_name=noop\""
config checksum "; Plugin = \"python3:module_path=$examples:module_name=bareos-fd-checksum-log:log=$work/sums.txt\""
config gzip "; Plugin = \"python3:module_path=$examples:module_name=gzip_io\""
config trivial-p "; Plugin = \"python3:module_path=$plugins:module_name=noop\"" process
config checksum-p "; Plugin = \"python3:module_path=$examples:module_name=bareos-fd-checksum-log:log=$work/sums.txt\"" process
config gzip-p "; Plugin = \"python3:module_path=$examples:module_name=gzip_io\"" process
variants=${VARIANTS:-none loaded trivial checksum gzip trivial-p checksum-p gzip-p}

declare -A wall cpu rss
for variant in $variants; do
    : > "$work/$variant.times"
done
# Variants alternate run by run, so a slow phase of the machine hits all of them alike.
for i in $(seq "$runs"); do
    for variant in $variants; do
        rm -rf "$work/run"; mkdir -p "$work/run"; rm -f "$work/sums.txt"
        # wall, user+sys CPU (getrusage of the child: microseconds, not GNU time's 10 ms) and peak RSS (KiB)
        /usr/bin/python3 Benchmarks/timed-run.py "$work/$variant.times" "$bin" backup "$work/$variant.conf" \
            --job bench --catalog "$work/run/catalog.db" --archive "$work/run/volumes" 2>"$work/stderr.txt" \
            || { cat "$work/stderr.txt" >&2; exit 1; }
    done
done
for variant in $variants; do
    wall[$variant]=$(awk '{print $1}' "$work/$variant.times" | median)
    cpu[$variant]=$(awk '{print $2 + $3}' "$work/$variant.times" | median)
    rss[$variant]=$(awk '{print $4}' "$work/$variant.times" | median)
done

echo "small corpus: $files files, $bytes bytes; $runs runs each, medians"
printf '%-9s %8s %8s %10s %10s %14s %9s\n' variant wall_s cpu_s files/s MB/s cpu_us/file+ peak_MiB
for variant in $variants; do
    awk -v v="$variant" -v w="${wall[$variant]}" -v c="${cpu[$variant]}" -v c0="${cpu[none]}" -v f="$files" \
        -v b="$bytes" -v r="${rss[$variant]}" 'BEGIN {
        printf "%-9s %8.3f %8.4f %10.0f %10.1f %14.2f %9.1f\n", v, w, c, f/w, b/1e6/w, (c-c0)*1e6/f, r/1024 }'
done
echo "cpu_us/file+ = (median CPU of the variant - median CPU without a plugin) / files"
if [ -n "${cpu[loaded]:-}" ] && [ -n "${cpu[trivial]:-}" ]; then
    awk -v a="${cpu[trivial]}" -v l="${cpu[loaded]}" -v f="$files" 'BEGIN {
        printf "handle_backup_file returning bRC_Core alone (trivial - loaded): %.2f us of CPU per file\n", (a-l)*1e6/f }'
fi
for pair in trivial checksum gzip; do
    [ -n "${cpu[$pair]:-}" ] && [ -n "${cpu[$pair-p]:-}" ] || continue
    awk -v p="$pair" -v a="${cpu[$pair]}" -v b="${cpu[$pair-p]}" -v f="$files" 'BEGIN {
        printf "%s, Plugin Isolation = process - inprocess: %.2f us of CPU per file (%.3fx)\n", p, (b-a)*1e6/f, b/a }'
done
