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

    /// `{"type":TYPE,"file":...,"line":...,"column":...,"message":...}`: a configuration error or warning in JSON.
    static func jsonLine(type: String, at location: SourceLocation?, message: String) -> JSONLine {
        var line = JSONLine()
        line.add("type", type)
        if let location {
            line.add("file", location.file)
            line.add("line", location.line)
            line.add("column", location.column)
        }
        line.add("message", message)
        return line
    }

    /// Prints configuration errors: `file:line:col: message`, the line and a caret (or JSON Lines, then a summary).
    func report(_ errors: [ConfigError]) {
        for error in errors {
            if json {
                ByteWriter.standardOutput.write(
                    ConfigOptions.jsonLine(type: "error", at: error.location, message: error.message).line)
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
