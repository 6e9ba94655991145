import Foundation
import XCTest

@testable import Pipeline

#if canImport(Glibc)
    import Glibc
#endif

/// The selection rules of section 4 on real trees: matching, traversal order and controls, special files.
final class FileSelectorTests: SelectorTestCase {

    // MARK: - Defaults and order

    func testIncludeWithoutOptionsSavesEverythingWithTheSynthesizedBlock() throws {
        let tree = try makeTree()
        try tree.dir("data")
        try tree.file("data/a.txt", size: 3)
        try tree.dir("data/sub")
        try tree.file("data/sub/b.txt")
        try tree.dir("data/sub/c")

        let selection = try runSelection(makeFileSet([makeInclude([tree.path("data")])]))

        assertRows(
            selection, in: tree,
            [
                Row("data", .directory), Row("data/a.txt", .file), Row("data/sub", .directory),
                Row("data/sub/b.txt", .file), Row("data/sub/c", .directory),
            ])
        XCTAssertEqual(selection.problems.count, 0)
        for entry in selection.entries {
            XCTAssertEqual(entry.effectiveBlockIndex, 0)
            XCTAssertEqual(entry.includeIndex, 0)
            XCTAssertEqual(entry.chain, [])
            XCTAssertNil(entry.note)
            XCTAssertEqual(entry.isTopLevel, entry.path == tree.path("data"))
        }
        let file = try XCTUnwrap(selection.entries.first { $0.path == tree.path("data/a.txt") })
        XCTAssertEqual(file.stat.size, 3)
        XCTAssertEqual(file.stat.mode & 0o170000, 0o100000)
        XCTAssertEqual(file.stat.nlink, 1)
    }

    func testDirectoryEntryComesAfterEverythingBelowIt() throws {
        let tree = try makeTree()
        try tree.dir("t")
        for top in ["a", "b", "c"] {
            try tree.dir("t/\(top)")
            try tree.file("t/\(top)/f")
            for inner in ["x", "y"] {
                try tree.dir("t/\(top)/\(inner)")
                try tree.file("t/\(top)/\(inner)/g")
            }
        }
        let entries = try runSelection(makeFileSet([makeInclude([tree.path("t")])])).entries

        XCTAssertEqual(entries.count, 1 + 3 * (2 + 2 * 2))
        XCTAssertEqual(entries.last?.path, tree.path("t"))
        for (index, entry) in entries.enumerated() where entry.kind == .directory {
            let prefix = entry.path + [UInt8(ascii: "/")]
            let below = entries.indices.filter { entries[$0].path.starts(with: prefix) }
            XCTAssertTrue(below.allSatisfy { $0 < index }, "\(tree.relative(entry.path)) came before its contents")
            // Depth-first: everything below a directory is contiguous, right before it.
            XCTAssertEqual(below, Array((index - below.count)..<index))
        }
    }

    func testTopLevelTrailingSlashIsDroppedFromPaths() throws {
        // E9 shape: `File = /t/d/` and `WildDir = /t/d/*1` must match `/t/d/data1`.
        let tree = try makeTree()
        try tree.dir("t")
        try tree.dir("t/d")
        for k in 1...3 {
            try tree.dir("t/d/data\(k)")
            try tree.file("t/d/data\(k)/test.dat")
        }
        try tree.file("t/d/readme")
        let base = tree.string("t/d")
        let fileSet = makeFileSet([
            makeInclude(
                [tree.path("t/d/")],
                [
                    options {
                        $0.wildDir = [Array("\(base)/*1".utf8)]
                        $0.wild = [Array("\(base)/*1/*".utf8)]
                    },
                    options {
                        $0.exclude = true
                        $0.wildDir = [Array("\(base)/*".utf8)]
                    },
                ])
        ])

        let selection = try runSelection(fileSet)

        assertRows(
            selection, in: tree,
            [
                Row("t/d", .directory), Row("t/d/data1", .directory, 0), Row("t/d/data1/test.dat", .file, 0),
                Row("t/d/readme", .file),
            ])
        XCTAssertFalse(
            selection.entries.contains { entry in
                String(decoding: entry.path, as: UTF8.self).contains("//")
            })
    }

    // MARK: - decide(): first match wins, order of pattern kinds

    func testFirstMatchingBlockWins() throws {
        // E4: a block accepting everything first makes a later exclude block dead; swapped, it excludes.
        let tree = try makeTree()
        try tree.dir("app")
        try tree.file("app/x.tmp")
        try tree.file("app/y.txt")
        try tree.dir("app/sub")
        try tree.file("app/sub/z.tmp")
        let everything = options {
            $0.signatures = [.md5]
            $0.wild = [Array("*".utf8)]
        }
        let tmp = options {
            $0.exclude = true
            $0.wildFile = [Array("*.tmp".utf8)]
        }

        let first = try runSelection(makeFileSet([makeInclude([tree.path("app")], [everything, tmp])]))
        assertRows(
            first, in: tree,
            [
                Row("app", .directory), Row("app/x.tmp", .file, 0), Row("app/y.txt", .file, 0),
                Row("app/sub", .directory, 0), Row("app/sub/z.tmp", .file, 0),
            ])

        let swapped = try runSelection(makeFileSet([makeInclude([tree.path("app")], [tmp, everything])]))
        assertRows(
            swapped, in: tree,
            [
                Row("app", .directory), Row("app/y.txt", .file, 1), Row("app/sub", .directory, 1),
            ])
        XCTAssertTrue(swapped.entries.allSatisfy { $0.effectiveBlockIndex == 1 })
    }

