import Foundation
import PipelineTestSupport
import XCTest

@testable import Pipeline

/// `scan` (a catalog rebuilt from volumes alone), on real backups of real trees (`prune`: ``PruneTests``).
final class ScanPruneTests: XCTestCase {
    var work: TemporaryDirectory!
    var source: String { work.path + "/src" }
    var catalogPath: String { work.path + "/catalog.db" }
    var scannedPath: String { work.path + "/scanned.db" }
    var archive: String { work.path + "/volumes" }

    override func setUpWithError() throws {
        work = try TemporaryDirectory(prefix: "scanprune")
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: archive, withIntermediateDirectories: true)
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

    /// Pseudo-random bytes (incompressible), deterministic.
    func noise(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0..<count).map { _ in
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return UInt8(truncatingIfNeeded: state)
        }
    }

    static let defaultInclude = """
          Include {
            Options { WildFile = "*.img"; Hard Links = yes }
            Options { WildFile = "*.lz"; Compression = LZ4; Hard Links = yes }
            Options { Compression = GZIP; Plugin = "xor"; Signature = MD5; Hard Links = yes }
            File = "SOURCE"
          }
        """

    @discardableResult
    func backup(
        include: String? = nil, level: Job.Level? = nil, accurate: Bool = false, maximumVolumeBytes: UInt64? = nil,
        catalog: SQLiteCatalog? = nil
    ) throws -> (JobSummary, SQLiteCatalog) {
        let body = (include ?? ScanPruneTests.defaultInclude).replacingOccurrences(of: "SOURCE", with: source)
        let text = "FileSet {\n  Name = fs\n\(body)\n}\n"
            + "Job { Name = j; Type = Backup; Level = Full; FileSet = fs\(accurate ? "; Accurate = yes" : "") }\n"
        let configuration = try Configuration.parse(text: text, fileName: "t.conf")
        let fileSet = try XCTUnwrap(configuration.fileSets["fs"])
        let store = try catalog ?? SQLiteCatalog.open(path: catalogPath, create: true)
        // The job gets its own connection (it owns it while it runs); the caller reads through `store`.
        var settings = BackupSettings(archiveDirectory: archive, workers: 2)
        settings.batchEntries = 16
        settings.maximumVolumeBytes = maximumVolumeBytes
        let job = BackupJob(
            job: configuration.job(named: "j")!, fileSet: fileSet, chains: configuration.chains(for: fileSet),
            catalog: try SQLiteCatalog.open(path: store.path, create: false), settings: settings,
            stageFactory: TestStageFactory().factory, level: level)
        let summary = try job.runClosingCatalog()
        XCTAssertTrue(summary.status == .ok || summary.status == .warnings, "\(summary)")
        return (summary, store)
    }

    func volumeFiles() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: archive).filter { $0.hasSuffix(".tar") }.sorted()
            .map { archive + "/" + $0 }
    }

    func restore(_ catalog: SQLiteCatalog, jobID: JobID, to target: String) throws -> JobSummary {
        try RestoreJob(
            catalog: catalog, jobID: jobID, settings: RestoreSettings(whereDirectory: target),
            stageFactory: TestStageFactory().factory
        ).run()
    }

    /// Type, mode, owner, size, mtime, link count and link target of every entry under `.`, sorted.
    static let lister = "find . -printf '%p %y %m %U %G %s %n %l %TY%Tm%Td%TH%TM%TS\\n' | LC_ALL=C sort"

    static func makedev(_ major: UInt64, _ minor: UInt64) -> UInt64 {
        ((major & 0xfff) << 8) | (minor & 0xff) | ((minor & ~0xff) << 12) | ((major & ~0xfff) << 32)
    }

    /// A tree with every kind of entry: small, empty, large (streamed), compressible, sparse, LZ4 and non-UTF-8
    /// files, symlinks, a hard link, a fifo, an empty directory and (as root) a device.
    func makeTree() throws {
        try write("plain.txt", Array("hello\n".utf8))
        try write("empty", [])
        try write("exec.sh", Array("#!/bin/sh\necho hi\n".utf8), mode: 0o755)
        try write("dir with spaces/ünïcödé ✓.txt", Array("unicode".utf8))
        try write("new\nline", Array("newline name".utf8))
        try write("text.txt", Array(String(repeating: "compress me please ", count: 20_000).utf8))
        try write("fast.lz", Array(String(repeating: "lz4 frame ", count: 5_000).utf8))
        for index in 0..<6 { try write("noise/n\(index).bin", noise(90_000, seed: UInt64(index + 1))) }
        try write("big.bin", noise(3 << 20, seed: 99))
        var deep = "deep"
        for level in 0..<30 { deep += "/l\(level)" }
        try write(deep + "/leaf.txt", Array("deep".utf8))
        let sparse = open(source + "/disk.img", O_CREAT | O_WRONLY, 0o600)
        XCTAssertGreaterThanOrEqual(sparse, 0)
        XCTAssertEqual(ftruncate(sparse, 64 << 20), 0)
        XCTAssertEqual(pwrite(sparse, "start", 5, 4096), 5)
        XCTAssertEqual(pwrite(sparse, "middle", 6, 32 << 20), 6)
        close(sparse)
        let raw = Array(source.utf8) + Array("/raw-".utf8) + [0xFF, 0xFE] + Array(".bin".utf8)
        let fd = raw.withUnsafeBufferPointer { buffer in
            open(buffer.map { CChar(bitPattern: $0) } + [0], O_CREAT | O_WRONLY, 0o600)
        }
        XCTAssertGreaterThanOrEqual(fd, 0)
        XCTAssertEqual(Glibc.write(fd, "non-utf8", 8), 8)
        close(fd)
        XCTAssertEqual(symlink("plain.txt", source + "/link"), 0)
        XCTAssertEqual(symlink("/nonexistent/target", source + "/dangling"), 0)
        XCTAssertEqual(link(source + "/text.txt", source + "/hardlink.txt"), 0)
        XCTAssertEqual(mkfifo(source + "/fifo", 0o640), 0)
        XCTAssertEqual(mkdir(source + "/emptydir", 0o750), 0)
        if geteuid() == 0 {
            XCTAssertEqual(mknod(source + "/null-device", S_IFCHR | 0o666, dev_t(Self.makedev(1, 3))), 0)
            XCTAssertEqual(chown(source + "/plain.txt", 1234, 5678), 0)
        }
        var times = [timespec(tv_sec: 1_600_000_000, tv_nsec: 123_456_789), timespec(tv_sec: 1_600_000_001, tv_nsec: 987_654_321)]
        XCTAssertEqual(utimensat(AT_FDCWD, source + "/big.bin", &times, 0), 0)
    }

    /// The original row as `scan` can rebuild it: the fields volumes do not hold (documented in `VolumeScanner` and
    /// docs/catalog.md) cleared.
    func rebuildable(_ original: FileRecord, like scanned: FileRecord) -> FileRecord {
        var expected = original  // inode, device and nlink travel in OPTIONPIPELINE.inode and must match
        if original.kind == .directory && scanned.size == 0 { expected.size = 0 }
        // Members without OPTIONPIPELINE records (directories, links, specials) carry no chain, metadata or block.
        if original.kind != .file && scanned.chain.isEmpty && scanned.stageMetadata.isEmpty && scanned.block == nil {
            expected.chain = []
            expected.stageMetadata = [:]
            expected.block = nil
        }
        // Streamed files (larger than the small-file limit) too: what transforms record after the data (e.g.
        // "xor.bytes") follows the member in a late-metadata header.
        return expected
    }

    func assertSameRows(_ original: SQLiteCatalog, _ scanned: SQLiteCatalog, job: JobID, file: StaticString = #filePath, line: UInt = #line) throws {
        let before = try original.files(job: job).filter { $0.status == .stored || $0.status == .deleted }
        let after = try scanned.files(job: job)
        XCTAssertEqual(after.count, before.count, "rows of job \(job)", file: file, line: line)
        for (old, new) in zip(before, after) {
            let expected = rebuildable(old, like: new)
            if new != expected {
                // Name the differing fields.
                let fields = zip(Mirror(reflecting: new).children, Mirror(reflecting: expected).children)
                    .filter { "\($0.value)" != "\($1.value)" }
                    .map { "\($0.label ?? "?"): scanned \($0.value), original \($1.value)" }
                XCTFail("job \(job), \(String(decoding: old.path, as: UTF8.self)): \(fields.joined(separator: "; "))", file: file, line: line)
            }
        }
    }

    // MARK: - Scan

    func testScanRebuildsJobsVolumesAndFilesAndRestoresTheSameTree() throws {
        try makeTree()
        let (first, original) = try backup(maximumVolumeBytes: 300_000)
        try write("plain.txt", Array("changed\n".utf8))
        let (second, _) = try backup(maximumVolumeBytes: 300_000, catalog: original)
        XCTAssertGreaterThanOrEqual(first.volumes.count, 3, "rotation into several volumes")
        let jobIDs = [JobID(rawValue: first.jobID), JobID(rawValue: second.jobID)]

        // Any order: the scanner sorts by JobId and sequence from the labels.
        let volumes = try volumeFiles().shuffled()
        XCTAssertEqual(volumes.count, first.volumes.count + second.volumes.count)
        let result = try VolumeScanner.scan(volumes: volumes, intoNewCatalog: scannedPath)
        XCTAssertEqual(result.jobs.map(\.job.id), jobIDs)
        XCTAssertTrue(result.jobs.allSatisfy(\.hadTrailer))
        let scanned = try SQLiteCatalog.open(path: scannedPath, create: false)
        defer { try? scanned.close() }

        for id in jobIDs {
            // The job row: everything but the end time (the trailer's, a few ms before the catalog's) and what
            // volumes do not hold (warnings count, client, FileSet text).
            let old = try XCTUnwrap(try original.job(id))
            var new = try XCTUnwrap(try scanned.job(id))
            let oldEnd = try XCTUnwrap(old.endTime)
            let newEnd = try XCTUnwrap(new.endTime)
            XCTAssertLessThanOrEqual(abs(Double(oldEnd.seconds - newEnd.seconds)), 2)
            new.endTime = old.endTime
            var expected = old
            expected.fileSetText = nil
            expected.clientName = nil
            expected.warnings = 0
            XCTAssertEqual(new, expected)
            // Volumes: same ids, names, paths, sequences, sizes and statuses.
            XCTAssertEqual(try scanned.volumes(job: id), try original.volumes(job: id))
            try assertSameRows(original, scanned, job: id)
            // Verify passes on the rebuilt catalog.
            let (summary, mismatches) = try VerifyJob(catalog: scanned, jobID: id).run()
            XCTAssertEqual(mismatches.map(\.message), [])
            XCTAssertEqual(summary.entriesStored, Int(old.entriesStored))
        }
        let note = try scanned.messages(job: jobIDs[0])
        XCTAssertTrue(note.contains { $0.severity == "info" && $0.text.hasPrefix("rebuilt by scan") }, "\(note)")

        // A restore from the rebuilt catalog equals one from the original catalog, and the source.
        for id in jobIDs {
            let fromOriginal = work.path + "/restore-original-\(id)"
            let fromScanned = work.path + "/restore-scanned-\(id)"
            XCTAssertEqual(try restore(original, jobID: id, to: fromOriginal).status, .ok)
            let summary = try restore(scanned, jobID: id, to: fromScanned)
            XCTAssertEqual(summary.status, .ok, "\(summary)")
            XCTAssertEqual(summary.filesFailed, 0)
            let (status, output) = try shell(
                "diff -r --no-dereference -x fifo -x null-device '\(fromOriginal)' '\(fromScanned)'")
            XCTAssertEqual(status, 0, output)
            let (listingStatus, listingDiff) = try shell(
                "diff <(cd '\(fromOriginal + source)' && \(Self.lister)) <(cd '\(fromScanned + source)' && \(Self.lister))")
            XCTAssertEqual(listingStatus, 0, listingDiff)
        }
        let (status, output) = try shell(
            "diff -r --no-dereference -x fifo -x null-device '\(source)' '\(work.path)/restore-scanned-\(jobIDs[1])\(source)'")
        XCTAssertEqual(status, 0, output)
        var info = Glibc.stat()
        XCTAssertEqual(lstat("\(work.path)/restore-scanned-\(jobIDs[1])\(source)/disk.img", &info), 0)
        XCTAssertLessThan(info.st_blocks * 512, 1 << 20, "the sparse file kept its holes")
    }

    func testScanOfIncrementalChainGivesTheSameStateAsTheOriginal() throws {
        try write("keep.txt", Array("kept".utf8))
        try write("gone.txt", Array("deleted later".utf8))
        try write("dir/change.txt", Array("v1".utf8))
        let (full, original) = try backup(accurate: true)
        XCTAssertEqual(unlink(source + "/gone.txt"), 0)
        try write("dir/change.txt", Array("version two".utf8))
        try write("new.txt", Array("added".utf8))
        let (incremental, _) = try backup(level: .incremental, accurate: true, catalog: original)
        let incrementalID = JobID(rawValue: incremental.jobID)
        let job = try XCTUnwrap(try original.job(incrementalID))
        guard job.level == .incremental else {
            throw XCTSkip("Incremental backups are not available in this build (ran as \(job.level.name))")
        }
        _ = try VolumeScanner.scan(volumes: try volumeFiles(), intoNewCatalog: scannedPath)
        let scanned = try SQLiteCatalog.open(path: scannedPath, create: false)
        defer { try? scanned.close() }
        let rebuilt = try XCTUnwrap(try scanned.job(incrementalID))
        XCTAssertEqual(rebuilt.level, .incremental)
        XCTAssertEqual(rebuilt.sinceTime, job.sinceTime)
        XCTAssertEqual(
            try JobChain.jobs(asOf: incrementalID, in: scanned).map(\.id),
            try JobChain.jobs(asOf: incrementalID, in: original).map(\.id))
        XCTAssertEqual(
            try JobChain.jobs(asOf: incrementalID, in: scanned).map(\.id), [JobID(rawValue: full.jobID), incrementalID])
        // The tree as of the Incremental: same paths, same rows (deleted paths gone in both).
        let before = try JobChain.state(asOf: incrementalID, in: original)
        let after = try JobChain.state(asOf: incrementalID, in: scanned)
        XCTAssertEqual(Set(after.keys), Set(before.keys))
        XCTAssertNil(after[Array((source + "/gone.txt").utf8)])
        for (path, record) in before {
            let new = try XCTUnwrap(after[path])
            XCTAssertEqual(new, rebuildable(record, like: new))
        }
        let deletedRows = try scanned.files(job: incrementalID).filter { $0.status == .deleted }
        XCTAssertEqual(deletedRows.map(\.path), [Array((source + "/gone.txt").utf8)])
        XCTAssertEqual(deletedRows.first?.kind, .file)
    }

    func testScanReportsDamagedForeignAndMissingVolumesAndLeavesNothing() throws {
        for index in 0..<8 { try write("f\(index).bin", noise(100_000, seed: UInt64(index))) }
        let (summary, catalog) = try backup(maximumVolumeBytes: 250_000)
        try catalog.close()
        let volumes = summary.volumes
        XCTAssertGreaterThanOrEqual(volumes.count, 3)

        func scanError(_ paths: [String], file: StaticString = #filePath, line: UInt = #line) -> String {
            do {
                _ = try VolumeScanner.scan(volumes: paths, intoNewCatalog: scannedPath)
                XCTFail("the scan succeeded", file: file, line: line)
                return ""
            } catch {
                XCTAssertFalse(FileManager.default.fileExists(atPath: scannedPath), "a failed scan left a catalog", file: file, line: line)
                let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: work.path))?.filter { $0.contains(".scan-") } ?? []
                XCTAssertEqual(leftovers, [], file: file, line: line)
                return "\(error)"
            }
        }

        // A volume left out.
        let missing = scanError(volumes.enumerated().filter { $0.offset != 1 }.map(\.element))
        XCTAssertTrue(missing.contains("volume 2 is missing"), missing)
        // A tar written by another program.
        XCTAssertEqual(try shell("cd '\(source)' && tar -cf '\(work.path)/foreign.tar' f0.bin").0, 0)
        let foreign = scanError(volumes + [work.path + "/foreign.tar"])
        XCTAssertTrue(foreign.contains("foreign.tar: not an optionhost volume"), foreign)
        // The same volume twice.
        let twice = scanError(volumes + [volumes[0]])
        XCTAssertTrue(twice.contains("are both volume 1"), twice)

        // Truncated in the middle of a member: the error names the volume.
        let copy = work.path + "/copy"
        XCTAssertEqual(try shell("cp -a '\(archive)' '\(copy)'").0, 0)
        let copies = volumes.map { copy + "/" + ($0 as NSString).lastPathComponent }
        var info = Glibc.stat()
        XCTAssertEqual(stat(copies[1], &info), 0)
        XCTAssertEqual(truncate(copies[1], off_t(info.st_size / 2)), 0)
        let truncated = scanError(copies)
        XCTAssertTrue(truncated.contains(copies[1]), truncated)
        XCTAssertTrue(truncated.contains("truncated"), truncated)
        // Cut at a member boundary: the end-of-archive blocks are missing.
        XCTAssertEqual(try shell("cp '\(volumes[1])' '\(copies[1])'").0, 0)
        XCTAssertEqual(stat(copies.last!, &info), 0)
        XCTAssertEqual(truncate(copies.last!, off_t(info.st_size - 1024)), 0)
        let cut = scanError(copies)
        XCTAssertTrue(cut.contains(copies.last!) && cut.contains("end-of-archive"), cut)

        // An existing catalog is refused unless replacing; replacing happens only once the scan succeeded.
        XCTAssertEqual(try shell("cp '\(catalogPath)' '\(scannedPath)'").0, 0)
        XCTAssertThrowsError(try VolumeScanner.scan(volumes: volumes, intoNewCatalog: scannedPath)) { error in
            XCTAssertTrue("\(error)".contains("already exists"), "\(error)")
        }
        XCTAssertThrowsError(try VolumeScanner.scan(volumes: copies, intoNewCatalog: scannedPath, replacing: true))
        XCTAssertEqual(try shell("cmp '\(catalogPath)' '\(scannedPath)'").0, 0, "a failed scan changed the old file")
        let result = try VolumeScanner.scan(volumes: volumes, intoNewCatalog: scannedPath, replacing: true)
        XCTAssertEqual(result.jobs.count, 1)
        XCTAssertEqual(result.files, 8)
    }

    func testJobWithoutTrailerIsRebuiltAsFailedWithCountsFromItsMembers() throws {
        for index in 0..<4 { try write("f\(index).bin", noise(10_000, seed: UInt64(index))) }
        let (summary, _) = try backup()
        XCTAssertEqual(summary.volumes.count, 1)
        // Rewrite the volume without its trailer: members, then the end blocks (as a cancelled job leaves it).
        let reader = try PaxReader(path: summary.volumes[0])
        var lastEnd: UInt64 = 0
        while let (member, location) = try reader.next() {
            lastEnd = location.dataOffset + (member.size + 511) / 512 * 512
        }
        XCTAssertEqual(reader.labels.count, 2, "label and trailer")
        XCTAssertEqual(truncate(summary.volumes[0], off_t(lastEnd)), 0)
        let fd = open(summary.volumes[0], O_WRONLY | O_APPEND)
        XCTAssertEqual(Glibc.write(fd, [UInt8](repeating: 0, count: 1024), 1024), 1024)
        close(fd)
        let result = try VolumeScanner.scan(volumes: summary.volumes, intoNewCatalog: scannedPath)
        let job = try XCTUnwrap(result.jobs.first)
        XCTAssertFalse(job.hadTrailer)
        XCTAssertEqual(job.job.status, .failed)
        XCTAssertNil(job.job.endTime)
        XCTAssertEqual(job.job.filesStored, 4)
        XCTAssertEqual(job.job.bytesRead, 40_000)
        let scanned = try SQLiteCatalog.open(path: scannedPath, create: false)
        defer { try? scanned.close() }
        XCTAssertEqual(try scanned.job(job.job.id)?.status, .failed)
        XCTAssertTrue(try scanned.messages(job: job.job.id).contains { $0.text.contains("no job trailer") })
    }
}
