#!/usr/bin/env bash
# The PostgreSQL catalog against the SQLite one (issue 15), in one run:
#   1. Full backups of the small corpus (20,000 files) with the catalog in a SQLite file and in a local PostgreSQL
#      server (unix socket, the server's default durability: fsync and synchronous_commit on), alternating (odd
#      rounds start with SQLite, even ones with PostgreSQL), medians of ROUNDS; wall and user+sys CPU of optionhost
#      (the server's own CPU is not in it: say so). Two cases, each its own ratio:
#        first     the first job into a new catalog: a new SQLite file, an empty PostgreSQL database, so opening
#                  it creates the whole schema (all steps) inside the measured time;
#        existing  a job into a catalog that already has the schema and one earlier job of the same tree (20,421
#                  rows, made untimed just before): what every job but a catalog's first pays.
#      The 1.3x goal is judged on `existing` (a multi-host catalog is created once); `first` is reported beside it.
#   2. Four clients at once: four configs with different `Client` names back up a copy of the small corpus each
#      into the one PostgreSQL catalog, started together; then the file rows are counted (80,000 expected) and
#      every job is restored and compared with its tree.
#   3. With MEMORY_FILES=N (default 0: skipped): peak RSS (GNU time) of the restore of an N-file job (memory.sh's
#      tree) from the PostgreSQL catalog and from a SQLite one, by BIN and, when set, by BIN_BEFORE too.
# Target: the PostgreSQL median within 1.3x of SQLite's; 80,000 rows and four identical restores.
#
# Usage: Benchmarks/postgres.sh [ROUNDS]   (default 3)
# Environment: BIN (an optionhost to measure instead of building one), CORPUS (/tmp/corpus),
#              BENCH_WORK (/tmp/optionhost-postgres-bench), MEMORY_FILES, BIN_BEFORE. Needs Debian's postgresql
#              (server binaries under /usr/lib/postgresql/*/bin); the server runs as `nobody` (it refuses root) and
#              is stopped at exit.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
work=${BENCH_WORK:-/tmp/optionhost-postgres-bench}
if [ -n "${BIN:-}" ]; then
    COMMON_SETUP=no
    . Benchmarks/common.sh
    make_corpora
    bin=$BIN
else
    . Benchmarks/common.sh
fi
timer=$PWD/Benchmarks/timed-run.py
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
[ -x "$pgbin/initdb" ] || { echo "no PostgreSQL server binaries under /usr/lib/postgresql" >&2; exit 2; }

rm -rf "$work"; mkdir -p "$work/pg"
chown nobody:nogroup "$work/pg"
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
stop_server() { as_nobody "$pgbin/pg_ctl" -D "$work/pg/data" -m fast stop >/dev/null 2>&1 || true; }
trap 'stop_server; rm -rf "$work"' EXIT
as_nobody "$pgbin/initdb" -D "$work/pg/data" -U postgres -A trust -E UTF8 --locale=C >"$work/initdb.log"
as_nobody "$pgbin/pg_ctl" -D "$work/pg/data" -l "$work/pg/server.log" -w \
    -o "-k $work/pg -c listen_addresses=''" start >/dev/null
psql_() { psql -h "$work/pg" -U postgres -At "$@"; }

tree=$corpus/small
files=$(files_in "$tree")
# One config per catalog kind; a fresh database or file per run.
write_config() { # NAME CATALOG-LINE CLIENT TREE
    cat > "$work/$1.conf" <<CONF
$2
FileSet { Name = fs; Include { Options { Signature = SHA256 } File = "$4" } }
Job { Name = bench; Type = Backup; Level = Full; FileSet = fs; Catalog = cat; Client = $3 }
CONF
}
pg_catalog() { echo "Catalog { Name = cat; DB Driver = postgresql; DB Name = $1; DB Address = \"$work/pg\"; DB User = postgres }"; }

# timed_backup KIND CASE ROUND: one timed Full of the small corpus into a new catalog (CASE first) or into one that
# already holds one job of it (CASE existing; that earlier job is not timed).
timed_backup() {
    local kind=$1 case=$2 round=$3 run=$work/run-$1-$2-$3
    mkdir -p "$run"
    if [ "$kind" = sqlite ]; then
        write_config "$kind" "Catalog { Name = cat; DB Driver = sqlite3; DB Name = \"$run/catalog.db\" }" bench "$tree"
    else
        psql_ -d postgres -c "CREATE DATABASE ${case}_$round" >/dev/null
        write_config "$kind" "$(pg_catalog "${case}_$round")" bench "$tree"
    fi
    if [ "$case" = existing ]; then
        "$bin" backup "$work/$kind.conf" --job bench --archive "$run/earlier" >/dev/null
        rm -rf "$run/earlier"
    fi
    sync
    python3 "$timer" "$work/times-$kind-$case" "$bin" backup "$work/$kind.conf" --job bench --archive "$run/archive"
    rm -rf "$run"
}

