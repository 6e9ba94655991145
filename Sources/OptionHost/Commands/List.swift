import ArgumentParser
import Pipeline

#if canImport(Glibc)
import Glibc
#endif

extension OptionHost {
    /// `optionhost list jobs|files|versions`: what the catalog holds.
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List jobs, the files or the messages of a job, or the stored versions of a path from the catalog.",
            subcommands: [Jobs.self, Files.self, Messages.self, Versions.self, Volumes.self]
        )

        struct Jobs: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List the jobs in the catalog, newest first.")

            @OptionGroup var options: ListOptions
            var job: String? { options.job }
            var json: Bool { options.json }

            @Option(help: "Only jobs of this client (the Job's Client, or the name of the host that ran it).")
            var client: String?

            func run() throws {
                var catalogPath = "(catalog)"
                do {
                    let selection = try options.selection(extra: ["--jobid", "0"])
                    let configuration = try selection.configuration()
                    let catalog: DatabaseCatalog
                    switch try selection.catalogOptions.catalogLocation(
                        configuration: configuration, job: job.flatMap { configuration?.job(named: $0) })
                    {
                    case .file(let path):
                        guard access(path, F_OK) == 0 else {
                            throw CommandFailure.usage("catalog \(path) does not exist")
                        }
                        catalogPath = path
                        catalog = try SQLiteCatalog.open(path: path, create: false)
                        CatalogUpkeep.markAbandonedJobs(catalog, location: .file(path), finder: "optionhost list jobs")
                    case .postgreSQL(let settings):
                        catalogPath = CatalogLocation.postgreSQL(settings).name
                        catalog = try DatabaseCatalog.open(postgreSQL: settings, create: false)
                        CatalogUpkeep.markAbandonedJobs(
                            catalog, location: .postgreSQL(settings), finder: "optionhost list jobs")
                    }
                    defer { try? catalog.close() }
                    let jobs = try catalog.jobs(name: job).filter { client == nil || $0.clientName == client }
                    // What each job's volumes hold: its data plus the tar and pax headers of every entry.
                    let volumeBytes = try catalog.volumeBytesByJob()
                    let out = ByteWriter.standardOutput
                    for record in jobs {
                        if json {
                            var line = JSONLine()
                            line.add("type", "job")
                            line.add("job_id", record.id.rawValue)
                            line.add("job", record.name)
                            line.add("job_type", record.typeName)
                            line.add("level", record.level.name)
                            line.add("status", record.status.rawValue)
                            line.add("fileset", record.fileSetName)
                            if let client = record.clientName { line.add("client", client) } else { line.addNull("client") }
                            line.add("start", record.startTime.seconds)
                            line.add("start_iso", HumanTime.iso8601(record.startTime))
                            if let end = record.endTime {
                                line.add("end", end.seconds)
                                line.add("end_iso", HumanTime.iso8601(end))
                            }
                            line.add("files_stored", record.filesStored)
                            line.add("bytes_read", record.bytesRead)
                            line.add("bytes_stored", record.bytesStored)
                            line.add("volume_bytes", volumeBytes[record.id] ?? 0)
                            line.add("files_failed", record.filesFailed)
                            line.add("errors", record.errors)
                            line.add("warnings", record.warnings)
                            if let directory = record.whereDirectory { line.add("where", directory) }
                            if let restored = record.restoredJob { line.add("restored_job_id", restored.rawValue) }
                            out.write(line.line)
                        } else {
                            out.line(
                                "\(record.id.rawValue)\t\(record.name)\t\(record.clientName ?? "-")\t\(record.typeName)\t"
                                    + "\(record.level.name)\t"
                                    + "\(record.status.rawValue)\t"
                                    + "\(EntryFormatter.time(record.startTime.seconds))\t\(record.filesStored) files\t"
                                    + "\(OptionHost.Estimate.grouped(record.bytesRead)) bytes\t"
                                    + "\(OptionHost.Estimate.grouped(volumeBytes[record.id] ?? 0)) in volumes\t"
                                    + "\(record.filesFailed) failed")
                        }
                    }
                    if json {
                        var summary = JSONLine()
                        summary.add("type", "summary")
                        summary.add("jobs", jobs.count)
                        out.write(summary.line)
                    }
                    out.flush()
                } catch let failure as CommandFailure {
                    throw CommandSupport.report(failure, json: json)
                } catch let error as CatalogError {
                    throw CommandSupport.report(CatalogUpkeep.failure(error, path: catalogPath), json: json)
                }
            }
        }

        struct Files: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List the entries of one job.")

            @OptionGroup var selection: JobSelection

            func validate() throws {
                try selection.requireJob()
            }

            func run() throws {
                var catalogPath = "(catalog)"
                do {
                    let (catalog, jobID, path) = try selection.open()
                    defer { try? catalog.close() }
                    catalogPath = path
                    let out = ByteWriter.standardOutput
                    let formatter = EntryFormatter()
                    var count = 0
                    for record in try catalog.files(job: jobID) {
                        count += 1
                        if selection.json {
                            var line = JSONLine()
                            line.addPath(record.path)
                            line.add("type", record.kind.rawValue)
                            line.add("status", record.status.rawValue)
                            line.add("size", record.size)
                            line.add("mtime", record.mtime.seconds)
                            line.add("mtime_iso", HumanTime.iso8601(record.mtime))
                            if let block = record.block { line.add("block", block) } else { line.addNull("block") }
                            line.add("chain", record.chain)
                            if let digest = record.sourceSHA256 { line.add("sha256", Hex.encode(digest)) }
                            // D5: `decision` where a stage decided (a skip, or an error answer).
                            if let error = record.error {
                                if record.status == .skipped && error.hasPrefix("skipped by stage ") {
                                    line.add("decision", "skip")
                                } else if record.status == .failed && error.hasPrefix("stage ") {
                                    line.add("decision", "error")
                                }
                                line.add("reason", error)
                            }
                            out.write(line.line)
                        } else {
                            out.write(formatter.line(record))
                        }
                    }
                    if selection.json {
                        var summary = JSONLine()
                        summary.add("type", "summary")
                        summary.add("job_id", jobID.rawValue)
                        summary.add("entries", count)
                        out.write(summary.line)
                    }
                    out.flush()
                } catch let failure as CommandFailure {
                    throw CommandSupport.report(failure, json: selection.json)
                } catch let error as CatalogError {
                    // A page SQLite cannot read mid-listing: a failure (3), with the way back.
                    throw CommandSupport.report(CatalogUpkeep.failure(error, path: catalogPath), json: selection.json)
                }
            }
        }

        /// `list messages --jobid ID`: the job's log as the catalog keeps it (level decisions, file problems, what
        /// stages and Python plugins said with JobMessage/DebugMessage), oldest first.
        struct Messages: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "List the messages of one job (the host's and its stages', Python plugins' included).")

            @OptionGroup var selection: JobSelection

            func validate() throws {
                try selection.requireJob()
            }

            func run() throws {
                do {
                    let (catalog, jobID, _) = try selection.open()
                    defer { try? catalog.close() }
                    let out = ByteWriter.standardOutput
                    let messages = try catalog.messages(job: jobID)
                    for message in messages {
                        out.write(selection.json ? CommandSupport.message(message) : CommandSupport.messageText(message))
                    }
                    if selection.json {
                        var summary = JSONLine()
                        summary.add("type", "summary")
                        summary.add("job_id", jobID.rawValue)
                        summary.add("messages", messages.count)
                        out.write(summary.line)
                    }
                    out.flush()
                } catch let failure as CommandFailure {
                    throw CommandSupport.report(failure, json: selection.json)
                }
            }
        }

        /// `list versions PATH`: every row of one path in any job, numbered as `restore --file-version N` takes them.
        struct Versions: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "List every version of one path in the catalog, oldest first.",
                discussion: """
                    One line per catalog row of the path in any job (stored, deleted by Accurate, failed or \
                    skipped): the version number for restore --select PATH --file-version N (oldest = 1), JobId, Job name, \
                    level, job start time, the file's mtime, size, the SHA-256 of its content and the row's status. \
                    A relative PATH is taken from the working directory.
                    """)

            @Argument(help: "The path (absolute, or relative to the working directory).")
            var path: String

            @OptionGroup var options: ListOptions
            var job: String? { options.job }
            var json: Bool { options.json }

            /// One text line: version, JobId, Job, level, job start, mtime, size, SHA-256, status.
            private func row(
                _ number: String, _ jobID: String, _ job: String, _ level: String, _ start: String, _ mtime: String,
                _ size: String, _ digest: String, _ status: String
            ) -> String {
                EntryFormatter.pad(number, 4, right: true) + "  " + EntryFormatter.pad(jobID, 6, right: true) + "  "
                    + EntryFormatter.pad(job, 12) + " " + EntryFormatter.pad(level, 12) + " "
                    + EntryFormatter.pad(start, 19) + "  " + EntryFormatter.pad(mtime, 19) + " "
                    + EntryFormatter.pad(size, 12, right: true) + "  " + EntryFormatter.pad(digest, 64) + "  " + status
            }

            func run() throws {
                var catalogPath = "(catalog)"
                do {
                    let selection = try options.selection()
                    let (catalog, opened) = try selection.openCatalog(selection.configuration())
                    defer { try? catalog.close() }
                    catalogPath = opened
                    let absolute = FileVersions.absolutePath(path)
                    let versions = try FileVersions.list(absolute, jobName: job, in: catalog)
                    let out = ByteWriter.standardOutput
                    if !json && !versions.isEmpty {
                        out.line(
                            row("VERS", "JOBID", "JOB", "LEVEL", "JOB START", "MTIME", "SIZE", "SHA-256", "STATUS"))
                    }
                    for version in versions {
                        let record = version.record
                        let digest = record.sourceSHA256.map(Hex.encode)
                        if json {
                            var line = JSONLine()
                            line.add("type", "version")
                            line.add("version", version.number)
                            line.addPath(record.path)
                            line.add("job_id", version.job.id.rawValue)
                            line.add("job", version.job.name)
                            line.add("level", version.job.level.name)
                            line.add("job_start", version.job.startTime.seconds)
                            line.add("job_start_iso", HumanTime.iso8601(version.job.startTime))
                            line.add("entry", record.kind.rawValue)
                            line.add("status", record.status.rawValue)
                            if record.status == .deleted {
                                // A deletion row records only that the path was gone.
                                for key in ["size", "mtime", "mtime_ns", "mtime_iso"] { line.addNull(key) }
                            } else {
                                line.add("size", record.size)
                                line.add("mtime", record.mtime.seconds)
                                line.add("mtime_ns", record.mtime.nanoseconds)
                                line.add("mtime_iso", HumanTime.iso8601(record.mtime))
                            }
                            if let digest { line.add("sha256", digest) } else { line.addNull("sha256") }
                            if let target = record.linkTarget { line.addPath(target, key: "link_target") }
                            if let error = record.error { line.add("reason", error) }
                            out.write(line.line)
                        } else {
                            let stored = record.status != .deleted
                            out.line(
                                row(
                                    String(version.number), String(version.job.id.rawValue), version.job.name,
                                    version.job.level.name, EntryFormatter.time(version.job.startTime.seconds),
                                    stored ? EntryFormatter.time(record.mtime.seconds) : "-",
                                    stored ? String(record.size) : "-", digest ?? "-",
                                    record.status.rawValue + (record.kind == .file ? "" : " (\(record.kind.rawValue))")))
                        }
                    }
                    if json {
                        var summary = JSONLine()
                        summary.add("type", "summary")
                        summary.addPath(absolute)
                        summary.add("versions", versions.count)
                        out.write(summary.line)
                    } else if versions.isEmpty {
                        ByteWriter.standardError.write(
                            Array("no version of ".utf8) + TerminalText.escape(absolute) + Array(" in the catalog\n".utf8))
                        ByteWriter.standardError.flush()
                    }
                    out.flush()
                } catch let failure as CommandFailure {
                    throw CommandSupport.report(failure, json: json)
                } catch let error as CatalogError {
                    throw CommandSupport.report(CatalogUpkeep.failure(error, path: catalogPath), json: json)
                }
            }
        }
    }
}
