import ArgumentParser
import Pipeline

#if canImport(Glibc)
import Glibc
#endif

/// The catalog and job a catalog-reading command works on: an optional CONFIG, `--catalog`, `--jobid` or
/// `--latest --job NAME`.
struct JobSelection: ParsableArguments {
    @Argument(help: "A config file or directory (to find the catalog through the Job's Catalog resource).")
    var config: String?

    @OptionGroup var catalogOptions: CatalogOptions

    @Option(help: "The job (as bconsole's jobid=).")
    var jobid: Int64?

    @Option(help: "With --latest: the Job name.")
    var job: String?

    @Flag(help: "The newest successful job of --job.")
    var latest = false

    @Option(
        help: ArgumentHelp(
            "With --latest: the client whose job is taken.",
            discussion: """
                Default on a PostgreSQL catalog (several hosts): the Job's Client in CONFIG, else this host's name; \
                on a SQLite catalog: any client. Jobs with no recorded client (copied, or scanned from volumes of \
                older builds) count for every client.
                """))
    var client: String?

    @Flag(help: "Print JSON Lines instead of text.")
    var json = false

    /// Exclusions only: whether a job must be named depends on the command (`restore --file-version` needs none), so
    /// commands call ``requireJob()`` from their own `validate`, and ``open()`` checks again.
    func validate() throws {
        if jobid != nil && latest { throw ValidationError("--jobid and --latest exclude each other") }
        if latest && job == nil { throw ValidationError("--latest needs --job NAME") }
        if client != nil && !latest { throw ValidationError("--client narrows --latest; a JobId names one job") }
    }

    func requireJob() throws {
        if jobid == nil && !latest { throw ValidationError("name the job with --jobid ID or --latest --job NAME") }
    }

    func configuration() throws -> Configuration? {
        guard let config else { return nil }
        do {
            return try Configuration.load(path: config)
        } catch {
            ByteWriter.standardError.line(TerminalText.escapeKeepingNewlines(error.description))
            ByteWriter.standardError.flush()
            throw ExitStatus.usage
        }
    }

    func catalogPath(_ configuration: Configuration?) throws -> String {
        let configuredJob = job.flatMap { configuration?.job(named: $0) }
        return try catalogOptions.catalogLocation(configuration: configuration, job: configuredJob).name
    }

    /// Opens the catalog (it must exist). Jobs still marked running whose process is gone are marked failed first
    /// (``CatalogUpkeep/markAbandonedJobs(_:location:finder:)``).
    func openCatalog(_ configuration: Configuration?) throws -> (DatabaseCatalog, String) {
        let configuredJob = job.flatMap { configuration?.job(named: $0) }
        let command = CommandLine.arguments.dropFirst().first.map { "optionhost \($0)" } ?? "optionhost"
        let path: String
        switch try catalogOptions.catalogLocation(configuration: configuration, job: configuredJob) {
        case .file(let file):
            path = file
        case .postgreSQL(let settings):
            let name = CatalogLocation.postgreSQL(settings).name
            let catalog: DatabaseCatalog
            do {
                catalog = try DatabaseCatalog.open(postgreSQL: settings, create: false)
            } catch {
                throw CatalogUpkeep.failure(error, path: name)
            }
            // Jobs of other hosts may be running: only jobs whose JobId lock no session holds are marked.
            CatalogUpkeep.markAbandonedJobs(catalog, location: .postgreSQL(settings), finder: command)
            return (catalog, name)
        }
        guard access(path, F_OK) == 0 else { throw CommandFailure.usage("catalog \(path) does not exist") }
        let catalog: SQLiteCatalog
        do {
            catalog = try SQLiteCatalog.open(path: path, create: false)
        } catch {
            throw CatalogUpkeep.failure(error, path: path)
        }
        CatalogUpkeep.markAbandonedJobs(catalog, location: .file(path), finder: command)
        return (catalog, path)
    }

