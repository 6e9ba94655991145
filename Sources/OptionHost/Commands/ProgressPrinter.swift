import Pipeline

#if canImport(Glibc)
import Glibc
#endif

/// Progress on a terminal (files, bytes, MB/s, ETA, current path), redrawn four times a second on standard
/// error; silent when standard error is not a terminal. Runs on its own thread and only reads counters.
final class ProgressPrinter: Sendable {
    private let counters: ProgressCounters
    private let verb: String
    private let running = Locked(true)
    private let thread = Locked<WorkerThread?>(nil)
    private let started = Clock.monotonic()

    static var enabled: Bool { isatty(2) == 1 }

    init(counters: ProgressCounters, verb: String) {
        self.counters = counters
        self.verb = verb
    }

    /// Starts redrawing (when standard error is a terminal). Progress is a nicety: a thread that cannot start
    /// leaves the job without a progress line, never without its result.
    func start() {
        guard ProgressPrinter.enabled else { return }
        let started = try? WorkerThread(name: "op-progress") { [self] in loop() }
        thread.withLock { $0 = started }
    }

    private func loop() {
        while running.withLock({ $0 }) {
            draw()
            usleep(250_000)
        }
    }

    func stop() {
        running.withLock { $0 = false }
        thread.withLock { $0 }?.join()
        if ProgressPrinter.enabled { ByteWriter.raw(2, "\r\u{1B}[K") }
    }

    static func duration(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        return total >= 3600
            ? "\(total / 3600):\(pad(total / 60 % 60)):\(pad(total % 60))" : "\(total / 60):\(pad(total % 60))"
    }

    private static func pad(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }

    private func draw() {
        let elapsed = max(Clock.monotonic() - started, 0.001)
        let files = counters.files.load(ordering: .relaxed)
        let bytes = counters.bytes.load(ordering: .relaxed)
        let rate = Double(bytes) / 1e6 / elapsed
        var line = "\(verb) \(OptionHost.Estimate.grouped(files)) files, \(OptionHost.Estimate.megabytes(bytes)), "
        line += "\(Int(rate.rounded())) MB/s"
        if counters.totalsKnown.load(ordering: .relaxed) {
            let totalBytes = counters.totalBytes.load(ordering: .relaxed)
            let totalFiles = counters.totalFiles.load(ordering: .relaxed)
            line += " of \(OptionHost.Estimate.grouped(totalFiles)) files, \(OptionHost.Estimate.megabytes(totalBytes))"
            if bytes > 0 && totalBytes > bytes {
                line += ", ETA " + ProgressPrinter.duration(Double(totalBytes - bytes) / (Double(bytes) / elapsed))
            }
        }
        let errors = counters.errors.load(ordering: .relaxed)
        if errors > 0 { line += ", \(errors) errors" }
        let path = String(decoding: TerminalText.escape(counters.currentPath), as: UTF8.self)
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

extension ByteWriter {
    /// Writes directly (unbuffered) — for the progress line, which shares the terminal with nothing else.
    static func raw(_ fd: Int32, _ text: String) {
        var bytes = Array(text.utf8)
        _ = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    }
}
