import ArgumentParser
import Pipeline
import Stages

#if canImport(Glibc)
import Glibc
#endif

/// `optionhost`: the file side of a backup, driven by Bareos FileSets.
@main
struct OptionHost: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "optionhost",
        abstract: "Back up the files a Bareos FileSet selects, through a chain of stages.",
        version: OptionHost.versionText,
        subcommands: [
            Check.self, Estimate.self, Backup.self, Restore.self, Verify.self, List.self, Demo.self, Bench.self, Scan.self,
            Prune.self, Search.self, CatalogCommand.self, PluginProcessCommand.self,
        ]
    )

    static let version = "0.1.0"

    /// `optionhost --version`: the version, then one line per linked library (`SQLite 3.40.1`, ...).
    static var versionText: String {
        ([version] + LinkedLibraries.allVersions.map { "\($0.name) \($0.version)" }).joined(separator: "\n")
    }

    /// Runs the command; usage errors exit with 2 (decision D5) instead of argument-parser's 64.
    static func main() {
        MallocTuning.apply()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                ByteWriter.standardError.line(TerminalText.escapeKeepingNewlines(fullMessage(for: error)))
                ByteWriter.standardError.flush()
                Glibc.exit(ExitStatus.usage.rawValue)
            }
            ByteWriter.standardOutput.flush()
            exit(withError: error)
        }
    }
}
