import Foundation
import XCTest

@testable import Pipeline

/// The worked examples E1–E10 of the FileSet reference (section 4.8): FileSet text as in the examples, parsed by
/// `Configuration.parse`, with absolute paths moved under a temporary tree (`/data` becomes `$TMP/data`).
final class WorkedExamplesTests: SelectorTestCase {

    /// Parses `text` (one FileSet named `name`) and walks it with the configuration's chains.
    private func walk(_ text: String, _ name: String) throws -> (Selection, FileSet) {
        let configuration: Configuration
        do {
            configuration = try Configuration.parse(text: text, fileName: "\(name).conf")
        } catch {
            XCTFail("\(error)")
            throw error
        }
        let fileSet = try XCTUnwrap(configuration.fileSets[name], "FileSet \(name) not parsed")
        return (try runSelection(fileSet, chains: configuration.chains(for: fileSet)), fileSet)
    }

    private func entry(_ selection: Selection, _ tree: FileTreeFixture, _ relative: String) throws -> SelectedEntry {
        try XCTUnwrap(selection.entries.first { $0.path == tree.path(relative) }, "\(relative) not selected")
    }

    // MARK: - E1 no Options block

    func testE1NoOptionsBlock() throws {
        let tree = try makeTree()
        try tree.dir("data")
        try tree.file("data/a.txt")
        try tree.dir("data/sub")
        try tree.file("data/sub/b.txt")
        let text = """
            FileSet { Name = "e1"
              Include { File = "\(tree.string("data"))" }
            }
            """

        let (selection, fileSet) = try walk(text, "e1")

        assertRows(
            selection, in: tree,
            [
                Row("data", .directory), Row("data/a.txt", .file), Row("data/sub", .directory),
                Row("data/sub/b.txt", .file),
            ])
        XCTAssertTrue(selection.entries.allSatisfy { $0.effectiveBlockIndex == 0 })
        let b0 = fileSet.includes[0].options[0]
        XCTAssertTrue(b0.synthesized)
        XCTAssertFalse(b0.hardLinks)
        XCTAssertTrue(b0.aclSupport)
        XCTAssertTrue(b0.xattrSupport)
        XCTAssertNil(b0.effectiveSignature)
        XCTAssertNil(b0.compression)
    }

    // MARK: - E2 exclude object files

    func testE2ExcludeObjectFiles() throws {
        let tree = try makeTree()
        try tree.dir("src")
        try tree.file("src/main.c")
        try tree.dir("src/lib")
        try tree.file("src/lib/x.o")
        try tree.dir("src/build.o")
        try tree.file("src/build.o/y.c")
        let text = """
            FileSet { Name = "e2"
              Include {
                Options { Signature = XXH128; WildFile = "*.o"; Exclude = yes }
                File = "\(tree.string("src"))"
              }
            }
            """

        let (selection, fileSet) = try walk(text, "e2")

        assertRows(
            selection, in: tree,
            [
                Row("src", .directory), Row("src/main.c", .file), Row("src/lib", .directory),
                Row("src/build.o", .directory), Row("src/build.o/y.c", .file),
            ])
        XCTAssertEqual(try entry(selection, tree, "src/main.c").effectiveBlockIndex, 0)
        XCTAssertEqual(fileSet.includes[0].options[0].effectiveSignature, .xxh128)
    }

    // MARK: - E3 only *.c

    func testE3OnlyCFiles() throws {
        let tree = try makeTree()
        try tree.dir("proj")
        try tree.file("proj/a.c")
        try tree.file("proj/Makefile")
        try tree.dir("proj/lib")
        try tree.file("proj/lib/b.c")
        try tree.file("proj/lib/b.h")
        try tree.symlink("proj/x.c", to: "a.c")
        let text = """
            FileSet { Name = "e3"
              Include {
                Options { WildFile = "*.c" }
                Options { Exclude = yes; RegexFile = ".*" }
                File = "\(tree.string("proj"))"
              }
            }
            """

        let (selection, _) = try walk(text, "e3")

        assertRows(
            selection, in: tree,
            [
                Row("proj", .directory), Row("proj/a.c", .file, 0), Row("proj/lib", .directory),
                Row("proj/lib/b.c", .file, 0), Row("proj/x.c", .symlink, 0),
            ])
        XCTAssertEqual(try entry(selection, tree, "proj/lib").effectiveBlockIndex, 1)
    }

    // MARK: - E4 order matters

