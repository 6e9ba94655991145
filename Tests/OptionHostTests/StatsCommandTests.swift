import XCTest

@testable import Pipeline

#if canImport(Glibc)
import Glibc
#endif

/// `backup --stats` end to end (issue 13, part 1): a chain of `owner` (skipping two files), a no-op Python plugin and
/// a `checksum` log, with GZIP compression, over small files and one streamed file. Counts and bytes are exact;
/// times can only be sane.
final class StatsCommandTests: StageCommandTestCase {
    /// `examples/plugins`, whose `noop` plugin leaves every entry to the host.
    private var plugins: String { CommandLineTestCase.repository.appendingPathComponent("examples/plugins").path }
    private var log: String { work.path + "/sums.sha256" }

    /// The regular files stored, by path relative to `tree`, with their contents.
    private var stored: [String: [UInt8]] = [:]

    /// tree/ with keep/ (five text files and one 2.5 MiB file, streamed in chunks) and skip/ (two files of uid
    /// 1002, which the owner stage skips), plus a symbolic link: 3 directories, 8 regular files, 1 link.
    private func makeTree() throws {
        for index in 1...5 {
            let text = Array(String(repeating: "line \(index) of a compressible text file\n", count: index * 40).utf8)
            try makeFile("tree/keep/f\(index).txt", bytes: text)
            stored["keep/f\(index).txt"] = text
        }
        let large = (0..<(5 << 19)).map { UInt8(truncatingIfNeeded: $0 / 4096 &* 7) }
        try makeFile("tree/keep/large.bin", bytes: large)
        stored["keep/large.bin"] = large
        try makeFile("tree/skip/s1.txt", "skipped one\n")
        try makeFile("tree/skip/s2.txt", "skipped two\n")
        for name in ["s1.txt", "s2.txt"] { XCTAssertEqual(chown(tree + "/skip/" + name, 1002, 1002), 0) }
        XCTAssertEqual(symlink("keep/f1.txt", tree + "/link"), 0)
    }

    private var chain: [String] {
        ["owner:exclude_user=1002", "python3:module_path=\(plugins):module_name=noop", "checksum:log=\(log)"]
    }

    private func statsConfig() throws -> String {
        let lines = chain.map { "      Plugin = \"\($0)\"" }.joined(separator: "\n")
        return try write(
            "stats.conf",
            """
            FileSet {
              Name = fs
              Include {
                Options {
                  Compression = GZIP6
            \(lines)
                }
                File = "\(tree)"
              }
            }
            Job { Name = Nightly; Type = Backup; Level = Full; FileSet = fs }

            """)
    }

    private func runBackup(_ extra: [String]) throws -> Result {
        let result = try optionhost(
            ["backup", try statsConfig(), "--job", "Nightly", "--catalog", catalog, "--archive", volumes] + extra)
        XCTAssertEqual(result.status, 0, result.output + result.stderr)
        return result
    }

