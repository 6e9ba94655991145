/// A position in configuration text: file, 1-based line and 1-based column.
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// `file:line:col`, the form editors and compilers use.
    public var description: String { "\(file):\(line):\(column)" }
}
