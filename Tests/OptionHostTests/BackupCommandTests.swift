import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// End-to-end tests of `backup`, `restore`, `verify` and `list` through the built binary: exit codes (D5), JSON
/// summaries, volumes (D4), restored bytes, catalog locks and Ctrl-C.
final class BackupCommandTests: CommandLineTestCase {
    // MARK: - Fixtures

    /// The standard tree: 4 regular files (one above the 1 MiB small-file limit, so it is streamed), a
    /// subdirectory and a symlink — 7 entries, 1,503,014 bytes.
    struct Tree {
        var root: String
        var files: [String: [UInt8]]
        var totalBytes: Int { files.values.reduce(0) { $0 + $1.count } }
        func path(_ relative: String) -> String { root + "/" + relative }
    }

    static let smallBinary = pseudoRandom(3_000, seed: 1)
    static let bigBinary = pseudoRandom(1_500_000, seed: 2)

    func makeTree(_ name: String = "tree") throws -> Tree {
        let files: [String: [UInt8]] = [
            "a.txt": Array("hello\n".utf8),
            "b.bin": BackupCommandTests.smallBinary,
            "sub/c.txt": Array("12345678".utf8),
            "sub/big.bin": BackupCommandTests.bigBinary,
        ]
        for (relative, bytes) in files { try makeFile(name + "/" + relative, bytes: bytes) }
        let root = work.appendingPathComponent(name).path
        try FileManager.default.createSymbolicLink(atPath: root + "/link", withDestinationPath: "a.txt")
        XCTAssertEqual(chmod(root + "/b.bin", 0o640), 0)
        return Tree(root: root, files: files)
    }

    /// `2026-12-06T06:03:51Z` for seconds since the epoch (Foundation's formatter, to check ours).
    static func iso8601(_ seconds: Int) -> String {
        ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
    }

    /// Deterministic bytes (xorshift64), unique per seed.
    static func pseudoRandom(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        var bytes = [UInt8](repeating: 0, count: count)
        var index = 0
        while index < count {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            var word = state
            for _ in 0..<8 where index < count {
                bytes[index] = UInt8(truncatingIfNeeded: word)
                word >>= 8
                index += 1
            }
        }
        return bytes
    }

    /// A config with FileSet `fs` over `files` and Job `Nightly` (plus `jobExtra` directives), and `resources`.
    func config(
        _ files: [String], name: String = "backup.conf", options: String = "", includeExtra: String = "",
        jobExtra: String = "", resources: String = ""
    ) throws -> String {
        let fileLines = files.map { "    File = \"\($0)\"" }.joined(separator: "\n")
        let path = try write(
            name,
            """
            \(resources)
            FileSet {
              Name = fs
              Include {
            \(options)\(includeExtra)\(fileLines)
              }
            }
            Job { Name = Nightly; Type = Backup; Level = Full; FileSet = fs\(jobExtra) }

            """)
        XCTAssertEqual(chmod(path, 0o644), 0)
        return path
    }

    var catalogPath: String { work.appendingPathComponent("catalog/catalog.db").path }
    var archivePath: String { work.appendingPathComponent("volumes").path }

    func backup(_ config: String, json: Bool = true, extra: [String] = []) throws -> Result {
        try optionhost(
            ["backup", config, "--job", "Nightly", "--catalog", catalogPath, "--archive", archivePath]
                + (json ? ["--json"] : []) + extra)
    }

