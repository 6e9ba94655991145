#!/usr/bin/env python3
"""Lists (or, with --apply, makes internal) the `public` declarations of Sources/Pipeline whose name no file of
Sources/Stages or Sources/OptionHost mentions: what only Pipeline itself and the tests (`@testable import`) use.

The match is by name as a whole word, so it errs on the side of keeping things public (a common name such as
`path` used anywhere in those targets keeps every `public var path`). Initializers, operators and subscripts are
left alone, as are members that witness a protocol requirement (the compiler says which; run the build after
--apply and put `public` back where it asks).

Usage: Scripts/unused-public.py [--apply] [--skip DIR ...]   (from the repository root; DIR relative to
Sources/Pipeline, e.g. --skip Scheduler --skip Restore)
"""
import os
import re
import sys

DECLARATION = re.compile(
    r"^(\s*)public\s+((?:(?:static|final|override|class|mutating|nonmutating|private\(set\)|internal\(set\)|"
    r"fileprivate\(set\)|indirect|lazy|convenience|required)\s+)*)"
    r"(func|var|let|struct|class|enum|protocol|typealias|actor|extension)\s+([A-Za-z_][A-Za-z0-9_]*)")


def swift_files(root):
    for directory, _, names in os.walk(root):
        for name in names:
            if name.endswith(".swift"):
                yield os.path.join(directory, name)


def main():
    apply = "--apply" in sys.argv
    skips = [sys.argv[i + 1] for i, arg in enumerate(sys.argv) if arg == "--skip"]
    users = ""
    for root in ("Sources/Stages", "Sources/OptionHost"):
        for path in swift_files(root):
            with open(path, encoding="utf-8") as file:
                users += file.read() + "\n"
    used = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", users))
    for path in sorted(swift_files("Sources/Pipeline")):
        relative = os.path.relpath(path, "Sources/Pipeline")
        if any(relative.startswith(skip.rstrip("/") + "/") for skip in skips):
            continue
        with open(path, encoding="utf-8") as file:
            lines = file.readlines()
        changed = False
        for number, line in enumerate(lines):
            match = DECLARATION.match(line)
            if not match or match.group(3) == "extension":
                continue
            name = match.group(4)
            if name in used:
                continue
            print(f"{path}:{number + 1}: {match.group(3)} {name}")
            if apply:
                # `public private(set) var` becomes `private(set) var`.
                lines[number] = line.replace("public ", "", 1)
                changed = True
        if changed:
            with open(path, "w", encoding="utf-8") as file:
                file.writelines(lines)


if __name__ == "__main__":
    main()
