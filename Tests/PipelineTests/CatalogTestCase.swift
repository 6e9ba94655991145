import Foundation
import PipelineTestSupport
import XCTest

@testable import Pipeline

/// Base class of the catalog tests: a fresh temporary directory per test, and sample records.
///
/// The driver is SQLite; a subclass that overrides ``driver`` with `.postgreSQL` runs the same tests against a
/// PostgreSQL catalog on the test server (``PostgreSQLTestServer``), one fresh database per catalog name per test.
class CatalogTestCase: XCTestCase {
    var directory: TemporaryDirectory!
    var catalogs: TestCatalogs!

    /// The driver the catalogs of this test use.
    var driver: TestCatalogs.Driver { .sqlite }

    override func setUpWithError() throws {
        directory = try TemporaryDirectory(prefix: "catalog")
        catalogs = TestCatalogs(driver: driver, directory: directory.path)
    }

    override func tearDown() {
        directory.remove()
    }

    /// A path inside the test's directory.
    func path(_ name: String) -> String {
        directory.path + "/" + name
    }

    func openCatalog(_ name: String = "catalog.db", create: Bool = true) throws -> DatabaseCatalog {
        try catalogs.open(name, create: create)
    }

    /// Pseudo-random bytes (incompressible), deterministic: file contents for the tests that back up real trees.
    func noise(_ count: Int, seed: UInt64) -> [UInt8] {
        var generator = SplitMix64(state: seed)
        return generator.bytes(count)
    }

    func time(_ seconds: Int64, _ nanoseconds: Int32 = 0) -> FileStat.Timestamp {
        FileStat.Timestamp(seconds: seconds, nanoseconds: nanoseconds)
    }

    func sampleJob(name: String = "nightly", start: Int64 = 1_700_000_000, digest: String? = nil) -> JobRecord {
        JobRecord(
            name: name, level: .full, fileSetName: "root", fileSetDigest: digest ?? String(repeating: "ab", count: 16),
            startTime: time(start, 123_456_789))
    }

    /// A record with every optional field set and awkward values everywhere.
    func fullFile(job: JobID, index: Int64, volume: Int64?) -> FileRecord {
        FileRecord(
            jobID: job, fileIndex: index, path: Array("/data/caf".utf8) + [0xE9, 0xFF, 0x2F] + Array("\(index)".utf8),
            kind: .file, status: .stored, mode: 0o100644, uid: UInt32.max - 1, gid: 1000, userName: "rené",
            groupName: "staff", size: UInt64.max, atime: time(-1, 999_999_999), mtime: time(1_700_000_000, 1),
            ctime: time(Int64.max, 0), inode: UInt64.max, device: 0x8000_0000_0000_0001, rdev: 0x0801, nlink: 3,
            linkTarget: [], sourceSHA256: Array(0..<32), storedSHA256: Array((0..<32).map { 255 - $0 }),
            signatureAlgorithm: "XXH128", signature: [0, 1, 0, 2], volumeID: volume, headerOffset: 512 * index,
            dataOffset: 512 * index + 512, storedLength: 0, compression: "lz4", sparse: true,
            chain: ["checksum", "gpg:recipient=\"a b\"", "python:module=x\\y\n\t\u{1}é😀"],
            stageMetadata: ["gpg": "fpr=ABCD", "index": "{\"words\":3}", "": "empty key"], block: 2,
            error: "line1\nline2")
    }

    /// A record with every optional field nil.
    func bareFile(job: JobID, index: Int64, path: String) -> FileRecord {
        FileRecord(jobID: job, fileIndex: index, path: Array(path.utf8), kind: .directory, status: .deleted)
    }
}