    func testE4OrderMatters() throws {
        let tree = try makeTree()
        try tree.dir("app")
        try tree.file("app/x.tmp")
        try tree.file("app/y.txt")
        let everything = #"Options { Signature = MD5; Wild = "*" }"#
        let tmp = #"Options { Exclude = yes; WildFile = "*.tmp" }"#
        func text(_ first: String, _ second: String) -> String {
            """
            FileSet { Name = "e4"
              Include {
                \(first)
                \(second)
                File = "\(tree.string("app"))"
              }
            }
            """
        }

        let (selection, fileSet) = try walk(text(everything, tmp), "e4")
        assertRows(
            selection, in: tree, [Row("app", .directory), Row("app/x.tmp", .file, 0), Row("app/y.txt", .file, 0)])
        XCTAssertEqual(fileSet.includes[0].options[0].effectiveSignature, .md5)

        let (swapped, swappedSet) = try walk(text(tmp, everything), "e4")
        assertRows(swapped, in: tree, [Row("app", .directory), Row("app/y.txt", .file, 1)])
        XCTAssertTrue(
            swapped.entries.allSatisfy {
                swappedSet.includes[0].options[$0.effectiveBlockIndex].effectiveSignature == .md5
            })
    }

    // MARK: - E5 only ~/Documents

