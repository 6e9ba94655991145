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

        /// The embedded default configuration; `@EXAMPLES@`, `@WORK@` and `@KEY@` (the fingerprint of the
        /// throwaway key the demo makes) become their values.
        static let embedded = """
            # Embedded default configuration of `optionhost demo`.
            FileSet {
              Name = "Demo"
              Include {
                Exclude Dir Containing = .nobackup
                Options { WildFile = "*.o"; Exclude = yes }
                Options {
                  Signature = SHA256; Compression = GZIP; Wild = "*/documents/*"
                  # Native stages: nobody's files are never stored, a checksum log that `sha256sum -c` checks,
                  # and the text of each document in the catalog's search index (`optionhost search`).
                  Plugin = "owner:exclude_user=nobody"
                  Plugin = "checksum:log=@WORK@/sha256sums.txt"
                  Plugin = "index"
                }
                Options {
                  Signature = SHA256; Compression = GZIP; Wild = "*/home/*"
                  # Each file becomes one OpenPGP message for a throwaway key (compressed before it is encrypted):
                  # stock gpg decrypts a member pulled out with tar. The index keeps metadata only (the chain
                  # encrypts).
                  Plugin = "index"
                  Plugin = "gpg:recipient=@KEY@:keyring=@WORK@/gnupg"
                }
                Options {
                  Signature = SHA256; Wild = "*/src/*"
                  # A Bareos python-fd plugin that takes the files over: the volume holds gzip streams, restore
                  # inflates them.
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

        /// Makes a throwaway cv25519 key without a passphrase in `WORK/gnupg` and returns its fingerprint.
        static func makeThrowawayKey(work: String) throws -> String {
            let home = work + "/gnupg"
            try CommandSupport.makeDirectories(home)
            _ = try CommandRunner.run(
                "gpg --homedir '\(home)' --batch --quiet --passphrase '' --quick-gen-key "
                    + "'OptionPipeline demo <demo@example.org>' future-default default never 2>&1")
            let listing = String(
                decoding: try CommandRunner.run("gpg --homedir '\(home)' --batch --with-colons --list-keys"),
                as: UTF8.self)
            guard let line = listing.split(separator: "\n").first(where: { $0.hasPrefix("fpr:") }),
                let fingerprint = line.split(separator: ":", omittingEmptySubsequences: false).dropFirst(9).first
            else {
                throw CommandRunner.Failure(message: "gpg listed no fingerprint for the demo key")
            }
            return String(fingerprint)
        }

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
                    err.line(Errno.current.message("optionhost: cannot create a work directory"))
                    err.flush()
                    throw ExitStatus.jobFailed
                }
                workPath = String(cString: made)
            }
            let out = ByteWriter.standardOutput
            out.line("== a throwaway OpenPGP key for the gpg stage, in \(workPath)/gnupg")
            out.flush()
            let key: String
            do {
                key = try Demo.makeThrowawayKey(work: workPath)
            } catch {
                err.line("optionhost: cannot make the demo key with gpg (install gnupg): \(error)")
                err.flush()
                throw ExitStatus.jobFailed
            }
            defer { _ = try? CommandRunner.run("gpgconf --homedir '\(workPath)/gnupg' --kill gpg-agent 2>&1") }
            out.line("key \(key)")
            let text = Demo.embedded.replacing("@EXAMPLES@", with: examplesPath).replacing("@WORK@", with: workPath)
                .replacing("@KEY@", with: key)
            let configuration: Configuration
            do {
                configuration = try Configuration.parse(text: text, fileName: "<embedded demo config>")
            } catch {
                err.line(error.description)
                err.flush()
                throw ExitStatus.usage
            }
            out.line("")
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

            out.line("")
            out.line("== backup --job demo")
            out.flush()
            let backup = BackupJob(
                job: job, fileSet: fileSet, chains: configuration.chains(for: fileSet),
                catalog: try SQLiteCatalog.open(path: catalogPath, create: true), settings: settings,
                stageFactory: CommandSupport.stageFactory(job: job, configurationPath: nil))
            let backupSummary: JobSummary
            do {
                backupSummary = try backup.run()
            } catch {
                try? backup.releaseCatalog(as: SQLiteCatalog.self)?.close()
                throw error
            }
            // The job hands its catalog back once it has run.
            guard let catalog = backup.releaseCatalog(as: SQLiteCatalog.self) else {
                throw CommandFailure.failed("the backup job did not hand its catalog back")
            }
            defer { try? catalog.close() }
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
                stageFactory: CommandSupport.stageFactory(job: job, configurationPath: nil, forRestore: true))
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
            let volume = backupSummary.volumes.first ?? ""
            let steps: [(String, String)] = [
                (
                    "checksum log of the documents: sha256sum -c on the restored tree",
                    "cd '\(workPath)/restore' && sha256sum -c '\(workPath)/sha256sums.txt'"
                ),
                (
                    "search \"minutes\" (text the index stage extracted)",
                    "'\(Demo.executable)' search minutes --catalog '\(catalogPath)'"
                ),
                (
                    "one encrypted file with only tar and gpg",
                    "mkdir -p '\(workPath)/tar' && tar -xf '\(volume)' -C '\(workPath)/tar' "
                        + "'\(String(examplesPath.dropFirst()))/data/home/alice/Documents/cv.txt.gpg' && "
                        + "gpg --homedir '\(workPath)/gnupg' --batch --quiet --decrypt "
                        + "'\(workPath)/tar\(examplesPath)/data/home/alice/Documents/cv.txt.gpg' | gunzip | "
                        + "cmp - '\(examplesPath)/data/home/alice/Documents/cv.txt' && echo 'cv.txt: decrypted by gpg, "
                        + "identical to the original'"
                ),
            ]
            var failedSteps: [String] = []
            for (title, command) in steps {
                out.line("")
                out.line("== \(title)")
                out.line("$ \(command)")
                out.flush()
                do {
                    out.write(try CommandRunner.run(command + " 2>&1"))
                } catch {
                    out.line("failed: \(error)")
                    failedSteps.append(title)
                }
            }
            out.flush()
            if backupSummary.status != .ok || restoreSummary.status != .ok || !mismatches.isEmpty || !different.isEmpty
                || !failedSteps.isEmpty
            {
                throw ExitStatus.jobFailed
            }
        }

        /// This program (for the demo's `search` step).
        static var executable: String { realPath("/proc/self/exe") ?? "optionhost" }

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