    @Flag(
        help: ArgumentHelp(
            "Restore or verify a job that did not finish, or whose restore chain lacks jobs, saying what is missing."))
    var allowIncomplete = false

    /// Refuses (exit 3) a job whose restore or verify would be incomplete: the job did not finish, or (`chain`)
    /// a job of its restore chain is not in the catalog or did not finish. With `--allow-incomplete` the same
    /// problems are returned, to be reported as warnings.
    func incompleteness(of job: JobID, in catalog: SQLiteCatalog, chain: Bool) throws -> [String] {
        let problems: [String]
        if chain {
            problems = try JobChain.gaps(asOf: job, in: catalog)
        } else {
            problems = try catalog.job(job).flatMap { try JobChain.unfinished($0, in: catalog) }.map { [$0] } ?? []
        }
        if !problems.isEmpty && !allowIncomplete {
            throw CommandFailure.failed(
                "refusing JobId \(job.rawValue): " + problems.joined(separator: "; ")
                    + "; pass --allow-incomplete to use what the catalog holds")
        }
        return problems
    }

    /// Reports what an incomplete restore or verify lacks, as warnings (text on standard error, or JSON objects).
    func warnIncomplete(_ problems: [String]) {
        for problem in problems {
            if json {
                var line = JSONLine()
                line.add("type", "warning")
                line.add("message", "incomplete: " + problem)
                ByteWriter.standardOutput.write(line.line)
            } else {
                ByteWriter.standardError.line("warning: incomplete: \(problem)")
            }
        }
        ByteWriter.standardOutput.flush()
        ByteWriter.standardError.flush()
    }

    /// Opens the catalog (it must exist) and resolves the job id.
    func open() throws -> (SQLiteCatalog, JobID, String) {
        try open(configuration())
    }

    func open(_ configuration: Configuration?) throws -> (SQLiteCatalog, JobID, String) {
        if jobid == nil && !latest { throw CommandFailure.usage("name the job with --jobid ID or --latest --job NAME") }
        let (catalog, path) = try openCatalog(configuration)
        if let jobid {
            guard (try? catalog.job(JobID(rawValue: jobid))) != nil else {
                try? catalog.close()
                throw CommandFailure.usage("no job with JobId \(jobid) in catalog \(path)")
            }
            return (catalog, JobID(rawValue: jobid), path)
        }
        // One catalog for several hosts: the newest job of the name may be another host's, so PostgreSQL takes
        // this host's client unless told otherwise (as levels and prune do).
        let configuredJob = job.flatMap { configuration?.job(named: $0) }
        let client = try catalogOptions.catalogLocation(configuration: configuration, job: configuredJob)
            .client(flag: self.client, job: configuredJob)
        let successful = try catalog.jobs(name: job).filter {
            $0.isBackup && ($0.status == .ok || $0.status == .warnings)
        }
        guard let newest = successful.first(where: { client == nil || $0.clientName == nil || $0.clientName == client })
        else {
            try? catalog.close()
            let others = Set(successful.compactMap(\.clientName)).sorted()
            throw CommandFailure.usage(
                "no successful job named \"\(job ?? "")\"" + (client.map { " of client \($0)" } ?? "")
                    + " in catalog \(path)"
                    + (others.isEmpty ? "" : "; jobs of other clients: \(others.joined(separator: ", ")) (pass --client NAME)"))
        }
        return (catalog, newest.id, path)
    }
}

