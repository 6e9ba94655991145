#!/bin/bash
# CPU time (user+sys) of restores of the small corpus (20,000 files) by two builds, alternating round by round,
# with 1 and 2 workers; medians. CPU time, not wall time: it holds on a busy machine (D9), where wall time does
# not. Each build restores a backup it made itself (catalog schemas may differ). Needs the corpus under
# /tmp/corpus (Benchmarks/common.sh makes it).
# Usage: Benchmarks/restore-cpu.sh OLD_BINARY NEW_BINARY [ROUNDS]
set -eu
OLD=${1:?usage: Benchmarks/restore-cpu.sh OLD_BINARY NEW_BINARY [ROUNDS]}
NEW=${2:?usage: Benchmarks/restore-cpu.sh OLD_BINARY NEW_BINARY [ROUNDS]}
ROUNDS=${3:-5}
W=${BENCH_WORK:-/tmp/optionhost-restore-cpu}
rm -rf $W; mkdir -p $W
cat > $W/s.conf <<'CONF'
FileSet { Name = fs; Include { Options { Signature = SHA256 } File = "/tmp/corpus/small" } }
Job { Name = bench; Type = Backup; Level = Full; FileSet = fs }
CONF
$OLD backup $W/s.conf --job bench --catalog $W/old/c.db --archive $W/old/v >/dev/null
$NEW backup $W/s.conf --job bench --catalog $W/new/c.db --archive $W/new/v >/dev/null
for round in $(seq "$ROUNDS"); do
  for v in old new; do
    B=$OLD; [ $v = new ] && B=$NEW
    for workers in 1 2; do
      /usr/bin/time -f "$v w$workers %e %U %S" -a -o $W/times $B restore --catalog $W/$v/c.db --jobid 1 --where $W/t-$v-$workers-$round --workers $workers >/dev/null
    done
  done
done
python3 - $W/times <<'PY'
import sys, statistics, collections
d=collections.defaultdict(list)
for line in open(sys.argv[1]):
    v,w,e,u,s=line.split(); d[(v,w)].append((float(e),float(u),float(s)))
for k in sorted(d):
    r=d[k]
    print(k, "wall med %.2f" % statistics.median(x[0] for x in r), "user med %.2f" % statistics.median(x[1] for x in r),
          "sys med %.2f" % statistics.median(x[2] for x in r), "cpu med %.2f" % statistics.median(x[1]+x[2] for x in r), "n=%d" % len(r))
PY
