#!/usr/bin/env bash
# Benchmark of the engine-core issue: plain full backup and restore against peers, on the same corpora, in the
# same run. Corpora come from ../shared/bench/make-corpus.sh (deterministic).
#
# Targets: small-corpus backup >= 12,000 files/s; large corpus within 1.15x of `cat FILES > SAME_DISK; sync`;
# small-corpus restore >= 8,000 files/s; peak RSS <= 64 MiB on every corpus.
#
# Usage: Benchmarks/backup.sh [RUNS]   (default 3; medians are reported)
# Needs: restic and borgbackup for the peer rows (apt-get install restic borgbackup); missing peers are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
corpus=${CORPUS:-/tmp/corpus}
work=${BENCH_WORK:-/tmp/optionhost-bench}
shared=../shared/bench/make-corpus.sh
[ -f "$shared" ] || { echo "missing $shared" >&2; exit 2; }
CORPUS=$corpus sh "$shared" >/dev/null
swift build -c release --product optionhost >/dev/null
bin=$PWD/.build/release/optionhost
rm -rf "$work"; mkdir -p "$work"

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# time_run OUTVAR command...: wall seconds and peak RSS (KiB) of one run, via GNU time.
run_timed() {
    local out=$work/time.txt
    /usr/bin/time -f "%e %M" -o "$out" "$@" >/dev/null 2>"$work/stderr.txt" || { cat "$work/stderr.txt" >&2; return 1; }
    cat "$out"
}
warm() { find "$1" -type f -print0 | xargs -0 cat >/dev/null; }
files_in() { find "$1" -type f | wc -l; }
bytes_in() { find "$1" -type f -printf '%s\n' | awk '{s+=$1} END {print s}'; }

printf '%-8s %-26s %10s %10s %10s %10s\n' corpus tool wall_s MB/s files/s peak_MiB
row() { # corpus tool wall bytes files rss_kib
    awk -v c="$1" -v t="$2" -v w="$3" -v b="$4" -v f="$5" -v r="$6" 'BEGIN {
        printf "%-8s %-26s %10.3f %10.1f %10.0f %10.1f\n", c, t, w, b/1e6/w, f/w, r/1024 }'
}

for name in small large; do
    tree=$corpus/$name
    files=$(files_in "$tree"); bytes=$(bytes_in "$tree")
    warm "$tree"
    cat > "$work/$name.conf" <<CONF
