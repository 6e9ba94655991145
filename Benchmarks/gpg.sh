#!/usr/bin/env bash
# Benchmark of the gpg stage (issue: gpg stage), in one run with restic as the peer, variants alternating run by
# run, medians of RUNS (wall files/s and MB/s, user+sys CPU):
#   small corpus (20,000 files): plain | gpg per-file (one cv25519 recipient) | gpg per-job | gpg per-file with a
#     master key (two cv25519 recipients) | gpg per-file to RSA-3072 | restic backup
#   restore of the small corpus: ours (gpg per-file, job key through GPGME once) | restic restore | cp -a
#   large corpus (4 x 256 MiB): gpg per-file | restic backup
# Targets: per-file >= 5,000 files/s, per-job >= 15,000 files/s, large >= 300 MB/s, restore >= 3,000 files/s and
# not slower than restic's.
#
# Usage: Benchmarks/gpg.sh [RUNS]   (default 3; CORPUS=/tmp/corpus, BENCH_WORK=/tmp/optionhost-bench-gpg)
# Needs: gnupg, restic (apt-get install gnupg restic); a missing restic leaves its rows out.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
work=${BENCH_WORK:-/tmp/optionhost-bench-gpg}
. Benchmarks/common.sh
rm -rf "$work"; mkdir -p "$work/gnupg"; chmod 700 "$work/gnupg"
export GNUPGHOME=$work/gnupg
fpr() { gpg --batch --with-colons --list-keys "$1" 2>/dev/null | awk -F: '/^fpr/ {print $10; exit}'; }
key() { # uid: ed25519 primary with a cv25519 encryption subkey
    gpg --batch --quiet --passphrase '' --quick-gen-key "$1" future-default default never 2>/dev/null; fpr "$1"; }
rsakey() { # uid: RSA-3072 primary with an RSA-3072 encryption subkey
    gpg --batch --quiet --passphrase '' --quick-gen-key "$1" rsa3072 cert never 2>/dev/null
    gpg --batch --quiet --passphrase '' --quick-add-key "$(fpr "$1")" rsa3072 encr never 2>/dev/null; fpr "$1"; }
cv=$(key 'Bench <bench@example.org>')
master=$(key 'Master <master@example.org>')
rsa=$(rsakey 'RSA <rsa@example.org>')

small=$corpus/small
large=$corpus/large
config plain "$small" ""
config perfile "$small" "; Plugin = \"gpg:recipient=$cv\""
config perjob "$small" "; Plugin = \"gpg:recipient=$cv:session_key=per-job\""
config master "$small" "; Plugin = \"gpg:recipient=$cv:master=$master\""
config rsa "$small" "; Plugin = \"gpg:recipient=$rsa\""
config large "$large" "; Plugin = \"gpg:recipient=$cv\""

files() { find "$1" -type f | wc -l; }
bytes() { find "$1" -type f -printf '%s\n' | awk '{s+=$1} END {print s}'; }
ours() { # variant (backup into $work/run-VARIANT)
    rm -rf "$work/run-$1"; mkdir -p "$work/run-$1"
    python3 Benchmarks/timed-run.py "$work/$1.times" "$bin" backup "$work/$1.conf" --job bench \
        --catalog "$work/run-$1/catalog.db" --archive "$work/run-$1/volumes" 2>"$work/stderr.txt" \
        || { cat "$work/stderr.txt" >&2; exit 1; }
}
have_restic=$(command -v restic >/dev/null && echo yes || echo no)
export RESTIC_PASSWORD=bench
restic_backup() { # label tree
    rm -rf "$work/restic-$1"; restic -q init -r "$work/restic-$1" >/dev/null
    RESTIC_CACHE_DIR=$work/restic-cache python3 Benchmarks/timed-run.py "$work/restic-$1.times" \
        restic -q -r "$work/restic-$1" backup "$2"
}
report() { # label files bytes variants...
    local label=$1 f=$2 b=$3; shift 3
    echo "$label: $f files, $b bytes; $runs runs each, medians"
    printf '%-16s %8s %8s %10s %8s %9s\n' variant wall_s cpu_s files/s MB/s peak_MiB
    for v in "$@"; do
        [ -s "$work/$v.times" ] || continue
        local w c r
        w=$(awk '{print $1}' "$work/$v.times" | median)
        c=$(awk '{print $2 + $3}' "$work/$v.times" | median)
        r=$(awk '{print $4}' "$work/$v.times" | median)
        awk -v v="$v" -v w="$w" -v c="$c" -v f="$f" -v b="$b" -v r="$r" 'BEGIN {
            printf "%-16s %8.3f %8.3f %10.0f %8.1f %9.1f\n", v, w, c, f/w, b/1e6/w, r/1024 }'
    done
}

sf=$(files "$small"); sb=$(bytes "$small")
find "$small" -type f -print0 | xargs -0 cat >/dev/null
for i in $(seq "$runs"); do
    for v in plain perfile perjob master rsa; do ours "$v"; done
    [ "$have_restic" = yes ] && restic_backup small "$small"
done
report "small corpus, backup" "$sf" "$sb" plain perfile perjob master rsa restic-small

# Restore of what the per-file run stored (the job key comes from gpg-agent once), against restic and cp -a.
for i in $(seq "$runs"); do
    rm -rf "$work/where"; mkdir -p "$work/where"
    python3 Benchmarks/timed-run.py "$work/restore-ours.times" "$bin" restore --catalog "$work/run-perfile/catalog.db" \
        --jobid 1 --where "$work/where"
    if [ "$have_restic" = yes ]; then
        rm -rf "$work/where-restic"; mkdir -p "$work/where-restic"
        RESTIC_CACHE_DIR=$work/restic-cache python3 Benchmarks/timed-run.py "$work/restore-restic.times" \
            restic -q -r "$work/restic-small" restore latest --target "$work/where-restic"
    fi
    rm -rf "$work/where-cp"
    python3 Benchmarks/timed-run.py "$work/restore-cp.times" cp -a "$small" "$work/where-cp"
done
cmp <(cd "$small" && find . -type f -exec sha256sum {} + | sort) \
    <(cd "$work/where$small" && find . -type f -exec sha256sum {} + | sort) >/dev/null \
    || { echo "the restored tree differs from the original" >&2; exit 1; }
report "small corpus, restore (encrypted per file)" "$sf" "$sb" restore-ours restore-restic restore-cp

lf=$(files "$large"); lb=$(bytes "$large")
find "$large" -type f -print0 | xargs -0 cat >/dev/null
for i in $(seq "$runs"); do
    ours large
    [ "$have_restic" = yes ] && restic_backup large "$large"
done
report "large corpus, backup" "$lf" "$lb" large restic-large

echo "the writer and reader alone, in memory (optionhost bench openpgp):"
"$bin" bench openpgp "$cv"
"$bin" bench openpgp "$rsa" --reused 1 --stream-mib 1 | head -1 | sed 's/^/RSA-3072: /'
gpgconf --kill gpg-agent
