/// A resource as written, kept for every type (also the Bareos ones this host does not run).
public struct Resource: Sendable {
    /// Canonical type name (`FileSet`, `Job`, `Director`, ...).
    public var type: String
    public var name: String
    var directives: [Directive]
    public var location: SourceLocation

    public init(type: String, name: String, directives: [Directive], location: SourceLocation) {
        self.type = type
        self.name = name
        self.directives = directives
        self.location = location
    }

    /// The first directive with this normalised keyword (blanks removed, lower case).
    func directive(_ key: String) -> Directive? {
        directives.first { $0.key == key }
    }
}

/// One `Keyword = value ...` line (or `Keyword { ... }` block) of a resource.
public struct Directive: Sendable {
    /// The keyword as written, with its inner blanks removed (`ExcludeDirContaining`).
    var keyword: String
    /// Lower-cased `keyword`, the form used for lookups.
    public var key: String
    /// The value tokens on the line, as text (quoted strings unquoted). Empty for blocks.
    public var values: [String]
    /// True when the first value was a quoted string (so `"1"` and `1` can be told apart).
    var firstValueQuoted: Bool
    /// True when the first value was an unquoted number token (Bareos refuses `Accurate = 1`).
    var firstValueIsNumber: Bool = false
    /// Contents of a nested block (`RunScript { ... }`), nil for plain directives.
    var children: [Directive]?
    public var location: SourceLocation
    /// Where the value starts (for error carets).
    var valueLocation: SourceLocation

    public init(
        keyword: String, values: [String], firstValueQuoted: Bool = false, children: [Directive]? = nil,
        location: SourceLocation, valueLocation: SourceLocation
    ) {
        self.keyword = keyword
        self.key = keyword.lowercased()
        self.values = values
        self.firstValueQuoted = firstValueQuoted
        self.children = children
        self.location = location
        self.valueLocation = valueLocation
    }

    /// The first value, or "" when there is none.
    public var value: String { values.first ?? "" }
}
