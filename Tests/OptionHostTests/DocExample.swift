import Foundation

/// One thing the docs test does with a Markdown page, in page order: the fenced examples that show commands, the
/// files and setup they need, and the examples a marker comment exempts (with its reason).
///
/// The syntax the pages use is described in README.md, "Examples in the docs are tested"; `DocExample.extract`
/// is its only reader.
struct DocExample {
    /// One `$ command` line of a session block (continuation lines ending in `\` joined) and the output the page
    /// shows under it; `expected` keeps each line's line number in the page for the failure message.
    struct Command {
        var line: Int
        var text: String
        var expected: [(line: Int, text: String)]
    }

    enum Kind {
        /// A block of `$ command` lines, each followed by its output.
        case session([Command], compared: Bool)
        /// A ```` ```sh ```` block: one script, run with `set -e`; it must exit 0.
        case script(String)
        /// `<!-- doc-test: file NAME -->`: the block is written to NAME in the page's work directory.
        case file(name: String, text: String)
        /// `<!-- doc-test: setup ... -->`: a hidden script run before the examples that follow.
        case setup(String)
        /// `<!-- doc-test: paths /a /b -->`: these absolute paths live under the work directory from here on.
        case paths([String])
        /// `<!-- doc-test: sql DATABASE -->`: the ```` ```sql ```` blocks that follow run against DATABASE.
        case sqlDatabase(String)
        /// A ```` ```sql ```` block: run with `sqlite3 -bail -readonly` against the page's database, it must
        /// succeed (a column or table that does not exist fails it); the output is not compared.
        case sql(String)
        /// `<!-- doc-test: skip REASON -->`: a command example not executed, for REASON.
        case skipped(reason: String)
        /// A block that shows a command but is neither in a runnable form nor marked: always a failure.
        case unmarked(firstLine: String)
        /// A marker this test does not know (a typo would otherwise leave the block run as if unmarked).
        case unknownMarker(String)
    }

    var line: Int
    var kind: Kind

    static let marker = "<!-- doc-test:"

    /// The examples of one page. `synopsis` blocks (`optionhost check CONFIG [--json]`: command forms with
    /// placeholders, nothing to run) and blocks that show no command (configuration, SQL, output samples) are
    /// not returned.
    static func extract(_ text: String) -> [DocExample] {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var examples: [DocExample] = []
        var pending: (line: Int, words: String)?
        var index = 0
        while index < lines.count {
            let line = lines[index]
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix(marker) {
                let start = index
                var body = String(trimmed.dropFirst(marker.count))
                while !body.hasSuffix("-->") && index + 1 < lines.count {
                    index += 1
                    body += "\n" + lines[index]
                }
                body = String(body.dropLast(3)).trimmingCharacters(in: .whitespaces)
                if body.hasPrefix("setup") {
                    examples.append(DocExample(line: start + 1, kind: .setup(String(body.dropFirst(5)))))
                } else if body.hasPrefix("sql ") {
                    examples.append(
                        DocExample(line: start + 1, kind: .sqlDatabase(body.dropFirst(4).trimmingCharacters(in: .whitespaces))))
                } else if body.hasPrefix("paths") {
                    let paths = body.dropFirst(5).split(separator: " ").map(String.init)
                    examples.append(DocExample(line: start + 1, kind: .paths(paths)))
                } else {
                    pending = (start + 1, body)
                }
                index += 1
                continue
            }
            guard trimmed.hasPrefix("```") else {
                if !trimmed.isEmpty { pending = nil }
                index += 1
                continue
            }
            let language = trimmed.dropFirst(3).trimmingCharacters(in: .whitespaces)
            // A block inside a list item is indented; its lines lose that indentation (and no more).
            let indent = line.prefix(while: { $0 == " " }).count
            var body: [(line: Int, text: String)] = []
            index += 1
            while index < lines.count, lines[index].trimmingCharacters(in: .whitespaces) != "```" {
                let blanks = lines[index].prefix(while: { $0 == " " }).count
                body.append((index + 1, String(lines[index].dropFirst(min(indent, blanks)))))
                index += 1
            }
            index += 1
            let start = (body.first?.line ?? index) - 1
            if let example = classify(body, language: language, marker: pending?.words, line: start) {
                examples.append(example)
            }
            pending = nil
        }
        return examples
    }

    private static func classify(
        _ body: [(line: Int, text: String)], language: String, marker: String?, line: Int
    ) -> DocExample? {
        if let marker {
            guard ["skip", "file ", "one command", "not compared"].contains(where: { marker.hasPrefix($0) }) else {
                return DocExample(line: line, kind: .unknownMarker(marker))
            }
            if marker.hasPrefix("skip") {
                return DocExample(line: line, kind: .skipped(reason: String(marker.dropFirst(4)).trimmingCharacters(in: .whitespaces)))
            }
            if marker.hasPrefix("file ") {
                let text = body.map(\.text).joined(separator: "\n") + "\n"
                return DocExample(line: line, kind: .file(name: String(marker.dropFirst(5)), text: text))
            }
        }
        if body.contains(where: { $0.text.hasPrefix("$ ") }) {
            let session = commands(body, oneCommand: marker == "one command")
            return DocExample(line: line, kind: .session(session, compared: marker != "not compared"))
        }
        if language == "sql" {
            return DocExample(line: line, kind: .sql(body.map(\.text).joined(separator: "\n")))
        }
        if language == "sh" || language == "shell" || language == "bash" {
            return DocExample(line: line, kind: .script(body.map(\.text).joined(separator: "\n")))
        }
        let commandWords = ["optionhost ", "tar ", "gpg ", "sqlite3 ", "sha256sum ", "cd ", "swift ", ".build/"]
        guard let first = body.first(where: { line in commandWords.contains(where: { line.text.hasPrefix($0) }) })
        else { return nil }
        let isSynopsis = body.allSatisfy { $0.text.hasPrefix("optionhost ") || $0.text.hasPrefix(" ") }
            && body.contains { $0.text.contains("[") || $0.text.contains("(") }
        return isSynopsis ? nil : DocExample(line: line, kind: .unmarked(firstLine: first.text))
    }

    /// Splits a session block into its commands: `$ ` starts one, a trailing `\` or an open quote continues it on
    /// the next line, every other line is output of the command before it (with `oneCommand`, every line after
    /// the first command is: the demo prints the commands it runs).
    private static func commands(_ body: [(line: Int, text: String)], oneCommand: Bool) -> [Command] {
        var commands: [Command] = []
        var continuing = false
        for (line, text) in body {
            if continuing, var last = commands.popLast() {
                last.text += "\n" + text
                commands.append(last)
                continuing = isIncomplete(last.text)
            } else if text.hasPrefix("$ ") && !(oneCommand && !commands.isEmpty) {
                commands.append(Command(line: line, text: String(text.dropFirst(2)), expected: []))
                continuing = isIncomplete(text)
            } else if var last = commands.popLast() {
                last.expected.append((line, text))
                commands.append(last)
            }
        }
        return commands
    }

    /// Whether a shell command needs the next line: it ends with a `\` or leaves a quote open.
    private static func isIncomplete(_ command: String) -> Bool {
        var quote: Character?
        var escaped = false
        for char in command {
            if escaped {
                escaped = false
            } else if char == "\\" && quote != "'" {
                escaped = true
            } else if char == "'" || char == "\"" {
                if quote == nil { quote = char } else if quote == char { quote = nil }
            }
        }
        return quote != nil || escaped
    }
}
