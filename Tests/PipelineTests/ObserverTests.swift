import Foundation
import PipelineTestSupport
import XCTest

@testable import Pipeline

/// The observe-only role through the real engine: observers see the source bytes without changing them, the host
/// keeps its sparse and "stored = source" shortcuts, observers after a transform see the transformed bytes, and a
/// file that is not stored is abandoned, never finished.
extension BackupRestoreTests {
    fileprivate func sha256(_ bytes: [UInt8]) -> [UInt8] {
        let digester = try! Digester(.sha256)
        bytes.withUnsafeBytes { digester.update($0) }
        return try! digester.finalize()  // a test helper: a failure here fails the test run
    }

    fileprivate func record(_ catalog: SQLiteCatalog, _ summary: JobSummary, _ name: String) throws -> FileRecord {
        try XCTUnwrap(
            try catalog.files(job: JobID(rawValue: summary.jobID)).first { $0.path == Array((source + "/" + name).utf8) })
    }

    func testObserversSeeSourceBytesOfSmallStreamedAndSparseFilesAndKeepTheShortcuts() throws {
        let small = Array("small file contents\n".utf8)
        var large = [UInt8](repeating: 0, count: 3 << 20)
        for index in large.indices { large[index] = UInt8(truncatingIfNeeded: index &* 31 &+ 7) }
        try write("small.txt", small)
        try write("large.bin", large)
        let sparsePath = source + "/sparse.img"
        let fd = open(sparsePath, O_CREAT | O_WRONLY, 0o644)
        XCTAssertEqual(ftruncate(fd, 64 << 20), 0)
        XCTAssertEqual(pwrite(fd, "middle", 6, 32 << 20), 6)
        close(fd)
        var sparse = [UInt8](repeating: 0, count: 64 << 20)
        sparse.replaceSubrange((32 << 20)..<((32 << 20) + 6), with: Array("middle".utf8))
        let factory = TestStageFactory()
        let (summary, catalog) = try backup(
            "  Include {\n    Options { Plugin = \"observe\"; Plugin = \"observe:nobytes\" }\n    File = \"\(source)\"\n  }",
            factory: factory)
        XCTAssertEqual(summary.status, .ok, summary.failure ?? "")
        let observer = try XCTUnwrap(factory.made("observe") as? ObservingStage)
        let blind = try XCTUnwrap(factory.made("observe:nobytes") as? ObservingStage)
        for (name, bytes) in [("small.txt", small), ("large.bin", large), ("sparse.img", sparse)] {
            let path = Array((source + "/" + name).utf8)
            let seen = try XCTUnwrap(observer.files[path], name)
            XCTAssertEqual(seen.bytesSHA256, sha256(bytes), name)
            XCTAssertEqual(seen.hostSHA256, sha256(bytes), name)
            XCTAssertEqual(seen.bytesObserved, UInt64(bytes.count), name)
            XCTAssertEqual(seen.placement, ObserverPlacement(seesSourceBytes: true, chainEncrypts: false))
            XCTAssertEqual(blind.files[path]?.hostSHA256, sha256(bytes), "a stage that needs no bytes gets the digest")
            let row = try record(catalog, summary, name)
            if name != "sparse.img" {  // a sparse member stores the data segments only
                XCTAssertEqual(row.storedSHA256, row.sourceSHA256, "observers keep stored = source")
            }
            XCTAssertEqual(row.stageMetadata["observe.bytes"], String(bytes.count))
        }
        XCTAssertTrue(try record(catalog, summary, "sparse.img").sparse, "observers keep the holes")
        XCTAssertLessThan(summary.bytesStored, 8 << 20)
        XCTAssertEqual(try restore(catalog, jobID: summary.jobID).status, .ok)
        XCTAssertEqual(try shell("cmp '\(sparsePath)' '\(restored("sparse.img"))'").0, 0)
    }

    func testAnObserverAfterATransformSeesTheTransformedBytes() throws {
        let bytes = Array(String(repeating: "abc", count: 100).utf8)
        try write("a.txt", bytes)
        let factory = TestStageFactory()
        let (summary, catalog) = try backup(
            "  Include {\n    Options { Plugin = \"observe\"; Plugin = \"xor\"; Plugin = \"observe:after\" }\n    File = \"\(source)\"\n  }",
            factory: factory)
        XCTAssertEqual(summary.status, .ok, summary.failure ?? "")
        let path = Array((source + "/a.txt").utf8)
        let before = try XCTUnwrap((factory.made("observe") as? ObservingStage)?.files[path])
        let after = try XCTUnwrap((factory.made("observe:after") as? ObservingStage)?.files[path])
        XCTAssertEqual(before.bytesSHA256, sha256(bytes))
        XCTAssertEqual(before.placement, ObserverPlacement(seesSourceBytes: true, chainEncrypts: true))
        XCTAssertEqual(after.bytesSHA256, sha256(bytes.map { $0 ^ 0x5A }))
        XCTAssertNil(after.hostSHA256, "no source digest for bytes that are not the source's")
        XCTAssertEqual(after.placement, ObserverPlacement(seesSourceBytes: false, chainEncrypts: true))
        XCTAssertEqual(try record(catalog, summary, "a.txt").storedSHA256, after.bytesSHA256)
    }

    func testAFileThatIsNotStoredIsAbandonedNotFinished() throws {
        try write("ok.txt", Array("fine".utf8))
        try write("broken.txt", Array("small".utf8))
        try write("broken-large.bin", [UInt8](repeating: 7, count: 2 << 20))
        let factory = TestStageFactory()
        let (summary, catalog) = try backup(
            "  Include {\n    Options { Plugin = \"observe\"; Plugin = \"broken:broken\" }\n    File = \"\(source)\"\n  }",
            factory: factory)
        XCTAssertEqual(summary.filesStored, 1)
        XCTAssertEqual(summary.filesFailed, 2)
        let observer = try XCTUnwrap(factory.made("observe") as? ObservingStage)
        XCTAssertEqual(observer.files[Array((source + "/ok.txt").utf8)]?.bytesSHA256, sha256(Array("fine".utf8)))
        for name in ["broken.txt", "broken-large.bin"] {
            let seen = try XCTUnwrap(observer.files[Array((source + "/" + name).utf8)], name)
            XCTAssertNil(seen.bytesSHA256, name)
            XCTAssertEqual(seen.abandoned, "stage broken:broken: test transform fails", name)
            XCTAssertEqual(try record(catalog, summary, name).status, .failed)
        }
    }
}
