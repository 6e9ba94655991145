import Pipeline

#if canImport(Glibc)
import Glibc
#endif

/// Progress of a running job, from its live counters, on its own thread (it only reads them):
/// - on a terminal (standard error, without `--json`): one line redrawn four times a second (or every
///   `OPTIONHOST_PROGRESS_INTERVAL` seconds) — files, bytes (counted
///   per chunk as large files stream), MB/s over the last 5 s, ETA only while an estimate exists, the file in
///   progress — and, when the job ends, one summary line in its place;
/// - with `--json`: one `{"type":"progress",...}` object on standard output every `jsonInterval` seconds (5, or
///   `OPTIONHOST_PROGRESS_INTERVAL`), whether or not the output is a terminal, for monitors.
final class ProgressPrinter: Sendable {
    private let counters: ProgressCounters
    private let verb: String
    private let json: Bool
    private let running = Locked(true)
    private let thread = Locked<WorkerThread?>(nil)
    private let started = Clock.monotonic()

    /// The sliding window of the MB/s figure and the ETA.
    static let window = 5.0

    /// Seconds between two reports: `OPTIONHOST_PROGRESS_INTERVAL` when set (at least 0.05: a monitor's choice,
    /// and the tests', which cannot wait 5 s per object), else 5 for JSON objects and 0.25 for the terminal line.
    static func interval(json: Bool) -> Double {
        if let text = getenv("OPTIONHOST_PROGRESS_INTERVAL").map({ String(cString: $0) }), let value = Double(text),
            value >= 0.05
        {
            return value
        }
        return json ? 5 : 0.25
    }

    /// Whether a terminal progress line is drawn (standard error is a terminal).
    static var enabled: Bool { isatty(2) == 1 }

    /// - Parameter json: progress objects on standard output instead of the terminal line.
    init(counters: ProgressCounters, verb: String, json: Bool = false) {
        self.counters = counters
        self.verb = verb
        self.json = json
    }

    /// Runs `body` with progress reported from `counters`, stopped however `body` ends.
    static func reporting<T>(
        _ counters: ProgressCounters, verb: String, json: Bool, _ body: () throws -> T
    ) rethrows -> T {
        let printer = ProgressPrinter(counters: counters, verb: verb, json: json)
        printer.start()
        defer { printer.stop() }
        return try body()
    }

    /// Whether this printer reports anything (a terminal line, or JSON objects).
    var active: Bool { json || ProgressPrinter.enabled }

    /// Starts reporting. Progress is a nicety: a thread that cannot start leaves the job without progress, never
    /// without its result.
    func start() {
        guard active else { return }
        let started = try? WorkerThread(name: "op-progress") { [self] in loop() }
        thread.withLock { $0 = started }
    }

    /// One reading of the counters, and the rate over the samples of the last `window` seconds.
    struct Sample {
        var time: Double
        var bytes: UInt64
    }

    private func loop() {
        let interval = ProgressPrinter.interval(json: json)
        var samples: [Sample] = [Sample(time: started, bytes: 0)]
        var nextReport = Clock.monotonic() + interval
        while running.withLock({ $0 }) {
            usleep(50_000)
            let now = Clock.monotonic()
            samples.append(Sample(time: now, bytes: counters.bytes.load(ordering: .relaxed)))
            // Keep one sample at or before the window's start, so the rate spans the whole window.
            while samples.count > 2 && samples[1].time <= now - ProgressPrinter.window { samples.removeFirst() }
            guard now >= nextReport else { continue }
            nextReport = now + interval
            let status = Status(counters: counters, samples: samples, elapsed: now - started)
            if json {
                ByteWriter.standardOutput.write(status.json(command: String(verb.dropLast(verb.hasSuffix(":") ? 1 : 0))))
                ByteWriter.standardOutput.flush()
            } else {
                draw(status)
            }
        }
    }

    /// Stops reporting; on a terminal the progress line gives way to one summary line.
    func stop() {
        let wasRunning = running.withLock { value in
            defer { value = false }
            return value
        }
        thread.withLock { $0 }?.join()
        guard wasRunning, !json, ProgressPrinter.enabled else { return }
        let elapsed = max(Clock.monotonic() - started, 0.001)
        let files = counters.files.load(ordering: .relaxed)
        let bytes = counters.bytes.load(ordering: .relaxed)
        var line = "\(verb) \(OptionHost.Estimate.grouped(files)) files, \(OptionHost.Estimate.megabytes(bytes)) in "
        line += "\(HumanTime.duration(elapsed)), \(ProgressPrinter.rateText(Double(bytes) / elapsed)) average"
        let errors = counters.errors.load(ordering: .relaxed)
        if errors > 0 { line += ", \(errors) errors" }
        ByteWriter.raw(2, "\r\u{1B}[K" + line + "\n")
    }

