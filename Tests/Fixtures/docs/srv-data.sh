#!/usr/bin/env bash
# The example tree of docs/commands.md ("The example setup"), built under $WORK/srv/data by the docs test
# (DocExamplesTests) for commands.md and volumes.md. Contents are fixed, so sizes and digests on the pages are exact:
# 6 regular files of 23,910,451 bytes, one of them sparse (20 MiB with one 4 KiB data region), a symbolic link, and
# build/main.o, which the FileSet's first Options block excludes.
set -eu   # no pipefail: `yes | head` ends yes with SIGPIPE
root="$WORK/srv/data"
mkdir -p "$root/projects/web" "$root/build" "$root/docs"
truncate -s 20M "$root/projects/disk.img"
head -c 4096 /dev/zero | tr '\0' 'x' | dd of="$root/projects/disk.img" bs=4096 seek=256 conv=notrunc status=none
printf '<p>hello</p>' > "$root/projects/web/index.html"
yes 'logo' | head -c 2000000 > "$root/projects/web/logo.psd"
ln -s ../docs/report.txt "$root/projects/report-link"
printf 'ELF' > "$root/build/main.o"
seq 1 200000 | awk '{ printf "%d,item %d,%d.%02d\n", $1, $1 % 97, $1 % 1000, $1 % 100 }' | head -c 938895 \
    > "$root/docs/ledger.csv"
printf 'notes\n' > "$root/docs/notes.md"
printf 'quarterly report\n\n' > "$root/docs/report.txt"

# op.conf as docs/commands.md shows it, with its paths under $WORK (for pages that use the setup without showing it).
if [ ! -e op.conf ]; then
    awk '/<!-- doc-test: file op.conf -->/ { found = 1; next }
         found && /^```/ { fences++; if (fences == 2) exit; next }
         found { print }' "$REPO/docs/commands.md" |
        sed -e "s#/srv/data#$WORK/srv/data#g" -e "s#\"/var/#\"$WORK/var/#g" > op.conf
fi
