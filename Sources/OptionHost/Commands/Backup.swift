import ArgumentParser
import Pipeline

#if canImport(Glibc)
import Glibc
#endif

extension OptionHost {
    /// `optionhost backup CONFIG --job NAME`: a full backup into pax volumes with a SQLite catalog.
    struct Backup: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Back up a Job's FileSet into archive volumes and record it in the catalog.",
            discussion: """
                The catalog comes from --catalog or the Job's Catalog resource (DB Driver = sqlite3); the volumes go \
                to --archive or the Job's Archive resource. Progress is shown on a terminal; --json prints one \
                object per warning or error, then a summary. Exit codes: 0 ok, 1 some files failed or were skipped \
                with warnings, 2 usage/configuration error, 3 the job failed or was cancelled.
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

        func validate() throws {
            if let workers, workers < 1 { throw ValidationError("--workers must be at least 1") }
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
            let catalogPath = try catalogOptions.catalogPath(configuration: configuration, job: job)
            var settings: BackupSettings
            if let archive {
                settings = BackupSettings(archiveDirectory: archive, workers: workers)
            } else if let name = job.archive, let resource = configuration.archives[name] {
                settings = BackupSettings(archiveDirectory: resource.directory, workers: workers)
                settings.maximumVolumeBytes = resource.maximumVolumeBytes
                settings.volumeMode = resource.volumeMode
            } else {
                throw CommandFailure.usage(
                    "no archive directory: pass --archive DIR, or name an Archive resource (Directory = PATH) with "
                        + "Archive = NAME in the Job")
            }
            settings.stageErrorPolicy = job.stageErrorPolicy
            try CommandSupport.makeDirectories(settings.archiveDirectory)
            if let slash = catalogPath.lastIndex(of: "/") {
                try CommandSupport.makeDirectories(String(catalogPath[..<slash]))
            }

            let catalogLock: JobLock
            let archiveLock: JobLock
            do {
                catalogLock = try JobLock.acquire(path: catalogPath, holder: job.name)
                archiveLock = try JobLock.acquire(path: settings.archiveDirectory, holder: job.name)
            } catch {
                throw CommandFailure.failed("\(error)")
            }
            defer {
                archiveLock.release()
                catalogLock.release()
            }
            let catalog: SQLiteCatalog
            do {
                catalog = try SQLiteCatalog.open(path: catalogPath, create: true)
            } catch {
                throw CommandFailure.failed("cannot open catalog \(catalogPath): \(error)")
            }
            defer { try? catalog.close() }

            let backup = BackupJob(
                job: job, fileSet: fileSet, chains: configuration.chains(for: fileSet), catalog: catalog,
                settings: settings, stageFactory: CommandSupport.stageFactory)
            CommandSupport.installInterruptHandler(backup.cancellation)
            let printer = ProgressPrinter(counters: backup.progress, verb: "backup:")
            if ProgressPrinter.enabled && !options.json {
                Scanner.start(fileSet: fileSet, chains: configuration.chains(for: fileSet), counters: backup.progress)
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
            let messages = (try? catalog.messages(job: JobID(rawValue: summary.jobID))) ?? []
            print(summary, messages: messages, catalogPath: catalogPath)
            if summary.status != .ok { throw CommandSupport.exitCode(for: summary.status) }
        }

        private func print(_ summary: JobSummary, messages: [JobMessage], catalogPath: String) {
            let out = ByteWriter.standardOutput
            let problems = messages.filter { $0.severity == "warning" || $0.severity == "error" }
            if options.json {
                for message in problems { out.write(CommandSupport.message(message)) }
                out.write(CommandSupport.summaryJSON(summary) { $0.add("catalog", catalogPath) })
            } else {
                for message in problems { ByteWriter.standardError.write(CommandSupport.messageText(message)) }
                ByteWriter.standardError.flush()
                out.line(
                    "Backup of Job \"\(summary.jobName)\" (JobId \(summary.jobID), level \(summary.level)): "
                        + CommandSupport.statusWord(summary.status))
                out.line(
                    "  files: \(summary.filesStored) stored, \(summary.filesSkipped) skipped, \(summary.filesFailed) "
                        + "failed of \(summary.filesExamined) examined; \(summary.entriesStored) entries stored")
                let rate = summary.wallSeconds > 0 ? Double(summary.bytesRead) / 1e6 / summary.wallSeconds : 0
                out.line(
                    "  bytes: \(OptionHost.Estimate.grouped(summary.bytesRead)) read, \(OptionHost.Estimate.grouped(summary.bytesStored)) "
                        + "stored; \(formatted(summary.wallSeconds)) s, \(Int(rate.rounded())) MB/s, "
                        + "\(Int((Double(summary.filesStored) / max(summary.wallSeconds, 0.001)).rounded())) files/s")
                out.line("  catalog: \(catalogPath)")
                for volume in summary.volumes { out.line("  volume: \(volume)") }
                if let failure = summary.failure { out.line("  reason: \(failure)") }
            }
            out.flush()
        }

        private func formatted(_ seconds: Double) -> String {
            let hundredths = Int((seconds * 100).rounded())
            return "\(hundredths / 100).\(hundredths % 100 < 10 ? "0" : "")\(hundredths % 100)"
        }
    }
}

/// Counts the FileSet's files and bytes on a separate thread (restic's scanner), for the progress ETA.
enum Scanner {
    static func start(fileSet: FileSet, chains: [[[String]]], counters: ProgressCounters) {
        guard let selector = try? FileSelector(fileSet: fileSet, chains: chains) else { return }
        let box = Unmanaged.passRetained(ScanBox(selector: selector, counters: counters)).toOpaque()
        var thread = pthread_t()
        pthread_create(&thread, nil, { raw in
            let box = Unmanaged<ScanBox>.fromOpaque(raw!).takeRetainedValue()
            var files = 0
            var bytes: UInt64 = 0
            try? box.selector.run { event in
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
        let counters: ProgressCounters
        init(selector: FileSelector, counters: ProgressCounters) {
            self.selector = selector
            self.counters = counters
        }
    }
}
