/// A Bareos `Job` (or `JobDefs`) as far as this host uses it, after `JobDefs` inheritance.
public struct Job: Sendable {
    public enum JobType: String, Sendable, CaseIterable {
        case backup = "Backup", restore = "Restore", verify = "Verify", admin = "Admin", copy = "Copy"
        case migrate = "Migrate", consolidate = "Consolidate", archive = "Archive"
    }

    public enum Level: String, Sendable, CaseIterable {
        case full = "Full", incremental = "Incremental", differential = "Differential"
        case virtualFull = "VirtualFull", base = "Base", since = "Since"
        case initCatalog = "InitCatalog", catalog = "Catalog", volumeToCatalog = "VolumeToCatalog"
        case diskToCatalog = "DiskToCatalog", data = "Data"
    }

    /// What happens on the first per-file stage error (decision D6).
    public enum StageErrorPolicy: String, Sendable {
        case `continue`, fail
    }

    /// Where the job's Python plugins run (`Plugin Isolation`, ours): in this process, or each plugin string in a
    /// child process of its own that may die without taking the job with it.
    public enum PluginIsolation: String, Sendable {
        case inprocess, process
    }

    public var name: String
    public var type: JobType?
    /// The configured level; nil means Bareos' default for the type (Incremental for Backup).
    public var level: Level?
    public var fileSet: String?
    public var jobDefs: String?
    public var accurate: Bool
    public var catalog: String?
    public var archive: String?
    public var client: String?

    /// The host the files come from (decision D4): the Job's `Client`, else this host's name.
    public var clientName: String { client ?? Self.hostClientName }
    /// The client of a Job without `Client`: this host's name.
    public static var hostClientName: String { RunScriptRunner.hostName() }
    public var stageErrorPolicy: StageErrorPolicy
    /// `Plugin Directory`: put on sys.path (after `module_path`) of every Python plugin, as the Bareos client's
    /// Plugin Directory is. Ours on the Job; nil: none.
    public var pluginDirectory: String?
    /// `Plugin Call Timeout`: a Python plugin call that has not returned after this many seconds aborts the job
    /// (D6). Default 300 s.
    public var pluginCallTimeout: UInt64
    /// `Plugin Isolation = inprocess|process`. Default `inprocess` (cheaper; see docs/python-plugins.md).
    public var pluginIsolation: PluginIsolation
    /// `Fd Plugin Options` (Bareos' Job directive): option strings delivered to matching plugins as
    /// `bEventNewPluginOptions` overrides.
    public var fdPluginOptions: [String]
    /// `Dir Plugin Options` (Bareos' Job directive, repeatable): the Director plugins of the job, each a
    /// `python3:module_path=...:module_name=...` string checked when the configuration is read (one instance per
    /// string, getting job start and end events through `bareosdir`).
    public var dirPluginOptions: [PluginEntry]
    /// `RunScript { }` blocks and `Run Before Job` / `Run After Job` / `Run After Failed Job`, in order.
    public var runScripts: [RunScript]
    /// `Run Script Timeout` (ours): a RunScript command still running after this many seconds is killed with its
    /// process group and counts as failed. Default 300 s.
    public var runScriptTimeout: UInt64
    public var location: SourceLocation
    /// Every directive of the job, inherited ones included (in JobDefs-first order).
    var directives: [Directive]

    public init(name: String, location: SourceLocation) {
        self.name = name
        self.type = nil
        self.level = nil
        self.fileSet = nil
        self.jobDefs = nil
        self.accurate = false
        self.catalog = nil
        self.archive = nil
        self.client = nil
        self.stageErrorPolicy = .continue
        self.pluginDirectory = nil
        self.pluginCallTimeout = 300
        self.pluginIsolation = .inprocess
        self.fdPluginOptions = []
        self.dirPluginOptions = []
        self.runScripts = []
        self.runScriptTimeout = 300
        self.location = location
        self.directives = []
    }

    /// The value of a directive this host keeps without applying it (`Pool`, `Priority`, ...), as written; nil
    /// when the Job and its JobDefs do not set it. `key` is the lower-case name without blanks.
    public func keptDirective(_ key: String) -> String? {
        directives.last { $0.key == key }?.value
    }

    /// The level a run uses when none is given on the command line.
    public var effectiveLevel: Level { level ?? .incremental }
}
