/// A configuration problem with the place it was found.
///
/// `description` renders it the way compilers do: `file:line:col: message`, then the offending line and a caret.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public var location: SourceLocation?
    public var message: String
    /// The text of the line the error points into (without its newline), when known.
    var lineText: String?

    public init(_ message: String, at location: SourceLocation? = nil, lineText: String? = nil) {
        self.message = message
        self.location = location
        self.lineText = lineText
    }

    /// An error found after parsing (a stage refusing its options): the line's text is read from its file, so the
    /// message shows the line and a caret like a parse error.
    public static func afterParsing(_ message: String, at location: SourceLocation) -> ConfigError {
        ConfigError(message, at: location, lineText: ConfigLexer.lineOfFile(location.file, line: location.line))
    }

    /// `file:line:col: message` (or just the message when there is no location).
    var headline: String {
        if let location { return "\(location): \(message)" }
        return message
    }

    public var description: String {
        guard let location, let lineText else { return headline }
        let caretPad = String(lineText.prefix(max(0, location.column - 1)).map { $0 == "\t" ? "\t" : " " })
        return "\(headline)\n\(lineText)\n\(caretPad)^"
    }
}

/// A warning produced while loading or checking a configuration.
public struct ConfigWarning: Sendable, CustomStringConvertible, Hashable {
    public var location: SourceLocation?
    public var message: String

    public init(_ message: String, at location: SourceLocation? = nil) {
        self.message = message
        self.location = location
    }

    public var description: String {
        if let location { return "\(location): warning: \(message)" }
        return "warning: \(message)"
    }
}
