#if canImport(Glibc)
import Glibc
#endif

/// A token of the Bareos configuration language (section 1.2 of `bareos-conf-fileset.md`).
struct ConfigToken: Sendable {
    enum Kind: Sendable, Equatable {
        case identifier, number, unquotedString, quotedString
        case beginBlock, endBlock, equals, comma, endOfLine, endOfFile

        var spelled: String {
            switch self {
            case .identifier: return "identifier"
            case .number: return "number"
            case .unquotedString: return "unquoted string"
            case .quotedString: return "quoted string"
            case .beginBlock: return "'{'"
            case .endBlock: return "'}'"
            case .equals: return "'='"
            case .comma: return "','"
            case .endOfLine: return "end of line"
            case .endOfFile: return "end of file"
            }
        }
    }

    var kind: Kind
    var bytes: [UInt8]
    var location: SourceLocation

    var text: String { String(decoding: bytes, as: UTF8.self) }

    /// True for the tokens that carry a value (identifier, number, either string).
    var isValue: Bool {
        switch kind {
        case .identifier, .number, .unquotedString, .quotedString: return true
        default: return false
        }
    }

    /// How the token is named in an error message.
    var described: String {
        switch kind {
        case .identifier, .number, .unquotedString: return "\(kind.spelled) \"\(text)\""
        case .quotedString: return "quoted string \"\(text)\""
        default: return kind.spelled
        }
    }
}

/// The Bareos configuration lexer: bytes in, tokens out, with `@` includes, quoted-string joining and the
/// newline rules of section 1 (identifiers drop inner blanks, `;` ends a statement, `#` comments).
///
/// The parser chooses per call whether end-of-line tokens are skipped (`skipEndOfLine`) and whether letters and
/// digits start plain strings instead of identifiers and numbers (`stringMode`), as the Bareos readers do.
final class ConfigLexer {
    /// One open input: the root file, an `@` included file or the output of an `@|command`.
    struct Input {
        var name: String
        /// Canonical path used for cycle detection (nil for command output).
        var identity: String?
        var bytes: [UInt8]
        var position: Int = 0
        var line: Int = 1
        var lineStart: Int = 0
    }

    private static let endOfLine = -2
    private static let endOfFile = -1

    var inputs: [Input] = []
    /// Every file read, in the order it was opened (for `check`'s summary and tests).
    var filesRead: [String] = []

    /// Letters and digits start unquoted strings instead of identifiers/numbers (Bareos `LOPT_STRING`).
    var stringMode = false

    init(text: [UInt8], name: String, identity: String? = nil) {
        inputs = [Input(name: name, identity: identity, bytes: text)]
        filesRead.append(name)
    }

    /// Opens `path` as the root input.
    convenience init(path: String) throws(ConfigError) {
        let bytes = try ConfigLexer.readFile(path, includedFrom: nil)
        self.init(text: bytes, name: path, identity: ConfigLexer.canonicalPath(path))
    }

    // MARK: - Characters

    private var current: Input {
        get { inputs[inputs.count - 1] }
        _modify { yield &inputs[inputs.count - 1] }
    }

    /// The location of the next character to be read.
    var location: SourceLocation {
        let input = current
        let position = min(input.position, input.bytes.count)
        return SourceLocation(file: input.name, line: input.line, column: position - input.lineStart + 1)
    }

    /// The text of the line that contains `location` (for carets in error messages).
    func lineText(for location: SourceLocation) -> String? {
        guard let input = inputs.last(where: { $0.name == location.file }) else {
            return ConfigLexer.lineOfFile(location.file, line: location.line)
        }
        return ConfigLexer.line(location.line, of: input.bytes)
    }

    static func line(_ number: Int, of bytes: [UInt8]) -> String? {
        var line = 1
        var start = 0
        var index = 0
        while index < bytes.count, line < number {
            if bytes[index] == UInt8(ascii: "\n") {
                line += 1
                start = index + 1
            }
            index += 1
        }
        guard line == number else { return nil }
        var end = start
        while end < bytes.count, bytes[end] != UInt8(ascii: "\n") { end += 1 }
        var slice = bytes[start..<end]
        if slice.last == UInt8(ascii: "\r") { slice = slice.dropLast() }
        return String(decoding: slice, as: UTF8.self)
    }

