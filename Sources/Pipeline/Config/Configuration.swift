#if canImport(Glibc)
import Glibc
#endif

/// A loaded configuration: every resource as written, the ones this host uses interpreted and cross-checked,
/// and the warnings `check` prints.
///
/// Input is one file, a directory holding `bareos-dir.conf`, or a `bareos-dir.d/` tree (`*/*.conf`).
public struct Configuration: Sendable {
    /// Every file read (includes too), in the order opened.
    public var files: [String]
    /// Every resource in reading order, including the Bareos ones this host keeps but does not run.
    public var resources: [Resource]
    public var fileSets: [String: FileSet]
    /// Jobs with their `JobDefs` applied.
    public var jobs: [String: Job]
    public var jobDefs: [String: Job]
    public var catalogs: [String: CatalogResource]
    public var archives: [String: ArchiveResource]
    public var pipelines: [String: PipelineResource]
    public var warnings: [ConfigWarning]

    // MARK: - Loading

    /// Loads a configuration file or directory (see the type's documentation).
    public static func load(path: String) throws(ConfigError) -> Configuration {
        let st: stat
        do {
            st = try SystemCall.status(of: path)
        } catch {
            throw ConfigError(error.message("cannot open config \(path)"))
        }
        if (st.st_mode & S_IFMT) != S_IFDIR {
            return try build(ConfigLexer(path: path))
        }
        let directory = path.hasSuffix("/") ? String(path.dropLast()) : path
        let main = directory + "/bareos-dir.conf"
        if access(main, R_OK) == 0 {
            return try build(ConfigLexer(path: main))
        }
        // Only a directory named bareos-dir.d is read as the tree itself: any other directory (`/tmp`, a home)
        // can hold `*/*.conf` files that are not Bareos configuration at all.
        let isTree = directory.split(separator: "/").last == "bareos-dir.d"
        let tree = isTree ? directory : directory + "/bareos-dir.d"
        let pattern = tree + "/*/*.conf"
        guard (isTree || isDirectory(tree)), !ConfigLexer.glob(pattern).isEmpty else {
            throw ConfigError(
                "no configuration found in \(path): expected bareos-dir.conf or bareos-dir.d/*/*.conf in it, "
                    + "or a bareos-dir.d directory itself")
        }
        // The tree is read as if included by one line, so every location names the real file.
        var escaped = ""
        for char in pattern {
            if char == "\\" || char == "\"" { escaped.append("\\") }
            escaped.append(char)
        }
        return try build(ConfigLexer(text: Array("@\"\(escaped)\"\n".utf8), name: tree))
    }

    /// Parses configuration text (tests, `@|command` output, standard input).
    public static func parse(text: String, fileName: String = "<text>") throws(ConfigError) -> Configuration {
        try build(ConfigLexer(text: Array(text.utf8), name: fileName))
    }

    private static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    private static func build(_ lexer: ConfigLexer) throws(ConfigError) -> Configuration {
        let parser = ConfigParser(lexer: lexer)
        try parser.parseAll()
        var builder = ConfigurationBuilder(parser: parser)
        return try builder.build()
    }

    // MARK: - Queries

    /// The job named `name` (exact, case-sensitive, as Bareos resolves names).
    public func job(named name: String) -> Job? { jobs[name] }

    /// The stage chain of one Options block (decision D1): its `Plugin =` strings in order, with
    /// `pipeline:NAME` expanded in place to that Pipeline's `Stage =` strings.
    public func chain(for block: OptionsBlock) -> [String] {
        (try? ConfigurationBuilder.expand(block.plugins, pipelines: pipelines).map(\.string)) ?? []
    }

    /// `chains[include][block]` for a FileSet, the table the FileSet engine attaches to entries.
    public func chains(for fileSet: FileSet) -> [[[String]]] {
        fileSet.includes.map { include in include.options.map { chain(for: $0) } }
    }

    /// Expands `pipeline:NAME` entries of a list of plugin strings (used for chains and for `check`).
    public func expandedChain(_ plugins: [PluginEntry]) throws(ConfigError) -> [PluginEntry] {
        try ConfigurationBuilder.expand(plugins, pipelines: pipelines)
    }
}
