import Foundation
import PipelineTestSupport
import Synchronization
import XCTest

@testable import Pipeline

/// Restore with worker threads and unnamed (`O_TMPFILE`) files: the same tree whatever the thread count, and
/// `--replace never` that holds against an entry created while the file was written.
final class RestoreWorkersTests: XCTestCase {
    var work: TemporaryDirectory!
    var source: String { work.path + "/src" }

    override func setUpWithError() throws {
        work = try TemporaryDirectory(prefix: "restore-workers")
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        work.remove()
    }

    func shell(_ command: String) throws -> String {
        let result = try Shell.run(command)
        XCTAssertEqual(result.status, 0, command + "\n" + result.output)
        return result.output
    }

    /// A Full backup of `source` (hard links recorded) into a catalog in `work`.
    func backup() throws -> (SQLiteCatalog, JobID) {
        let text = """
            FileSet { Name = fs; Include { Options { Hard Links = yes } File = "\(source)" } }
            Job { Name = j; Type = Backup; Level = Full; FileSet = fs }
            """
        let configuration = try Configuration.parse(text: text, fileName: "t.conf")
        let fileSet = try XCTUnwrap(configuration.fileSets["fs"])
        try FileManager.default.createDirectory(atPath: work.path + "/volumes", withIntermediateDirectories: true)
        let job = BackupJob(
            job: configuration.job(named: "j")!, fileSet: fileSet, chains: configuration.chains(for: fileSet),
            catalog: try SQLiteCatalog.open(path: work.path + "/catalog.db", create: true),
            settings: BackupSettings(archiveDirectory: work.path + "/volumes", workers: 2),
            stageFactory: TestStageFactory().factory)
        let summary = try job.run()
        let catalog = try XCTUnwrap(job.releaseCatalog(as: SQLiteCatalog.self))
        XCTAssertEqual(summary.status, .ok, summary.failure ?? "")
        return (catalog, JobID(rawValue: summary.jobID))
    }

    func restore(
        _ catalog: SQLiteCatalog, _ jobID: JobID, to target: String, configure: (inout RestoreSettings) -> Void
    ) throws -> (JobSummary, [JobMessage]) {
        var settings = RestoreSettings(whereDirectory: target)
        configure(&settings)
        let job = RestoreJob(catalog: catalog, jobID: jobID, settings: settings, stageFactory: TestStageFactory().factory)
        return (try job.run(), job.problems)
    }

    /// Every entry below `root` with type, mode, size, mtime (ns), link count and link target; then xattrs and
    /// ACLs; paths relative to `root`.
    func listing(_ root: String) throws -> String {
        try shell(
            "cd '\(root)' && find . -printf '%p %y %m %s %T@ %n %l\\n' | LC_ALL=C sort"
                + " && getfattr -R -h -d -m - . 2>/dev/null | sed '/^$/d'"
                + " && getfacl -R -P -p . 2>/dev/null | sed '/^$/d'")
    }

    // MARK: - The same tree with 1 and N workers

