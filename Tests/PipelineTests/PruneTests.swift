import Foundation
import PipelineTestSupport
import XCTest

@testable import Pipeline

/// `prune` (retention) through ``Pruner``, on real backups and on jobs recorded through the catalog API, on SQLite;
/// ``PostgreSQLPruneTests`` runs every test on a PostgreSQL catalog.
class PruneTests: CatalogTestCase {
    var source: String { path("src") }
    var archive: String { path("volumes") }

    override func setUpWithError() throws {
        try super.setUpWithError()
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: archive, withIntermediateDirectories: true)
    }

    // MARK: - Helpers

    func write(_ relative: String, _ bytes: [UInt8]) throws {
        XCTAssertTrue(try Shell.writeFile(source, relative, bytes, mode: 0o644), relative)
    }

    /// A Full backup of `source` as Job `j`; the job writes through a connection of its own, the caller reads
    /// through `store`.
    func backup(maximumVolumeBytes: UInt64? = nil, store: DatabaseCatalog) throws -> JobSummary {
        let text = """
            FileSet { Name = fs; Include { Options { Compression = GZIP; Signature = MD5 }; File = "\(source)" } }
            Job { Name = j; Type = Backup; Level = Full; FileSet = fs }
            """
        let configuration = try Configuration.parse(text: text, fileName: "t.conf")
        let fileSet = try XCTUnwrap(configuration.fileSets["fs"])
        var settings = BackupSettings(archiveDirectory: archive, workers: 2)
        settings.batchEntries = 16
        settings.maximumVolumeBytes = maximumVolumeBytes
        let job = BackupJob(
            job: configuration.job(named: "j")!, fileSet: fileSet, chains: configuration.chains(for: fileSet),
            catalog: try catalogs.open(create: false), settings: settings, stageFactory: TestStageFactory().factory)
        let summary = try job.runClosingCatalog()
        XCTAssertEqual(summary.status, .ok, "\(summary)")
        return summary
    }

    /// Every job with its status and the counts of its rows, and every volume row: what a dry run must not change.
    func snapshot(_ catalog: DatabaseCatalog) throws -> [String] {
        try catalog.jobs(name: nil).flatMap { job in
            ["\(job.id) \(job.status) files \(try catalog.files(job: job.id).count) messages "
                + "\(try catalog.messages(job: job.id).count)"]
                + (try catalog.volumes(job: job.id)).map { "  \($0.id) \($0.path) \($0.status) \($0.bytes)" }
        }
    }

    /// A job recorded through the catalog API with one row in one (fake) volume file of its own.
    @discardableResult
    func insertJob(
        _ catalog: DatabaseCatalog, level: JobLevel, start: Int64, status: JobStatus = .ok, name: String = "j",
        client: String? = nil
    ) throws -> (JobID, String) {
        var job = JobRecord(
            name: name, level: level, status: .running, fileSetName: "fs", fileSetDigest: "d", clientName: client,
            startTime: FileStat.Timestamp(seconds: start, nanoseconds: 0))
        job.id = try catalog.beginJob(job)
        let volume = "\(archive)/\(name)-\(job.id.rawValue)-0001.tar"
        XCTAssertTrue(FileManager.default.createFile(atPath: volume, contents: Data("volume".utf8)))
        let volumeID = try catalog.addVolume(
            VolumeRecord(
                jobID: job.id, name: (volume as NSString).lastPathComponent, path: volume, sequence: 1, bytes: 6,
                status: "closed"))
        try catalog.insert(
            files: [
                FileRecord(
                    jobID: job.id, fileIndex: 0, path: Array("/data/\(job.id.rawValue)".utf8), kind: .file,
                    volumeID: volumeID, headerOffset: 0, dataOffset: 512, storedLength: 6)
            ],
            messages: [JobMessage(jobID: job.id, time: job.startTime, severity: "info", text: "job \(job.id)")])
        job.status = status
        job.endTime = FileStat.Timestamp(seconds: start + 60, nanoseconds: 0)
        try catalog.finishJob(job)
        return (job.id, volume)
    }

    func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    /// Start times an hour apart, for jobs recorded one after the other.
    private var lastStart: Int64 = 1_700_000_000
    func nextStart() -> Int64 {
        lastStart += 3600
        return lastStart
    }

    // MARK: - Tests

    func testPruneKeepLastTwoOfFiveFullsRemovesJobsOneToThreeAndTheirVolumes() throws {
        for index in 0..<3 { try write("f\(index).bin", noise(120_000, seed: UInt64(index))) }
        let store = try openCatalog()
        defer { try? store.close() }
        var volumesOf: [JobID: [String]] = [:]
        for run in 0..<5 {
            try write("run.txt", Array("run \(run)".utf8))
            let summary = try backup(maximumVolumeBytes: 200_000, store: store)
            volumesOf[JobID(rawValue: summary.jobID)] = summary.volumes
        }
        let ids = volumesOf.keys.sorted()
        XCTAssertEqual(ids.map(\.rawValue), [1, 2, 3, 4, 5])
        XCTAssertTrue(volumesOf.values.allSatisfy { $0.count >= 2 })

        // Dry run: the plan, and nothing changes.
        let before = try snapshot(store)
        let dry = try Pruner(catalog: store, jobName: "j", policy: .keepLast(2)).plan()
        XCTAssertEqual(dry.kept.map(\.job.id), [ids[4], ids[3]])
        XCTAssertEqual(dry.kept.map(\.reason), ["policy", "policy"])
        XCTAssertEqual(dry.removed.map(\.id), [ids[0], ids[1], ids[2]])
        XCTAssertEqual(Set(dry.volumes.map(\.volume.path)), Set(ids[0...2].flatMap { volumesOf[$0]! }))
        XCTAssertTrue(dry.volumes.allSatisfy(\.delete))
        XCTAssertEqual(try snapshot(store), before)
        for path in volumesOf.values.flatMap({ $0 }) { XCTAssertTrue(exists(path), path) }

        // The real run follows the same plan.
        let pruner = Pruner(catalog: store, jobName: "j", policy: .keepLast(2))
        let plan = try pruner.plan()
        XCTAssertEqual(plan.removed.map(\.id), dry.removed.map(\.id))
        XCTAssertEqual(plan.kept.map(\.job.id), dry.kept.map(\.job.id))
        XCTAssertEqual(plan.volumes.map(\.volume.path), dry.volumes.map(\.volume.path))
        let result = try pruner.execute(plan)
        XCTAssertEqual(result.failures.count, 0)
        XCTAssertEqual(Set(result.deleted), Set(ids[0...2].flatMap { volumesOf[$0]! }))
        for id in ids[0...2] {
            XCTAssertNil(try store.job(id))
            XCTAssertEqual(try store.files(job: id).count, 0)
            XCTAssertEqual(try store.volumes(job: id).count, 0)
            XCTAssertEqual(try store.messages(job: id).count, 0)
            for path in volumesOf[id]! { XCTAssertFalse(exists(path), path) }
        }
        for id in ids[3...4] {
            XCTAssertNotNil(try store.job(id))
            XCTAssertEqual(try store.volumes(job: id).map(\.path), volumesOf[id]!)
            for path in volumesOf[id]! { XCTAssertTrue(exists(path), path) }
            XCTAssertEqual(try VerifyJob(catalog: store, jobID: id).run().mismatches.count, 0)
        }
        let target = path("restore")
        let restored = try RestoreJob(
            catalog: store, jobID: ids[4], settings: RestoreSettings(whereDirectory: target),
            stageFactory: TestStageFactory().factory
        ).run()
        XCTAssertEqual(restored.status, .ok)
        XCTAssertEqual(try Shell.run("diff -r '\(source)' '\(target)\(source)'").status, 0)
        // A second prune has nothing left to do; JobIds are not reused.
        XCTAssertEqual(try Pruner(catalog: store, jobName: "j", policy: .keepLast(2)).plan().removed.count, 0)
        XCTAssertEqual(try backup(store: store).jobID, 7)  // the restore above is JobId 6
    }

    func testPruneOlderThanUsesStartTimes() throws {
        let catalog = try openCatalog()
        defer { try? catalog.close() }
        let now = FileStat.Timestamp(seconds: 1_800_000_000, nanoseconds: 0)
        let day: Int64 = 86_400
        for age in [40, 20, 5, 1] as [Int64] {
            try insertJob(catalog, level: .full, start: now.seconds - age * day)
        }
        let seconds = try XCTUnwrap(ConfigValues.time("30 days"))
        let plan = try Pruner(catalog: catalog, jobName: "j", policy: .olderThan(seconds: seconds), now: now).plan()
        XCTAssertEqual(plan.removed.map(\.id.rawValue), [1])
        XCTAssertEqual(plan.kept.map(\.job.id.rawValue), [4, 3, 2])
    }

    func testPruneKeepsTheFullAndIncrementalsAKeptIncrementalNeeds() throws {
        let catalog = try openCatalog()
        defer { try? catalog.close() }
        // F1 I2 I3 F4 I5 I6(failed) I7, and another Job name that must not be touched.
        let (f1, f1Volume) = try insertJob(catalog, level: .full, start: nextStart())
        let (i2, _) = try insertJob(catalog, level: .incremental, start: nextStart())
        let (i3, _) = try insertJob(catalog, level: .incremental, start: nextStart())
        let (other, otherVolume) = try insertJob(catalog, level: .full, start: nextStart(), name: "other")
        let (f4, f4Volume) = try insertJob(catalog, level: .full, start: nextStart())
        let (i5, i5Volume) = try insertJob(catalog, level: .incremental, start: nextStart())
        let (i6, i6Volume) = try insertJob(catalog, level: .incremental, start: nextStart(), status: .failed)
        let (i7, i7Volume) = try insertJob(catalog, level: .incremental, start: nextStart())

        // Keep the last 1 successful job: I7, which needs F4 and I5; the failed I6 is newer than I5 only.
        let pruner = Pruner(catalog: catalog, jobName: "j", policy: .keepLast(1))
        let plan = try pruner.plan()
        XCTAssertEqual(plan.kept.map(\.job.id), [i7, i5, f4])
        XCTAssertEqual(plan.kept.map(\.reason), ["policy", "chain", "chain"])
        XCTAssertEqual(plan.kept.map(\.neededBy), [nil, i7, i7])
        XCTAssertEqual(plan.removed.map(\.id), [f1, i2, i3, i6])
        XCTAssertEqual(
            Set(plan.volumes.map(\.volume.path)),
            Set([f1Volume, i6Volume] + [i2, i3].map { "\(archive)/j-\($0.rawValue)-0001.tar" }))
        _ = try pruner.execute(plan)
        for path in [f4Volume, i5Volume, i7Volume, otherVolume] { XCTAssertTrue(exists(path), path) }
        for path in [f1Volume, i6Volume] { XCTAssertFalse(exists(path), path) }
        XCTAssertEqual(try JobChain.jobs(asOf: i7, in: catalog).map(\.id), [f4, i5, i7])
        XCTAssertNotNil(try catalog.job(other))
        XCTAssertEqual(try catalog.jobs(name: "j").map(\.id), [i7, i5, f4])

        // Keep the last 2: I7 and I5; a kept Incremental keeps its Full and that Full's volume.
        let keepTwo = try Pruner(catalog: catalog, jobName: "j", policy: .keepLast(2)).plan()
        XCTAssertEqual(keepTwo.removed.count, 0)
        XCTAssertEqual(Set(keepTwo.kept.map(\.job.id)), [i7, i5, f4])
    }

    func testPruneNeverDeletesAVolumeAnotherRemainingRowNames() throws {
        let catalog = try openCatalog()
        defer { try? catalog.close() }
        let (old, oldVolume) = try insertJob(catalog, level: .full, start: 1_700_000_000)
        let (newer, _) = try insertJob(catalog, level: .full, start: 1_700_100_000)
        // The kept job's rows point into the old job's volume (a catalog built by hand): the old job stays.
        var record = try XCTUnwrap(try catalog.files(job: newer).first)
        record.fileIndex = 1
        record.volumeID = try XCTUnwrap(try catalog.volumes(job: old).first?.id)
        try catalog.insert(files: [record], messages: [])
        let plan = try Pruner(catalog: catalog, jobName: "j", policy: .keepLast(1)).plan()
        XCTAssertEqual(plan.removed.count, 0)
        XCTAssertEqual(plan.kept.map(\.reason), ["policy", "volume"])

        // A second volume row naming the same file (another Job name): the job goes, the file stays.
        let (third, _) = try insertJob(catalog, level: .full, start: 1_700_200_000, name: "k")
        _ = try catalog.addVolume(
            VolumeRecord(jobID: third, name: "shared", path: oldVolume, sequence: 2, bytes: 6, status: "closed"))
        try catalog.deleteJob(newer)
        try insertJob(catalog, level: .full, start: 1_700_300_000)
        let pruner = Pruner(catalog: catalog, jobName: "j", policy: .keepLast(1))
        let second = try pruner.plan()
        XCTAssertEqual(second.removed.map(\.id), [old])
        XCTAssertEqual(second.volumes.map(\.delete), [false])
        XCTAssertEqual(second.volumes.first?.keptFor, [third])
        _ = try pruner.execute(second)
        XCTAssertTrue(exists(oldVolume))
        XCTAssertThrowsError(try catalog.deleteJob(old))
    }

    /// Two clients with the same Job name (one catalog for several hosts): a prune of one client removes only its
    /// jobs; the other client's jobs stay, and so do the volumes of removed jobs that their rows point into or
    /// that their volume rows name.
    func testPruneOfOneClientLeavesTheOtherClientsJobsAndTheVolumesTheyNeed() throws {
        let catalog = try openCatalog()
        defer { try? catalog.close() }
        let (a1, a1Volume) = try insertJob(catalog, level: .full, start: nextStart(), client: "web1")
        let (b1, b1Volume) = try insertJob(catalog, level: .full, start: nextStart(), client: "web2")
        let (a2, a2Volume) = try insertJob(catalog, level: .full, start: nextStart(), client: "web1")
        let (b2, b2Volume) = try insertJob(catalog, level: .full, start: nextStart(), client: "web2")
        let (a3, a3Volume) = try insertJob(catalog, level: .full, start: nextStart(), client: "web1")
        let (a4, a4Volume) = try insertJob(catalog, level: .full, start: nextStart(), client: "web1")
        // web2's B2 has a row in A2's volume, and B1 a volume row naming A3's file.
        var record = try XCTUnwrap(try catalog.files(job: b2).first)
        record.fileIndex = 1
        record.volumeID = try XCTUnwrap(try catalog.volumes(job: a2).first?.id)
        try catalog.insert(files: [record], messages: [])
        _ = try catalog.addVolume(
            VolumeRecord(jobID: b1, name: "copy", path: a3Volume, sequence: 2, bytes: 6, status: "closed"))

        let pruner = Pruner(catalog: catalog, jobName: "j", client: "web1", policy: .keepLast(1))
        let plan = try pruner.plan()
        XCTAssertEqual(plan.client, "web1")
        XCTAssertEqual(plan.kept.map(\.job.id), [a4, a2])
        XCTAssertEqual(plan.kept.map(\.reason), ["policy", "volume"])
        XCTAssertEqual(plan.kept.map(\.neededBy), [nil, b2])
        XCTAssertEqual(plan.removed.map(\.id), [a1, a3])
        XCTAssertEqual(plan.volumes.map(\.volume.path), [a1Volume, a3Volume])
        XCTAssertEqual(plan.volumes.map(\.delete), [true, false])
        XCTAssertEqual(plan.volumes.map(\.keptFor), [[], [b1]])
        let result = try pruner.execute(plan)
        XCTAssertEqual(result.deleted, [a1Volume])
        XCTAssertEqual(try catalog.jobs(name: "j").map(\.id), [a4, b2, a2, b1])
        XCTAssertFalse(exists(a1Volume))
        for path in [a2Volume, a3Volume, a4Volume, b1Volume, b2Volume] { XCTAssertTrue(exists(path), path) }

        // Without a client every job of the name counts: only the newest of all, web1's A4, is kept.
        let all = try Pruner(catalog: catalog, jobName: "j", policy: .keepLast(1)).plan()
        XCTAssertEqual(all.removed.map(\.id), [b1, a2, b2])
        XCTAssertEqual(all.kept.map(\.job.id), [a4])
    }
}

/// Every test of ``PruneTests`` against a PostgreSQL catalog (Linux XCTest finds only methods declared here).
final class PostgreSQLPruneTests: PruneTests {
    override var driver: TestCatalogs.Driver { .postgreSQL }

    override func testPruneKeepLastTwoOfFiveFullsRemovesJobsOneToThreeAndTheirVolumes() throws {
        try super.testPruneKeepLastTwoOfFiveFullsRemovesJobsOneToThreeAndTheirVolumes()
    }
    override func testPruneOlderThanUsesStartTimes() throws { try super.testPruneOlderThanUsesStartTimes() }
    override func testPruneKeepsTheFullAndIncrementalsAKeptIncrementalNeeds() throws {
        try super.testPruneKeepsTheFullAndIncrementalsAKeptIncrementalNeeds()
    }
    override func testPruneNeverDeletesAVolumeAnotherRemainingRowNames() throws {
        try super.testPruneNeverDeletesAVolumeAnotherRemainingRowNames()
    }
    override func testPruneOfOneClientLeavesTheOtherClientsJobsAndTheVolumesTheyNeed() throws {
        try super.testPruneOfOneClientLeavesTheOtherClientsJobsAndTheVolumesTheyNeed()
    }
}
