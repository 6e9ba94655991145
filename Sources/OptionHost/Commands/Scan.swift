import ArgumentParser
import Pipeline

#if canImport(Glibc)
import Glibc
#endif

extension OptionHost {
    /// `optionhost scan VOLUME... --catalog NEWFILE`: rebuild a catalog from volumes alone.
    struct Scan: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rebuild a catalog from volumes alone (for a lost or damaged catalog).",
            discussion: """
                Reads the job labels, members and trailers of the volumes (any order; every volume of each job) and \
                writes jobs, volumes and files, with their original JobIds, digests, chains and stage metadata, into \
                a NEW catalog file. An existing file is refused unless --force; it is then replaced (never merged) \
                once the scan has succeeded. A damaged, truncated or foreign volume stops the scan and leaves nothing \
                behind. --json prints one object per job, then a summary. Exit codes: 0 ok, 2 usage error, 3 the \
                scan failed.
                """
        )

        @Argument(help: "The volume files (<Job>-<JobId>-<NNNN>.tar), in any order.")
        var volumes: [String]

        @Option(help: "The new catalog file to create.")
        var catalog: String

        @Flag(help: "Replace an existing catalog file (only once the scan succeeded; nothing is merged).")
        var force = false

        @Flag(help: "Print JSON Lines (one object per job, then a summary) instead of text.")
        var json = false

        func validate() throws {
            if volumes.isEmpty { throw ValidationError("name at least one volume") }
        }

        func run() throws {
            do {
                try scan()
            } catch let failure as CommandFailure {
                throw CommandSupport.report(failure, json: json)
            }
        }

        private func scan() throws {
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
            let progress = ProgressCounters()
            let printer = ProgressPrinter(counters: progress, verb: "scan:", json: json)
            printer.start()
            let result: VolumeScanner.Result
            do {
                result = try VolumeScanner.scan(
                    volumes: volumes, intoNewCatalog: catalog, replacing: force, progress: progress)
            } catch {
                printer.stop()
                throw CommandFailure.failed("scan: \(error)")
            }
            printer.stop()
            print(result)
        }

        private func print(_ result: VolumeScanner.Result) {
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
                    out.write(line.line)
                }
                var summary = JSONLine()
                summary.add("type", "summary")
                summary.add("status", "ok")
                summary.add("catalog", catalog)
                summary.add("jobs", result.jobs.count)
                summary.add("volumes", result.volumes)
                summary.add("entries", result.entries)
                summary.add("files", result.files)
                summary.add("wall_seconds", (result.wallSeconds * 1000).rounded() / 1000)
                summary.add("files_per_second", rate.rounded())
                out.write(summary.line)
            } else {
                out.line(
                    "Scan of \(result.volumes) volume\(result.volumes == 1 ? "" : "s") into \(TerminalText.escape(catalog)): ok")
                for job in result.jobs {
                    out.line(
                        "  JobId \(job.job.id.rawValue) (\(job.job.name), \(job.job.level.name)): status "
                            + "\(job.job.status.rawValue), \(OptionHost.Estimate.grouped(UInt64(job.entries))) entries "
                            + "(\(OptionHost.Estimate.grouped(UInt64(job.files))) files) from \(job.volumes.count) "
                            + "volume\(job.volumes.count == 1 ? "" : "s")"
                            + (job.deleted > 0 ? ", \(job.deleted) deleted" : "")
                            + (job.hadTrailer ? "" : "; no job trailer: the job did not finish (status f)"))
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
