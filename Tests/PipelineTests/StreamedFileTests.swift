import Foundation
import PipelineTestSupport
import XCTest

@testable import Pipeline

/// Streamed files (large, sparse, taken over) read and transformed on `StreamPool` threads and appended by the
/// volume writer in walk order.
extension BackupRestoreTests {
    /// Bytes that compress somewhat and differ per file (a seeded generator over a small alphabet).
    func compressible(_ count: Int, seed: UInt64) -> [UInt8] {
        var generator = SplitMix64(state: seed)
        return (0..<count).map { _ in UInt8(ascii: "a") + UInt8(generator.next() % 7) }
    }

    /// Member names of a job's volumes, in volume order (regular files only).
    func memberNames(_ volumes: [String]) throws -> [[UInt8]] {
        var names: [[UInt8]] = []
        for volume in volumes {
            let reader = try PaxReader(path: volume)
            while let (member, _) = try reader.next() {
                if member.kind == .file { names.append(member.name) }
            }
        }
        return names
    }

    func testLargeCompressedFilesOnSeveralStreamThreadsGiveTheVolumeOfOneThread() throws {
        for index in 0..<5 { try write("large-\(index).txt", compressible((5 << 19) + index * 4099, seed: UInt64(index))) }
        try write("small-a.txt", Array("small a\n".utf8))
        try write("small-b.txt", Array("small b\n".utf8))
        // A sparse file: its holes are read as zeros and compressed like any other bytes.
        XCTAssertEqual(try shell("truncate -s 3M '\(source)/sparse.bin' && printf 'data' | dd of='\(source)/sparse.bin' bs=1 seek=1048576 conv=notrunc status=none").0, 0)
        let body = "  Include {\n    Options { Compression = GZIP; Plugin = \"observe\" }\n    File = \"\(source)\"\n  }"
        var runs: [(names: [[UInt8]], stored: [[UInt8]: [UInt8]], walk: [[UInt8]])] = []
        for threads in [1, 4] {
            let factory = TestStageFactory()
            let (summary, catalog) = try backup(body, factory: factory) {
                $0.streamThreads = threads
                $0.chunkSize = 256 << 10
                $0.streamChunksPerFile = 2
            }
            XCTAssertEqual(summary.status, .ok, summary.failure ?? "")
            XCTAssertEqual(summary.filesStored, 8)
            let records = try catalog.files(job: JobID(rawValue: summary.jobID)).filter { $0.kind == .file }
            XCTAssertEqual(Set(records.map(\.compression)), ["GZIP6"])
            let walk = records.sorted { $0.fileIndex < $1.fileIndex }.map { VolumeMember.memberName($0.path) + Array(".gz".utf8) }
            let observed = try XCTUnwrap(factory.made("observe") as? ObservingStage).files
            for record in records {
                // Observers before the transform saw exactly the source bytes the host hashed.
                XCTAssertEqual(observed[record.path]?.bytesSHA256, record.sourceSHA256)
                XCTAssertNil(observed[record.path]?.abandoned)
            }
            runs.append(
                (try memberNames(summary.volumes), Dictionary(uniqueKeysWithValues: records.map { ($0.path, $0.storedSHA256 ?? []) }), walk))
            XCTAssertEqual(try restore(catalog, jobID: summary.jobID).status, .ok)
            XCTAssertEqual(try shell("diff -r '\(source)' '\(target + source)'").0, 0)
            try catalog.close()
            for path in [catalogPath, archive, target] { try FileManager.default.removeItem(atPath: path) }
        }
        // Member order is the walk order, whatever thread finished a file first; gzip output is deterministic.
        XCTAssertEqual(runs[0].names, runs[0].walk)
        XCTAssertEqual(runs[1].names, runs[1].walk)
        XCTAssertEqual(runs[0].names, runs[1].names)
        XCTAssertEqual(runs[0].stored, runs[1].stored)
    }

    func testAStageFailingMidStreamFailsThatFileAndTheJobGoesOnByPolicy() throws {
        try write("big-1.txt", compressible(3 << 20, seed: 1))
        try write("big-breakme.txt", compressible(3 << 20, seed: 2))
        try write("big-2.txt", compressible(3 << 20, seed: 3))
        let body =
            "  Include {\n    Options { Compression = GZIP; Plugin = \"observe\"; Plugin = \"broken:breakme\" }\n"
            + "    File = \"\(source)\"\n  }"
        let broken = Array((source + "/big-breakme.txt").utf8)
        for policy in [Job.StageErrorPolicy.continue, .fail] {
            let factory = TestStageFactory()
            let (summary, catalog) = try backup(body, factory: factory) {
                $0.stageErrorPolicy = policy
                $0.chunkSize = 256 << 10
            }
            let records = try catalog.files(job: JobID(rawValue: summary.jobID)).filter { $0.kind == .file }
            let failed = try XCTUnwrap(records.first { $0.path == broken })
            XCTAssertEqual(failed.status, .failed)
            XCTAssertEqual(failed.error, "stage broken:breakme: test transform fails")
            let observed = try XCTUnwrap(factory.made("observe") as? ObservingStage).files
            XCTAssertEqual(observed[broken]?.abandoned, "stage broken:breakme: test transform fails")
            XCTAssertFalse(try memberNames(summary.volumes).contains { $0.starts(with: VolumeMember.memberName(broken)) })
            let messages = try catalog.messages(job: JobID(rawValue: summary.jobID))
            XCTAssertTrue(messages.contains { $0.path == broken && $0.severity == "error" }, "\(messages)")
            if policy == .continue {
                XCTAssertEqual(summary.status, .warnings, summary.failure ?? "")
                XCTAssertEqual(summary.filesFailed, 1)
                XCTAssertEqual(summary.filesStored, 2)
                XCTAssertEqual(Set(records.filter { $0.path != broken }.map(\.status)), [.stored])
                XCTAssertEqual(try restore(catalog, jobID: summary.jobID).status, .ok)
                XCTAssertEqual(try shell("cmp '\(source)/big-1.txt' '\(restored("big-1.txt"))' && cmp '\(source)/big-2.txt' '\(restored("big-2.txt"))'").0, 0)
            } else {
                XCTAssertEqual(summary.status, .failed)
                XCTAssertTrue(summary.failure?.hasPrefix("Stage Error Policy = fail: ") ?? false, summary.failure ?? "")
            }
            try catalog.close()
            for path in [catalogPath, archive, target] where FileManager.default.fileExists(atPath: path) {
                try FileManager.default.removeItem(atPath: path)
            }
        }
    }
}
