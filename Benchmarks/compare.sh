#!/usr/bin/env bash
# The comparison harness of issue 13: our backup and restore in every variant and the peers on the same corpora,
# in one run, written up as BENCHMARKS.md with a PNG plot beside it (Benchmarks/report.py).
#
#   ours, backup   plain | +checksum log | +owner | +index | +gpg per-file | +gpg per-job | +no-op Python plugin |
#                  +the checksum-log Python example | Incremental after 1% of the files changed
#   ours, restore  of the plain, gpg per-file and gpg per-job backups (observing stages and decision-only plugins
#                  leave the stored bytes as they are: their restore is the plain one)
#   peers          restic backup/restore, borg create/extract (compression none), duplicity full/restore (gpg key,
#                  gpg compression off), tar | gpg and gpg -d | tar, sha256sum, hashdeep, cp -a (restore)
#   limits         cat of every file to one file on the same disk + sync; openssl speed (SHA-256, SHA-1, AES)
#
# Method: every step of a round is one timed run (Benchmarks/timed-run.py: wall, user+sys CPU, peak RSS) of one
# row, ending with `sync` inside the timed interval (ours fsyncs itself, borg too, the others would leave their
# writes in the page cache); the rounds alternate the rows, each round starting one row further, so a slow spell
# of the machine does not land on one tool; medians of ROUNDS. The page cache is dropped before each step when
# the kernel lets us (else every tool reads a warm cache). Restores go to fresh directories, removed only when
# the corpus is done (see restore.sh on this ext4's slow creates after deletions). A step that fails or whose
# tool is missing is reported as such in the table, never left out.
#
# Usage: Benchmarks/compare.sh [--smoke] [--no-install]
#   --smoke       seconds: debug build, a generated 300-file corpus, our rows only, 1 round, output in a temp
#                 directory, then a check that every row is filled (what .ci/run runs)
#   --no-install  do not apt-get install missing peers (their rows then say they are not installed)
# Environment: ROUNDS (3; smoke 1), CORPORA ("small real large"; smoke "tiny"), OUT (BENCHMARKS.md at the
#   repository root; the plot is OUT with .png), CORPUS (/tmp/corpus), BENCH_WORK (/tmp/optionhost-compare),
#   BIN (an optionhost to measure instead of building one), SETTLE (seconds of quiet after each corpus's set-up,
#   30), DROP_CACHES (auto|no), STEP_TIMEOUT (seconds, 900).
# A full run on the 2-core VM should take about 30 minutes (estimated from earlier runs' figures; plus the release
# build when it is not built yet) and needs about 12 GB free under /tmp besides the 1.6 GB of corpora.
set -euo pipefail
cd "$(dirname "$0")/.."
usage="usage: Benchmarks/compare.sh [--smoke] [--no-install]   (ROUNDS, CORPORA, OUT, ...: see the script's header)"
smoke=no install=yes
for argument in "$@"; do
    case $argument in
        --smoke) smoke=yes ;;
        --no-install) install=no ;;
        -h | --help) echo "$usage"; exit 0 ;;
        *) echo "$usage" >&2; exit 2 ;;
    esac
done
command_line="Benchmarks/compare.sh${*:+ $*}"
for variable in STEP_TIMEOUT DROP_CACHES SETTLE BIN BENCH_WORK CORPUS OUT CORPORA ROUNDS; do
    [ -n "${!variable:-}" ] && command_line="$variable=\"${!variable}\" $command_line"
done

if [ "$smoke" = yes ]; then
    rounds=${ROUNDS:-1}
    corpora=${CORPORA:-tiny}
    work=${BENCH_WORK:-$(mktemp -d /tmp/optionhost-compare-smoke.XXXXXX)}
    out=${OUT:-$work/BENCHMARKS.md}
    settle=${SETTLE:-0}
    drop=no
    with_peers=no
else
    rounds=${ROUNDS:-3}
    corpora=${CORPORA:-small real large}
    work=${BENCH_WORK:-/tmp/optionhost-compare}
    out=${OUT:-$PWD/BENCHMARKS.md}
    settle=${SETTLE:-30}
    drop=${DROP_CACHES:-auto}
    with_peers=yes
