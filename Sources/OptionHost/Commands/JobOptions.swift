import ArgumentParser
import Pipeline
import Stages

#if canImport(Glibc)
import Glibc
#endif

/// Where a catalog is: a SQLite file, or a PostgreSQL database (a Catalog resource with `DB Driver = postgresql`).
enum CatalogLocation {
    case file(String)
    case postgreSQL(PostgreSQLSettings)

    /// The file, or `database "NAME" on HOST as USER` (never the password), for messages.
    var name: String {
        switch self {
        case .file(let path): path
        case .postgreSQL(let settings): Self.postgreSQLPrefix + "\(settings)"
        }
    }

    /// How ``name`` starts for a PostgreSQL catalog.
    static let postgreSQLPrefix = "PostgreSQL catalog "

    /// The client a command that picks one client's jobs works on: `flag` (`--client`), else on a PostgreSQL
    /// catalog (several hosts) this host's, the configured Job's `Client` or the host name; on a SQLite catalog
    /// (one host) nil, every client.
    func client(flag: String?, job: Job?) -> String? {
        guard flag == nil, case .postgreSQL = self else { return flag }
        return job?.clientName ?? Job.hostClientName
    }
}

/// Where a command finds the catalog (decision D4: `--catalog FILE`, or the Job's `Catalog` resource).
struct CatalogOptions: ParsableArguments {
    @Option(help: "The SQLite catalog file (overrides the Job's Catalog resource).")
    var catalog: String?

    /// The catalog from the flag, or from the Catalog resource of `job` (or the only Catalog), with a clear error
    /// naming both ways when neither says where it is.
    func catalogLocation(configuration: Configuration?, job: Job?) throws -> CatalogLocation {
        try Self.location(flag: catalog, configuration: configuration, job: job)
    }

    /// The catalog `--catalog FILE` names, else the Catalog resource of `job` (or the only Catalog).
    static func location(flag: String?, configuration: Configuration?, job: Job?) throws -> CatalogLocation {
        if let catalog = flag { return .file(catalog) }
        var resource: CatalogResource?
        if let name = job?.catalog {
            resource = configuration?.catalogs[name]
        } else if let catalogs = configuration?.catalogs, catalogs.count == 1 {
            resource = catalogs.values.first
        }
        guard let resource else {
            throw CommandFailure.usage(
                "no catalog: pass --catalog FILE, or name a Catalog resource (DB Driver = sqlite3, DB Name = PATH) "
                    + "with Catalog = NAME in the Job")
        }
        if let settings = resource.postgreSQL { return .postgreSQL(settings) }
        guard resource.isSupported, let path = resource.databaseName else {
            throw CommandFailure.usage(
                "Catalog \"\(resource.name)\" (\(resource.location)) is not usable here: this host needs "
                    + "DB Driver = sqlite3 and DB Name = PATH, or DB Driver = postgresql (or pass --catalog FILE)")
        }
        return .file(path)
    }
}

/// A command-level failure with its exit code (D5).
struct CommandFailure: Error, CustomStringConvertible {
    var message: String
    var code: ExitCode

    static func usage(_ message: String) -> CommandFailure { CommandFailure(message: message, code: ExitStatus.usage) }
    static func failed(_ message: String) -> CommandFailure { CommandFailure(message: message, code: ExitStatus.jobFailed) }

    var description: String { message }
}

enum CommandSupport {
    /// A note before a command's result: `note: TEXT` on standard error, or with `--json` a `warning` object on
    /// standard output. Written out at once (a job may run for hours after it).
    static func note(_ text: String, json: Bool) {
        if json {
            var line = JSONLine()
            line.add("type", "warning")
            line.add("message", text)
            ByteWriter.standardOutput.write(line.line)
            ByteWriter.standardOutput.flush()
        } else {
            ByteWriter.standardError.line("note: \(TerminalText.escape(text))")
            ByteWriter.standardError.flush()
        }
    }

    /// Reports a failure (text on stderr, or a JSON error + summary) and exits with its code.
    static func report(_ failure: CommandFailure, json: Bool) -> ExitCode {
        if json {
            var line = JSONLine()
            line.add("type", "error")
            line.add("message", failure.message)
            ByteWriter.standardOutput.write(line.line)
            var summary = JSONLine()
            summary.add("type", "summary")
            summary.add("status", failure.code == ExitStatus.usage ? "error" : "failed")
            ByteWriter.standardOutput.write(summary.line)
            ByteWriter.standardOutput.flush()
        } else {
            ByteWriter.standardError.line("optionhost: \(TerminalText.escapeKeepingNewlines(failure.message))")
            ByteWriter.standardError.flush()
        }
        return failure.code
    }

