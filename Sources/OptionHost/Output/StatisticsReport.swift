import Pipeline

/// `backup --stats`: the job's statistics as the aligned table printed after the text summary, and as the `stats`
/// object of the JSON summary (field names documented in docs/commands.md, "backup --stats"; keep them stable).
enum StatisticsReport {
    // MARK: - Text

    /// The lines of the table (no trailing newlines), names escaped for the terminal.
    static func lines(_ statistics: JobStatistics, summary: JobSummary) -> [String] {
        var lines: [String] = []
        lines.append(
            "Statistics: wall \(duration(summary.wallSeconds)), CPU \(duration(summary.cpuSeconds)) (user+sys), peak RSS "
                + "\(bytes(summary.peakRSSBytes)); \(statistics.workerThreads) workers, \(statistics.streamThreads) "
                + "stream threads")
        // The thread kinds run at once: their times overlap and may add up to more than the wall time.
        lines.append(
            "  time (threads overlap): walk \(nanoseconds(statistics.walkNanoseconds)), read "
                + "\(nanoseconds(statistics.readNanoseconds)), stages \(nanoseconds(statistics.stagesNanoseconds)), "
                + "volume write \(nanoseconds(statistics.volumeWriteNanoseconds)), catalog "
                + "\(nanoseconds(statistics.catalogNanoseconds))")
        var rows: [[String]] = [
            ["files", "skipped", "bytes in", "bytes out", "busy", "throughput", "files/s", "p50", "p99", "stage"]
        ]
        for stage in statistics.rows {
            rows.append([
                OptionHost.Estimate.grouped(stage.filesSeen), OptionHost.Estimate.grouped(stage.filesSkipped),
                bytes(stage.bytesIn), bytes(stage.bytesOut), nanoseconds(stage.busyNanoseconds),
                stage.bytesPerSecond.map { ProgressPrinter.rateText($0) } ?? "-",
                stage.filesPerSecond.map { OptionHost.Estimate.grouped(Int($0.rounded())) } ?? "-",
                stage.latency.percentile(0.5).map(duration) ?? "-",
                stage.latency.percentile(0.99).map(duration) ?? "-",
                TerminalText.escape(stage.name),
            ])
        }
        lines += aligned(rows).map { "  " + $0 }
        return lines
    }

    /// Columns padded to their widest cell: numbers right-aligned, the last column (the stage) left-aligned.
    static func aligned(_ rows: [[String]]) -> [String] {
        let columns = rows.map(\.count).max() ?? 0
        var widths = [Int](repeating: 0, count: columns)
        for row in rows {
            for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) }
        }
        return rows.map { row in
            row.enumerated().map { index, cell in
                let padding = String(repeating: " ", count: widths[index] - cell.count)
                return index == row.count - 1 ? cell : padding + cell
            }.joined(separator: "  ")
        }
    }

    /// `512 B`, `12.3 kB`, `4.5 MB`, `1.2 GB` (decimal units, as the summary's MB/s).
    static func bytes(_ count: UInt64) -> String {
        if count < 1000 { return "\(count) B" }
        let units = ["kB", "MB", "GB", "TB", "PB"]
        var value = Double(count) / 1000
        var unit = 0
        while value >= 999.95 && unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        return tenths(value) + " " + units[unit]
    }

    /// A short time: `850 ns`, `12.3 µs`, `4.5 ms`, `1.2 s`, then `HumanTime.duration` from a minute on.
    static func duration(_ seconds: Double) -> String {
        if seconds >= 59.95 { return HumanTime.duration(seconds) }
        if seconds >= 1 { return tenths(seconds) + " s" }
        if seconds >= 1e-3 { return tenths(seconds * 1e3) + " ms" }
        if seconds >= 1e-6 { return tenths(seconds * 1e6) + " µs" }
        return "\(Int((seconds * 1e9).rounded())) ns"
    }

    static func nanoseconds(_ value: UInt64) -> String { duration(Double(value) / 1e9) }

    /// One decimal, rounded: `12.3`.
    private static func tenths(_ value: Double) -> String {
        let scaled = Int((value * 10).rounded())
        return "\(scaled / 10).\(scaled % 10)"
    }

    // MARK: - JSON

    /// The `stats` object of the backup's JSON summary.
    static func json(_ statistics: JobStatistics, summary: JobSummary) -> JSONLine {
        var job = JSONLine()
        job.add("wall_seconds", rounded(summary.wallSeconds))
        job.add("cpu_seconds", rounded(summary.cpuSeconds))
        job.add("peak_rss_bytes", summary.peakRSSBytes)
        job.add("worker_threads", statistics.workerThreads)
        job.add("stream_threads", statistics.streamThreads)
        var time = JSONLine()
        for (part, nanoseconds) in [
            ("walk", statistics.walkNanoseconds), ("read", statistics.readNanoseconds),
            ("stages", statistics.stagesNanoseconds), ("volume_write", statistics.volumeWriteNanoseconds),
            ("catalog", statistics.catalogNanoseconds),
        ] {
            time.add(part, seconds(nanoseconds))
        }
        job.add("time_seconds", object: time)

        let stages = statistics.rows.map { stage -> JSONLine in
            var line = JSONLine()
            line.add("stage", stage.name)
            for (field, count) in [
                ("entries_seen", UInt64(stage.entriesSeen)), ("files_seen", UInt64(stage.filesSeen)),
                ("files_skipped", UInt64(stage.filesSkipped)), ("bytes_in", stage.bytesIn), ("bytes_out", stage.bytesOut),
            ] {
                line.add(field, count)
            }
            line.add("busy_seconds", seconds(stage.busyNanoseconds))
            integer(stage.bytesPerSecond, "bytes_per_second", into: &line)
            integer(stage.filesPerSecond, "files_per_second", into: &line)
            line.add("latency_samples", stage.latency.samples)
            line.add("latency_p50_seconds", stage.latency.percentile(0.5).map(rounded))
            line.add("latency_p99_seconds", stage.latency.percentile(0.99).map(rounded))
            return line
        }
        var object = JSONLine()
        object.add("job", object: job)
        object.add("stages", objects: stages)
        return object
    }

    /// A rate as a whole number, or `null` when there is none.
    private static func integer(_ value: Double?, _ name: String, into line: inout JSONLine) {
        if let value, value.isFinite { line.add(name, Int64(value.rounded())) } else { line.addNull(name) }
    }

    /// Seconds to the nanosecond (what the clocks give; no float noise in the last digits).
    private static func rounded(_ seconds: Double) -> Double { (seconds * 1e9).rounded() / 1e9 }

    private static func seconds(_ nanoseconds: UInt64) -> Double { Double(nanoseconds) / 1e9 }
}