    func testOneAndManyWorkersRestoreTheSameTree() throws {
        var random = SplitMix64(state: 7)
        for directory in 0..<12 {
            for file in 0..<25 {
                let path = "d\(directory)/f\(file)"
                XCTAssertTrue(try Shell.writeFile(source, path, random.bytes(random.below(20_000)), mode: 0o600 + file % 3 * 0o40))
            }
        }
        XCTAssertTrue(try Shell.writeFile(source, "d0/x/deeper/leaf", Array("leaf".utf8)))
        XCTAssertEqual(link(source + "/d1/f1", source + "/d5/hard-link"), 0)
        XCTAssertEqual(link(source + "/d1/f1", source + "/d9/second-hard-link"), 0)
        XCTAssertEqual(symlink("../d1/f2", source + "/d2/symlink"), 0)
        XCTAssertEqual(mkfifo(source + "/d3/fifo", 0o640), 0)
        XCTAssertEqual(mkdir(source + "/empty", 0o750), 0)
        let sparse = open(source + "/d4/sparse.img", O_CREAT | O_WRONLY, 0o644)
        XCTAssertEqual(ftruncate(sparse, 64 << 20), 0)
        XCTAssertEqual(pwrite(sparse, "data", 4, 32 << 20), 4)
        close(sparse)
        _ = try shell("setfattr -n user.note -v kept '\(source)/d6/f3' && setfacl -m u:nobody:r '\(source)/d7/f4'")
        _ = try shell("setfacl -d -m u:nobody:rx '\(source)/d8'")
        // Directory times last: creating their entries changed them.
        _ = try shell("find '\(source)' -type d -exec touch -h -d '2020-01-02 03:04:05.123456789' {} +")
        let (catalog, jobID) = try backup()

        let expected = try listing(source)
        for line in ["user.note=\"kept\"", "user:nobody:r--", "default:user:nobody:r-x", "./d4/sparse.img f 644 67108864"] {
            XCTAssertTrue(expected.contains(line), line + " in\n" + expected)
        }
        // 1 and 4 workers, and 2 naming files through /proc/self/fd (the path taken where the kernel refuses
        // linkat with AT_EMPTY_PATH).
        defer { FileDescriptor.emptyPathLinks.store(true, ordering: .relaxed) }
        for (workers, emptyPath) in [(1, true), (4, true), (2, false)] {
            FileDescriptor.emptyPathLinks.store(emptyPath, ordering: .relaxed)
            let target = work.path + "/restore-\(workers)"
            let (summary, problems) = try restore(catalog, jobID, to: target) { $0.workers = workers }
            XCTAssertEqual(summary.status, .ok, "\(problems)")
            XCTAssertEqual(summary.filesStored, 302, "\(workers) workers")
            XCTAssertEqual(try listing(target + source), expected, "\(workers) workers")
            _ = try shell("diff -r --no-dereference -x fifo '\(source)' '\(target + source)'")
            var info = stat()
            XCTAssertEqual(lstat(target + source + "/d4/sparse.img", &info), 0)
            XCTAssertLessThan(info.st_blocks * 512, 1 << 20, "the holes were filled (\(workers) workers)")
            var first = stat()
            XCTAssertEqual(lstat(target + source + "/d1/f1", &first), 0)
            XCTAssertEqual(lstat(target + source + "/d9/second-hard-link", &info), 0)
            XCTAssertEqual(info.st_ino, first.st_ino, "\(workers) workers")
            XCTAssertEqual(try shell("find '\(target)' -name '.optionhost-restore-*'"), "")
        }
    }

    /// File systems without `O_TMPFILE` get temporary names and a rename: the same tree, no name left behind.
    func testTemporaryNamesWhereUnnamedFilesAreUnavailable() throws {
        for index in 0..<40 { XCTAssertTrue(try Shell.writeFile(source, "d\(index % 4)/f\(index)", Array("file \(index)\n".utf8))) }
        let (catalog, jobID) = try backup()
        let target = work.path + "/restore"
        let (summary, problems) = try restore(catalog, jobID, to: target) {
            $0.unnamedFiles = false
            $0.workers = 2
        }
        XCTAssertEqual(summary.status, .ok, "\(problems)")
        XCTAssertEqual(summary.filesStored, 40)
        _ = try shell("diff -r '\(source)' '\(target + source)'")
        XCTAssertEqual(try shell("find '\(target)' -name '.optionhost-restore-*'"), "")
    }

    /// Temporary names left by a restore killed with SIGKILL on the temporary-name path (file systems without
    /// `O_TMPFILE`) go at the next restore into that tree: only names of ours whose process is gone, only regular
    /// files; a live process's name, a directory of that name and other hidden files stay.
    func testNextRestoreRemovesTemporaryNamesOfDeadRestores() throws {
        for index in 0..<6 { XCTAssertTrue(try Shell.writeFile(source, "d\(index % 2)/f\(index)", Array("file \(index)\n".utf8))) }
        let (catalog, jobID) = try backup()
        let target = work.path + "/restore"
        // A process that has exited and been reaped: its id names no process.
        let gone = Process()
        gone.executableURL = URL(fileURLWithPath: "/bin/true")
        try gone.run()
        gone.waitUntilExit()
        let dead = gone.processIdentifier
        let stale = [
            "d0/.optionhost-restore-\(dead)-0-1-3", "d1/.optionhost-restore-\(dead)-1-1-4",
            "d1/.optionhost-restore-\(dead)-0-1-9",
        ]
        // Process 1 always exists: its names are a live restore's.
        let kept = ["d0/.optionhost-restore-1-0-1-3", "d1/.optionhost-restore-notes", "d1/.optionhost-restore-x-1"]
        for name in stale.dropLast() + kept { XCTAssertTrue(try Shell.writeFile(target + source, name, [])) }
        // A symbolic link of a killed restore (links and specials are made under temporary names too).
        XCTAssertEqual(symlink("f1", target + source + "/" + stale[2]), 0)
        try FileManager.default.createDirectory(
            atPath: target + source + "/d0/.optionhost-restore-\(dead)-9-9-9", withIntermediateDirectories: false)
        let (summary, problems) = try restore(catalog, jobID, to: target) {
            $0.unnamedFiles = false
            $0.workers = 1
        }
        XCTAssertEqual(summary.status, .ok, "\(problems)")
        XCTAssertEqual(summary.filesStored, 6)
        XCTAssertEqual(summary.warnings, 0)
        XCTAssertEqual(
            try shell("cd '\(target + source)' && find . -name '.optionhost-restore-*' | LC_ALL=C sort"),
            ["d0/.optionhost-restore-\(dead)-9-9-9", "d0/.optionhost-restore-1-0-1-3", "d1/.optionhost-restore-notes",
             "d1/.optionhost-restore-x-1"].sorted().map { "./\($0)\n" }.joined())
        XCTAssertEqual(
            problems.filter { $0.severity == "info" }.map { String(decoding: $0.path ?? [], as: UTF8.self) + ": " + $0.text }
                .sorted(),
            stale.map { source + "/" + $0 + ": removed a temporary file left by restore process \(dead), which is gone" }
                .sorted())
        _ = try shell("diff -r -x '.optionhost-restore-*' '\(source)' '\(target + source)'")
    }

