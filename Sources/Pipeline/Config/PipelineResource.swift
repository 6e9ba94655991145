/// Our `Pipeline` resource (decision D1): a named list of stages that `Plugin = "pipeline:NAME"` expands to.
///
/// ```
/// Pipeline {
///   Name = audit
///   Stage = "checksum:log=/var/log/sums.txt"
///   Stage = "python3:module_path=/etc/op/plugins:module_name=indexer"
/// }
/// ```
public struct PipelineResource: Sendable {
    public var name: String
    public var description: String?
    /// Stage strings in order; same syntax as `Plugin =` strings.
    public var stages: [PluginEntry]
    public var location: SourceLocation

    public init(name: String, stages: [PluginEntry], location: SourceLocation) {
        self.name = name
        self.description = nil
        self.stages = stages
        self.location = location
    }
}
