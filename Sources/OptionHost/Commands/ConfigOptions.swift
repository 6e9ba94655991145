import ArgumentParser
import Pipeline

/// The configuration argument and output format shared by commands that read a configuration.
struct ConfigOptions: ParsableArguments {
    @Argument(help: "A config file, a directory with bareos-dir.conf, or a bareos-dir.d/ tree.")
    var config: String

    @Flag(help: "Print JSON Lines (one object per event, then a summary) instead of text.")
    var json = false

    /// Loads the configuration; on error prints `file:line:col: message`, the line and a caret, and exits 2.
    func load() throws -> Configuration {
        do {
            return try Configuration.load(path: config)
        } catch {
            report([error])
            throw ExitStatus.usage
        }
    }

    /// Prints configuration errors: `file:line:col: message`, the line and a caret (or JSON Lines, then a summary).
    func report(_ errors: [ConfigError]) {
        for error in errors {
            if json {
                var line = JSONLine()
                line.add("type", "error")
                if let location = error.location {
                    line.add("file", location.file)
                    line.add("line", location.line)
                    line.add("column", location.column)
                }
                line.add("message", error.message)
                ByteWriter.standardOutput.write(line.line)
            } else {
                ByteWriter.standardError.line(TerminalText.escapeKeepingNewlines(error.description))
            }
        }
        if json {
            var summary = JSONLine()
            summary.add("type", "summary")
            summary.add("status", "error")
            ByteWriter.standardOutput.write(summary.line)
            ByteWriter.standardOutput.flush()
        } else {
            ByteWriter.standardError.flush()
        }
    }
}
