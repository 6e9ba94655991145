import Foundation
import PipelineTestSupport
import XCTest

@testable import Pipeline

/// The helpers of ``ScanTests`` that scan and compare: a new catalog of the driver under test, what a failed scan
/// must leave, a catalog as text, the tree with every kind of entry and the rows `scan` can rebuild.
extension ScanTests {
    /// Scans into a new catalog of the driver under test: a new SQLite file (`scan --catalog NEWFILE`), or an
    /// empty PostgreSQL catalog (the scan adds to it). Returns the result and the catalog, open.
    func scanIntoNew(_ volumes: [String]) throws -> (VolumeScanner.Result, DatabaseCatalog) {
        switch driver {
        case .sqlite:
            let result = try VolumeScanner.scan(volumes: volumes, intoNewCatalog: scannedPath)
            return (result, try DatabaseCatalog.open(path: scannedPath, create: false))
        case .postgreSQL:
            let catalog = try openCatalog("scanned.db")
            return (try VolumeScanner.scan(volumes: volumes, into: catalog), catalog)
        }
    }

    /// ``scanIntoNew(_:)`` for a scan that must fail (the catalog is closed either way).
    func scanIntoNewExpectingFailure(_ volumes: [String]) throws {
        let (_, catalog) = try scanIntoNew(volumes)
        try catalog.close()
    }

    /// A scan of `volumes` into `catalog` must be refused with `message`, leaving the catalog as it was.
    func assertScanRefused(
        _ volumes: [String], into catalog: DatabaseCatalog, _ message: String, file: StaticString = #filePath,
        line: UInt = #line
    ) throws {
        let before = try snapshot(catalog)
        XCTAssertThrowsError(try VolumeScanner.scan(volumes: volumes, into: catalog), file: file, line: line) { error in
            XCTAssertEqual("\(error)", message, file: file, line: line)
        }
        XCTAssertEqual(try snapshot(catalog), before, "a refused scan changed the catalog", file: file, line: line)
    }

    /// After a failed scan into a new catalog: no SQLite file (nor a temporary one), or an empty PostgreSQL catalog.
    func assertNothingLeft(file: StaticString = #filePath, line: UInt = #line) {
        switch driver {
        case .sqlite:
            XCTAssertFalse(FileManager.default.fileExists(atPath: scannedPath), "a failed scan left a catalog", file: file, line: line)
            let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: directory.path))?.filter { $0.contains(".scan-") } ?? []
            XCTAssertEqual(leftovers, [], file: file, line: line)
        case .postgreSQL:
            do {
                let catalog = try openCatalog("scanned.db")
                defer { try? catalog.close() }
                XCTAssertEqual(try catalog.jobs(name: nil).map(\.id), [], "a failed scan left jobs", file: file, line: line)
                XCTAssertEqual(try catalog.connection.scalar("SELECT count(*) FROM files"), 0, file: file, line: line)
                XCTAssertEqual(try catalog.connection.scalar("SELECT count(*) FROM volumes"), 0, file: file, line: line)
            } catch {
                XCTFail("\(error)", file: file, line: line)
            }
        }
    }

    /// Everything a scan could change in a catalog, as text: every job row, and per job its files, messages,
    /// volumes and job data.
    func snapshot(_ catalog: DatabaseCatalog) throws -> String {
        var text = ""
        for job in try catalog.jobs(name: nil).sorted(by: { $0.id.rawValue < $1.id.rawValue }) {
            text += "\(job)\n"
            for file in try catalog.files(job: job.id) { text += "  \(file)\n" }
            for message in try catalog.messages(job: job.id) { text += "  \(message)\n" }
            for volume in try catalog.volumes(job: job.id) { text += "  \(volume)\n" }
            text += "  \(try catalog.jobData(job: job.id).sorted { $0.key < $1.key })\n"
        }
        return text
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

    func assertSameRows(_ original: DatabaseCatalog, _ scanned: DatabaseCatalog, job: JobID, file: StaticString = #filePath, line: UInt = #line) throws {
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

    /// Rewrites `volume` as a build before the record `OPTIONPIPELINE.label.KEY` existed wrote it: its job label
    /// (the first global header) without that record, written by `PaxWriter` from the other records; the rest of
    /// the volume (members, trailer) byte for byte.
    func stripLabelRecord(_ key: String, in volume: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let reader = try PaxReader(path: volume)
        _ = try reader.next()
        let label = try XCTUnwrap(reader.labels.first, "\(volume) has no label", file: file, line: line)
        let kept = label.filter { $0.key != PipelineRecords.Key.labelPrefix + key }
        XCTAssertEqual(kept.count, label.count - 1, "\(volume): one \(key) record", file: file, line: line)
        let headerPath = volume + ".label"
        defer { unlink(headerPath) }
        let writer = try PaxWriter(path: headerPath, mode: 0o600)
        _ = try writer.appendGlobalHeader(records: kept)
        try writer.close()
        let header = try Array(Data(contentsOf: URL(fileURLWithPath: headerPath)))
        let original = try Array(Data(contentsOf: URL(fileURLWithPath: volume)))
        // A global header is its 512-byte ustar block and its records padded to whole blocks; the ustar size
        // field (octal, bytes 124..<136) gives the records' length.
        func headerLength(_ bytes: [UInt8]) throws -> Int {
            let field = String(decoding: bytes[124..<136].prefix { $0 != 0 && $0 != 0x20 }, as: UTF8.self)
            let size = try XCTUnwrap(Int(field, radix: 8), "size field \(field)", file: file, line: line)
            return 512 + (size + 511) / 512 * 512
        }
        let rewritten = Array(header[..<(try headerLength(header))]) + original[(try headerLength(original))...]
        try Data(rewritten).write(to: URL(fileURLWithPath: volume))
    }
}
