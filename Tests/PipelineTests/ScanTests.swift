import Foundation
import PipelineTestSupport
import Synchronization
import XCTest

@testable import Pipeline

/// `scan`: a catalog rebuilt from volumes alone (a new SQLite file, or an empty PostgreSQL catalog), and the volumes'
/// jobs added to an existing catalog in one transaction (a job that did not finish replaced, a finished or foreign
/// one refused), on real backups of real trees. ``PostgreSQLScanTests`` runs every test on PostgreSQL.
class ScanTests: CatalogTestCase {
    var source: String { directory.path + "/src" }
    var archive: String { directory.path + "/volumes" }
    /// The new SQLite file a scan writes (the SQLite driver).
    var scannedPath: String { path("scanned.db") }

    override func setUpWithError() throws {
        try super.setUpWithError()
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: archive, withIntermediateDirectories: true)
    }

    // MARK: - Helpers

    func write(_ relative: String, _ bytes: [UInt8], mode: Int = 0o644) throws {
        XCTAssertTrue(try Shell.writeFile(source, relative, bytes, mode: mode), relative)
    }

    func shell(_ command: String) throws -> (Int32, String) {
        let result = try Shell.run(command)
        return (result.status, result.output)
    }

    static let defaultInclude = """
          Include {
            Options { WildFile = "*.img"; Hard Links = yes }
            Options { WildFile = "*.lz"; Compression = LZ4; Hard Links = yes }
            Options { Compression = GZIP; Plugin = "xor"; Signature = MD5; Hard Links = yes }
            File = "SOURCE"
          }
        """

    /// A backup of `source` into the catalog `catalogName` of the driver under test, on a connection of its own.
    @discardableResult
    func backup(
        level: Job.Level? = nil, accurate: Bool = false, maximumVolumeBytes: UInt64? = nil, client: String? = nil,
        catalogName: String = "catalog.db"
    ) throws -> JobSummary {
        let body = ScanTests.defaultInclude.replacingOccurrences(of: "SOURCE", with: source)
        let text = "FileSet {\n  Name = fs\n\(body)\n}\n"
            + "Job { Name = j; Type = Backup; Level = Full; FileSet = fs\(accurate ? "; Accurate = yes" : "")"
            + "\(client.map { "; Client = \($0)" } ?? "") }\n"
        let configuration = try Configuration.parse(text: text, fileName: "t.conf")
        let fileSet = try XCTUnwrap(configuration.fileSets["fs"])
        try openCatalog(catalogName).close()
        var settings = BackupSettings(archiveDirectory: archive, workers: 2)
        settings.batchEntries = 16
        settings.maximumVolumeBytes = maximumVolumeBytes
        let job = BackupJob(
            job: configuration.job(named: "j")!, fileSet: fileSet, chains: configuration.chains(for: fileSet),
            catalog: try catalogs.open(catalogName, create: false), settings: settings,
            stageFactory: TestStageFactory().factory, level: level)
        let summary = try job.runClosingCatalog()
        XCTAssertTrue(summary.status == .ok || summary.status == .warnings, "\(summary)")
        return summary
    }

    func volumeFiles() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: archive).filter { $0.hasSuffix(".tar") }.sorted()
            .map { archive + "/" + $0 }
    }

    func restore(_ catalog: DatabaseCatalog, jobID: JobID, to target: String) throws -> JobSummary {
        try RestoreJob(
            catalog: catalog, jobID: jobID, settings: RestoreSettings(whereDirectory: target),
            stageFactory: TestStageFactory().factory
        ).run()
    }

    // MARK: - Scan

    func testScanRebuildsJobsVolumesAndFilesAndRestoresTheSameTree() throws {
        try makeTree()
        let original = try openCatalog()
        let first = try backup(maximumVolumeBytes: 300_000)
        try write("plain.txt", Array("changed\n".utf8))
        let second = try backup(maximumVolumeBytes: 300_000)
        XCTAssertGreaterThanOrEqual(first.volumes.count, 3, "rotation into several volumes")
        let jobIDs = [JobID(rawValue: first.jobID), JobID(rawValue: second.jobID)]

        // Any order: the scanner sorts by JobId and sequence from the labels.
        let volumes = try volumeFiles().shuffled()
        XCTAssertEqual(volumes.count, first.volumes.count + second.volumes.count)
        let (result, scanned) = try scanIntoNew(volumes)
        defer { try? scanned.close() }
        XCTAssertEqual(result.jobs.map(\.job.id), jobIDs)
        XCTAssertTrue(result.jobs.allSatisfy(\.hadTrailer))

        for id in jobIDs {
            // The job row: everything but the end time (the trailer's, a few ms before the catalog's) and what
            // volumes do not hold (warnings count, FileSet text). The client is the label's: the host name here.
            let old = try XCTUnwrap(try original.job(id))
            var new = try XCTUnwrap(try scanned.job(id))
            let oldEnd = try XCTUnwrap(old.endTime)
            let newEnd = try XCTUnwrap(new.endTime)
            XCTAssertLessThanOrEqual(abs(Double(oldEnd.seconds - newEnd.seconds)), 2)
            new.endTime = old.endTime
            var expected = old
            expected.fileSetText = nil
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
            let fromOriginal = directory.path + "/restore-original-\(id)"
            let fromScanned = directory.path + "/restore-scanned-\(id)"
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
            "diff -r --no-dereference -x fifo -x null-device '\(source)' '\(directory.path)/restore-scanned-\(jobIDs[1])\(source)'")
        XCTAssertEqual(status, 0, output)
        var info = Glibc.stat()
        XCTAssertEqual(lstat("\(directory.path)/restore-scanned-\(jobIDs[1])\(source)/disk.img", &info), 0)
        XCTAssertLessThan(info.st_blocks * 512, 1 << 20, "the sparse file kept its holes")
    }

    func testScanOfIncrementalChainGivesTheSameStateAsTheOriginal() throws {
        try write("keep.txt", Array("kept".utf8))
        try write("gone.txt", Array("deleted later".utf8))
        try write("dir/change.txt", Array("v1".utf8))
        let original = try openCatalog()
        let full = try backup(accurate: true)
        XCTAssertEqual(unlink(source + "/gone.txt"), 0)
        try write("dir/change.txt", Array("version two".utf8))
        try write("new.txt", Array("added".utf8))
        let incremental = try backup(level: .incremental, accurate: true)
        let incrementalID = JobID(rawValue: incremental.jobID)
        let job = try XCTUnwrap(try original.job(incrementalID))
        guard job.level == .incremental else {
            throw XCTSkip("Incremental backups are not available in this build (ran as \(job.level.name))")
        }
        let (_, scanned) = try scanIntoNew(try volumeFiles())
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
        let summary = try backup(maximumVolumeBytes: 250_000)
        let volumes = summary.volumes
        XCTAssertGreaterThanOrEqual(volumes.count, 3)

        func scanError(_ paths: [String], file: StaticString = #filePath, line: UInt = #line) -> String {
            do {
                try scanIntoNewExpectingFailure(paths)
                XCTFail("the scan succeeded", file: file, line: line)
                return ""
            } catch {
                assertNothingLeft(file: file, line: line)
                return "\(error)"
            }
        }

        // A volume left out.
        let missing = scanError(volumes.enumerated().filter { $0.offset != 1 }.map(\.element))
        XCTAssertTrue(missing.contains("volume 2 is missing"), missing)
        // A tar written by another program.
        XCTAssertEqual(try shell("cd '\(source)' && tar -cf '\(directory.path)/foreign.tar' f0.bin").0, 0)
        let foreign = scanError(volumes + [directory.path + "/foreign.tar"])
        XCTAssertTrue(foreign.contains("foreign.tar: not an optionhost volume"), foreign)
        // The same volume twice.
        let twice = scanError(volumes + [volumes[0]])
        XCTAssertTrue(twice.contains("are both volume 1"), twice)

        // Truncated in the middle of a member: the error names the volume.
        let copy = directory.path + "/copy"
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

        // A new SQLite file: an existing one is refused unless replacing; replacing happens only once the scan
        // succeeded. (A PostgreSQL catalog is never replaced: scan adds to it, see the tests below.)
        if driver == .sqlite {
            XCTAssertEqual(try shell("cp '\(path("catalog.db"))' '\(scannedPath)'").0, 0)
            XCTAssertThrowsError(try VolumeScanner.scan(volumes: volumes, intoNewCatalog: scannedPath)) { error in
                XCTAssertTrue("\(error)".contains("already exists"), "\(error)")
            }
            XCTAssertThrowsError(try VolumeScanner.scan(volumes: copies, intoNewCatalog: scannedPath, replacing: true))
            XCTAssertEqual(try shell("cmp '\(path("catalog.db"))' '\(scannedPath)'").0, 0, "a failed scan changed the old file")
            let result = try VolumeScanner.scan(volumes: volumes, intoNewCatalog: scannedPath, replacing: true)
            XCTAssertEqual(result.jobs.count, 1)
            XCTAssertEqual(result.files, 8)
        } else {
            let (result, scanned) = try scanIntoNew(volumes)
            try scanned.close()
            XCTAssertEqual(result.jobs.count, 1)
            XCTAssertEqual(result.files, 8)
        }
    }

    func testJobWithoutTrailerIsRebuiltAsFailedWithCountsFromItsMembers() throws {
        for index in 0..<4 { try write("f\(index).bin", noise(10_000, seed: UInt64(index))) }
        let summary = try backup()
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
        let (result, scanned) = try scanIntoNew(summary.volumes)
        defer { try? scanned.close() }
        let job = try XCTUnwrap(result.jobs.first)
        XCTAssertFalse(job.hadTrailer)
        XCTAssertEqual(job.job.status, .failed)
        XCTAssertNil(job.job.endTime)
        XCTAssertEqual(job.job.filesStored, 4)
        XCTAssertEqual(job.job.bytesRead, 40_000)
        XCTAssertEqual(try scanned.job(job.job.id)?.status, .failed)
        XCTAssertTrue(try scanned.messages(job: job.job.id).contains { $0.text.contains("no job trailer") })
    }

    // MARK: - One transaction

    struct Stop: Error {}

    func testOneTransactionKeepsAllOrNothingAndANestedFailureUndoesOnlyItself() throws {
        let catalog = try openCatalog()
        defer { try? catalog.close() }
        // A failure of any kind rolls back everything the body wrote, and is rethrown as it was.
        XCTAssertThrowsError(
            try catalog.inOneTransaction {
                let id = try catalog.beginJob(sampleJob())
                try catalog.insert(files: [bareFile(job: id, index: 0, path: "/a")], messages: [])
                throw Stop()
            }
        ) { error in XCTAssertTrue(error is Stop, "\(error)") }
        XCTAssertEqual(try catalog.jobs(name: nil).map(\.id), [])
        XCTAssertEqual(try catalog.connection.scalar("SELECT count(*) FROM files"), 0)

        // A catalog call that fails inside it (a file index twice) undoes only its own rows: on PostgreSQL, where
        // an error ends a transaction, the savepoint lets the body go on.
        let id = try catalog.inOneTransaction { () throws -> JobID in
            let id = try catalog.beginJob(sampleJob())
            try catalog.insert(files: [bareFile(job: id, index: 0, path: "/a")], messages: [])
            XCTAssertThrowsError(
                try catalog.insert(
                    files: [bareFile(job: id, index: 1, path: "/b"), bareFile(job: id, index: 0, path: "/again")],
                    messages: []))
            try catalog.insert(files: [bareFile(job: id, index: 2, path: "/c")], messages: [])
            return id
        }
        XCTAssertEqual(try catalog.files(job: id).map(\.fileIndex), [0, 2])
        // The connection is out of its transaction: a plain call commits on its own.
        try catalog.insert(files: [bareFile(job: id, index: 3, path: "/d")], messages: [])
        XCTAssertEqual(try openCatalog(create: false).files(job: id).count, 3)
    }

    func testAJobIDAddedBackBelowTheNewestIsNotHandedOutAgain() throws {
        let catalog = try openCatalog()
        defer { try? catalog.close() }
        let ids = try (0..<3).map { try catalog.beginJob(sampleJob(start: 1_700_000_000 + Int64($0))) }
        try catalog.deleteJob(ids[2])
        try catalog.deleteJob(ids[1])
        // Scan adds the second one back under its JobId (the newest is gone for good).
        var again = sampleJob(start: 1_700_000_001)
        again.id = ids[1]
        XCTAssertEqual(try catalog.beginJob(again), ids[1])
        XCTAssertEqual(try catalog.beginJob(sampleJob(start: 1_700_000_009)).rawValue, ids[2].rawValue + 1)
    }

    // MARK: - Into an existing catalog

    func testScanIntoACatalogRefusesAFinishedJobOrSkipsItAndAddsAJobItLacks() throws {
        for index in 0..<5 { try write("f\(index).bin", noise(20_000, seed: UInt64(index))) }
        let first = try backup()
        try write("f0.bin", noise(30_000, seed: 77))
        let second = try backup()
        let firstID = JobID(rawValue: first.jobID)
        let secondID = JobID(rawValue: second.jobID)
        let catalog = try openCatalog()
        defer { try? catalog.close() }
        let firstRow = try XCTUnwrap(try catalog.job(firstID))
        XCTAssertEqual(firstRow.status, .ok)
        // The second job's rows are lost (as if pruned or never committed): its volumes bring it back.
        let secondRow = try XCTUnwrap(try catalog.job(secondID))
        try catalog.deleteJob(secondID)

        try assertScanRefused(
            try volumeFiles(), into: catalog,
            "JobId \(firstID) (j, started \(HumanTime.local(firstRow.startTime))) is already in the catalog "
                + "\(catalog.path) and finished (status T): scan adds jobs the catalog lacks and replaces jobs that "
                + "did not finish; skip finished ones with --skip-finished; nothing was scanned")

        let result = try VolumeScanner.scan(volumes: try volumeFiles(), into: catalog, skipFinished: true)
        XCTAssertEqual(result.skipped.map(\.id), [firstID])
        XCTAssertEqual(result.jobs.map(\.job.id), [secondID])
        XCTAssertNil(result.jobs[0].replaced)
        let added = try XCTUnwrap(try catalog.job(secondID))
        XCTAssertEqual(added.status, .ok)
        XCTAssertEqual(added.startTime, secondRow.startTime)
        XCTAssertEqual(added.clientName, Job.hostClientName, "the added job's client, from its label")
        XCTAssertEqual(try catalog.fileCounts(job: secondID).entriesStored, secondRow.entriesStored)
        XCTAssertEqual(try catalog.job(firstID), firstRow, "the skipped job was changed")
        // The added job restores the tree it saved.
        let target = directory.path + "/restored"
        XCTAssertEqual(try restore(catalog, jobID: secondID, to: target).status, .ok)
        let (status, output) = try shell("diff -r '\(source)' '\(target)\(source)'")
        XCTAssertEqual(status, 0, output)
        // A job id taken by the scan is not handed out again.
        let third = try backup()
        XCTAssertGreaterThan(third.jobID, secondID.rawValue)
    }

    func testScanRefusesAnotherJobUnderTheSameJobIDNamingBoth() throws {
        for index in 0..<3 { try write("f\(index).bin", noise(10_000, seed: UInt64(index))) }
        let summary = try backup()
        let id = JobID(rawValue: summary.jobID)
        let label = try XCTUnwrap(try openCatalog().job(id))
        // Another catalog whose JobId `id` is another job.
        let other = try openCatalog("other.db")
        defer { try? other.close() }
        var foreign = JobRecord(
            name: "elsewhere", level: .full, fileSetName: "fs", fileSetDigest: "00", startTime: time(1_600_000_000))
        foreign.id = id
        foreign.status = .running
        XCTAssertEqual(try other.beginJob(foreign), id)
        try assertScanRefused(
            summary.volumes, into: other,
            "JobId \(id) of the catalog \(other.path) is another job (elsewhere, started "
                + "\(HumanTime.local(time(1_600_000_000)))) than the one \(summary.volumes[0]) holds (j, started "
                + "\(HumanTime.local(label.startTime))): the volumes come from another catalog; nothing was scanned")
    }

    func testScanReplacesTheRowsOfAnUnfinishedJobKeepsItsClientAndRestores() throws {
        for index in 0..<12 { try write("d\(index % 3)/f\(index).bin", noise(40_000, seed: UInt64(index))) }
        try write("small.txt", Array("small\n".utf8))
        let summary = try backup(maximumVolumeBytes: 150_000, client: "lossy")
        XCTAssertGreaterThanOrEqual(summary.volumes.count, 3)
        let id = JobID(rawValue: summary.jobID)
        let catalog = try openCatalog()
        defer { try? catalog.close() }
        let original = try catalog.files(job: id)
        // What a job whose process or connection was lost leaves: the rows it committed (its first volume's),
        // status R, no end.
        let volumes = try catalog.volumes(job: id)
        try catalog.connection.execute(
            "DELETE FROM files WHERE job_id = \(id) AND volume_id <> \(volumes[0].id);"
                + "DELETE FROM volumes WHERE job_id = \(id) AND sequence > 1;"
                + "UPDATE jobs SET status = 'R', end_time = NULL, end_time_ns = NULL WHERE id = \(id)")
        let partial = try catalog.files(job: id).count
        XCTAssertLessThan(partial, original.count)

        let result = try VolumeScanner.scan(volumes: summary.volumes.reversed(), into: catalog)
        XCTAssertEqual(result.jobs.map(\.job.id), [id])
        XCTAssertEqual(result.jobs[0].replaced?.status, .running)
        let row = try XCTUnwrap(try catalog.job(id))
        XCTAssertEqual(row.status, .ok, "the volumes end with the job trailer")
        XCTAssertEqual(row.clientName, "lossy", "the rebuilt row has the client of the row and of the label")
        XCTAssertNotNil(row.endTime)
        // The rows match the volumes: one per member, pointing into the new volume rows.
        XCTAssertEqual(try catalog.files(job: id).count, result.jobs[0].entries)
        XCTAssertEqual(result.jobs[0].entries, original.filter { $0.status == .stored }.count)
        XCTAssertEqual(try catalog.volumes(job: id).map(\.path), summary.volumes)
        XCTAssertEqual(try catalog.jobs(name: nil).count, 1)
        let messages = try catalog.messages(job: id).map(\.text)
        XCTAssertEqual(messages.count, 1, "\(messages)")
        XCTAssertTrue(messages[0].hasPrefix("rebuilt by scan from \(summary.volumes.count) volumes"), messages[0])
        XCTAssertTrue(
            messages[0].hasSuffix(
                "; replaced what the catalog held of this unfinished job (status R: \(partial) files rows, 0 messages, "
                    + "1 volume)"), messages[0])
        let target = directory.path + "/restored"
        let restored = try restore(catalog, jobID: id, to: target)
        XCTAssertEqual(restored.status, .ok, restored.failure ?? "")
        let (status, output) = try shell("diff -r '\(source)' '\(target)\(source)'")
        XCTAssertEqual(status, 0, output)
    }

    func testScanGivesAJobTheClientOfItsLabelAndNoneForALabelWithoutIt() throws {
        for index in 0..<3 { try write("f\(index).bin", noise(10_000, seed: UInt64(index))) }
        let original = try openCatalog()
        defer { try? original.close() }
        let named = try backup(maximumVolumeBytes: 15_000, client: "far-host")
        let older = try backup(client: "old-host")
        XCTAssertGreaterThanOrEqual(named.volumes.count, 2)
        let namedID = JobID(rawValue: named.jobID)
        let olderID = JobID(rawValue: older.jobID)
        XCTAssertEqual(try original.job(namedID)?.clientName, "far-host")
        // Every volume's label names the client.
        for volume in named.volumes + older.volumes {
            let reader = try PaxReader(path: volume)
            _ = try reader.next()
            let client = reader.labels.first?.first { $0.key == "OPTIONPIPELINE.label.client" }?.value
            let expected = named.volumes.contains(volume) ? "far-host" : "old-host"
            XCTAssertEqual(client.map { String(decoding: $0, as: UTF8.self) }, expected, volume)
        }
        // The second job's volumes as a build before the client record wrote them.
        for volume in older.volumes { try stripLabelRecord("client", in: volume) }

        let (result, scanned) = try scanIntoNew(try volumeFiles())
        defer { try? scanned.close() }
        XCTAssertEqual(result.jobs.map(\.job.id), [namedID, olderID])
        XCTAssertEqual(result.jobs.map(\.job.clientName), ["far-host", nil])
        XCTAssertEqual(try scanned.job(namedID)?.clientName, "far-host")
        XCTAssertEqual(try XCTUnwrap(try scanned.job(olderID)).clientName, nil, "a label without the record")
        // Apart from the client, the label without the record gives the same job.
        var expected = try XCTUnwrap(try original.job(olderID))
        var rebuilt = try XCTUnwrap(try scanned.job(olderID))
        (expected.clientName, expected.fileSetText, expected.warnings) = (nil, nil, 0)
        rebuilt.endTime = expected.endTime
        XCTAssertEqual(rebuilt, expected)
        try assertSameRows(original, scanned, job: olderID)
    }

    func testScanRefusesAnUnfinishedJobOfAnotherClientAndGivesARowWithoutOneTheLabels() throws {
        for index in 0..<3 { try write("f\(index).bin", noise(10_000, seed: UInt64(index))) }
        let summary = try backup(client: "lossy")
        let id = JobID(rawValue: summary.jobID)
        let catalog = try openCatalog()
        defer { try? catalog.close() }
        let start = try XCTUnwrap(try catalog.job(id)).startTime
        // The same name and start time, not finished, but another client: not the job the volumes hold.
        try catalog.connection.execute(
            "UPDATE jobs SET status = 'f', end_time = NULL, end_time_ns = NULL, client_name = 'other' WHERE id = \(id)")
        try assertScanRefused(
            summary.volumes, into: catalog,
            "JobId \(id) of the catalog \(catalog.path) is another job (j, client other, started "
                + "\(HumanTime.local(start))) than the one \(summary.volumes[0]) holds (j, client lossy, started "
                + "\(HumanTime.local(start))): the volumes come from another catalog; nothing was scanned")

        // A row without a client (a build before issue 15, or a scan of older volumes) gets the label's.
        try catalog.connection.execute("UPDATE jobs SET client_name = NULL WHERE id = \(id)")
        let result = try VolumeScanner.scan(volumes: summary.volumes, into: catalog)
        XCTAssertEqual(result.jobs.map(\.job.id), [id])
        XCTAssertEqual(result.jobs[0].replaced?.status, .failed)
        XCTAssertEqual(result.jobs[0].replaced?.clientName, nil)
        let row = try XCTUnwrap(try catalog.job(id))
        XCTAssertEqual(row.status, .ok)
        XCTAssertEqual(row.clientName, "lossy")
    }

    func testADamagedVolumeMidScanLeavesTheCatalogAsItWas() throws {
        for index in 0..<6 { try write("f\(index).bin", noise(60_000, seed: UInt64(index))) }
        let kept = try backup()
        let lost = try backup(maximumVolumeBytes: 150_000)
        let damaged = try backup(maximumVolumeBytes: 150_000)
        let catalog = try openCatalog()
        defer { try? catalog.close() }
        // The catalog lacks the last two jobs, and holds the first as unfinished (it would be replaced).
        try catalog.deleteJob(JobID(rawValue: lost.jobID))
        try catalog.deleteJob(JobID(rawValue: damaged.jobID))
        try catalog.connection.execute("UPDATE jobs SET status = 'R' WHERE id = \(kept.jobID)")
        let before = try snapshot(catalog)
        // The last job's first volume is cut short (its end and part of its last member): the scan has written
        // the first two jobs (in its transaction) when it finds that.
        XCTAssertGreaterThanOrEqual(damaged.volumes.count, 2)
        let cut = damaged.volumes[0]
        var info = Glibc.stat()
        XCTAssertEqual(stat(cut, &info), 0)
        XCTAssertEqual(truncate(cut, off_t(info.st_size - 4096)), 0)
        let progress = ProgressCounters()
        XCTAssertThrowsError(try VolumeScanner.scan(volumes: try volumeFiles(), into: catalog, progress: progress)) {
            error in
            XCTAssertTrue("\(error)".hasPrefix(cut), "\(error)")
        }
        XCTAssertGreaterThan(progress.entries.load(ordering: .relaxed), kept.entriesStored, "the scan got past the first job")
        XCTAssertEqual(try snapshot(catalog), before, "a failed scan changed the catalog")
        // The same catalog takes the next scan (the transaction is closed) and the next backup.
        let result = try VolumeScanner.scan(
            volumes: kept.volumes + lost.volumes, into: catalog)
        XCTAssertEqual(result.jobs.map(\.job.id.rawValue), [kept.jobID, lost.jobID])
        XCTAssertEqual(try catalog.job(JobID(rawValue: kept.jobID))?.status, .ok)
        XCTAssertGreaterThan(try backup().jobID, damaged.jobID)
    }
}