    func testJSONSummaryCountsEveryStageExactlyAndTimesSanely() throws {
        try makeTree()
        let result = try runBackup(["--stats", "--json"])
        let summary = try XCTUnwrap(
            try JSONSerialization.jsonObject(with: Data(try XCTUnwrap(result.lines.last).utf8)) as? [String: Any])
        XCTAssertEqual(summary["files_stored"] as? Int, 6)
        XCTAssertEqual(summary["files_skipped"] as? Int, 2)
        let stats = try XCTUnwrap(summary["stats"] as? [String: Any], result.output)
        let rows = try XCTUnwrap(stats["stages"] as? [[String: Any]])
        XCTAssertEqual(rows.map { $0["stage"] as? String }, chain + ["compression:GZIP6", "digest"])
        func row(_ name: String) throws -> [String: Any] { try XCTUnwrap(rows.first { $0["stage"] as? String == name }) }

        // What the catalog recorded: the source and stored sizes of the six stored files.
        let opened = try SQLiteCatalog.open(path: catalog, create: false)
        let records = try opened.files(job: JobID(rawValue: 1))
        try opened.close()
        let files = records.filter { $0.kind == .file && $0.status == .stored }
        XCTAssertEqual(files.count, 6)
        let sourceBytes = stored.values.reduce(0) { $0 + $1.count }
        XCTAssertEqual(files.reduce(0) { $0 + Int($1.size) }, sourceBytes)
        let storedBytes = files.reduce(0) { $0 + Int($1.storedLength ?? -1_000_000) }
        XCTAssertEqual(summary["bytes_stored"] as? Int, storedBytes)
        XCTAssertLessThan(storedBytes, sourceBytes / 10, "GZIP compresses the repetitive files")

        // 12 entries walked: 3 directories, 8 regular files, 1 link. owner sees them all and skips 2 files; the
        // later stages see the other 10; compression and digest see the 6 stored files' bytes.
        let expected: [(String, [String: Int])] = [
            (chain[0], ["entries_seen": 12, "files_seen": 8, "files_skipped": 2, "bytes_in": 0, "bytes_out": 0, "latency_samples": 8]),
            (chain[1], ["entries_seen": 10, "files_seen": 6, "files_skipped": 0, "bytes_in": 0, "bytes_out": 0, "latency_samples": 6]),
            (chain[2], ["entries_seen": 10, "files_seen": 6, "files_skipped": 0, "bytes_in": sourceBytes, "bytes_out": sourceBytes, "latency_samples": 6]),
            ("compression:GZIP6", ["entries_seen": 0, "files_seen": 6, "files_skipped": 0, "bytes_in": sourceBytes, "bytes_out": storedBytes, "latency_samples": 6]),
            // The host hashes the source bytes and, as a stage transformed them, the stored bytes.
            ("digest", ["entries_seen": 0, "files_seen": 6, "files_skipped": 0, "bytes_in": sourceBytes + storedBytes, "bytes_out": sourceBytes + storedBytes, "latency_samples": 6]),
        ]
        for (name, fields) in expected {
            let stage = try row(name)
            for (key, value) in fields { XCTAssertEqual(stage[key] as? Int, value, "\(name): \(key)") }
        }

        // Times: non-negative, a stage busy at most wall time × the threads that run stages, p50 ≤ p99.
        let job = try XCTUnwrap(stats["job"] as? [String: Any])
        let wall = try XCTUnwrap(job["wall_seconds"] as? Double)
        XCTAssertGreaterThan(wall, 0)
        XCTAssertGreaterThan(try XCTUnwrap(job["cpu_seconds"] as? Double), 0)
        XCTAssertEqual(job["peak_rss_bytes"] as? Int, summary["peak_rss_bytes"] as? Int)
        let workers = try XCTUnwrap(job["worker_threads"] as? Int)
        let streams = try XCTUnwrap(job["stream_threads"] as? Int)
        XCTAssertGreaterThanOrEqual(workers, 1)
        XCTAssertGreaterThanOrEqual(streams, 2)
        let threads = Double(workers + streams)
        let time = try XCTUnwrap(job["time_seconds"] as? [String: Double])
        XCTAssertEqual(Set(time.keys), ["walk", "read", "stages", "volume_write", "catalog"])
        for key in ["walk", "volume_write", "catalog"] {
            XCTAssertTrue((0...wall).contains(time[key]!), "\(key) \(time[key]!) on one thread, wall \(wall)")
        }
        for key in ["read", "stages"] {
            XCTAssertTrue((0...(wall * threads)).contains(time[key]!), "\(key) \(time[key]!), wall \(wall)")
        }
        var busyTotal = 0.0
        for stage in rows {
            let name = stage["stage"] as? String ?? ""
            let busy = try XCTUnwrap(stage["busy_seconds"] as? Double, name)
            XCTAssertTrue((0...(wall * threads)).contains(busy), "\(name): busy \(busy), wall \(wall)")
            busyTotal += busy
            let p50 = try XCTUnwrap(stage["latency_p50_seconds"] as? Double, name)
            let p99 = try XCTUnwrap(stage["latency_p99_seconds"] as? Double, name)
            XCTAssertTrue(p50 > 0 && p50 <= p99 && p99 <= wall * 1.2, "\(name): p50 \(p50), p99 \(p99)")
            // Decision-only stages handle no bytes: no byte rate.
            if (stage["bytes_in"] as? Int, stage["bytes_out"] as? Int) == (0, 0) {
                XCTAssertTrue(stage["bytes_per_second"] is NSNull, name)
            } else {
                XCTAssertGreaterThan(try XCTUnwrap(stage["bytes_per_second"] as? Int, name), 0)
            }
        }
        XCTAssertEqual(time["stages"]!, busyTotal, accuracy: 1e-6)
    }

