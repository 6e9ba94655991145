import ArgumentParser
import Pipeline

#if canImport(Glibc)
import Glibc
#endif

/// What `list jobs` and `list volumes` take: the config or `--catalog`, `--job NAME`, `--json`.
struct ListOptions: ParsableArguments {
    @Argument(help: "A config file or directory (to find the catalog).")
    var config: String?

    @OptionGroup var catalogOptions: CatalogOptions

    @Option(help: "Only jobs of this Job name (their volumes, the versions they wrote).")
    var job: String?

    @Flag(help: "Print JSON Lines.")
    var json = false

    /// The catalog selection these options name, plus `extra` arguments.
    func selection(extra: [String] = []) throws -> JobSelection {
        try JobSelection.parse(
            (config.map { [$0] } ?? []) + (catalogOptions.catalog.map { ["--catalog", $0] } ?? [])
                + (job.map { ["--job", $0] } ?? []) + extra)
    }
}

extension OptionHost.List {
    /// `list volumes`: the volumes the catalog knows, one line each, with what is in them and their size on disk.
    struct Volumes: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the volumes in the catalog: job, size on disk, members, file indexes, state.",
            discussion: """
                One line per volume, in JobId and sequence order: the volume's file name, JobId, Job name, its size \
                on disk (\"missing\" when the file is gone; the catalog's byte count is in --json), the entries \
                stored in it, the first and last file index among them, and its state: open (being written, or \
                left by a job that died), full (the job moved on to the next volume) or closed.
                """)

        @OptionGroup var options: ListOptions
        var job: String? { options.job }
        var json: Bool { options.json }

        /// The size of `path` on disk, nil when it cannot be read.
        static func sizeOnDisk(_ path: String) -> Int64? {
            (try? SystemCall.status(of: path)).map { Int64($0.st_size) }
        }

        private func row(
            _ name: String, _ jobID: String, _ job: String, _ size: String, _ members: String, _ first: String,
            _ last: String, _ state: String
        ) -> String {
            EntryFormatter.pad(name, 28) + " " + EntryFormatter.pad(jobID, 6, right: true) + "  "
                + EntryFormatter.pad(job, 12) + " " + EntryFormatter.pad(size, 14, right: true) + " "
                + EntryFormatter.pad(members, 8, right: true) + " " + EntryFormatter.pad(first, 8, right: true) + " "
                + EntryFormatter.pad(last, 8, right: true) + "  " + state
        }

        func run() throws {
            var catalogPath = "(catalog)"
            do {
                let selection = try options.selection()
                let (catalog, opened) = try selection.openCatalog(selection.configuration())
                defer { try? catalog.close() }
                catalogPath = opened
                let volumes = try catalog.volumeUsage(jobName: job)
                let out = ByteWriter.standardOutput
                if !json && !volumes.isEmpty {
                    out.line(row("VOLUME", "JOBID", "JOB", "SIZE", "MEMBERS", "FIRST", "LAST", "STATE"))
                }
                var total: Int64 = 0
                for usage in volumes {
                    let size = Self.sizeOnDisk(usage.volume.path)
                    total += size ?? 0
                    if json {
                        var line = JSONLine()
                        line.add("type", "volume")
                        line.add("volume_id", usage.volume.id)
                        line.add("name", usage.volume.name)
                        line.add("path", usage.volume.path)
                        line.add("job_id", usage.volume.jobID.rawValue)
                        line.add("job", usage.jobName)
                        line.add("sequence", usage.volume.sequence)
                        line.add("bytes", usage.volume.bytes)
                        if let size { line.add("size_on_disk", size) } else { line.addNull("size_on_disk") }
                        line.add("members", usage.members)
                        if let first = usage.firstFileIndex { line.add("first_file_index", first) } else {
                            line.addNull("first_file_index")
                        }
                        if let last = usage.lastFileIndex { line.add("last_file_index", last) } else {
                            line.addNull("last_file_index")
                        }
                        line.add("data_bytes", usage.dataBytes)
                        line.add("state", usage.volume.status)
                        out.write(line.line)
                    } else {
                        out.line(
                            row(
                                TerminalText.escape(usage.volume.name),
                                String(usage.volume.jobID.rawValue),
                                TerminalText.escape(usage.jobName),
                                size.map { OptionHost.Estimate.grouped($0) } ?? "missing", String(usage.members),
                                usage.firstFileIndex.map(String.init) ?? "-", usage.lastFileIndex.map(String.init) ?? "-",
                                usage.volume.status))
                    }
                }
                if json {
                    var summary = JSONLine()
                    summary.add("type", "summary")
                    summary.add("volumes", volumes.count)
                    summary.add("size_on_disk", total)
                    out.write(summary.line)
                } else if volumes.isEmpty {
                    ByteWriter.standardError.line("no volumes in the catalog" + (job.map { " for Job \"\($0)\"" } ?? ""))
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