/// ``ScanTests`` on a PostgreSQL catalog: a rebuilt catalog is an empty database the scan adds to. (Each test is
/// declared again here: test discovery on Linux finds only the methods a class declares itself.)
final class PostgreSQLScanTests: ScanTests {
    override var driver: TestCatalogs.Driver { .postgreSQL }

    override func testScanRebuildsJobsVolumesAndFilesAndRestoresTheSameTree() throws { try super.testScanRebuildsJobsVolumesAndFilesAndRestoresTheSameTree() }
    override func testScanOfIncrementalChainGivesTheSameStateAsTheOriginal() throws { try super.testScanOfIncrementalChainGivesTheSameStateAsTheOriginal() }
    override func testScanReportsDamagedForeignAndMissingVolumesAndLeavesNothing() throws { try super.testScanReportsDamagedForeignAndMissingVolumesAndLeavesNothing() }
    override func testJobWithoutTrailerIsRebuiltAsFailedWithCountsFromItsMembers() throws { try super.testJobWithoutTrailerIsRebuiltAsFailedWithCountsFromItsMembers() }
    override func testScanIntoACatalogRefusesAFinishedJobOrSkipsItAndAddsAJobItLacks() throws { try super.testScanIntoACatalogRefusesAFinishedJobOrSkipsItAndAddsAJobItLacks() }
    override func testScanRefusesAnotherJobUnderTheSameJobIDNamingBoth() throws { try super.testScanRefusesAnotherJobUnderTheSameJobIDNamingBoth() }
    override func testScanReplacesTheRowsOfAnUnfinishedJobKeepsItsClientAndRestores() throws { try super.testScanReplacesTheRowsOfAnUnfinishedJobKeepsItsClientAndRestores() }
    override func testADamagedVolumeMidScanLeavesTheCatalogAsItWas() throws { try super.testADamagedVolumeMidScanLeavesTheCatalogAsItWas() }
    override func testOneTransactionKeepsAllOrNothingAndANestedFailureUndoesOnlyItself() throws { try super.testOneTransactionKeepsAllOrNothingAndANestedFailureUndoesOnlyItself() }
    override func testAJobIDAddedBackBelowTheNewestIsNotHandedOutAgain() throws { try super.testAJobIDAddedBackBelowTheNewestIsNotHandedOutAgain() }
    override func testScanGivesAJobTheClientOfItsLabelAndNoneForALabelWithoutIt() throws { try super.testScanGivesAJobTheClientOfItsLabelAndNoneForALabelWithoutIt() }
    override func testScanRefusesAnUnfinishedJobOfAnotherClientAndGivesARowWithoutOneTheLabels() throws { try super.testScanRefusesAnUnfinishedJobOfAnotherClientAndGivesARowWithoutOneTheLabels() }
}
