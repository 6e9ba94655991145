import ArgumentParser
import Pipeline

#if canImport(Glibc)
import Glibc
#endif

extension OptionHost {
    /// `optionhost demo`: the main job on the embedded default configuration — backup, verified restore and
    /// verify of `examples/data`, in a fresh work directory it prints.
    struct Demo: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Back up, restore and verify examples/data with the embedded default configuration.",
            discussion: """
                Checks the embedded configuration, estimates its job, backs it up into a fresh work directory \
                (catalog and volumes), restores it under that directory, verifies the volumes and compares every \
                restored file with the original. Run it from the repository root, or name the examples directory \
                with --examples.
                """
        )

        @Option(help: "The examples directory (default: ./examples).")
        var examples = "examples"

        @Option(help: "Work directory for the catalog, volumes and restore (default: a new /tmp/optionhost-demo.XXXXXX).")
        var work: String?

        /// The embedded default configuration; `@EXAMPLES@` and `@WORK@` become absolute paths.
        static let embedded = """
            # Embedded default configuration of `optionhost demo`.
            FileSet {
              Name = "Demo"
              Include {
                Exclude Dir Containing = .nobackup
                Options { WildFile = "*.o"; Exclude = yes }
                Options {
                  Signature = SHA256; Compression = GZIP; Wild = "*/documents/*"
                  # Two Bareos python-fd plugins from examples/plugins, each in its own sub-interpreter.
                  Plugin = "python3:module_path=@EXAMPLES@/plugins:module_name=bareos-fd-checksum-log:log=@WORK@/sha256sums.txt"
                  Plugin = "python3:module_path=@EXAMPLES@/plugins:module_name=indexer:index=@WORK@/index.jsonl"
                }
                Options {
                  Signature = SHA256; Wild = "*/home/*"
                  # This plugin takes the files over: the volume holds gzip streams, restore inflates them.
                  Plugin = "python3:module_path=@EXAMPLES@/plugins:module_name=gzip_io"
                }
                Options { Signature = XXH128; Hard Links = yes }
                File = "@EXAMPLES@/data"
              }
              Exclude { File = "*.swp" }
            }
            Catalog { Name = "DemoCatalog"; DB Driver = sqlite3; DB Name = "@WORK@/catalog.db" }
            Archive { Name = "DemoVolumes"; Directory = "@WORK@/volumes"; Volume Mode = 0600 }
            Job {
              Name = "demo"
              Type = Backup
              Level = Full
              FileSet = "Demo"
              Catalog = "DemoCatalog"
              Archive = "DemoVolumes"
            }
            """

        private static func realPath(_ path: String) -> String? {
            guard let resolved = realpath(path, nil) else { return nil }
            defer { free(resolved) }
            return String(cString: resolved)
        }

        func run() throws {
            let err = ByteWriter.standardError
            guard let examplesPath = Demo.realPath(examples) else {
                err.line("optionhost: examples directory \"\(examples)\" not found; run from the repository root or pass --examples DIR")
                err.flush()
                throw ExitStatus.usage
            }
            let workPath: String
            if let work {
                try CommandSupport.makeDirectories(work)
                workPath = Demo.realPath(work) ?? work
            } else {
                var template = Array("/tmp/optionhost-demo.XXXXXX".utf8CString)
                guard let made = mkdtemp(&template) else {
                    err.line("optionhost: cannot create a work directory: \(String(cString: strerror(errno)))")
                    err.flush()
                    throw ExitStatus.jobFailed
                }
                workPath = String(cString: made)
            }
            let text = Demo.embedded.replacing("@EXAMPLES@", with: examplesPath).replacing("@WORK@", with: workPath)
            let configuration: Configuration
            do {
                configuration = try Configuration.parse(text: text, fileName: "<embedded demo config>")
            } catch {
                err.line(error.description)
                err.flush()
                throw ExitStatus.usage
            }
            let out = ByteWriter.standardOutput
            out.line("== optionhost demo over \(examplesPath)/data, work directory \(workPath)")
            out.line(text)
            out.line("")
            out.line("== estimate --job demo --listing")
            out.flush()
            try Estimate.estimate(configuration: configuration, jobName: "demo", listing: true, json: false)

            let job = configuration.job(named: "demo")!
            let fileSet = configuration.fileSets["Demo"]!
            let catalogPath = workPath + "/catalog.db"
            var settings = BackupSettings(archiveDirectory: workPath + "/volumes")
            settings.volumeMode = 0o600
            try CommandSupport.makeDirectories(settings.archiveDirectory)
            let catalog = try SQLiteCatalog.open(path: catalogPath, create: true)
            defer { try? catalog.close() }

            out.line("")
            out.line("== backup --job demo")
            out.flush()
            let backup = BackupJob(
                job: job, fileSet: fileSet, chains: configuration.chains(for: fileSet), catalog: catalog,
                settings: settings, stageFactory: CommandSupport.stageFactory(job: job, configurationPath: nil))
            let backupSummary = try backup.run()
            out.line(
                "JobId \(backupSummary.jobID): \(CommandSupport.statusWord(backupSummary.status)); "
                    + "\(backupSummary.filesStored) files and \(backupSummary.entriesStored) entries stored, "
                    + "\(backupSummary.bytesRead) bytes read, \(backupSummary.bytesStored) bytes in the volume")
            for volume in backupSummary.volumes { out.line("  volume: \(volume)") }
            out.line("  catalog: \(catalogPath)")

            out.line("")
            out.line("== restore --jobid \(backupSummary.jobID) --where \(workPath)/restore")
            out.flush()
            let restore = RestoreJob(
                catalog: catalog, jobID: JobID(rawValue: backupSummary.jobID),
                settings: RestoreSettings(whereDirectory: workPath + "/restore"),
                stageFactory: CommandSupport.stageFactory(job: job, configurationPath: nil))
            let restoreSummary = try restore.run()
            out.line(
                "\(CommandSupport.statusWord(restoreSummary.status)): \(restoreSummary.filesStored) files verified "
                    + "(SHA-256) and restored, \(restoreSummary.entriesStored) entries")

            out.line("")
            out.line("== verify --jobid \(backupSummary.jobID)")
            let (_, mismatches) = try VerifyJob(catalog: catalog, jobID: JobID(rawValue: backupSummary.jobID)).run()
            out.line(mismatches.isEmpty ? "volumes match the catalog" : "\(mismatches.count) mismatches")

            // Compare every restored regular file with its original.
            var compared = 0
            var different: [String] = []
            for record in try catalog.files(job: JobID(rawValue: backupSummary.jobID))
            where record.kind == .file && record.status == .stored {
                let original = String(decoding: record.path, as: UTF8.self)
                if Demo.contents(original) != Demo.contents(workPath + "/restore" + original) { different.append(original) }
                compared += 1
            }
            out.line(
                different.isEmpty
                    ? "restored tree: all \(compared) files identical to the originals"
                    : "restored tree: \(different.count) of \(compared) files differ: \(different.joined(separator: ", "))")
            out.line("checksum log of the documents (python plugin): \(workPath)/sha256sums.txt")
            out.line("  check the restored copies: cd \(workPath)/restore && sha256sum -c \(workPath)/sha256sums.txt")
            out.line("index of the documents (python plugin): \(workPath)/index.jsonl")
            out.flush()
            if backupSummary.status != .ok || restoreSummary.status != .ok || !mismatches.isEmpty || !different.isEmpty {
                throw ExitStatus.jobFailed
            }
        }

        static func contents(_ path: String) -> [UInt8]? {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { return nil }
            defer { close(fd) }
            var bytes: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if count <= 0 { break }
                bytes += buffer[0..<count]
            }
            return bytes
        }
    }
}
