import ArgumentParser
import Pipeline
import Stages

extension OptionHost.Bench {
    /// `optionhost bench plugin STRING`: the cost of a Python plugin's decision hook in-process, without file I/O:
    /// synthetic entries in batches of 256 through the real stage (hand-off to the Python thread, SavePacket,
    /// `handle_backup_file`, answer), CPU time of the whole process per entry.
    struct Plugin: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Time a Python plugin's handle_backup_file per entry (in-process, no file I/O).")

        @Argument(help: "The plugin string, e.g. python3:module_path=DIR:module_name=NAME.")
        var plugin: String

        @Option(help: "Entries offered (after a warm-up of one batch).")
        var entries = 200_000

        @Option(help: "Entries per batch (the backup's default is 256).")
        var batch = 256

        func run() throws {
            let stage = try StageRegistry.makeStage(plugin)
            let context = StageContext(mode: .backup, jobID: 1, jobName: "bench", level: "Full", fileSetName: "bench")
            try stage.handle(.jobStarted, context: context)
            defer { try? stage.handle(.jobEnded(succeeded: true), context: context) }
            let now = Clock.realtime()
            var items: [FileItem] = []
            for index in 0..<max(1, batch) {
                let stat = FileStat(
                    dev: 1, ino: UInt64(index), mode: 0o100644, nlink: 1, uid: 0, gid: 0, rdev: 0, size: 8192,
                    blocks: 16, atime: now, mtime: now, ctime: now)
                let entry = SelectedEntry(
                    path: Array("/srv/data/dir\(index % 20)/file-\(index).txt".utf8), kind: .file, stat: stat,
                    includeIndex: 0, blockIndex: 0, effectiveBlockIndex: 0, isTopLevel: false, chain: [plugin])
                items.append(FileItem(entry: entry, fileIndex: Int64(index)))
            }
            var answers: [String: Int] = [:]
            func offer() {
                var copy = items
                for result in stage.decide(batch: &copy, context: context) {
                    switch result {
                    case .success(.core): answers["core", default: 0] += 1
                    case .success(.skip): answers["skip", default: 0] += 1
                    case .success(.takeOver): answers["take-over", default: 0] += 1
                    case .failure: answers["failed", default: 0] += 1
                    }
                }
            }
            offer()
            answers = [:]
            let rounds = max(1, entries / items.count)
            let cpuStart = Clock.cpuSeconds()
            let wallStart = Clock.monotonic()
            for _ in 0..<rounds { offer() }
            let cpu = Clock.cpuSeconds() - cpuStart
            let wall = Clock.monotonic() - wallStart
            let count = Double(rounds * items.count)
            let out = ByteWriter.standardOutput
            let cpuPerEntry = Plugin.format(cpu * 1e6 / count)
            let wallPerEntry = Plugin.format(wall * 1e6 / count)
            let answerText = answers.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            out.line(
                "plugin \(PluginString.name(plugin)): \(Int(count)) entries in batches of \(items.count): "
                    + "\(cpuPerEntry) µs CPU and \(wallPerEntry) µs wall per entry; answers \(answerText)")
            for message in context.drainMessages().prefix(5) { out.line("  \(message.severity): \(message.text)") }
            out.flush()
        }
    
        /// Three decimals.
        static func format(_ value: Double) -> String {
            let thousandths = Int((value * 1000).rounded())
            let fraction = String(thousandths % 1000)
            return "\(thousandths / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
        }
    }
}
