"""Writes BENCHMARKS.md and its plot from what Benchmarks/compare.sh measured, or checks such a file.

Usage: report.py --work DIR --out FILE.md --mode full|smoke [--elapsed SECONDS]
       report.py --check FILE.md      (exit 1 unless every table row has every cell filled)

Input, under DIR: meta/machine.tsv, meta/versions.tsv, meta/corpora.txt, meta/corpus-C.tsv (files, bytes,
directories), meta/rows-C.tsv (id, side, who, label, command), meta/load-C.tsv (round, load before, after),
meta/openssl-ALG.txt, times/C/ID.times (one "wall user sys maxrss_kib" line per run, from timed-run.py),
times/C/ID.failed and ID.warned (why a row has no or fewer runs).
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys

WHO = {"ours": "optionhost", "peer": "peer", "limit": "physical limit"}
COLUMNS = ["row", "runs", "wall s (median)", "wall min–max", "CPU s", "MB/s", "files/s", "peak RSS MiB",
           "× ours (wall)", "notes"]


def read_tsv(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [line.rstrip("\n").split("\t") for line in f if line.strip()]


def read_text(path):
    if not os.path.exists(path):
        return ""
    with open(path) as f:
        return f.read().strip()


class Row:
    """One row of a corpus table: its runs' medians, or why it has none."""

    def __init__(self, work, corpus, fields):
        self.id, self.side, self.who, self.label, self.command = fields
        base = os.path.join(work, "times", corpus, self.id)
        self.runs = [list(map(float, line[0].split())) for line in read_tsv(base + ".times")]
        self.failed = read_text(base + ".failed")
        self.warned = read_text(base + ".warned")

    @property
    def ok(self):
        return bool(self.runs)

    def wall(self):
        return statistics.median(r[0] for r in self.runs)

    def cpu(self):
        return statistics.median(r[1] + r[2] for r in self.runs)

    def rss_mib(self):
        return max(r[3] for r in self.runs) / 1024


def fmt(value, digits):
    return f"{value:,.{digits}f}"


def corpus_table(work, corpus, rounds):
    files, size, dirs = (int(x) for x in read_tsv(os.path.join(work, "meta", f"corpus-{corpus}.tsv"))[0])
    rows = [Row(work, corpus, fields) for fields in read_tsv(os.path.join(work, "meta", f"rows-{corpus}.tsv"))]
    references = {"backup": next((r for r in rows if r.id == "plain"), None),
                  "restore": next((r for r in rows if r.id == "restore-plain"), None)}
    tables = {}
    for side in ("backup", "restore"):
        reference = references[side]
        lines = []
        for row in (r for r in rows if r.side == side):
            label = f"{row.label} ({WHO[row.who]})" if row.who != "ours" else f"**{row.label}**"
            if not row.ok:
                reason = row.failed or "no result recorded (the step did not run)"
                lines.append([label, "0", reason] + ["—"] * (len(COLUMNS) - 3))
                continue
            wall = row.wall()
            walls = sorted(r[0] for r in row.runs)
            notes = []
            if len(row.runs) < rounds:
                notes.append(f"{len(row.runs)} of {rounds} runs; {row.failed or 'the others did not run'}")
            if row.warned:
                notes.append(row.warned)
            if row.id == "incremental":
                mbs = "n/a (reads only the changed files)"
                notes.append("files/s over every file examined")
            else:
                mbs = fmt(size / 1e6 / wall, 1)
            if reference is None or not reference.ok:
                ratio = "n/a (our reference row has no result)"
            else:
                ratio = fmt(wall / reference.wall(), 2)
            lines.append([label, str(len(row.runs)), fmt(wall, 3), f"{walls[0]:.3f}–{walls[-1]:.3f}",
                          fmt(row.cpu(), 3), mbs, fmt(files / wall, 0), fmt(row.rss_mib(), 1), ratio,
                          "; ".join(notes) or "—"])
        tables[side] = lines
    return files, size, dirs, rows, tables


