import Foundation
import PipelineTestSupport
import XCTest

@testable import Pipeline

/// Restore as of a job (Full + Incrementals, minus Accurate deletions), the stored versions of one path, and the
/// live-tree check, on real trees through the real engine.
///
/// Chains are built with real Incremental backups (`Level = Incremental` in the Job; the first run is upgraded to
/// Full) when this build runs levels. A build that does not (every run recorded as Full) gets the same chains
/// through the catalog API instead: a Full of Job "scratch" over the same FileSet, whose changed rows (and, for
/// Accurate, deletion rows) become an Incremental of Job "j" reading the scratch job's volumes. Setting
/// `VERSIONS_TESTS_WITHOUT_LEVELS=1` in the environment takes that path on any build.
class VersionsTests: XCTestCase {
    var work: TemporaryDirectory!
    var catalog: DatabaseCatalog!
    var catalogs: TestCatalogs!
    /// The driver of the catalog (a subclass runs these tests on PostgreSQL).
    var driver: TestCatalogs.Driver { .sqlite }
    var source: String { work.path + "/src" }
    var catalogPath: String { work.path + "/catalog.db" }
    var archive: String { work.path + "/volumes" }
    var target: String { work.path + "/restore" }

    override func setUpWithError() throws {
        work = try TemporaryDirectory(prefix: "versions")
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: archive, withIntermediateDirectories: true)
        catalogs = TestCatalogs(driver: driver, directory: work.path)
        catalog = try catalogs.open()
    }

    override func tearDownWithError() throws {
        try? catalog.close()
        work.remove()
    }

    // MARK: - Helpers

    /// Writes `text` into the file in place (same inode when it exists), creating directories as needed.
    func put(_ relative: String, _ text: String) throws {
        let path = source + "/" + relative
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        XCTAssertGreaterThanOrEqual(fd, 0, "cannot open \(path)")
        defer { close(fd) }
        let bytes = Array(text.utf8)
        XCTAssertEqual(bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }, bytes.count)
    }

    func remove(_ relative: String) {
        XCTAssertEqual(Glibc.remove(source + "/" + relative), 0, relative)
    }

    func path(_ relative: String) -> [UInt8] { Array((source + "/" + relative).utf8) }

    func restored(_ relative: String) -> String { target + source + "/" + relative }

    func sha256(_ text: String) -> [UInt8] { try! Digester.digest(.sha256, of: Array(text.utf8)) }

    func shell(_ command: String) throws -> (Int32, String) {
        let result = try Shell.run(command)
        return (result.status, result.output)
    }

    /// Type, mode, owner, size, link count, mtime and link target of every entry below `root` (sizes and link
    /// counts of directories depend on the file system's history, so not for them).
    func listing(_ root: String) throws -> String {
        let (status, output) = try shell(
            "cd '\(root)' && find . \\( -type d -printf '%p d %m %U:%G %T@\\n' \\) "
                + "-o -printf '%p %y %m %U:%G %s %n %T@ %l\\n' | LC_ALL=C sort")
        XCTAssertEqual(status, 0, output)
        return output
    }

    static let defaultInclude = "  Include {\n    Options { Hard Links = yes }\n    File = \"SOURCE\"\n  }"

    /// Job "j" runs at Level Incremental (its first run is upgraded to Full); Job "scratch" is always Full.
    func configuration(accurate: Bool, include: String = VersionsTests.defaultInclude) throws -> Configuration {
        let text = """
            FileSet {
              Name = fs
            \(include.replacingOccurrences(of: "SOURCE", with: source))
            }
            Job { Name = j; Type = Backup; Level = Incremental; Accurate = \(accurate ? "yes" : "no"); FileSet = fs }
            Job { Name = scratch; Type = Backup; Level = Full; FileSet = fs }
            """
        return try Configuration.parse(text: text, fileName: "versions.conf")
    }

    @discardableResult
    func backup(_ jobName: String, _ configuration: Configuration) throws -> JobID {
        try VersionsTests.backup(jobName, configuration, into: try catalogs.open(create: false), archive: archive)
    }

    /// Runs a backup of Job `jobName` that writes into `catalog` (and closes it).
    static func backup(
        _ jobName: String, _ configuration: Configuration, into catalog: sending DatabaseCatalog, archive: String
    ) throws -> JobID {
        let job = try XCTUnwrap(configuration.job(named: jobName))
        let fileSet = try XCTUnwrap(configuration.fileSets["fs"])
        var settings = BackupSettings(archiveDirectory: archive, workers: 2)
        settings.batchEntries = 16
        let summary = try BackupJob(
            job: job, fileSet: fileSet, chains: configuration.chains(for: fileSet),
            catalog: catalog, settings: settings,
            stageFactory: TestStageFactory().factory
        ).runClosingCatalog()
        XCTAssertEqual(summary.status, .ok, summary.failure ?? "")
        return JobID(rawValue: summary.jobID)
    }

    /// Whether this build runs Incremental backups: a second run of a `Level = Incremental` Job is recorded as one.
    static let levelsWork: Bool = {
        guard let probe = try? TemporaryDirectory(prefix: "levels-probe") else { return false }
        defer { probe.remove() }
        let text = """
            FileSet { Name = fs; Include { File = "\(probe.path)/src" } }
            Job { Name = j; Type = Backup; Level = Incremental; FileSet = fs }
            """
        guard mkdir(probe.path + "/src", 0o755) == 0, mkdir(probe.path + "/volumes", 0o755) == 0,
            FileManager.default.createFile(atPath: probe.path + "/src/a", contents: Data([1])),
            let configuration = try? Configuration.parse(text: text, fileName: "probe.conf"),
            let catalog = try? SQLiteCatalog.open(path: probe.path + "/catalog.db", create: true)
        else { return false }
        defer { try? catalog.close() }
        let path = probe.path + "/catalog.db"
        guard
            (try? backup("j", configuration, into: SQLiteCatalog.open(path: path, create: false), archive: probe.path + "/volumes"))
                != nil,
            FileManager.default.createFile(atPath: probe.path + "/src/b", contents: Data([2])),
            let second = try? backup(
                "j", configuration, into: SQLiteCatalog.open(path: path, create: false), archive: probe.path + "/volumes")
        else { return false }
        return (try? catalog.job(second))?.level == .incremental
    }()

    /// The next job of Job "j" after `previous`: a real Incremental, or one built through the catalog API.
    func incremental(after previous: JobID, _ configuration: Configuration, accurate: Bool) throws -> JobID {
        if VersionsTests.levelsWork && ProcessInfo.processInfo.environment["VERSIONS_TESTS_WITHOUT_LEVELS"] == nil {
            let id = try backup("j", configuration)
            XCTAssertEqual(try catalog.job(id)?.level, .incremental)
            return id
        }
        let scratch = try backup("scratch", configuration)
        return try synthesizeIncremental(from: scratch, after: previous, accurate: accurate)
    }

    /// An Incremental of Job "j" after `previous` made of the rows of Full `scratch` that differ from the state as
    /// of `previous` (or only those of `only`), reading the scratch job's volumes; with `accurate`, the paths of
    /// that state the scratch job no longer has are recorded as deleted.
    func synthesizeIncremental(
        from scratch: JobID, after previous: JobID, accurate: Bool, only: Set<[UInt8]>? = nil
    ) throws -> JobID {
        let before = try JobChain.state(asOf: previous, in: catalog)
        let scratchJob = try XCTUnwrap(try catalog.job(scratch))
        let previousJob = try XCTUnwrap(try catalog.job(previous))
        var record = JobRecord(
            name: "j", level: .incremental, status: .running, fileSetName: scratchJob.fileSetName,
            fileSetDigest: scratchJob.fileSetDigest, startTime: scratchJob.startTime, sinceTime: previousJob.startTime)
        let id = try catalog.beginJob(record)
        record.id = id
        var volumeIDs: [Int64: Int64] = [:]
        for volume in try catalog.volumes(job: scratch) {
            volumeIDs[volume.id] = try catalog.addVolume(
                VolumeRecord(
                    jobID: id, name: volume.name, path: volume.path, sequence: volume.sequence, bytes: volume.bytes,
                    status: volume.status))
        }
        var rows: [FileRecord] = []
        var seen = Set<[UInt8]>()
        for var row in try catalog.files(job: scratch) where row.status == .stored {
            seen.insert(row.path)
            if let only, !only.contains(row.path) { continue }
            if only == nil, let old = before[row.path], old.kind == row.kind, old.size == row.size,
                old.mtime == row.mtime, old.ctime == row.ctime, old.mode == row.mode,
                old.linkTarget == row.linkTarget, old.sourceSHA256 == row.sourceSHA256
            {
                continue
            }
            row.jobID = id
            row.fileIndex = Int64(rows.count + 1)
            row.volumeID = row.volumeID.flatMap { volumeIDs[$0] }
            rows.append(row)
        }
        if accurate && only == nil {
            for (path, old) in before where !seen.contains(path) {
                rows.append(FileRecord(jobID: id, fileIndex: Int64(rows.count + 1), path: path, kind: old.kind, status: .deleted))
            }
        }
        try catalog.insert(files: rows, messages: [])
        record.status = .ok
        record.endTime = Clock.realtime()
        record.filesStored = Int64(rows.filter { $0.kind == .file && $0.status == .stored }.count)
        record.entriesStored = Int64(rows.filter { $0.status == .stored }.count)
        try catalog.finishJob(record)
        return id
    }

    func restore(
        _ jobID: JobID, into directory: String? = nil, configure: ((inout RestoreSettings) -> Void)? = nil
    ) throws -> (JobSummary, RestoreJob) {
        var settings = RestoreSettings(whereDirectory: directory ?? target)
        configure?(&settings)
        let job = RestoreJob(catalog: catalog, jobID: jobID, settings: settings, stageFactory: TestStageFactory().factory)
        return (try job.run(), job)
    }

    /// Full, then three Incrementals with files added, modified and deleted between them, then a fourth one after
    /// more changes. Returns the jobs and a `cp -a` snapshot of the tree taken right after the third Incremental.
    ///
    /// - mod.txt: "one" (Full), "version two" (Inc 1), "third" (Inc 3) — three versions.
    /// - del.txt: in the Full, deleted before Inc 2; dir/sub/ (with b.txt) added in Inc 1, deleted before Inc 2.
    /// - link: symlink to keep.txt, pointed at mod.txt before Inc 2.
    /// - hard/first + hard/second: one inode, changed in place before Inc 3.
    /// - after Inc 3: keep.txt changes, late.txt goes, after.txt comes (Inc 4).
    func buildChain(accurate: Bool) throws -> (jobs: [JobID], snapshot: String) {
        let configuration = try configuration(accurate: accurate)
        try put("keep.txt", "unchanged all along")
        try put("mod.txt", "one")
        try put("del.txt", "deleted before the second incremental")
        try put("dir/a.txt", "a")
        XCTAssertEqual(symlink("keep.txt", source + "/link"), 0)
        try put("hard/first", "shared inode")
        XCTAssertEqual(link(source + "/hard/first", source + "/hard/second"), 0)
        let full = try backup("j", configuration)
        XCTAssertEqual(try catalog.job(full)?.level, .full)

        try put("mod.txt", "version two")
        try put("new.txt", "new in the first incremental")
        try put("dir/sub/b.txt", "b")
        let inc1 = try incremental(after: full, configuration, accurate: accurate)

        remove("del.txt")
        remove("dir/sub/b.txt")
        remove("dir/sub")
        remove("link")
        XCTAssertEqual(symlink("mod.txt", source + "/link"), 0)
        let inc2 = try incremental(after: inc1, configuration, accurate: accurate)

        try put("mod.txt", "third")
        try put("late.txt", "added in the third incremental")
        try put("hard/first", "shared inode, changed in place")
        let inc3 = try incremental(after: inc2, configuration, accurate: accurate)
        let snapshot = work.path + "/snapshot-inc3"
        XCTAssertEqual(try shell("cp -a '\(source)' '\(snapshot)'").0, 0)

        try put("keep.txt", "changed after the third incremental")
        remove("late.txt")
        try put("after.txt", "after")
        let inc4 = try incremental(after: inc3, configuration, accurate: accurate)
        let jobs = [full, inc1, inc2, inc3, inc4]
        XCTAssertEqual(try JobChain.jobs(asOf: inc3, in: catalog).map(\.id), Array(jobs[0...3]))
        return (jobs, snapshot)
    }

    // MARK: - Restore as of a job

    func testRestoreOfTheThirdIncrementalEqualsTheTreeAtThatMomentWithAccurate() throws {
        let (jobs, snapshot) = try buildChain(accurate: true)
        let (summary, job) = try restore(jobs[3])
        XCTAssertEqual(summary.status, .ok, "\(job.problems)")
        XCTAssertEqual(summary.jobID, jobs[3].rawValue)
        XCTAssertEqual(job.chain.map(\.id), Array(jobs[0...3]))
        let (status, output) = try shell("diff -r --no-dereference '\(snapshot)' '\(target + source)'")
        XCTAssertEqual(status, 0, output)
        XCTAssertEqual(try listing(target + source), try listing(snapshot))
        // The deletions Accurate recorded are not restored.
        XCTAssertFalse(FileManager.default.fileExists(atPath: restored("del.txt")))
        XCTAssertFalse(FileManager.default.fileExists(atPath: restored("dir/sub")))
        // The Incremental after it is not part of the tree as of it; the newest job's state has its changes.
        XCTAssertEqual(try String(contentsOfFile: restored("keep.txt"), encoding: .utf8), "unchanged all along")
        let newest = work.path + "/newest"
        XCTAssertEqual(try restore(jobs[4], into: newest).0.status, .ok)
        XCTAssertEqual(try shell("diff -r --no-dereference '\(source)' '\(newest + source)'").0, 0)
    }

    func testWithoutAccurateADeletedFileComesBackAsBareosDoes() throws {
        let (jobs, snapshot) = try buildChain(accurate: false)
        let (summary, job) = try restore(jobs[3])
        XCTAssertEqual(summary.status, .ok, "\(job.problems)")
        // No deletion was recorded, so the state still has what was deleted, with its last stored content.
        let (status, output) = try shell("diff -r --no-dereference '\(snapshot)' '\(target + source)'")
        XCTAssertEqual(status, 1, output)
        let lines = Set(output.split(separator: "\n").map(String.init))
        XCTAssertEqual(lines, ["Only in \(target + source): del.txt", "Only in \(target + source)/dir: sub"])
        XCTAssertEqual(
            try String(contentsOfFile: restored("del.txt"), encoding: .utf8), "deleted before the second incremental")
        XCTAssertEqual(try String(contentsOfFile: restored("dir/sub/b.txt"), encoding: .utf8), "b")
        XCTAssertEqual(try String(contentsOfFile: restored("mod.txt"), encoding: .utf8), "third")
    }

    func testSelectWorksOnTheChainState() throws {
        let (jobs, _) = try buildChain(accurate: true)
        let (summary, _) = try restore(jobs[1]) { $0.select = ["*/mod.txt", "*/dir/*"] }
        XCTAssertEqual(summary.status, .ok)
        XCTAssertEqual(try String(contentsOfFile: restored("mod.txt"), encoding: .utf8), "version two")
        XCTAssertEqual(try String(contentsOfFile: restored("dir/sub/b.txt"), encoding: .utf8), "b")
        XCTAssertFalse(FileManager.default.fileExists(atPath: restored("keep.txt")))
    }

    /// A hard link recorded by the Full whose first name a later job stored again: linked after every file is in
    /// place (the (job, index) order alone would link before the first name exists); selected alone, it is restored
    /// as a copy of its inode's newest data.
    func testHardLinkOfAnEarlierJobIsLinkedToItsFirstNameRestoredFromALaterJob() throws {
        let configuration = try configuration(accurate: false)
        try put("hard/first", "old content")
        XCTAssertEqual(link(source + "/hard/first", source + "/hard/second"), 0)
        try put("other.txt", "other")
        let full = try backup("j", configuration)
        let records = try catalog.files(job: full)
        let linkRecord = try XCTUnwrap(records.first { $0.kind == .hardLink })
        let firstName = try XCTUnwrap(linkRecord.linkTarget)
        // New content under the same inode; the Incremental stores only the first name.
        let fd = open(String(decoding: firstName, as: UTF8.self), O_WRONLY | O_TRUNC)
        XCTAssertEqual(Glibc.write(fd, "new content", 11), 11)
        close(fd)
        let scratch = try backup("scratch", configuration)
        let inc = try synthesizeIncremental(from: scratch, after: full, accurate: false, only: [firstName])
        let state = try JobChain.state(asOf: inc, in: catalog)
        XCTAssertEqual(state[firstName]?.jobID, inc)
        XCTAssertEqual(state[linkRecord.path]?.jobID, full)

        let (summary, job) = try restore(inc)
        XCTAssertEqual(summary.status, .ok, "\(job.problems)")
        var first = stat()
        var second = stat()
        XCTAssertEqual(lstat(restored("hard/first"), &first), 0)
        XCTAssertEqual(lstat(restored("hard/second"), &second), 0)
        XCTAssertEqual(first.st_ino, second.st_ino)
        XCTAssertEqual(try String(contentsOfFile: restored("hard/second"), encoding: .utf8), "new content")

        let alone = work.path + "/alone"
        let linkPath = String(decoding: linkRecord.path, as: UTF8.self)
        let (aloneSummary, aloneJob) = try restore(inc, into: alone) { $0.select = [linkPath] }
        XCTAssertEqual(aloneSummary.status, .ok, "\(aloneJob.problems)")
        XCTAssertEqual(try String(contentsOfFile: alone + linkPath, encoding: .utf8), "new content")
        XCTAssertTrue(aloneJob.problems.contains { $0.severity == "info" && $0.text.contains("restored as a copy") })
    }

    // MARK: - Versions

    func testListVersionsAndRestoreTheMiddleOne() throws {
        let (jobs, _) = try buildChain(accurate: true)
        // Versions of Job "j" (a build without levels also has the Fulls of Job "scratch" in the catalog).
        let versions = try FileVersions.list(path("mod.txt"), jobName: "j", in: catalog)
        XCTAssertEqual(versions.map(\.number), [1, 2, 3])
        XCTAssertEqual(versions.map(\.job.id), [jobs[0], jobs[1], jobs[3]])
        XCTAssertEqual(versions.map(\.record.sourceSHA256), [sha256("one"), sha256("version two"), sha256("third")])
        XCTAssertEqual(versions.map(\.record.size), [3, 11, 5])
        XCTAssertEqual(versions.map(\.job.level), [.full, .incremental, .incremental])
        XCTAssertEqual(try FileVersions.list(path("mod.txt"), jobName: "other", in: catalog).count, 0)

        let (summary, job) = try restore(.unassigned) {
            $0.select = [self.source + "/mod.txt"]
            $0.versionJobName = "j"
            $0.version = 2
        }
        XCTAssertEqual(summary.status, .ok, "\(job.problems)")
        XCTAssertEqual(summary.jobID, jobs[1].rawValue)
        XCTAssertEqual(summary.filesStored, 1)
        XCTAssertEqual(try String(contentsOfFile: restored("mod.txt"), encoding: .utf8), "version two")
        XCTAssertFalse(FileManager.default.fileExists(atPath: restored("keep.txt")))

        // --stdout of version 1.
        let out = work.path + "/stdout"
        let fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        _ = try restore(.unassigned) {
            $0.select = [self.source + "/mod.txt"]
            $0.versionJobName = "j"
            $0.version = 1
            $0.outputFD = fd
        }
        close(fd)
        XCTAssertEqual(try String(contentsOfFile: out, encoding: .utf8), "one")

        // A deletion row is a version too, but has nothing to restore; numbers past the end are refused.
        XCTAssertEqual(try FileVersions.list(path("del.txt"), jobName: "j", in: catalog).map(\.record.status), [.stored, .deleted])
        XCTAssertThrowsError(
            try restore(.unassigned) {
                $0.select = [self.source + "/del.txt"]
                $0.versionJobName = "j"
            $0.version = 2
            }
        ) { XCTAssertTrue("\($0)".contains("is a deleted row"), "\($0)") }
        XCTAssertThrowsError(
            try restore(.unassigned) {
                $0.select = [self.source + "/mod.txt"]
                $0.versionJobName = "j"
            $0.version = 4
            }
        ) { XCTAssertTrue("\($0)".contains("has 3 versions"), "\($0)") }
        XCTAssertThrowsError(
            try restore(.unassigned) {
                $0.select = [self.source + "/*.txt"]
                $0.versionJobName = "j"
            $0.version = 1
            }
        ) { XCTAssertTrue("\($0)".contains("not a wildcard pattern"), "\($0)") }
    }

    func testRelativePathsAreMadeAbsolute() {
        XCTAssertEqual(FileVersions.absolutePath("src/./mod.txt", from: "/work/x"), Array("/work/x/src/mod.txt".utf8))
        XCTAssertEqual(FileVersions.absolutePath("../y//z/", from: "/work/x"), Array("/work/y/z".utf8))
        XCTAssertEqual(FileVersions.absolutePath("/a/b/", from: "/ignored"), Array("/a/b".utf8))
        XCTAssertEqual(FileVersions.absolutePath("..", from: "/"), Array("/".utf8))
    }

    // MARK: - Live-tree check

    func testLiveVerifyFindsAFlippedByteAMissingAndANewFile() throws {
        let configuration = try configuration(accurate: true)
        try put("data.bin", String(repeating: "x", count: 10_000))
        try put("dir/gone.txt", "will go")
        try put("dir/stays.txt", "stays")
        XCTAssertEqual(symlink("data.bin", source + "/link"), 0)
        let full = try backup("j", configuration)
        try put("inc.txt", "in the incremental")
        let inc = try incremental(after: full, configuration, accurate: true)

        // Untouched: nothing differs.
        let (clean, none) = try LiveVerifyJob(catalog: catalog, jobID: inc).run()
        XCTAssertEqual(none.map { "\($0.kind) \(String(decoding: $0.path, as: UTF8.self))" }, [])
        XCTAssertEqual(clean.status, .ok)
        XCTAssertEqual(clean.filesExamined, 4)
        XCTAssertEqual(clean.filesStored, 4)

        // Bit rot: one byte flipped, size and mtime as they were.
        var before = stat()
        XCTAssertEqual(lstat(source + "/data.bin", &before), 0)
        let fd = open(source + "/data.bin", O_WRONLY)
        XCTAssertEqual(pwrite(fd, "y", 1, 5000), 1)
        close(fd)
        var times = [before.st_atim, before.st_mtim]
        XCTAssertEqual(utimensat(AT_FDCWD, source + "/data.bin", &times, AT_SYMLINK_NOFOLLOW), 0)
        var after = stat()
        XCTAssertEqual(lstat(source + "/data.bin", &after), 0)
        XCTAssertEqual(after.st_size, before.st_size)
        XCTAssertEqual(after.st_mtim.tv_sec, before.st_mtim.tv_sec)
        XCTAssertEqual(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec)
        remove("dir/gone.txt")
        try put("dir/extra.txt", "new")
        try put("newdir/inner.txt", "new too")
        remove("link")
        XCTAssertEqual(symlink("inc.txt", source + "/link"), 0)

        let (summary, differences) = try LiveVerifyJob(catalog: catalog, jobID: inc).run()
        XCTAssertEqual(summary.status, .failed)
        let found = differences.map { "\($0.kind) \(String(decoding: $0.path, as: UTF8.self)) \($0.fields)" }
        XCTAssertEqual(
            found,
            [
                "changed \(source)/data.bin [\"digest\"]",
                "changed \(source)/link [\"target\"]",
                "missing \(source)/dir/gone.txt []",
                "new \(source)/dir/extra.txt []",
                "new \(source)/newdir []",
                "new \(source)/newdir/inner.txt []",
            ])
        let rot = try XCTUnwrap(differences.first)
        XCTAssertTrue(rot.message.hasPrefix("SHA-256 "), rot.message)
        XCTAssertEqual(summary.filesExamined, 3, "the missing file is not read")
        XCTAssertEqual(summary.filesStored, 2)
    }

    func testLiveVerifyReportsSizeAndMtimeAndUsesTheFileSetForNewEntries() throws {
        let include = """
              Include {
                Options { WildFile = "*.tmp"; Exclude = yes }
                Options { Hard Links = yes }
                File = "SOURCE"
              }
            """
        let configuration = try configuration(accurate: false, include: include)
        try put("a.txt", "aaaa")
        try put("skip.tmp", "excluded")
        let full = try backup("j", configuration)
        XCTAssertNil(try catalog.files(job: full).first { $0.path == path("skip.tmp") }, "the FileSet excludes *.tmp")
        XCTAssertTrue(try LiveVerifyJob(catalog: catalog, jobID: full, fileSet: configuration.fileSets["fs"]).run().differences.isEmpty)

        try put("a.txt", "aaaaa")
        try put("more.tmp", "excluded too")
        try put("b.txt", "new")
        let withFileSet = try LiveVerifyJob(catalog: catalog, jobID: full, fileSet: configuration.fileSets["fs"]).run()
        XCTAssertEqual(
            withFileSet.differences.map { "\($0.kind) \(String(decoding: $0.path, as: UTF8.self)) \($0.fields)" },
            ["changed \(source)/a.txt [\"digest\", \"size\", \"mtime\"]", "new \(source)/b.txt []"])
        // Without the FileSet the state's directories are walked: excluded files show up as new.
        let walked = try LiveVerifyJob(catalog: catalog, jobID: full).run()
        XCTAssertEqual(
            walked.differences.filter { $0.kind == .new }.map { String(decoding: $0.path, as: UTF8.self) },
            ["\(source)/b.txt", "\(source)/more.tmp", "\(source)/skip.tmp"])
    }
}

