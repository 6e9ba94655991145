#!/usr/bin/env bash
# Restore against peers (issue 11, Deliver 1): optionhost with 1 and N worker threads, restic restore, borg extract
# (compression none) and `cp -a` (the physical baseline) on the small and real corpora, in the same run.
#
# Every tool restores the same tree from a repository made once, untimed; each timed run writes to a fresh
# target directory and ends with `sync` (optionhost syncs itself; the others would leave their data in the page
# cache), so all rows pay the same writeback. Rounds alternate the tools, starting each round with the next one,
# so a slow spell of this shared machine does not land on one tool. Targets are removed only after the last
# round: on this ext4 (no journal) creating files shortly after deleting many is several times slower (the
# inode allocator skips recently deleted inodes), which would land on whichever tool ran after a removal.
#
# Usage: Benchmarks/restore.sh [RUNS] [CORPORA]   (default 3 rounds, "small real"; medians are reported)
# Needs: restic and borgbackup (apt-get install restic borgbackup); a missing peer is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
corpora=${2:-small real}
work=${BENCH_WORK:-/tmp/optionhost-restore-bench}
rm -rf "$work"; mkdir -p "$work"
. Benchmarks/common.sh
timed=$PWD/Benchmarks/timed-run.py
cores=$(nproc)
export RESTIC_PASSWORD=bench BORG_PASSPHRASE=bench BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes

warm() { find "$1" -type f -print0 | xargs -0 cat >/dev/null; }
load() { cut -d' ' -f1 /proc/loadavg; }

# One timed run: `timed-run.py` appends "wall user sys maxrss_kib" to $work/times-TOOL.
run() { # tool target command...
    local tool=$1 target=$2; shift 2
    sync
    python3 "$timed" "$work/times-$tool" sh -c '"$@" && sync' sh "$@" || { echo "$tool failed" >&2; exit 1; }
}

printf '%-6s %-22s %8s %8s %8s %9s %8s %9s %8s\n' corpus tool median_s min_s max_s files/s "x ours" CPU_s peak_MiB
for name in $corpora; do
    tree=$corpus/$name
    files=$(find "$tree" -type f | wc -l)
    config "$name" "$tree" ""
    "$bin" backup "$work/$name.conf" --job bench --catalog "$work/op/catalog.db" --archive "$work/op/volumes" \
        >/dev/null
    tools=("optionhost-1" "optionhost-$cores")
    if command -v restic >/dev/null; then
        restic -q init -r "$work/restic" >/dev/null
        RESTIC_CACHE_DIR=$work/restic-cache restic -q -r "$work/restic" backup "$tree" >/dev/null
        tools+=(restic)
    fi
    if command -v borg >/dev/null; then
        BORG_BASE_DIR=$work/borg-base borg init -e repokey "$work/borg" >/dev/null 2>&1
        BORG_BASE_DIR=$work/borg-base borg create --compression none "$work/borg::a" "$tree"
        tools+=(borg)
    fi
    tools+=("cp-a")
    warm "$tree"
    rm -f "$work"/times-*
    sync; sleep "${SETTLE:-90}"  # the same for the files the setup above deleted (restic and borg temporaries)
    loads="$(load)"
    for round in $(seq "$runs"); do
        for k in $(seq 0 $((${#tools[@]} - 1))); do
            tool=${tools[$(((round + k) % ${#tools[@]}))]}
            target=$work/t-$tool-$round
            case $tool in
                optionhost-*)
                    run "$tool" "$target" "$bin" restore --catalog "$work/op/catalog.db" --jobid 1 --where "$target" \
                        --workers "${tool#optionhost-}" ;;
                restic)
                    run restic "$target" env RESTIC_CACHE_DIR="$work/restic-cache" \
                        restic -q -r "$work/restic" restore latest --target "$target" ;;
                borg)
                    mkdir -p "$target"
                    run borg "$target" sh -c 'cd "$1" && BORG_BASE_DIR="$2" borg extract "$3::a"' sh "$target" \
                        "$work/borg-base" "$work/borg" ;;
                cp-a)
                    mkdir -p "$target"
                    run cp-a "$target" cp -a "$tree" "$target/" ;;
            esac
        done
        loads="$loads $(load)"
    done
    # The restored trees are the corpus (ours with --where: the absolute path below the target).
    diff -r "$tree" "$work/t-optionhost-$cores-1$tree" >/dev/null || { echo "optionhost restore differs" >&2; exit 1; }
    ours=$(cut -d' ' -f1 "$work/times-optionhost-$cores" | median)
    for tool in "${tools[@]}"; do
        walls=$(cut -d' ' -f1 "$work/times-$tool")
        wall=$(echo "$walls" | median)
        cpu=$(awk '{print $2 + $3}' "$work/times-$tool" | median)
        rss=$(cut -d' ' -f4 "$work/times-$tool" | sort -g | tail -1)
        awk -v c="$name" -v t="$tool" -v w="$wall" -v lo="$(echo "$walls" | sort -g | head -1)" \
            -v hi="$(echo "$walls" | sort -g | tail -1)" -v f="$files" -v o="$ours" -v cpu="$cpu" -v r="$rss" 'BEGIN {
            printf "%-6s %-22s %8.3f %8.3f %8.3f %9.0f %8.2f %9.3f %8.1f\n", c, t, w, lo, hi, f/w, w/o, cpu, r/1024 }'
    done
    echo "  $name: $files files, $runs alternating rounds; 1-minute load average before and after each round: $loads"
    rm -rf "$work"/t-* "$work/op" "$work/restic" "$work/restic-cache" "$work/borg" "$work/borg-base"
    # Let the inodes just freed stop counting as recently deleted before the next corpus is created.
    sync; sleep "${SETTLE:-90}"
done
rm -rf "$work"
