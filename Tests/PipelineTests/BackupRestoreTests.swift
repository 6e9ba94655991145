import Foundation
import PipelineTestSupport
import XCTest

@testable import Pipeline

/// Full backups and verified restores of real trees through the real engine (threads, pax volumes, SQLite).
final class BackupRestoreTests: XCTestCase {
    var work: TemporaryDirectory!
    var source: String { work.path + "/src" }
    var catalogPath: String { work.path + "/catalog.db" }
    var archive: String { work.path + "/volumes" }
    var target: String { work.path + "/restore" }

    override func setUpWithError() throws {
        work = try TemporaryDirectory(prefix: "backup")
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        work.remove()
    }

    // MARK: - Helpers

    func write(_ relative: String, _ bytes: [UInt8], mode: Int = 0o644) throws {
        XCTAssertTrue(try Shell.writeFile(source, relative, bytes, mode: mode), relative)
    }

    func shell(_ command: String) throws -> (Int32, String) {
        let result = try Shell.run(command)
        return (result.status, result.output)
    }

    func fileSet(_ body: String) throws -> (Configuration, FileSet) {
        let text = "FileSet {\n  Name = fs\n\(body)\n}\nJob { Name = j; Type = Backup; Level = Full; FileSet = fs }\n"
        let configuration = try Configuration.parse(text: text, fileName: "t.conf")
        return (configuration, try XCTUnwrap(configuration.fileSets["fs"]))
    }

    @discardableResult
    func backup(
        _ body: String? = nil, factory: TestStageFactory = TestStageFactory(),
        settings: ((inout BackupSettings) -> Void)? = nil
    ) throws -> (JobSummary, SQLiteCatalog) {
        let (configuration, fileSet) = try fileSet(body ?? "  Include {\n    Options { Hard Links = yes }\n    File = \"\(source)\"\n  }")
        var backupSettings = BackupSettings(archiveDirectory: archive, workers: 2)
        backupSettings.batchEntries = 16
        settings?(&backupSettings)
        try FileManager.default.createDirectory(atPath: archive, withIntermediateDirectories: true)
        let job = BackupJob(
            job: configuration.job(named: "j")!, fileSet: fileSet, chains: configuration.chains(for: fileSet),
            catalog: try SQLiteCatalog.open(path: catalogPath, create: true), settings: backupSettings,
            stageFactory: factory.factory)
        let summary = try job.run()
        return (summary, try XCTUnwrap(job.releaseCatalog(as: SQLiteCatalog.self)))
    }

    func restore(
        _ catalog: SQLiteCatalog, jobID: Int64, factory: TestStageFactory = TestStageFactory(),
        configure: ((inout RestoreSettings) -> Void)? = nil
    ) throws -> JobSummary {
        var settings = RestoreSettings(whereDirectory: target)
        configure?(&settings)
        return try RestoreJob(catalog: catalog, jobID: JobID(rawValue: jobID), settings: settings, stageFactory: factory.factory).run()
    }

    func restored(_ relative: String) -> String { target + source + "/" + relative }

    /// glibc's makedev (a macro Swift cannot import).
    static func makedev(_ major: UInt64, _ minor: UInt64) -> UInt64 {
        ((major & 0xfff) << 8) | (minor & 0xff) | ((minor & ~0xff) << 12) | ((major & ~0xfff) << 32)
    }

    func stat(_ path: String) -> Glibc.stat? {
        var st = Glibc.stat()
        return lstat(path, &st) == 0 ? st : nil
    }

    // MARK: - Round trip

