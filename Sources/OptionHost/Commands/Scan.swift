import ArgumentParser
import Pipeline

#if canImport(Glibc)
import Glibc
#endif

extension OptionHost {
    /// `optionhost scan VOLUME... --catalog NEWFILE`: rebuild a catalog from volumes alone;
    /// `optionhost scan VOLUME... --config CONFIG [--job NAME]`: add the volumes' jobs to the catalog a config names.
    struct Scan: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rebuild a catalog from volumes alone, or add the volumes' jobs to an existing catalog.",
            discussion: """
                Reads the job labels, members and trailers of the volumes (any order; every volume of each job) and \
                writes jobs, volumes and files, with their original JobIds, digests, chains and stage metadata. \
                With --catalog FILE it writes a NEW SQLite file: an existing file is refused unless --force; it is \
                then replaced (never merged) once the scan has succeeded. With --config CONFIG it adds the jobs to \
                the catalog the configuration names (the Catalog resource of --job NAME, or the only one; \
                PostgreSQL or SQLite), in one transaction: all of them or none. A job the catalog already holds \
                under the same JobId is replaced when it is the same job (name, start time and client) and did not \
                finish (status R, f or A; e.g. its connection was lost mid-job), unless its Job is running; a \
                finished one is refused (--skip-finished leaves it as it is), another job under that JobId is \
                refused. Every job gets the client its volume labels name (volumes of older builds name none: an \
                added job then has none, a replaced one keeps its row's). A damaged, truncated or foreign volume stops the scan and leaves nothing behind. \
                --json prints one object per job, then a summary. Exit codes: 0 ok, 2 usage error, 3 the scan \
                failed.
                """
        )

        @Argument(help: "The volume files (<Job>-<JobId>-<NNNN>.tar), in any order.")
        var volumes: [String]

        @Option(help: "The new SQLite catalog file to create.")
        var catalog: String?

        @Option(help: "A config file or directory: add the jobs to the catalog its Catalog resource names.")
        var config: String?

        @Option(help: "With --config: the Job whose Catalog resource is the target (when there are several).")
        var job: String?

        @Flag(help: "Replace an existing catalog file (only once the scan succeeded; nothing is merged).")
        var force = false

        @Flag(help: "With --config: leave jobs the catalog holds as finished (T, W) as they are instead of refusing.")
        var skipFinished = false

        @Flag(help: "Print JSON Lines (one object per job, then a summary) instead of text.")
        var json = false

        func validate() throws {
            if volumes.isEmpty { throw ValidationError("name at least one volume") }
            switch (catalog, config) {
            case (nil, nil):
                throw ValidationError(
                    "say where to scan to: --catalog NEWFILE (a new SQLite file) or --config CONFIG (the catalog it "
                        + "names, which keeps its jobs)")
            case (.some, .some):
                throw ValidationError("--catalog and --config exclude each other")
            case (.some, nil):
                if job != nil { throw ValidationError("--job goes with --config") }
                if skipFinished {
                    throw ValidationError("--skip-finished goes with --config (a new file holds no jobs)")
                }
            case (nil, .some):
                if force {
                    throw ValidationError("--force goes with --catalog (a configured catalog is never replaced)")
                }
            }
        }

        func run() throws {
            do {
                if let config {
                    try scan(intoConfigured: config)
                } else if let catalog {
                    try scan(intoNew: catalog)
                }
            } catch let failure as CommandFailure {
                throw CommandSupport.report(failure, json: json)
            }
        }

        private func scan(intoNew catalog: String) throws {
            if access(catalog, F_OK) == 0 && !force {
                throw CommandFailure.usage(
                    "catalog \(catalog) already exists: scan writes a new catalog (pass --force to replace that file; "
                        + "nothing is merged)")
            }
            if let slash = catalog.lastIndex(of: "/"), slash != catalog.startIndex {
                try CommandSupport.makeDirectories(String(catalog[..<slash]))
            }
            let lock: JobLock
            do {
                lock = try JobLock.acquire(path: catalog, holder: "scan")
            } catch {
                throw CommandFailure.failed("\(error)")
            }
            defer { lock.release() }
            let result = try withProgress { progress in
                try VolumeScanner.scan(volumes: volumes, intoNewCatalog: catalog, replacing: force, progress: progress)
            }
            print(result, catalogName: catalog)
        }

        /// Into the catalog of a Catalog resource: PostgreSQL (other hosts may be writing it; jobs being replaced
        /// are checked against their Job locks) or SQLite (under the catalog's lock, as a backup).
        private func scan(intoConfigured config: String) throws {
            let configuration: Configuration
            do {
                configuration = try Configuration.load(path: config)
            } catch {
                throw CommandFailure.usage(error.description)
            }
            var configuredJob: Job?
            if let job {
                guard let found = configuration.job(named: job) else {
                    throw CommandFailure.usage("\(config) has no Job \"\(job)\"")
                }
                configuredJob = found
            }
            let location = try CatalogOptions.location(flag: nil, configuration: configuration, job: configuredJob)
            var lock: JobLock?
            defer { lock?.release() }
            let target: DatabaseCatalog
            do {
                switch location {
                case .postgreSQL(let settings):
                    target = try DatabaseCatalog.open(postgreSQL: settings, create: true)
                case .file(let path):
                    do {
                        lock = try JobLock.acquire(path: path, holder: "scan")
                    } catch {
                        throw CommandFailure.failed("\(error)")
                    }
                    target = try SQLiteCatalog.open(path: path, create: true)
                }
            } catch let error as CatalogError {
                throw CatalogUpkeep.failure(error, path: location.name)
            }
            defer { try? target.close() }
            let result = try withProgress { progress in
                try VolumeScanner.scan(volumes: volumes, into: target, skipFinished: skipFinished, progress: progress)
            }
            print(result, catalogName: location.name)
        }

        /// Runs a scan with the progress line on standard error; a failure becomes exit 3.
        private func withProgress(
            _ body: (ProgressCounters) throws -> VolumeScanner.Result
        ) throws -> VolumeScanner.Result {
            let progress = ProgressCounters()
            let printer = ProgressPrinter(counters: progress, verb: "scan:", json: json)
            printer.start()
            defer { printer.stop() }
            do {
                return try body(progress)
            } catch {
                throw CommandFailure.failed("scan: \(error)")
            }
        }

        private func print(_ result: VolumeScanner.Result, catalogName: String) {
            let out = ByteWriter.standardOutput
            let rate = Double(result.files) / max(result.wallSeconds, 0.001)
            if json {
                for job in result.jobs {
                    var line = JSONLine()
                    line.add("type", "job")
                    line.add("job_id", job.job.id.rawValue)
                    line.add("job", job.job.name)
                    line.add("level", job.job.level.name)
                    line.add("status", job.job.status.rawValue)
                    line.add("trailer", job.hadTrailer)
                    line.add("entries", job.entries)
                    line.add("files", job.files)
                    line.add("deleted", job.deleted)
                    line.add("inferred_indexes", job.inferredIndexes)
                    line.add("volumes", job.volumes.map(\.path))
                    if let replaced = job.replaced {
                        line.add("action", "replaced")
                        line.add("replaced_status", replaced.status.rawValue)
                    } else {
                        line.add("action", "added")
                    }
                    out.write(line.line)
                }
                for job in result.skipped {
                    var line = JSONLine()
                    line.add("type", "job")
                    line.add("job_id", job.id.rawValue)
                    line.add("job", job.name)
                    line.add("level", job.level.name)
                    line.add("status", job.status.rawValue)
                    line.add("action", "skipped")
                    out.write(line.line)
                }
                var summary = JSONLine()
                summary.add("type", "summary")
                summary.add("status", "ok")
                summary.add("catalog", catalogName)
                summary.add("skipped", result.skipped.count)
                summary.add("jobs", result.jobs.count)
                summary.add("volumes", result.volumes)
                summary.add("entries", result.entries)
                summary.add("files", result.files)
                summary.add("wall_seconds", (result.wallSeconds * 1000).rounded() / 1000)
                summary.add("files_per_second", rate.rounded())
                out.write(summary.line)
            } else {
                out.line(
                    "Scan of \(result.volumes) volume\(result.volumes == 1 ? "" : "s") into "
                        + "\(TerminalText.escape(catalogName)): ok")
                for job in result.jobs {
                    out.line(
                        "  JobId \(job.job.id.rawValue) (\(job.job.name), \(job.job.level.name)): status "
                            + "\(job.job.status.rawValue), \(OptionHost.Estimate.grouped(UInt64(job.entries))) entries "
                            + "(\(OptionHost.Estimate.grouped(UInt64(job.files))) files) from \(job.volumes.count) "
                            + "volume\(job.volumes.count == 1 ? "" : "s")"
                            + (job.deleted > 0 ? ", \(job.deleted) deleted" : "")
                            + (job.hadTrailer ? "" : "; no job trailer: the job did not finish (status f)")
                            + (job.replaced.map { "; replaced the catalog's rows of this unfinished job (status "
                                + "\($0.status.rawValue))" } ?? ""))
                }
                for job in result.skipped {
                    out.line(
                        "  JobId \(job.id.rawValue) (\(job.name), \(job.level.name)): skipped, already in the catalog "
                            + "(status \(job.status.rawValue))")
                }
                out.line(
                    "  \(OptionHost.Estimate.grouped(UInt64(result.entries))) entries in \(result.jobs.count) "
                        + "job\(result.jobs.count == 1 ? "" : "s"); \(HumanTime.elapsed(result.wallSeconds)), "
                        + "\(Int(rate.rounded())) files/s")
            }
            out.flush()
        }
    }
}
