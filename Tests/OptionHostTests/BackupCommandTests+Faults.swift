import PipelineTestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Issue 14, suite item 2: trees a backup meets in the wild — unreadable directories, symbolic link loops, paths
/// longer than PATH_MAX, a directory of 100,000 entries, names that are not UTF-8 — through the built binary, each
/// backed up and restored.
extension BackupCommandTests {
    /// A C path from raw bytes.
    static func cPath(_ bytes: [UInt8]) -> [CChar] { bytes.map { CChar(bitPattern: $0) } + [0] }

    /// A directory nobody may open, inside a tree backed up as nobody: the job warns (exit 1) naming it, stores
    /// the rest, and the restore gives the rest.
    func testUnreadableDirectoryIsReportedAndTheRestIsBackedUp() throws {
        let (tree, _) = try makeUnreadableTree()
        XCTAssertEqual(chmod(tree + "/secret.txt", 0o644), 0)
        try makeFile("locked/closed/inside.txt", "inside\n")
        XCTAssertEqual(chmod(tree + "/closed", 0o000), 0)
        let config = try config([tree])
        let result = try optionhostAsNobody(
            ["backup", config, "--job", "Nightly", "--catalog", catalogPath, "--archive", archivePath, "--json"])
        XCTAssertEqual(result.status, 1, result.stderr + result.output)
        let errors = try objects(result).filter { $0["type"] as? String == "error" }
        XCTAssertEqual(errors.count, 1, result.output)
        XCTAssertEqual(errors.first?["path"] as? String, tree + "/closed")
        XCTAssertEqual(errors.first?["message"] as? String, "Could not open directory \(tree)/closed: Permission denied")
        assertCounts(try summary(result), ["files_stored": 2, "files_failed": 0, "errors": 1])

        let target = work.appendingPathComponent("restored").path
        let restore = try optionhost(["restore", "--catalog", catalogPath, "--jobid", "1", "--where", target])
        XCTAssertEqual(restore.status, 0, restore.stderr)
        XCTAssertEqual(contents(target + tree + "/ok.txt"), Array("ok\n".utf8))
        XCTAssertEqual(contents(target + tree + "/secret.txt"), Array("secret\n".utf8))
        XCTAssertFalse(exists(target + tree + "/closed/inside.txt"))
    }