    /// A stage that takes files over is their byte source: what its `plugin_io` read produced is its bytes out (and
    /// its time), nothing goes in; the host's digest then hashes those bytes once (they are stored as they are).
    func testATakenOverFilesBytesAreItsStagesOutput() throws {
        try makeFile("tree/a.txt", String(repeating: "taken over by gzip_io\n", count: 50))
        try makeFile("tree/b.txt", "short\n")
        try makeFile("tree/large.bin", bytes: (0..<(3 << 19)).map { UInt8(truncatingIfNeeded: $0 / 1000) })
        let stage = "python3:module_path=\(plugins):module_name=gzip_io"
        let result = try optionhost([
            "backup", try config([stage]), "--job", "Nightly", "--catalog", catalog, "--archive", volumes, "--json",
            "--stats",
        ])
        XCTAssertEqual(result.status, 0, result.output + result.stderr)
        let summary = try XCTUnwrap(
            try JSONSerialization.jsonObject(with: Data(try XCTUnwrap(result.lines.last).utf8)) as? [String: Any])
        let storedBytes = try XCTUnwrap(summary["bytes_stored"] as? Int)
        let rows = try XCTUnwrap((summary["stats"] as? [String: Any])?["stages"] as? [[String: Any]], result.output)
        XCTAssertEqual(rows.map { $0["stage"] as? String }, [stage, "digest"])
        for (key, value) in ["entries_seen": 4, "files_seen": 3, "bytes_in": 0, "bytes_out": storedBytes, "latency_samples": 3] {
            XCTAssertEqual(rows[0][key] as? Int, value, "gzip_io: \(key)")
        }
        for (key, value) in ["files_seen": 3, "bytes_in": storedBytes, "bytes_out": storedBytes] {
            XCTAssertEqual(rows[1][key] as? Int, value, "digest: \(key)")
        }
        XCTAssertLessThan(storedBytes, 3 << 19, "gzip_io compressed what it read")
    }

    func testTextTableIsPrintedOnlyWithStats() throws {
        try makeTree()
        let plain = try runBackup([])
        XCTAssertFalse(plain.output.contains("Statistics:"), plain.output)
        XCTAssertFalse(plain.output.contains("p99"), plain.output)
        let json = try runBackup(["--json"])
        XCTAssertFalse(json.output.contains("\"stats\""), json.output)

        let result = try runBackup(["--stats"])
        let lines = result.lines
        let start = try XCTUnwrap(lines.firstIndex { $0.hasPrefix("Statistics: wall ") }, result.output)
        XCTAssertTrue(lines[start].contains(" (user+sys), peak RSS "), lines[start])
        XCTAssertTrue(lines[start + 1].hasPrefix("  time (threads overlap): walk "), lines[start + 1])
        for part in [", read ", ", stages ", ", volume write ", ", catalog "] {
            XCTAssertTrue(lines[start + 1].contains(part), lines[start + 1])
        }
        let header = lines[start + 2]
        XCTAssertEqual(
            header.split(separator: " ").map(String.init),
            ["files", "skipped", "bytes", "in", "bytes", "out", "busy", "throughput", "files/s", "p50", "p99", "stage"])
        let rows = Array(lines[(start + 3)...])
        XCTAssertEqual(rows.count, 5, result.output)
        // Aligned: every row's stage name starts where the header's `stage` does.
        let column = header.distance(from: header.startIndex, to: try XCTUnwrap(header.range(of: "stage")).lowerBound)
        for (row, name) in zip(rows, chain + ["compression:GZIP6", "digest"]) {
            XCTAssertEqual(String(row.dropFirst(column)), name, row)
        }
        // The owner row: 8 files seen, 2 skipped, no bytes.
        XCTAssertEqual(Array(rows[0].split(separator: " ").prefix(6)), ["8", "2", "0", "B", "0", "B"], rows[0])
    }
}
