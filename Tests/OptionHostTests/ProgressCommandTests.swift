import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The progress a job reports while it runs (issue 16 item 1): bytes counted chunk by chunk inside large files, the
/// file being written shown, a closing summary line on the terminal, and `{"type":"progress"}` objects under
/// `--json`.
final class ProgressCommandTests: CommandLineTestCase {
    static let mebibyte = 1 << 20

    /// `tree/one.log` (64 MiB) and `tree/two.log` (192 MiB) of compressible text, and a config that stores them
    /// with GZIP into `archive/` and `catalog.db`. Both are streamed at once; `one.log` is written first, then
    /// `two.log` goes on alone: the path shown must move from one to the other.
    func makeLargeTree(megabytes: (Int, Int) = (64, 192)) throws -> String {
        let root = work.appendingPathComponent("tree")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        var block = [UInt8]()
        var line = 0
        while block.count < ProgressCommandTests.mebibyte {
            block += Array("line \(line) of a log that compresses well: the quick brown fox\n".utf8)
            line += 1
        }
        block.removeLast(block.count - ProgressCommandTests.mebibyte)
        for (name, size) in [("one.log", megabytes.0), ("two.log", megabytes.1)] {
            let fd = open(root.appendingPathComponent(name).path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            XCTAssertGreaterThanOrEqual(fd, 0)
            for _ in 0..<size {
                XCTAssertEqual(block.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }, block.count)
            }
            close(fd)
        }
        return try write(
            "progress.conf",
            """
            Catalog { Name = cat; DB Driver = sqlite3; DB Name = "\(work.path)/catalog.db" }
            Archive { Name = arc; Directory = "\(work.path)/archive" }
            FileSet {
              Name = fs
              Include {
                Options { Compression = GZIP1 }
                File = "\(root.path)"
              }
            }
            Job { Name = Big; Type = Backup; Level = Full; FileSet = fs; Catalog = cat; Archive = arc }

            """)
    }

    /// One redraw of the progress line: the bytes it shows (in tenths of MB) and the path at its end.
    struct Redraw {
        var tenths: Int
        var path: String
    }

    /// The progress lines of a terminal transcript (each redraw starts with `\r` and an erase-line sequence).
    func redraws(_ transcript: String, verb: String) -> [Redraw] {
        transcript.split(whereSeparator: { $0 == "\r" || $0 == "\n" }).compactMap { raw in
            let line = raw.replacingOccurrences(of: "\u{1B}[K", with: "")
            guard line.hasPrefix(verb + " "), line.contains(" MB/s"), !line.contains(" average") else { return nil }
            let parts = line.components(separatedBy: ", ")
            guard parts.count > 1, let megabytes = parts[1].components(separatedBy: " ").first else { return nil }
            let digits = megabytes.replacingOccurrences(of: ".", with: "")
            guard let tenths = Int(digits) else { return nil }
            let path = line.components(separatedBy: "  ").count > 1 ? line.components(separatedBy: "  ").last! : ""
            return Redraw(tenths: tenths, path: path)
        }
    }

    /// Runs `arguments` under a pseudo-terminal 200 columns wide (`script`), returning everything it printed. The
    /// line is redrawn every 0.05 s unless `environment` says otherwise. With `timing`, `script` writes there when
    /// each piece of the output arrived (`-T`: one `SECONDS-SINCE-THE-LAST BYTES` line per piece).
    func underTerminal(
        _ arguments: [String], environment: String = "OPTIONHOST_PROGRESS_INTERVAL=0.05 ", timing: String? = nil
    ) throws -> Result {
        let quoted = ([CommandLineTestCase.binary] + arguments).map { "'\($0)'" }.joined(separator: " ")
        let record = timing.map { ["-T", $0] } ?? []
        return try run(
            "/usr/bin/script", ["-q", "-e"] + record + ["-c", "stty cols 200; \(environment)exec \(quoted)", "/dev/null"])
    }

    /// One redraw with the moment (seconds after the first output) its bytes reached the terminal.
    struct TimedRedraw {
        var time: Double
        var redraw: Redraw
    }

