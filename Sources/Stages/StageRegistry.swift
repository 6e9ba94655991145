import Pipeline

/// The stages this host knows: one table of name → purpose + factory. A new native stage is a folder
/// `Sources/Stages/<Name>/` and one line in `entries`.
public enum StageRegistry {
    /// One stage name of the table.
    public struct Entry: Sendable {
        /// The plugin name of `Plugin =` / `Stage =` strings (the text before the first `:`).
        public var name: String
        /// One line on what the stage does (`check` and `docs/stages.md` show it).
        public var purpose: String
        /// Creates the stage for a whole stage string; throws for options it cannot use.
        public var make: @Sendable (_ string: String, _ environment: StageEnvironment) throws -> any Stage
    }

    /// Every stage this build provides.
    public static let entries: [Entry] = [
        Entry(name: "python3", purpose: "Bareos python-fd option plugin") { try IsolatedPythonStage.make(string: $0, settings: $1.python) },
        Entry(name: "python", purpose: "Bareos python-fd option plugin (python2-era name)") { try IsolatedPythonStage.make(string: $0, settings: $1.python) },
        Entry(name: "checksum", purpose: "checksum log that sha256sum -c and hashdeep -a verify") { try ChecksumStage(string: $0, environment: $1) },
        Entry(name: "owner", purpose: "per-user include/exclude filter") { try OwnerStage(string: $0, environment: $1) },
        Entry(name: "index", purpose: "text and metadata extraction into a full-text index") { try IndexStage(string: $0, environment: $1) },
        Entry(name: "gpg", purpose: "per-file OpenPGP encryption that stock gpg decrypts") { try GPGStage(string: $0, environment: $1) },
    ]

    /// Stages of the roadmap that this build does not provide yet: `check` tells them from misspelt names.
    public static let planned: [String: String] = [:]

    /// What the registry knows about a stage name.
    public enum Availability: Sendable, Equatable {
        /// The stage can run in this build.
        case available
        /// A known stage that this build does not provide yet.
        case notYetAvailable(String)
        /// `pipeline:NAME`, expanded from a Pipeline resource before stages are looked up.
        case pipelineReference
        /// A name this host does not know.
        case unknown
    }

    private static let byName: [String: Entry] = Dictionary(entries.map { ($0.name, $0) }) { first, _ in first }

    /// The entry for a stage name, nil when this build does not provide it.
    public static func entry(named name: String) -> Entry? { byName[name] }

    /// Looks up the plugin name of a `Plugin =` string.
    public static func availability(of pluginString: String) -> Availability {
        let name = PluginString.name(pluginString)
        if name == "pipeline" { return .pipelineReference }
        if byName[name] != nil { return .available }
        if let purpose = planned[name] { return .notYetAvailable(purpose) }
        return .unknown
    }

    /// The names `check` lists when it meets an unknown one.
    public static var knownNames: [String] { (entries.map(\.name) + planned.keys).sorted() }

    /// A stage string that cannot run in this build, or whose options the stage refuses.
    public struct Unavailable: Error, Sendable, CustomStringConvertible {
        public var stage: String
        public var message: String
        public var description: String { message }
    }

    /// Creates the stage for a `Plugin =` / `Stage =` string (the factory `backup`, `restore` and `check` use).
    /// - Throws: `Unavailable` for names not built yet, unknown names, and options the stage refuses.
    public static func makeStage(_ string: String, environment: StageEnvironment = StageEnvironment()) throws -> any Stage {
        let name = PluginString.name(string)
        if let entry = byName[name] {
            do {
                return try entry.make(string, environment)
            } catch {
                throw Unavailable(stage: string, message: "\(error)")
            }
        }
        switch availability(of: string) {
        case .notYetAvailable(let purpose):
            throw Unavailable(
                stage: string, message: "stage \"\(name)\" (\(purpose)) is not available in this build yet")
        case .pipelineReference:
            throw Unavailable(stage: string, message: "pipeline:NAME must be expanded before stages are made")
        case .available, .unknown:
            throw Unavailable(
                stage: string,
                message: "unknown stage \"\(name)\" (known: \(knownNames.joined(separator: ", ")), pipeline:NAME)")
        }
    }

    /// The factory for `StageChainBuilder`, with the job's environment.
    public static func factory(_ environment: StageEnvironment) -> StageChainBuilder.Factory {
        { string in try makeStage(string, environment: environment) }
    }

    /// The factory for `StageChainBuilder` with the job's Python plugin settings.
    public static func factory(python: PythonPluginSettings) -> StageChainBuilder.Factory {
        factory(StageEnvironment(python: python))
    }
}
