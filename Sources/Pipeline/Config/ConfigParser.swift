/// Parses Bareos configuration text into resources.
///
/// FileSets are parsed strictly (every directive of sections 2–3, Bareos' values, unknown keywords are errors);
/// every other resource type is parsed generically and kept, so a whole Director configuration loads.
final class ConfigParser {
    let lexer: ConfigLexer
    private var pending: ConfigToken?
    private(set) var resources: [Resource] = []
    private(set) var fileSets: [FileSet] = []
    var warnings: [ConfigWarning] = []
    /// Every Options keyword written (normalised key, spelling, location), for the "not applied" warnings.
    var optionKeywordUses: [(key: String, keyword: String, location: SourceLocation)] = []

    /// Resource types of the Bareos Director configuration plus our own (`Archive`, `Pipeline`), keyed by their
    /// normalised (lower-case, blank-free) spelling.
    static let resourceTypes: [String: String] = {
        let names = [
            "Director", "Client", "Job", "JobDefs", "Storage", "Catalog", "Schedule", "FileSet", "Pool", "Messages",
            "Counter", "Console", "Profile", "User", "Archive", "Pipeline",
        ]
        return Dictionary(uniqueKeysWithValues: names.map { ($0.lowercased(), $0) })
    }()

    /// Nested blocks in kept resources (`RunScript { }`) deeper than this are refused instead of recursing.
    static let maximumBlockDepth = 16

    init(lexer: ConfigLexer) {
        self.lexer = lexer
    }

    // MARK: - Errors

    func error(_ message: String, at location: SourceLocation) -> ConfigError {
        ConfigError(message, at: location, lineText: lexer.lineText(for: location))
    }

    // MARK: - Tokens

    func next(skipEndOfLine: Bool, stringMode: Bool = false) throws(ConfigError) -> ConfigToken {
        if let token = pending {
            pending = nil
            return token
        }
        lexer.stringMode = stringMode
        defer { lexer.stringMode = false }
        return try lexer.next(skipEndOfLine: skipEndOfLine)
    }

    func pushBack(_ token: ConfigToken) {
        pending = token
    }

    /// Discards the rest of the statement: every token up to the next end of line, or up to (not including) a `}`.
    func skipRestOfLine() throws(ConfigError) {
        while true {
            let token = try next(skipEndOfLine: false)
            switch token.kind {
            case .endOfLine, .endOfFile: return
            case .endBlock:
                pushBack(token)
                return
            default: continue
            }
        }
    }

    /// Reads `=` after a keyword (newlines may come in between).
    func expectEquals(after keyword: ConfigToken) throws(ConfigError) {
        let token = try next(skipEndOfLine: true)
        guard token.kind == .equals else {
            throw error("expected '=' after \(keyword.text), got \(token.described)", at: token.location)
        }
    }

    /// Reads `{` after a block keyword; `Include = {` is the classic mistake and gets its own message.
    func expectBlockStart(after keyword: ConfigToken) throws(ConfigError) {
        let token = try next(skipEndOfLine: true)
        if token.kind == .equals {
            throw error(
                "\(keyword.text) takes a block: write '\(keyword.text) {' without '='", at: token.location)
        }
        guard token.kind == .beginBlock else {
            throw error("expected '{' after \(keyword.text), got \(token.described)", at: token.location)
        }
    }

    /// Reads one value token.
    /// - Parameters:
    ///   - sameLine: the value must start on the keyword's line (Name, booleans, most Options keywords).
    ///   - stringMode: letters and digits start plain strings (how Bareos reads Options values).
    func value(
        for keyword: ConfigToken, sameLine: Bool, stringMode: Bool = false
    ) throws(ConfigError) -> ConfigToken {
        let token = try next(skipEndOfLine: !sameLine, stringMode: stringMode)
        guard token.isValue else {
            throw error("expected a value for \(keyword.text), got \(token.described)", at: token.location)
        }
        return token
    }

    static func normalize(_ keyword: ConfigToken) -> String {
        keyword.text.lowercased()
    }

    // MARK: - Top level