    /// `12 MB/s`, or `3.4 MB/s` below 10.
    static func rateText(_ bytesPerSecond: Double) -> String {
        let megabytes = bytesPerSecond / 1e6
        if megabytes >= 10 { return "\(Int(megabytes.rounded())) MB/s" }
        let tenths = Int((megabytes * 10).rounded())
        return "\(tenths / 10).\(tenths % 10) MB/s"
    }

    private func draw(_ status: Status) {
        var line = "\(verb) \(OptionHost.Estimate.grouped(status.files)) files, "
            + "\(OptionHost.Estimate.megabytes(status.bytes)), \(ProgressPrinter.rateText(status.rate))"
        if let totals = status.totals {
            line += " of " + (totals.files > 0 ? "\(OptionHost.Estimate.grouped(totals.files)) files, " : "")
                + OptionHost.Estimate.megabytes(totals.bytes)
        }
        if let eta = status.eta { line += ", ETA \(HumanTime.duration(eta))" }
        if status.errors > 0 { line += ", \(status.errors) errors" }
        let path = String(decoding: TerminalText.escape(status.path), as: UTF8.self)
        var columns = 100
        var size = winsize()
        if ioctl(2, UInt(TIOCGWINSZ), &size) == 0 && size.ws_col > 20 { columns = Int(size.ws_col) }
        let room = columns - line.count - 3
        if room > 10 {
            line += "  " + (path.count > room ? "…" + path.suffix(room - 1) : path)
        }
        ByteWriter.raw(2, "\r\u{1B}[K" + String(line.prefix(columns - 1)))
    }
}

extension ProgressPrinter {
    /// What one report says.
    struct Status {
        var elapsed: Double
        var files: Int
        var entries: Int
        var bytes: UInt64
        var errors: Int
        /// Bytes per second over the sliding window.
        var rate: Double
        var totals: (files: Int, bytes: UInt64)?
        /// Seconds left at the window's rate: only with totals, bytes left to do and bytes moving (a stalled or
        /// overrun job shows none rather than a climbing guess).
        var eta: Double?
        var path: [UInt8]

        init(counters: ProgressCounters, samples: [Sample], elapsed: Double) {
            self.elapsed = elapsed
            files = counters.files.load(ordering: .relaxed)
            entries = counters.entries.load(ordering: .relaxed)
            errors = counters.errors.load(ordering: .relaxed)
            bytes = samples.last?.bytes ?? 0
            path = counters.currentPath
            if let first = samples.first, let last = samples.last, last.time - first.time > 0.2 {
                rate = Double(last.bytes &- first.bytes) / (last.time - first.time)
            } else {
                rate = 0
            }
            if counters.totalsKnown.load(ordering: .relaxed) {
                let total = (counters.totalFiles.load(ordering: .relaxed), counters.totalBytes.load(ordering: .relaxed))
                totals = total
                if rate > 0 && total.1 > bytes { eta = Double(total.1 - bytes) / rate }
            }
        }

        /// `{"type":"progress","command":"backup",...}` with a newline.
        func json(command: String) -> [UInt8] {
            var line = JSONLine()
            line.add("type", "progress")
            line.add("command", command)
            line.add("elapsed_seconds", (elapsed * 1000).rounded() / 1000)
            line.add("files", files)
            line.add("entries", entries)
            line.add("bytes", bytes)
            line.add("bytes_per_second", rate.rounded())
            if let totals {
                line.add("total_files", totals.files)
                line.add("total_bytes", totals.bytes)
            }
            if let eta { line.add("eta_seconds", eta.rounded()) }
            line.add("errors", errors)
            line.addPath(path)
            return line.line
        }
    }
}

extension ByteWriter {
    /// Writes directly (unbuffered) — for the progress line, which shares the terminal with nothing else.
    static func raw(_ fd: Int32, _ text: String) {
        var bytes = Array(text.utf8)
        _ = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    }
}