    func testE5OnlyDocuments() throws {
        let tree = try makeTree()
        for dir in [
            "home", "home/alice", "home/alice/Documents", "home/alice/Documents/old", "home/alice/Music",
            "home/alice/Documents2",
        ] {
            try tree.dir(dir)
        }
        for file in [
            "home/alice/Documents/old/cv.pdf", "home/alice/.bashrc", "home/alice/Music/a.mp3",
            "home/alice/Documents2/x",
        ] {
            try tree.file(file)
        }
        let home = tree.string("home")
        func text(_ second: String) -> String {
            """
            FileSet { Name = "e5"
              Include {
                Options { WildDir = "\(home)/*/Documents"; Wild = "\(home)/*/Documents/*" }
                Options { \(second) }
                Options { Exclude = yes }
                File = "\(home)"
              }
            }
            """
        }
        let documents: Set<Row> = [
            Row("home", .directory), Row("home/alice", .directory, 1), Row("home/alice/Documents", .directory, 0),
            Row("home/alice/Documents/old", .directory, 0), Row("home/alice/Documents/old/cv.pdf", .file, 0),
        ]

        let (selection, _) = try walk(text(#"RegexDir = "^\#(regexEscaped(home))/[^/]+$""#), "e5")
        assertRows(selection, in: tree, documents)

        // With `WildDir = "/home/*"` every directory is walked and saved; files are still rejected by B3.
        let (wide, _) = try walk(text(#"WildDir = "\#(home)/*""#), "e5")
        assertRows(
            wide, in: tree,
            documents.union([
                Row("home/alice/Music", .directory, 1), Row("home/alice/Documents2", .directory, 1),
            ]))
    }

    // MARK: - E6 Exclude { }

    func testE6ExcludeResource() throws {
        let tree = try makeTree()
        for dir in ["srv", "srv/cache", "srv/cache/keep", "srv/tmp", "srv/cachex", "srv/b.swp"] { try tree.dir(dir) }
        for file in [
            "srv/a.txt", "srv/a.txt.swp", "srv/cache/c", "srv/cache/keep/a", "srv/tmp/t", "srv/cachex/y",
            "srv/b.swp/z",
        ] {
            try tree.file(file)
        }
        let srv = tree.string("srv")
        let text = """
            FileSet { Name = "e6"
              Include {
                Options { Signature = XXH128 }
                File = "\(srv)"
                File = "\(srv)/cache/keep"
              }
              Exclude {
                File = "\(srv)/cache"
                File = "*.swp"
                File = "\(srv)/tmp/"
              }
            }
            """

        let (selection, _) = try walk(text, "e6")

        assertRows(
            selection, in: tree,
            [
                Row("srv", .directory), Row("srv/a.txt", .file), Row("srv/tmp", .directory), Row("srv/tmp/t", .file),
                Row("srv/cachex", .directory), Row("srv/cachex/y", .file), Row("srv/cache/keep", .directory),
                Row("srv/cache/keep/a", .file),
            ])
    }

    // MARK: - E7 IgnoreCase and regex quoting

    func testE7IgnoreCaseAndRegexQuoting() throws {
        let tree = try makeTree()
        try tree.dir("pics")
        try tree.file("pics/A.JPG")
        try tree.dir("pics/album.png")
        try tree.file("pics/album.png/p")
        try tree.file("pics/a.jpg.txt")
        try tree.file("pics/xjpg")
        func text(_ regex: String) -> String {
            """
            FileSet { Name = "e7"
              Include {
                Options { IgnoreCase = yes; Regex = "\(regex)"; Exclude = yes }
                File = "\(tree.string("pics"))"
              }
            }
            """
        }

        let (selection, fileSet) = try walk(text(#"\\.(jpe?g|png)$"#), "e7")
        XCTAssertEqual(fileSet.includes[0].options[0].regex, [Array(#"\.(jpe?g|png)$"#.utf8)])
        assertRows(
            selection, in: tree, [Row("pics", .directory), Row("pics/a.jpg.txt", .file), Row("pics/xjpg", .file)])

        let (single, _) = try walk(text(#"\.(jpe?g|png)$"#), "e7")
        assertRows(single, in: tree, [Row("pics", .directory), Row("pics/a.jpg.txt", .file)])
    }

    // MARK: - E8 traversal controls

    func testE8RecurseAndExcludeDirContaining() throws {
        let tree = try makeTree()
        try tree.dir("etc")
        try tree.file("etc/hosts")
        try tree.dir("etc/ssh")
        try tree.file("etc/ssh/sshd_config")
        let text = """
            FileSet { Name = "e8"
              Include {
                Options { Recurse = no }
                Exclude Dir Containing = .nobackup
                File = "\(tree.string("etc"))"
              }
            }
            """

        let (selection, _) = try walk(text, "e8")
        assertRows(selection, in: tree, [Row("etc", .directory), Row("etc/hosts", .file), Row("etc/ssh", .directory)])
        XCTAssertEqual(try entry(selection, tree, "etc/ssh").note, "not descended: Recurse = no")

        try tree.file("etc/ssh/.nobackup")
        let (marked, _) = try walk(text, "e8")
        assertRows(marked, in: tree, [Row("etc", .directory), Row("etc/hosts", .file)])

        try tree.file("etc/.nobackup")
        let (nothing, _) = try walk(text, "e8")
        XCTAssertEqual(nothing.entries.count, 0)
    }

    func testE8FileSystemTypes() throws {
        // The second setup on the temporary tree: `FS Type` checked on the top-level entry with the tree's real
        // type and with a type it is not; with a tmpfs mounted below it when this process may mount.
        let tree = try makeTree()
        try tree.dir("root")
        try tree.file("root/f")
        try tree.dir("root/mnt")
        let realType = try shell("findmnt -n -o FSTYPE --target '\(tree.rootString)'")
        func text(_ options: String) -> String {
            """
            FileSet { Name = "e8b"
              Include {
                Options { \(options) }
                File = "\(tree.string("root"))"
              }
            }
            """
        }

        let (listed, _) = try walk(text("One FS = no; FS Type = \(realType)"), "e8b")
        assertRows(listed, in: tree, [Row("root", .directory), Row("root/f", .file), Row("root/mnt", .directory)])

        let (unlisted, _) = try walk(text("One FS = no; FS Type = nosuchfs"), "e8b")
        XCTAssertEqual(unlisted.entries.count, 0)
        XCTAssertEqual(
            problemLines(unlisted, in: tree),
            [
                "info: Skipping $TMP/root: file system type \(realType) is not in the FS Type list"
            ])

        guard tree.mountTmpfs("root/mnt") else { return }
        try tree.file("root/mnt/inside")

        // `/proc` (another type, not listed) → directory entry only.
        let (crossing, _) = try walk(text("One FS = no; FS Type = \(realType)"), "e8b")
        assertRows(crossing, in: tree, [Row("root", .directory), Row("root/f", .file), Row("root/mnt", .directory)])
        XCTAssertEqual(try entry(crossing, tree, "root/mnt").note, "not descended: file system type tmpfs not listed")

        // `/home` (a listed type on another device) → walked.
        let (walked, _) = try walk(text("One FS = no; FS Type = \(realType); FS Type = tmpfs"), "e8b")
        assertRows(
            walked, in: tree,
            [
                Row("root", .directory), Row("root/f", .file), Row("root/mnt", .directory),
                Row("root/mnt/inside", .file),
            ])

        // One FS = yes (the default): every mount point below is saved as an empty directory.
        let (oneFS, _) = try walk(text("Signature = MD5"), "e8b")
        assertRows(oneFS, in: tree, [Row("root", .directory), Row("root/f", .file), Row("root/mnt", .directory)])
        XCTAssertEqual(try entry(oneFS, tree, "root/mnt").note, "not descended: other file system (One FS)")
    }

    // MARK: - E9 multiple Options blocks

    func testE9MultipleOptionsBlocks() throws {
        let tree = try makeTree()
        try tree.dir("d")
        for k in 1...9 {
            try tree.dir("d/data\(k)")
            try tree.file("d/data\(k)/test.dat", size: 10)
        }
        try tree.file("d/readme")
        let d = tree.string("d")
        let settings = [
            "Signature = MD5", "Compression = GZIP", "Compression = GZIP9", "Compression = LZO; Signature = SHA1",
            "Compression = LZ4; Signature = SHA256", "Compression = LZ4HC; Signature = SHA512",
            "Compression = LZ4; Signature = XXH128",
        ]
        var blocks = ""
        for (index, setting) in settings.enumerated() {
            blocks += """
                    Options {
                      \(setting)
                      WildDir = "\(d)/*\(index + 1)"
                      Wild = "\(d)/*\(index + 1)/*"
                    }

                """
        }
        let text = """
            FileSet {
              Name = "fileset-multi-options"
              Include {
            \(blocks)    Options {
                  Exclude = yes
                  WildDir = "\(d)/*"
                }
                File = "\(d)/"
              }
            }
            """

        let (selection, fileSet) = try walk(text, "fileset-multi-options")

        var expected: Set<Row> = [Row("d", .directory), Row("d/readme", .file)]
        for k in 1...7 {
            expected.insert(Row("d/data\(k)", .directory, k - 1))
            expected.insert(Row("d/data\(k)/test.dat", .file, k - 1))
        }
        assertRows(selection, in: tree, expected)
        XCTAssertEqual(try entry(selection, tree, "d/readme").effectiveBlockIndex, 7)
        let blocksUsed = fileSet.includes[0].options
        func compression(_ k: Int) throws -> OptionsBlock.Compression? {
            blocksUsed[try entry(selection, tree, "d/data\(k)/test.dat").effectiveBlockIndex].compression
        }
        XCTAssertEqual(try compression(1), nil)
        XCTAssertEqual(try compression(2), .gzip(level: 6))
        XCTAssertEqual(try compression(3), .gzip(level: 9))
        XCTAssertEqual(try compression(4), .lzo)
        XCTAssertEqual(try compression(5), .lz4)
        XCTAssertEqual(try compression(6), .lz4hc)
        XCTAssertEqual(try compression(7), .lz4)
        XCTAssertEqual(blocksUsed[0].effectiveSignature, .md5)
        XCTAssertEqual(blocksUsed[6].effectiveSignature, .xxh128)
    }

    // MARK: - E10 options plugin and last-block scoping

    func testE10SizeAndPluginScoping() throws {
        let tree = try makeTree()
        try tree.dir("log")
        try tree.file("log/a.log", size: 2 << 20)
        try tree.file("log/dmesg", size: 100)
        let plugin = "python3:module_name=myfilter"
        func text(_ sizeInFirst: String, _ sizeInSecond: String) -> String {
            """
            FileSet { Name = "e10"
              Include {
                Options { Signature = XXH128; Compression = LZ4; WildFile = "*.log"\(sizeInFirst) }
                Options { Plugin = "\(plugin)"\(sizeInSecond) }
                File = "\(tree.string("log"))"
                File = "\(tree.string("log/a.log"))"
              }
            }
            """
        }

        // Size only in B1: no size filter at all.
        let (selection, fileSet) = try walk(text(#"; Size = "<1m""#, ""), "e10")
        XCTAssertEqual(
            selection.entries.map { tree.relative($0.path) }.sorted(), ["log", "log/a.log", "log/a.log", "log/dmesg"])
        let log = try XCTUnwrap(selection.entries.first { $0.path == tree.path("log/a.log") && !$0.isTopLevel })
        XCTAssertEqual(log.blockIndex, 0)
        XCTAssertEqual(fileSet.includes[0].options[0].compression, .lz4)
        XCTAssertEqual(fileSet.includes[0].options[0].effectiveSignature, .xxh128)
        // D1: the chain is the matching block's (per the Bareos manual), not the Include-wide option plugin.
        XCTAssertEqual(log.chain, [])
        XCTAssertEqual(try entry(selection, tree, "log/dmesg").blockIndex, nil)
        XCTAssertEqual(try entry(selection, tree, "log/dmesg").chain, [plugin])
        XCTAssertEqual(try entry(selection, tree, "log").chain, [plugin])

        // Size moved into B2 (the last block) filters every regular file of the Include, top-level ones too.
        let (filtered, _) = try walk(text("", #"; Size = "<1m""#), "e10")
        XCTAssertEqual(filtered.entries.map { tree.relative($0.path) }.sorted(), ["log", "log/dmesg"])
    }
}