    // MARK: - --replace never against a racing creator

    /// Someone creates the file between the restore's look and its naming of the verified file: `linkat` (or,
    /// on the temporary-name path, `link` + `unlink`) never replaces, so their file stays.
    func testReplaceNeverKeepsAFileCreatedDuringTheRestore() throws {
        XCTAssertTrue(try Shell.writeFile(source, "raced.txt", Array("ours\n".utf8)))
        XCTAssertTrue(try Shell.writeFile(source, "other.txt", Array("other\n".utf8)))
        let (catalog, jobID) = try backup()
        for unnamed in [true, false] {
            for policy in [ReplacePolicy.never, .always] {
                let target = work.path + "/restore-\(unnamed)-\(policy)"
                let raced = target + source + "/raced.txt"
                let (summary, problems) = try restore(catalog, jobID, to: target) { settings in
                    settings.replace = policy
                    settings.unnamedFiles = unnamed
                    settings.workers = 2
                    settings.beforeNaming = { path in
                        guard String(decoding: path, as: UTF8.self).hasSuffix("/raced.txt") else { return }
                        XCTAssertTrue(FileManager.default.createFile(atPath: raced, contents: Data("theirs\n".utf8)))
                    }
                }
                let what = "unnamed \(unnamed), --replace \(policy)"
                XCTAssertEqual(summary.status, .ok, "\(what): \(problems)")
                XCTAssertEqual(try String(contentsOfFile: target + source + "/other.txt", encoding: .utf8), "other\n")
                if policy == .never {
                    XCTAssertEqual(try String(contentsOfFile: raced, encoding: .utf8), "theirs\n", what)
                    XCTAssertEqual(summary.filesStored, 1, what)
                    XCTAssertEqual(summary.filesSkipped, 1, what)
                    XCTAssertEqual(problems.map(\.text), ["not replaced (--replace never)"], what)
                } else {
                    XCTAssertEqual(try String(contentsOfFile: raced, encoding: .utf8), "ours\n", what)
                    XCTAssertEqual(summary.filesStored, 2, what)
                }
                XCTAssertEqual(try shell("find '\(target)' -name '.optionhost-restore-*'"), "", what)
            }
        }
    }

    // MARK: - A chain larger than a batch

    /// One Accurate backup of `source` at `level` into the catalog at `work/catalog.db` (settling before and after,
    /// so files changed between two jobs are newer than the first one's start).
    func backup(level: Job.Level, into catalog: SQLiteCatalog) throws -> JobID {
        usleep(50_000)
        let text = """
            FileSet { Name = fs; Include { Options { Hard Links = yes } File = "\(source)" } }
            Job { Name = j; Type = Backup; Level = Incremental; FileSet = fs; Accurate = yes }
            """
        let configuration = try Configuration.parse(text: text, fileName: "t.conf")
        let fileSet = try XCTUnwrap(configuration.fileSets["fs"])
        try FileManager.default.createDirectory(atPath: work.path + "/volumes", withIntermediateDirectories: true)
        let job = BackupJob(
            job: configuration.job(named: "j")!, fileSet: fileSet, chains: configuration.chains(for: fileSet),
            catalog: try SQLiteCatalog.open(path: catalog.path, create: false),
            settings: BackupSettings(archiveDirectory: work.path + "/volumes", workers: 2),
            stageFactory: TestStageFactory().factory, level: level)
        let summary = try job.runClosingCatalog()
        XCTAssertEqual(summary.status, .ok, summary.failure ?? "")
        usleep(50_000)
        return JobID(rawValue: summary.jobID)
    }

