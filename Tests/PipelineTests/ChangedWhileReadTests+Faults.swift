import Foundation
import PipelineTestSupport
import XCTest

@testable import Pipeline

#if canImport(Glibc)
import Glibc
#endif

/// Issue 14, suite item 2: files that vanish, grow or shrink while the backup reads them. The read hook changes
/// the file at a known point (after the first chunk of its read), so nothing depends on timing.
extension ChangedWhileReadTests {
    static func append(_ path: [UInt8], _ count: Int) {
        let fd = open(String(decoding: path, as: UTF8.self), O_WRONLY | O_APPEND)
        guard fd >= 0 else { return XCTFail("cannot open \(String(decoding: path, as: UTF8.self))") }
        _ = [UInt8](repeating: 0x55, count: count).withUnsafeBytes { Glibc.write(fd, $0.baseAddress, count) }
        close(fd)
    }

    /// A streamed file that grows, and one that shrinks, while read: neither is stored (a mix of two sizes), both
    /// are failed with the size change named; the quiet file restores.
    func testStreamedFilesThatGrowOrShrinkWhileReadAreNotStored() throws {
        try makeFile("grows.bin", Self.bytes(1 << 20, 1))
        try makeFile("shrinks.bin", Self.bytes(1 << 20, 2))
        try makeFile("quiet.bin", Self.bytes(200 << 10, 3))
        let (summary, catalog) = try backup(smallFileLimit: 128 << 10) { path, _ in
            let name = String(decoding: path, as: UTF8.self)
            if name.hasSuffix("/grows.bin") { Self.append(path, 100_000) }
            if name.hasSuffix("/shrinks.bin") { XCTAssertEqual(truncate(name, 300_000), 0) }
        }
        defer { try? catalog.close() }
        XCTAssertEqual(summary.status, .warnings, summary.failure ?? "")
        XCTAssertEqual(summary.filesStored, 1)
        XCTAssertEqual(summary.filesFailed, 2)
        for name in ["grows.bin", "shrinks.bin"] {
            let record = try row(catalog, summary, name)
            XCTAssertEqual(record.status, .failed, name)
            XCTAssertTrue(record.error?.hasPrefix("changed while being read") ?? false, "\(name): \(record.error ?? "")")
        }
        let (restored, root) = try restore(catalog, summary)
        XCTAssertEqual(restored.status, .ok)
        XCTAssertEqual(FileManager.default.contents(atPath: root + "/quiet.bin"), Data(Self.bytes(200 << 10, 3)))
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/grows.bin"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/shrinks.bin"))
        let (_, mismatches) = try VerifyJob(catalog: catalog, jobID: JobID(rawValue: summary.jobID)).run()
        XCTAssertEqual(mismatches.count, 0, "\(mismatches)")
    }

    /// Small files that grow or shrink during their first read are read again (at their new size), and stored
    /// whole as they are then, with that size; one that grows past the small-file limit is failed. Before, the
    /// second read expected the walk's size, so a file that changed size was never stored.
    func testSmallFilesThatGrowOrShrinkWhileReadAreStoredAsReadAgain() throws {
        try makeFile("grows.bin", Self.bytes(64 << 10, 1))
        try makeFile("shrinks.bin", Self.bytes(64 << 10, 2))
        try makeFile("outgrows.bin", Self.bytes(64 << 10, 3))
        let (summary, catalog) = try backup(smallFileLimit: 100_000) { path, attempt in
            let name = String(decoding: path, as: UTF8.self)
            guard attempt == 1 else { return }
            if name.hasSuffix("/grows.bin") { Self.append(path, 1_000) }
            if name.hasSuffix("/shrinks.bin") { XCTAssertEqual(truncate(name, 5_000), 0) }
            if name.hasSuffix("/outgrows.bin") { Self.append(path, 50_000) }
        }
        defer { try? catalog.close() }
        XCTAssertEqual(summary.status, .warnings, summary.failure ?? "")
        XCTAssertEqual(summary.filesStored, 2)
        XCTAssertEqual(summary.filesReread, 2)
        XCTAssertEqual(summary.filesFailed, 1)
        XCTAssertEqual(try row(catalog, summary, "grows.bin").size, UInt64(65_536 + 1_000))
        XCTAssertEqual(try row(catalog, summary, "shrinks.bin").size, 5_000)
        let outgrown = try row(catalog, summary, "outgrows.bin")
        XCTAssertEqual(outgrown.status, .failed)
        XCTAssertEqual(
            outgrown.error,
            "changed while being read (size 65536 at the walk, 115536 when read again, above the small-file limit)")
        let (restored, root) = try restore(catalog, summary)
        XCTAssertEqual(restored.status, .ok)
        XCTAssertEqual(
            FileManager.default.contents(atPath: root + "/grows.bin"),
            Data(Self.bytes(64 << 10, 1) + [UInt8](repeating: 0x55, count: 1_000)))
        XCTAssertEqual(FileManager.default.contents(atPath: root + "/shrinks.bin"), Data(Self.bytes(64 << 10, 2).prefix(5_000)))
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/outgrows.bin"))
        let (_, mismatches) = try VerifyJob(catalog: catalog, jobID: JobID(rawValue: summary.jobID)).run()
        XCTAssertEqual(mismatches.count, 0, "\(mismatches)")
    }

    /// Files that vanish after the walk listed them, before they were opened: the first file read removes the
    /// three others; they are failed with the reason, the job goes on and the rest restores.
    func testFilesThatVanishBeforeTheyAreReadAreFailedAndTheJobGoesOn() throws {
        for index in 0..<4 { try makeFile("v\(index).bin", Self.bytes(64 << 10, UInt8(index))) }
        let source = self.source
        let first = Locked<String?>(nil)
        let (summary, catalog) = try backup { path, attempt in
            let name = String(decoding: path, as: UTF8.self)
            let isFirst = first.withLock { value in
                defer { if value == nil { value = name } }
                return value == nil
            }
            guard isFirst else { return }
            for index in 0..<4 where !name.hasSuffix("/v\(index).bin") { unlink(source + "/v\(index).bin") }
        }
        defer { try? catalog.close() }
        let kept = try XCTUnwrap(first.withLock { $0 })
        XCTAssertEqual(summary.status, .warnings, summary.failure ?? "")
        XCTAssertEqual(summary.filesStored, 1)
        XCTAssertEqual(summary.filesFailed, 3)
        for index in 0..<4 where !kept.hasSuffix("/v\(index).bin") {
            let record = try row(catalog, summary, "v\(index).bin")
            XCTAssertEqual(record.status, .failed)
            XCTAssertEqual(record.error, "vanished before it could be read")
        }
        let (restored, root) = try restore(catalog, summary)
        XCTAssertEqual(restored.status, .ok)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: root), [String(kept.split(separator: "/").last!)])
    }

    /// A file removed while it is read (after its first chunk): the removal moves its ctime, so it is read
    /// again, and is gone by then: failed as vanished (what was read of it is not stored), the job goes on.
    func testFileRemovedWhileReadIsFailedAsVanished() throws {
        try makeFile("c.bin", Self.bytes(64 << 10, 3))
        try makeFile("quiet.txt", Array("quiet\n".utf8))
        let (summary, catalog) = try backup { path, attempt in
            if attempt == 1 && String(decoding: path, as: UTF8.self).hasSuffix("/c.bin") {
                unlink(String(decoding: path, as: UTF8.self))
            }
        }
        defer { try? catalog.close() }
        XCTAssertEqual(summary.status, .warnings)
        XCTAssertEqual(summary.filesStored, 1)
        XCTAssertEqual(summary.filesFailed, 1)
        let record = try row(catalog, summary, "c.bin")
        XCTAssertEqual(record.status, .failed)
        XCTAssertEqual(record.error, "vanished before it could be read")
    }
}