extension OptionHost {
    /// `optionhost restore`: verified restore of the tree as of a job, or of one version of one path (decision D5).
    struct Restore: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Restore the tree as of a job under --where (or in place), verifying every file's SHA-256.",
            discussion: """
                Files land at WHERE + their original absolute path. --jobid ID restores the tree as it was at that \
                job: its Full, the newest Differential after it, the Incrementals after that up to the job, minus \
                the deletions Accurate jobs recorded; each entry comes from the job that stored it last. \
                --select PATH --file-version N restores version N of that one path instead (the number shown by \
                list versions PATH, oldest = 1). --from-search QUERY restores exactly the file versions that \
                search QUERY finds (narrowed by --jobid and --select; of a path found in several jobs, the newest \
                version). A file whose restored bytes do not match the catalog's SHA-256 is not created under its \
                final name. Nothing is written outside WHERE.
                """
        )

        @OptionGroup var selection: JobSelection

        @Option(help: "Restore under this directory (required unless --in-place or --stdout).")
        var `where`: String?

        @Flag(help: "Restore to the original paths.")
        var inPlace = false

        @Option(help: "always (default), ifnewer, ifolder or never.")
        var replace: ReplacePolicy = .always

        @Option(help: "Only paths matching this Bareos wildcard (* crosses /); repeatable.")
        var select: [String] = []

        /// `--file-version`, not `--version`: that is the tool's own flag (argument-parser adds it to every
        /// command), and a second meaning made `restore --version` answer "Missing value".
        @Option(
            name: .customLong("file-version"),
            help: ArgumentHelp(
                "With one --select PATH (the path itself): restore version N of it, as numbered by list versions.",
                valueName: "N"))
        var version: Int?

        @Option(
            name: .customLong("from-search"),
            help: ArgumentHelp("Restore the file versions this search query finds (see search).", valueName: "QUERY"))
        var fromSearch: String?

        @Option(name: [.customShort("d"), .customLong("debug-level")], help: "Keep plugin debug messages up to this level (Bareos' -d).")
        var debugLevel = 0

        @Flag(help: "Write the one selected file's bytes to standard output.")
        var stdout = false

        @Option(
            help: ArgumentHelp(
                "Threads that create files (default: one per core); 1 restores every entry in catalog order.",
                valueName: "N"))
        var workers: Int?

        @Option(
            name: .customLong("passphrase-file"),
            help: ArgumentHelp(
                "The passphrase of the secret key that opens gpg job keys: the file's first line (loopback pinentry); "
                    + "without it gpg-agent asks.", valueName: "FILE"))
        var passphraseFile: String?

        @Option(
            help: ArgumentHelp(
                "The GnuPG home whose secret keys open gpg job keys, instead of the keyring= the backup's gpg stage "
                    + "named (a restore on another host).", valueName: "DIR"))
        var keyring: String?

        func validate() throws {
            if !stdout && !inPlace && `where` == nil { throw ValidationError("restore needs --where DIR (or --in-place)") }
            if inPlace && `where` != nil { throw ValidationError("--in-place and --where exclude each other") }
            if let workers, workers < 1 { throw ValidationError("--workers needs at least 1 thread") }
            if let version {
                if version < 1 { throw ValidationError("--file-version counts from 1 (the oldest version)") }
                if select.count != 1 { throw ValidationError("--file-version needs exactly one --select PATH") }
                if selection.jobid != nil || selection.latest {
                    throw ValidationError("--file-version picks the job itself; drop --jobid/--latest (--job NAME narrows)")
                }
            } else if fromSearch != nil {
                if selection.latest { throw ValidationError("--from-search picks the versions itself; --jobid ID narrows") }
            } else {
                try selection.requireJob()
            }
        }

        func run() throws {
            do {
                try restore()
            } catch let failure as CommandFailure {
                throw CommandSupport.report(failure, json: selection.json)
            } catch let error as CatalogError {
                let path = (try? selection.catalogPath(selection.configuration())) ?? "(catalog)"
                throw CommandSupport.report(CatalogUpkeep.failure(error, path: path), json: selection.json)
            }
        }

        private func restore() throws {
            let catalog: SQLiteCatalog
            var jobID = JobID.unassigned
            var settings = RestoreSettings(whereDirectory: inPlace ? "/" : (`where` ?? "/"))
            settings.replace = replace
            settings.select = select
            if let workers { settings.workers = workers }
            if let version {
                (catalog, _) = try selection.openCatalog(selection.configuration())
                settings.version = version
                settings.versionJobName = selection.job
                settings.select = select.map { String(decoding: FileVersions.absolutePath($0), as: UTF8.self) }
                do {
                    // A number that names no restorable row is a usage error (exit 2), found before anything runs.
                    _ = try FileVersions.storedVersion(
                        version, of: Array(settings.select[0].utf8), jobName: selection.job, in: catalog)
                } catch let error as BackupError {
                    try? catalog.close()
                    throw CommandFailure.usage(error.message)
                }
            } else if let fromSearch {
                (catalog, _) = try selection.openCatalog(selection.configuration())
                do {
                    settings.exactVersions = try searchedVersions(fromSearch, in: catalog)
                } catch {
                    try? catalog.close()
                    throw error
                }
                settings.select = []
            } else {
                (catalog, jobID, _) = try selection.open()
            }
            defer { try? catalog.close() }
            var incomplete: [String] = []
            if version == nil && fromSearch == nil {
                incomplete = try selection.incompleteness(of: jobID, in: catalog, chain: true)
                selection.warnIncomplete(incomplete)
            }
            if stdout { settings.outputFD = 1 }
            settings.debugLevel = debugLevel
            // Python plugins that took files at backup restore them with the Job's plugin settings (Plugin
            // Directory, Plugin Call Timeout) when a CONFIG is given: the Job named by --job, else the restored job's.
            let configuration = try selection.configuration()
            let jobName = selection.job ?? (try? catalog.job(jobID))??.name
            let configuredJob = jobName.flatMap { configuration?.job(named: $0) }
            let job = RestoreJob(
                catalog: catalog, jobID: jobID, settings: settings,
                stageFactory: CommandSupport.stageFactory(
                    job: configuredJob, configurationPath: selection.config, passphraseFile: passphraseFile,
                    keyring: keyring, forRestore: true))
            if stdout {
                // A usage error, not a failed job: --stdout writes exactly one file.
                let files = try job.selectedFileCount()
                if files != 1 {
                    throw CommandFailure.usage("--stdout needs exactly one selected regular file; the selection has \(files)")
                }
            }
            CommandSupport.installInterruptHandler(job.cancellation)
            let printer = ProgressPrinter(counters: job.progress, verb: "restore:", json: selection.json)
            if !stdout { printer.start() }
            let summary: JobSummary
            do {
                summary = try job.run()
            } catch {
                printer.stop()
                throw CommandFailure.failed("\(error)")
            }
            printer.stop()
            if stdout {
                if summary.status != .ok { throw CommandSupport.exitCode(for: summary.status) }
                if !incomplete.isEmpty { throw ExitStatus.warnings }
                return
            }
            let out = ByteWriter.standardOutput
            // With -d N the plugins' own info and debug messages are shown too (all of them are in the catalog under the
            // restore's JobId).
            let problems = job.problems.filter {
                $0.severity == "warning" || $0.severity == "error" || (debugLevel > 0 && $0.stage != nil)
            }
            if selection.json {
                for message in problems { out.write(CommandSupport.message(message)) }
                out.write(
                    CommandSupport.summaryJSON(summary) {
                        $0.add("where", settings.whereDirectory)
                        $0.add("chain", job.chain.map { String($0.id.rawValue) })
                        if let version { $0.add("version", version) }
                        $0.add("files_kept", summary.filesSkipped)
                        if let id = job.restoreJobID { $0.add("restore_job_id", id.rawValue) }
                    })
            } else {
                for message in problems { ByteWriter.standardError.write(CommandSupport.messageText(message)) }
                ByteWriter.standardError.flush()
                let rate = Double(summary.filesStored) / max(summary.wallSeconds, 0.001)
                let what =
                    version.map { "Restore of version \($0) of \(TerminalText.escape(settings.select[0])) (JobId \(summary.jobID), " }
                    ?? fromSearch.map { "Restore of the search hits for \($0.debugDescription) (JobId \(summary.jobID), " }
                    ?? "Restore of JobId \(summary.jobID) ("
                out.line(
                    what + "\(summary.jobName)) to \(TerminalText.escape(settings.whereDirectory)): "
                        + CommandSupport.statusWord(summary.status))
                if job.chain.count > 1 && fromSearch == nil {
                    out.line(
                        "  tree as of JobId \(summary.jobID): "
                            + job.chain.map { "\($0.level.name) \($0.id.rawValue)" }.joined(separator: ", "))
                }
                // Files an existing entry kept (--replace never, ifnewer, ifolder) are the restore's skipped files.
                let kept =
                    summary.filesSkipped > 0
                    ? "\(summary.filesSkipped) kept as they were (--replace \(settings.replace.rawValue)), " : ""
                out.line(
                    "  \(summary.filesStored) files verified and restored, \(summary.entriesStored) entries, \(kept)"
                        + "\(summary.filesFailed) failed, \(OptionHost.Estimate.grouped(summary.bytesRead)) bytes; "
                        + "\(HumanTime.elapsed(summary.wallSeconds)), \(Int(rate.rounded())) files/s")
                if let failure = summary.failure { out.line("  reason: \(TerminalText.escapeKeepingNewlines(failure))") }
                if let id = job.restoreJobID {
                    out.line("  recorded as Restore JobId \(id.rawValue) (optionhost list messages --jobid \(id.rawValue))")
                }
            }
            out.flush()
            if summary.status != .ok { throw CommandSupport.exitCode(for: summary.status) }
            // What was asked for is not all there: a warning, never "ok".
            if !incomplete.isEmpty { throw ExitStatus.warnings }
        }
    }

}

