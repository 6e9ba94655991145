import Foundation
import PipelineTestSupport
import XCTest

@testable import Pipeline

/// `prune` (retention) on real backups of real trees (the `scan` tests are in `ScanTests`, on both drivers).
final class ScanPruneTests: XCTestCase {
    var work: TemporaryDirectory!
    var source: String { work.path + "/src" }
    var catalogPath: String { work.path + "/catalog.db" }
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

    // MARK: - Prune

    func testPruneKeepLastTwoOfFiveFullsRemovesJobsOneToThreeAndTheirVolumes() throws {
        for index in 0..<3 { try write("f\(index).bin", noise(120_000, seed: UInt64(index))) }
        var catalog: SQLiteCatalog?
        var volumesOf: [JobID: [String]] = [:]
        for run in 0..<5 {
            try write("run.txt", Array("run \(run)".utf8))
            let (summary, store) = try backup(maximumVolumeBytes: 200_000, catalog: catalog)
            catalog = store
            volumesOf[JobID(rawValue: summary.jobID)] = summary.volumes
        }
        let store = try XCTUnwrap(catalog)
        let ids = volumesOf.keys.sorted()
        XCTAssertEqual(ids.map(\.rawValue), [1, 2, 3, 4, 5])
        XCTAssertTrue(volumesOf.values.allSatisfy { $0.count >= 2 })

        // Dry run: the plan, and nothing changes.
        let before = try shell("sqlite3 '\(catalogPath)' .dump").1
        let dry = try Pruner(catalog: store, jobName: "j", policy: .keepLast(2)).plan()
        XCTAssertEqual(dry.kept.map(\.job.id), [ids[4], ids[3]])
        XCTAssertEqual(dry.kept.map(\.reason), ["policy", "policy"])
        XCTAssertEqual(dry.removed.map(\.id), [ids[0], ids[1], ids[2]])
        XCTAssertEqual(Set(dry.volumes.map(\.volume.path)), Set(ids[0...2].flatMap { volumesOf[$0]! }))
        XCTAssertTrue(dry.volumes.allSatisfy(\.delete))
        XCTAssertEqual(try shell("sqlite3 '\(catalogPath)' .dump").1, before)
        for path in volumesOf.values.flatMap({ $0 }) { XCTAssertTrue(FileManager.default.fileExists(atPath: path)) }

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
            for path in volumesOf[id]! { XCTAssertFalse(FileManager.default.fileExists(atPath: path), path) }
        }
        for id in ids[3...4] {
            XCTAssertNotNil(try store.job(id))
            XCTAssertEqual(try store.volumes(job: id).map(\.path), volumesOf[id]!)
            for path in volumesOf[id]! { XCTAssertTrue(FileManager.default.fileExists(atPath: path), path) }
            XCTAssertEqual(try VerifyJob(catalog: store, jobID: id).run().mismatches.count, 0)
        }
        XCTAssertEqual(try restore(store, jobID: ids[4], to: work.path + "/restore").status, .ok)
        XCTAssertEqual(try shell("diff -r '\(source)' '\(work.path)/restore\(source)'").0, 0)
        // A second prune has nothing left to do; JobIds are not reused.
        XCTAssertEqual(try Pruner(catalog: store, jobName: "j", policy: .keepLast(2)).plan().removed.count, 0)
        let (next, _) = try backup(catalog: store)
        XCTAssertEqual(next.jobID, 7)  // the restore above is JobId 6
    }

    func testPruneOlderThanUsesStartTimes() throws {
        let catalog = try SQLiteCatalog.open(path: catalogPath, create: true)
        defer { try? catalog.close() }
        let now = FileStat.Timestamp(seconds: 1_800_000_000, nanoseconds: 0)
        let day: Int64 = 86_400
        for age in [40, 20, 5, 1] as [Int64] {
            _ = try insertJob(catalog, level: .full, start: now.seconds - age * day)
        }
        let seconds = try XCTUnwrap(ConfigValues.time("30 days"))
        let plan = try Pruner(catalog: catalog, jobName: "j", policy: .olderThan(seconds: seconds), now: now).plan()
        XCTAssertEqual(plan.removed.map(\.id.rawValue), [1])
        XCTAssertEqual(plan.kept.map(\.job.id.rawValue), [4, 3, 2])
    }

    /// A job inserted through the catalog API with one (fake) volume file.
    @discardableResult
    func insertJob(
        _ catalog: SQLiteCatalog, level: JobLevel, start: Int64, status: JobStatus = .ok, name: String = "j"
    ) throws -> (JobID, String) {
        var job = JobRecord(
            name: name, level: level, status: .running, fileSetName: "fs", fileSetDigest: "d",
            startTime: FileStat.Timestamp(seconds: start, nanoseconds: 0))
        job.id = try catalog.beginJob(job)
        let volume = "\(archive)/\(name)-\(job.id.rawValue)-0001.tar"
        XCTAssertTrue(FileManager.default.createFile(atPath: volume, contents: Data("volume".utf8)))
        let volumeID = try catalog.addVolume(
            VolumeRecord(jobID: job.id, name: (volume as NSString).lastPathComponent, path: volume, sequence: 1, bytes: 6, status: "closed"))
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

    func testPruneKeepsTheFullAndIncrementalsAKeptIncrementalNeeds() throws {
        let catalog = try SQLiteCatalog.open(path: catalogPath, create: true)
        defer { try? catalog.close() }
        var start: Int64 = 1_700_000_000
        func next() -> Int64 {
            start += 3600
            return start
        }
        // F1 I2 I3 F4 I5 I6(failed) I7, and another Job name that must not be touched.
        let (f1, f1Volume) = try insertJob(catalog, level: .full, start: next())
        let (i2, _) = try insertJob(catalog, level: .incremental, start: next())
        let (i3, _) = try insertJob(catalog, level: .incremental, start: next())
        let (other, otherVolume) = try insertJob(catalog, level: .full, start: next(), name: "other")
        let (f4, f4Volume) = try insertJob(catalog, level: .full, start: next())
        let (i5, i5Volume) = try insertJob(catalog, level: .incremental, start: next())
        let (i6, i6Volume) = try insertJob(catalog, level: .incremental, start: next(), status: .failed)
        let (i7, i7Volume) = try insertJob(catalog, level: .incremental, start: next())

        // Keep the last 1 successful job: I7, which needs F4 and I5; the failed I6 is newer than I5 only.
        let pruner = Pruner(catalog: catalog, jobName: "j", policy: .keepLast(1))
        let plan = try pruner.plan()
        XCTAssertEqual(plan.kept.map(\.job.id), [i7, i5, f4])
        XCTAssertEqual(plan.kept.map(\.reason), ["policy", "chain", "chain"])
        XCTAssertEqual(plan.kept.map(\.neededBy), [nil, i7, i7])
        XCTAssertEqual(plan.removed.map(\.id), [f1, i2, i3, i6])
        XCTAssertEqual(Set(plan.volumes.map(\.volume.path)), Set([f1Volume, i6Volume] + [i2, i3].map { "\(archive)/j-\($0.rawValue)-0001.tar" }))
        _ = try pruner.execute(plan)
        for path in [f4Volume, i5Volume, i7Volume, otherVolume] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: path), path)
        }
        for path in [f1Volume, i6Volume] { XCTAssertFalse(FileManager.default.fileExists(atPath: path), path) }
        XCTAssertEqual(try JobChain.jobs(asOf: i7, in: catalog).map(\.id), [f4, i5, i7])
        XCTAssertNotNil(try catalog.job(other))
        XCTAssertEqual(try catalog.jobs(name: "j").map(\.id), [i7, i5, f4])

        // Keep the last 2: I7 and I5; a kept Incremental keeps its Full and that Full's volume.
        let keepTwo = try Pruner(catalog: catalog, jobName: "j", policy: .keepLast(2)).plan()
        XCTAssertEqual(keepTwo.removed.count, 0)
        XCTAssertEqual(Set(keepTwo.kept.map(\.job.id)), [i7, i5, f4])
    }

    func testPruneNeverDeletesAVolumeAnotherRemainingRowNames() throws {
        let catalog = try SQLiteCatalog.open(path: catalogPath, create: true)
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
        let (_, _) = try insertJob(catalog, level: .full, start: 1_700_300_000)
        let pruner = Pruner(catalog: catalog, jobName: "j", policy: .keepLast(1))
        let second = try pruner.plan()
        XCTAssertEqual(second.removed.map(\.id), [old])
        XCTAssertEqual(second.volumes.map(\.delete), [false])
        XCTAssertEqual(second.volumes.first?.keptFor, [third])
        _ = try pruner.execute(second)
        XCTAssertTrue(FileManager.default.fileExists(atPath: oldVolume))
        XCTAssertThrowsError(try catalog.deleteJob(old))
    }
}
