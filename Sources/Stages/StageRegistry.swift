import Pipeline

/// Maps the names used in `Plugin =` / `Stage =` strings to the stages this host knows.
///
/// Every name of the roadmap is known from the start, so `check` can tell a misspelt stage ("unknown") from one
/// that this build does not provide yet ("not available yet").
public enum StageRegistry {
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

    /// Stage names of the roadmap with what each does.
    public static let knownStages: [String: String] = [
        "checksum": "checksum log that sha256sum -c and hashdeep -a verify",
        "owner": "per-user include/exclude filter",
        "gpg": "per-file OpenPGP encryption",
        "index": "text and metadata extraction into a full-text index",
        "python": "Bareos python-fd option plugin",
        "python3": "Bareos python-fd option plugin",
    ]

    /// The stages this build provides.
    public static let availableStages: Set<String> = ["python", "python3"]

    /// Looks up the plugin name of a `Plugin =` string.
    public static func availability(of pluginString: String) -> Availability {
        let name = PluginString.name(pluginString)
        if name == "pipeline" { return .pipelineReference }
        if availableStages.contains(name) { return .available }
        if let purpose = knownStages[name] { return .notYetAvailable(purpose) }
        return .unknown
    }

    /// A stage name that cannot run in this build (D1: unknown names are an error at `backup`).
    public struct Unavailable: Error, Sendable, CustomStringConvertible {
        public var stage: String
        public var message: String
        public var description: String { message }
    }

    /// Creates the stage for a `Plugin =` / `Stage =` string (the factory `backup` and `restore` use). Creating a
    /// stage is cheap: a Python plugin is loaded at job start (`JobEvent.jobStarted`), not here.
    /// - Throws: `Unavailable` for names not built yet and for unknown names.
    public static func makeStage(_ string: String, python: PythonPluginSettings = PythonPluginSettings()) throws -> any Stage {
        let name = PluginString.name(string)
        switch availability(of: string) {
        case .available where PluginString.isPython(string):
            do {
                return try PythonPluginStage(string: string, settings: python)
            } catch {
                throw Unavailable(stage: string, message: "\(error)")
            }
        case .available, .pipelineReference:
            throw Unavailable(stage: string, message: "stage \"\(name)\" has no implementation registered")
        case .notYetAvailable(let purpose):
            throw Unavailable(
                stage: string, message: "stage \"\(name)\" (\(purpose)) is not available in this build yet")
        case .unknown:
            let known = knownStages.keys.sorted().joined(separator: ", ")
            throw Unavailable(stage: string, message: "unknown stage \"\(name)\" (known: \(known), pipeline:NAME)")
        }
    }

    /// The factory for `StageChainBuilder`, with the job's Python plugin settings.
    public static func factory(python: PythonPluginSettings) -> StageChainBuilder.Factory {
        { string in try makeStage(string, python: python) }
    }
}