    /// Refuses, with the `file:line:col` of the line, a FileSet whose Include has a command plugin this host does
    /// not run (anything but python3:, or any with `Plugin Isolation = process`) or whose chains name a stage this
    /// build does not have (D1) — before anything is created or read.
    static func checkStages(
        of fileSet: FileSet, in configuration: Configuration, isolation: Job.PluginIsolation = .inprocess
    ) throws {
        for include in fileSet.includes {
            for plugin in include.plugins {
                guard PluginString.isPython(plugin.string) else {
                    throw CommandFailure.failed(
                        "\(plugin.location): FileSet \"\(fileSet.name)\" has Include-level Plugin \""
                            + "\(PluginString.name(plugin.string))\", a Bareos command plugin this host does not run "
                            + "(only python3: command plugins run here)")
                }
                if isolation == .process {
                    throw CommandFailure.failed(
                        "\(plugin.location): command plugin \(plugin.string) does not run with Plugin Isolation = "
                            + "process yet (only Options-level plugins do); set Plugin Isolation = inprocess in this Job")
                }
                do {
                    _ = try StageRegistry.makeStage(plugin.string)
                } catch {
                    throw CommandFailure.failed("\(plugin.location): \(error)")
                }
            }
            for block in include.options {
                let entries: [PluginEntry]
                do {
                    entries = try configuration.expandedChain(block.plugins)
                } catch {
                    throw CommandFailure.usage(error.description)
                }
                for entry in entries {
                    // Creating a stage is cheap (a Python plugin loads at job start), and refuses strings that
                    // cannot work, e.g. a python3: string without module_name.
                    do {
                        _ = try StageRegistry.makeStage(entry.string)
                    } catch {
                        throw CommandFailure.failed("\(entry.location): \(error)")
                    }
                }
            }
        }
    }

    /// `path` made absolute from the working directory.
    static func absolutePath(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        guard let cwd = getcwd(nil, 0) else { return path }
        defer { free(cwd) }
        let base = String(cString: cwd)
        return (base.hasSuffix("/") ? base : base + "/") + (path.hasPrefix("./") ? String(path.dropFirst(2)) : path)
    }

    /// The stage factory of this build (the registry of the `Stages` module) for a Job: its Python plugin settings (Plugin Directory, Plugin Call Timeout, Accurate,
    /// Fd Plugin Options), and for restore the passphrase file of the `gpg` job keys (`--passphrase-file`) and
    /// the GnuPG home that replaces a `gpg` stage's `keyring=` (`--keyring`), and `forRestore` (stages skip checks
    /// that only a backup needs).
    static func stageFactory(
        job: Job?, configurationPath: String?, passphraseFile: String? = nil, keyring: String? = nil,
        forRestore: Bool = false
    ) -> StageChainBuilder.Factory {
        let python = pythonSettings(job: job, configurationPath: configurationPath)
        return StageRegistry.factory(
            StageEnvironment(
                python: python, passphraseFile: passphraseFile.map(absolutePath), keyring: keyring.map(absolutePath),
                forRestore: forRestore))
    }

    /// How a Job's Python plugins run: Plugin Directory, Plugin Call Timeout, Accurate, Fd Plugin Options, Client.
    static func pythonSettings(job: Job?, configurationPath: String?) -> PythonPluginSettings {
        var python = PythonPluginSettings()
        if let job {
            python.pluginDirectory = job.pluginDirectory.map(absolutePath)
            python.callTimeout = Double(job.pluginCallTimeout)
            python.accurate = job.accurate
            python.overrides = job.fdPluginOptions
            python.clientName = job.client
            python.isolation = job.pluginIsolation
        }
        python.configurationPath = configurationPath.map(absolutePath)
        return python
    }

    /// The Job's Director plugins (`Dir Plugin Options`), not loaded yet (the backup loads them once it has a
    /// JobId). The configuration reader checked the strings, so a refusal here is a usage error.
    static func directorPlugins(job: Job, configurationPath: String?) throws -> [any DirectorPlugin] {
        do {
            return try PythonDirectorPlugin.plugins(
                of: job, settings: pythonSettings(job: job, configurationPath: configurationPath))
        } catch {
            throw CommandFailure.usage("\(job.location): \(error)")
        }
    }