extension OptionHost.Restore {
    /// The (job, file index) versions `search QUERY` finds, narrowed by --jobid and --select: of a path found in
    /// several jobs, the newest version (one file cannot be restored twice), with a note on standard error.
    fileprivate func searchedVersions(_ query: String, in catalog: SQLiteCatalog) throws -> [JobID: [Int64]] {
        let filter = SearchFilter(
            jobID: selection.jobid.map { JobID(rawValue: $0) }, paths: select.map { Wildcard(Array($0.utf8)) })
        let hits = try SearchQuery(query).hits(in: catalog, filter: filter, limit: nil)
        guard !hits.isEmpty else { throw CommandFailure.usage("no stored file version matches \(query.debugDescription)") }
        var newest: [[UInt8]: IndexedFile] = [:]
        for file in hits.map(\.file) where (newest[file.path]?.jobID ?? JobID(rawValue: .min)) < file.jobID {
            newest[file.path] = file
        }
        let skipped = hits.count - newest.count
        if skipped > 0 && !selection.json {
            ByteWriter.standardError.line(
                "note: \(skipped) older versions of paths found in several jobs are not restored (the newest is)")
            ByteWriter.standardError.flush()
        }
        return Dictionary(grouping: newest.values, by: \.jobID).mapValues { $0.map(\.fileIndex) }
    }
}

