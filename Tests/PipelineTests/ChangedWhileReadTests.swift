import Foundation
import PipelineTestSupport
import XCTest

@testable import Pipeline

#if canImport(Glibc)
import Glibc
#endif

/// Issue 14, defect 1: a file rewritten in place while it is read (size unchanged) must not be stored as a mix of
/// two versions. The rewrite happens at a known point: the backup's read hook, called once the first chunk of the
/// file was read, rewrites the first and last 4 KiB and moves mtime to a time of its own (so the change does not
/// depend on the clock's tick).
final class ChangedWhileReadTests: XCTestCase {
    var work: TemporaryDirectory!
    var source: String { work.path + "/src" }

    override func setUpWithError() throws {
        work = try TemporaryDirectory(prefix: "changed-while-read")
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        work.remove()
    }

    static func bytes(_ count: Int, _ value: UInt8) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7) ^ value }
    }

    /// Writes `name` with an mtime long past.
    func makeFile(_ name: String, _ bytes: [UInt8]) throws {
        XCTAssertTrue(try Shell.writeFile(source, name, bytes))
        var times = [timespec(tv_sec: 1_500_000_000, tv_nsec: 0), timespec(tv_sec: 1_500_000_000, tv_nsec: 0)]
        XCTAssertEqual(utimensat(AT_FDCWD, source + "/" + name, &times, 0), 0)
    }

    /// Rewrites the first and last 4 KiB of `path` in place (size unchanged) with `value`, and sets its mtime to
    /// 1,600,000,000 + `stamp`.
    static func rewrite(_ path: [UInt8], value: UInt8, stamp: Int) {
        let fd = open(String(decoding: path, as: UTF8.self), O_WRONLY)
        guard fd >= 0 else { return XCTFail("cannot open \(String(decoding: path, as: UTF8.self)) to rewrite it") }
        defer { close(fd) }
        var info = stat()
        fstat(fd, &info)
        let block = [UInt8](repeating: value, count: 4096)
        _ = pwrite(fd, block, block.count, 0)
        _ = pwrite(fd, block, block.count, off_t(Int(info.st_size) - 4096))
        var times = [timespec(tv_sec: 1_600_000_000 + stamp, tv_nsec: 0), timespec(tv_sec: 1_600_000_000 + stamp, tv_nsec: 0)]
        _ = futimens(fd, &times)
    }

    func backup(
        options: String = "", smallFileLimit: UInt64 = 1 << 20, hook: @escaping BackupSettings.ReadHook
    ) throws -> (JobSummary, SQLiteCatalog) {
        let text = """
            FileSet { Name = fs; Include { Options { Signature = SHA256\(options) } File = "\(source)" } }
            Job { Name = j; Type = Backup; Level = Full; FileSet = fs }
            """
        let configuration = try Configuration.parse(text: text, fileName: "t.conf")
        let fileSet = try XCTUnwrap(configuration.fileSets["fs"])
        // A catalog and archive directory per backup: one test may back up several times, each a JobId 1.
        let run = UUID().uuidString
        try FileManager.default.createDirectory(atPath: work.path + "/volumes-\(run)", withIntermediateDirectories: true)
        var settings = BackupSettings(archiveDirectory: work.path + "/volumes-\(run)", workers: 1)
        settings.smallFileLimit = smallFileLimit
        settings.chunkSize = 64 << 10
        settings.readHook = hook
        let job = BackupJob(
            job: configuration.job(named: "j")!, fileSet: fileSet, chains: configuration.chains(for: fileSet),
            catalog: try SQLiteCatalog.open(path: work.path + "/catalog-\(run).db", create: true), settings: settings,
            stageFactory: TestStageFactory().factory)
        let summary = try job.run()
        return (summary, try XCTUnwrap(job.releaseCatalog(as: SQLiteCatalog.self)))
    }

    func restore(_ catalog: SQLiteCatalog, _ summary: JobSummary) throws -> (JobSummary, String) {
        let target = work.path + "/restore-\(UUID().uuidString)"
        let job = RestoreJob(
            catalog: catalog, jobID: JobID(rawValue: summary.jobID), settings: RestoreSettings(whereDirectory: target),
            stageFactory: TestStageFactory().factory)
        return (try job.run(), target + source)
    }

    func row(_ catalog: SQLiteCatalog, _ summary: JobSummary, _ name: String) throws -> FileRecord {
        try XCTUnwrap(
            try catalog.files(job: JobID(rawValue: summary.jobID)).first {
                $0.path == Array((source + "/" + name).utf8)
            })
    }

    /// A small file (read whole) rewritten during its first read is read again; the second read, during which it
    /// holds still, is stored with the times of that version, and the job warns (exit 1).
    func testSmallFileRewrittenDuringTheReadIsReadAgain() throws {
        try makeFile("small.bin", Self.bytes(64 << 10, 0))
        try makeFile("quiet.txt", Array("quiet\n".utf8))
        let (summary, catalog) = try backup { path, attempt in
            if attempt == 1 && path.last == UInt8(ascii: "n") { Self.rewrite(path, value: 0xAA, stamp: 1) }
        }
        defer { try? catalog.close() }
        XCTAssertEqual(summary.status, .warnings, summary.failure ?? "")
        XCTAssertEqual(summary.filesStored, 2)
        XCTAssertEqual(summary.filesFailed, 0)
        XCTAssertEqual(summary.filesReread, 1)
        XCTAssertEqual(summary.warnings, 1)
        let live = try XCTUnwrap(FileManager.default.contents(atPath: source + "/small.bin"))
        let record = try row(catalog, summary, "small.bin")
        XCTAssertEqual(record.status, .stored)
        let digester = try Digester(.sha256)
        digester.update(Array(live))
        XCTAssertEqual(record.sourceSHA256, try digester.finalize())
        XCTAssertEqual(record.mtime, FileStat.Timestamp(seconds: 1_600_000_001, nanoseconds: 0))
        let messages = try catalog.messages(job: JobID(rawValue: summary.jobID)).filter { $0.severity == "warning" }
        XCTAssertEqual(
            messages.map { String(decoding: $0.path ?? [], as: UTF8.self) + ": " + $0.text },
            [
                source + "/small.bin: changed while being read (mtime, ctime changed during the read); stored as read "
                    + "a second time, during which it did not change"
            ])
        let (restored, root) = try restore(catalog, summary)
        XCTAssertEqual(restored.status, .ok)
        XCTAssertEqual(FileManager.default.contents(atPath: root + "/small.bin"), live)
    }

    /// Rewritten during both reads: recorded as failed (changed while being read), nothing of it restored.
    func testSmallFileRewrittenDuringBothReadsFails() throws {
        try makeFile("small.bin", Self.bytes(64 << 10, 0))
        let (summary, catalog) = try backup { path, attempt in
            Self.rewrite(path, value: UInt8(0xA0 + attempt), stamp: attempt)
        }
        defer { try? catalog.close() }
        XCTAssertEqual(summary.status, .warnings)
        XCTAssertEqual(summary.filesStored, 0)
        XCTAssertEqual(summary.filesFailed, 1)
        XCTAssertEqual(summary.errors, 1)
        let record = try row(catalog, summary, "small.bin")
        XCTAssertEqual(record.status, .failed)
        XCTAssertEqual(record.error, "changed while being read (mtime, ctime changed during the read)")
        let (restored, root) = try restore(catalog, summary)
        XCTAssertEqual(restored.filesExamined, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/small.bin"))
    }

    /// A streamed file (larger than the small-file limit), plain and compressed, rewritten after its first chunk:
    /// too large to read twice, it is not stored (its member is dropped from the volume) and recorded as failed;
    /// the other files of the job restore and verify.
    func testStreamedFileRewrittenDuringTheReadIsNotStored() throws {
        for options in ["", "; Compression = GZIP"] {
            try? FileManager.default.removeItem(atPath: source)
            try makeFile("big.bin", Self.bytes(1 << 20, 0))
            try makeFile("other.bin", Self.bytes(300 << 10, 5))
            let (summary, catalog) = try backup(options: options, smallFileLimit: 128 << 10) { path, _ in
                if String(decoding: path, as: UTF8.self).hasSuffix("/big.bin") { Self.rewrite(path, value: 0xBB, stamp: 1) }
            }
            defer { try? catalog.close() }
            XCTAssertEqual(summary.status, .warnings, options)
            XCTAssertEqual(summary.filesStored, 1, options)
            XCTAssertEqual(summary.filesFailed, 1, options)
            let record = try row(catalog, summary, "big.bin")
            XCTAssertEqual(record.status, .failed, options)
            XCTAssertEqual(record.error, "changed while being read (mtime, ctime changed during the read)", options)
            XCTAssertEqual(try row(catalog, summary, "other.bin").status, .stored, options)
            let (restored, root) = try restore(catalog, summary)
            XCTAssertEqual(restored.status, .ok, options)
            XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/big.bin"), options)
            XCTAssertEqual(
                FileManager.default.contents(atPath: root + "/other.bin"), Data(Self.bytes(300 << 10, 5)), options)
            let (verified, mismatches) = try VerifyJob(catalog: catalog, jobID: JobID(rawValue: summary.jobID)).run()
            XCTAssertEqual(mismatches.count, 0, "\(options): \(mismatches)")
            XCTAssertEqual(verified.filesStored, 1, options)
        }
    }
}
