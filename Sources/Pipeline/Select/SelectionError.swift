/// A failure that stops a selection before any file is read: a `<file` list that cannot be read, a `|command` that
/// cannot run or exits non-zero, or a pattern that does not compile. It names the configuration line responsible.
public struct SelectionError: Error, Sendable, CustomStringConvertible {
    public var location: SourceLocation?
    public var message: String

    public init(_ message: String, at location: SourceLocation? = nil) {
        self.message = message
        self.location = location
    }

    /// `file:line:col: message`, or just the message when there is no location.
    public var description: String {
        if let location { return "\(location): \(message)" }
        return message
    }
}
