/// A Bareos `FileSet` resource, fully modelled (see `docs/configuration.md`).
public struct FileSet: Sendable {
    public var name: String
    public var description: String?
    public var includes: [Include]
    var excludes: [ExcludeBlock]
    var ignoreFileSetChanges: Bool
    var enableVSS: Bool
    public var location: SourceLocation

    public init(name: String, location: SourceLocation) {
        self.name = name
        self.description = nil
        self.includes = []
        self.excludes = []
        self.ignoreFileSetChanges = false
        self.enableVSS = true
        self.location = location
    }

    /// The plain absolute `File =` paths of every Include (not the `<file` and `|command` forms, which are resolved
    /// when a job runs), without a trailing slash: where the walk starts.
    public var fileRoots: [[UInt8]] {
        includes.flatMap(\.files).map(\.value).filter { $0.first == UInt8(ascii: "/") }.map { path in
            var trimmed = path
            while trimmed.count > 1 && trimmed.last == UInt8(ascii: "/") { trimmed.removeLast() }
            return trimmed
        }
    }
}

/// One entry of a `File =` (or `Plugin =`) list, exactly as the lexer produced it.
///
/// The value is kept as raw bytes: configuration files are 8-bit text and file names are bytes (D7).
/// Special forms (`<file`, `\<file`, `|command`, `\|command`) are resolved only when a job runs.
public struct FileEntry: Sendable, Hashable {
    public var value: [UInt8]
    public var location: SourceLocation

    public init(value: [UInt8], location: SourceLocation) {
        self.value = value
        self.location = location
    }

    public var text: String { String(decoding: value, as: UTF8.self) }
}

/// A `Plugin =` string with where it was written.
public struct PluginEntry: Sendable, Hashable {
    public var string: String
    public var location: SourceLocation

    public init(string: String, location: SourceLocation) {
        self.string = string
        self.location = location
    }
}

/// An `Include { }` block: a file list and its Options blocks.
public struct Include: Sendable {
    public var files: [FileEntry] = []
    /// Include-level `Plugin =` lines: Bareos *command* plugins (D1: accepted by `check`, refused by `backup`).
    public var plugins: [PluginEntry] = []
    var excludeDirContaining: [[UInt8]] = []
    /// Options blocks in config order; never empty after parsing (a default block is synthesised, as Bareos does).
    public var options: [OptionsBlock] = []
    public var location: SourceLocation

    public init(location: SourceLocation) {
        self.location = location
    }
}

/// An `Exclude { }` block: wildcard patterns matched against full paths (section 2.3).
struct ExcludeBlock: Sendable {
    public var files: [FileEntry] = []
    public var location: SourceLocation

    public init(location: SourceLocation) {
        self.location = location
    }
}