def markdown_table(lines):
    out = ["| " + " | ".join(COLUMNS) + " |",
           "|---|" + "---:|" * (len(COLUMNS) - 2) + "---|"]
    out += ["| " + " | ".join(cell.replace("|", "\\|") for cell in line) + " |" for line in lines]
    return out


def openssl_rate(work, algorithm):
    text = read_text(os.path.join(work, "meta", f"openssl-{algorithm}.txt"))
    last = text.splitlines()[-1].split() if text else []
    if not last or not last[-1].endswith("k"):
        return None
    return float(last[-1][:-1]) / 1000  # openssl prints 1000s of bytes per second


def plot(work, corpora, results, png):
    """Grouped bars per corpus and side: files/s (MB/s for the large corpus), ours blue, peers orange."""
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        return "gnuplot is not installed: no plot"
    panels = []
    for corpus in corpora:
        files, size, _dirs, rows, _tables = results[corpus]
        unit = "MB/s" if corpus == "large" else "files/s"
        for side in ("backup", "restore"):
            data = os.path.join(work, f"plot-{corpus}-{side}.dat")
            with open(data, "w") as f:
                # The Incremental reads 1% of the files: its rate over the whole tree would flatten the others.
                for row in (r for r in rows if r.side == side and r.id != "incremental"):
                    value = (size / 1e6 if unit == "MB/s" else files) / row.wall() if row.ok else 0.0
                    color = {"ours": "0x1f77b4", "peer": "0xff7f0e", "limit": "0x7f7f7f"}[row.who]
                    label = row.label.replace('"', "'") + ("" if row.ok else " (no result)")
                    f.write(f'"{label}" {value:.3f} {color}\n')
            panels.append((data, f"{corpus} corpus, {side} ({unit}; blue ours, orange peers, grey limits)"))
    script = [
        f"set terminal pngcairo size 1500,{560 * len(corpora)} font ',9'",
        f"set output '{png}'",
        f"set multiplot layout {len(corpora)},2",
        "set style fill solid 0.85 border -1", "set boxwidth 0.7", "set grid ytics",
        "set xtics rotate by -35 left", "set bmargin 13", "set rmargin 16", "set yrange [0:*]", "unset key",
    ]
    for data, title in panels:
        script += [f"set title '{title}'",
                   f"plot '{data}' using 0:2:3:xtic(1) with boxes lc rgb variable"]
    script.append("unset multiplot")
    # Standard output stays out of the pipe: gnuplot writes the PNG there when it cannot open the file.
    result = subprocess.run([gnuplot], input="\n".join(script), text=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    if result.returncode != 0:
        return "gnuplot failed: " + (result.stderr.strip().splitlines() or ["no message"])[-1]
    return None


def goals(results):
    """The speed and memory targets of the other issues (Benchmarks/README.md), checked on this run's rows."""
    def row(corpus, ident):
        if corpus not in results:
            return None
        found = next((r for r in results[corpus][3] if r.id == ident), None)
        return found if found and found.ok else None

    def files(corpus):
        return results[corpus][0]

    def size(corpus):
        return results[corpus][1]

    lines = []

    def goal(text, needs, check):
        rows = [row(c, i) for c, i in needs]
        if any(r is None for r in rows):
            missing = ", ".join(f"{i} on {c}" for (c, i), r in zip(needs, rows) if r is None)
            lines.append([text, "not measured in this run", f"the run has no result for {missing}"])
            return
        met, figure = check(*rows)
        lines.append([text, "met" if met else "**not met**", figure])

    goal("small backup ≥ 12,000 files/s", [("small", "plain")],
         lambda p: (files("small") / p.wall() >= 12000, f"{files('small') / p.wall():,.0f} files/s"))
    goal("large backup within 1.15× of cat + sync", [("large", "plain"), ("large", "cat-sync")],
         lambda p, c: (p.wall() / c.wall() <= 1.15,
                       f"{p.wall():.3f} s vs {c.wall():.3f} s: {p.wall() / c.wall():.2f}×"))
    goal("small restore ≥ 8,000 files/s", [("small", "restore-plain")],
         lambda r: (files("small") / r.wall() >= 8000, f"{files('small') / r.wall():,.0f} files/s"))
    for corpus in results:
        ours = [r for r in results[corpus][3] if r.who == "ours" and r.ok]
        if ours:
            worst = max(ours, key=lambda r: r.rss_mib())
            lines.append([f"peak RSS ≤ 64 MiB, every row of ours ({corpus})",
                          "met" if worst.rss_mib() <= 64 else "**not met**",
                          f"largest {worst.rss_mib():.1f} MiB ({worst.label})"])
    for ident, limit in (("checksum", 10), ("owner", 3)):
        goal(f"{ident} ≤ {limit}% CPU over plain (small)", [("small", ident), ("small", "plain")],
             lambda x, p, limit=limit: ((x.cpu() / p.cpu() - 1) * 100 <= limit,
                                        f"{(x.cpu() / p.cpu() - 1) * 100:+.1f}% ({x.cpu():.3f} s vs {p.cpu():.3f} s)"))
    goal("index ≥ 2,000 files/s (real)", [("real", "index")],
         lambda x: (files("real") / x.wall() >= 2000, f"{files('real') / x.wall():,.0f} files/s"))
    goal("no-op Python hook ≤ 5 µs CPU per file (small; this row also pays Python's start-up, which "
         "Benchmarks/python.sh separates)", [("small", "py-noop"), ("small", "plain")],
         lambda x, p: ((x.cpu() - p.cpu()) * 1e6 / files("small") <= 5,
                       f"{(x.cpu() - p.cpu()) * 1e6 / files('small'):.2f} µs per file"))
    goal("gpg per file ≥ 5,000 files/s (small)", [("small", "gpg-file")],
         lambda x: (files("small") / x.wall() >= 5000, f"{files('small') / x.wall():,.0f} files/s"))
    goal("gpg per job ≥ 15,000 files/s (small)", [("small", "gpg-job")],
         lambda x: (files("small") / x.wall() >= 15000, f"{files('small') / x.wall():,.0f} files/s"))
    goal("gpg large ≥ 300 MB/s", [("large", "gpg-file")],
         lambda x: (size("large") / 1e6 / x.wall() >= 300, f"{size('large') / 1e6 / x.wall():,.1f} MB/s"))
    goal("encrypted restore ≥ 3,000 files/s and faster than restic's (small)",
         [("small", "restore-gpg-file"), ("small", "restore-restic")],
         lambda x, r: (files("small") / x.wall() >= 3000 and x.wall() < r.wall(),
                       f"{files('small') / x.wall():,.0f} files/s, {x.wall():.3f} s vs restic {r.wall():.3f} s"))
    goal("Incremental after 1% changed ≤ 20% of the Full's wall (small)",
         [("small", "incremental"), ("small", "plain")],
         lambda i, p: (i.wall() / p.wall() <= 0.2,
                       f"{i.wall():.3f} s vs {p.wall():.3f} s: {i.wall() / p.wall() * 100:.0f}%"))
    for corpus in ("small", "real"):
        goal(f"restore faster than restic, borg and cp -a ({corpus})",
             [(corpus, "restore-plain"), (corpus, "restore-restic"), (corpus, "restore-borg"), (corpus, "restore-cp")],
             lambda o, r, b, c: (o.wall() < min(r.wall(), b.wall(), c.wall()),
                                 f"{o.wall():.3f} s; restic {r.wall():.3f}, borg {b.wall():.3f}, cp -a {c.wall():.3f}"))
    out = ["| goal (from the issue that set it) | in this run | figures |", "|---|---|---|"]
    return out + ["| " + " | ".join(cell.replace("|", "\\|") for cell in line) + " |" for line in lines]


def write(args):
    work = args.work
    machine = dict(read_tsv(os.path.join(work, "meta", "machine.tsv")))
    versions = read_tsv(os.path.join(work, "meta", "versions.tsv"))
    corpora = read_text(os.path.join(work, "meta", "corpora.txt")).split()
    rounds = int(machine.get("rounds", "1"))
    results = {c: corpus_table(work, c, rounds) for c in corpora}
    png = os.path.splitext(args.out)[0] + ".png"
    plot_problem = plot(work, corpora, results, png)

    md = ["# Benchmarks", ""]
    md.append(f"Produced by one run of `{machine.get('command', '?')}` ({args.mode} mode), started "
              f"{machine.get('date', '?')}, {int(args.elapsed) // 60} min {int(args.elapsed) % 60} s in all. "
              "Every figure below comes from that run; nothing is copied from elsewhere.")
    md.append("")
    if args.mode == "smoke":
        md += ["**Smoke run**: a debug build on a generated 300-file corpus, our rows only, one round. It checks "
               "that the harness works; its figures say nothing about speed.", ""]
    md += ["## Machine and versions", "", "| | |", "|---|---|"]
    for key in ("cpu", "cores", "memory", "kernel", "os", "disk"):
        md.append(f"| {key} | {machine.get(key, '?')} |")
    for name, version in versions:
        md.append(f"| {name} | {version} |")
    md += ["", "## Method", "",
           f"- {rounds} round{'s' if rounds != 1 else ''}; in each round every row runs once, and each round "
           "starts one row further down "
           "the list, so the rows alternate and a slow spell of the machine does not land on one tool. Figures "
           "are medians of the rounds (peak RSS: the largest of the rounds).",
           "- Wall time from the monotonic clock; CPU is user + system time of the tool and its children "
           "(`getrusage`), beside wall time as D9 asks for small overheads; peak RSS is the largest single "
           "process (`Benchmarks/timed-run.py`).",
           "- Every timed step ends with `sync` inside the timed interval (optionhost and borg fsync themselves, "
           "the others would leave their writes in the page cache). Backups write to a fresh directory that is "
           "removed after the step; restores write to a fresh directory, removed when the corpus is done (on the "
           "large corpus, of four files, right after the step).",
           "- Page cache: " + ("dropped before every timed step (`echo 3 > /proc/sys/vm/drop_caches`), so "
                               "every tool reads cold data (the hypervisor's cache below this VM may still hold "
                               "some)." if machine.get("cache") == "dropped" else
                               "warm for everyone: each round starts by reading the corpus once (dropping the "
                               "cache was not possible or not asked for)."),
           "- MB/s and files/s: the corpus's bytes and regular files divided by the median wall time. "
           "`× ours`: the row's median wall time divided by that of our plain backup (restore table: of our "
           "plain restore); above 1 means slower than us.",
           "- Our restores are checked against the corpus with `diff -r` (first round).", "",
           "## Fairness", "",
           "- restic and borg deduplicate and encrypt whole repositories (chunking, an index, packs), work that "
           "optionhost does not do: it keeps files whole in pax volumes and a SQLite catalog, encrypting only "
           "with the `gpg` stage. The fair peers for `+ gpg` are duplicity and `tar | gpg` (OpenPGP as well).",
           "- Only first full backups are compared (each into an empty repository): a second backup of the same "
           "data would let restic and borg deduplicate it all. Our Incremental row is ours alone.",
           "- borg runs with `--compression none`, duplicity with gpg compression off and `tar | gpg` with "
           "`--compress-algo none`: optionhost does not compress unless asked.",
           "- sha256sum and hashdeep only write a checksum log (the comparison for `+ checksum log`); `cat` + "
           "`sync` and `cp -a` are the floors of reading plus writing the data once and of creating the files.",
           "- optionhost records a SHA-256 of every file's source and stored bytes in every row, and restores "
           "verify it; `--workers` is left at its default (one thread per core)."]
    for corpus in corpora:
        files, size, dirs, rows, tables = results[corpus]
        md += ["", f"## Corpus `{corpus}`: {files:,} files, {size / 1e6:,.1f} MB, {dirs:,} "
               f"director{'y' if dirs == 1 else 'ies'}", ""]
        md += ["### Backup, checksum and the limit of the disk", ""] + markdown_table(tables["backup"])
        md += ["", "### Restore", ""] + markdown_table(tables["restore"])
        loads = read_tsv(os.path.join(work, "meta", f"load-{corpus}.tsv"))
        md += ["", "1-minute load average before → after each round: "
               + (", ".join(f"round {r}: {b} → {a}" for r, b, a in loads) or "not recorded") + "."]
        if corpus == "large":
            md += ["", "On the large corpus (4 files) the per-file variants (owner, index, the no-op plugin, "
                   "Incremental) would measure nothing: they are on the small and real corpora."]
    if args.mode != "smoke":
        md += ["", "## Goals of the other issues", "",
               "Each target as Benchmarks/README.md records it, checked on the medians above (wall time unless "
               "it says CPU).", ""] + goals(results)
        md += ["", "## Physical limits", "", "| probe | command | MB/s |", "|---|---|---:|"]
        for algorithm in ("sha256", "sha1", "aes-256-cfb", "aes-256-gcm"):
            rate = openssl_rate(work, algorithm)
            md.append(f"| {algorithm}, one core, 16 KiB blocks | `openssl speed -seconds 3 -bytes 16384 -evp "
                      f"{algorithm}` | {fmt(rate, 1) if rate else 'failed: no rate in its output'} |")
        for corpus in corpora:
            cat = next((r for r in results[corpus][3] if r.id == "cat-sync"), None)
            if cat:
                value = fmt(results[corpus][1] / 1e6 / cat.wall(), 1) if cat.ok else cat.failed
                command = cat.command.replace("|", "\\|")
                md.append(f"| cat + sync, corpus {corpus} | `{command}` | {value} |")
        md += ["", "SHA-256 bounds the source digest every backup computes, AES-256-CFB (with SHA-1 for the MDC) "
               "the `gpg` stage's encryption, which OpenPGP's SEIPD v1 format makes serial within a file."]
    md += ["", "## Commands", "",
           "Our rows back up with a one-Job configuration (`config` in `Benchmarks/common.sh`):",
           "", "```", 'FileSet { Name = fs; Include { Options { Signature = SHA256 [; Plugin = "STAGE"] } '
           'File = "TREE" } }', "Job { Name = bench; Type = Backup; Level = Full; FileSet = fs }", "```", ""]
    seen = set()
    for corpus in corpora:
        for row in results[corpus][3]:
            if row.id in seen:
                continue
            seen.add(row.id)
            md.append(f"- {row.label}: `{row.command}`")
    md += ["", "Paths are those of the first corpus that has the row; the others differ only in the tree.", "",
           "## Plot", ""]
    md.append(plot_problem or f"![files/s (MB/s for the large corpus), ours and peers]({os.path.basename(png)})")
    with open(args.out, "w") as f:
        f.write("\n".join(md) + "\n")


def check(path):
    """Every table row has as many cells as the header, none empty."""
    problems = []
    with open(path) as f:
        header = None
        for number, line in enumerate(f, 1):
            if not line.startswith("|"):
                header = None
                continue
            cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
            if header is None:
                header = len(cells)
                continue
            if set(line.strip()) <= set("|-: "):
                continue
            if len(cells) != header or any(not cell for cell in cells):
                problems.append(f"{path}:{number}: a row with an empty or missing cell: {line.strip()}")
            if any(cell.startswith(("failed", "not run", "no result")) for cell in cells):
                problems.append(f"{path}:{number}: a row without figures: {line.strip()}")
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print(f"{path}: every row filled")
    return 1 if problems else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work")
    parser.add_argument("--out")
    parser.add_argument("--mode", default="full")
    parser.add_argument("--elapsed", type=float, default=0)
    parser.add_argument("--check")
    args = parser.parse_args()
    if args.check:
        sys.exit(check(args.check))
    if not args.work or not args.out:
        parser.error("--work and --out are needed (or --check FILE)")
    write(args)


if __name__ == "__main__":
    main()
