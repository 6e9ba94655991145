# Sourced by the benchmark scripts (from the repository root, with `work` set). Unless COMMON_SETUP=no, makes the
# corpora of ../shared/bench/make-corpus.sh under CORPUS (default /tmp/corpus) and builds the release binary
# (`bin`); compare.sh sets COMMON_SETUP=no and calls `make_corpora` and `build_optionhost` itself.
#
# Helpers: `median` (of numbers on standard input), `config NAME TREE PLUGIN-LINES` (a one-Job configuration
# backing up TREE with SHA-256 signatures, written to $work/NAME.conf), `files_in`/`bytes_in` (regular files of a
# tree and their bytes), `warm` (reads a tree once), `load1` (1-minute load average), `make_gpg_key UID` (a
# cv25519 key in GNUPGHOME; prints its fingerprint), `rewrite_every_100th TREE` (1% of the files rewritten in place,
# same size, new bytes), `make_tree DIR COUNT` (COUNT files of 0-8 KiB of random bytes, 100 a directory,
# random.Random(42): the trees of memory.sh).
corpus=${CORPUS:-/tmp/corpus}
# module_path of examples/plugins/noop.py, the no-op Python plugin (handle_backup_file returns bRC_Core).
plugins=$PWD/examples/plugins
shared=${MAKE_CORPUS:-../shared/bench/make-corpus.sh}

make_corpora() {
    [ -f "$shared" ] || { echo "missing $shared" >&2; exit 2; }
    CORPUS=$corpus sh "$shared" >/dev/null
}

# build_optionhost [debug|release]: builds the product and sets `bin` (SCRATCH picks the SwiftPM scratch path).
build_optionhost() {
    local mode=${1:-release} scratch=${SCRATCH:-.build}
    local log=${TMPDIR:-/tmp}/optionhost-bench-build.log
    swift build -c "$mode" --product optionhost --scratch-path "$scratch" >"$log" 2>&1 \
        || { tail -20 "$log" >&2; exit 1; }
    bin=$(swift build -c "$mode" --product optionhost --scratch-path "$scratch" --show-bin-path)/optionhost
}

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

config() {
    cat > "$work/$1.conf" <<CONF
FileSet { Name = fs; Include { Options { Signature = SHA256 $3 } File = "$2" } }
Job { Name = bench; Type = Backup; Level = Full; FileSet = fs }
CONF
}

files_in() { find "$1" -type f | wc -l; }
bytes_in() { find "$1" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}'; }
warm() { find "$1" -type f -print0 | xargs -0 -r cat >/dev/null; }
load1() { cut -d' ' -f1 /proc/loadavg; }

make_gpg_key() {
    gpg --batch --quiet --passphrase '' --quick-gen-key "$1" future-default default never 2>/dev/null
    gpg --batch --with-colons --list-keys "$1" 2>/dev/null | awk -F: '/^fpr/ {print $10; exit}'
}

rewrite_every_100th() {
    find "$1" -type f | sort | awk 'NR % 100 == 1' | python3 -c '
import sys
for name in sys.stdin.read().splitlines():
    with open(name, "r+b") as f:
        data = f.read(); f.seek(0); f.write(data[::-1] if data[::-1] != data else data + b"!"); f.truncate()
'
}

make_tree() { # DIR COUNT
    python3 - "$1" "$2" <<'PY'
import os, random, sys
root, count = sys.argv[1], int(sys.argv[2])
rng = random.Random(42)
for i in range(count):
    d = os.path.join(root, "d%04d" % (i // 100))
    if i % 100 == 0:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%06d.dat" % i), "wb") as f:
        f.write(rng.randbytes(rng.randint(0, 8192)))
PY
}

if [ "${COMMON_SETUP:-yes}" = yes ]; then
    make_corpora
    build_optionhost release
fi