    /// Symbolic links that loop (two links pointing at each other, a link to itself, a link to its own
    /// directory) are stored as links, never followed: the walk ends, the links restore with their targets.
    func testSymlinkLoopsAreStoredAsLinksAndRestored() throws {
        try makeFile("loops/file.txt", "file\n")
        let root = work.appendingPathComponent("loops").path
        XCTAssertEqual(symlink("b", root + "/a"), 0)
        XCTAssertEqual(symlink("a", root + "/b"), 0)
        XCTAssertEqual(symlink("self", root + "/self"), 0)
        XCTAssertEqual(symlink(".", root + "/dot"), 0)
        XCTAssertEqual(symlink(root, root + "/up"), 0)
        let config = try config([root])
        let backup = try self.backup(config)
        XCTAssertEqual(backup.status, 0, backup.stderr + backup.output)
        assertCounts(try summary(backup), ["files_stored": 1, "entries_stored": 7, "errors": 0])

        let target = work.appendingPathComponent("restored").path
        let restore = try optionhost(["restore", "--catalog", catalogPath, "--jobid", "1", "--where", target])
        XCTAssertEqual(restore.status, 0, restore.stderr)
        try assertSameTree(target + root, root)
        for (name, destination) in ["a": "b", "b": "a", "self": "self", "dot": ".", "up": root] {
            XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: target + root + "/" + name), destination)
        }
    }

    /// A file 24 directories of 200-byte names deep (its path about 4,900 bytes, PATH_MAX is 4,096), made with
    /// mkdirat/openat: backed up, listed with its whole path, and restored with its bytes (read back with openat,
    /// as no path-based call reaches it).
    func testFileDeeperThanPathMaxIsRestoredThroughTheBinary() throws {
        let root = work.appendingPathComponent("deep").path
        XCTAssertEqual(mkdir(root, 0o755), 0)
        let name = String(repeating: "d", count: 200)
        XCTAssertTrue(DeepPath.makeFile(under: root, component: name, depth: 24, name: "deep.txt", contents: Array("deep\n".utf8)))
        let deepPath = root + String(repeating: "/" + name, count: 24) + "/deep.txt"
        XCTAssertGreaterThan(deepPath.utf8.count, Int(PATH_MAX))

        let backup = try self.backup(try config([root]))
        XCTAssertEqual(backup.status, 0, backup.stderr + backup.output)
        assertCounts(try summary(backup), ["files_stored": 1, "entries_stored": 26, "errors": 0])
        XCTAssertEqual(try storedFiles(1), [deepPath])

        let target = work.appendingPathComponent("restored").path
        let restore = try optionhost(["restore", "--catalog", catalogPath, "--jobid", "1", "--where", target, "--json"])
        XCTAssertEqual(restore.status, 0, restore.stderr + restore.output)
        assertCounts(try summary(restore), ["files_stored": 1, "files_failed": 0])
        var fd = open(target + root, O_RDONLY | O_DIRECTORY)
        XCTAssertGreaterThanOrEqual(fd, 0)
        for _ in 0..<24 {
            let next = openat(fd, name, O_RDONLY | O_DIRECTORY)
            close(fd)
            fd = next
            XCTAssertGreaterThanOrEqual(fd, 0)
        }
        let restored = openat(fd, "deep.txt", O_RDONLY)
        close(fd)
        var buffer = [UInt8](repeating: 0, count: 16)
        XCTAssertEqual(read(restored, &buffer, 16), 5)
        close(restored)
        XCTAssertEqual(Array(buffer.prefix(5)), Array("deep\n".utf8))
    }

    /// A directory of many empty files, every one counted, stored and restored: 10,000 in the normal suite (the
    /// debug build's volume writer spends most of a minute on 100,000 members), `OPTIONHOST_BIG_DIRECTORY=100000`
    /// on demand.
    func testDirectoryOfManyThousandEntries() throws {
        let count = BackupCommandTests.environmentInteger("OPTIONHOST_BIG_DIRECTORY", default: 10_000)
        let root = work.appendingPathComponent("many").path
        XCTAssertEqual(mkdir(root, 0o755), 0)
        let directory = open(root, O_RDONLY | O_DIRECTORY)
        for index in 0..<count {
            let fd = openat(directory, "e\(index)", O_CREAT | O_WRONLY, 0o644)
            XCTAssertGreaterThanOrEqual(fd, 0)
            close(fd)
        }
        close(directory)
        let backup = try self.backup(try config([root]))
        XCTAssertEqual(backup.status, 0, backup.stderr + backup.output)
        assertCounts(
            try summary(backup), ["files_examined": count, "files_stored": count, "entries_stored": count + 1, "errors": 0])

        let target = work.appendingPathComponent("restored").path
        let restore = try optionhost(["restore", "--catalog", catalogPath, "--jobid", "1", "--where", target, "--json"])
        XCTAssertEqual(restore.status, 0, restore.stderr)
        assertCounts(try summary(restore), ["files_stored": count, "files_failed": 0])
        let names = try FileManager.default.contentsOfDirectory(atPath: target + root)
        XCTAssertEqual(Set(names), Set((0..<count).map { "e\($0)" }))
    }

    /// Names that are not UTF-8 (Latin-1, a lone continuation byte, an overlong form) in a file, a directory and
    /// a symlink target: backed up, listed as `path_b64` in JSON, restored with the same bytes in name and data.
    func testNonUTF8NamesAreBackedUpListedAsBase64AndRestored() throws {
        let root = work.appendingPathComponent("raw").path
        XCTAssertEqual(mkdir(root, 0o755), 0)
        let base = Array(root.utf8) + [UInt8(ascii: "/")]
        let directory = base + Array("dir-".utf8) + [0xFF]
        XCTAssertEqual(mkdir(Self.cPath(directory), 0o755), 0)
        let names: [[UInt8]] = [
            base + Array("caf".utf8) + [0xE9], directory + Array("/lone-".utf8) + [0x80],
            base + Array("overlong-".utf8) + [0xC0, 0xAF],
        ]
        for (index, name) in names.enumerated() {
            let fd = open(Self.cPath(name), O_CREAT | O_WRONLY, 0o644)
            XCTAssertEqual(Glibc.write(fd, "data \(index)\n", 7), 7)
            close(fd)
        }
        let link = base + Array("link-".utf8) + [0xFE]
        XCTAssertEqual(symlink(Self.cPath([0xE9, 0x2E, 0x74, 0x78, 0x74]), Self.cPath(link)), 0)

        let backup = try self.backup(try config([root]))
        XCTAssertEqual(backup.status, 0, backup.stderr + backup.output)
        assertCounts(try summary(backup), ["files_stored": 3, "entries_stored": 6, "errors": 0])
        let list = try optionhost(["list", "files", "--catalog", catalogPath, "--jobid", "1", "--json"])
        XCTAssertEqual(list.status, 0, list.stderr)
        let encoded = Set(try objects(list).compactMap { $0["path_b64"] as? String })
        XCTAssertEqual(encoded, Set((names + [directory, link]).map { Data($0).base64EncodedString() }))

        let target = work.appendingPathComponent("restored").path
        let restore = try optionhost(["restore", "--catalog", catalogPath, "--jobid", "1", "--where", target])
        XCTAssertEqual(restore.status, 0, restore.stderr)
        try assertSameTree(target + root, root)
        for (index, name) in names.enumerated() {
            let restored = Array(target.utf8) + name
            let fd = open(Self.cPath(restored), O_RDONLY)
            XCTAssertGreaterThanOrEqual(fd, 0, String(decoding: name, as: UTF8.self))
            var buffer = [UInt8](repeating: 0, count: 16)
            XCTAssertEqual(read(fd, &buffer, 16), 7)
            close(fd)
            XCTAssertEqual(Array(buffer.prefix(7)), Array("data \(index)\n".utf8))
        }
        var target2 = [CChar](repeating: 0, count: 64)
        let length = readlink(Self.cPath(Array(target.utf8) + link), &target2, 64)
        XCTAssertEqual(target2.prefix(max(length, 0)).map { UInt8(bitPattern: $0) }, [0xE9, 0x2E, 0x74, 0x78, 0x74])
    }
}
