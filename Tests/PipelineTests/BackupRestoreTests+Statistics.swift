import PipelineTestSupport
import XCTest

@testable import Pipeline

/// `BackupSettings.collectStatistics` in process (so `Tests/tsan.sh` runs it with the thread sanitizer): small
/// batches spread the files over both workers and the stream threads, whose statistics the job adds up.
extension BackupRestoreTests {
    func testStatisticsOfEveryThreadAddUpToExactCounts() throws {
        var sourceBytes = 0
        for index in 0..<30 {
            let bytes = Array(String(repeating: "file \(index) ", count: 20 + index * 7).utf8)
            try write("f\(index).txt", bytes)
            sourceBytes += bytes.count
        }
        for index in 0..<5 { try write("s\(index).skip", Array("skipped \(index)\n".utf8)) }
        let large = (0..<(2 << 20)).map { UInt8(truncatingIfNeeded: $0 >> 12) }
        try write("large.bin", large)
        sourceBytes += large.count
        let chain = ["skip:.skip", "observe", "xor:plain"]
        let body = "  Include {\n    Options {\n      Compression = GZIP6\n"
            + chain.map { "      Plugin = \"\($0)\"\n" }.joined() + "    }\n    File = \"\(source)\"\n  }"

        let (summary, catalog) = try backup(body) { $0.collectStatistics = true }
        try catalog.close()
        XCTAssertEqual(summary.status, .ok, summary.failure ?? "")
        XCTAssertEqual(summary.filesStored, 31)
        let statistics = try XCTUnwrap(summary.statistics)
        XCTAssertEqual(statistics.rows.map(\.name), chain + ["compression:GZIP6", "digest"])
        let stored = Int(summary.bytesStored)
        // (entries seen, files seen, skipped, bytes in, bytes out): 37 entries are the source directory and 36 files.
        let expected: [(Int, Int, Int, Int, Int)] = [
            (37, 36, 5, 0, 0), (32, 31, 0, sourceBytes, sourceBytes), (32, 31, 0, sourceBytes, sourceBytes),
            (0, 31, 0, sourceBytes, stored), (0, 31, 0, sourceBytes + stored, sourceBytes + stored),
        ]
        for (row, counts) in zip(statistics.rows, expected) {
            XCTAssertEqual(row.entriesSeen, counts.0, row.name)
            XCTAssertEqual(row.filesSeen, counts.1, row.name)
            XCTAssertEqual(row.filesSkipped, counts.2, row.name)
            XCTAssertEqual(Int(row.bytesIn), counts.3, row.name)
            XCTAssertEqual(Int(row.bytesOut), counts.4, row.name)
            XCTAssertEqual(Int(row.latency.samples), counts.1, row.name)
        }
        // Times: each thread kind within the wall time it had (one walker, writer, catalog thread; the workers and
        // stream threads share read and stages).
        let wall = UInt64(summary.wallSeconds * 1e9) + 1
        for time in [statistics.walkNanoseconds, statistics.volumeWriteNanoseconds, statistics.catalogNanoseconds] {
            XCTAssertLessThanOrEqual(time, wall)
        }
        let threads = UInt64(statistics.workerThreads + statistics.streamThreads)
        XCTAssertEqual(statistics.workerThreads, 2)
        XCTAssertLessThanOrEqual(statistics.readNanoseconds, wall * threads)
        XCTAssertLessThanOrEqual(statistics.stagesNanoseconds, wall * threads)
        XCTAssertGreaterThan(statistics.readNanoseconds, 0)

        // Without the setting: nothing collected.
        try FileManager.default.removeItem(atPath: catalogPath)
        let (plain, again) = try backup(body)
        try again.close()
        XCTAssertNil(plain.statistics)
    }
}