extension OptionHost {
    /// `optionhost verify --jobid ID`: re-read the volumes and check them against the catalog; with
    /// `--against-live`, compare the live files with the tree as of the job instead.
    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-read a job's volumes and check every member against the catalog (exit 4 on a mismatch).",
            discussion: """
                --against-live compares the live files with the tree as of the job (Full + Differential + \
                Incrementals, minus Accurate deletions) instead: every regular file is read and its SHA-256, size \
                and mtime compared; symbolic link targets, directories and other entries must still be there. It \
                lists changed (with what changed), missing and new entries. New entries are those the Job's FileSet \
                selects when CONFIG defines the Job with the FileSet the job used, else the entries of the job's \
                directories that exist. Exit codes: 0 no difference, 1 only unreadable entries, 2 usage error, \
                3 failure, 4 a difference or mismatch.
                """)

        @OptionGroup var selection: JobSelection

        @Flag(help: "Compare the live files (SHA-256, size, mtime) with the tree as of the job instead of the volumes.")
        var againstLive = false

        func validate() throws {
            try selection.requireJob()
        }

        func run() throws {
            do {
                if againstLive { return try verifyLive() }
                let (catalog, jobID, path) = try selection.open()
                defer { try? catalog.close() }
                // A verify that says OK must mean the catalog itself is sound, not only the volumes.
                try CatalogUpkeep.requireSound(catalog, path: path)
                let incomplete = try selection.incompleteness(of: jobID, in: catalog, chain: false)
                selection.warnIncomplete(incomplete)
                let run = try Verify.begin(catalog, jobID)
                let summary: JobSummary
                let mismatches: [VerifyJob.Mismatch]
                do {
                    let verify = VerifyJob(catalog: catalog, jobID: jobID)
                    (summary, mismatches) = try ProgressPrinter.reporting(
                        verify.progress, verb: "verify:", json: selection.json
                    ) { try verify.run() }
                } catch let error as CatalogError {
                    Verify.finish(run, catalog, failure: "\(error)")
                    throw CatalogUpkeep.failure(error, path: path)
                } catch {
                    Verify.finish(run, catalog, failure: "\(error)")
                    throw error
                }
                Verify.finish(
                    run, catalog, summary: summary,
                    messages: mismatches.map { (.error, $0.path, "mismatch: \($0.message)") })
                let out = ByteWriter.standardOutput
                if selection.json {
                    for mismatch in mismatches {
                        var line = JSONLine()
                        line.add("type", "error")
                        line.addPath(mismatch.path)
                        line.add("message", mismatch.message)
                        out.write(line.line)
                    }
                    out.write(
                        CommandSupport.summaryJSON(summary) {
                            $0.add("mismatches", mismatches.count)
                            if let run { $0.add("verify_job_id", run.id.rawValue) }
                        })
                } else {
                    for mismatch in mismatches {
                        ByteWriter.standardError.write(
                            Array("mismatch: ".utf8) + TerminalText.escape(mismatch.path)
                                + Array(": \(TerminalText.escapeKeepingNewlines(mismatch.message))\n".utf8))
                    }
                    ByteWriter.standardError.flush()
                    out.line(
                        "Verify of JobId \(summary.jobID) (\(summary.jobName)): "
                            + (mismatches.isEmpty ? "OK" : "\(mismatches.count) mismatches")
                            + "; \(summary.filesStored) files (\(OptionHost.Estimate.grouped(summary.bytesStored)) stored bytes) and "
                            + "\(summary.entriesStored) entries checked")
                }
                out.flush()
                if !mismatches.isEmpty { throw ExitStatus.mismatch }
                if !incomplete.isEmpty { throw ExitStatus.warnings }
            } catch let failure as CommandFailure {
                throw CommandSupport.report(failure, json: selection.json)
            } catch let error as BackupError {
                throw CommandSupport.report(.failed(error.message), json: selection.json)
            } catch let error as JobChain.ChainError {
                throw CommandSupport.report(.failed(error.message), json: selection.json)
            } catch let error as CatalogError {
                let path = (try? selection.catalogPath(selection.configuration())) ?? "(catalog)"
                throw CommandSupport.report(CatalogUpkeep.failure(error, path: path), json: selection.json)
            }
        }

        /// The Job's FileSet from CONFIG when it is the one the job used (same name and digest), else nil with a
        /// note on standard error saying why the state's directories are walked instead.
        private func fileSet(_ configuration: Configuration?, for job: JobRecord) -> FileSet? {
            guard let configuration else { return nil }
            let note: String
            if let configured = configuration.job(named: job.name), let name = configured.fileSet,
                let fileSet = configuration.fileSets[name]
            {
                let absolute = CommandSupport.absolutized(fileSet)
                if absolute.name == job.fileSetName && FileSetIdentity.digest(absolute) == job.fileSetDigest {
                    return absolute
                }
                note = "FileSet \"\(name)\" of Job \"\(job.name)\" is not the one JobId \(job.id.rawValue) used"
            } else {
                note = "the configuration has no Job \"\(job.name)\" with a FileSet"
            }
            if !selection.json {
                ByteWriter.standardError.line("note: \(note); new entries are looked for in the job's directories")
                ByteWriter.standardError.flush()
            }
            return nil
        }

        private func verifyLive() throws {
            let configuration = try selection.configuration()
            let (catalog, jobID, _) = try selection.open(configuration)
            defer { try? catalog.close() }
            selection.warnIncomplete(try selection.incompleteness(of: jobID, in: catalog, chain: true))
            guard let record = try catalog.job(jobID) else {
                throw CommandFailure.failed("no job with JobId \(jobID.rawValue) in the catalog")
            }
            let live = LiveVerifyJob(catalog: catalog, jobID: jobID, fileSet: fileSet(configuration, for: record))
            CommandSupport.installInterruptHandler(live.cancellation)
            let run = try Verify.begin(catalog, jobID)
            let summary: JobSummary
            let differences: [LiveVerifyJob.Difference]
            do {
                (summary, differences) = try ProgressPrinter.reporting(
                    live.progress, verb: "verify:", json: selection.json
                ) { try live.run() }
            } catch {
                Verify.finish(run, catalog, failure: "\(error)")
                throw error
            }
            Verify.finish(
                run, catalog, summary: summary,
                messages: differences.map { difference in
                    let fields = difference.kind == .changed ? " (\(difference.fields.joined(separator: ", ")))" : ""
                    return (
                        difference.kind == .new ? .info : .error, difference.path,
                        "\(difference.kind.rawValue)\(fields): \(difference.message)"
                    )
                })
            let counts = Dictionary(grouping: differences, by: \.kind).mapValues(\.count)
            let out = ByteWriter.standardOutput
            if selection.json {
                for difference in differences {
                    var line = JSONLine()
                    line.add("type", difference.kind.rawValue)
                    line.addPath(difference.path)
                    if let kind = difference.entryKind { line.add("entry", kind.rawValue) }
                    if difference.kind == .changed { line.add("fields", difference.fields) }
                    line.add("message", difference.message)
                    out.write(line.line)
                }
                out.write(
                    CommandSupport.summaryJSON(summary) {
                        $0.add("against_live", true)
                        if let run { $0.add("verify_job_id", run.id.rawValue) }
                        $0.add("entries_checked", summary.entriesStored)
                        for kind in [LiveVerifyJob.Difference.Kind.changed, .missing, .new] {
                            $0.add(kind.rawValue, counts[kind] ?? 0)
                        }
                    })
            } else {
                for difference in differences {
                    var text = Array(difference.kind.rawValue.utf8)
                    if difference.kind == .changed { text += Array(" (\(difference.fields.joined(separator: ", ")))".utf8) }
                    text += Array(": ".utf8) + TerminalText.escape(difference.path)
                    if difference.kind != .new && difference.kind != .missing {
                        text += Array(": \(TerminalText.escapeKeepingNewlines(difference.message))".utf8)
                    }
                    out.write(text + [UInt8(ascii: "\n")])
                }
                let mismatches = differences.count - summary.errors
                out.line(
                    "Verify of the live files against JobId \(summary.jobID) (\(summary.jobName)): "
                        + (mismatches == 0 ? "OK" : "\(mismatches) differences")
                        + "; \(counts[.changed] ?? 0) changed, \(counts[.missing] ?? 0) missing, \(counts[.new] ?? 0) new, "
                        + "\(summary.errors) unreadable; \(summary.entriesStored) entries and \(summary.filesExamined) files "
                        + "(\(OptionHost.Estimate.grouped(summary.bytesRead)) bytes) checked")
            }
            out.flush()
            switch summary.status {
            case .ok: return
            case .failed: throw ExitStatus.mismatch
            case .warnings: throw ExitStatus.warnings
            case .cancelled, .running: throw ExitStatus.jobFailed
            }
        }
    }
}

extension ReplacePolicy: ExpressibleByArgument {}
