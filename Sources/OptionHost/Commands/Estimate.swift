import ArgumentParser
import Pipeline
import Stages

#if canImport(Glibc)
import Glibc
#endif

extension OptionHost {
    /// `optionhost estimate CONFIG --job NAME [--listing] [--json]`, like bconsole's `estimate listing`.
    struct Estimate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Walk a Job's FileSet and report what a full backup would store.",
            discussion: """
                Without --listing only the totals are printed. --listing prints one line per entry: mode, links,
                owner, group, size, mtime, path, the Options block that matched and the stage chain. Directories are
                listed after their contents, as Bareos sends them. Python plugins are never loaded by estimate; stages
                whose decisions have no side effects (owner) run, and the entries they skip are listed with the
                stage and the reason, and are not counted in the totals.
                """
        )

        @OptionGroup var options: ConfigOptions

        @Option(help: "The Job whose FileSet is walked.")
        var job: String

        @Flag(help: "List every entry.")
        var listing = false

        struct Totals {
            var files = 0
            var bytes: UInt64 = 0
            var directories = 0
            var links = 0
            var others = 0
            var skipped = 0
            var errors = 0
            var warnings = 0
        }

        func run() throws {
            let configuration = try options.load()
            try Estimate.estimate(configuration: configuration, jobName: job, listing: listing, json: options.json)
        }

        /// Walks the FileSet of `jobName` and prints the listing (optional) and the totals.
        /// - Throws: `ExitStatus` 2 for an unknown job, 3 when the walk cannot start, 1 when entries failed.
        static func estimate(configuration: Configuration, jobName: String, listing: Bool, json: Bool) throws {
            let printer = Printer(json: json)
            guard let job = configuration.job(named: jobName) else {
                let names = configuration.jobs.keys.sorted().joined(separator: ", ")
                printer.fail("no Job named \"\(jobName)\"" + (names.isEmpty ? " (no Jobs configured)" : " (Jobs: \(names))"))
                throw ExitStatus.usage
            }
            guard let fileSetName = job.fileSet, let configured = configuration.fileSets[fileSetName] else {
                printer.fail("Job \"\(job.name)\" has no FileSet")
                throw ExitStatus.usage
            }
            // Relative File entries are taken from the working directory, as backup records them.
            let fileSet = CommandSupport.absolutized(configured)
            let started = Estimate.now()
            let out = ByteWriter.standardOutput
            let formatter = EntryFormatter()
            var totals = Totals()
            for include in fileSet.includes {
                for plugin in include.plugins {
                    totals.warnings += 1
                    printer.report(
                        "warning", path: nil,
                        "\(plugin.location): command plugin \"\(PluginString.name(plugin.string))\" is not run by "
                            + "estimate (a Python plugin's loop may have side effects, D3); its entries are not "
                            + "estimated")
                }
            }
            do {
                let chains = configuration.chains(for: fileSet)
                let decider = try Decider(chains: chains, jobName: job.name, fileSet: fileSet)
                defer { decider.end() }
                let selector = try FileSelector(fileSet: fileSet, chains: chains)
                var fileIndex: Int64 = 0
                try selector.run { event in
                    switch event {
                    case .entry(let entry):
                        fileIndex += 1
                        let skip = decider.skip(entry, fileIndex: fileIndex)
                        if let skip {
                            if entry.kind == .file { totals.skipped += 1 }
                            guard listing else { return }
                            out.write(
                                json
                                    ? Estimate.json(entry, skip: skip)
                                    : formatter.line(entry, decision: "skipped by \(skip.stage)" + (skip.reason.map { ": \($0)" } ?? "")))
                            return
                        }
                        switch entry.kind {
                        case .file:
                            totals.files += 1
                            totals.bytes += entry.stat.size
                        case .directory: totals.directories += 1
                        case .symlink, .hardLink: totals.links += 1
                        default: totals.others += 1
                        }
                        guard listing else { return }
                        out.write(json ? Estimate.json(entry) : formatter.line(entry))
                    case .problem(let problem):
                        switch problem.severity {
                        case .error: totals.errors += 1
                        case .warning: totals.warnings += 1
                        case .info: break
                        }
                        printer.report(problem.severity.rawValue, path: problem.path, problem.message)
                    }
                }
            } catch let error as Decider.Failure {
                out.flush()
                printer.fail(error.message)
                throw ExitStatus.usage
            } catch let error as SelectionError {
                out.flush()
                printer.fail(error.description)
                printer.summary(job: job, fileSet: fileSet, totals: totals, status: "failed", started: started)
                throw ExitStatus.jobFailed
            }
            printer.summary(job: job, fileSet: fileSet, totals: totals, status: "ok", started: started)
            ByteWriter.standardError.flush()
            if totals.errors > 0 { throw ExitStatus.warnings }
        }

        static func json(_ entry: SelectedEntry, skip: Decider.Skip? = nil) -> [UInt8] {
            var line = JSONLine()
            line.addPath(entry.path)
            line.add("type", entry.kind.rawValue)
            line.add("size", entry.stat.size)
            line.add("mtime", entry.stat.mtime.seconds)
            line.add("mode", entry.stat.mode & 0o7777)
            line.add("uid", entry.stat.uid)
            line.add("gid", entry.stat.gid)
            line.add("include", entry.includeIndex)
            if let block = entry.blockIndex { line.add("block", block) } else { line.addNull("block") }
            line.add("chain", entry.chain)
            if let target = entry.linkTarget { line.addPath(target, key: "link") }
            if entry.isTopLevel { line.add("top", true) }
            if let note = entry.note { line.add("note", note) }
            if let skip {
                line.add("decision", "skip")
                line.add("stage", skip.stage)
                if let reason = skip.reason { line.add("reason", reason) }
            }
            return line.line
        }

        static func grouped(_ value: some BinaryInteger) -> String {
            let digits = Array(String(value))
            var out = ""
            for (index, digit) in digits.enumerated() {
                if index > 0 && (digits.count - index) % 3 == 0 { out.append(",") }
                out.append(digit)
            }
            return out
        }

        static func megabytes(_ bytes: UInt64) -> String {
            let tenths = (bytes + 50_000) / 100_000
            return "\(tenths / 10).\(tenths % 10) MB"
        }

        static func now() -> Double {
            var spec = timespec()
            clock_gettime(CLOCK_MONOTONIC, &spec)
            return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
        }

        /// Text or JSON Lines output of an estimate.
        struct Printer {
            var json: Bool

            func fail(_ message: String) {
                if json {
                    var line = JSONLine()
                    line.add("type", "error")
                    line.add("message", message)
                    ByteWriter.standardOutput.write(line.line)
                    ByteWriter.standardOutput.flush()
                } else {
                    ByteWriter.standardError.line("optionhost: \(TerminalText.escapeKeepingNewlines(message))")
                    ByteWriter.standardError.flush()
                }
            }

            /// A problem found during the walk: a JSON event, or `severity: path: message` on standard error.
            func report(_ severity: String, path: [UInt8]?, _ message: String) {
                if json {
                    var line = JSONLine()
                    line.add("type", severity)
                    if let path { line.addPath(path) }
                    line.add("message", message)
                    ByteWriter.standardOutput.write(line.line)
                } else {
                    var bytes = Array("\(severity): ".utf8)
                    if let path { bytes += TerminalText.escape(path) + Array(": ".utf8) }
                    ByteWriter.standardError.write(
                        bytes + Array(TerminalText.escapeKeepingNewlines(message).utf8) + [UInt8(ascii: "\n")])
                }
            }

            func summary(job: Job, fileSet: FileSet, totals: Totals, status: String, started: Double) {
                let wall = Estimate.now() - started
                let out = ByteWriter.standardOutput
                if json {
                    var line = JSONLine()
                    line.add("type", "summary")
                    line.add("job", job.name)
                    line.add("fileset", fileSet.name)
                    line.add("level", "Full")
                    line.add("status", status)
                    line.add("files", totals.files)
                    line.add("bytes", totals.bytes)
                    line.add("directories", totals.directories)
                    line.add("links", totals.links)
                    line.add("other", totals.others)
                    line.add("files_skipped", totals.skipped)
                    line.add("errors", totals.errors)
                    line.add("warnings", totals.warnings)
                    line.add("wall_seconds", (wall * 1000).rounded() / 1000)
                    out.write(line.line)
                } else {
                    out.line(
                        "Estimate of Job \"\(job.name)\" (FileSet \"\(fileSet.name)\", level Full): "
                            + "\(Estimate.grouped(totals.files)) files, \(Estimate.grouped(totals.bytes)) bytes "
                            + "(\(Estimate.megabytes(totals.bytes)))")
                    out.line(
                        "  \(totals.directories) directories, \(totals.links) links, \(totals.others) other entries; "
                            + (totals.skipped > 0 ? "\(Estimate.grouped(totals.skipped)) files skipped by stages; " : "")
                            + "\(totals.errors) errors, \(totals.warnings) warnings; "
                            + "\(Int((wall * 1000).rounded())) ms")
                }
                out.flush()
            }
        }
    }
}
