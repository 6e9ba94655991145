
/// How serious a job message is (Bareos' M_INFO, M_WARNING, M_ERROR, and debug messages).
public enum MessageSeverity: String, Sendable, Comparable {
    case debug, info, warning, error

    private var rank: Int {
        switch self {
        case .debug: return 0
        case .info: return 1
        case .warning: return 2
        case .error: return 3
        }
    }

    public static func < (lhs: MessageSeverity, rhs: MessageSeverity) -> Bool { lhs.rank < rhs.rank }
}

/// A message a stage or the host raised during a job, before it reaches the catalog and the log.
public struct StageMessage: Sendable, Equatable {
    public var severity: MessageSeverity
    public var text: String
    public var stage: String?
    public var path: [UInt8]?
    public var time: FileStat.Timestamp

    public init(severity: MessageSeverity, text: String, stage: String?, path: [UInt8]?, time: FileStat.Timestamp) {
        self.severity = severity
        self.text = text
        self.stage = stage
        self.path = path
        self.time = time
    }
}

/// What a stage knows about the running job, and where it sends job messages. Thread-safe.
public final class StageContext: Sendable {
    public enum Mode: Sendable { case backup, restore, estimate }

    public let mode: Mode
    public let jobID: Int64
    public let jobName: String
    /// Bareos level letter spelled out: `Full`, `Incremental`, `Differential`.
    public let level: String
    public let fileSetName: String
    /// Start of the reference job for Incremental/Differential (nil for Full).
    public let since: FileStat.Timestamp?
    public let clientName: String
    public let workingDirectory: String
    /// Messages at or below this debug level are kept (`-d N`).
    public let debugLevel: Int
    /// For restore: the `--where` prefix.
    public let whereDirectory: String?
    /// The FileSet's Options blocks per Include (backup), so a stage can read the options of an entry's block
    /// (`entry.includeIndex`, `entry.effectiveBlockIndex`).
    public let options: [[OptionsBlock]]
    /// When the job started (for names such as Bareos' unique job name).
    public let startTime: FileStat.Timestamp
    /// The FileSet's `File =` paths (absolute; backup and estimate): where the walk starts. A stage that looks at an
    /// entry's ancestors (`owner` with `prune_dirs`) stops at these. Empty when unknown.
    public let fileRoots: [[UInt8]]
    /// Contents the catalog's search index already holds (backup with a catalog; nil elsewhere).
    public let contentIndex: (any ContentIndexLookup)?

    private let pending = Locked<[StageMessage]>([])
    private let recorded = Locked<[JobDatum]>([])
    private let jobDataLookup: (@Sendable (_ job: Int64, _ key: String) -> [UInt8]?)?
    private let fatal: (@Sendable (String) -> Void)?

    public init(
        mode: Mode, jobID: Int64, jobName: String, level: String, fileSetName: String,
        since: FileStat.Timestamp? = nil, clientName: String = "localhost", workingDirectory: String = "/tmp",
        debugLevel: Int = 0, whereDirectory: String? = nil, options: [[OptionsBlock]] = [],
        startTime: FileStat.Timestamp = Clock.realtime(), fileRoots: [[UInt8]] = [],
        contentIndex: (any ContentIndexLookup)? = nil,
        jobData: (@Sendable (_ job: Int64, _ key: String) -> [UInt8]?)? = nil,
        onFatal: (@Sendable (String) -> Void)? = nil
    ) {
        self.mode = mode
        self.jobID = jobID
        self.jobName = jobName
        self.level = level
        self.fileSetName = fileSetName
        self.since = since
        self.clientName = clientName
        self.workingDirectory = workingDirectory
        self.debugLevel = debugLevel
        self.whereDirectory = whereDirectory
        self.options = options
        self.startTime = startTime
        self.fileRoots = fileRoots
        self.contentIndex = contentIndex
        self.jobDataLookup = jobData
        self.fatal = onFatal
    }

    /// Stops the job: a stage met a problem the job cannot go on after (a plugin's M_FATAL, a Python call that
    /// did not return in time, D6). The job ends failed; what was stored so far stays consistent in the catalog.
    public func failJob(_ reason: String, stage: String? = nil) {
        message(.error, reason, stage: stage)
        fatal?(reason)
    }

    /// Stops the job like `failJob`, for a reason already recorded as a job message (one a plugin process
    /// reported with its messages).
    public func stopJob(_ reason: String) {
        fatal?(reason)
    }

    /// Keeps `value` with the job under `key` (name it after the stage: `gpg.jobkey.ID`): the catalog's
    /// `job_data` and every volume's label hold it, so it survives `scan`, and restore reads it with
    /// ``jobData(job:key:)``. Only during `JobEvent.jobStarted` of a backup; later calls are not recorded.
    /// What is kept here is not secret-protected: store only encrypted or public material.
    public func recordJobData(key: String, value: [UInt8]) {
        recorded.withLock { data in
            data.removeAll { $0.key == key }
            data.append(JobDatum(key: key, value: value))
        }
    }

    /// Takes what stages recorded so far (the host, after the job-start event).
    public func takeRecordedJobData() -> [JobDatum] {
        recorded.withLock { data in
            defer { data.removeAll() }
            return data
        }
    }

    /// At restore: what a stage recorded with job `job` under `key` (nil when it recorded nothing).
    public func jobData(job: Int64, key: String) -> [UInt8]? {
        jobDataLookup?(job, key)
    }

    /// Records a job message; the host moves it to the catalog and the log.
    public func message(_ severity: MessageSeverity, _ text: String, stage: String? = nil, path: [UInt8]? = nil) {
        let message = StageMessage(
            severity: severity, text: text, stage: stage, path: path, time: Clock.realtime())
        pending.withLock { $0.append(message) }
    }

    /// Takes every message recorded so far, oldest first.
    public func drainMessages() -> [StageMessage] {
        pending.withLock { messages in
            let taken = messages
            messages.removeAll(keepingCapacity: true)
            return taken
        }
    }
}