    func testRoundTripOfEveryKindOfEntry() throws {
        try write("plain.txt", Array("hello\n".utf8))
        try write("empty", [])
        try write("exec.sh", Array("#!/bin/sh\necho hi\n".utf8), mode: 0o755)
        try write("dir with spaces/ünïcödé ✓.txt", Array("unicode".utf8))
        try write("new\nline", Array("newline name".utf8))
        try write("big.bin", (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        var deep = "deep"
        for level in 0..<40 { deep += "/l\(level)" }
        try write(deep + "/leaf.txt", Array("deep".utf8))
        let raw = Array(source.utf8) + Array("/raw-".utf8) + [0xFF, 0xFE] + Array(".bin".utf8)
        let fd = raw.withUnsafeBufferPointer { buffer in open(buffer.map { CChar(bitPattern: $0) } + [0], O_CREAT | O_WRONLY, 0o600) }
        XCTAssertGreaterThanOrEqual(fd, 0)
        XCTAssertEqual(Glibc.write(fd, "non-utf8", 8), 8)
        close(fd)
        XCTAssertEqual(symlink("plain.txt", source + "/link"), 0)
        XCTAssertEqual(symlink("/nonexistent/target", source + "/dangling"), 0)
        XCTAssertEqual(link(source + "/plain.txt", source + "/hardlink.txt"), 0)
        XCTAssertEqual(mkfifo(source + "/fifo", 0o640), 0)
        XCTAssertEqual(mkdir(source + "/emptydir", 0o750), 0)
        if geteuid() == 0 {
            XCTAssertEqual(mknod(source + "/null-device", S_IFCHR | 0o666, dev_t(BackupRestoreTests.makedev(1, 3))), 0)
            XCTAssertEqual(chown(source + "/plain.txt", 1234, 5678), 0)
        }
        XCTAssertEqual(try shell("setfattr -n user.comment -v 'kept' '\(source)/plain.txt'").0, 0)
        XCTAssertEqual(try shell("setfacl -m u:nobody:r '\(source)/exec.sh'").0, 0)
        var times = [timespec(tv_sec: 1_600_000_000, tv_nsec: 123_456_789), timespec(tv_sec: 1_600_000_001, tv_nsec: 987_654_321)]
        XCTAssertEqual(utimensat(AT_FDCWD, source + "/big.bin", &times, 0), 0)

        let (summary, catalog) = try backup()
        XCTAssertEqual(summary.status, .ok, summary.failure ?? "")
        XCTAssertEqual(summary.filesFailed, 0)
        let records = try catalog.files(job: JobID(rawValue: summary.jobID))
        XCTAssertEqual(Set(records.map(\.status)), [.stored])
        // plain.txt and hardlink.txt share an inode: whichever the walk met first holds the data (readdir order).
        let names = [Array((source + "/plain.txt").utf8), Array((source + "/hardlink.txt").utf8)]
        let pair = records.filter { names.contains($0.path) }
        XCTAssertEqual(pair.map(\.kind).sorted { $0.rawValue < $1.rawValue }, [.file, .hardLink])
        let plain = try XCTUnwrap(pair.first { $0.kind == .file })
        XCTAssertEqual(plain.sourceSHA256, try Digester.digest(.sha256, of: Array("hello\n".utf8)))
        XCTAssertEqual(plain.storedSHA256, plain.sourceSHA256)
        XCTAssertEqual(pair.first { $0.kind == .hardLink }?.linkTarget, plain.path)

        // Every volume is a tar GNU tar lists.
        for volume in summary.volumes {
            let (status, output) = try shell("tar -tvf '\(volume)'")
            XCTAssertEqual(status, 0, output)
            XCTAssertTrue(output.contains("plain.txt"), output)
        }

        let restoredSummary = try restore(catalog, jobID: summary.jobID)
        XCTAssertEqual(restoredSummary.status, .ok, "\(restoredSummary)")
        let (diffStatus, diffOutput) = try shell("diff -r --no-dereference -x fifo -x null-device '\(source)' '\(target + source)'")
        XCTAssertEqual(diffStatus, 0, diffOutput)
        XCTAssertEqual(try String(contentsOfFile: restored("new\nline"), encoding: .utf8), "newline name")
        XCTAssertNotNil(stat(String(decoding: Array(target.utf8) + raw, as: UTF8.self)) ?? {
            // Non-UTF-8 name: check through the raw bytes.
            let path = Array(target.utf8) + raw
            var st = Glibc.stat()
            return path.withUnsafeBufferPointer { lstat($0.map { CChar(bitPattern: $0) } + [0], &st) } == 0 ? st : nil
        }())
        // Metadata.
        let original = try XCTUnwrap(stat(source + "/big.bin"))
        let copy = try XCTUnwrap(stat(restored("big.bin")))
        XCTAssertEqual(copy.st_mtim.tv_sec, original.st_mtim.tv_sec)
        XCTAssertEqual(copy.st_mtim.tv_nsec, original.st_mtim.tv_nsec)
        XCTAssertEqual(stat(restored("exec.sh"))?.st_mode, stat(source + "/exec.sh")?.st_mode)
        XCTAssertEqual(stat(restored("emptydir"))?.st_mode, stat(source + "/emptydir")?.st_mode)
        XCTAssertEqual(stat(restored("fifo")).map { $0.st_mode & S_IFMT }, S_IFIFO)
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: restored("link")), "plain.txt")
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: restored("dangling")), "/nonexistent/target")
        XCTAssertEqual(stat(restored("hardlink.txt"))?.st_ino, stat(restored("plain.txt"))?.st_ino)
        if geteuid() == 0 {
            XCTAssertEqual(stat(restored("plain.txt"))?.st_uid, 1234)
            XCTAssertEqual(stat(restored("plain.txt"))?.st_gid, 5678)
            XCTAssertEqual(stat(restored("null-device")).map { UInt64($0.st_rdev) }, BackupRestoreTests.makedev(1, 3))
        }
        XCTAssertEqual(try shell("getfattr --only-values -n user.comment '\(restored("plain.txt"))' 2>/dev/null").1, "kept")
        XCTAssertTrue(try shell("getfacl -c '\(restored("exec.sh"))' 2>/dev/null").1.contains("user:nobody:r--"))
    }

    func testSparseFileKeepsItsHoles() throws {
        let path = source + "/sparse.img"
        let fd = open(path, O_CREAT | O_WRONLY, 0o644)
        XCTAssertGreaterThanOrEqual(fd, 0)
        XCTAssertEqual(ftruncate(fd, 1 << 30), 0)
        XCTAssertEqual(pwrite(fd, "start", 5, 4096), 5)
        XCTAssertEqual(pwrite(fd, "middle", 6, 512 << 20), 6)
        close(fd)
        let (summary, catalog) = try backup()
        XCTAssertEqual(summary.status, .ok, summary.failure ?? "")
        XCTAssertLessThan(summary.bytesStored, 1 << 20)
        let record = try XCTUnwrap(try catalog.files(job: JobID(rawValue: summary.jobID)).first { $0.kind == .file })
        XCTAssertTrue(record.sparse)
        XCTAssertEqual(try restore(catalog, jobID: summary.jobID).status, .ok)
        let copy = try XCTUnwrap(stat(restored("sparse.img")))
        XCTAssertEqual(copy.st_size, 1 << 30)
        XCTAssertLessThan(copy.st_blocks * 512, 1 << 20, "holes were filled")
        XCTAssertEqual(try shell("cmp '\(path)' '\(restored("sparse.img"))'").0, 0)
        // GNU tar restores the holes from our sparse member too.
        let extract = work.path + "/tar"
        try FileManager.default.createDirectory(atPath: extract, withIntermediateDirectories: true)
        XCTAssertEqual(try shell("tar -xf '\(summary.volumes[0])' -C '\(extract)'").0, 0)
        XCTAssertEqual(try shell("cmp '\(path)' '\(extract + source)/sparse.img'").0, 0)
        XCTAssertLessThan(try XCTUnwrap(stat(extract + source + "/sparse.img")).st_blocks * 512, 1 << 20)
    }

    // MARK: - Chains, compression, tar compatibility

    func testCompressionMembersAreStandardFramesAndTarExtracts() throws {
        let text = Array(String(repeating: "compress me please ", count: 5000).utf8)
        try write("a.txt", text)
        try write("b.txt", text)
        let (summary, catalog) = try backup(
            """
              Include {
                Options { WildFile = "*/a.txt"; Compression = GZIP9 }
                Options { Compression = LZ4 }
                File = "\(source)"
              }
            """)
        XCTAssertEqual(summary.status, .ok, summary.failure ?? "")
        XCTAssertLessThan(summary.bytesStored, UInt64(text.count))
        let records = try catalog.files(job: JobID(rawValue: summary.jobID))
        XCTAssertEqual(records.first { $0.path.suffix(5) == Array("a.txt".utf8) }?.compression, "GZIP9")
        XCTAssertEqual(records.first { $0.path.suffix(5) == Array("b.txt".utf8) }?.compression, "LZ4")
        let extract = work.path + "/tar"
        try FileManager.default.createDirectory(atPath: extract, withIntermediateDirectories: true)
        XCTAssertEqual(try shell("tar -xf '\(summary.volumes[0])' -C '\(extract)'").0, 0)
        XCTAssertEqual(try shell("cd '\(extract + source)' && gunzip a.txt.gz && lz4 -dq b.txt.lz4 b.txt && cmp a.txt '\(source)/a.txt' && cmp b.txt '\(source)/b.txt'").0, 0)
        XCTAssertEqual(try restore(catalog, jobID: summary.jobID).status, .ok)
        XCTAssertEqual(try shell("cmp '\(source)/a.txt' '\(restored("a.txt"))' && cmp '\(source)/b.txt' '\(restored("b.txt"))'").0, 0)
    }

    /// A stage that needs walk order gets its entries in walk order across batches and workers; one that does not
    /// may see a later batch first (the first entry of each waits 100 ms here).
    func testStagesThatNeedWalkOrderSeeEntriesInWalkOrderAcrossWorkers() throws {
        for index in 0..<100 { try write(String(format: "f%03d", index), [UInt8(index)]) }
        for argument in ["ordered", "slow"] {
            let factory = TestStageFactory()
            let (summary, catalog) = try backup(
                "  Include {\n    Options { Plugin = \"recording:\(argument)\" }\n    File = \"\(source)\"\n  }",
                factory: factory, settings: { $0.workers = 2 })
            XCTAssertEqual(summary.status, .ok, summary.failure ?? "")
            let walked = try catalog.files(job: JobID(rawValue: summary.jobID)).sorted { $0.fileIndex < $1.fileIndex }.map(\.path)
            let offered = try XCTUnwrap(factory.made("recording:\(argument)") as? RecordingStage).offered
            XCTAssertEqual(offered.count, 101)
            if argument == "ordered" {
                XCTAssertEqual(offered, walked)
            } else {
                XCTAssertNotEqual(offered, walked, "without walk order a later batch goes first")
            }
            try catalog.close()
            try FileManager.default.removeItem(atPath: catalogPath)
            try FileManager.default.removeItem(atPath: archive)
        }
    }

    /// A stage that needs walk order and sits in two chains still sees a batch's entries in walk order.
    func testWalkOrderHoldsForAStageInTwoChains() throws {
        for index in 0..<40 { try write(String(format: "f%03d.%@", index, index % 3 == 0 ? "a" : "b"), [UInt8(index)]) }
        let factory = TestStageFactory()
        let (summary, catalog) = try backup(
            """
              Include {
                Options { WildFile = "*.a"; Plugin = "recording:ordered"; Plugin = "xor" }
                Options { Plugin = "recording:ordered" }
                File = "\(source)"
              }
            """, factory: factory, settings: { $0.workers = 1 })
        XCTAssertEqual(summary.status, .ok, summary.failure ?? "")
        let walked = try catalog.files(job: JobID(rawValue: summary.jobID)).sorted { $0.fileIndex < $1.fileIndex }.map(\.path)
        let offered = try XCTUnwrap(factory.made("recording:ordered") as? RecordingStage).offered
        XCTAssertEqual(offered.count, 41)
        XCTAssertEqual(offered, walked)
    }

    func testChainSemanticsSkipFailTakeOverAndCompressionBeforeEncryption() throws {
        try write("keep.txt", Array(String(repeating: "abc", count: 1000).utf8))
        try write("drop.tmp", Array("temporary".utf8))
        try write("fail-me.txt", Array("nope".utf8))
        let factory = TestStageFactory()
        let (summary, catalog) = try backup(
            """
              Include {
                Options { Compression = GZIP; Plugin = "recording"; Plugin = "skip:.tmp"; Plugin = "failing:fail-me"; Plugin = "xor" }
                File = "\(source)"
              }
            """, factory: factory)
        XCTAssertEqual(summary.status, .warnings)
        XCTAssertEqual(summary.filesStored, 1)
        XCTAssertEqual(summary.filesSkipped, 1)
        XCTAssertEqual(summary.filesFailed, 1)
        let jobID = JobID(rawValue: summary.jobID)
        let records = try catalog.files(job: jobID)
        let keep = try XCTUnwrap(records.first { $0.path.suffix(8) == Array("keep.txt".utf8) })
        XCTAssertEqual(keep.chain, ["recording", "skip:.tmp", "failing:fail-me", "xor"])
        XCTAssertEqual(keep.compression, "GZIP6")
        XCTAssertNotEqual(keep.storedSHA256, keep.sourceSHA256)
        XCTAssertEqual(keep.stageMetadata["xor.bytes"].flatMap(Int.init).map { $0 < 3000 }, true, "compressed before xor")
        XCTAssertEqual(records.first { $0.path.suffix(8) == Array("drop.tmp".utf8) }?.status, .skipped)
        let failed = try XCTUnwrap(records.first { $0.path.suffix(11) == Array("fail-me.txt".utf8) })
        XCTAssertEqual(failed.status, .failed)
        XCTAssertEqual(failed.error, "stage failing:fail-me: refused by test stage")
        let messages = try catalog.messages(job: jobID)
        XCTAssertTrue(messages.contains { $0.severity == "error" && $0.stage == "failing:fail-me" })
        XCTAssertTrue(messages.contains { $0.severity == "info" && $0.text.hasPrefix("skipped by stage skip:.tmp") })
        // Every entry type reaches the decision hooks (D1), and the stage saw job events in order.
        let recording = try XCTUnwrap(factory.made("recording") as? RecordingStage)
        XCTAssertTrue(recording.offered.contains(Array(source.utf8)))
        XCTAssertEqual(recording.events, [.jobStarted, .fileSetEnded, .jobEnded(succeeded: true)])
        XCTAssertEqual(try restore(catalog, jobID: summary.jobID, factory: factory).status, .ok)
        XCTAssertEqual(try shell("cmp '\(source)/keep.txt' '\(restored("keep.txt"))'").0, 0)
        XCTAssertNil(stat(restored("drop.tmp")))
    }

    func testTakeOverStageIsTheByteSourceAndGetsVerifiedBytesOnRestore() throws {
        try write("doc.txt", Array("lower case text".utf8))
        let (summary, catalog) = try backup(
            "  Include {\n    Options { Plugin = \"takeover\" }\n    File = \"\(source)\"\n  }")
        XCTAssertEqual(summary.status, .ok, summary.failure ?? "")
        let record = try XCTUnwrap(try catalog.files(job: JobID(rawValue: summary.jobID)).first { $0.kind == .file })
        XCTAssertEqual(record.sourceSHA256, try Digester.digest(.sha256, of: Array("LOWER CASE TEXT".utf8)))
        XCTAssertEqual(try restore(catalog, jobID: summary.jobID).status, .ok)
        XCTAssertEqual(try String(contentsOfFile: restored("doc.txt"), encoding: .utf8), "lower case text")
    }

    func testUnknownStageFailsBeforeAnyFileIsRead() throws {
        try write("a.txt", [1])
        XCTAssertThrowsError(
            try backup("  Include {\n    Options { Plugin = \"nosuch\" }\n    File = \"\(source)\"\n  }")
        ) { error in
            XCTAssertTrue("\(error)".contains("unknown test stage"), "\(error)")
        }
    }

    func testCommandPluginRefusesTheBackup() throws {
        XCTAssertThrowsError(try backup("  Include {\n    Plugin = \"bpipe:file=/x\"\n  }")) { error in
            XCTAssertEqual(
                "\(error)",
                "t.conf:4:14: FileSet \"fs\" has Include-level Plugin \"bpipe\", a Bareos command plugin this host "
                    + "does not run (only python3: command plugins run here)")
        }
    }

    // MARK: - Volumes, verify, locks, cancellation

    func testVolumesRotateAreNamedAndHaveTheArchiveMode() throws {
        for index in 0..<20 { try write("f\(index).bin", [UInt8](repeating: UInt8(index), count: 100_000)) }
        let (summary, catalog) = try backup(settings: {
            $0.maximumVolumeBytes = 500_000
            $0.volumeMode = 0o640
        })
        XCTAssertEqual(summary.status, .ok)
        XCTAssertGreaterThanOrEqual(summary.volumes.count, 4)
        XCTAssertEqual(summary.volumes.first.map { ($0 as NSString).lastPathComponent }, "j-\(summary.jobID)-0001.tar")
        for volume in summary.volumes {
            XCTAssertEqual(stat(volume).map { $0.st_mode & 0o7777 }, 0o640)
            XCTAssertEqual(try shell("tar -tf '\(volume)' > /dev/null").0, 0)
        }
        XCTAssertEqual(try catalog.volumes(job: JobID(rawValue: summary.jobID)).count, summary.volumes.count)
        XCTAssertEqual(try restore(catalog, jobID: summary.jobID).status, .ok)
        XCTAssertEqual(try shell("diff -r '\(source)' '\(target + source)'").0, 0)
    }

    func testVerifyFindsAFlippedByte() throws {
        try write("data.bin", [UInt8](repeating: 7, count: 10_000))
        let (summary, catalog) = try backup()
        let jobID = JobID(rawValue: summary.jobID)
        XCTAssertTrue(try VerifyJob(catalog: catalog, jobID: jobID).run().mismatches.isEmpty)
        let record = try XCTUnwrap(try catalog.files(job: jobID).first { $0.kind == .file })
        let fd = open(summary.volumes[0], O_WRONLY)
        var byte: UInt8 = 8
        XCTAssertEqual(pwrite(fd, &byte, 1, off_t(record.dataOffset! + 100)), 1)
        close(fd)
        let mismatches = try VerifyJob(catalog: catalog, jobID: jobID).run().mismatches
        XCTAssertEqual(mismatches.count, 1)
        XCTAssertTrue(mismatches[0].message.hasPrefix("SHA-256 of the stored bytes is"), mismatches[0].message)
        // Restore refuses the corrupted file: nothing under its final name.
        let restoreSummary = try restore(catalog, jobID: summary.jobID)
        XCTAssertEqual(restoreSummary.filesFailed, 1)
        XCTAssertNil(stat(restored("data.bin")))
    }

    func testSecondJobOnTheSameCatalogIsLockedOut() throws {
        let lock = try JobLock.acquire(path: catalogPath, holder: "other-job")
        defer { lock.release() }
        XCTAssertThrowsError(try JobLock.acquire(path: catalogPath, holder: "j")) { error in
            XCTAssertTrue("\(error)".contains("is in use by job \"other-job\""), "\(error)")
        }
    }

    /// The job owns its catalog while it runs (the catalog thread writes into it) and hands it back once, as
    /// the type it was given as; a job whose catalog was handed back cannot run.
    func testJobHandsItsCatalogBackOnce() throws {
        try write("f", [1, 2, 3])
        let (configuration, fileSet) = try fileSet("  Include {\n    File = \"\(source)\"\n  }")
        try FileManager.default.createDirectory(atPath: archive, withIntermediateDirectories: true)
        func job() throws -> BackupJob {
            BackupJob(
                job: configuration.job(named: "j")!, fileSet: fileSet, chains: configuration.chains(for: fileSet),
                catalog: try SQLiteCatalog.open(path: catalogPath, create: true),
                settings: BackupSettings(archiveDirectory: archive, workers: 1), stageFactory: TestStageFactory().factory)
        }
        let first = try job()
        XCTAssertEqual(try first.run().status, .ok)
        let catalog = try XCTUnwrap(first.releaseCatalog(as: SQLiteCatalog.self))
        XCTAssertNil(first.releaseCatalog(as: SQLiteCatalog.self))
        XCTAssertEqual(try catalog.files(job: JobID(rawValue: 1)).map(\.status), [.stored, .stored])
        try catalog.close()

        let second = try job()
        try second.releaseCatalog(as: SQLiteCatalog.self)?.close()
        XCTAssertThrowsError(try second.run()) { error in
            XCTAssertTrue("\(error)".hasSuffix("the job's catalog was already handed back"), "\(error)")
        }
    }

    /// A thread that cannot start (`pthread_create` fails for real: a stack larger than the address space) is a
    /// job error naming the thread (a failed backup, a restore error), never a crash; the catalog stays usable.
    func testThreadsThatCannotStartFailTheJobCleanly() throws {
        for index in 0..<5 { try write("f\(index)", Array("file \(index)\n".utf8)) }
        let (first, catalog) = try backup()
        XCTAssertEqual(first.status, .ok)
        defer { WorkerThread.stackBytes.store(8 << 20, ordering: .relaxed) }
        WorkerThread.stackBytes.store(1 << 60, ordering: .relaxed)
        XCTAssertThrowsError(try WorkerThread(name: "probe") {}) { error in
            XCTAssertTrue("\(error)".hasPrefix("cannot start thread probe: "), "\(error)")
        }
        try catalog.close()
        let (second, reopened) = try backup()
        XCTAssertEqual(second.status, .failed)
        XCTAssertTrue(second.failure?.contains("cannot start thread op-") == true, second.failure ?? "")
        XCTAssertEqual(try reopened.job(JobID(rawValue: second.jobID))?.status, .failed)
        // Restore stops before any file (its threads start first), closing what it opened and joining the
        // threads that did start.
        XCTAssertThrowsError(try restore(reopened, jobID: first.jobID)) { error in
            XCTAssertTrue("\(error)".hasPrefix("cannot start thread op-restore"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: restored("f0")))
        WorkerThread.stackBytes.store(8 << 20, ordering: .relaxed)
        XCTAssertEqual(try restore(reopened, jobID: first.jobID).status, .ok)
    }

    func testCancelledJobIsMarkedAndRecordsNothingHalfWritten() throws {
        for index in 0..<200 { try write("f\(index)", [UInt8](repeating: 1, count: 1000)) }
        let (configuration, fileSet) = try fileSet("  Include {\n    File = \"\(source)\"\n  }")
        try FileManager.default.createDirectory(atPath: archive, withIntermediateDirectories: true)
        let job = BackupJob(
            job: configuration.job(named: "j")!, fileSet: fileSet, chains: configuration.chains(for: fileSet),
            catalog: try SQLiteCatalog.open(path: catalogPath, create: true),
            settings: BackupSettings(archiveDirectory: archive, workers: 1), stageFactory: TestStageFactory().factory)
        job.cancellation.cancel(reason: "test")
        let summary = try job.run()
        let catalog = try XCTUnwrap(job.releaseCatalog(as: SQLiteCatalog.self))
        XCTAssertEqual(summary.status, .cancelled)
        XCTAssertEqual(try catalog.job(JobID(rawValue: summary.jobID))?.status, .cancelled)
        for record in try catalog.files(job: JobID(rawValue: summary.jobID)) where record.status == .stored {
            XCTAssertNotNil(record.storedLength)
        }
    }

    // MARK: - Restore safety

    func testRestoreRefusesCraftedPaths() throws {
        try write("ok.txt", Array("fine".utf8))
        let (summary, catalog) = try backup()
        let jobID = JobID(rawValue: summary.jobID)
        let good = try XCTUnwrap(try catalog.files(job: jobID).first { $0.kind == .file })
        // Crafted rows: a path with "..", a symlink pointing out followed by a file through it, a hard link to /etc.
        var escape = good
        escape.fileIndex = 1000
        escape.path = Array("/../../escaped.txt".utf8)
        var symlink = good
        symlink.fileIndex = 1001
        symlink.kind = .symlink
        symlink.path = Array((source + "/evil").utf8)
        symlink.linkTarget = Array(work.path.utf8)
        var through = good
        through.fileIndex = 1002
        through.path = Array((source + "/evil/planted.txt").utf8)
        var hardLink = good
        hardLink.fileIndex = 1003
        hardLink.kind = .hardLink
        hardLink.path = Array((source + "/passwd-link").utf8)
        hardLink.linkTarget = Array("/etc/passwd".utf8)
        try catalog.insert(files: [escape, symlink, through, hardLink], messages: [])
        let result = try restore(catalog, jobID: summary.jobID)
        XCTAssertEqual(result.status, .warnings)
        XCTAssertEqual(try String(contentsOfFile: restored("ok.txt"), encoding: .utf8), "fine")
        XCTAssertNil(stat(work.path + "/escaped.txt"))
        XCTAssertNil(stat(target + "/../escaped.txt"))
        XCTAssertNil(stat(work.path + "/planted.txt"), "restore followed a planted symlink")
        XCTAssertNil(stat(restored("passwd-link")))
    }

    // MARK: - Found by the documentation pass

    func testStdoutOfASparseFileGivesItsHolesAsZeros() throws {
        let path = source + "/sparse.img"
        let fd = open(path, O_CREAT | O_WRONLY, 0o644)
        XCTAssertEqual(ftruncate(fd, 8 << 20), 0)
        XCTAssertEqual(pwrite(fd, "data", 4, 3 << 20), 4)
        close(fd)
        let (summary, catalog) = try backup()
        let output = work.path + "/stdout.bin"
        let out = open(output, O_CREAT | O_WRONLY | O_TRUNC, 0o644)
        defer { close(out) }
        let restored = try restore(catalog, jobID: summary.jobID) {
            $0.outputFD = out
            $0.select = [path]
        }
        XCTAssertEqual(restored.status, .ok)
        XCTAssertEqual(try shell("cmp '\(path)' '\(output)'").0, 0)
    }

    func testHardLinkToACompressedFileExtractsWithTar() throws {
        try write("a.txt", Array(String(repeating: "linked ", count: 200).utf8))
        XCTAssertEqual(link(source + "/a.txt", source + "/b.txt"), 0)
        let (summary, catalog) = try backup(
            "  Include {\n    Options { Compression = GZIP; Hard Links = yes }\n    File = \"\(source)\"\n  }")
        XCTAssertEqual(summary.status, .ok)
        let extract = work.path + "/tar"
        try FileManager.default.createDirectory(atPath: extract, withIntermediateDirectories: true)
        let (status, output) = try shell("tar -xf '\(summary.volumes[0])' -C '\(extract)'")
        XCTAssertEqual(status, 0, output)
        XCTAssertEqual(try restore(catalog, jobID: summary.jobID).status, .ok)
        XCTAssertEqual(stat(restored("a.txt"))?.st_ino, stat(restored("b.txt"))?.st_ino)
    }

    func testFileDeeperThanPathMaxIsBackedUpAndRestored() throws {
        // 24 levels of 200-byte names: the file's path is about 4,900 bytes (PATH_MAX is 4,096).
        XCTAssertTrue(
            DeepPath.makeFile(
                under: source, component: String(repeating: "d", count: 200), depth: 24, name: "deep.txt",
                contents: Array("deep".utf8)))
        let (summary, catalog) = try backup()
        XCTAssertEqual(summary.filesFailed, 0, summary.failure ?? "")
        XCTAssertEqual(summary.filesStored, 1)
        let record = try XCTUnwrap(try catalog.files(job: JobID(rawValue: summary.jobID)).first { $0.kind == .file })
        XCTAssertGreaterThan(record.path.count, 4096)
        XCTAssertEqual(record.sourceSHA256, try Digester.digest(.sha256, of: Array("deep".utf8)))
    }

    func testExtendedAttributesMustMatchTheCatalog() throws {
        try write("tagged.txt", Array("tagged".utf8))
        XCTAssertEqual(try shell("setfattr -n user.tag -v original '\(source)/tagged.txt'").0, 0)
        let (summary, catalog) = try backup()
        let jobID = JobID(rawValue: summary.jobID)
        let record = try XCTUnwrap(try catalog.files(job: jobID).first { $0.kind == .file })
        XCTAssertNotNil(record.stageMetadata[VolumeMember.metadataDigestKey])
        XCTAssertTrue(try VerifyJob(catalog: catalog, jobID: jobID).run().mismatches.isEmpty)
        // A catalog row whose metadata digest disagrees with the volume (as if the volume header was edited).
        var forged = record
        forged.fileIndex = 10_000
        forged.stageMetadata[VolumeMember.metadataDigestKey] = String(repeating: "0", count: 64)
        try catalog.insert(files: [forged], messages: [])
        let mismatches = try VerifyJob(catalog: catalog, jobID: jobID).run().mismatches
        XCTAssertEqual(mismatches.map(\.message), ["extended attributes or ACLs differ from the catalog's"])
        let restoreSummary = try restore(catalog, jobID: summary.jobID)
        XCTAssertEqual(restoreSummary.status, .warnings)
        XCTAssertEqual(try String(contentsOfFile: restored("tagged.txt"), encoding: .utf8), "tagged")
        XCTAssertNotEqual(try shell("getfattr -n user.tag '\(restored("tagged.txt"))' 2>/dev/null").0, 0)
    }
}