    func testWildFileIgnoresDirectoriesWildDirIgnoresFilesWildTakesBoth() throws {
        // E2: `WildFile = "*.o"` with Exclude rejects files only; a directory named build.o is walked.
        let tree = try makeTree()
        try tree.dir("src")
        try tree.file("src/main.c")
        try tree.dir("src/lib")
        try tree.file("src/lib/x.o")
        try tree.dir("src/build.o")
        try tree.file("src/build.o/inner.c")
        let root = [tree.path("src")]

        let wildFile = try runSelection(
            makeFileSet([
                makeInclude(
                    root,
                    [
                        options {
                            $0.signatures = [.xxh128]
                            $0.exclude = true
                            $0.wildFile = [Array("*.o".utf8)]
                        }
                    ])
            ]))
        assertRows(
            wildFile, in: tree,
            [
                Row("src", .directory), Row("src/main.c", .file), Row("src/lib", .directory),
                Row("src/build.o", .directory), Row("src/build.o/inner.c", .file),
            ])

        let wildDir = try runSelection(
            makeFileSet([
                makeInclude(
                    root,
                    [
                        options {
                            $0.exclude = true
                            $0.wildDir = [Array("*.o".utf8)]
                        }
                    ])
            ]))
        assertRows(
            wildDir, in: tree,
            [
                Row("src", .directory), Row("src/main.c", .file), Row("src/lib", .directory), Row("src/lib/x.o", .file),
            ])

        let wild = try runSelection(
            makeFileSet([
                makeInclude(
                    root,
                    [
                        options {
                            $0.exclude = true
                            $0.wild = [Array("*.o".utf8)]
                        }
                    ])
            ]))
        assertRows(wild, in: tree, [Row("src", .directory), Row("src/main.c", .file), Row("src/lib", .directory)])
    }

    func testRegexFileAndWildFileWithAnExcludeCatchAll() throws {
        // E3 ("Wildtest"): only *.c files plus the directory skeleton; a symlink is a non-directory.
        let tree = try makeTree()
        try tree.dir("proj")
        try tree.file("proj/a.c")
        try tree.file("proj/Makefile")
        try tree.dir("proj/lib")
        try tree.file("proj/lib/b.c")
        try tree.file("proj/lib/b.h")
        try tree.symlink("proj/x.c", to: "a.c")

        let selection = try runSelection(
            makeFileSet([
                makeInclude(
                    [tree.path("proj")],
                    [
                        options { $0.wildFile = [Array("*.c".utf8)] },
                        options {
                            $0.exclude = true
                            $0.regexFile = [Array(".*".utf8)]
                        },
                    ])
            ]))

        assertRows(
            selection, in: tree,
            [
                Row("proj", .directory), Row("proj/a.c", .file, 0), Row("proj/lib", .directory),
                Row("proj/lib/b.c", .file, 0), Row("proj/x.c", .symlink, 0),
            ])
        let lib = try XCTUnwrap(selection.entries.first { $0.path == tree.path("proj/lib") })
        XCTAssertEqual(lib.effectiveBlockIndex, 1)
    }

    func testRegexDirRegexAndAnExcludeBlockWithoutPatterns() throws {
        // E5: only ~/Documents; `*` crosses `/`; the empty exclude block rejects whatever reaches it.
        let tree = try makeTree()
        for dir in [
            "home", "home/alice", "home/alice/Documents", "home/alice/Documents/old", "home/alice/Music",
            "home/alice/Documents2",
        ] {
            try tree.dir(dir)
        }
        for file in [
            "home/alice/Documents/old/cv.pdf", "home/alice/Documents/letter.txt", "home/alice/.bashrc",
            "home/alice/Music/song.mp3", "home/alice/Documents2/x",
        ] {
            try tree.file(file)
        }
        let home = tree.string("home")
        let documents = options {
            $0.wildDir = [Array("\(home)/*/Documents".utf8)]
            $0.wild = [Array("\(home)/*/Documents/*".utf8)]
        }
        let excludeRest = options { $0.exclude = true }

        let regex = try runSelection(
            makeFileSet([
                makeInclude(
                    [tree.path("home")],
                    [
                        documents, options { $0.regexDir = [Array("^\(regexEscaped(home))/[^/]+$".utf8)] }, excludeRest,
                    ])
            ]))
        assertRows(
            regex, in: tree,
            [
                Row("home", .directory), Row("home/alice", .directory, 1), Row("home/alice/Documents", .directory, 0),
                Row("home/alice/Documents/old", .directory, 0), Row("home/alice/Documents/old/cv.pdf", .file, 0),
                Row("home/alice/Documents/letter.txt", .file, 0),
            ])

        // With `WildDir = "/home/*"` the star spans `alice/Music`: every directory is walked, files still rejected.
        let wide = try runSelection(
            makeFileSet([
                makeInclude(
                    [tree.path("home")],
                    [
                        documents, options { $0.wildDir = [Array("\(home)/*".utf8)] }, excludeRest,
                    ])
            ]))
        assertRows(
            wide, in: tree,
            [
                Row("home", .directory), Row("home/alice", .directory, 1), Row("home/alice/Documents", .directory, 0),
                Row("home/alice/Documents/old", .directory, 0), Row("home/alice/Documents/old/cv.pdf", .file, 0),
                Row("home/alice/Documents/letter.txt", .file, 0), Row("home/alice/Music", .directory, 1),
                Row("home/alice/Documents2", .directory, 1),
            ])
    }

