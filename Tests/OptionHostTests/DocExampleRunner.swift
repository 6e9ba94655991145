import Foundation
import PipelineTestSupport

/// Runs the examples of one Markdown page, in page order, in one work directory (so a page's backup is there for
/// its restore), with the real `optionhost` first on `PATH`; returns one failure message per example that did
/// not do what the page shows, naming the page, the line and the differing line.
struct DocExampleRunner {
    var page: String
    var displayName: String
    var work: String
    var binaryDirectory: String
    var repository: String

    /// Printed after each command of a session (an ASCII record separator around a word no output holds).
    private let separator = "\u{1E}doc-test\u{1E}"

    /// The catalog a page's SQL blocks run against (a `sql` marker), in the work directory.
    private var database: String?

    /// Absolute paths of the page that live under `work` (a `paths` marker), longest first.
    private var mapped: [String] = []

    init(page: String, displayName: String, work: String, binaryDirectory: String, repository: String) {
        self.page = page
        self.displayName = displayName
        self.work = work
        self.binaryDirectory = binaryDirectory
        self.repository = repository
    }

    mutating func run() throws -> [String] {
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let text = try String(contentsOfFile: page, encoding: .utf8)
        var failures: [String] = []
        for example in DocExample.extract(text) {
            let place = "\(displayName):\(example.line)"
            switch example.kind {
            case .paths(let paths):
                mapped = (mapped + paths).sorted { $0.count > $1.count }
                for path in paths {
                    let parent = URL(fileURLWithPath: work + path).deletingLastPathComponent().path
                    try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
                }
            case .file(let name, let text):
                try Data(map(text).utf8).write(to: URL(fileURLWithPath: work + "/" + map(name)))
            case .setup(let script), .script(let script):
                let result = try shell("set -e\n" + map(script))
                if result.status != 0 {
                    failures.append("\(place): the script exited with status \(result.status):\n\(result.output)")
                }
            case .session(let commands, let compared):
                // One shell for the whole session, as a reader types it: `cd`, variables and `$?` carry over.
                // A separator line after each command splits the output; `(exit N)` keeps `$?` for the next one.
                let script = commands.map { map($0.text) + "\n__status=$?; printf '\\n\(separator)\\n'; (exit $__status)" }
                let result = try shell(script.joined(separator: "\n"))
                var outputs = unmap(result.output).components(separatedBy: "\n\(separator)\n")
                if outputs.count != commands.count + 1 {
                    failures.append("\(place): the session stopped early (status \(result.status)):\n\(result.output)")
                    continue
                }
                outputs.removeLast()
                for (command, text) in zip(commands, outputs) {
                    let output = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                    if compared, let mismatch = DocOutputMatcher.compare(expected: command.expected, actual: output) {
                        failures.append(describe(mismatch, command: command, output: output))
                    }
                }
                if !compared && result.status != 0 {
                    failures.append("\(place): the session exited with status \(result.status):\n\(result.output)")
                }
            case .sqlDatabase(let path):
                database = map(path)
            case .sql(let text):
                // Before a page names its database, its SQL blocks are reference text (nothing to run them on).
                guard let database else { continue }
                let script = "sqlite3 -bail -readonly \(quoted(database)) <<'DOC_TEST_SQL'\n\(text)\nDOC_TEST_SQL"
                let result = try shell(script)
                if result.status != 0 {
                    failures.append("\(place): the query failed (status \(result.status)):\n\(unmap(result.output))")
                }
            case .skipped(let reason):
                if reason.isEmpty { failures.append("\(place): a skip marker needs its reason") }
            case .unknownMarker(let marker):
                failures.append(
                    "\(place): unknown marker <!-- doc-test: \(marker) --> (known: skip, not compared, one command, "
                        + "file, setup, paths, sql)")
            case .unmarked(let line):
                failures.append(
                    "\(place): \"\(line)\" shows a command but is neither run (`$ ` lines or a ```sh block) nor "
                        + "marked <!-- doc-test: skip REASON -->")
            }
        }
        return failures
    }

    private func describe(_ mismatch: DocOutputMatcher.Mismatch, command: DocExample.Command, output: [String])
        -> String
    {
        let line = mismatch.expectedLine ?? command.expected.last?.line ?? command.line
        let expected = mismatch.expected.map { "\"\($0)\"" } ?? "(no more output)"
        let actual = mismatch.actual.map { "\"\($0)\"" } ?? "(no more output)"
        return "\(displayName):\(line): $ \(command.text)\n  expected: \(expected)\n  actual:   \(actual)\n"
            + "  whole output:\n" + output.map { "    " + $0 }.joined(separator: "\n")
    }

    /// Runs `script` with bash in the work directory: standard output and error together, as a terminal shows
    /// them; `timeout` ends a command that hangs so the suite cannot. `HOME` is the work directory, so what an
    /// example keeps in the home (a GnuPG keyring) stays there; `umask 022` makes the modes listings show.
    private func shell(_ script: String) throws -> (status: Int32, output: String) {
        let environment = [
            "PATH=\(quoted(binaryDirectory)):\"$PATH\"", "REPO=\(quoted(repository))", "WORK=\(quoted(work))",
            "TZ=UTC", "LC_ALL=C.UTF-8", "COLUMNS=200", "HOME=\(quoted(work))",
        ]
        return try Shell.run(
            "cd \(quoted(work)) && export \(environment.joined(separator: " ")) && unset GNUPGHOME && umask 022 && "
                + "timeout 120 bash -c \(quoted(script))")
    }

    private func quoted(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// The page's paths as they are in the work directory: `/srv/data/x` becomes `WORK/srv/data/x` when
    /// `/srv/data` is mapped, and `srv/data` (relative to `/`, as checksum logs and tar name it) becomes
    /// `WORK/srv/data` without its leading `/`. A path is only replaced where it starts, so `/srv/data2` and
    /// `/x/srv/data` stay.
    private func map(_ text: String) -> String {
        guard !mapped.isEmpty else { return text }
        let alternatives = mapped.map(NSRegularExpression.escapedPattern(for:)).joined(separator: "|")
        guard let expression = try? NSRegularExpression(pattern: "(\(alternatives))(?![A-Za-z0-9_.-])") else { return text }
        var result = ""
        var rest = text.startIndex
        for match in expression.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
            guard let range = Range(match.range, in: text) else { continue }
            // A path starts a word, or follows another mapped path: `/tmp/restore/srv/data` is where a restore
            // with `--where /tmp/restore` put `/srv/data`, so both parts move.
            let before = range.lowerBound == text.startIndex ? nil : text[text.index(before: range.lowerBound)]
            guard before.map({ !($0.isLetter || $0.isNumber || "_./-".contains($0)) }) ?? true
                || (range.lowerBound == rest && rest != text.startIndex)
            else { continue }
            result += text[rest..<range.lowerBound] + inWork(String(text[range]))
            rest = range.upperBound
        }
        return result + text[rest...]
    }

    private func inWork(_ path: String) -> String {
        path.hasPrefix("/") ? work + path : String(work.dropFirst()) + "/" + path
    }

    /// The reverse of `map` for output, so the page can show `/srv/data/x`.
    private func unmap(_ text: String) -> String {
        mapped.reduce(text) { $0.replacingOccurrences(of: inWork($1), with: $1) }
    }
}
