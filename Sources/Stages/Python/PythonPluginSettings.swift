#if canImport(Glibc)
import Glibc
#endif

import Pipeline

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
    /// The Job's `Client =` (bVarClient; the host name when nil).
    public var clientName: String?
    /// bVarFDName.
    public var fdName = "optionhost-fd"
    /// The Job's `Plugin Isolation`: `.process` runs each plugin string of a backup in a child process
    /// (`IsolatedPythonStage`).
    public var isolation: Job.PluginIsolation = .inprocess

    public init() {}

    static let hostVersion = "0.5.0 (27 November 2026)"

    /// bVarUsedConfig when neither a CONFIG was given nor one was recorded with the backup job: what a Bareos file
    /// daemon started without `-c` reports. A Bareos file daemon always has a configuration, and Bareos' base class
    /// calls `.endswith` on this value, so it is never None.
    public static let defaultUsedConfig = "/etc/bareos/bareos-fd.d/*/*.conf"

    /// Job data keys under which a backup keeps the values a restore without CONFIG needs to give plugins what the
    /// backup gave them (the helper modules in the Plugin Directory, bVarUsedConfig, bVarClient).
    static let usedConfigKey = "python.used_config"
    static let pluginDirectoryKey = "python.plugin_directory"
    static let clientKey = "python.client"

    /// Records with the backup job what `resolved(context:job:)` gives back to a restore without CONFIG.
    func record(in context: StageContext) {
        if let configurationPath { context.recordJobData(key: Self.usedConfigKey, value: Array(configurationPath.utf8)) }
        if let pluginDirectory { context.recordJobData(key: Self.pluginDirectoryKey, value: Array(pluginDirectory.utf8)) }
        if let clientName { context.recordJobData(key: Self.clientKey, value: Array(clientName.utf8)) }
    }

    /// The settings with every value Bareos always sets filled in: what the command gave, else (restore) what the
    /// backup job `job` recorded, else the documented default (bVarUsedConfig: `defaultUsedConfig`; bVarClient: the
    /// host name). The Plugin Directory stays nil when neither names one (Bareos' is a compiled-in path).
    func resolved(context: StageContext, job: Int64?) -> PythonPluginSettings {
        var settings = self
        func recorded(_ key: String) -> String? {
            guard let job, let value = context.jobData(job: job, key: key) else { return nil }
            return String(decoding: value, as: UTF8.self)
        }
        settings.configurationPath = configurationPath ?? recorded(Self.usedConfigKey) ?? Self.defaultUsedConfig
        settings.pluginDirectory = pluginDirectory ?? recorded(Self.pluginDirectoryKey)
        settings.clientName = clientName ?? recorded(Self.clientKey) ?? Self.hostName()
        return settings
    }

    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "localhost" : name
    }
}