    /// A Full and an Incremental that changes, adds and (Accurate) deletes files: both jobs hold more entries than
    /// one batch of catalog rows (``RestorePlan/batchLimit``), the hard link's first name is in the Full; the
    /// restored tree is the live tree exactly, with 1 and 3 workers.
    func testChainLargerThanABatchRestoresTheLiveTreeExactly() throws {
        let count = RestorePlan.batchLimit * 3
        for index in 0..<count {
            XCTAssertTrue(try Shell.writeFile(source, "d\(index % 5)/f\(index)", Array("full \(index)\n".utf8)))
        }
        XCTAssertEqual(link(source + "/d0/f0", source + "/d4/hard-link"), 0)
        let catalog = try SQLiteCatalog.open(path: work.path + "/catalog.db", create: true)
        defer { try? catalog.close() }
        let full = try backup(level: .full, into: catalog)

        var changed = 0
        var deleted = 0
        for index in 1..<count {
            let path = "d\(index % 5)/f\(index)"
            if index % 3 == 0 {
                XCTAssertTrue(try Shell.writeFile(source, path, Array("incremental \(index), longer\n".utf8)))
                changed += 1
            } else if index % 7 == 1 {
                XCTAssertEqual(unlink(source + "/" + path), 0)
                deleted += 1
            }
        }
        for index in 0..<RestorePlan.batchLimit + 10 {
            XCTAssertTrue(try Shell.writeFile(source, "new/n\(index)", Array("new \(index)\n".utf8)))
        }
        let incremental = try backup(level: .incremental, into: catalog)
        let rows = try catalog.files(job: incremental)
        XCTAssertEqual(try catalog.job(incremental)?.level, .incremental)
        XCTAssertEqual(rows.filter { $0.status == .deleted }.count, deleted)
        XCTAssertGreaterThan(rows.filter { $0.status == .stored }.count, RestorePlan.batchLimit)
        XCTAssertGreaterThan(try catalog.files(job: full).count, RestorePlan.batchLimit)

        let expected = try listing(source)
        let files = count - deleted + RestorePlan.batchLimit + 10
        for workers in [1, 3] {
            let target = work.path + "/restore-\(workers)"
            let (summary, problems) = try restore(catalog, incremental, to: target) { $0.workers = workers }
            XCTAssertEqual(summary.status, .ok, "\(problems)")
            XCTAssertEqual(summary.filesStored, files, "\(workers) workers")
            XCTAssertEqual(try listing(target + source), expected, "\(workers) workers")
            _ = try shell("diff -r --no-dereference '\(source)' '\(target + source)'")
            var first = stat()
            var second = stat()
            XCTAssertEqual(lstat(target + source + "/d0/f0", &first), 0)
            XCTAssertEqual(lstat(target + source + "/d4/hard-link", &second), 0)
            XCTAssertEqual(first.st_ino, second.st_ino, "\(workers) workers")
        }
        XCTAssertGreaterThan(changed, RestorePlan.batchLimit / 2)
    }

    /// The batches: runs of one directory's plain entries, cut at directories, files whose chain does not restore
    /// concurrently (`xor`, like a Python plugin) and the limit; files of a chain that does (`keyed`, like gpg)
    /// stay in.
    func testBatchesFollowDirectoriesAndLeaveOutDirectoriesAndChainedFiles() throws {
        let factory = TestStageFactory()
        let builder = StageChainBuilder(factory: { try factory.stage($0) })
        func record(_ path: String, _ kind: EntryKind = .file, chain: [String] = []) -> FileRecord {
            var record = FileRecord(jobID: JobID(rawValue: 1), fileIndex: 0, path: Array(path.utf8), kind: kind)
            record.chain = chain
            return record
        }
        let records = [
            record("/a", .directory), record("/a/1"), record("/a/2"), record("/b/1"), record("/b/2", chain: ["x"]),
            record("/b/3"), record("/b/4", chain: ["keyed"]), record("/b/5", chain: ["nosuchstage"]),
        ]
        XCTAssertEqual(RestoreThreads.batches(records[...], builder: builder), [1..<3, 3..<4, 5..<7])
        let many = (0..<600).map { record("/c/\($0)") }
        XCTAssertEqual(RestoreThreads.batches(many[...], builder: builder).map(\.count), [256, 256, 88])
    }
}
