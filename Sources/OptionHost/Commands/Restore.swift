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

    @Flag(help: "Print JSON Lines instead of text.")
    var json = false

    func validate() throws {
        if jobid == nil && !latest { throw ValidationError("name the job with --jobid ID or --latest --job NAME") }
        if jobid != nil && latest { throw ValidationError("--jobid and --latest exclude each other") }
        if latest && job == nil { throw ValidationError("--latest needs --job NAME") }
    }

    func configuration() throws -> Configuration? {
        guard let config else { return nil }
        do {
            return try Configuration.load(path: config)
        } catch {
            ByteWriter.standardError.line(error.description)
            ByteWriter.standardError.flush()
            throw ExitStatus.usage
        }
    }

    func catalogPath(_ configuration: Configuration?) throws -> String {
        let configuredJob = job.flatMap { configuration?.job(named: $0) }
        return try catalogOptions.catalogPath(configuration: configuration, job: configuredJob)
    }

    /// Opens the catalog (it must exist) and resolves the job id.
    func open() throws -> (SQLiteCatalog, JobID, String) {
        let configuration = try configuration()
        let path = try catalogPath(configuration)
        guard access(path, F_OK) == 0 else { throw CommandFailure.usage("catalog \(path) does not exist") }
        let catalog: SQLiteCatalog
        do {
            catalog = try SQLiteCatalog.open(path: path, create: false)
        } catch {
            throw CommandFailure.failed("cannot open catalog \(path): \(error)")
        }
        if let jobid { return (catalog, JobID(rawValue: jobid), path) }
        let candidates = try catalog.jobs(name: job).filter { $0.status == .ok || $0.status == .warnings }
        guard let newest = candidates.first else {
            throw CommandFailure.usage("no successful job named \"\(job ?? "")\" in catalog \(path)")
        }
        return (catalog, newest.id, path)
    }
}

extension OptionHost {
    /// `optionhost restore`: verified restore of a job (decision D5).
    struct Restore: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Restore a job's files under --where (or in place), verifying every file's SHA-256.",
            discussion: """
                Files land at WHERE + their original absolute path. A file whose restored bytes do not match the \
                catalog's SHA-256 is not created under its final name. Nothing is written outside WHERE.
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

        @Flag(help: "Write the one selected file's bytes to standard output.")
        var stdout = false

        func validate() throws {
            if !stdout && !inPlace && `where` == nil { throw ValidationError("restore needs --where DIR (or --in-place)") }
            if inPlace && `where` != nil { throw ValidationError("--in-place and --where exclude each other") }
        }

        func run() throws {
            do {
                try restore()
            } catch let failure as CommandFailure {
                throw CommandSupport.report(failure, json: selection.json)
            }
        }

        private func restore() throws {
            let (catalog, jobID, _) = try selection.open()
            defer { try? catalog.close() }
            var settings = RestoreSettings(whereDirectory: inPlace ? "/" : (`where` ?? "/"))
            settings.replace = replace
            settings.select = select
            if stdout { settings.outputFD = 1 }
            let job = RestoreJob(catalog: catalog, jobID: jobID, settings: settings, stageFactory: CommandSupport.stageFactory)
            CommandSupport.installInterruptHandler(job.cancellation)
            let printer = ProgressPrinter(counters: job.progress, verb: "restore:")
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
                return
            }
            let out = ByteWriter.standardOutput
            let problems = job.problems.filter { $0.severity == "warning" || $0.severity == "error" }
            if selection.json {
                for message in problems { out.write(CommandSupport.message(message)) }
                out.write(CommandSupport.summaryJSON(summary) { $0.add("where", settings.whereDirectory) })
            } else {
                for message in problems { ByteWriter.standardError.write(CommandSupport.messageText(message)) }
                ByteWriter.standardError.flush()
                let rate = Double(summary.filesStored) / max(summary.wallSeconds, 0.001)
                out.line(
                    "Restore of JobId \(summary.jobID) (\(summary.jobName)) to \(settings.whereDirectory): "
                        + CommandSupport.statusWord(summary.status))
                out.line(
                    "  \(summary.filesStored) files verified and restored, \(summary.entriesStored) entries, "
                        + "\(summary.filesFailed) failed, \(OptionHost.Estimate.grouped(summary.bytesRead)) bytes; "
                        + "\(Int((summary.wallSeconds * 1000).rounded())) ms, \(Int(rate.rounded())) files/s")
            }
            out.flush()
            if summary.status != .ok { throw CommandSupport.exitCode(for: summary.status) }
        }
    }

    /// `optionhost verify --jobid ID`: re-read the volumes and check them against the catalog.
    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-read a job's volumes and check every member against the catalog (exit 4 on a mismatch).")

        @OptionGroup var selection: JobSelection

        func run() throws {
            do {
                let (catalog, jobID, _) = try selection.open()
                defer { try? catalog.close() }
                let (summary, mismatches) = try VerifyJob(catalog: catalog, jobID: jobID).run()
                let out = ByteWriter.standardOutput
                if selection.json {
                    for mismatch in mismatches {
                        var line = JSONLine()
                        line.add("type", "error")
                        line.addPath(mismatch.path)
                        line.add("message", mismatch.message)
                        out.write(line.line)
                    }
                    out.write(CommandSupport.summaryJSON(summary) { $0.add("mismatches", mismatches.count) })
                } else {
                    for mismatch in mismatches {
                        ByteWriter.standardError.write(
                            Array("mismatch: ".utf8) + mismatch.path + Array(": \(mismatch.message)\n".utf8))
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
            } catch let failure as CommandFailure {
                throw CommandSupport.report(failure, json: selection.json)
            } catch let error as BackupError {
                throw CommandSupport.report(.failed(error.message), json: selection.json)
            }
        }
    }
}

extension ReplacePolicy: ExpressibleByArgument {}
