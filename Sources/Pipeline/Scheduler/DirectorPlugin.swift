/// A Director plugin of a job (`Job { Dir Plugin Options = "python3:..." }`): told when the job starts, runs and
/// ends, with the job's variables as Bareos' Director gives them (`DirectorJobValues`). The Python implementation
/// lives in the Stages module; the backup calls it in Bareos' order:
///
/// ```
///   job recorded (JobId) ─► load ─► JobStart (1) ─► JobInit (3) ─► Before RunScripts ─► JobRun (4)
///     ─► the backup ─► After RunScripts ─► job record final ─► JobEnd (2) ─► unload
/// ```
///
/// A plugin that cannot load, or whose event handler raises at JobStart, JobInit or JobRun, fails the job before
/// any file is read (Bareos: M_FATAL). At JobEnd the job's outcome is final: what goes wrong there is a message
/// of the job, never a change of its status or exit code.
public protocol DirectorPlugin: AnyObject, Sendable {
    /// The `Dir Plugin Options` string (named in the job's messages).
    var name: String { get }
    /// Creates the plugin's interpreter, imports its module, calls `load_bareos_plugin` and
    /// `parse_plugin_definition`. Throws when any of that fails.
    func load(_ values: DirectorJobValues, context: StageContext) throws
    /// Delivers `event` if the plugin registered it, with `values` as GetValue answers them from now on. A bad
    /// answer is a message in `context`; throws when the handler raised (or Python could not be called).
    func deliver(_ event: DirectorEvent, _ values: DirectorJobValues, context: StageContext) throws
    /// Ends the plugin's interpreter (after JobEnd, or after a failed load of another plugin).
    func unload(context: StageContext)
}

/// Bareos' `bDirEvent*` numbers of the events a job delivers.
public enum DirectorEvent: Int32, Sendable, CaseIterable {
    case jobStart = 1
    case jobEnd = 2
    case jobInit = 3
    case jobRun = 4

    /// `bDirEventJobStart` ...
    public var constantName: String {
        switch self {
        case .jobStart: return "bDirEventJobStart"
        case .jobEnd: return "bDirEventJobEnd"
        case .jobInit: return "bDirEventJobInit"
        case .jobRun: return "bDirEventJobRun"
        }
    }
}

/// What `bareosdir.GetValue` answers at one moment of a job (the `bDirVar*` variables). Letters are Bareos'
/// one-character codes, given to Python as their ASCII numbers (`chr(GetValue(bDirVarJobStatus))`).
public struct DirectorJobValues: Sendable, Equatable {
    /// bDirVarJobId
    public var jobID: Int64
    /// bDirVarJob: the Job resource's name.
    public var job: String
    /// bDirVarJobName: the unique job name, as RunScript's `%j`.
    public var uniqueName: String
    /// bDirVarLevel: `F`, `I`, `D`.
    public var level: Character
    /// bDirVarType: `B`.
    public var type: Character = "B"
    /// bDirVarJobStatus: `C` created (JobStart, JobInit), `R` running (JobRun), then `T` ok, `W` ok with warnings,
    /// `f` fatal error, `A` cancelled (JobEnd).
    public var status: Character
    /// bDirVarClient: the Job's Client, else this host's name.
    public var client: String
    /// bDirVarNumVols: the volumes this job has written.
    public var volumeCount = 0
    /// bDirVarPool: the Job's Pool directive as written (kept, not applied by this host), else nil.
    public var pool: String?
    /// bDirVarStorage and bDirVarWriteStorage: the Job's Archive (this host's storage), else the archive directory.
    public var storage: String?
    /// bDirVarCatalog: the Job's Catalog resource name, nil when `--catalog` named a file.
    public var catalog: String?
    /// bDirVarVolumeName: the last volume file this job wrote, nil before the first.
    public var volumeName: String?
    /// bDirVarPriority: the Job's Priority, else Bareos' default 10.
    public var priority = 10
    /// bDirVarJobErrors: the job's error messages so far (the summary's `errors` at JobEnd).
    public var errors: UInt64 = 0
    /// bDirVarJobFiles: regular files stored (RunScript `%F`).
    public var files: UInt64 = 0
    /// bDirVarSDJobFiles: entries the volumes hold (directories and links too).
    public var entries: UInt64 = 0
    /// bDirVarJobBytes: bytes stored in the volumes' members (after compression and encryption).
    public var bytes: UInt64 = 0
    /// bDirVarReadBytes: bytes read from the files (RunScript `%b`).
    public var readBytes: UInt64 = 0
    /// bDirVarLastRate: bytes read per second over the job.
    public var rate: UInt64 = 0
    /// bDirVarFDJobStatus and bDirVarSDJobStatus: the client and storage side are this process, so the job's
    /// status once it runs; nil (0) before.
    public var sideStatus: Character?
    /// bDirVarPluginDir: the Job's Plugin Directory.
    public var pluginDirectory: String?

    public init(jobID: Int64, job: String, uniqueName: String, level: Character, status: Character, client: String) {
        self.jobID = jobID
        self.job = job
        self.uniqueName = uniqueName
        self.level = level
        self.status = status
        self.client = client
    }
}
