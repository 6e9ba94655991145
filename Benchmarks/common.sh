# Sourced by the benchmark scripts (from the repository root, with `work` set): makes the corpora of
# ../shared/bench/make-corpus.sh under CORPUS (default /tmp/corpus), builds the release binary (`bin`), and
# defines `median` (of numbers on standard input) and `config NAME TREE PLUGIN-LINES` (a one-Job configuration
# backing up TREE with SHA-256 signatures, written to $work/NAME.conf).
corpus=${CORPUS:-/tmp/corpus}
shared=../shared/bench/make-corpus.sh
[ -f "$shared" ] || { echo "missing $shared" >&2; exit 2; }
CORPUS=$corpus sh "$shared" >/dev/null
swift build -c release --product optionhost >/dev/null
bin=$PWD/.build/release/optionhost

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

config() {
    cat > "$work/$1.conf" <<CONF
FileSet { Name = fs; Include { Options { Signature = SHA256 $3 } File = "$2" } }
Job { Name = bench; Type = Backup; Level = Full; FileSet = fs }
CONF
}
