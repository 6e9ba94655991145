import ArgumentParser
import Pipeline

extension OptionHost {
    /// `optionhost list jobs|files`: what the catalog holds.
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List jobs or the files of a job from the catalog.",
            subcommands: [Jobs.self, Files.self]
        )

        struct Jobs: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List the jobs in the catalog, newest first.")

            @Argument(help: "A config file or directory (to find the catalog).")
            var config: String?

            @OptionGroup var catalogOptions: CatalogOptions

            @Option(help: "Only jobs of this Job name.")
            var job: String?

            @Flag(help: "Print JSON Lines.")
            var json = false

            func run() throws {
                do {
                    let selection = try JobSelection.parse(
                        (config.map { [$0] } ?? []) + (catalogOptions.catalog.map { ["--catalog", $0] } ?? [])
                            + (job.map { ["--job", $0] } ?? []) + ["--jobid", "0"])
                    let configuration = try selection.configuration()
                    let path = try selection.catalogPath(configuration)
                    let catalog = try SQLiteCatalog.open(path: path, create: false)
                    defer { try? catalog.close() }
                    let jobs = try catalog.jobs(name: job)
                    let out = ByteWriter.standardOutput
                    for record in jobs {
                        if json {
                            var line = JSONLine()
                            line.add("job_id", record.id.rawValue)
                            line.add("job", record.name)
                            line.add("level", record.level.rawValue)
                            line.add("status", record.status.rawValue)
                            line.add("fileset", record.fileSetName)
                            line.add("start", record.startTime.seconds)
                            if let end = record.endTime { line.add("end", end.seconds) }
                            line.add("files_stored", record.filesStored)
                            line.add("bytes_read", record.bytesRead)
                            line.add("bytes_stored", record.bytesStored)
                            line.add("files_failed", record.filesFailed)
                            out.write(line.line)
                        } else {
                            out.line(
                                "\(record.id.rawValue)\t\(record.name)\t\(record.level.rawValue)\t\(record.status.rawValue)\t"
                                    + "\(EntryFormatter.time(record.startTime.seconds))\t\(record.filesStored) files\t"
                                    + "\(OptionHost.Estimate.grouped(record.bytesRead)) bytes\t\(record.filesFailed) failed")
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
                    throw CommandSupport.report(.failed("\(error)"), json: json)
                }
            }
        }

        struct Files: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List the entries of one job.")

            @OptionGroup var selection: JobSelection

            func run() throws {
                do {
                    let (catalog, jobID, _) = try selection.open()
                    defer { try? catalog.close() }
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
                            if let block = record.block { line.add("block", block) } else { line.addNull("block") }
                            line.add("chain", record.chain)
                            if let digest = record.sourceSHA256 { line.add("sha256", Hex.encode(digest)) }
                            if let error = record.error { line.add("reason", error) }
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
                }
            }
        }
    }
}