fi
case $out in /*) ;; *) out=$PWD/$out ;; esac
timer=$PWD/Benchmarks/timed-run.py
COMMON_SETUP=no
. Benchmarks/common.sh
started=$(date +%s)
progress() { printf '[%s] %s\n' "$(date -u -d "@$(($(date +%s) - started))" +%M:%S)" "$*"; }

rm -rf "$work"; mkdir -p "$work"/{meta,times,gnupg,src,restore,run}
mkdir -p "$(dirname "$out")"  # after the removal: OUT may be inside BENCH_WORK
chmod 700 "$work/gnupg"
export GNUPGHOME=$work/gnupg RESTIC_PASSWORD=bench BORG_PASSPHRASE=bench PASSPHRASE=
export BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
trap 'gpgconf --kill gpg-agent 2>/dev/null || true' EXIT

# --- tools ------------------------------------------------------------------------------------------------------
peer_packages=(restic borgbackup duplicity gnuplot-nox hashdeep gnupg openssl time)
if [ "$with_peers" = yes ] && [ "$install" = yes ]; then
    missing=()
    for package in "${peer_packages[@]}"; do dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package"); done
    if ((${#missing[@]})); then
        progress "installing ${missing[*]} (apt-get)"
        { DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >"$work/meta/apt.log" 2>&1 \
            || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"; } \
            >>"$work/meta/apt.log" 2>&1; } || progress "apt-get failed (see the rows of the missing tools)"
    fi
fi
build=release
if [ -n "${BIN:-}" ]; then
    bin=$BIN build="given with BIN, not built here"
elif [ "$smoke" = yes ]; then
    progress "building optionhost (debug)"
    build=debug
    build_optionhost debug
else
    progress "building optionhost (release)"
    build_optionhost release
fi

# --- corpora ----------------------------------------------------------------------------------------------------
tree_of() { if [ "$1" = tiny ]; then echo "$work/tiny/tiny"; else echo "$corpus/$1"; fi; }
make_tiny() { # 300 files of 1-16 KiB, half text, half random bytes, in 10 directories (make-corpus.sh in small)
    python3 - "$work/tiny/tiny" <<'PY'
import os, random, sys
rng = random.Random(7)
words = "backup archive checksum catalog index search file tree owner encrypt stream".split()
for n in range(300):
    d = os.path.join(sys.argv[1], "d%02d" % (n % 10))
    os.makedirs(d, exist_ok=True)
    size = rng.randint(1024, 16384)
    if n % 2:
        data = rng.randbytes(size)
    else:
        data = " ".join(rng.choice(words) for _ in range(size // 6)).encode()[:size]
    with open(os.path.join(d, "f%04d.%s" % (n, "bin" if n % 2 else "txt")), "wb") as f:
        f.write(data)
PY
}
case " $corpora " in
    *" small "* | *" real "* | *" large "*) progress "making the corpora ($shared)"; make_corpora ;;
esac
case " $corpora " in *" tiny "*) make_tiny ;; esac

# --- keys, plugins ----------------------------------------------------------------------------------------------
fpr=$(make_gpg_key 'Bench <bench@example.org>')
[ -n "$fpr" ] || { echo "could not make a GnuPG key (is gnupg installed?)" >&2; exit 1; }
examples=$PWD/examples/plugins

# --- what was measured with what --------------------------------------------------------------------------------
version() { "$@" 2>&1 | head -1 || true; }
{
    printf 'optionhost\t%s (build: %s; %s)\n' "$(git describe --always --dirty 2>/dev/null || echo unknown)" \
        "$build" "$bin"
    printf 'swift\t%s\n' "$(version swift --version)"
    for tool in restic borg duplicity gpg tar sha256sum hashdeep openssl python3 gnuplot; do
        if command -v "$tool" >/dev/null; then
            case $tool in
                hashdeep) printf '%s\t%s\n' "$tool" "$(hashdeep -V 2>&1 | head -1)" ;;
                openssl | restic) printf '%s\t%s\n' "$tool" "$(version "$tool" version)" ;;
                *) printf '%s\t%s\n' "$tool" "$(version "$tool" --version)" ;;
            esac
        else
            printf '%s\tnot installed\n' "$tool"
        fi
    done
} > "$work/meta/versions.tsv"
{
    printf 'cpu\t%s\n' "$(lscpu 2>/dev/null | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2; exit}')"
    printf 'cores\t%s\n' "$(nproc)"
    printf 'memory\t%s\n' "$(free -h | awk '/^Mem:/ {print $2}')"
    printf 'kernel\t%s\n' "$(uname -r)"
    printf 'os\t%s\n' "$(. /etc/os-release && echo "$PRETTY_NAME")"
    printf 'disk\t%s\n' "$(findmnt -no FSTYPE,SOURCE,OPTIONS -T "$work" | head -1)"
    printf 'date\t%s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
    printf 'command\t%s\n' "$command_line"
    printf 'rounds\t%s\n' "$rounds"
    printf 'mode\t%s\n' "$([ "$smoke" = yes ] && echo smoke || echo full)"
} > "$work/meta/machine.tsv"

# Dropping the page cache before each step makes every tool read cold data; where the kernel refuses, all read warm.
cache=warm
if [ "$drop" = auto ] && sync && (echo 3 > /proc/sys/vm/drop_caches) 2>/dev/null; then cache=dropped; fi
printf 'cache\t%s\n' "$cache" >> "$work/meta/machine.tsv"
drop_caches() { if [ "$cache" = dropped ]; then sync; (echo 3 > /proc/sys/vm/drop_caches) 2>/dev/null || true; fi; }

# --- physical limits: openssl speed, once ------------------------------------------------------------------------
if [ "$smoke" = no ]; then
    for algorithm in sha256 sha1 aes-256-cfb aes-256-gcm; do
        progress "openssl speed $algorithm"
        openssl speed -seconds 3 -bytes 16384 -evp "$algorithm" > "$work/meta/openssl-$algorithm.txt" 2>/dev/null \
            || echo "failed" > "$work/meta/openssl-$algorithm.txt"
    done
fi

# --- rows ---------------------------------------------------------------------------------------------------------
# meta/rows-CORPUS.tsv: id, side (backup|restore), who (ours|peer|limit), label, command (as run, with CORPUS
# paths). report.py builds the tables from it and from times/CORPUS/ID.times (and ID.failed).
row() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >> "$work/meta/rows-$c.tsv"; }

# timed ID COMMAND...: one timed run (plus sync) of a row; a failure is recorded as the row's reason instead.
# OKMAX=1 accepts exit 1 (optionhost: the job finished with warnings).
timed() {
    local id=$1; shift
    local times=$work/times/$c/$id.times
    drop_caches
    rm -f "$work/step.times" "$work/step.rc"
    if OKMAX=${OKMAX:-0} RCFILE=$work/step.rc ERRFILE=$work/step.err python3 "$timer" "$work/step.times" \
        timeout "${STEP_TIMEOUT:-900}" \
        sh -c '"$@" 2>"$ERRFILE"; rc=$?; echo $rc >"$RCFILE"; [ $rc -le "$OKMAX" ] && sync' \
        sh "$@"; then
        cat "$work/step.times" >> "$times"
        [ "$(cat "$work/step.rc")" = 0 ] || echo "exit $(cat "$work/step.rc"): finished with warnings" \
            > "$work/times/$c/$id.warned"
    else
        local rc
        rc=$(cat "$work/step.rc" 2>/dev/null || echo "timeout")
        printf 'failed (exit %s): %s\n' "$rc" \
            "$(grep -v '^\s*$' "$work/step.err" 2>/dev/null | tail -1 | cut -c1-160)" \
            > "$work/times/$c/$id.failed"
        progress "  $id failed: $(cat "$work/times/$c/$id.failed")"
    fi
}

missing_tool() { # ID TOOL: true (and the reason recorded) when TOOL is not installed
    command -v "$2" >/dev/null && return 1
    echo "not run: $2 is not installed (apt-get install failed or --no-install)" > "$work/times/$c/$1.failed"
}

ours_backup() { # ID [extra arguments]
    local id=$1; shift
    rm -rf "$work/run"; mkdir -p "$work/run"
    OKMAX=1 timed "$id" "$bin" backup "$work/$id-$c.conf" --job bench --catalog "$work/run/catalog.db" \
        --archive "$work/run/volumes" "$@"
    rm -rf "$work/run"
}

# The Incremental row: an untimed Full of a copy of the corpus, 1% of the files rewritten, the timed Incremental;
# then a check that it was an Incremental that stored exactly the changed files.
ours_incremental() {
    local incr=$work/incr-$c changed
    rm -rf "$work/run"; mkdir -p "$work/run"
    "$bin" backup "$work/incremental-$c.conf" --job bench --level Full --catalog "$work/run/catalog.db" \
        --archive "$work/run/volumes" >/dev/null 2>&1 \
        || { echo "failed: the untimed Full" > "$work/times/$c/incremental.failed"; return; }
    rewrite_every_100th "$incr"
    changed=$(find "$incr" -type f | sort | awk 'NR % 100 == 1' | wc -l)
    OKMAX=1 timed incremental "$bin" backup "$work/incremental-$c.conf" --job bench --level Incremental \
        --catalog "$work/run/catalog.db" --archive "$work/run/volumes"
    "$bin" list jobs --catalog "$work/run/catalog.db" --json | python3 -c '
import json, sys
jobs = [json.loads(line) for line in sys.stdin if line.strip()]
job = max((j for j in jobs if j.get("type") == "job" and j.get("job_type") == "Backup"), key=lambda j: j["job_id"])
if job["level"] != "Incremental" or job["files_stored"] != int(sys.argv[1]):
    sys.exit("expected an Incremental storing %s files, got %s storing %s"
             % (sys.argv[1], job["level"], job["files_stored"]))
' "$changed" 2>"$work/check.err" \
        || { echo "failed: $(tail -1 "$work/check.err")" > "$work/times/$c/incremental.failed"; }
    rm -rf "$work/run"
}

gpg_encrypt=(gpg --batch --yes --trust-model always --compress-algo none)

step() { # ID ROUND: one timed run of row ID on corpus $c
    local id=$1 round=$2 tree target
    tree=$(tree_of "$c")
    target=$work/restore/$c/$id-$round
    case $id in
        plain | checksum | owner | index | gpg-file | gpg-job | py-noop | py-checksum)
            ours_backup "$id" ;;
        incremental)
            ours_incremental ;;
        restore-plain | restore-gpg-file | restore-gpg-job)
            OKMAX=1 timed "$id" "$bin" restore --catalog "$work/src/$c/${id#restore-}/catalog.db" --jobid 1 \
                --where "$target" ;;
        restic)
            missing_tool "$id" restic && return
            rm -rf "$work/run"; mkdir -p "$work/run"; cp -a "$work/src/$c/restic-empty" "$work/run/repo"
            timed "$id" env RESTIC_CACHE_DIR="$work/run/cache" restic -q -r "$work/run/repo" backup "$tree"
            rm -rf "$work/run" ;;
        borg)
            missing_tool "$id" borg && return
            rm -rf "$work/run"; mkdir -p "$work/run"; cp -a "$work/src/$c/borg-empty" "$work/run/repo"
            # borg's exit 1 is its "warning" (the archive was made), like optionhost's.
            OKMAX=1 timed "$id" env BORG_BASE_DIR="$work/run/base" \
                borg create --compression none "$work/run/repo::a" "$tree"
            rm -rf "$work/run" ;;
        duplicity)
            missing_tool "$id" duplicity && return
            rm -rf "$work/run"; mkdir -p "$work/run"
            timed "$id" duplicity full --encrypt-key "$fpr" --gpg-options=--compress-algo=none --no-print-statistics \
                --archive-dir "$work/run/archive" --name b "$tree" "file://$work/run/repo"
            rm -rf "$work/run" ;;
        tar-gpg)
            rm -rf "$work/run"; mkdir -p "$work/run"
            timed "$id" sh -c 'd=$1 b=$2; shift 2; tar -cf - -C "$d" "$b" | "$@"' \
                sh "$(dirname "$tree")" "$(basename "$tree")" \
                "${gpg_encrypt[@]}" -r "$fpr" -e -o "$work/run/tree.tar.gpg"
            rm -rf "$work/run" ;;
        sha256sum)
            rm -rf "$work/run"; mkdir -p "$work/run"
            timed "$id" sh -c 'find "$1" -type f -print0 | xargs -0 sha256sum > "$2"' sh "$tree" "$work/run/sums"
            rm -rf "$work/run" ;;
        hashdeep)
            missing_tool "$id" hashdeep && return
            rm -rf "$work/run"; mkdir -p "$work/run"
            timed "$id" sh -c 'hashdeep -r -c sha256 "$1" > "$2"' sh "$tree" "$work/run/sums"
            rm -rf "$work/run" ;;
        cat-sync)
            rm -rf "$work/run"; mkdir -p "$work/run"
            timed "$id" sh -c 'find "$1" -type f -print0 | sort -z | xargs -0 cat > "$2"' sh "$tree" "$work/run/all"
            rm -rf "$work/run" ;;
        restore-restic)
            missing_tool "$id" restic && return
            timed "$id" env RESTIC_CACHE_DIR="$work/src/$c/restic-cache" restic -q -r "$work/src/$c/restic" \
                restore latest --target "$target" ;;
        restore-borg)
            missing_tool "$id" borg && return
            mkdir -p "$target"
            OKMAX=1 timed "$id" sh -c 'cd "$1" && BORG_BASE_DIR="$2" borg extract "$3::a"' \
                sh "$target" "$work/src/$c/borg-base" "$work/src/$c/borg" ;;
        restore-duplicity)
            missing_tool "$id" duplicity && return
            timed "$id" duplicity restore --archive-dir "$work/src/$c/duplicity-archive" --name b \
                "file://$work/src/$c/duplicity" "$target" ;;
        restore-tar-gpg)
            mkdir -p "$target"
            timed "$id" sh -c 'gpg --batch -d "$1" 2>/dev/null | tar -xf - -C "$2"' \
                sh "$work/src/$c/tree.tar.gpg" "$target" ;;
        restore-cp)
            mkdir -p "$target"
            timed "$id" cp -a "$tree" "$target/" ;;
        *) echo "unknown row $id" >&2; exit 2 ;;
    esac
    # Large trees are a few big files: removing them at once costs no inode churn, and keeps the disk free.
    if [ "$c" = large ]; then rm -rf "$target"; fi
}

# Untimed set-up of one corpus: configurations, the sources the restores read (made once), the Incremental's copy.
setup_corpus() {
    local tree=$1 large=$2
    rm -f "$work/meta/rows-$c.tsv"; mkdir -p "$work/times/$c" "$work/src/$c" "$work/restore/$c"
    config "plain-$c" "$tree" ""
    config "checksum-$c" "$tree" "; Plugin = \"checksum:log=$work/run/sums.sha256\""
    config "owner-$c" "$tree" "; Plugin = \"owner:exclude_user=65534\""
    config "index-$c" "$tree" "; Plugin = \"index\""
    config "gpg-file-$c" "$tree" "; Plugin = \"gpg:recipient=$fpr\""
    config "gpg-job-$c" "$tree" "; Plugin = \"gpg:recipient=$fpr:session_key=per-job\""
    config "py-noop-$c" "$tree" "; Plugin = \"python3:module_path=$plugins:module_name=noop\""
    config "py-checksum-$c" "$tree" \
        "; Plugin = \"python3:module_path=$examples:module_name=bareos-fd-checksum-log:log=$work/run/py.sha256\""
    local conf="optionhost backup CONF --job bench --catalog NEW/catalog.db --archive NEW/volumes; sync"
    plugin() { echo "$conf  (CONF: $(grep -o 'Plugin = "[^"]*"' "$work/$1-$c.conf"))"; }
    row plain backup ours "optionhost backup, plain" "$conf  (CONF: no Plugin line)"
    row checksum backup ours "+ checksum log (sha256)" "$(plugin checksum)"
    if [ "$large" = no ]; then
        row owner backup ours "+ owner (a rule keeping every file)" "$(plugin owner)"
        row index backup ours "+ index" "$(plugin index)"
    fi
    row gpg-file backup ours "+ gpg, session key per file" "$(plugin gpg-file)"
    row gpg-job backup ours "+ gpg, session key per job" "$(plugin gpg-job)"
    if [ "$large" = no ]; then
        row py-noop backup ours "+ no-op Python plugin (bRC_Core)" "$(plugin py-noop)"
    fi
    row py-checksum backup ours "+ checksum-log Python example" "$(plugin py-checksum)"
    if [ "$large" = no ]; then
        rm -rf "$work/incr-$c"; cp -a "$tree" "$work/incr-$c"
        config "incremental-$c" "$work/incr-$c" ""
        sed -i 's/Level = Full/Level = Incremental/' "$work/incremental-$c.conf"
        row incremental backup ours "Incremental after 1% of the files changed" \
            "untimed Full of a copy of the corpus, every 100th file (sorted) rewritten, then optionhost backup CONF \
--level Incremental --job bench --catalog NEW/catalog.db --archive NEW/volumes; sync"
    fi
    if [ "$with_peers" = yes ]; then
        row restic backup peer "restic backup" \
            "restic -q -r REPO backup $tree (REPO: a copy of an empty initialised repo); sync"
        row borg backup peer "borg create, compression none" \
            "borg create --compression none REPO::a $tree (repokey); sync"
        row duplicity backup peer "duplicity full, gpg key, no compression" \
            "duplicity full --encrypt-key FPR --gpg-options=--compress-algo=none --archive-dir A --name b $tree \
file://REPO; sync"
        row tar-gpg backup peer "tar | gpg (no compression)" \
            "tar -cf - -C $(dirname "$tree") $(basename "$tree") | ${gpg_encrypt[*]} -r FPR -e -o OUT; sync"
        row sha256sum backup peer "sha256sum (checksum log only)" \
            "find $tree -type f -print0 | xargs -0 sha256sum > LOG; sync"
        row hashdeep backup peer "hashdeep (checksum log only)" "hashdeep -r -c sha256 $tree > LOG; sync"
        row cat-sync backup limit "cat every file to one file + sync" \
            "find $tree -type f -print0 | sort -z | xargs -0 cat > OUT; sync"
    fi
    row restore-plain restore ours "optionhost restore (plain backup)" \
        "optionhost restore --catalog CATALOG --jobid 1 --where NEW_DIR; sync"
    row restore-gpg-file restore ours "optionhost restore (gpg per file)" "the same, of the gpg per-file backup"
    row restore-gpg-job restore ours "optionhost restore (gpg per job)" "the same, of the gpg per-job backup"
    if [ "$with_peers" = yes ]; then
        row restore-restic restore peer "restic restore" "restic -q -r REPO restore latest --target NEW_DIR; sync"
        row restore-borg restore peer "borg extract" "cd NEW_DIR && borg extract REPO::a; sync"
        row restore-duplicity restore peer "duplicity restore" \
            "duplicity restore --archive-dir A --name b file://REPO NEW_DIR; sync"
        row restore-tar-gpg restore peer "gpg -d | tar -x" "gpg --batch -d OUT | tar -xf - -C NEW_DIR; sync"
        row restore-cp restore limit "cp -a (the file-creation floor)" "cp -a $tree NEW_DIR/; sync"
    fi

    progress "$c: making the restore sources (untimed)"
    for variant in plain gpg-file gpg-job; do
        "$bin" backup "$work/$variant-$c.conf" --job bench --catalog "$work/src/$c/$variant/catalog.db" \
            --archive "$work/src/$c/$variant/volumes" >/dev/null 2>"$work/setup.err" \
            || echo "failed: the backup to restore from: $(tail -1 "$work/setup.err")" \
                > "$work/times/$c/restore-$variant.failed"
    done
    if [ "$with_peers" = yes ]; then
        if command -v restic >/dev/null; then
            restic -q init -r "$work/src/$c/restic-empty" >/dev/null
            restic -q init -r "$work/src/$c/restic" >/dev/null
            RESTIC_CACHE_DIR=$work/src/$c/restic-cache restic -q -r "$work/src/$c/restic" backup "$tree" >/dev/null
        fi
        if command -v borg >/dev/null; then
            BORG_BASE_DIR=$work/src/$c/borg-empty-base borg init -e repokey "$work/src/$c/borg-empty" >/dev/null 2>&1
            BORG_BASE_DIR=$work/src/$c/borg-base borg init -e repokey "$work/src/$c/borg" >/dev/null 2>&1
            BORG_BASE_DIR=$work/src/$c/borg-base borg create --compression none "$work/src/$c/borg::a" "$tree"
        fi
        if command -v duplicity >/dev/null; then
            duplicity full --encrypt-key "$fpr" --gpg-options=--compress-algo=none --no-print-statistics \
                --archive-dir "$work/src/$c/duplicity-archive" --name b "$tree" "file://$work/src/$c/duplicity" \
                >/dev/null
        fi
        tar -cf - -C "$(dirname "$tree")" "$(basename "$tree")" \
            | "${gpg_encrypt[@]}" -r "$fpr" -e -o "$work/src/$c/tree.tar.gpg"
    fi
    printf '%s\t%s\t%s\n' "$(files_in "$tree")" "$(bytes_in "$tree")" "$(find "$tree" -type d | wc -l)" \
        > "$work/meta/corpus-$c.tsv"
}

# --- the run ------------------------------------------------------------------------------------------------------
printf '%s\n' $corpora > "$work/meta/corpora.txt"
first=yes
for c in $corpora; do
    tree=$(tree_of "$c")
    [ -d "$tree" ] || { echo "no corpus $c at $tree" >&2; exit 2; }
    large=no; [ "$c" = large ] && large=yes
    if [ "$first" = no ]; then
        progress "settling ${settle}s after the previous corpus's removals"
        sync; sleep "$settle"
    fi
    first=no
    setup_corpus "$tree" "$large"
    mapfile -t ids < <(cut -f1 "$work/meta/rows-$c.tsv")
    sync; sleep "$settle"
    for round in $(seq "$rounds"); do
        round_start=$(date +%s)
        [ "$cache" = dropped ] || warm "$tree"
        before=$(load1)
        for k in $(seq 0 $((${#ids[@]} - 1))); do
            id=${ids[$(((round - 1 + k) % ${#ids[@]}))]}
            progress "$c round $round/$rounds, step $((k + 1))/${#ids[@]}: $id"
            step "$id" "$round"
        done
        printf '%s\t%s\t%s\n' "$round" "$before" "$(load1)" >> "$work/meta/load-$c.tsv"
        if [ "$round" = 1 ] && [ "$rounds" -gt 1 ]; then
            progress "$c: a round takes about $(($(date +%s) - round_start)) s; $((rounds - 1)) more to go"
        fi
    done
    # Our restores must give back the corpus (ours writes TREE below --where).
    for variant in plain gpg-file gpg-job; do
        restored=$work/restore/$c/restore-$variant-1$tree
        if [ -d "$restored" ] && ! diff -r "$tree" "$restored" >/dev/null 2>&1; then
            echo "failed: the restored tree differs from the corpus (diff -r)" \
                > "$work/times/$c/restore-$variant.failed"
        fi
    done
    progress "$c done; removing its restores and repositories"
    rm -rf "$work/restore/$c" "$work/src/$c" "$work/incr-$c"
done

progress "writing $out"
mode=full; [ "$smoke" = yes ] && mode=smoke
python3 Benchmarks/report.py --work "$work" --out "$out" --mode "$mode" \
    --elapsed "$(($(date +%s) - started))"
if [ "$smoke" = yes ]; then
    python3 Benchmarks/report.py --check "$out"
    rm -rf "$work/tiny" "$work/src" "$work/restore"
fi
progress "done: $out"