warm "$tree"
echo "small corpus: $files files; $rounds rounds, alternating; PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}'); load $(load1)"
for round in $(seq 1 "$rounds"); do
    order="sqlite postgresql"
    [ $((round % 2)) = 0 ] && order="postgresql sqlite"
    for case in first existing; do
        for kind in $order; do timed_backup "$kind" "$case" "$round"; done
    done
    echo "round $round/$rounds done (load $(load1))"
done
printf '%-9s %-11s %8s %8s %10s\n' case catalog wall_s cpu_s files/s
declare -A wall
for case in first existing; do
    for kind in sqlite postgresql; do
        wall[$kind]=$(awk '{print $1}' "$work/times-$kind-$case" | median)
        cpu=$(awk '{print $2 + $3}' "$work/times-$kind-$case" | median)
        printf '%-9s %-11s %8.2f %8.2f %10.0f\n' "$case" "$kind" "${wall[$kind]}" "$cpu" \
            "$(awk -v f="$files" -v w="${wall[$kind]}" 'BEGIN {print f / w}')"
    done
    awk -v c="$case" -v s="${wall[sqlite]}" -v p="${wall[postgresql]}" \
        'BEGIN {printf "%s: PostgreSQL / SQLite, median wall: %.2fx\n", c, p / s}'
done

# --- four clients at once ---------------------------------------------------------------------------------------
psql_ -d postgres -c "CREATE DATABASE shared" >/dev/null
for client in one two three four; do
    cp -a "$tree" "$work/tree-$client"
    write_config "$client" "$(pg_catalog shared)" "$client-fd" "$work/tree-$client"
done
sync
start=$(date +%s.%N)
pids=()
for client in one two three four; do
    "$bin" backup "$work/$client.conf" --job bench --archive "$work/archive-$client" --json >"$work/$client.json" &
    pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
end=$(date +%s.%N)
rows=$(psql_ -d shared -c "SELECT count(*) FROM files")
jobs=$(psql_ -d shared -c "SELECT count(DISTINCT job_id) || ' jobs, ' || count(DISTINCT client_name) || ' clients' FROM files JOIN jobs ON jobs.id = files.job_id")
echo "four clients at once: exit status $status, $(awk -v s="$start" -v e="$end" 'BEGIN {printf "%.2f", e - s}') s, $rows file rows ($jobs)"
for client in one two three four; do
    id=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])["job_id"])' "$work/$client.json")
    "$bin" restore "$work/one.conf" --jobid "$id" --where "$work/restore-$client" >/dev/null
    if diff -r "$work/tree-$client" "$work/restore-$client$work/tree-$client" >/dev/null; then
        echo "  job $id ($client-fd) restored from client one's config: identical"
    else
        echo "  job $id ($client-fd): restore DIFFERS" >&2; status=1
    fi
done
# --- restore memory -----------------------------------------------------------------------------------------------
memory_files=${MEMORY_FILES:-0}
if [ "$memory_files" -gt 0 ]; then
    big=$work/tree-memory
    make_tree "$big" "$memory_files"
    psql_ -d postgres -c "CREATE DATABASE memory" >/dev/null
    write_config mem-postgresql "$(pg_catalog memory)" memory "$big"
    write_config mem-sqlite "Catalog { Name = cat; DB Driver = sqlite3; DB Name = \"$work/memory.db\" }" memory "$big"
    for kind in postgresql sqlite; do
        "$bin" backup "$work/mem-$kind.conf" --job bench --archive "$work/archive-mem-$kind" >/dev/null
    done
    for build in ${BIN_BEFORE:+before} this; do
        exe=$bin
        [ "$build" = before ] && exe=$BIN_BEFORE
        for kind in postgresql sqlite; do
            rm -rf "$work/restore-mem"
            /usr/bin/time -v -o "$work/mem-time.txt" "$exe" restore "$work/mem-$kind.conf" --jobid 1 \
                --where "$work/restore-mem" >/dev/null
            echo "restore of $memory_files files, $kind catalog, $build build: peak RSS" \
                "$(awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2 / 1024}' "$work/mem-time.txt") MiB," \
                "$(awk -F': ' '/Elapsed/ {print $2}' "$work/mem-time.txt") wall (load $(load1))"
        done
    done
    rm -rf "$work/restore-mem" "$big"
fi
exit "$status"