    /// The redraws of `output` with their arrival times from `script`'s timing file: its pieces add up to the
    /// output, so a redraw's time is that of the piece holding its last byte.
    func timedRedraws(_ output: [UInt8], timing: String, verb: String) throws -> [TimedRedraw] {
        var pieceEnds: [(end: Int, time: Double)] = []
        var end = 0
        var time = 0.0
        for line in try String(contentsOfFile: timing, encoding: .utf8).split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count == 2, let delay = Double(fields[0]), let count = Int(fields[1]) else { continue }
            end += count
            time += delay
            pieceEnds.append((end, time))
        }
        XCTAssertEqual(end, output.count, "the timing file covers the whole output")
        var result: [TimedRedraw] = []
        var piece = 0
        var start = 0
        for index in output.indices where output[index] == UInt8(ascii: "\r") || index == output.count - 1 {
            let text = String(decoding: output[start..<index], as: UTF8.self)
            start = index + 1
            guard let redraw = redraws(text, verb: verb).first else { continue }
            while piece < pieceEnds.count - 1 && pieceEnds[piece].end < index { piece += 1 }
            result.append(TimedRedraw(time: pieceEnds[piece].time, redraw: redraw))
        }
        return result
    }

    /// Issue 16's acceptance test: a GZIP backup of a 1 GiB file (after a 64 MiB one) under a pseudo-terminal, at
    /// the terminal's own pace (a redraw every 0.25 s), shows the file being written and a byte count that moves
    /// at least every second, timed by when the redraws reached the terminal.
    func testBackupOfAGibibyteCompressedFileShowsBytesAndPathMovingEverySecondUnderATerminal() throws {
        let config = try makeLargeTree(megabytes: (64, 1024))
        let timing = work.appendingPathComponent("timing").path
        let result = try underTerminal(["backup", config, "--job", "Big"], environment: "", timing: timing)
        XCTAssertEqual(result.status, 0, result.output)
        let total = (64 + 1024) * ProgressCommandTests.mebibyte
        let totalTenths = (total + 50_000) / 100_000
        let timed = try timedRedraws(result.stdout, timing: timing, verb: "backup:")
        let moving = timed.filter { $0.redraw.tenths < totalTenths }
        XCTAssertGreaterThanOrEqual(moving.count, 4, result.output)
        // A redraw at least every second, from the first to the last.
        for (earlier, later) in zip(timed, timed.dropFirst()) {
            XCTAssertLessThanOrEqual(later.time - earlier.time, 1.0, "no redraw for over a second: \(result.output)")
        }
        // The count never goes back, and a second after any redraw the count shown is higher.
        for (earlier, later) in zip(moving, moving.dropFirst()) {
            XCTAssertLessThanOrEqual(earlier.redraw.tenths, later.redraw.tenths, result.output)
        }
        for (index, redraw) in moving.enumerated() {
            guard let second = moving[index...].first(where: { $0.time >= redraw.time + 1.0 }) else { break }
            XCTAssertLessThan(redraw.redraw.tenths, second.redraw.tenths, "stalled at \(redraw.time) s: \(result.output)")
        }
        // Every moving redraw names the file being written: one.log, then two.log (the 1 GiB file), never back.
        let paths = moving.map(\.redraw.path)
        XCTAssertTrue(paths.allSatisfy { $0.hasSuffix("/tree/one.log") || $0.hasSuffix("/tree/two.log") }, result.output)
        let firstTwo = paths.firstIndex { $0.hasSuffix("/tree/two.log") } ?? paths.count
        XCTAssertTrue(paths[firstTwo...].allSatisfy { $0.hasSuffix("/tree/two.log") }, result.output)
        XCTAssertGreaterThanOrEqual(paths.filter { $0.hasSuffix("/tree/two.log") }.count, 3, result.output)
        // One summary line replaces the progress line.
        let summaries = result.output.components(separatedBy: "\r\u{1B}[K").filter { $0.contains(" average") }
        XCTAssertEqual(summaries.count, 1, result.output)
        XCTAssertEqual(summaries.first.map { $0.hasPrefix("backup: 2 files, 1140.9 MB in ") }, true, result.output)
        XCTAssertTrue(result.output.contains("Backup of Job \"Big\" (JobId 1, level Full): ok"), result.output)
    }

    /// `{"type":"progress"}` objects of a JSON Lines transcript, as dictionaries.
    func progressObjects(_ result: Result) throws -> [[String: Any]] {
        try result.lines.compactMap { line in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return object?["type"] as? String == "progress" ? object : nil
        }
    }

    func testJSONProgressObjectsForBackupAndRestoreCountBytesInsideFiles() throws {
        let config = try makeLargeTree(megabytes: (16, 160))
        let total = 176 * ProgressCommandTests.mebibyte
        let backup = try run(
            "/usr/bin/env",
            ["OPTIONHOST_PROGRESS_INTERVAL=0.05", CommandLineTestCase.binary, "backup", config, "--job", "Big", "--json"])
        XCTAssertEqual(backup.status, 0, backup.stderr)
        XCTAssertEqual(backup.lines.last.map { $0.contains("\"type\":\"summary\"") }, true, backup.output)
        let objects = try progressObjects(backup)
        let bytes = objects.compactMap { $0["bytes"] as? Int }
        XCTAssertEqual(bytes.count, objects.count)
        XCTAssertEqual(objects.compactMap { $0["command"] as? String }, Array(repeating: "backup", count: objects.count))
        // Figures strictly inside the 160 MiB file: only chunk-by-chunk counting gives them.
        XCTAssertGreaterThanOrEqual(bytes.filter { $0 > 16 * ProgressCommandTests.mebibyte && $0 < total }.count, 2, backup.output)
        XCTAssertEqual(bytes, bytes.sorted(), backup.output)
        XCTAssertTrue(objects.allSatisfy { ($0["bytes_per_second"] as? Double ?? -1) >= 0 }, backup.output)
        XCTAssertTrue(objects.contains { ($0["path"] as? String)?.hasSuffix("/tree/two.log") == true }, backup.output)

        let restore = try run(
            "/usr/bin/env",
            [
                "OPTIONHOST_PROGRESS_INTERVAL=0.05", CommandLineTestCase.binary, "restore", config, "--jobid", "1",
                "--where", work.appendingPathComponent("restored").path, "--json", "--workers", "1",
            ])
        XCTAssertEqual(restore.status, 0, restore.stderr)
        let restored = try progressObjects(restore).compactMap { $0["bytes"] as? Int }
        XCTAssertGreaterThanOrEqual(
            restored.filter { $0 > 16 * ProgressCommandTests.mebibyte && $0 < total }.count, 1, restore.output)
        XCTAssertEqual(restored, restored.sorted(), restore.output)
    }
}
