import Foundation
import PipelineTestSupport
import XCTest

@testable import Pipeline

/// Backup levels with Bareos semantics (`bareos-conf-fileset.md` §2.6, §5): Incremental and Differential since
/// times from the catalog, upgrades to Full, Accurate comparison and deletions — on real trees, through the real
/// engine and catalog.
///
/// Timing: a job's start time (the next job's since time) is read from the coarse real-time clock, the one inode
/// times come from. Every step sleeps 50 ms (`settle`) before the next backup, so files written before a job
/// started are strictly older than its start and files written after it strictly newer.
class LevelTests: XCTestCase {
    var work: TemporaryDirectory!
    var source: String { work.path + "/src" }
    var catalogPath: String { work.path + "/catalog.db" }
    var archive: String { work.path + "/volumes" }
    var catalog: DatabaseCatalog!
    var catalogs: TestCatalogs!
    /// The driver of the catalog (a subclass runs the engine tests on PostgreSQL).
    var driver: TestCatalogs.Driver { .sqlite }

    override func setUpWithError() throws {
        work = try TemporaryDirectory(prefix: "levels")
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: archive, withIntermediateDirectories: true)
        catalogs = TestCatalogs(driver: driver, directory: work.path)
        catalog = try catalogs.open()
    }

    override func tearDownWithError() throws {
        try catalog?.close()
        work.remove()
    }

    // MARK: - Helpers

    /// Writes a file in place (open with O_TRUNC, write, close): the inode and the directory stay as they are,
    /// unlike an atomic write through a temporary file and rename.
    func put(_ relative: String, _ text: String) throws {
        let path = relative.hasPrefix("/") ? relative : source + "/" + relative
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        XCTAssertGreaterThanOrEqual(fd, 0, "open \(path)")
        let bytes = Array(text.utf8)
        XCTAssertEqual(bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }, bytes.count)
        close(fd)
    }

    func settle() { usleep(50_000) }

    func config(
        level: String? = "Incremental", accurate: Bool = false, options: String = "", files: [String]? = nil,
        fileSetExtra: String = "", job: String = "j", client: String? = nil
    ) throws -> (Configuration, Job, FileSet) {
        let fileLines = (files ?? [source]).map { "    File = \"\($0)\"" }.joined(separator: "\n")
        let text = """
            FileSet {
              Name = fs
            \(fileSetExtra)
              Include {
                Options { \(options) }
            \(fileLines)
              }
            }
            Job { Name = \(job); Type = Backup; \(level.map { "Level = \($0);" } ?? "") FileSet = fs; \
            Accurate = \(accurate ? "yes" : "no")\(client.map { "; Client = \($0)" } ?? "") }
            """
        let configuration = try Configuration.parse(text: text, fileName: "levels.conf")
        return (configuration, try XCTUnwrap(configuration.job(named: job)), try XCTUnwrap(configuration.fileSets["fs"]))
    }

    struct Run {
        var summary: JobSummary
        var record: JobRecord
        var files: [FileRecord]

        var id: JobID { record.id }
        /// Stored entries under `root` (itself included) as "kind path-relative-to-root".
        func stored(under root: String) -> Set<String> { describe(files.filter { $0.status == .stored }, root) }
        func deleted(under root: String) -> Set<String> { describe(files.filter { $0.status == .deleted }, root) }

        private func describe(_ records: [FileRecord], _ root: String) -> Set<String> {
            Set(
                records.compactMap { record in
                    let path = String(decoding: record.path, as: UTF8.self)
                    if path == root { return "\(record.kind.rawValue) ." }
                    guard path.hasPrefix(root + "/") else { return nil }
                    return "\(record.kind.rawValue) \(path.dropFirst(root.count + 1))"
                })
        }
    }

    /// Runs one backup (settling first) and reads back its job record and rows.
    @discardableResult
    func backup(
        _ setup: (Configuration, Job, FileSet), level: Job.Level? = nil, expect status: JobStatus = .ok,
        file: StaticString = #filePath, line: UInt = #line
    ) throws -> Run {
        settle()
        let (configuration, job, fileSet) = setup
        var settings = BackupSettings(archiveDirectory: archive, workers: 2)
        settings.batchEntries = 8
        let backup = BackupJob(
            job: job, fileSet: fileSet, chains: configuration.chains(for: fileSet),
            catalog: try catalogs.open(create: false), settings: settings,
            stageFactory: TestStageFactory().factory, level: level)
        let summary = try backup.runClosingCatalog()
        XCTAssertEqual(summary.status, status, summary.failure ?? "", file: file, line: line)
        let id = JobID(rawValue: summary.jobID)
        let record = try XCTUnwrap(try catalog.job(id), file: file, line: line)
        let run = Run(summary: summary, record: record, files: try catalog.files(job: id))
        XCTAssertEqual(run.files.filter { $0.status == .failed || $0.status == .skipped }.map(\.path), [],
            file: file, line: line)
        settle()
        return run
    }

    /// The live tree under `root` (root included): path → (kind, size of files and symlinks).
    func liveTree(_ root: String) throws -> [String: String] {
        var tree: [String: String] = [:]
        func add(_ path: String) {
            var info = Glibc.stat()
            guard lstat(path, &info) == 0 else { return }
            let kind = EntryKind(mode: UInt32(info.st_mode)) ?? .file
            tree[path] = kind == .directory ? "directory" : "\(kind.rawValue) \(info.st_size)"
        }
        add(root)
        for relative in FileManager.default.enumerator(atPath: root)?.allObjects as? [String] ?? [] {
            add(root + "/" + relative)
        }
        return tree
    }

    /// The tree as of a job according to the catalog, in the same form as `liveTree`.
    func stateTree(asOf id: JobID) throws -> [String: String] {
        var tree: [String: String] = [:]
        for (path, record) in try JobChain.state(asOf: id, in: catalog) {
            let kind = record.kind == .hardLink ? EntryKind.file : record.kind
            tree[String(decoding: path, as: UTF8.self)] = kind == .directory ? "directory" : "\(kind.rawValue) \(record.size)"
        }
        return tree
    }

    /// `forEachStateEntry` streams what `JobChain.state` holds (restore plans with it), in (JobId, file index) order.
    func assertStreamedState(asOf id: JobID, file: StaticString = #filePath, line: UInt = #line) throws {
        let state = try JobChain.state(asOf: id, in: catalog)
        var streamed: [[UInt8]: StateEntry] = [:]
        var keys: [[Int64]] = []
        try catalog.forEachStateEntry(jobs: try JobChain.jobs(asOf: id, in: catalog).map(\.id)) { entry in
            XCTAssertNil(streamed.updateValue(entry, forKey: entry.path), file: file, line: line)
            keys.append([entry.jobID.rawValue, entry.fileIndex])
        }
        XCTAssertEqual(streamed, state.mapValues(StateEntry.init), file: file, line: line)
        XCTAssertEqual(keys, keys.sorted { $0.lexicographicallyPrecedes($1) }, file: file, line: line)
    }

    // MARK: - Incremental

    func testIncrementalStoresExactlyTheThreeChangedAndTheAddedFile() throws {
        for name in ["a.txt", "b.txt", "c.txt", "sub/d.txt", "sub/e.txt", "sub/deep/f.txt", "other/g.txt"] {
            try put(name, "original \(name)\n")
        }
        XCTAssertEqual(symlink("a.txt", source + "/link"), 0)
        let setup = try config()
        let full = try backup(setup, level: .full)
        XCTAssertEqual(full.record.level, .full)
        XCTAssertNil(full.record.sinceTime)
        XCTAssertEqual(full.summary.filesStored, 7)

        try put("a.txt", "changed a, longer than before\n")
        try put("sub/e.txt", "changed e\n")
        try put("sub/deep/f.txt", "f")
        try put("other/new.txt", "added\n")

        let incremental = try backup(setup)
        XCTAssertEqual(incremental.summary.level, "Incremental")
        XCTAssertNil(incremental.summary.upgraded)
        XCTAssertEqual(incremental.record.level, .incremental)
        XCTAssertEqual(incremental.record.sinceTime, full.record.startTime)
        XCTAssertEqual(incremental.summary.since, full.record.startTime)
        // The four regular files, plus the one directory whose mtime changed (a name was added to it). Files
        // rewritten in place leave their directories alone: unchanged directories are walked, not saved.
        XCTAssertEqual(
            incremental.stored(under: source),
            ["file a.txt", "file sub/e.txt", "file sub/deep/f.txt", "file other/new.txt", "directory other"])
        XCTAssertEqual(incremental.summary.filesExamined, 4)
        XCTAssertEqual(incremental.summary.filesStored, 4)
        XCTAssertEqual(incremental.summary.entriesStored, 5)
        XCTAssertEqual(incremental.summary.filesSkipped + incremental.summary.filesFailed, 0)
        XCTAssertEqual(incremental.files.count, 5, "unchanged entries leave no rows")
        // Volume label carries the level and since time.
        let reader = try PaxReader(path: try XCTUnwrap(incremental.summary.volumes.first))
        while try reader.next() != nil {}
        let label = try XCTUnwrap(reader.labels.first)
        XCTAssertEqual(label.first { $0.key == "OPTIONPIPELINE.label.level" }?.value, Array("Incremental".utf8))
        let since = try XCTUnwrap(full.record.startTime)
        XCTAssertEqual(
            label.first { $0.key == "OPTIONPIPELINE.label.since" }?.value,
            Array(("\(since.seconds)." + String(String(since.nanoseconds + 1_000_000_000).dropFirst())).utf8))  // 9 digits

        // The chain (Full + Incremental) describes the live tree exactly.
        XCTAssertEqual(try JobChain.jobs(asOf: incremental.id, in: catalog).map(\.id), [full.id, incremental.id])
        XCTAssertEqual(try stateTree(asOf: incremental.id), try liveTree(source))

        // Nothing changed: the next Incremental stores nothing and its since time is the previous one's start.
        let empty = try backup(setup)
        XCTAssertEqual(empty.record.level, .incremental)
        XCTAssertEqual(empty.record.sinceTime, incremental.record.startTime)
        XCTAssertEqual(empty.files.count, 0)
        XCTAssertEqual(empty.summary.volumes, [])
    }

    func testChangedCtimeIsSavedUnlessMtimeOnly() throws {
        try put("a.txt", "a")
        try put("b.txt", "b")
        let plain = try config()
        try backup(plain, level: .full)
        XCTAssertEqual(chmod(source + "/a.txt", 0o600), 0)  // ctime only
        XCTAssertEqual(try backup(plain).stored(under: source), ["file a.txt"])

        let mtimeOnly = try config(options: "MtimeOnly = yes", job: "m")
        try backup(mtimeOnly, level: .full)
        XCTAssertEqual(chmod(source + "/b.txt", 0o600), 0)
        XCTAssertEqual(try backup(mtimeOnly).stored(under: source), [])
        try put("b.txt", "B")
        XCTAssertEqual(try backup(mtimeOnly).stored(under: source), ["file b.txt"])
    }

    func testNotDescendedDirectoryIsSavedEvenWhenUnchanged() throws {
        try put("flat/inner/x.txt", "x")
        try put("walked/y.txt", "y")
        // Block 0 matches the directory "flat" and does not recurse; the last block takes everything else.
        let setup = try config(options: "WildDir = \"*/flat\"; Recurse = no }\n    Options {")
        let full = try backup(setup, level: .full)
        XCTAssertEqual(
            full.stored(under: source), ["directory .", "directory flat", "directory walked", "file walked/y.txt"])
        // Nothing changed; Bareos still saves the record of a directory it does not descend into (§4.2 7(d)).
        let incremental = try backup(setup)
        XCTAssertEqual(incremental.record.level, .incremental)
        XCTAssertEqual(incremental.stored(under: source), ["directory flat"])
    }

    // MARK: - Differential

    func testDifferentialAfterTwoIncrementalsStoresEverythingChangedSinceTheFull() throws {
        for name in ["a.txt", "b.txt", "c.txt", "sub/d.txt"] { try put(name, name) }
        let setup = try config()
        let full = try backup(setup, level: .full)

        try put("a.txt", "a changed")
        let first = try backup(setup)
        XCTAssertEqual(first.stored(under: source), ["file a.txt"])

        try put("b.txt", "b changed")
        try put("sub/new.txt", "new")
        let second = try backup(setup)
        XCTAssertEqual(second.record.sinceTime, first.record.startTime)
        XCTAssertEqual(second.stored(under: source), ["file b.txt", "file sub/new.txt", "directory sub"])

        let differential = try backup(setup, level: .differential)
        XCTAssertEqual(differential.summary.level, "Differential")
        XCTAssertEqual(differential.record.level, .differential)
        XCTAssertEqual(differential.record.sinceTime, full.record.startTime)
        XCTAssertEqual(
            differential.stored(under: source), ["file a.txt", "file b.txt", "file sub/new.txt", "directory sub"])
        XCTAssertEqual(try JobChain.jobs(asOf: differential.id, in: catalog).map(\.id), [full.id, differential.id])
        XCTAssertEqual(try stateTree(asOf: differential.id), try liveTree(source))

        // An Incremental after the Differential starts from the Differential.
        try put("c.txt", "c changed")
        let third = try backup(setup)
        XCTAssertEqual(third.record.sinceTime, differential.record.startTime)
        XCTAssertEqual(third.stored(under: source), ["file c.txt"])
        XCTAssertEqual(
            try JobChain.jobs(asOf: third.id, in: catalog).map(\.id), [full.id, differential.id, third.id])
        XCTAssertEqual(try stateTree(asOf: third.id), try liveTree(source))
    }

    // MARK: - Upgrades to Full

    func testFirstIncrementalOrDifferentialIsUpgradedToFull() throws {
        try put("a.txt", "a")
        let setup = try config(level: nil)  // Bareos' default level: Incremental
        XCTAssertEqual(setup.1.effectiveLevel, .incremental)
        let first = try backup(setup)
        XCTAssertEqual(first.record.level, .full)
        XCTAssertEqual(first.summary.level, "Full")
        XCTAssertEqual(first.summary.upgraded, LevelDecision.noFullReason)
        XCTAssertNil(first.record.sinceTime)
        XCTAssertEqual(first.stored(under: source), ["directory .", "file a.txt"])
        let messages = try catalog.messages(job: first.id)
        XCTAssertTrue(messages.contains { $0.severity == "info" && $0.text == LevelDecision.noFullReason }, "\(messages)")

        // Another Job name is another chain: its first Differential is a Full too.
        let other = try config(job: "k")
        let differential = try backup(other, level: .differential)
        XCTAssertEqual(differential.record.level, .full)
        XCTAssertEqual(differential.summary.upgraded, LevelDecision.noFullReason)
    }

    /// One catalog, two hosts, one Job name: a client's Incremental never builds on another client's Full, and
    /// its chain holds its own client's jobs only.
    func testAnotherClientsFullIsNotTheBaseOfAnIncremental() throws {
        try put("a.txt", "a")
        let web1 = try config(client: "web1")
        let web2 = try config(client: "web2")
        let full = try backup(web1)
        XCTAssertEqual(full.record.level, .full)
        XCTAssertEqual(full.record.clientName, "web1")
        try put("b.txt", "b")
        let other = try backup(web2)
        XCTAssertEqual(other.record.level, .full)
        XCTAssertEqual(other.summary.upgraded, LevelDecision.noFullReason)
        XCTAssertEqual(other.stored(under: source), ["directory .", "file a.txt", "file b.txt"])
        try put("c.txt", "c")
        let incremental = try backup(web1)
        XCTAssertEqual(incremental.record.level, .incremental)
        XCTAssertEqual(incremental.record.sinceTime, full.record.startTime)
        XCTAssertEqual(incremental.stored(under: source), ["directory .", "file b.txt", "file c.txt"])
        XCTAssertEqual(try JobChain.jobs(asOf: incremental.id, in: catalog).map(\.id), [full.id, incremental.id])
        XCTAssertEqual(try stateTree(asOf: incremental.id), try liveTree(source))
    }

    func testFailedFullIsNotUsable() throws {
        try put("a.txt", "a")
        let setup = try config()
        let digest = FileSetIdentity.digest(setup.2)
        var failed = JobRecord(
            name: "j", level: .full, status: .running, fileSetName: "fs", fileSetDigest: digest,
            startTime: Clock.realtime())
        failed.id = try catalog.beginJob(failed)
        failed.status = .failed
        try catalog.finishJob(failed)
        let run = try backup(setup)
        XCTAssertEqual(run.record.level, .full)
        XCTAssertEqual(run.summary.upgraded, LevelDecision.noFullReason)
    }

    func testFileSetChangeForcesFull() throws {
        try put("a.txt", "a")
        try put(work.path + "/more/m.txt", "m")
        let before = try config()
        let full = try backup(before, level: .full)

        // Options do not count (the digest covers File and Plugin lines only): still Incremental.
        let options = try config(options: "Compression = GZIP")
        let incremental = try backup(options)
        XCTAssertEqual(incremental.record.level, .incremental)
        XCTAssertEqual(incremental.record.fileSetDigest, full.record.fileSetDigest)

        // One more File line: a new FileSet identity, no Full for it, so the Incremental runs as a Full.
        let changed = try config(files: [source, work.path + "/more"])
        let upgraded = try backup(changed)
        XCTAssertEqual(upgraded.record.level, .full)
        XCTAssertEqual(upgraded.summary.upgraded, LevelDecision.fileSetChangedReason)
        XCTAssertNotEqual(upgraded.record.fileSetDigest, full.record.fileSetDigest)
        XCTAssertEqual(upgraded.record.fileSetDigest, FileSetIdentity.digest(changed.2))
        XCTAssertTrue(upgraded.stored(under: source).contains("file a.txt"))
        XCTAssertTrue(
            try catalog.messages(job: upgraded.id).contains { $0.text == LevelDecision.fileSetChangedReason })
        // The next Incremental builds on that Full.
        let next = try backup(changed)
        XCTAssertEqual(next.record.level, .incremental)
        XCTAssertEqual(next.record.sinceTime, upgraded.record.startTime)

        // Going back to the first FileSet finds its own (older) chain again: Incremental since its newest job.
        let back = try backup(before)
        XCTAssertEqual(back.record.level, .incremental)
        XCTAssertEqual(back.record.sinceTime, incremental.record.startTime)
    }

    func testIgnoreFileSetChangesKeepsTheChain() throws {
        try put("a.txt", "a")
        try put(work.path + "/more/m.txt", "m")
        let before = try config(fileSetExtra: "  Ignore FileSet Changes = yes")
        let full = try backup(before, level: .full)
        let changed = try config(files: [source, work.path + "/more"], fileSetExtra: "  Ignore FileSet Changes = yes")
        let incremental = try backup(changed)
        XCTAssertEqual(incremental.record.level, .incremental)
        XCTAssertNil(incremental.summary.upgraded)
        XCTAssertEqual(incremental.record.sinceTime, full.record.startTime)
        // Recorded under the Full's FileSet identity, so its chain is whole.
        XCTAssertEqual(incremental.record.fileSetDigest, full.record.fileSetDigest)
        XCTAssertEqual(try JobChain.jobs(asOf: incremental.id, in: catalog).map(\.id), [full.id, incremental.id])
        // The new File entry's contents are older than the since time: not saved (Bareos' documented caveat).
        XCTAssertEqual(incremental.files.count, 0)
    }

    // MARK: - Accurate

    func testAccurateRecordsADeletedAndAReplacedSameMtimeFile() throws {
        try put("keep.txt", "keep")
        try put("gone.txt", "gone")
        try put("target.txt", "original")
        try put("sub/x.txt", "x")
        let setup = try config(accurate: true)
        let full = try backup(setup)
        XCTAssertEqual(full.record.level, .full)

        // A different file (same size, different bytes) given target.txt's exact mtime, renamed over it: its
        // mtime did not change, its inode and ctime did.
        var info = Glibc.stat()
        XCTAssertEqual(lstat(source + "/target.txt", &info), 0)
        let replacement = work.path + "/replacement"
        try put(replacement, "REPLACED")
        var times = [info.st_atim, info.st_mtim]
        XCTAssertEqual(utimensat(AT_FDCWD, replacement, &times, 0), 0)
        XCTAssertEqual(rename(replacement, source + "/target.txt"), 0)
        var after = Glibc.stat()
        XCTAssertEqual(lstat(source + "/target.txt", &after), 0)
        XCTAssertEqual(after.st_mtim.tv_sec, info.st_mtim.tv_sec)
        XCTAssertEqual(after.st_mtim.tv_nsec, info.st_mtim.tv_nsec)
        XCTAssertEqual(after.st_size, info.st_size)
        XCTAssertNotEqual(after.st_ino, info.st_ino)
        XCTAssertEqual(unlink(source + "/gone.txt"), 0)

        let incremental = try backup(setup)
        XCTAssertEqual(incremental.record.level, .incremental)
        // The directory lost and gained a name (mtime/ctime changed); the replaced file; nothing else.
        XCTAssertEqual(incremental.stored(under: source), ["file target.txt", "directory ."])
        XCTAssertEqual(incremental.deleted(under: source), ["file gone.txt"])
        XCTAssertEqual(incremental.summary.entriesDeleted, 1)
        let target = try XCTUnwrap(incremental.files.first { $0.path == Array((source + "/target.txt").utf8) })
        XCTAssertEqual(target.sourceSHA256, try Digester.digest(.sha256, of: Array("REPLACED".utf8)))
        // The deletion is in the volume trailer too, for `scan`.
        let reader = try PaxReader(path: try XCTUnwrap(incremental.summary.volumes.last))
        while try reader.next() != nil {}
        let deleted = reader.labels.joined().filter { $0.key == "OPTIONPIPELINE.deleted" }.map(\.value)
        XCTAssertEqual(deleted, [Array((source + "/gone.txt").utf8)])
        XCTAssertTrue(
            try catalog.messages(job: incremental.id).contains { $0.text.hasPrefix("Accurate: comparing with the 6 entries") })

        // The catalog's tree as of the Incremental is the live tree: gone.txt is gone.
        XCTAssertEqual(try stateTree(asOf: incremental.id), try liveTree(source))
        try assertStreamedState(asOf: incremental.id)

        // Deleting the rest of sub/ is recorded the same way, with nothing else stored but the directories.
        XCTAssertEqual(unlink(source + "/sub/x.txt"), 0)
        XCTAssertEqual(rmdir(source + "/sub"), 0)
        let next = try backup(setup)
        XCTAssertEqual(next.stored(under: source), ["directory ."])
        XCTAssertEqual(next.deleted(under: source), ["file sub/x.txt", "directory sub"])
        XCTAssertEqual(try stateTree(asOf: next.id), try liveTree(source))
        try assertStreamedState(asOf: next.id)
    }

    func testAccurateCatchesAMovedInDirectoryTheSinceTestMisses() throws {
        try put("a.txt", "a")
        // Written before the Fulls: mtime and ctime older than every since time below.
        try put(work.path + "/outside/old.txt", "old")
        let plain = try config(job: "plain")
        let accurate = try config(accurate: true, job: "accurate")
        try backup(plain, level: .full)
        try backup(accurate, level: .full)

        XCTAssertEqual(rename(work.path + "/outside", source + "/moved"), 0)
        // Without Accurate only the moved directory itself (its ctime changed) is saved, not what is in it.
        XCTAssertEqual(try backup(plain).stored(under: source), ["directory moved", "directory ."])
        XCTAssertEqual(try backup(accurate).stored(under: source), ["directory moved", "file moved/old.txt", "directory ."])
    }

    func testAccurateChecksumLetterIgnoresRewritesWithTheSameBytes() throws {
        try put("same.txt", "identical")
        try put("other.txt", "12345")
        let setup = try config(accurate: true, options: "Signature = SHA256; Accurate = 5")
        try backup(setup, level: .full)
        try put("same.txt", "identical")  // new mtime, same bytes
        try put("other.txt", "54321")  // same size, new bytes
        let incremental = try backup(setup)
        XCTAssertEqual(incremental.record.level, .incremental)
        XCTAssertEqual(incremental.stored(under: source), ["file other.txt"])
        XCTAssertEqual(incremental.deleted(under: source), [])
    }

    func testAccurateDifferentialComparesWithTheFull() throws {
        try put("a.txt", "a")
        try put("b.txt", "b")
        let setup = try config(accurate: true)
        let full = try backup(setup)
        try put("a.txt", "a changed")
        XCTAssertEqual(try backup(setup).stored(under: source), ["file a.txt"])
        XCTAssertEqual(unlink(source + "/b.txt"), 0)
        let incremental = try backup(setup)
        XCTAssertEqual(incremental.deleted(under: source), ["file b.txt"])
        // The Differential compares with the Full alone: a.txt changed since, b.txt deleted since.
        let differential = try backup(setup, level: .differential)
        XCTAssertEqual(differential.record.sinceTime, full.record.startTime)
        XCTAssertEqual(differential.stored(under: source), ["file a.txt", "directory ."])
        XCTAssertEqual(differential.deleted(under: source), ["file b.txt"])
        XCTAssertEqual(try stateTree(asOf: differential.id), try liveTree(source))
    }

    // MARK: - Command line

    /// `optionhost` next to the test bundle in the build directory.
    static let binary: String? = {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
        var url = URL(fileURLWithPath: exe).deletingLastPathComponent()
        while url.path != "/" {
            let candidate = url.appendingPathComponent("optionhost").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            url.deleteLastPathComponent()
        }
        return nil
    }()

    func optionhost(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        guard let binary = LevelTests.binary else { throw XCTSkip("the optionhost binary is not built") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }

    func summary(_ output: String) throws -> [String: Any] {
        let line = try XCTUnwrap(output.split(separator: "\n").last)
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        XCTAssertEqual(object?["type"] as? String, "summary")
        return try XCTUnwrap(object)
    }

    func testLevelOptionOverridesTheJob() throws {
        try catalog.close()
        catalog = nil
        try put("a.txt", "a")
        try put("b.txt", "b")
        let configPath = work.path + "/cli.conf"
        try Data(
            """
            FileSet { Name = fs; Include { File = "\(source)" } }
            Job { Name = cli; Type = Backup; Level = Full; FileSet = fs }
            """.utf8
        ).write(to: URL(fileURLWithPath: configPath))
        let common = [configPath, "--job", "cli", "--catalog", catalogPath, "--archive", archive]

        settle()
        let full = try optionhost(["backup"] + common + ["--json"])
        XCTAssertEqual(full.status, 0, full.stderr)
        let fullSummary = try summary(full.stdout)
        XCTAssertEqual(fullSummary["level"] as? String, "Full")
        XCTAssertNil(fullSummary["since"])
        XCTAssertNil(fullSummary["upgraded"])
        settle()

        try put("a.txt", "a changed")
        settle()
        let incremental = try optionhost(["backup"] + common + ["--level", "incremental", "--json"])
        XCTAssertEqual(incremental.status, 0, incremental.stderr)
        let incrementalSummary = try summary(incremental.stdout)
        XCTAssertEqual(incrementalSummary["level"] as? String, "Incremental")
        XCTAssertEqual(incrementalSummary["files_stored"] as? Int, 1)
        XCTAssertEqual(incrementalSummary["entries_stored"] as? Int, 1)
        let since = try XCTUnwrap(incrementalSummary["since"] as? Double)
        let reopened = try SQLiteCatalog.open(path: catalogPath, create: false)
        defer { try? reopened.close() }
        let fullStart = try XCTUnwrap(try reopened.job(JobID(rawValue: 1))).startTime
        XCTAssertEqual(since, Double(fullStart.seconds) + Double(fullStart.nanoseconds) / 1e9, accuracy: 1e-6)
        // ISO 8601 beside the number (UTC, milliseconds).
        let utc = DateFormatter()
        utc.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
        utc.timeZone = TimeZone(identifier: "UTC")
        let fullDate = Date(timeIntervalSince1970: TimeInterval(fullStart.seconds))
        let millis = String(format: "%03d", Int(fullStart.nanoseconds) / 1_000_000)
        XCTAssertEqual(incrementalSummary["since_iso"] as? String, utc.string(from: fullDate) + "." + millis + "Z")
        settle()

        let differential = try optionhost(["backup"] + common + ["--level", "DIFFERENTIAL"])
        XCTAssertEqual(differential.status, 0, differential.stderr)
        XCTAssertTrue(differential.stdout.contains("(JobId 3, level Differential): ok\n"), differential.stdout)
        // Local time to the second, how long ago, no raw epoch number.
        let local = DateFormatter()
        local.dateFormat = "yyyy-MM-dd HH:mm:ss"
        XCTAssertTrue(
            differential.stdout.contains("\n  since: \(local.string(from: fullDate)) ("), differential.stdout)
        XCTAssertTrue(
            differential.stdout.contains(" ago; entries unchanged since then were not saved)\n"), differential.stdout)
        XCTAssertFalse(differential.stdout.contains(String(fullStart.seconds)), differential.stdout)
        XCTAssertTrue(differential.stdout.contains("  files: 1 stored"), differential.stdout)

        let bogus = try optionhost(["backup"] + common + ["--level", "VirtualFull"])
        XCTAssertEqual(bogus.status, 2)
        XCTAssertTrue(bogus.stderr.contains("--level must be Full, Incremental or Differential"), bogus.stderr)

        // A new Job name has no Full: --level Incremental is upgraded, and the summary says why.
        try Data(
            """
            FileSet { Name = fs; Include { File = "\(source)" } }
            Job { Name = fresh; Type = Backup; Level = Full; FileSet = fs }
            """.utf8
        ).write(to: URL(fileURLWithPath: configPath))
        let fresh = try optionhost(
            ["backup", configPath, "--job", "fresh", "--catalog", catalogPath, "--archive", archive, "--level", "Incremental", "--json"])
        XCTAssertEqual(fresh.status, 0, fresh.stderr)
        let freshSummary = try summary(fresh.stdout)
        XCTAssertEqual(freshSummary["level"] as? String, "Full")
        XCTAssertEqual(freshSummary["upgraded"] as? String, LevelDecision.noFullReason)
    }
}

