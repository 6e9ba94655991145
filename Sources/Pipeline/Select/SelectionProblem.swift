/// Something the walk reports about one path without stopping: an entry that cannot be read (error), or one that
/// is skipped or not descended into on purpose (info), as Bareos logs them in the job messages.
public struct SelectionProblem: Sendable, CustomStringConvertible {
    public enum Severity: String, Sendable {
        case error, warning, info
    }

    public var severity: Severity
    /// The path concerned, as raw bytes.
    public var path: [UInt8]
    /// A sentence naming the path (decoded leniently for display) and the reason.
    public var message: String

    public init(severity: Severity, path: [UInt8], message: String) {
        self.severity = severity
        self.path = path
        self.message = message
    }

    public var description: String { "\(severity.rawValue): \(message)" }
}