/// ``VersionsTests`` with the catalog on PostgreSQL: chains, restores, versions and live verify read it back.
/// (Declared again here: test discovery on Linux finds only the methods a class declares itself.)
final class PostgreSQLVersionsTests: VersionsTests {
    override var driver: TestCatalogs.Driver { .postgreSQL }

    override func testRestoreOfTheThirdIncrementalEqualsTheTreeAtThatMomentWithAccurate() throws { try super.testRestoreOfTheThirdIncrementalEqualsTheTreeAtThatMomentWithAccurate() }
    override func testWithoutAccurateADeletedFileComesBackAsBareosDoes() throws { try super.testWithoutAccurateADeletedFileComesBackAsBareosDoes() }
    override func testSelectWorksOnTheChainState() throws { try super.testSelectWorksOnTheChainState() }
    override func testHardLinkOfAnEarlierJobIsLinkedToItsFirstNameRestoredFromALaterJob() throws { try super.testHardLinkOfAnEarlierJobIsLinkedToItsFirstNameRestoredFromALaterJob() }
    override func testListVersionsAndRestoreTheMiddleOne() throws { try super.testListVersionsAndRestoreTheMiddleOne() }
    override func testLiveVerifyFindsAFlippedByteAMissingAndANewFile() throws { try super.testLiveVerifyFindsAFlippedByteAMissingAndANewFile() }
    override func testLiveVerifyReportsSizeAndMtimeAndUsesTheFileSetForNewEntries() throws { try super.testLiveVerifyReportsSizeAndMtimeAndUsesTheFileSetForNewEntries() }
}