FileSet { Name = bench-$name; Include { Options { Signature = SHA256 } File = "$tree" } }
Job { Name = bench-$name; Type = Backup; Level = Full; FileSet = bench-$name }
CONF

    if [ "$name" = large ]; then
        # The physical limit and our backup alternate run by run: the disk's durable speed here swings with the
        # host's cache (measured 250 MB/s to 1.3 GB/s), so each pair is measured under the same conditions.
        walls=(); ours=(); ratios=()
        for i in $(seq "$runs"); do
            rm -f "$work/cat.out"; sync
            start=$(date +%s.%N)
            find "$tree" -type f -print0 | sort -z | xargs -0 cat > "$work/cat.out"; sync
            end=$(date +%s.%N)
            cat_wall=$(echo "$end - $start" | bc)
            rm -f "$work/cat.out"; rm -rf "$work/pair-$i"; mkdir -p "$work/pair-$i"; sync
            read -r w _ < <(run_timed "$bin" backup "$work/$name.conf" --job "bench-$name" \
                --catalog "$work/pair-$i/catalog.db" --archive "$work/pair-$i/volumes")
            rm -rf "$work/pair-$i"
            walls+=("$cat_wall"); ours+=("$w"); ratios+=("$(echo "scale=3; $w / $cat_wall" | bc)")
        done
        row "$name" "cat FILES > disk; sync" "$(printf '%s\n' "${walls[@]}" | median)" "$bytes" "$files" 0
        echo "  paired runs, optionhost / cat+sync: ${ratios[*]} (median $(printf '%s\n' "${ratios[@]}" | median); target <= 1.15)"
    fi

    walls=(); rss=()
    for i in $(seq "$runs"); do
        rm -rf "$work/op-$i"; mkdir -p "$work/op-$i"; sync
        read -r w r < <(run_timed "$bin" backup "$work/$name.conf" --job "bench-$name" \
            --catalog "$work/op-$i/catalog.db" --archive "$work/op-$i/volumes")
        walls+=("$w"); rss+=("$r")
    done
    row "$name" "optionhost backup" "$(printf '%s\n' "${walls[@]}" | median)" "$bytes" "$files" \
        "$(printf '%s\n' "${rss[@]}" | sort -g | tail -1)"

    if [ "$name" = small ]; then
        walls=(); rss=()
        for i in $(seq "$runs"); do
            sync
            read -r w r < <(run_timed "$bin" restore --catalog "$work/op-1/catalog.db" --jobid 1 --where "$work/restore-$i")
            walls+=("$w"); rss+=("$r")
        done
        row "$name" "optionhost restore" "$(printf '%s\n' "${walls[@]}" | median)" "$bytes" "$files" \
            "$(printf '%s\n' "${rss[@]}" | sort -g | tail -1)"
        diff -r "$tree" "$work/restore-1$tree" >/dev/null && echo "  (restore verified identical with diff -r)"
        walls=()
        for i in $(seq "$runs"); do
            sync  # fresh target names: re-creating a just-deleted tree is much slower on ext4 with discard
            start=$(date +%s.%N); cp -a "$tree" "$work/cp-$i"; sync; end=$(date +%s.%N)
            walls+=("$(echo "$end - $start" | bc)")
        done
        row "$name" "cp -a; sync (floor)" "$(printf '%s\n' "${walls[@]}" | median)" "$bytes" "$files" 0
        rm -rf "$work"/cp-* "$work"/restore-*
    fi

    if command -v restic >/dev/null; then
        export RESTIC_PASSWORD=bench
        restic -q init -r "$work/restic-empty" >/dev/null
        walls=(); rss=()
        for i in $(seq "$runs"); do
            rm -rf "$work/restic-$i"; cp -a "$work/restic-empty" "$work/restic-$i"; sync
            read -r w r < <(RESTIC_CACHE_DIR=$work/restic-cache-$i run_timed restic -q -r "$work/restic-$i" backup "$tree")
            walls+=("$w"); rss+=("$r")
        done
        row "$name" "restic backup" "$(printf '%s\n' "${walls[@]}" | median)" "$bytes" "$files" \
            "$(printf '%s\n' "${rss[@]}" | sort -g | tail -1)"
        if [ "$name" = small ]; then
            walls=()
            for i in $(seq "$runs"); do
                sync
                read -r w r < <(RESTIC_CACHE_DIR=$work/restic-cache-1 run_timed restic -q -r "$work/restic-1" restore latest --target "$work/restic-restore-$i")
                walls+=("$w")
            done
            row "$name" "restic restore" "$(printf '%s\n' "${walls[@]}" | median)" "$bytes" "$files" 0
        fi
        rm -rf "$work"/restic-*
    fi

    if command -v borg >/dev/null; then
        export BORG_PASSPHRASE=bench BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes
        BORG_BASE_DIR=$work/borg-base borg init -e repokey "$work/borg-empty" >/dev/null 2>&1
        walls=(); rss=()
        for i in $(seq "$runs"); do
            rm -rf "$work/borg-$i"; cp -a "$work/borg-empty" "$work/borg-$i"; sync
            read -r w r < <(BORG_BASE_DIR=$work/borg-base-$i run_timed borg create --compression none "$work/borg-$i::a" "$tree")
            walls+=("$w"); rss+=("$r")
        done
        row "$name" "borg create (none)" "$(printf '%s\n' "${walls[@]}" | median)" "$bytes" "$files" \
            "$(printf '%s\n' "${rss[@]}" | sort -g | tail -1)"
        rm -rf "$work"/borg-*
    fi
done
rm -rf "$work"