    /// `mkdir -p` with mode 0700 for the parts it creates.
    static func makeDirectories(_ path: String) throws {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            do {
                try SystemCall.makeDirectory(current, mode: 0o700)
            } catch .exists {
                continue
            } catch {
                throw CommandFailure.failed(error.message("cannot create directory \(current)"))
            }
        }
    }

    /// Relative `File =` entries are taken from the working directory; the catalog records absolute paths.
    static func absolutized(_ fileSet: FileSet) -> FileSet {
        guard let cwd = getcwd(nil, 0) else { return fileSet }
        let base = Array(String(cString: cwd).utf8)
        free(cwd)
        var result = fileSet
        for index in result.includes.indices {
            for fileIndex in result.includes[index].files.indices {
                let value = result.includes[index].files[fileIndex].value
                guard let first = value.first, first != UInt8(ascii: "/"), first != UInt8(ascii: "<"),
                    first != UInt8(ascii: "|"), first != UInt8(ascii: "\\")
                else { continue }
                var absolute = base
                if absolute.last != UInt8(ascii: "/") { absolute.append(UInt8(ascii: "/")) }
                absolute += value.starts(with: Array("./".utf8)) ? Array(value.dropFirst(2)) : value
                result.includes[index].files[fileIndex].value = absolute
            }
        }
        return result
    }

    /// Ctrl-C cancels the running job cleanly (the job is marked cancelled); a second Ctrl-C exits at once.
    nonisolated(unsafe) static var activeCancellation: CancellationFlag?

    static func installInterruptHandler(_ flag: CancellationFlag) {
        activeCancellation = flag
        signal(SIGINT) { _ in
            if let flag = CommandSupport.activeCancellation, !flag.isCancelled {
                flag.cancel(reason: "interrupted (Ctrl-C)")
            } else {
                _exit(130)
            }
        }
        signal(SIGTERM) { _ in CommandSupport.activeCancellation?.cancel(reason: "terminated (SIGTERM)") }
    }

    static func summaryJSON(_ summary: JobSummary, extra: (inout JSONLine) -> Void = { _ in }) -> [UInt8] {
        var line = JSONLine()
        line.add("type", "summary")
        line.add("job_id", summary.jobID)
        line.add("job", summary.jobName)
        line.add("level", summary.level)
        line.add("status", statusWord(summary.status))
        line.add("files_examined", summary.filesExamined)
        line.add("files_stored", summary.filesStored)
        line.add("files_skipped", summary.filesSkipped)
        if !summary.skippedByStage.isEmpty {
            line.addObject("skipped_by_stage", summary.skippedByStage.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
        }
        line.add("files_failed", summary.filesFailed)
        if summary.filesReread > 0 { line.add("files_reread", summary.filesReread) }
        line.add("entries_stored", summary.entriesStored)
        line.add("bytes_read", summary.bytesRead)
        line.add("bytes_stored", summary.bytesStored)
        line.add("errors", summary.errors)
        line.add("warnings", summary.warnings)
        line.add("wall_seconds", (summary.wallSeconds * 1000).rounded() / 1000)
        line.add("cpu_seconds", (summary.cpuSeconds * 1000).rounded() / 1000)
        line.add("peak_rss_bytes", summary.peakRSSBytes)
        line.add("volumes", summary.volumes)
        if let failure = summary.failure { line.add("failure", failure) }
        extra(&line)
        return line.line
    }

    static func statusWord(_ status: JobStatus) -> String {
        switch status {
        case .ok: return "ok"
        case .warnings: return "warnings"
        case .failed: return "failed"
        case .cancelled: return "cancelled"
        case .running: return "running"
        }
    }

    static func exitCode(for status: JobStatus) -> ExitCode {
        switch status {
        case .ok: return ExitStatus.success
        case .warnings: return ExitStatus.warnings
        case .failed, .cancelled, .running: return ExitStatus.jobFailed
        }
    }

    static func message(_ message: JobMessage) -> [UInt8] {
        var line = JSONLine()
        line.add("type", message.severity)
        if let path = message.path { line.addPath(path) }
        if let stage = message.stage { line.add("stage", stage) }
        line.add("message", message.text)
        return line.line
    }

    static func messageText(_ message: JobMessage) -> [UInt8] {
        var bytes = Array("\(message.severity): ".utf8)
        if let path = message.path { bytes += TerminalText.escape(path) + Array(": ".utf8) }
        if let stage = message.stage, !message.text.hasPrefix("stage ") {
            bytes += Array("stage \(TerminalText.escape(stage)): ".utf8)
        }
        // A traceback keeps its lines, indented under the message's first line so that every message starts a
        // line with its severity (grep-able, one entry per unindented line); any other control byte is escaped.
        var text = TerminalText.escapeKeepingNewlines(message.text)
        while text.hasSuffix("\n") { text.removeLast() }
        return bytes + Array(text.replacingOccurrences(of: "\n", with: "\n    ").utf8) + [UInt8(ascii: "\n")]
    }
}
