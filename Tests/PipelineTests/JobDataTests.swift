import Foundation
import PipelineTestSupport
import XCTest

@testable import Pipeline

/// What a stage keeps with a job (`recordJobData`) and the metadata its transforms know before the data: both reach
/// the catalog and the volumes, so a restore works from the catalog the backup wrote and from one `scan` rebuilt.
extension BackupRestoreTests {
    func testJobDataAndEarlyMetadataSurviveScanAndTheLastStageNamesTheMember() throws {
        let small = Array("small and keyed\n".utf8)
        var large = [UInt8](repeating: 0, count: 3 << 20)
        for index in large.indices { large[index] = UInt8(truncatingIfNeeded: index &* 13 &+ 1) }
        try write("small.txt", small)
        try write("large.bin", large)
        let factory = TestStageFactory()
        let (summary, catalog) = try backup(
            "  Include {\n    Options { Compression = GZIP; Plugin = \"keyed\" }\n    File = \"\(source)\"\n  }",
            factory: factory)
        XCTAssertEqual(summary.status, .ok, summary.failure ?? "")
        let jobID = JobID(rawValue: summary.jobID)
        let kept = try catalog.jobData(job: jobID)
        XCTAssertEqual(kept.keys.sorted(), ["keyed.key"])
        let records = try catalog.files(job: jobID).filter { $0.kind == .file }
        for record in records {
            XCTAssertEqual(record.stageMetadata["keyed.mode"], "xor")
            XCTAssertEqual(record.stageMetadata[VolumeMember.memberSuffixKey], ".kx")
            XCTAssertEqual(record.compression, "GZIP6", "compressed before the encrypting stage")
        }
        // The members end in the last stage's suffix, and verify expects exactly that name.
        let listing = try shell("tar -tf '\(summary.volumes[0])'").1
        XCTAssertTrue(listing.contains(String(source.dropFirst()) + "/small.txt.kx"), listing)
        XCTAssertTrue(listing.contains(String(source.dropFirst()) + "/large.bin.kx"), listing)
        XCTAssertEqual(try VerifyJob(catalog: catalog, jobID: jobID).run().1.count, 0)
        XCTAssertEqual(try restore(catalog, jobID: summary.jobID, factory: factory).status, .ok)
        XCTAssertEqual(try shell("cmp '\(source)/large.bin' '\(restored("large.bin"))'").0, 0)

        // From volumes alone: the key comes from the label, the metadata of the streamed file from its header.
        let scannedPath = work.path + "/scanned.db"
        _ = try VolumeScanner.scan(volumes: summary.volumes, intoNewCatalog: scannedPath)
        let scanned = try SQLiteCatalog.open(path: scannedPath, create: false)
        XCTAssertEqual(try scanned.jobData(job: jobID), kept)
        for record in try scanned.files(job: jobID) where record.kind == .file {
            XCTAssertEqual(record.stageMetadata["keyed.mode"], "xor", String(decoding: record.path, as: UTF8.self))
        }
        try FileManager.default.removeItem(atPath: target)
        XCTAssertEqual(try restore(scanned, jobID: summary.jobID, factory: factory).status, .ok)
        XCTAssertEqual(try shell("cmp '\(source)/large.bin' '\(restored("large.bin"))'").0, 0)
        XCTAssertEqual(try shell("cmp '\(source)/small.txt' '\(restored("small.txt"))'").0, 0)
    }
}
