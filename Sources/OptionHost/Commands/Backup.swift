import ArgumentParser
import Pipeline
import Stages

#if canImport(Glibc)
import Glibc
#endif

extension OptionHost {
    /// `optionhost backup CONFIG --job NAME [--level LEVEL]`: a Full, Incremental or Differential backup into pax
    /// volumes with a SQLite catalog.
    struct Backup: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Back up a Job's FileSet into archive volumes and record it in the catalog.",
            discussion: """
                The catalog comes from --catalog or the Job's Catalog resource (DB Driver = sqlite3); the volumes go \
                to --archive or the Job's Archive resource. Progress is shown on a terminal; --json prints one \
                object per warning or error, then a summary. Exit codes: 0 ok, 1 some files failed or were skipped \
                with warnings, 2 usage/configuration error, 3 the job failed or was cancelled.

                Levels follow Bareos: the Job's Level (default Incremental) or --level. An Incremental saves what \
                changed since the newest successful job of the same Job and FileSet, a Differential what changed \
                since the newest successful Full; either is upgraded to Full when there is no such Full or the \
                FileSet's File/Plugin lines changed (unless Ignore FileSet Changes = yes). With Accurate = yes the \
                entries are compared with the previous backup's state and deletions are recorded.
                """
        )

        @OptionGroup var options: ConfigOptions
        @OptionGroup var catalogOptions: CatalogOptions

        @Option(help: "The Job to run.")
        var job: String

        @Option(help: "The directory for volumes (overrides the Job's Archive resource).")
        var archive: String?

        @Option(help: "Worker threads (default: the number of cores).")
        var workers: Int?

        @Option(help: "Full, Incremental or Differential (case-insensitive; overrides the Job's Level).")
        var level: String?

        @Flag(
            help: """
                After the summary, per stage: files seen and skipped, bytes in and out, busy time, throughput, \
                per-file latency p50/p99; for the job: wall, CPU, peak RSS and where the time went (with --json: a \
                "stats" object in the summary).
                """)
        var stats = false

        @Option(name: [.customShort("d"), .customLong("debug-level")], help: "Keep plugin debug messages up to this level (Bareos' -d).")
        var debugLevel = 0

        func validate() throws {
            if let workers, workers < 1 { throw ValidationError("--workers must be at least 1") }
            if let level, LevelDecision.parse(level) == nil {
                throw ValidationError("--level must be Full, Incremental or Differential (got \"\(level)\")")
            }
        }

        func run() throws {
            do {
                try runJob()
            } catch let failure as CommandFailure {
                throw CommandSupport.report(failure, json: options.json)
            }
        }

        private func runJob() throws {
            let configuration = try options.load()
            guard let job = configuration.job(named: self.job) else {
                let names = configuration.jobs.keys.sorted().joined(separator: ", ")
                throw CommandFailure.usage("no Job named \"\(self.job)\"" + (names.isEmpty ? "" : " (Jobs: \(names))"))
            }
            guard let fileSetName = job.fileSet, let configured = configuration.fileSets[fileSetName] else {
                throw CommandFailure.usage("Job \"\(job.name)\" has no FileSet")
            }
            let fileSet = CommandSupport.absolutized(configured)
            let requestedLevel = level.flatMap(LevelDecision.parse) ?? job.effectiveLevel
            guard LevelDecision.jobLevel(requestedLevel) != nil else {
                throw CommandFailure.usage(
                    "\(job.location): Job \"\(job.name)\" has Level = \(requestedLevel.rawValue), which backup does not "
                        + "run (Full, Incremental or Differential; or pass --level)")
            }
            let location = try catalogOptions.catalogLocation(configuration: configuration, job: job)
            let catalogPath = location.name
            var settings: BackupSettings
            let resource = job.archive.flatMap { configuration.archives[$0] }
            if archive != nil || resource != nil {
                // --archive overrides the directory only; the resource's volume size and mode still apply.
                settings = BackupSettings(archiveDirectory: archive ?? resource!.directory, workers: workers)
                if let resource {
                    settings.maximumVolumeBytes = resource.maximumVolumeBytes
                    settings.volumeMode = resource.volumeMode
                }
            } else {
                throw CommandFailure.usage(
                    "no archive directory: pass --archive DIR, or name an Archive resource (Directory = PATH) with "
                        + "Archive = NAME in the Job")
            }
            settings.stageErrorPolicy = job.stageErrorPolicy
            settings.debugLevel = debugLevel
            settings.collectStatistics = stats
            // Job-start checks that need no stage instance, before anything is created on disk.
            try CommandSupport.checkStages(of: fileSet, in: configuration, isolation: job.pluginIsolation)
            let configurationWarnings =
                Check.writableModulePathWarnings(configured, in: configuration)
                + Check.directorWarnings(job, writableOnly: true)
            try CommandSupport.makeDirectories(settings.archiveDirectory)
            // Volumes are recorded by absolute path, so prune and restore work from any directory.
            settings.archiveDirectory = CommandSupport.absolutePath(settings.archiveDirectory)
            if case .file(let file) = location, let slash = file.lastIndex(of: "/") {
                try CommandSupport.makeDirectories(String(file[..<slash]))
            }

            // SQLite: a lock file beside the catalog and one in the archive directory keep a second job out (one
            // job at a time: every job still `R` is dead, every `open` volume an orphan). PostgreSQL: several hosts
            // write at once, also into one shared archive directory, so neither is locked: the Job's own lock is an
            // advisory lock of the job's session (taken below), volume names carry the JobId (unique in the
            // catalog), and a dead job's open volumes are told by its JobId lock, not by the directory's.
            let catalogLock: JobLock?
            let archiveLock: JobLock?
            do {
                if case .file(let file) = location {
                    catalogLock = try JobLock.acquire(path: file, holder: job.name)
                    archiveLock = try JobLock.acquire(path: settings.archiveDirectory, holder: job.name)
                } else {
                    catalogLock = nil
                    archiveLock = nil
                }
            } catch {
                throw CommandFailure.failed("\(error)")
            }
            defer {
                archiveLock?.release()
                catalogLock?.release()
            }
            let opened: DatabaseCatalog
            do {
                switch location {
                case .file(let file):
                    // A new catalog is created 0600 (SQLiteConnection): it names every file.
                    opened = try SQLiteCatalog.open(path: file, create: true)
                case .postgreSQL(let postgreSQL):
                    opened = try DatabaseCatalog.open(postgreSQL: postgreSQL, create: true)
                }
            } catch {
                throw CatalogUpkeep.failure(error, path: catalogPath)
            }
            do {
                if case .postgreSQL = location { try lockJob(opened, job: job, catalogPath: catalogPath) }
                try prepare(
                    opened, location: location, job: job, archive: settings.archiveDirectory,
                    warnings: configurationWarnings)
            } catch {
                try? opened.close()
                throw error
            }
            let directorPlugins: [any DirectorPlugin]
            do {
                directorPlugins = try CommandSupport.directorPlugins(job: job, configurationPath: options.config)
            } catch {
                try? opened.close()
                throw error
            }
            // In-process Python plugins: the call running is also noted in a file next to the catalog, which the
            // next command reads if this process ends without a word (SIGKILL); removed when the job ends here.
            let usesPython = configuration.chains(for: fileSet).joined().joined().contains(where: PluginString.isPython)
            // Only beside a SQLite file: a PostgreSQL catalog's name is no path (the note would land in the working
            // directory, and another host's next command could not read it anyway).
            var callNote: UnsafeMutableRawPointer?
            if usesPython && job.pluginIsolation == .inprocess, case .file = location {
                callNote = PluginCallNote.record(catalog: catalogPath)
            }
            defer { PluginCallNote.finish(callNote, catalog: catalogPath) }
            // The job owns the catalog from here (its catalog thread writes into it) and hands it back after run.
            let backup = BackupJob(
                job: job, fileSet: fileSet, chains: configuration.chains(for: fileSet), catalog: opened,
                settings: settings,
                stageFactory: CommandSupport.stageFactory(job: job, configurationPath: options.config), level: requestedLevel,
                directorPlugins: directorPlugins)
            defer { try? backup.releaseCatalog(as: SQLiteCatalog.self)?.close() }
            CommandSupport.installInterruptHandler(backup.cancellation)
            let decision: LevelDecision
            do {
                decision = try backup.resolveLevel()
            } catch {
                throw CommandFailure.failed("\(error)")
            }
            let printer = ProgressPrinter(counters: backup.progress, verb: "backup:", json: options.json)
            // The ETA pre-pass counts what this level will save (an Accurate walk's total is not known beforehand).
            // Only for a terminal: a second walk is what an Incremental of an unchanged tree costs, and `--json`
            // runs (scripts, benchmarks) should not pay it for progress objects nobody may read.
            if ProgressPrinter.enabled && !options.json && !(job.accurate && decision.level != .full) {
                Scanner.start(
                    fileSet: fileSet, chains: configuration.chains(for: fileSet),
                    changes: decision.since.map { .since($0) } ?? .all, counters: backup.progress)
            }
            printer.start()
            let summary: JobSummary
            do {
                summary = try backup.run()
            } catch {
                printer.stop()
                throw CommandFailure.failed("\(error)")
            }
            printer.stop()
            let finished = backup.releaseCatalog(as: SQLiteCatalog.self)
            defer { try? finished?.close() }
            let messages = (try? finished?.messages(job: JobID(rawValue: summary.jobID))) ?? []
            // The volumes' bytes: the data stored plus the tar and pax headers of every entry.
            let volumeBytes = ((try? finished?.volumes(job: JobID(rawValue: summary.jobID))) ?? []).reduce(0) {
                $0 + $1.bytes
            }
            print(summary, messages: messages, catalogPath: catalogPath, job: job, volumeBytes: volumeBytes)
            if summary.status != .ok { throw CommandSupport.exitCode(for: summary.status) }
        }

        /// PostgreSQL, before the job: takes the Job's lock for this client (other Jobs and clients run meanwhile).
        private func lockJob(_ catalog: DatabaseCatalog, job: Job, catalogPath: String) throws {
            try CatalogUpkeep.lockJob(catalog, name: job.name, client: job.clientName, path: catalogPath)
        }

        /// Before the job, holding the archive lock and the catalog's lock (SQLite) or the Job's (PostgreSQL):
        /// refuses a damaged SQLite catalog, marks jobs whose process is gone as failed (on PostgreSQL: of any
        /// host, ``DatabaseCatalog/markAbandonedJobs(finder:lastCall:)``) and removes the volumes they left open (on
        /// PostgreSQL: those in this job's archive directory only), each said on standard error or as a JSON
        /// warning. The configuration `warnings` (a world-writable `module_path`) are printed with them.
        private func prepare(
            _ catalog: DatabaseCatalog, location: CatalogLocation, job: Job, archive: String,
            warnings: [ConfigWarning]
        ) throws {
            let path = location.name
            var host: OrphanVolumes.Host?
            if case .postgreSQL = location {
                host = OrphanVolumes.Host(client: job.clientName, archives: [archive])
            } else {
                try CatalogUpkeep.requireSound(catalog, path: path)
            }
            let finder = "backup of Job \"\(job.name)\""
            var notes: [String] = []
            do {
                // The note of a killed Python plugin call is a file beside a SQLite catalog.
                let lastCall = host == nil ? PluginCallNote.take(catalog: path) : nil
                for id in try catalog.markAbandonedJobs(finder: finder, lastCall: lastCall) {
                    notes.append("JobId \(id.rawValue) was still marked running with no process: marked failed")
                }
                let orphans = try OrphanVolumes.remove(
                    from: catalog, jobName: nil, finder: finder, heldArchive: archive, host: host, dryRun: false)
                for path in orphans.deleted + orphans.missing {
                    let owner = orphans.volumes.first { $0.path == path }?.jobID.rawValue ?? 0
                    notes.append("removed volume \(path) that JobId \(owner) left unfinished")
                }
                for failure in orphans.failures {
                    notes.append("cannot remove unfinished volume \(failure.path): \(failure.reason)")
                }
            } catch let error as CatalogError {
                throw CatalogUpkeep.failure(error, path: path)
            }
            for warning in warnings {
                if options.json {
                    ByteWriter.standardOutput.write(
                        ConfigOptions.jsonLine(type: "warning", at: warning.location, message: warning.message).line)
                } else {
                    ByteWriter.standardError.line(TerminalText.escape(warning.description))
                }
            }
            ByteWriter.standardOutput.flush()
            ByteWriter.standardError.flush()
            for note in notes { CommandSupport.note(note, json: options.json) }
        }

        private func print(
            _ summary: JobSummary, messages: [JobMessage], catalogPath: String, job: Job, volumeBytes: Int64
        ) {
            let out = ByteWriter.standardOutput
            let problems = messages.filter { $0.severity == "warning" || $0.severity == "error" }
            if options.json {
                for message in problems { out.write(CommandSupport.message(message)) }
                out.write(
                    CommandSupport.summaryJSON(summary) { line in
                        if let since = summary.since {
                            line.add("since", Double(since.seconds) + Double(since.nanoseconds) / 1e9)
                            line.add("since_iso", HumanTime.iso8601(since))
                        }
                        line.add("volume_bytes", volumeBytes)
                        if let upgraded = summary.upgraded { line.add("upgraded", upgraded) }
                        if job.accurate && summary.level != "Full" { line.add("entries_deleted", summary.entriesDeleted) }
                        line.add("catalog", catalogPath)
                        if let statistics = summary.statistics {
                            line.add("stats", object: StatisticsReport.json(statistics, summary: summary))
                        }
                    })
            } else {
                for message in problems { ByteWriter.standardError.write(CommandSupport.messageText(message)) }
                ByteWriter.standardError.flush()
                out.line(
                    "Backup of Job \"\(summary.jobName)\" (JobId \(summary.jobID), level \(summary.level)): "
                        + CommandSupport.statusWord(summary.status))
                if let upgraded = summary.upgraded { out.line("  level: \(upgraded)") }
                if let since = summary.since {
                    out.line(
                        "  since: \(HumanTime.local(since)) (\(HumanTime.ago(since)); entries unchanged since then "
                            + "were not saved)")
                }
                if job.accurate && summary.level != "Full" {
                    out.line("  accurate: \(summary.entriesDeleted) entries recorded as deleted")
                }
                out.line(
                    "  files: \(summary.filesStored) stored, \(summary.filesSkipped) skipped, \(summary.filesFailed) "
                        + "failed of \(summary.filesExamined) examined; \(summary.entriesStored) entries stored")
                for (stage, count) in summary.skippedByStage.sorted(by: { $0.key < $1.key }) {
                    out.line("  skipped by \(stage): \(count)")
                }
                if summary.filesReread > 0 {
                    out.line("  changed while read: \(summary.filesReread) files stored as read a second time")
                }
                if summary.errors > 0 || summary.warnings > 0 {
                    out.line("  messages: \(summary.errors) errors, \(summary.warnings) warnings (optionhost list messages)")
                }
                let rate = summary.wallSeconds > 0 ? Double(summary.bytesRead) / 1e6 / summary.wallSeconds : 0
                out.line(
                    "  bytes: \(OptionHost.Estimate.grouped(summary.bytesRead)) read, \(OptionHost.Estimate.grouped(summary.bytesStored)) "
                        + "stored, \(OptionHost.Estimate.grouped(volumeBytes)) in volumes; "
                        + "\(HumanTime.elapsed(summary.wallSeconds)), \(Int(rate.rounded())) MB/s, "
                        + "\(Int((Double(summary.filesStored) / max(summary.wallSeconds, 0.001)).rounded())) files/s")
                out.line("  catalog: \(TerminalText.escape(catalogPath))")
                for volume in summary.volumes { out.line("  volume: \(TerminalText.escape(volume))") }
                if let failure = summary.failure { out.line("  reason: \(TerminalText.escapeKeepingNewlines(failure))") }
                if let statistics = summary.statistics {
                    for line in StatisticsReport.lines(statistics, summary: summary) { out.line(line) }
                }
            }
            out.flush()
        }
    }
}