    static func lineOfFile(_ path: String, line: Int) -> String? {
        guard let bytes = try? readFile(path, includedFrom: nil) else { return nil }
        return ConfigLexer.line(line, of: bytes)
    }

    /// True when every character of the input, including the final end-of-line, has been delivered.
    private static func isExhausted(_ input: Input) -> Bool {
        if input.position > input.bytes.count { return true }
        return input.position == input.bytes.count && (input.bytes.isEmpty || input.bytes.last == UInt8(ascii: "\n"))
    }

    /// Leaves finished included inputs so that `location` names the input the next character comes from.
    private func popFinishedIncludes() {
        while inputs.count > 1, ConfigLexer.isExhausted(current) { inputs.removeLast() }
    }

    /// Reads the next character: a byte, `endOfLine` for a newline, `endOfFile` at the end of the root input.
    /// At the end of an included input the including input resumes (the character that ended the `@` name is
    /// delivered next, as in Bareos).
    private func getChar() -> Int {
        popFinishedIncludes()
        let input = current
        if input.position < input.bytes.count {
            let byte = input.bytes[input.position]
            current.position += 1
            if byte == UInt8(ascii: "\n") {
                current.line += 1
                current.lineStart = current.position
                return ConfigLexer.endOfLine
            }
            return Int(byte)
        }
        // The last line always ends with an end-of-line, even without a final newline.
        if !ConfigLexer.isExhausted(input) {
            current.position += 1
            return ConfigLexer.endOfLine
        }
        return ConfigLexer.endOfFile
    }

    private func ungetChar(_ ch: Int) {
        if ch == ConfigLexer.endOfFile { return }
        if ch == ConfigLexer.endOfLine {
            if current.position > current.bytes.count {
                current.position -= 1
                return
            }
            current.line -= 1
            current.position -= 1
            // Recompute the start of the previous line.
            var start = current.position
            while start > 0, current.bytes[start - 1] != UInt8(ascii: "\n") { start -= 1 }
            current.lineStart = start
            return
        }
        current.position -= 1
    }

    private func peekRestOfLineStartsWithQuote() -> Bool {
        let input = current
        var index = input.position
        while index < input.bytes.count {
            let byte = input.bytes[index]
            if byte == UInt8(ascii: "\"") { return true }
            if byte != UInt8(ascii: " ") && byte != UInt8(ascii: "\t") { return false }
            index += 1
        }
        return false
    }

    private func peekNextLineStartsWithQuote() -> Bool {
        let input = current
        var index = input.position
        while index < input.bytes.count, input.bytes[index] != UInt8(ascii: "\n") { index += 1 }
        index += 1
        while index < input.bytes.count {
            let byte = input.bytes[index]
            if byte == UInt8(ascii: "\"") { return true }
            if byte != UInt8(ascii: " ") && byte != UInt8(ascii: "\t") { return false }
            index += 1
        }
        return false
    }

    // MARK: - Tokens

    private static func isSpace(_ ch: Int) -> Bool {
        ch == 0x20 || ch == 0x09 || ch == 0x0D || ch == 0x0B || ch == 0x0C
    }

    private static func isAlpha(_ ch: Int) -> Bool {
        (ch >= 0x41 && ch <= 0x5A) || (ch >= 0x61 && ch <= 0x7A)
    }

    private static func isDigit(_ ch: Int) -> Bool { ch >= 0x30 && ch <= 0x39 }

    private enum State { case none, comment, number, string, identifier, quoted, include, includeQuoted }