    func testIgnoreCaseFoldsRegexAndWildcardsOfItsBlock() throws {
        // E7: stored regex `\.(jpe?g|png)$`, case-insensitive; plain Regex also applies to directories.
        let tree = try makeTree()
        try tree.dir("pics")
        try tree.file("pics/A.JPG")
        try tree.dir("pics/album.png")
        try tree.file("pics/album.png/inside.txt")
        try tree.file("pics/a.jpg.txt")
        try tree.file("pics/xjpg")
        let root = [tree.path("pics")]

        let escaped = try runSelection(
            makeFileSet([
                makeInclude(
                    root,
                    [
                        options {
                            $0.ignoreCase = true
                            $0.regex = [Array(#"\.(jpe?g|png)$"#.utf8)]
                            $0.exclude = true
                        }
                    ])
            ]))
        assertRows(escaped, in: tree, [Row("pics", .directory), Row("pics/a.jpg.txt", .file), Row("pics/xjpg", .file)])

        // Written as "\.(jpe?g|png)$" in config text the dot becomes "any character".
        let dot = try runSelection(
            makeFileSet([
                makeInclude(
                    root,
                    [
                        options {
                            $0.ignoreCase = true
                            $0.regex = [Array(".(jpe?g|png)$".utf8)]
                            $0.exclude = true
                        }
                    ])
            ]))
        assertRows(dot, in: tree, [Row("pics", .directory), Row("pics/a.jpg.txt", .file)])

        let wildcard = try runSelection(
            makeFileSet([
                makeInclude(
                    root,
                    [
                        options {
                            $0.ignoreCase = true
                            $0.wildFile = [Array("*.TXT".utf8)]
                            $0.exclude = true
                        }
                    ])
            ]))
        assertRows(
            wildcard, in: tree,
            [
                Row("pics", .directory), Row("pics/A.JPG", .file), Row("pics/album.png", .directory),
                Row("pics/xjpg", .file),
            ])

        let caseSensitive = try runSelection(
            makeFileSet([
                makeInclude(
                    root,
                    [
                        options {
                            $0.wildFile = [Array("*.TXT".utf8)]
                            $0.exclude = true
                        }
                    ])
            ]))
        XCTAssertEqual(caseSensitive.entries.count, 6)
    }

    // MARK: - Exclude { } resource

    func testExcludeResourceMatchesFullPathsWithoutPrefixRule() throws {
        // E6.
        let tree = try makeTree()
        for dir in ["srv", "srv/cache", "srv/cache/keep", "srv/tmp", "srv/cachex", "srv/b.swp"] { try tree.dir(dir) }
        for file in [
            "srv/a.txt", "srv/a.txt.swp", "srv/cache/c1", "srv/cache/keep/a", "srv/tmp/t", "srv/cachex/y",
            "srv/b.swp/inner",
        ] {
            try tree.file(file)
        }
        let fileSet = makeFileSet(
            [makeInclude([tree.path("srv"), tree.path("srv/cache/keep")], [options { $0.signatures = [.xxh128] }])],
            excludes: [[tree.path("srv/cache"), Array("*.swp".utf8), tree.path("srv/tmp/")]])

        let selection = try runSelection(fileSet)

        assertRows(
            selection, in: tree,
            [
                Row("srv", .directory), Row("srv/a.txt", .file), Row("srv/tmp", .directory), Row("srv/tmp/t", .file),
                Row("srv/cachex", .directory), Row("srv/cachex/y", .file),
                Row("srv/cache/keep", .directory), Row("srv/cache/keep/a", .file),
            ])
        XCTAssertEqual(selection.problems.count, 0)
    }

    func testExcludeResourceIsConsultedOnlyWithoutABlockVerdictAndIsCaseSensitive() throws {
        let tree = try makeTree()
        try tree.dir("t")
        try tree.file("t/keep.log")
        try tree.file("t/drop.log")
        try tree.file("t/UPPER.LOG")
        let fileSet = makeFileSet(
            [
                makeInclude(
                    [tree.path("t")],
                    [
                        options {
                            $0.ignoreCase = true
                            $0.wildFile = [Array("*keep*".utf8)]
                        }
                    ])
            ],
            excludes: [[Array("*.log".utf8)]])

        let selection = try runSelection(fileSet)

        assertRows(selection, in: tree, [Row("t", .directory), Row("t/keep.log", .file, 0), Row("t/UPPER.LOG", .file)])
    }

    // MARK: - Top-level entries

    func testTopLevelEntriesBypassMatching() throws {
        // bareos-basic/HardLinks shape: both top-level files are saved although an exclude pattern covers them.
        let tree = try makeTree()
        try tree.file("file1")
        try tree.file("file2")
        try tree.dir("cache")
        try tree.file("cache/inner")
        let fileSet = makeFileSet(
            [
                makeInclude(
                    [tree.path("file1"), tree.path("file2"), tree.path("cache")],
                    [
                        options {
                            $0.hardLinks = true
                            $0.exclude = true
                            $0.wildFile = [Array("*file*".utf8)]
                        }
                    ])
            ],
            excludes: [[tree.path("cache")]])

        let selection = try runSelection(fileSet)

        assertRows(
            selection, in: tree,
            [
                Row("file1", .file), Row("file2", .file), Row("cache", .directory), Row("cache/inner", .file),
            ])
        for entry in selection.entries where entry.path != tree.path("cache/inner") {
            XCTAssertTrue(entry.isTopLevel)
            XCTAssertNil(entry.blockIndex)
            XCTAssertEqual(entry.effectiveBlockIndex, 0)
        }
    }

    func testTopLevelStatFailureIsAnError() throws {
        let tree = try makeTree()
        try tree.file("present")
        let selection = try runSelection(makeFileSet([makeInclude([tree.path("missing"), tree.path("present")])]))

        assertRows(selection, in: tree, [Row("present", .file)])
        XCTAssertEqual(
            problemLines(selection, in: tree), ["error: Could not stat $TMP/missing: No such file or directory"])
        XCTAssertEqual(selection.problems.first?.path, tree.path("missing"))
    }

    // MARK: - Special files

    func testSymlinkToDirectoryIsANonDirectoryAndIsNotFollowed() throws {
        let tree = try makeTree()
        try tree.dir("t")
        try tree.dir("t/real")
        try tree.file("t/real/f")
        try tree.symlink("t/link", to: "real")
        try tree.symlink("t/dangling", to: "/nonexistent/target")

        let selection = try runSelection(
            makeFileSet([
                makeInclude(
                    [tree.path("t"), tree.path("t/link")],
                    [
                        options { $0.wildFile = [Array("*link".utf8)] },
                        options { $0.wildDir = [Array("*link".utf8)] },
                    ])
            ]))

        assertRows(
            selection, in: tree,
            [
                Row("t", .directory), Row("t/real", .directory), Row("t/real/f", .file), Row("t/link", .symlink, 0),
                Row("t/dangling", .symlink), Row("t/link", .symlink),
            ])
        let links = selection.entries.filter { $0.kind == .symlink }
        XCTAssertEqual(Set(links.map { $0.linkTarget ?? [] }), [Array("real".utf8), Array("/nonexistent/target".utf8)])
    }

    func testFifoAndDevicesAreEntries() throws {
        let tree = try makeTree()
        try tree.dir("t")
        try tree.fifo("t/pipe")
        var expected: Set<Row> = [Row("t", .directory), Row("t/pipe", .fifo), Row("/dev/null", .charDevice)]
        let character = tree.withPath("t/chr") {
            mknod($0, mode_t(0o020644), dev_t(MountTable.makeDevice(major: 1, minor: 3)))
        }
        if character == 0 { expected.insert(Row("t/chr", .charDevice)) }
        let block = tree.withPath("t/blk") {
            mknod($0, mode_t(0o060644), dev_t(MountTable.makeDevice(major: 7, minor: 0)))
        }
        if block == 0 { expected.insert(Row("t/blk", .blockDevice)) }

        let selection = try runSelection(makeFileSet([makeInclude([tree.path("t"), Array("/dev/null".utf8)])]))

        assertRows(selection, in: tree, expected)
        let null = try XCTUnwrap(selection.entries.first { $0.path == Array("/dev/null".utf8) })
        XCTAssertTrue(null.isTopLevel)
        XCTAssertEqual(null.stat.rdev, MountTable.makeDevice(major: 1, minor: 3))
    }

    func testSocketIsSkippedWithAnInfoMessageOnlyWhenAccepted() throws {
        let tree = try makeTree()
        try tree.dir("t")
        try tree.socket("t/sock")
        try tree.socket("t/other.sock")
        try tree.file("t/f")

        let selection = try runSelection(
            makeFileSet(
                [makeInclude([tree.path("t")])], excludes: [[Array("*/other.sock".utf8)]]))

        assertRows(selection, in: tree, [Row("t", .directory), Row("t/f", .file)])
        XCTAssertEqual(problemLines(selection, in: tree), ["info: Skipping socket $TMP/t/sock"])
        XCTAssertEqual(selection.problems.first?.path, tree.path("t/sock"))
    }

    // MARK: - Hard links

    func testHardLinksYesSavesLaterNamesAsLinksToTheFirst() throws {
        let tree = try makeTree()
        try tree.dir("t")
        try tree.dir("t/sub")
        try tree.file("t/a", size: 10)
        try tree.hardLink("t/b", to: "t/a")
        try tree.hardLink("t/c", to: "t/a")
        try tree.hardLink("t/sub/d", to: "t/a")
        try tree.file("t/single")
        let names = ["t/a", "t/b", "t/c", "t/sub/d"].map { tree.path($0) }

        let entries = try runSelection(makeFileSet([makeInclude([tree.path("t")], [options { $0.hardLinks = true }])]))
            .entries

        let linked = entries.filter { names.contains($0.path) }
        XCTAssertEqual(linked.count, 4)
        XCTAssertEqual(linked.first?.kind, .file)
        XCTAssertNil(linked.first?.linkTarget)
        for later in linked.dropFirst() {
            XCTAssertEqual(later.kind, .hardLink)
            XCTAssertEqual(later.linkTarget, linked.first?.path)
            XCTAssertEqual(later.stat.ino, linked.first?.stat.ino)
            XCTAssertEqual(later.stat.nlink, 4)
        }
        XCTAssertEqual(entries.first { $0.path == tree.path("t/single") }?.kind, .file)
    }

    func testHardLinksNoSavesEveryNameAsAFile() throws {
        let tree = try makeTree()
        try tree.dir("t")
        try tree.file("t/a")
        try tree.hardLink("t/b", to: "t/a")

        let selection = try runSelection(makeFileSet([makeInclude([tree.path("t")])]))

        assertRows(selection, in: tree, [Row("t", .directory), Row("t/a", .file), Row("t/b", .file)])
    }

    func testHardLinksAtTopLevelAndTheSameNameTwice() throws {
        let tree = try makeTree()
        try tree.file("a")
        try tree.hardLink("b", to: "a")
        let files = [tree.path("a"), tree.path("b"), tree.path("a")]

        let entries = try runSelection(makeFileSet([makeInclude(files, [options { $0.hardLinks = true }])])).entries

        XCTAssertEqual(entries.map { tree.relative($0.path) }, ["a", "b"])
        XCTAssertEqual(entries.map(\.kind), [.file, .hardLink])
        XCTAssertEqual(entries.last?.linkTarget, tree.path("a"))

        let plain = try runSelection(makeFileSet([makeInclude(files)])).entries
        XCTAssertEqual(plain.map { tree.relative($0.path) }, ["a", "b", "a"])
    }

    func testHardLinkWhoseFirstNameWasRejectedIsSavedAsAFile() throws {
        let tree = try makeTree()
        try tree.dir("a")
        try tree.dir("b")
        try tree.file("a/x")
        try tree.hardLink("b/y", to: "a/x")
        try tree.hardLink("b/z", to: "a/x")
        let fileSet = makeFileSet([
            makeInclude(
                [tree.path("a"), tree.path("b")],
                [
                    options {
                        $0.exclude = true
                        $0.wildFile = [Array("*/a/*".utf8)]
                    },
                    options { $0.hardLinks = true },
                ])
        ])

        let entries = try runSelection(fileSet).entries.filter { $0.kind != .directory }

        XCTAssertEqual(entries.count, 2)
        XCTAssertEqual(entries.first?.kind, .file)
        XCTAssertEqual(entries.last?.kind, .hardLink)
        XCTAssertEqual(entries.last?.linkTarget, entries.first?.path)
        XCTAssertTrue(entries.allSatisfy { $0.path.starts(with: tree.path("b/")) })
    }

    func testHardLinksSettingComesFromTheDecidingBlock() throws {
        let tree = try makeTree()
        try tree.dir("t")
        try tree.file("t/x1")
        try tree.hardLink("t/x2", to: "t/x1")
        try tree.file("t/y1")
        try tree.hardLink("t/y2", to: "t/y1")

        let entries = try runSelection(
            makeFileSet([
                makeInclude(
                    [tree.path("t")],
                    [
                        options { $0.wildFile = [Array("*/x*".utf8)] },
                        options { $0.hardLinks = true },
                    ])
            ])
        ).entries

        let xs = entries.filter { tree.relative($0.path).hasPrefix("t/x") }
        let ys = entries.filter { tree.relative($0.path).hasPrefix("t/y") }
        XCTAssertEqual(xs.map(\.kind), [.file, .file])
        XCTAssertEqual(Set(ys.map(\.kind)), [.file, .hardLink])
    }

    // MARK: - Traversal controls

    func testExcludeDirContainingAtTopLevelAndBelow() throws {
        let tree = try makeTree()
        try tree.dir("top1")
        try tree.file("top1/.nobackup")
        try tree.file("top1/f")
        try tree.dir("top2")
        try tree.file("top2/f")
        try tree.dir("top2/sub")
        try tree.file("top2/sub/.nobackup")
        try tree.file("top2/sub/g")
        try tree.dir("top2/marked-by-dir")
        try tree.dir("top2/marked-by-dir/.nobackup")
        try tree.dir("top2/dangling")
        try tree.symlink("top2/dangling/.nobackup", to: "/nonexistent")
        try tree.file("top2/dangling/h")
        try tree.dir("top2/via-link")
        try tree.symlink("top2/via-link/.nobackup", to: "../f")
        try tree.dir("top2/app")
        try tree.dir("top2/app/cfg")
        try tree.file("top2/app/cfg/skip")
        let include = makeInclude(
            [tree.path("top1"), tree.path("top2")], [options { $0.recurse = false }],
            excludeDirContaining: [".nobackup", "cfg/skip"])

        let selection = try runSelection(makeFileSet([include]))

        // Recurse = no below the top: dangling is recorded but not entered; the marked ones are not saved at all.
        assertRows(
            selection, in: tree,
            [
                Row("top2", .directory), Row("top2/f", .file), Row("top2/dangling", .directory),
            ])
        XCTAssertEqual(
            problemLines(selection, in: tree), ["info: Not descending into $TMP/top2/dangling: Recurse = no"])

        let recursing = try runSelection(
            makeFileSet([
                makeInclude(
                    [tree.path("top2")], excludeDirContaining: [".nobackup", "cfg/skip"])
            ]))
        assertRows(
            recursing, in: tree,
            [
                Row("top2", .directory), Row("top2/f", .file), Row("top2/dangling", .directory),
                Row("top2/dangling/.nobackup", .symlink), Row("top2/dangling/h", .file),
            ])
    }

    func testRecurseNoRecordsSubdirectoriesWithoutEnteringThem() throws {
        // E8, first setup.
        let tree = try makeTree()
        try tree.dir("etc")
        try tree.file("etc/hosts")
        try tree.dir("etc/ssh")
        try tree.file("etc/ssh/ssh_config")
        try tree.dir("etc/ssh/deeper")

        let selection = try runSelection(
            makeFileSet([
                makeInclude(
                    [tree.path("etc")], [options { $0.recurse = false }],
                    excludeDirContaining: [".nobackup"])
            ]))

        assertRows(selection, in: tree, [Row("etc", .directory), Row("etc/hosts", .file), Row("etc/ssh", .directory)])
        let ssh = try XCTUnwrap(selection.entries.first { $0.path == tree.path("etc/ssh") })
        XCTAssertEqual(ssh.note, "not descended: Recurse = no")
        XCTAssertEqual(problemLines(selection, in: tree), ["info: Not descending into $TMP/etc/ssh: Recurse = no"])
        // The message comes right before the directory's entry.
        let index = try XCTUnwrap(selection.events.firstIndex { if case .problem = $0 { true } else { false } })
        guard case .entry(let next) = selection.events[index + 1] else { return XCTFail("no entry after message") }
        XCTAssertEqual(next.path, tree.path("etc/ssh"))

        try tree.file("etc/ssh/.nobackup")
        let marked = try runSelection(
            makeFileSet([
                makeInclude(
                    [tree.path("etc")], [options { $0.recurse = false }],
                    excludeDirContaining: [".nobackup"])
            ]))
        assertRows(marked, in: tree, [Row("etc", .directory), Row("etc/hosts", .file)])

        try tree.file("etc/.nobackup")
        let all = try runSelection(
            makeFileSet([
                makeInclude(
                    [tree.path("etc")], [options { $0.recurse = false }],
                    excludeDirContaining: [".nobackup"])
            ]))
        XCTAssertEqual(all.events.count, 0)
    }

    func testRecurseComesFromTheDecidingBlock() throws {
        let tree = try makeTree()
        try tree.dir("r")
        try tree.dir("r/deep")
        try tree.file("r/deep/x")
        try tree.dir("r/shallow")
        try tree.file("r/shallow/y")

        let selection = try runSelection(
            makeFileSet([
                makeInclude(
                    [tree.path("r")],
                    [
                        options {
                            $0.wildDir = [Array("*/deep".utf8)]
                            $0.recurse = false
                        },
                        options(),
                    ])
            ]))

        assertRows(
            selection, in: tree,
            [
                Row("r", .directory), Row("r/deep", .directory, 0), Row("r/shallow", .directory),
                Row("r/shallow/y", .file),
            ])
    }

    func testSizeComesFromTheLastBlockOnly() throws {
        // E10: Size in the first block only → no size filter at all.
        let tree = try makeTree()
        try tree.dir("s")
        try tree.file("s/small", size: 5)
        try tree.file("s/mid", size: 500)
        try tree.file("s/big", size: 5000)
        try tree.symlink("s/link", to: "big")
        try tree.dir("s/dir")

        let firstOnly = try runSelection(
            makeFileSet([
                makeInclude(
                    [tree.path("s")],
                    [
                        options {
                            $0.wildFile = [Array("*".utf8)]
                            $0.size = .smallerThan(100)
                        },
                        options {
                            $0.plugins = [PluginEntry(string: "python3:module_name=myfilter", location: Self.location)]
                        },
                    ])
            ]))
        assertRows(
            firstOnly, in: tree,
            [
                Row("s", .directory), Row("s/small", .file, 0), Row("s/mid", .file, 0), Row("s/big", .file, 0),
                Row("s/link", .symlink, 0), Row("s/dir", .directory),
            ])

        // Size in the last block filters every regular file of the Include before matching, top-level ones too.
        let last = try runSelection(
            makeFileSet([
                makeInclude(
                    [tree.path("s"), tree.path("s/small"), tree.path("s/big")],
                    [
                        options { $0.wildFile = [Array("*small".utf8)] },
                        options { $0.size = .greaterThan(100) },
                    ])
            ]))
        XCTAssertEqual(
            last.entries.map { tree.relative($0.path) }.sorted(),
            [
                "s", "s/big", "s/big", "s/dir", "s/link", "s/mid",
            ])

        let approximately = try runSelection(
            makeFileSet([
                makeInclude(
                    [tree.path("s")],
                    [
                        options { $0.size = .approximately(499) }
                    ])
            ]))
        assertRows(
            approximately, in: tree,
            [
                Row("s", .directory), Row("s/mid", .file), Row("s/link", .symlink), Row("s/dir", .directory),
            ])
    }

    // MARK: - Chains

    func testChainsFollowTheEffectiveBlock() throws {
        let tree = try makeTree()
        try tree.dir("t")
        try tree.file("t/a.c")
        try tree.file("t/b.txt")
        let blocks = [
            options {
                $0.wildFile = [Array("*.c".utf8)]
                $0.plugins = [PluginEntry(string: "python3:module_name=first", location: Self.location)]
            },
            options {
                $0.plugins = ["x", "y"].map { PluginEntry(string: $0, location: Self.location) }
            },
        ]
        let fileSet = makeFileSet([makeInclude([tree.path("t")], blocks)])

        let fromPlugins = Dictionary(
            uniqueKeysWithValues: try runSelection(fileSet).entries.map {
                (tree.relative($0.path), $0.chain)
            })
        XCTAssertEqual(fromPlugins, ["t": ["x", "y"], "t/a.c": ["python3:module_name=first"], "t/b.txt": ["x", "y"]])

        let given = Dictionary(
            uniqueKeysWithValues: try runSelection(fileSet, chains: [[["s1"], ["s2", "s3"]]]).entries.map {
                (tree.relative($0.path), $0.chain)
            })
        XCTAssertEqual(given, ["t": ["s2", "s3"], "t/a.c": ["s1"], "t/b.txt": ["s2", "s3"]])
    }

    func testSeveralIncludesAreWalkedInOrderWithTheirOwnBlocks() throws {
        let tree = try makeTree()
        try tree.dir("one")
        try tree.file("one/a.log")
        try tree.dir("two")
        try tree.file("two/b.log")
        let fileSet = makeFileSet([
            makeInclude(
                [tree.path("one")],
                [
                    options {
                        $0.exclude = true
                        $0.wildFile = [Array("*.log".utf8)]
                    }
                ]),
            makeInclude([tree.path("two")], [options { $0.wildFile = [Array("*.log".utf8)] }]),
        ])

        let entries = try runSelection(fileSet).entries

        XCTAssertEqual(entries.map { tree.relative($0.path) }, ["one", "two/b.log", "two"])
        XCTAssertEqual(entries.map(\.includeIndex), [0, 1, 1])
        XCTAssertEqual(entries.map(\.blockIndex), [nil, 0, nil])
    }

    // MARK: - Names are bytes

    func testNamesThatAreNotUTF8() throws {
        let tree = try makeTree()
        try tree.dir("n")
        try tree.file(bytes: Array("n/".utf8) + [0xFF, UInt8(ascii: "."), UInt8(ascii: "b")])
        try tree.file(bytes: Array("n/".utf8) + [0xFF, UInt8(ascii: "x")])
        try tree.dir(bytes: Array("n/".utf8) + [0xFE])
        try tree.file(bytes: Array("n/".utf8) + [0xFE, UInt8(ascii: "/")] + Array("caf".utf8) + [0xE9])
        try tree.symlink("n/l", to: "\u{FF}")  // a valid UTF-8 target for contrast

        let selection = try runSelection(
            makeFileSet([
                makeInclude(
                    [tree.path("n")],
                    [
                        options {
                            $0.exclude = true
                            $0.wildFile = [[UInt8(ascii: "*"), 0xFF, UInt8(ascii: "."), UInt8(ascii: "*")]]
                        }
                    ])
            ]))

        assertRows(
            selection, in: tree,
            [
                Row("n", .directory), Row("n/\\xFFx", .file), Row("n/\\xFE", .directory),
                Row("n/\\xFE/caf\\xE9", .file),
                Row("n/l", .symlink),
            ])
        let paths = Set(selection.entries.map(\.path))
        XCTAssertTrue(paths.contains(tree.path("n/") + [0xFE, UInt8(ascii: "/")] + Array("caf".utf8) + [0xE9]))
    }

    // MARK: - Errors during the walk

    func testUnreadableDirectoryAndUnstatableEntries() throws {
        let tree = try makeTree()
        try tree.dir("u")
        try tree.dir("u/locked", mode: 0o700)
        try tree.file("u/locked/secret")
        try tree.dir("u/noexec")
        try tree.file("u/noexec/x1")
        try tree.file("u/noexec/x2")
        try tree.chmod("u/noexec", 0o744)
        try tree.dir("u/ok")
        try tree.file("u/ok/f")
        if geteuid() != 0 { try tree.chmod("u/locked", 0o000) }

        let selection = try asNobody {
            try runSelection(makeFileSet([makeInclude([tree.path("u")])], excludes: [[Array("*/x2".utf8)]]))
        }

        // Bareos does not save a directory it cannot open; an unstat-able child is reported when accepted.
        assertRows(
            selection, in: tree,
            [
                Row("u", .directory), Row("u/noexec", .directory), Row("u/ok", .directory), Row("u/ok/f", .file),
            ])
        XCTAssertEqual(
            Set(problemLines(selection, in: tree)),
            [
                "error: Could not open directory $TMP/u/locked: Permission denied",
                "error: Could not stat $TMP/u/noexec/x1: Permission denied",
            ])
        XCTAssertTrue(selection.problems.allSatisfy { $0.severity == .error })
    }

    func testAnErrorThrownByTheBodyStopsTheWalkAndClosesDescriptors() throws {
        struct Stop: Error {}
        let tree = try makeTree()
        try tree.dir("t")
        try tree.deepChain(under: "t", depth: 20)
        let selector = try FileSelector(fileSet: makeFileSet([makeInclude([tree.path("t")])]))
        let before = openDescriptorCount()
        var seen = 0

        XCTAssertThrowsError(
            try selector.run { _ in
                seen += 1
                if seen == 3 { throw Stop() }
            }
        ) { XCTAssertTrue($0 is Stop) }
        XCTAssertEqual(seen, 3)
        XCTAssertEqual(openDescriptorCount(), before)
    }

    // MARK: - Depth

    func testDeepTreeKeepsDescriptorsBounded() throws {
        let tree = try makeTree()
        try tree.dir("deep")
        let depth = 2_100
        try tree.deepChain(under: "deep", depth: depth)
        let fileSet = makeFileSet([makeInclude([tree.path("deep")])])
        let baseline = openDescriptorCount()
        var peak = 0
        var entries: [SelectedEntry] = []
        let selector = try FileSelector(fileSet: fileSet, chains: nil, maxOpenDirectories: 64)

        try selector.run { event in
            guard case .entry(let entry) = event else { return XCTFail("\(event)") }
            entries.append(entry)
            if entries.count % 100 == 1 { peak = max(peak, openDescriptorCount()) }
        }

        XCTAssertEqual(entries.count, 1 + 2 * depth)
        XCTAssertEqual(entries.filter { $0.kind == .directory }.count, 1 + depth)
        XCTAssertLessThanOrEqual(peak, baseline + 64 + 1)
        XCTAssertEqual(openDescriptorCount(), baseline)
        XCTAssertEqual(entries.last?.path, tree.path("deep"))
        let deepest = entries.first { $0.kind == .directory }
        XCTAssertEqual(deepest?.path.count, tree.path("deep").count + 2 * depth)
        XCTAssertGreaterThan(deepest?.path.count ?? 0, Int(PATH_MAX))

        // The same walk with a budget of 16 descriptors (many close/reopen rounds) gives the same events.
        let small = try runSelection(fileSet, maxOpenDirectories: 16).entries
        XCTAssertEqual(small.map(\.path), entries.map(\.path))
    }

    func testReopeningDirectoriesKeepsTheWalkIdentical() throws {
        let tree = try makeTree()
        try tree.dir("w")
        func grow(_ relative: String, _ level: Int) throws {
            guard level > 0 else { return }
            for child in 0..<3 {
                try tree.file("\(relative)/f\(child)")
                try tree.dir("\(relative)/d\(child)")
                try grow("\(relative)/d\(child)", level - 1)
            }
        }
        try grow("w", 5)
        let fileSet = makeFileSet([makeInclude([tree.path("w")])])

        let reference = try runSelection(fileSet).entries.map(\.path)
        XCTAssertEqual(reference.count, 1 + 2 * (3 + 9 + 27 + 81 + 243))
        for budget in [2, 3, 4] {
            XCTAssertEqual(try runSelection(fileSet, maxOpenDirectories: budget).entries.map(\.path), reference)
        }
    }
    func testADirectoryReplacedWhileItsDescriptorWasClosedIsReported() throws {
        let tree = try makeTree()
        try tree.dir("w")
        try tree.dir("w/a")
        try tree.dir("w/a/b")
        try tree.dir("w/a/b/c")
        try tree.file("w/a/b/c/f3")
        // Siblings make it all but certain (whatever the readdir order) that w/a or w/a/b still has entries to
        // read after w/a/b/c, so that a descriptor must be reopened.
        for index in 0..<20 {
            try tree.file("w/a/f\(index)")
            try tree.file("w/a/b/g\(index)")
        }
        let selector = try FileSelector(
            fileSet: makeFileSet([makeInclude([tree.path("w")])]), chains: nil, maxOpenDirectories: 2)
        var events: [SelectionEvent] = []

        try selector.run { event in
            events.append(event)
            // While w/a and w/a/b have no descriptor (the budget is spent on w and w/a/b/c), swap w/a.
            if case .entry(let entry) = event, entry.path == tree.path("w/a/b/c") {
                XCTAssertEqual(rename(tree.string("w/a"), tree.string("w/old")), 0)
                try tree.dir("w/a")
            }
        }

        let selection = Selection(events: events)
        XCTAssertEqual(
            problemLines(selection, in: tree),
            ["error: Could not reopen directory $TMP/w/a: it was replaced during the walk"])
        // The directories already accepted still get their entries, in order, and the walk ends normally.
        let directories = selection.entries.filter { $0.kind == .directory }.map { tree.relative($0.path) }
        XCTAssertEqual(directories, ["w/a/b/c", "w/a/b", "w/a", "w"])
    }

}

extension FileTreeFixture {
    func withPath<R>(_ relative: String, _ body: (UnsafePointer<CChar>) -> R) -> R { Self.withC(path(relative), body) }
}
