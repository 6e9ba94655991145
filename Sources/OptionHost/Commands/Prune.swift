import ArgumentParser
import Pipeline
import Stages

#if canImport(Glibc)
import Glibc
#endif

extension OptionHost {
    /// `optionhost prune [CONFIG] --job NAME [--client NAME] (--keep-last N | --older-than DURATION) [--dry-run]`:
    /// retention, on either catalog driver.
    struct Prune: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove old jobs of a Job from the catalog, and the volume files only they used.",
            discussion: """
                The policy keeps the last N successful jobs (and any newer job), or the jobs that started less than \
                DURATION ago (Bareos time syntax: "30 days", "2w", "1d 12h"). Every job a kept job's restore chain \
                needs (its Full, Differential, earlier Incrementals) is kept too. The other jobs of the name are \
                removed from the catalog, then the volume files no remaining job references are deleted. On a \
                PostgreSQL catalog only one client's jobs are pruned (--client, else the Job's Client, else this \
                host's name), under the Job's lock of that client. --dry-run prints the same plan and changes \
                nothing. --json prints one object per job and volume, then a \
                summary. Exit codes: 0 ok, 1 some volume files could not be deleted, 2 usage error, 3 failure.
                """
        )

        @Argument(help: "A config file or directory (to find the catalog through the Job's Catalog resource).")
        var config: String?

        @OptionGroup var catalogOptions: CatalogOptions

        @Option(help: "The Job name whose jobs are pruned.")
        var job: String

        @Option(
            help: """
                Only the jobs of this client. Default on a PostgreSQL catalog: the Job's Client in CONFIG, else this \
                host's name; on a SQLite catalog: every client.
                """)
        var client: String?

        @Option(help: "Keep the last N successful jobs (and every job newer than the oldest of them).")
        var keepLast: Int?

        @Option(help: "Remove jobs that started more than DURATION ago (e.g. \"30 days\", \"2w\").")
        var olderThan: String?

        @Flag(help: "Say what would be removed; change nothing.")
        var dryRun = false

        @Flag(help: "Print JSON Lines (one object per job and volume, then a summary) instead of text.")
        var json = false

        func validate() throws {
            switch (keepLast, olderThan) {
            case (nil, nil): throw ValidationError("say what to keep: --keep-last N or --older-than DURATION")
            case (.some, .some): throw ValidationError("--keep-last and --older-than exclude each other")
            case (.some(let count), nil):
                if count < 1 { throw ValidationError("--keep-last must be at least 1") }
            case (nil, .some(let text)):
                guard let seconds = ConfigValues.time(text), seconds > 0 else {
                    throw ValidationError(
                        "--older-than \"\(text)\" is not a duration (Bareos time syntax, e.g. \"30 days\", \"2w\", "
                            + "\"1d 12h\")")
                }
            }
        }

        var policy: PrunePolicy {
            if let keepLast { return .keepLast(keepLast) }
            return .olderThan(seconds: ConfigValues.time(olderThan ?? "") ?? 0)
        }

        func run() throws {
            do {
                try prune()
            } catch let failure as CommandFailure {
                throw CommandSupport.report(failure, json: json)
            }
        }

        private func prune() throws {
            var configuration: Configuration?
            if let config {
                do {
                    configuration = try Configuration.load(path: config)
                } catch {
                    throw CommandFailure.usage(error.description)
                }
            }
            let configuredJob = configuration?.job(named: job)
            let location = try catalogOptions.catalogLocation(configuration: configuration, job: configuredJob)
            let path = location.name
            // SQLite: one host, every client unless --client. PostgreSQL: this host's client only (other hosts
            // prune their own jobs, under their own Job locks).
            let client = location.client(flag: self.client, job: configuredJob)
            var host: OrphanVolumes.Host?
            if case .postgreSQL = location, let name = client {
                // Volumes a dead job left open are judged in the Job's archive directory, the one this host sees.
                let archive = configuredJob?.archive.flatMap { configuration?.archives[$0]?.directory }
                host = OrphanVolumes.Host(client: name, archives: archive.map { [CommandSupport.absolutePath($0)] } ?? [])
            }
            let (catalog, lock) = try openLocked(location, client: client)
            defer {
                lock?.release()
                try? catalog.close()
            }
            // Volumes this Job's failed or killed jobs left open go first (a dry run lists them).
            var orphans: OrphanVolumes.Result
            do {
                // A dry run marks nothing: on PostgreSQL it asks which running jobs have no process instead.
                var dead: [JobID] = []
                if !dryRun {
                    let lastCall = host == nil ? PluginCallNote.take(catalog: path) : nil
                    try catalog.markAbandonedJobs(finder: "prune", lastCall: lastCall)
                } else if host != nil {
                    dead = try catalog.deadJobs()
                }
                orphans = try OrphanVolumes.remove(
                    from: catalog, jobName: job, client: client, finder: "prune", host: host, dead: dead,
                    dryRun: dryRun)
                if lock == nil && host == nil {
                    orphans.volumes = try orphans.volumes.filter { try catalog.job($0.jobID)?.status != .running }
                }
            } catch let error as CatalogError {
                throw CatalogUpkeep.failure(error, path: path)
            }

            let pruner = Pruner(catalog: catalog, jobName: job, client: client, policy: policy)
            let plan: PrunePlan
            do {
                plan = try pruner.plan()
            } catch {
                throw CommandFailure.failed("prune: \(error)")
            }
            if plan.kept.isEmpty && plan.removed.isEmpty && orphans.volumes.isEmpty {
                throw CommandFailure.usage(
                    "no job named \"\(job)\"" + (client.map { " of client \($0)" } ?? "") + " in catalog \(path)")
            }
            var result = PruneResult(plan: plan)
            result.failures = orphans.failures
            if !dryRun {
                do {
                    result = try pruner.execute(plan)
                    result.failures = orphans.failures + result.failures
                } catch {
                    throw CommandFailure.failed("prune: \(error)")
                }
            }
            print(result, orphans: orphans, catalogPath: path)
            if !result.failures.isEmpty { throw ExitStatus.warnings }
        }

        /// Opens the catalog with the lock that keeps the pruned jobs' writers out: SQLite, the lock file beside the
        /// catalog (returned; a sound file is required); PostgreSQL, the Job's advisory lock of `client`, a lock of
        /// the session that closing the catalog releases. A dry run only reads: it goes on without the lock while a
        /// job holds it (SQLite) and does not take it (PostgreSQL), leaving out the volumes of jobs still running.
        private func openLocked(_ location: CatalogLocation, client: String?) throws -> (DatabaseCatalog, JobLock?) {
            let file: String
            switch location {
            case .file(let path):
                file = path
            case .postgreSQL(let settings):
                let catalog: DatabaseCatalog
                do {
                    catalog = try DatabaseCatalog.open(postgreSQL: settings, create: false)
                } catch {
                    throw CatalogUpkeep.failure(error, path: location.name)
                }
                guard !dryRun, let client else { return (catalog, nil) }
                do {
                    try CatalogUpkeep.lockJob(catalog, name: job, client: client, path: location.name)
                } catch {
                    try? catalog.close()
                    throw error
                }
                return (catalog, nil)
            }
            guard access(file, F_OK) == 0 else { throw CommandFailure.usage("catalog \(file) does not exist") }
            var lock: JobLock?
            do {
                lock = try JobLock.acquire(path: file, holder: "prune \(job)")
            } catch where dryRun && error.isHeldByAnotherJob {
                CommandSupport.note(
                    "\(error); a dry run only reads: the volumes of jobs still running are left out", json: json)
            } catch {
                throw CommandFailure.failed("\(error)")
            }
            let catalog: SQLiteCatalog
            do {
                catalog = try SQLiteCatalog.open(path: file, create: false)
            } catch {
                lock?.release()
                throw CatalogUpkeep.failure(error, path: file)
            }
            do {
                try CatalogUpkeep.requireSound(catalog, path: file)
            } catch {
                try? catalog.close()
                lock?.release()
                throw error
            }
            return (catalog, lock)
        }

        private func reasonText(_ kept: PrunePlan.Kept) -> String {
            switch kept.reason {
            case "policy": return "kept by the policy"
            case "newer": return "newer than the oldest job the policy keeps"
            case "chain": return "needed to restore JobId \(kept.neededBy?.rawValue ?? 0)"
            case "volume": return "its volumes hold data of JobId \(kept.neededBy?.rawValue ?? 0)"
            default: return kept.reason
            }
        }

        /// What happens to a volume a job left open, in words (`would delete`, `delete`, `cannot delete`).
        private func orphanAction(_ path: String, _ orphans: OrphanVolumes.Result) -> (json: String, text: String) {
            if dryRun { return ("would_delete", "would delete") }
            if let failure = orphans.failures.first(where: { $0.path == path }) {
                return ("delete_failed", "cannot delete (\(failure.reason))")
            }
            return orphans.missing.contains(path) ? ("already_gone", "delete (already gone)") : ("delete", "delete ")
        }

        private func print(_ result: PruneResult, orphans: OrphanVolumes.Result, catalogPath: String) {
            let plan = result.plan
            let out = ByteWriter.standardOutput
            let deletedVolumes = plan.volumes.filter(\.delete)
            let orphanBytes = orphans.volumes.reduce(Int64(0)) { $0 + $1.bytes }
            let bytes = deletedVolumes.reduce(Int64(0)) { $0 + $1.volume.bytes } + orphanBytes
            let failed = Set(result.failures.map(\.path))
            let missing = Set(result.missing)
            if json {
                for warning in plan.warnings {
                    var line = JSONLine()
                    line.add("type", "warning")
                    line.add("message", warning)
                    out.write(line.line)
                }
                for kept in plan.kept {
                    var line = jobLine(kept.job, action: "keep")
                    line.add("reason", kept.reason)
                    if let by = kept.neededBy { line.add("needed_by", by.rawValue) }
                    out.write(line.line)
                }
                for job in plan.removed {
                    out.write(jobLine(job, action: dryRun ? "would_remove" : "remove").line)
                }
                for action in plan.volumes {
                    var line = JSONLine()
                    line.add("type", "volume")
                    line.add("path", action.volume.path)
                    line.add("job_id", action.volume.jobID.rawValue)
                    line.add("bytes", action.volume.bytes)
                    if !action.delete {
                        line.add("action", "keep")
                        line.add("reason", "recorded for JobId " + action.keptFor.map { String($0.rawValue) }.joined(separator: ", "))
                    } else if dryRun {
                        line.add("action", "would_delete")
                    } else if let failure = result.failures.first(where: { $0.path == action.volume.path }) {
                        line.add("action", "delete_failed")
                        line.add("message", failure.reason)
                    } else {
                        line.add("action", missing.contains(action.volume.path) ? "already_gone" : "delete")
                    }
                    out.write(line.line)
                }
                for volume in orphans.volumes {
                    var line = JSONLine()
                    line.add("type", "volume")
                    line.add("path", volume.path)
                    line.add("job_id", volume.jobID.rawValue)
                    line.add("bytes", volume.bytes)
                    line.add("action", orphanAction(volume.path, orphans).json)
                    line.add("reason", "left open by a job that did not finish")
                    if let failure = orphans.failures.first(where: { $0.path == volume.path }) {
                        line.add("message", failure.reason)
                    }
                    out.write(line.line)
                }
                var summary = JSONLine()
                summary.add("type", "summary")
                summary.add("status", result.failures.isEmpty ? "ok" : "warnings")
                summary.add("dry_run", dryRun)
                summary.add("job", plan.jobName)
                if let client = plan.client { summary.add("client", client) }
                summary.add("catalog", catalogPath)
                summary.add("jobs_kept", plan.kept.count)
                summary.add("jobs_removed", plan.removed.count)
                summary.add(
                    "volumes_deleted",
                    dryRun
                        ? deletedVolumes.count + orphans.volumes.count
                        : result.deleted.count + result.missing.count + orphans.deleted.count + orphans.missing.count)
                summary.add("volumes_failed", result.failures.count)
                summary.add("bytes_freed", bytes)
                out.write(summary.line)
            } else {
                for warning in plan.warnings { ByteWriter.standardError.line("warning: \(TerminalText.escapeKeepingNewlines(warning))") }
                ByteWriter.standardError.flush()
                out.line(
                    "Prune of Job \"\(plan.jobName)\"" + (plan.client.map { " of client \(TerminalText.escape($0))" } ?? "")
                        + " (\(plan.policy)): "
                        + (dryRun ? "dry run, nothing changed" : result.failures.isEmpty ? "ok" : "some volume files remain"))
                for kept in plan.kept {
                    out.line("  keep    \(jobText(kept.job)): \(reasonText(kept))")
                }
                for job in plan.removed {
                    out.line("  \(dryRun ? "would remove" : "remove ")  \(jobText(job))")
                }
                for action in plan.volumes {
                    let size = OptionHost.Estimate.grouped(action.volume.bytes)
                    if !action.delete {
                        out.line(
                            "  keep    \(TerminalText.escape(action.volume.path)): recorded for JobId "
                                + action.keptFor.map { String($0.rawValue) }.joined(separator: ", "))
                    } else if dryRun {
                        out.line("  would delete \(TerminalText.escape(action.volume.path)) (\(size) bytes)")
                    } else if failed.contains(action.volume.path) {
                        let reason = result.failures.first { $0.path == action.volume.path }?.reason ?? ""
                        out.line("  cannot delete \(TerminalText.escape(action.volume.path)): \(reason)")
                    } else {
                        out.line(
                            "  delete  \(TerminalText.escape(action.volume.path)) (\(size) bytes)"
                                + (missing.contains(action.volume.path) ? ": already gone" : ""))
                    }
                }
                for volume in orphans.volumes {
                    out.line(
                        "  \(orphanAction(volume.path, orphans).text) \(volume.path) "
                            + "(\(OptionHost.Estimate.grouped(volume.bytes)) bytes): left open by JobId \(volume.jobID.rawValue), "
                            + "which did not finish")
                }
                let volumeCount = deletedVolumes.count + orphans.volumes.count
                out.line(
                    "  \(plan.removed.count) job\(plan.removed.count == 1 ? "" : "s") \(dryRun ? "would be " : "")removed, "
                        + "\(plan.kept.count) kept; \(volumeCount) volume\(volumeCount == 1 ? "" : "s") "
                        + "(\(OptionHost.Estimate.grouped(bytes)) bytes) \(dryRun ? "would be " : "")deleted")
            }
            out.flush()
        }

        private func jobText(_ job: JobRecord) -> String {
            "JobId \(job.id.rawValue) (\(job.level.name), status \(job.status.rawValue), started "
                + "\(EntryFormatter.time(job.startTime.seconds)), \(OptionHost.Estimate.grouped(job.entriesStored)) entries)"
        }

        private func jobLine(_ job: JobRecord, action: String) -> JSONLine {
            var line = JSONLine()
            line.add("type", "job")
            line.add("action", action)
            line.add("job_id", job.id.rawValue)
            line.add("job", job.name)
            line.add("level", job.level.name)
            line.add("status", job.status.rawValue)
            line.add("start", job.startTime.seconds)
            line.add("entries", job.entriesStored)
            return line
        }
    }
}