    func objects(_ result: Result, file: StaticString = #filePath, line: UInt = #line) throws -> [[String: Any]] {
        try result.lines.map {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any], $0, file: file, line: line)
        }
    }

    func summary(_ result: Result, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        let last = try XCTUnwrap(try objects(result, file: file, line: line).last, result.stderr, file: file, line: line)
        XCTAssertEqual(last["type"] as? String, "summary", file: file, line: line)
        return last
    }

    /// Asserts the integer fields of a summary.
    func assertCounts(
        _ object: [String: Any], _ expected: KeyValuePairs<String, Int>, file: StaticString = #filePath,
        line: UInt = #line
    ) {
        for (key, value) in expected {
            XCTAssertEqual(object[key] as? Int, value, "\(key) in \(object)", file: file, line: line)
        }
    }

    func permissions(_ path: String) -> UInt32 {
        var info = stat()
        guard lstat(path, &info) == 0 else { return 0 }
        return UInt32(info.st_mode) & 0o7777
    }

    func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    func contents(_ path: String) -> [UInt8]? {
        FileManager.default.contents(atPath: path).map { Array($0) }
    }

    /// `diff -r` of a restored tree against its source: exit 0 and no output.
    func assertSameTree(_ restored: String, _ source: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let diff = try run("/usr/bin/diff", ["-r", "--no-dereference", restored, source])
        XCTAssertEqual(diff.status, 0, diff.output + diff.stderr, file: file, line: line)
        XCTAssertEqual(diff.output, "", file: file, line: line)
    }

    func sha256Hex(_ bytes: [UInt8]) throws -> String {
        let path = work.appendingPathComponent("digest-input").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        defer { unlink(path) }
        let result = try run("/usr/bin/sha256sum", [path])
        XCTAssertEqual(result.status, 0, result.stderr)
        return String(result.output.prefix(64))
    }

    /// Runs the holder of a lock file (`flock -o FILE cat`) until its standard input is closed, and returns once
    /// the lock is taken.
    func holdLock(_ lockFile: String) throws -> (Process, Pipe) {
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/flock")
        holder.arguments = ["-o", lockFile, "/bin/cat"]
        let input = Pipe()
        holder.standardInput = input
        holder.standardOutput = FileHandle.nullDevice
        try holder.run()
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            if try run("/usr/bin/flock", ["-n", lockFile, "/bin/true"]).status != 0 { return (holder, input) }
            usleep(10_000)
        }
        XCTFail("the lock holder did not take \(lockFile)")
        return (holder, input)
    }

    func release(_ holder: (Process, Pipe)) {
        try? holder.1.fileHandleForWriting.close()
        holder.0.waitUntilExit()
    }

    // MARK: - 1. backup with flags

    func testBackupWithFlagsPrintsSummaryAndWritesOneVolume() throws {
        let tree = try makeTree()
        let config = try config([tree.root])
        let result = try backup(config)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stderr, "")
        let objects = try self.objects(result)
        XCTAssertEqual(objects.count, 1, result.output)  // no warning or error events
        let summary = try XCTUnwrap(objects.first)
        let volume = archivePath + "/Nightly-1-0001.tar"
        XCTAssertEqual(summary["type"] as? String, "summary")
        XCTAssertEqual(summary["job"] as? String, "Nightly")
        XCTAssertEqual(summary["level"] as? String, "Full")
        XCTAssertEqual(summary["status"] as? String, "ok")
        assertCounts(
            summary,
            [
                "job_id": 1, "files_examined": 4, "files_stored": 4, "files_skipped": 0, "files_failed": 0,
                "entries_stored": 7, "bytes_read": 1_503_014, "bytes_stored": 1_503_014, "errors": 0, "warnings": 0,
            ])
        XCTAssertEqual(tree.totalBytes, 1_503_014)
        let wall = try XCTUnwrap(summary["wall_seconds"] as? Double)
        XCTAssertTrue(wall >= 0 && wall < 30, "\(wall)")
        let cpu = try XCTUnwrap(summary["cpu_seconds"] as? Double)
        XCTAssertTrue(cpu >= 0 && cpu < 30, "\(cpu)")
        XCTAssertGreaterThan(try XCTUnwrap(summary["peak_rss_bytes"] as? Int), 1_000_000)
        XCTAssertEqual(summary["volumes"] as? [String], [volume])
        XCTAssertEqual(summary["catalog"] as? String, catalogPath)

        // The volume: named <Job>-<JobId>-0001.tar, mode 0600, a tar archive GNU tar lists and extracts.
        XCTAssertEqual(
            try FileManager.default.contentsOfDirectory(atPath: archivePath).sorted(),
            [".optionhost.lock", "Nightly-1-0001.tar"])
        XCTAssertEqual(permissions(volume), 0o600)
        let member = String(tree.root.dropFirst())
        let listing = try run("/usr/bin/tar", ["-tf", volume])
        XCTAssertEqual(listing.status, 0, listing.stderr)
        XCTAssertEqual(
            Set(listing.lines),
            [
                member + "/", member + "/a.txt", member + "/b.bin", member + "/link", member + "/sub/",
                member + "/sub/c.txt", member + "/sub/big.bin",
            ])
        let untarred = work.appendingPathComponent("untar").path
        try FileManager.default.createDirectory(atPath: untarred, withIntermediateDirectories: true)
        let extract = try run("/usr/bin/tar", ["-xf", volume, "-C", untarred])
        XCTAssertEqual(extract.status, 0, extract.stderr)
        try assertSameTree(untarred + "/" + member, tree.root)

        // A second run is JobId 2 with its own volume; the text summary says the same.
        let text = try backup(config, json: false)
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertEqual(text.stderr, "")
        let lines = text.lines
        XCTAssertEqual(lines.count, 5, text.output)
        XCTAssertEqual(lines.first, "Backup of Job \"Nightly\" (JobId 2, level Full): ok")
        XCTAssertEqual(lines.dropFirst().first, "  files: 4 stored, 0 skipped, 0 failed of 4 examined; 7 entries stored")
        XCTAssertTrue(lines.count > 2 && lines[2].hasPrefix("  bytes: 1,503,014 read, 1,503,014 stored, "), text.output)
        XCTAssertEqual(Array(lines.suffix(2)), ["  catalog: \(catalogPath)", "  volume: \(archivePath)/Nightly-2-0001.tar"])
        XCTAssertEqual(permissions(archivePath + "/Nightly-2-0001.tar"), 0o600)
    }

    // MARK: - 2. D4: where the catalog and the volumes go

    func testBackupWithoutCatalogOrArchiveIsAConfigurationError() throws {
        let tree = try makeTree()
        let config = try config([tree.root])
        let catalogMessage =
            "no catalog: pass --catalog FILE, or name a Catalog resource (DB Driver = sqlite3, DB Name = PATH) with "
            + "Catalog = NAME in the Job"
        let archiveMessage =
            "no archive directory: pass --archive DIR, or name an Archive resource (Directory = PATH) with "
            + "Archive = NAME in the Job"

        let neither = try optionhost(["backup", config, "--job", "Nightly"])
        XCTAssertEqual(neither.status, 2)
        XCTAssertEqual(neither.output, "")
        XCTAssertEqual(neither.stderr, "optionhost: \(catalogMessage)\n")

        let json = try optionhost(["backup", config, "--job", "Nightly", "--json"])
        XCTAssertEqual(json.status, 2)
        XCTAssertEqual(
            json.lines, ["{\"type\":\"error\",\"message\":\"\(catalogMessage)\"}", "{\"type\":\"summary\",\"status\":\"error\"}"])

        let noArchive = try optionhost(["backup", config, "--job", "Nightly", "--catalog", catalogPath])
        XCTAssertEqual(noArchive.status, 2)
        XCTAssertEqual(noArchive.stderr, "optionhost: \(archiveMessage)\n")
        XCTAssertFalse(exists(catalogPath), "nothing is created before the configuration is complete")

        let noCatalog = try optionhost(["backup", config, "--job", "Nightly", "--archive", archivePath])
        XCTAssertEqual(noCatalog.status, 2)
        XCTAssertEqual(noCatalog.stderr, "optionhost: \(catalogMessage)\n")
        XCTAssertFalse(exists(archivePath))
    }

    func testCatalogAndArchiveResourcesRotateVolumesWithTheirMode() throws {
        let tree = try makeTree()
        let database = work.appendingPathComponent("db/catalog.db").path
        let directory = work.appendingPathComponent("archive").path
        let config = try config(
            [tree.root], jobExtra: "; Catalog = cat; Archive = disk",
            resources: """
                Catalog { Name = cat; DB Driver = sqlite3; DB Name = "\(database)" }
                Archive {
                  Name = disk
                  Directory = "\(directory)"
                  Maximum Volume Bytes = 1k
                  Volume Mode = 0640
                }
                """)
        let result = try optionhost(["backup", config, "--job", "Nightly", "--json"])
        XCTAssertEqual(result.status, 0, result.stderr + result.output)
        let summary = try self.summary(result)
        XCTAssertEqual(summary["status"] as? String, "ok")
        assertCounts(summary, ["job_id": 1, "files_stored": 4, "entries_stored": 7, "bytes_stored": 1_503_014])
        XCTAssertEqual(summary["catalog"] as? String, database)
        XCTAssertTrue(exists(database))
        // Every member is larger than 1 KiB, so each volume holds exactly one member: 7 volumes.
        let names = (1...7).map { "Nightly-1-000\($0).tar" }
        XCTAssertEqual(summary["volumes"] as? [String], names.map { directory + "/" + $0 })
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory).sorted(), [".optionhost.lock"] + names)
        var members: [String] = []
        for name in names {
            let path = directory + "/" + name
            XCTAssertEqual(permissions(path), 0o640, name)
            let listing = try run("/usr/bin/tar", ["-tf", path])
            XCTAssertEqual(listing.status, 0, listing.stderr)
            XCTAssertEqual(listing.lines.count, 1, "\(name): \(listing.output)")
            members += listing.lines
        }
        XCTAssertEqual(members.count, 7)
        XCTAssertTrue(members.contains(String(tree.root.dropFirst()) + "/sub/big.bin"), "\(members)")

        // restore, verify and list find the catalog through the Job's Catalog resource and read all volumes.
        let jobs = try optionhost(["list", "jobs", config, "--json"])
        XCTAssertEqual(jobs.status, 0, jobs.stderr)
        XCTAssertEqual(jobs.lines.last, "{\"type\":\"summary\",\"jobs\":1}")
        let verify = try optionhost(["verify", config, "--jobid", "1"])
        XCTAssertEqual(verify.status, 0, verify.stderr)
        XCTAssertEqual(verify.output, "Verify of JobId 1 (Nightly): OK; 4 files (1,503,014 stored bytes) and 7 entries checked\n")
        let target = work.appendingPathComponent("restored").path
        let restore = try optionhost(["restore", config, "--latest", "--job", "Nightly", "--where", target])
        XCTAssertEqual(restore.status, 0, restore.stderr)
        try assertSameTree(target + tree.root, tree.root)
    }

    // MARK: - 3. job-start failures and per-file failures

    func testUnknownStageAndCommandPluginFailTheJobBeforeAnyFileIsRead() throws {
        let tree = try makeTree()
        let unknown = try config([tree.root], options: "    Options { Plugin = \"frobnicate:level=3\" }\n")
        let result = try backup(unknown, json: false)
        XCTAssertEqual(result.status, 3)
        XCTAssertEqual(result.output, "")
        // The message names the Plugin line (file:line:col), and nothing was created on disk.
        let location = try XCTUnwrap(result.stderr.split(separator: " ").dropFirst().first.map(String.init))
        XCTAssertTrue(location.hasPrefix(unknown + ":") && location.hasSuffix(":"), result.stderr)
        XCTAssertEqual(
            result.stderr,
            "optionhost: \(location) unknown stage \"frobnicate\" (known: checksum, gpg, index, owner, python, python3, "
                + "pipeline:NAME)\n")
        let json = try backup(unknown)
        XCTAssertEqual(json.status, 3)
        XCTAssertEqual(
            json.lines,
            [
                "{\"type\":\"error\",\"message\":\"\(location) unknown stage \\\"frobnicate\\\" (known: checksum, gpg, "
                    + "index, owner, python, python3, pipeline:NAME)\"}",
                "{\"type\":\"summary\",\"status\":\"failed\"}",
            ])

        // An Include-level (command) plugin: refused, naming the plugin and its file:line:column.
        let command = try config(
            [tree.root], name: "command.conf", includeExtra: "    Plugin = \"bpipe:file=/x:reader=cat /etc/hostname:writer=cat\"\n")
        let refused = try backup(command, json: false)
        XCTAssertEqual(refused.status, 3)
        XCTAssertEqual(
            refused.stderr,
            "optionhost: \(command):5:14: FileSet \"fs\" has Include-level Plugin \"bpipe\", a Bareos command plugin "
                + "this host does not run (only python3: command plugins run here)\n")

        // Refused before anything was created: no catalog, no archive directory, no job.
        XCTAssertFalse(FileManager.default.fileExists(atPath: catalogPath))
        XCTAssertFalse(FileManager.default.fileExists(atPath: archivePath))
        let jobs = try optionhost(["list", "jobs", "--catalog", catalogPath, "--json"])
        XCTAssertEqual(jobs.status, 2)
        XCTAssertEqual(
            jobs.lines,
            ["{\"type\":\"error\",\"message\":\"catalog \(catalogPath) does not exist\"}", "{\"type\":\"summary\",\"status\":\"error\"}"])
    }

    /// Runs `optionhost` as nobody (root reads every file, so an unreadable file needs an unprivileged run).
    func optionhostAsNobody(_ arguments: [String]) throws -> Result {
        if getuid() != 0 { return try optionhost(arguments) }
        return try run(
            "/usr/bin/setpriv",
            ["--reuid=65534", "--regid=65534", "--clear-groups", CommandLineTestCase.binary] + arguments)
    }

    /// A tree with one readable and one unreadable file, and catalog/archive locations nobody can write.
    func makeUnreadableTree() throws -> (tree: String, secret: String) {
        try makeFile("locked/ok.txt", "ok\n")
        try makeFile("locked/secret.txt", "secret\n")
        let tree = work.appendingPathComponent("locked").path
        XCTAssertEqual(chmod(tree + "/secret.txt", 0o000), 0)
        let output = work.appendingPathComponent("catalog").path
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        XCTAssertEqual(chmod(output, 0o777), 0)
        XCTAssertEqual(chmod(work.path, 0o777), 0)  // --archive is created by the (unprivileged) backup
        return (tree, tree + "/secret.txt")
    }

    func testUnreadableFileIsRecordedAsFailedAndTheJobEndsWithWarnings() throws {
        let (tree, secret) = try makeUnreadableTree()
        let config = try config([tree])
        let arguments = ["backup", config, "--job", "Nightly", "--catalog", catalogPath, "--archive", archivePath]
        let result = try optionhostAsNobody(arguments + ["--json"])
        XCTAssertEqual(result.status, 1, result.stderr + result.output)
        XCTAssertEqual(result.stderr, "")
        XCTAssertEqual(result.lines.count, 2, result.output)
        XCTAssertEqual(
            result.lines.first, "{\"type\":\"error\",\"path\":\"\(secret)\",\"message\":\"cannot open: Permission denied\"}")
        let summary = try self.summary(result)
        XCTAssertEqual(summary["status"] as? String, "warnings")
        assertCounts(
            summary,
            [
                "job_id": 1, "files_examined": 2, "files_stored": 1, "files_skipped": 0, "files_failed": 1,
                "entries_stored": 2, "bytes_read": 3, "bytes_stored": 3,
            ])

        let files = try optionhost(["list", "files", "--catalog", catalogPath, "--jobid", "1", "--json"])
        XCTAssertEqual(files.status, 0, files.stderr)
        let entries = try self.objects(files)
        let failed = try XCTUnwrap(entries.first { $0["path"] as? String == secret }, files.output)
        XCTAssertEqual(failed["type"] as? String, "file")
        XCTAssertEqual(failed["status"] as? String, "failed")
        XCTAssertEqual(failed["reason"] as? String, "cannot open: Permission denied")
        XCTAssertEqual(failed["size"] as? Int, 7)
        XCTAssertNil(failed["sha256"])
        let stored = try XCTUnwrap(entries.first { $0["path"] as? String == tree + "/ok.txt" })
        XCTAssertEqual(stored["status"] as? String, "stored")
        XCTAssertNil(stored["reason"])
        XCTAssertEqual(entries.last?["entries"] as? Int, 3)

        let jobs = try optionhost(["list", "jobs", "--catalog", catalogPath, "--json"])
        let job = try XCTUnwrap(try objects(jobs).first)
        XCTAssertEqual(job["status"] as? String, "W")
        assertCounts(job, ["job_id": 1, "files_stored": 1, "files_failed": 1])

        // Text mode: the error on standard error, the summary on standard output.
        let text = try optionhostAsNobody(arguments)
        XCTAssertEqual(text.status, 1)
        XCTAssertEqual(text.stderr, "error: \(secret): cannot open: Permission denied\n")
        XCTAssertEqual(text.lines.first, "Backup of Job \"Nightly\" (JobId 2, level Full): warnings")
        XCTAssertEqual(text.lines.dropFirst().first, "  files: 1 stored, 0 skipped, 1 failed of 2 examined; 2 entries stored")

        // The job restores what it stored; the failed file is not attempted.
        let target = work.appendingPathComponent("restored").path
        let restore = try optionhost(["restore", "--catalog", catalogPath, "--jobid", "1", "--where", target])
        XCTAssertEqual(restore.status, 0, restore.stderr)
        XCTAssertEqual(contents(target + tree + "/ok.txt"), Array("ok\n".utf8))
        XCTAssertFalse(exists(target + secret))
    }

    func testStageErrorPolicyFailFailsTheJobAtTheFirstFileError() throws {
        let (tree, secret) = try makeUnreadableTree()
        let config = try config([tree], jobExtra: "; Stage Error Policy = fail")
        let result = try optionhostAsNobody(
            ["backup", config, "--job", "Nightly", "--catalog", catalogPath, "--archive", archivePath, "--json"])
        XCTAssertEqual(result.status, 3, result.stderr + result.output)
        let fatal = "Stage Error Policy = fail: \(secret): cannot open: Permission denied"
        let summary = try self.summary(result)
        XCTAssertEqual(summary["status"] as? String, "failed")
        XCTAssertEqual(summary["failure"] as? String, fatal)
        assertCounts(summary, ["job_id": 1, "files_failed": 1])
        let events = try self.objects(result).dropLast()
        XCTAssertTrue(events.contains { $0["message"] as? String == fatal }, result.output)
        // D6: the per-file problem is still a job message and the file is still recorded as failed.
        XCTAssertTrue(
            events.contains { $0["path"] as? String == secret && $0["message"] as? String == "cannot open: Permission denied" },
            result.output)
        let jobs = try self.objects(try optionhost(["list", "jobs", "--catalog", catalogPath, "--json"]))
        XCTAssertEqual(jobs.first?["status"] as? String, "f")
        let files = try optionhost(["list", "files", "--catalog", catalogPath, "--jobid", "1", "--json"])
        let failed = try self.objects(files).first { $0["path"] as? String == secret }
        XCTAssertEqual(failed?["status"] as? String, "failed", files.output)
        XCTAssertEqual(failed?["reason"] as? String, "cannot open: Permission denied", files.output)
    }

    // MARK: - 4. restore

    func testRestoreWhereIsByteIdenticalWithModesAndTimes() throws {
        let tree = try makeTree()
        XCTAssertEqual(try backup(try config([tree.root])).status, 0)
        let target = work.appendingPathComponent("restored").path
        let result = try optionhost(["restore", "--catalog", catalogPath, "--jobid", "1", "--where", target, "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stderr, "")
        XCTAssertEqual(result.lines.count, 1, result.output)
        let summary = try self.summary(result)
        XCTAssertEqual(summary["status"] as? String, "ok")
        XCTAssertEqual(summary["job"] as? String, "Nightly")
        XCTAssertEqual(summary["level"] as? String, "Full")
        XCTAssertEqual(summary["where"] as? String, target)
        assertCounts(
            summary,
            ["job_id": 1, "files_examined": 4, "files_stored": 4, "files_failed": 0, "entries_stored": 7, "bytes_read": 1_503_014])
        try assertSameTree(target + tree.root, tree.root)
        for (relative, bytes) in tree.files {
            XCTAssertEqual(contents(target + tree.path(relative)), bytes, relative)
        }
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: target + tree.path("link")), "a.txt")
        XCTAssertEqual(permissions(target + tree.path("b.bin")), 0o640)
        let original = try FileManager.default.attributesOfItem(atPath: tree.path("sub/big.bin"))[.modificationDate] as? Date
        let restored = try FileManager.default.attributesOfItem(atPath: target + tree.path("sub/big.bin"))[.modificationDate] as? Date
        XCTAssertEqual(
            try XCTUnwrap(original).timeIntervalSince1970, try XCTUnwrap(restored).timeIntervalSince1970, accuracy: 1e-6)
    }

    func testRestoreSelectAndStdout() throws {
        let tree = try makeTree()
        XCTAssertEqual(try backup(try config([tree.root])).status, 0)
        let target = work.appendingPathComponent("selected").path
        let selected = try optionhost(
            ["restore", "--catalog", catalogPath, "--jobid", "1", "--where", target, "--select", "*.txt", "--json"])
        XCTAssertEqual(selected.status, 0, selected.stderr)
        assertCounts(try summary(selected), ["files_stored": 2, "files_failed": 0])
        let restoredFiles = try run("/usr/bin/find", [target, "-type", "f", "-o", "-type", "l"])
        XCTAssertEqual(Set(restoredFiles.lines), [target + tree.path("a.txt"), target + tree.path("sub/c.txt")])
        XCTAssertEqual(contents(target + tree.path("sub/c.txt")), Array("12345678".utf8))

        for relative in ["b.bin", "sub/big.bin", "a.txt"] {
            let stdout = try optionhost(
                ["restore", "--catalog", catalogPath, "--jobid", "1", "--stdout", "--select", tree.path(relative)])
            XCTAssertEqual(stdout.status, 0, stdout.stderr)
            XCTAssertEqual(stdout.stderr, "")
            XCTAssertEqual(stdout.stdout, tree.files[relative], relative)
        }
    }

    func testRestoreReplacePolicies() throws {
        let tree = try makeTree()
        XCTAssertEqual(try backup(try config([tree.root])).status, 0)
        let target = work.appendingPathComponent("restored").path
        XCTAssertEqual(try optionhost(["restore", "--catalog", catalogPath, "--jobid", "1", "--where", target]).status, 0)
        let restoredA = target + tree.path("a.txt")
        try Data("modified\n".utf8).write(to: URL(fileURLWithPath: restoredA))

        let never = try optionhost(
            ["restore", "--catalog", catalogPath, "--jobid", "1", "--where", target, "--replace", "never", "--json"])
        XCTAssertEqual(never.status, 0, never.stderr)
        XCTAssertEqual(contents(restoredA), Array("modified\n".utf8))
        let kept = try self.summary(never)
        XCTAssertEqual(kept["status"] as? String, "ok")
        // Nothing was restored: the 4 existing files were skipped by --replace never (the 2 directories are kept
        // and get their metadata, the existing symlink is not replaced).
        assertCounts(kept, ["files_stored": 0, "files_failed": 0, "files_skipped": 4, "entries_stored": 2])

        let always = try optionhost(
            ["restore", "--catalog", catalogPath, "--jobid", "1", "--where", target, "--replace", "always", "--json"])
        XCTAssertEqual(always.status, 0, always.stderr)
        XCTAssertEqual(contents(restoredA), Array("hello\n".utf8))
        assertCounts(try summary(always), ["files_stored": 4, "files_skipped": 0, "entries_stored": 7])
        try assertSameTree(target + tree.root, tree.root)
    }

    func testRestoreNeedsWhereOrInPlace() throws {
        let tree = try makeTree()
        XCTAssertEqual(try backup(try config([tree.root])).status, 0)
        let result = try optionhost(["restore", "--catalog", catalogPath, "--jobid", "1"])
        XCTAssertEqual(result.status, 2)
        XCTAssertEqual(result.output, "")
        XCTAssertTrue(result.stderr.hasPrefix("Error: restore needs --where DIR (or --in-place)\n"), result.stderr)
        let both = try optionhost(
            ["restore", "--catalog", catalogPath, "--jobid", "1", "--in-place", "--where", work.path + "/x"])
        XCTAssertEqual(both.status, 2)
        XCTAssertTrue(both.stderr.hasPrefix("Error: --in-place and --where exclude each other\n"), both.stderr)
        let missing = try optionhost(
            ["restore", "--catalog", work.path + "/none.db", "--jobid", "1", "--where", work.path + "/x"])
        XCTAssertEqual(missing.status, 2)
        XCTAssertEqual(missing.stderr, "optionhost: catalog \(work.path)/none.db does not exist\n")
    }

    func testRestoreLatestPicksTheNewestJob() throws {
        let tree = try makeTree()
        let config = try config([tree.root])
        XCTAssertEqual(try backup(config).status, 0)
        try Data("changed\n".utf8).write(to: URL(fileURLWithPath: tree.path("a.txt")))
        try makeFile("tree/new.txt", "new\n")
        let second = try backup(config)
        XCTAssertEqual(second.status, 0, second.stderr)
        assertCounts(try summary(second), ["job_id": 2, "files_stored": 5])

        let latest = work.appendingPathComponent("latest").path
        let result = try optionhost(
            ["restore", "--catalog", catalogPath, "--latest", "--job", "Nightly", "--where", latest, "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        assertCounts(try summary(result), ["job_id": 2, "files_stored": 5])
        try assertSameTree(latest + tree.root, tree.root)

        let first = work.appendingPathComponent("first").path
        XCTAssertEqual(try optionhost(["restore", "--catalog", catalogPath, "--jobid", "1", "--where", first]).status, 0)
        XCTAssertEqual(contents(first + tree.path("a.txt")), Array("hello\n".utf8))
        XCTAssertFalse(exists(first + tree.path("new.txt")))

        let other = try optionhost(
            ["restore", "--catalog", catalogPath, "--latest", "--job", "Weekly", "--where", latest])
        XCTAssertEqual(other.status, 2)
        XCTAssertEqual(other.stderr, "optionhost: no successful job named \"Weekly\" in catalog \(catalogPath)\n")
    }

    // MARK: - 5. verify

    /// The volume offset of a file's data: from the catalog with the sqlite3 CLI when it is installed, else by
    /// searching the volume for the file's (unique) bytes.
    func dataOffset(of path: String, content: [UInt8], volume: [UInt8]) throws -> Int {
        let sqlite = "/usr/bin/sqlite3"
        if FileManager.default.isExecutableFile(atPath: sqlite) {
            let query = try run(
                sqlite,
                [catalogPath, "SELECT data_offset FROM files WHERE job_id = 1 AND CAST(path AS TEXT) = '\(path)'"])
            XCTAssertEqual(query.status, 0, query.stderr)
            let offset = try XCTUnwrap(Int(query.output.trimmingCharacters(in: .whitespacesAndNewlines)), query.output)
            XCTAssertEqual(Array(volume[offset..<(offset + content.count)]), content, "the catalog's offset holds the data")
            return offset
        }
        return try XCTUnwrap(volume.firstRange(of: content)).lowerBound
    }

    func testVerifyDetectsAFlippedByteAndRestoreRefusesTheFile() throws {
        let tree = try makeTree()
        XCTAssertEqual(try backup(try config([tree.root])).status, 0)
        let good = try optionhost(["verify", "--catalog", catalogPath, "--jobid", "1"])
        XCTAssertEqual(good.status, 0, good.stderr)
        XCTAssertEqual(good.stderr, "")
        XCTAssertEqual(good.output, "Verify of JobId 1 (Nightly): OK; 4 files (1,503,014 stored bytes) and 7 entries checked\n")
        let goodJSON = try optionhost(["verify", "--catalog", catalogPath, "--jobid", "1", "--json"])
        XCTAssertEqual(goodJSON.status, 0)
        XCTAssertEqual(goodJSON.lines.count, 1)
        let goodSummary = try self.summary(goodJSON)
        XCTAssertEqual(goodSummary["status"] as? String, "ok")
        assertCounts(goodSummary, ["job_id": 1, "mismatches": 0, "files_stored": 4, "entries_stored": 7, "bytes_stored": 1_503_014])

        // Flip one byte inside b.bin's data in the volume.
        let volumePath = archivePath + "/Nightly-1-0001.tar"
        var volume = try XCTUnwrap(contents(volumePath))
        let path = tree.path("b.bin")
        let offset = try dataOffset(of: path, content: BackupCommandTests.smallBinary, volume: volume)
        volume[offset + 100] ^= 0xFF
        try Data(volume).write(to: URL(fileURLWithPath: volumePath))
        var corrupted = BackupCommandTests.smallBinary
        corrupted[100] ^= 0xFF
        let catalogDigest = try sha256Hex(BackupCommandTests.smallBinary)
        let volumeDigest = try sha256Hex(corrupted)

        let bad = try optionhost(["verify", "--catalog", catalogPath, "--jobid", "1"])
        XCTAssertEqual(bad.status, 4)
        XCTAssertEqual(
            bad.stderr, "mismatch: \(path): SHA-256 of the stored bytes is \(volumeDigest), catalog says \(catalogDigest)\n")
        XCTAssertEqual(bad.output, "Verify of JobId 1 (Nightly): 1 mismatches; 3 files (1,500,014 stored bytes) and 7 entries checked\n")
        let badJSON = try optionhost(["verify", "--catalog", catalogPath, "--jobid", "1", "--json"])
        XCTAssertEqual(badJSON.status, 4)
        XCTAssertEqual(
            badJSON.lines.first,
            "{\"type\":\"error\",\"path\":\"\(path)\",\"message\":\"SHA-256 of the stored bytes is \(volumeDigest), "
                + "catalog says \(catalogDigest)\"}")
        let badSummary = try self.summary(badJSON)
        XCTAssertEqual(badSummary["status"] as? String, "failed")
        assertCounts(badSummary, ["mismatches": 1, "files_stored": 3, "verify_job_id": 5])
        // Each verify is a Verify job (JobIds 2 to 5); its log in the catalog names the mismatch.
        let log = try optionhost(["list", "messages", "--catalog", catalogPath, "--jobid", "5"])
        XCTAssertEqual(log.status, 0, log.stderr)
        XCTAssertEqual(log.lines.filter { $0.contains("mismatch") }.count, 1, log.output)
        XCTAssertTrue(
            log.output.contains("mismatch: SHA-256 of the stored bytes is \(volumeDigest), catalog says \(catalogDigest)"),
            log.output)

        // Restore verifies before the final name: b.bin is not created, the rest is restored, exit 1.
        let target = work.appendingPathComponent("restored").path
        let restore = try optionhost(["restore", "--catalog", catalogPath, "--jobid", "1", "--where", target, "--json"])
        XCTAssertEqual(restore.status, 1, restore.stderr)
        XCTAssertEqual(
            restore.lines.first,
            "{\"type\":\"error\",\"path\":\"\(path)\",\"message\":\"SHA-256 of the restored bytes does not match the "
                + "catalog (\(volumeDigest) ≠ \(catalogDigest)); the file was not restored\"}")
        let summary = try self.summary(restore)
        XCTAssertEqual(summary["status"] as? String, "warnings")
        assertCounts(summary, ["files_stored": 3, "files_failed": 1])
        XCTAssertFalse(exists(target + path))
        XCTAssertEqual(
            try FileManager.default.contentsOfDirectory(atPath: target + tree.root).sorted(), ["a.txt", "link", "sub"])
        XCTAssertEqual(contents(target + tree.path("sub/big.bin")), BackupCommandTests.bigBinary)

        let stdout = try optionhost(["restore", "--catalog", catalogPath, "--jobid", "1", "--stdout", "--select", path])
        XCTAssertEqual(stdout.status, 3)
        XCTAssertEqual(stdout.stdout, [])
        XCTAssertEqual(
            stdout.stderr, "optionhost: \(path): SHA-256 of the restored bytes does not match the catalog; nothing written\n")
    }

    // MARK: - 6. locks

    func testBackupFailsAtOnceWhenTheCatalogOrArchiveIsLocked() throws {
        let tree = try makeTree()
        let config = try config([tree.root])
        XCTAssertEqual(try backup(config).status, 0)

        let catalogLock = catalogPath + ".lock"
        try Data("pid=4242\njob=Weekly\nsince=2025-06-01 02:00:00 +0000\n".utf8).write(to: URL(fileURLWithPath: catalogLock))
        var holder = try holdLock(catalogLock)
        let started = Date()
        let locked = try backup(config, json: false)
        let elapsed = Date().timeIntervalSince(started)
        let lockedJSON = try backup(config)
        release(holder)
        XCTAssertEqual(locked.status, 3)
        XCTAssertLessThan(elapsed, 3, "a locked catalog fails at once, it does not wait")
        XCTAssertEqual(
            locked.stderr,
            "optionhost: catalog \(catalogPath) is in use by job \"Weekly\" (pid 4242) since 2025-06-01 02:00:00 +0000\n")
        XCTAssertTrue(locked.stderr.contains("is in use"))
        XCTAssertEqual(lockedJSON.status, 3)
        XCTAssertEqual(
            lockedJSON.lines,
            [
                "{\"type\":\"error\",\"message\":\"catalog \(catalogPath) is in use by job \\\"Weekly\\\" (pid 4242) "
                    + "since 2025-06-01 02:00:00 +0000\"}",
                "{\"type\":\"summary\",\"status\":\"failed\"}",
            ])

        let archiveLock = archivePath + "/.optionhost.lock"
        holder = try holdLock(archiveLock)
        let archiveLocked = try backup(config, json: false)
        release(holder)
        XCTAssertEqual(archiveLocked.status, 3)
        XCTAssertEqual(
            archiveLocked.stderr, "optionhost: archive \(archivePath) is in use by another job (see \(archiveLock))\n")

        // The refused runs recorded no job; with the locks released the next backup is JobId 2.
        let after = try backup(config)
        XCTAssertEqual(after.status, 0, after.stderr)
        assertCounts(try summary(after), ["job_id": 2])
        let jobs = try optionhost(["list", "jobs", "--catalog", catalogPath, "--json"])
        XCTAssertEqual(jobs.lines.last, "{\"type\":\"summary\",\"jobs\":2}")
    }

    // MARK: - 7. Ctrl-C

    func testInterruptCancelsTheJobAndMarksItAborted() throws {
        try makeFile("big/small.txt", "small\n")
        let big = work.appendingPathComponent("big/big.bin").path
        let generate = try run("/bin/sh", ["-c", "head -c 268435456 /dev/zero > '\(big)'"])
        XCTAssertEqual(generate.status, 0, generate.stderr)
        let config = try config([work.appendingPathComponent("big").path])

        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandLineTestCase.binary)
        process.arguments = [
            "backup", config, "--job", "Nightly", "--catalog", catalogPath, "--archive", archivePath, "--json",
        ]
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // The volume exists once the job runs (the Ctrl-C handler is installed by then): interrupt right away.
        let volume = archivePath + "/Nightly-1-0001.tar"
        let deadline = Date().addingTimeInterval(10)
        while !exists(volume) && process.isRunning && Date() < deadline { usleep(2_000) }
        process.interrupt()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let result = Result(status: process.terminationStatus, stdout: Array(stdout), stderr: stderr)

        XCTAssertEqual(process.terminationReason, .exit, "the job handles SIGINT itself")
        XCTAssertEqual(result.status, 3, "the backup must be interrupted while it runs: \(result.output) \(result.stderr)")
        let summary = try self.summary(result)
        XCTAssertEqual(summary["status"] as? String, "cancelled")
        XCTAssertEqual(summary["failure"] as? String, "interrupted (Ctrl-C)")
        XCTAssertLessThan(try XCTUnwrap(summary["bytes_read"] as? Int), 268_435_456)

        let jobs = try optionhost(["list", "jobs", "--catalog", catalogPath, "--json"])
        XCTAssertEqual(jobs.status, 0, jobs.stderr)
        let records = try self.objects(jobs)
        XCTAssertEqual(records.count, 2, jobs.output)
        XCTAssertEqual(records.first?["job_id"] as? Int, 1)
        XCTAssertEqual(records.first?["status"] as? String, "A")
        XCTAssertNotNil(records.first?["end"])

        // Nothing half-written stays in the volume; a cancelled job is not a restore candidate.
        let listing = try run("/usr/bin/tar", ["-tf", volume])
        XCTAssertEqual(listing.status, 0, listing.stderr)
        XCTAssertFalse(listing.lines.contains { $0.hasSuffix("big.bin") }, listing.output)
        let latest = try optionhost(
            ["restore", "--catalog", catalogPath, "--latest", "--job", "Nightly", "--where", work.path + "/r"])
        XCTAssertEqual(latest.status, 2)
        XCTAssertEqual(latest.stderr, "optionhost: no successful job named \"Nightly\" in catalog \(catalogPath)\n")
    }

    // MARK: - 8. list

    func testListJobsAndFilesJSON() throws {
        let tree = work.appendingPathComponent("names")
        try makeFile("names/a.txt", "hello\n")
        try makeFile("names/sub/c.txt", "12345678")
        let raw = Array(tree.path.utf8) + Array("/caf".utf8) + [0xE9]
        let fd = raw.withUnsafeBufferPointer { buffer -> Int32 in
            let cString = buffer.map { CChar(bitPattern: $0) } + [0]
            return open(cString, O_CREAT | O_WRONLY, 0o644)
        }
        XCTAssertGreaterThanOrEqual(fd, 0)
        XCTAssertEqual(Glibc.write(fd, "x", 1), 1)
        close(fd)
        let config = try config([tree.path])
        let before = Int(Date().timeIntervalSince1970)
        XCTAssertEqual(try backup(config).status, 0)
        try makeFile("names/d.txt", "d")
        XCTAssertEqual(try backup(config).status, 0)
        let after = Int(Date().timeIntervalSince1970)

        let jobs = try optionhost(["list", "jobs", "--catalog", catalogPath, "--json"])
        XCTAssertEqual(jobs.status, 0, jobs.stderr)
        let records = try self.objects(jobs)
        XCTAssertEqual(records.count, 3, jobs.output)
        XCTAssertEqual(records.map { $0["job_id"] as? Int }, [2, 1, nil], "newest first, then the summary")
        let keys: Set<String> = [
            "type", "job_id", "job", "job_type", "level", "status", "fileset", "client", "start", "start_iso", "end",
            "end_iso", "files_stored", "volume_bytes", "bytes_read", "bytes_stored", "files_failed", "errors", "warnings",
        ]
        for (index, record) in records.dropLast().enumerated() {
            XCTAssertEqual(Set(record.keys), keys)
            XCTAssertEqual(record["job"] as? String, "Nightly")
            XCTAssertEqual(record["type"] as? String, "job")
            XCTAssertEqual(record["job_type"] as? String, "Backup")
            XCTAssertEqual(record["level"] as? String, "Full")
            XCTAssertEqual(record["status"] as? String, "T")
            XCTAssertEqual(record["fileset"] as? String, "fs")
            let start = try XCTUnwrap(record["start"] as? Int)
            let end = try XCTUnwrap(record["end"] as? Int)
            XCTAssertTrue(before <= start && start <= end && end <= after, "\(record)")
            // ISO 8601 beside the numbers: UTC, milliseconds, `Z`.
            XCTAssertEqual((record["start_iso"] as? String)?.prefix(19), Self.iso8601(start).prefix(19)[...], "\(record)")
            XCTAssertEqual((record["end_iso"] as? String)?.count, 24, "\(record)")
            XCTAssertEqual((record["end_iso"] as? String)?.prefix(19), Self.iso8601(end).prefix(19)[...], "\(record)")
            assertCounts(record, ["files_stored": index == 0 ? 4 : 3, "files_failed": 0])
            XCTAssertEqual(record["bytes_read"] as? Int, index == 0 ? 16 : 15)
            XCTAssertEqual(record["bytes_stored"] as? Int, index == 0 ? 16 : 15)
        }
        XCTAssertEqual(jobs.lines.last, "{\"type\":\"summary\",\"jobs\":2}")
        let none = try optionhost(["list", "jobs", "--catalog", catalogPath, "--job", "Weekly", "--json"])
        XCTAssertEqual(none.lines, ["{\"type\":\"summary\",\"jobs\":0}"])
        let text = try optionhost(["list", "jobs", "--catalog", catalogPath])
        XCTAssertEqual(text.status, 0)
        XCTAssertEqual(text.lines.count, 2)
        XCTAssertTrue(text.lines.last?.hasPrefix("1\tNightly\t\(Self.hostName())\tBackup\tFull\tT\t") ?? false, text.output)
        XCTAssertTrue(text.lines.last?.hasSuffix(" in volumes\t0 failed") ?? false, text.output)
        XCTAssertTrue(text.lines.last?.contains("\t3 files\t15 bytes\t") ?? false, text.output)

        let files = try optionhost(["list", "files", "--catalog", catalogPath, "--jobid", "1", "--json"])
        XCTAssertEqual(files.status, 0, files.stderr)
        let entries = try self.objects(files)
        XCTAssertEqual(files.lines.last, "{\"type\":\"summary\",\"job_id\":1,\"entries\":5}")
        let listed = entries.dropLast()
        XCTAssertEqual(listed.count, 5)
        let encoded = Data(raw).base64EncodedString()
        let cafe = try XCTUnwrap(listed.first { $0["path_b64"] as? String == encoded }, files.output)
        XCTAssertNil(cafe["path"])
        XCTAssertEqual(Set(cafe.keys), ["path_b64", "type", "status", "size", "mtime", "mtime_iso", "block", "chain", "sha256"])
        XCTAssertEqual(cafe["sha256"] as? String, "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881")
        let a = try XCTUnwrap(listed.first { $0["path"] as? String == tree.path + "/a.txt" })
        XCTAssertEqual(Set(a.keys), ["path", "type", "status", "size", "mtime", "mtime_iso", "block", "chain", "sha256"])
        XCTAssertEqual(a["type"] as? String, "file")
        XCTAssertEqual(a["status"] as? String, "stored")
        XCTAssertEqual(a["size"] as? Int, 6)
        XCTAssertTrue(a["block"] is NSNull)
        XCTAssertEqual(a["chain"] as? [String], [])
        XCTAssertEqual(a["sha256"] as? String, "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03")
        let mtime = try FileManager.default.attributesOfItem(atPath: tree.path + "/a.txt")[.modificationDate] as? Date
        XCTAssertEqual(a["mtime"] as? Int, Int(try XCTUnwrap(mtime).timeIntervalSince1970))
        XCTAssertEqual(
            (a["mtime_iso"] as? String)?.prefix(19), Self.iso8601(Int(try XCTUnwrap(mtime).timeIntervalSince1970)).prefix(19)[...])
        let directory = try XCTUnwrap(listed.first { $0["path"] as? String == tree.path })
        XCTAssertEqual(directory["type"] as? String, "directory")
        XCTAssertEqual(Set(directory.keys), ["path", "type", "status", "size", "mtime", "mtime_iso", "block", "chain"])
        XCTAssertEqual(listed.last?["path"] as? String, tree.path, "a directory comes after its contents")
        XCTAssertEqual(
            Set(listed.compactMap { $0["path"] as? String }),
            [tree.path, tree.path + "/a.txt", tree.path + "/sub", tree.path + "/sub/c.txt"])

        // The non-UTF-8 name restores byte for byte.
        let target = work.appendingPathComponent("restored").path
        let restore = try optionhost(["restore", "--catalog", catalogPath, "--jobid", "1", "--where", target])
        XCTAssertEqual(restore.status, 0, restore.stderr)
        XCTAssertEqual(unlink(tree.path + "/d.txt"), 0)
        try assertSameTree(target + tree.path, tree.path)
    }
}