    func parseAll() throws(ConfigError) {
        while true {
            let token = try next(skipEndOfLine: true)
            if token.kind == .endOfFile { return }
            guard token.kind == .identifier else {
                throw error("expected a resource type such as FileSet or Job, got \(token.described)", at: token.location)
            }
            guard let type = ConfigParser.resourceTypes[ConfigParser.normalize(token)] else {
                throw error("unknown resource type \"\(token.text)\"", at: token.location)
            }
            try expectBlockStart(after: token)
            if type == "FileSet" {
                let fileSet = try parseFileSet(at: token.location)
                fileSets.append(fileSet)
                resources.append(Resource(type: type, name: fileSet.name, directives: [], location: token.location))
            } else {
                let (directives, end) = try parseGenericBody(in: type)
                let name = try resourceName(of: type, directives: directives, at: token.location, end: end)
                resources.append(Resource(type: type, name: name, directives: directives, location: token.location))
            }
        }
    }

    private func resourceName(
        of type: String, directives: [Directive], at location: SourceLocation, end: SourceLocation
    ) throws(ConfigError) -> String {
        let names = directives.filter { $0.key == "name" }
        guard let first = names.first else {
            throw error("\(type) resource has no Name", at: location)
        }
        if names.count > 1 {
            throw error("Name given twice in this \(type) resource", at: names[1].location)
        }
        if let problem = ConfigParser.nameProblem(first.value) {
            throw error(problem, at: first.valueLocation)
        }
        return first.value
    }

    /// Bareos' rules for resource names: 1–127 bytes of `A-Z a-z 0-9 : . - _ /` and space, no outer blanks.
    static func nameProblem(_ name: String) -> String? {
        if name.isEmpty { return "a Name must not be empty" }
        if name.utf8.count > 127 { return "Name \"\(name)\" is longer than 127 bytes" }
        if name.first == " " || name.last == " " {
            return "Name \"\(name)\" must not start or end with a blank"
        }
        for byte in name.utf8 {
            let ok =
                (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39)
                || byte == UInt8(ascii: ":") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-")
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "/") || byte == UInt8(ascii: " ")
            if !ok {
                let char = String(decoding: [byte], as: UTF8.self)
                return "Name \"\(name)\" contains '\(char)'; names may use letters, digits, blanks and : . - _ /"
            }
        }
        return nil
    }

    // MARK: - Generic resources

    /// Parses the body of a resource this host keeps as written: `Keyword = values...` lines and nested
    /// `Keyword { ... }` blocks (e.g. `RunScript`). Returns the directives and the location of the closing brace.
    func parseGenericBody(in type: String, depth: Int = 0) throws(ConfigError) -> ([Directive], SourceLocation) {
        var directives: [Directive] = []
        while true {
            let keyword = try next(skipEndOfLine: true)
            switch keyword.kind {
            case .endBlock:
                return (directives, keyword.location)
            case .endOfFile:
                throw error("unexpected end of file inside a \(type) resource: missing '}'", at: keyword.location)
            case .identifier:
                break
            default:
                throw error("expected a directive keyword, got \(keyword.described)", at: keyword.location)
            }
            let after = try next(skipEndOfLine: true)
            if after.kind == .beginBlock {
                guard depth < ConfigParser.maximumBlockDepth else {
                    throw error("blocks nested more than \(ConfigParser.maximumBlockDepth) deep", at: after.location)
                }
                let (children, _) = try parseGenericBody(in: "\(keyword.text) block", depth: depth + 1)
                directives.append(
                    Directive(
                        keyword: keyword.text, values: [], children: children, location: keyword.location,
                        valueLocation: after.location))
                try skipRestOfLine()
                continue
            }
            guard after.kind == .equals else {
                throw error("expected '=' after \(keyword.text), got \(after.described)", at: after.location)
            }
            let first = try value(for: keyword, sameLine: true)
            var values = [first.text]
            // Keep the rest of the line (lists such as `mail = root = all, !skipped`).
            while true {
                let token = try next(skipEndOfLine: false)
                if token.kind == .endOfLine || token.kind == .endOfFile { break }
                if token.kind == .endBlock {
                    pushBack(token)
                    break
                }
                if token.isValue { values.append(token.text) }
            }
            var directive = Directive(
                keyword: keyword.text, values: values, firstValueQuoted: first.kind == .quotedString,
                location: keyword.location, valueLocation: first.location)
            if first.kind == .number { directive.firstValueIsNumber = true }
            directives.append(directive)
        }
    }
}
