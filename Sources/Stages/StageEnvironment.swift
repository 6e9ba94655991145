/// What a stage may need from the job when it is created: set by the command from the Job resource and the
/// command line. Creating a stage reads nothing and starts nothing (a Python plugin loads at job start), so
/// `check` creates every stage of a configuration to validate its options.
public struct StageEnvironment: Sendable {
    /// How Python plugin stages run (Plugin Directory, call timeout, Accurate, Fd Plugin Options).
    public var python: PythonPluginSettings

    public init(python: PythonPluginSettings = PythonPluginSettings()) {
        self.python = python
    }
}