/// The engine tests of ``LevelTests`` (not the command-line ones) with the catalog on PostgreSQL. (Declared again
/// here: test discovery on Linux finds only the methods a class declares itself.)
final class PostgreSQLLevelTests: LevelTests {
    override var driver: TestCatalogs.Driver { .postgreSQL }

    override func testIncrementalStoresExactlyTheThreeChangedAndTheAddedFile() throws { try super.testIncrementalStoresExactlyTheThreeChangedAndTheAddedFile() }
    override func testChangedCtimeIsSavedUnlessMtimeOnly() throws { try super.testChangedCtimeIsSavedUnlessMtimeOnly() }
    override func testNotDescendedDirectoryIsSavedEvenWhenUnchanged() throws { try super.testNotDescendedDirectoryIsSavedEvenWhenUnchanged() }
    override func testDifferentialAfterTwoIncrementalsStoresEverythingChangedSinceTheFull() throws { try super.testDifferentialAfterTwoIncrementalsStoresEverythingChangedSinceTheFull() }
    override func testFirstIncrementalOrDifferentialIsUpgradedToFull() throws { try super.testFirstIncrementalOrDifferentialIsUpgradedToFull() }
    override func testFailedFullIsNotUsable() throws { try super.testFailedFullIsNotUsable() }
    override func testAnotherClientsFullIsNotTheBaseOfAnIncremental() throws {
        try super.testAnotherClientsFullIsNotTheBaseOfAnIncremental()
    }
    override func testFileSetChangeForcesFull() throws { try super.testFileSetChangeForcesFull() }
    override func testIgnoreFileSetChangesKeepsTheChain() throws { try super.testIgnoreFileSetChangesKeepsTheChain() }
    override func testAccurateRecordsADeletedAndAReplacedSameMtimeFile() throws { try super.testAccurateRecordsADeletedAndAReplacedSameMtimeFile() }
    override func testAccurateCatchesAMovedInDirectoryTheSinceTestMisses() throws { try super.testAccurateCatchesAMovedInDirectoryTheSinceTestMisses() }
    override func testAccurateChecksumLetterIgnoresRewritesWithTheSameBytes() throws { try super.testAccurateChecksumLetterIgnoresRewritesWithTheSameBytes() }
    override func testAccurateDifferentialComparesWithTheFull() throws { try super.testAccurateDifferentialComparesWithTheFull() }
}