    /// Returns the next token.
    /// - Parameter skipEndOfLine: newlines and `;` produce no token (Bareos `BCT_SKIP_EOL`).
    func next(skipEndOfLine: Bool) throws(ConfigError) -> ConfigToken {
        var state = State.none
        var text: [UInt8] = []
        var start = location
        var continueString = false
        var escapeNext = false
        let isNewlineSkipping = skipEndOfLine

        func token(_ kind: ConfigToken.Kind) -> ConfigToken {
            ConfigToken(kind: kind, bytes: text, location: start)
        }

        while true {
            popFinishedIncludes()
            let here = location
            let ch = getChar()
            // A NUL byte would cut a path or value where it reaches C (open, stat, regcomp); Bareos' C reader
            // silently ends the string there. Refused wherever it could end up in a value; comments may hold it.
            if ch == 0 && state != .comment {
                throw ConfigError(
                    "NUL byte in the configuration (a value cannot contain one)", at: here,
                    lineText: lineText(for: here))
            }
            switch state {
            case .none:
                if ConfigLexer.isSpace(ch) { continue }
                if ConfigLexer.isAlpha(ch) {
                    state = stringMode ? .string : .identifier
                    text = [UInt8(ch)]
                    start = here
                    continue
                }
                if ConfigLexer.isDigit(ch) {
                    state = stringMode ? .string : .number
                    text = [UInt8(ch)]
                    start = here
                    continue
                }
                switch ch {
                case ConfigLexer.endOfFile:
                    if continueString {
                        return token(.quotedString)
                    }
                    start = here
                    text = []
                    return token(.endOfFile)
                case ConfigLexer.endOfLine:
                    if continueString { continue }
                    if !isNewlineSkipping {
                        start = here
                        text = []
                        return token(.endOfLine)
                    }
                case Int(UInt8(ascii: "#")):
                    state = .comment
                case Int(UInt8(ascii: "{")):
                    start = here
                    text = [UInt8(ascii: "{")]
                    return token(.beginBlock)
                case Int(UInt8(ascii: "}")):
                    start = here
                    text = [UInt8(ascii: "}")]
                    return token(.endBlock)
                case Int(UInt8(ascii: "\"")):
                    state = .quoted
                    if !continueString {
                        text = []
                        start = here
                    }
                case Int(UInt8(ascii: "=")):
                    start = here
                    text = [UInt8(ascii: "=")]
                    return token(.equals)
                case Int(UInt8(ascii: ",")):
                    start = here
                    text = [UInt8(ascii: ",")]
                    return token(.comma)
                case Int(UInt8(ascii: ";")):
                    if !isNewlineSkipping {
                        start = here
                        text = [UInt8(ascii: ";")]
                        return token(.endOfLine)
                    }
                case Int(UInt8(ascii: "@")):
                    state = .include
                    text = []
                    start = here
                case 0xEF where here.line == 1 && here.column == 1:
                    // A UTF-8 byte order mark at the very start of a file is skipped.
                    let input = current
                    if input.position + 1 < input.bytes.count, input.bytes[input.position] == 0xBB,
                        input.bytes[input.position + 1] == 0xBF
                    {
                        current.position += 2
                        current.lineStart = current.position
                        continue
                    }
                    state = .string
                    text = [UInt8(ch)]
                    start = here
                case 0xFF where here.line == 1 && here.column == 1, 0xFE where here.line == 1 && here.column == 1:
                    throw ConfigError(
                        "this file appears to be UTF-16 encoded; save it as UTF-8", at: here,
                        lineText: nil)
                default:
                    state = .string
                    text = [UInt8(ch)]
                    start = here
                }

            case .comment:
                if ch == ConfigLexer.endOfLine {
                    state = .none
                    if !isNewlineSkipping {
                        text = []
                        start = here
                        return token(.endOfLine)
                    }
                } else if ch == ConfigLexer.endOfFile {
                    state = .none
                    ungetChar(ch)
                }

            case .number:
                if ConfigLexer.isDigit(ch) {
                    text.append(UInt8(ch))
                    continue
                }
                ungetChar(ch)
                if ConfigLexer.isSpace(ch) || ch == ConfigLexer.endOfLine || ch == ConfigLexer.endOfFile
                    || ch == Int(UInt8(ascii: ",")) || ch == Int(UInt8(ascii: ";"))
                {
                    return token(.number)
                }
                state = .string

            case .string:
                if ch == ConfigLexer.endOfFile || ch == ConfigLexer.endOfLine || ConfigLexer.isSpace(ch)
                    || ch == Int(UInt8(ascii: "=")) || ch == Int(UInt8(ascii: "{")) || ch == Int(UInt8(ascii: "}"))
                    || ch == Int(UInt8(ascii: ";")) || ch == Int(UInt8(ascii: ",")) || ch == Int(UInt8(ascii: "#"))
                {
                    ungetChar(ch)
                    return token(.unquotedString)
                }
                text.append(UInt8(ch))

            case .identifier:
                if ConfigLexer.isAlpha(ch) {
                    text.append(UInt8(ch))
                    continue
                }
                if ConfigLexer.isSpace(ch) { continue }
                if ch == ConfigLexer.endOfLine || ch == ConfigLexer.endOfFile || ch == Int(UInt8(ascii: "="))
                    || ch == Int(UInt8(ascii: "{")) || ch == Int(UInt8(ascii: "}")) || ch == Int(UInt8(ascii: ";"))
                    || ch == Int(UInt8(ascii: ",")) || ch == Int(UInt8(ascii: "\"")) || ch == Int(UInt8(ascii: "#"))
                {
                    ungetChar(ch)
                    return token(.identifier)
                }
                // Some other character: the identifier becomes an unquoted string.
                state = .string
                text.append(UInt8(ch))

            case .quoted:
                if ch == ConfigLexer.endOfFile {
                    throw ConfigError("unterminated quoted string", at: start, lineText: lineText(for: start))
                }
                if ch == ConfigLexer.endOfLine {
                    // A newline inside quotes is kept; a backslash right before it is dropped.
                    escapeNext = false
                    text.append(UInt8(ascii: "\n"))
                    continueString = false
                    continue
                }
                if escapeNext {
                    text.append(UInt8(ch))
                    escapeNext = false
                    continue
                }
                if ch == Int(UInt8(ascii: "\\")) {
                    escapeNext = true
                    continue
                }
                if ch == Int(UInt8(ascii: "\"")) {
                    if peekNextLineStartsWithQuote() || peekRestOfLineStartsWithQuote() {
                        continueString = true
                        state = .none
                        continue
                    }
                    return token(.quotedString)
                }
                continueString = false
                text.append(UInt8(ch))

            case .include:
                if ch == ConfigLexer.endOfFile {
                    throw ConfigError("'@' without a file name", at: start, lineText: lineText(for: start))
                }
                if ch == Int(UInt8(ascii: "\"")) {
                    state = .includeQuoted
                    continue
                }
                if ConfigLexer.isSpace(ch) || ch == ConfigLexer.endOfLine || ch == Int(UInt8(ascii: "}"))
                    || ch == Int(UInt8(ascii: "{")) || ch == Int(UInt8(ascii: ";")) || ch == Int(UInt8(ascii: ","))
                    || ch == Int(UInt8(ascii: "#"))
                {
                    // The terminating character is delivered after the included text.
                    ungetChar(ch)
                    try include(text, at: start)
                    state = .none
                    text = []
                    continue
                }
                text.append(UInt8(ch))

            case .includeQuoted:
                if ch == ConfigLexer.endOfFile || ch == ConfigLexer.endOfLine {
                    throw ConfigError(
                        "unterminated quoted file name after '@'", at: start, lineText: lineText(for: start))
                }
                if escapeNext {
                    text.append(UInt8(ch))
                    escapeNext = false
                    continue
                }
                if ch == Int(UInt8(ascii: "\\")) {
                    escapeNext = true
                    continue
                }
                if ch == Int(UInt8(ascii: "\"")) {
                    try include(text, at: start)
                    state = .none
                    text = []
                    continue
                }
                text.append(UInt8(ch))
            }
        }
    }
}
