/// A job's number in the catalog (Bareos' JobId). Numbers are never reused, even after a job is pruned.
public struct JobID: RawRepresentable, Hashable, Sendable, Comparable, CustomStringConvertible {
    public var rawValue: Int64

    public init(rawValue: Int64) {
        self.rawValue = rawValue
    }

    /// The id of a job not yet in the catalog: ``CatalogStore/beginJob(_:)`` assigns the next number.
    public static let unassigned = JobID(rawValue: 0)

    public static func < (lhs: JobID, rhs: JobID) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { String(rawValue) }
}

/// How a job ended, as Bareos' one-letter JobStatus.
public enum JobStatus: String, Sendable {
    /// Still running (or the process died before it finished).
    case running = "R"
    /// Terminated normally.
    case ok = "T"
    /// Terminated with warnings: some files failed or were skipped with a warning.
    case warnings = "W"
    /// Fatal error.
    case failed = "f"
    /// Cancelled.
    case cancelled = "A"
}

/// A job's level, as Bareos' one-letter JobLevel. An open set: a later build may store levels this one does not name.
public struct JobLevel: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: String

    public init(rawValue: String) {
        self.rawValue = rawValue
    }

    public static let full = JobLevel(rawValue: "F")
    public static let incremental = JobLevel(rawValue: "I")
    public static let differential = JobLevel(rawValue: "D")

    public var description: String { rawValue }
}

/// One row of the `jobs` table, with its FileSet's identity.
public struct JobRecord: Sendable, Hashable {
    public typealias Timestamp = FileStat.Timestamp

    /// ``JobID/unassigned`` until ``CatalogStore/beginJob(_:)`` returns the real id.
    public var id: JobID
    /// The Job resource's name.
    public var name: String
    /// Bareos job type: `B` (backup).
    public var type: String
    public var level: JobLevel
    public var status: JobStatus
    /// The FileSet resource's name.
    public var fileSetName: String
    /// Hex MD5 of the FileSet's File and Plugin strings: with ``fileSetName`` it identifies the FileSet
    /// (a changed FileSet makes the next Incremental a Full, as in Bareos).
    public var fileSetDigest: String
    /// The FileSet text the digest was computed from, kept for `list` and for rebuilding (optional).
    var fileSetText: String?
    /// The client (host) the files came from.
    public var clientName: String?
    public var startTime: Timestamp
    public var endTime: Timestamp?
    /// For Incremental and Differential jobs: files changed after this time were saved.
    var sinceTime: Timestamp?
    /// Regular files looked at.
    public var filesExamined: Int64
    /// Regular files stored.
    public var filesStored: Int64
    /// Regular files skipped (by a stage or an option).
    public var filesSkipped: Int64
    /// Regular files that failed.
    public var filesFailed: Int64
    /// Every stored entry: files, directories, links, specials.
    public var entriesStored: Int64
    /// Bytes read from the source files.
    public var bytesRead: Int64
    /// Bytes written to volumes (after compression and encryption).
    public var bytesStored: Int64
    public var errors: Int64
    public var warnings: Int64
    /// The jobs this job's restore chain needed when it started (its Full, Differential, Incrementals), oldest
    /// first; nil when not recorded (jobs of older builds, and volumes written by them).
    public var chainJobs: [JobID]?
    /// Restore jobs: the `--where` directory.
    public var whereDirectory: String?
    /// Restore and verify jobs: the backup job restored or verified.
    public var restoredJob: JobID?

    /// `Backup`, `Restore` or `Verify` for the Bareos JobType letter in ``type`` (JSON `job_type`).
    public var typeName: String {
        switch type {
        case "B": return "Backup"
        case "R": return "Restore"
        case "V": return "Verify"
        default: return type
        }
    }

    /// True for a backup job (the jobs restore chains, levels and pruning are made of).
    public var isBackup: Bool { type == "B" }

    public init(
        id: JobID = .unassigned, name: String, type: String = "B", level: JobLevel, status: JobStatus = .running,
        fileSetName: String, fileSetDigest: String, fileSetText: String? = nil, clientName: String? = nil,
        startTime: Timestamp, endTime: Timestamp? = nil, sinceTime: Timestamp? = nil,
        filesExamined: Int64 = 0, filesStored: Int64 = 0, filesSkipped: Int64 = 0, filesFailed: Int64 = 0,
        entriesStored: Int64 = 0, bytesRead: Int64 = 0, bytesStored: Int64 = 0, errors: Int64 = 0,
        warnings: Int64 = 0
    ) {
        self.id = id
        self.name = name
        self.type = type
        self.level = level
        self.status = status
        self.fileSetName = fileSetName
        self.fileSetDigest = fileSetDigest
        self.fileSetText = fileSetText
        self.clientName = clientName
        self.startTime = startTime
        self.endTime = endTime
        self.sinceTime = sinceTime
        self.filesExamined = filesExamined
        self.filesStored = filesStored
        self.filesSkipped = filesSkipped
        self.filesFailed = filesFailed
        self.entriesStored = entriesStored
        self.bytesRead = bytesRead
        self.bytesStored = bytesStored
        self.errors = errors
        self.warnings = warnings
    }
}

extension JobRecord {
    /// `jobs.chain_jobs` and the `chain` label record: JobIds in decimal, separated by spaces.
    static func encodeChainJobs(_ jobs: [JobID]) -> String {
        jobs.map { String($0.rawValue) }.joined(separator: " ")
    }

    /// The inverse of ``encodeChainJobs(_:)``; words that are not JobIds are left out.
    static func decodeChainJobs(_ text: String) -> [JobID] {
        text.split(separator: " ").compactMap { Int64($0) }.map { JobID(rawValue: $0) }
    }
}
