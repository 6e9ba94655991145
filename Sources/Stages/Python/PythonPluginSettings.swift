/// How Python plugin stages run in one job: set by the command from the Job resource and the command line.
public struct PythonPluginSettings: Sendable {
    /// The Job's `Plugin Directory` (on sys.path after `module_path`, like Bareos' plugin directory).
    public var pluginDirectory: String?
    /// The Job's `Plugin Call Timeout` in seconds (D6).
    public var callTimeout: Double = 300
    /// The Job's `Accurate` (bVarAccurate).
    public var accurate = false
    /// The Job's `Fd Plugin Options` strings (bEventNewPluginOptions overrides).
    public var overrides: [String] = []
    /// The configuration file (bVarUsedConfig).
    public var configurationPath: String?
    /// bVarFDName.
    public var fdName = "optionhost-fd"

    public init() {}

    static let hostVersion = "0.5.0 (27 November 2026)"
}