/// Counts the FileSet's files and bytes on a separate thread (restic's scanner), for the progress ETA.
enum Scanner {
    static func start(fileSet: FileSet, chains: [[[String]]], changes: ChangeTest, counters: ProgressCounters) {
        guard let selector = try? FileSelector(fileSet: fileSet, chains: chains) else { return }
        let box = Unmanaged.passRetained(ScanBox(selector: selector, changes: changes, counters: counters)).toOpaque()
        var thread = pthread_t()
        pthread_create(&thread, nil, { raw in
            let box = Unmanaged<ScanBox>.fromOpaque(raw!).takeRetainedValue()
            var files = 0
            var bytes: UInt64 = 0
            try? box.selector.run(changes: box.changes) { event in
                if case .entry(let entry) = event, entry.kind == .file {
                    files += 1
                    bytes += entry.stat.size
                }
            }
            box.counters.totalFiles.store(files, ordering: .relaxed)
            box.counters.totalBytes.store(bytes, ordering: .relaxed)
            box.counters.totalsKnown.store(true, ordering: .relaxed)
            return nil
        }, box)
        pthread_detach(thread)
    }

    private final class ScanBox {
        let selector: FileSelector
        let changes: ChangeTest
        let counters: ProgressCounters
        init(selector: FileSelector, changes: ChangeTest, counters: ProgressCounters) {
            self.selector = selector
            self.changes = changes
            self.counters = counters
        }
    }
}
