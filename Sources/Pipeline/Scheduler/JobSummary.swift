/// The outcome of a backup, restore or verify run: what the summary line and the JSON summary show (D5).
public struct JobSummary: Sendable {
    public var jobID: Int64
    public var jobName: String
    public var level: String
    public var status: JobStatus
    /// Regular files offered to the chains / stored / skipped by a stage / failed.
    public var filesExamined = 0
    public var filesStored = 0
    public var filesSkipped = 0
    public var filesFailed = 0
    /// Regular files that changed while they were read and were stored from a second read (small files only).
    public var filesReread = 0
    /// Regular files each stage skipped (`bRC_Skip`), by stage string.
    public var skippedByStage: [String: Int] = [:]
    /// Every stored entry, directories and links included.
    public var entriesStored = 0
    public var bytesRead: UInt64 = 0
    public var bytesStored: UInt64 = 0
    public var errors = 0
    public var warnings = 0
    public var wallSeconds = 0.0
    public var cpuSeconds = 0.0
    public var peakRSSBytes: UInt64 = 0
    public var volumes: [String] = []
    /// Incremental/Differential: entries unchanged since this time were not saved.
    public var since: FileStat.Timestamp?
    /// Why the requested level was raised to Full (e.g. "no usable Full: upgraded to Full").
    public var upgraded: String?
    /// Accurate mode: entries of the previous state recorded as deleted.
    public var entriesDeleted = 0
    /// Human-readable reason when the job failed or was cancelled.
    public var failure: String?
    /// Backup with `BackupSettings.collectStatistics`: per stage and per thread kind (`backup --stats`).
    public var statistics: JobStatistics?

    public init(jobID: Int64, jobName: String, level: String, status: JobStatus) {
        self.jobID = jobID
        self.jobName = jobName
        self.level = level
        self.status = status
    }
}

extension JobLevel {
    /// The level's name as Bareos spells it (`Full`, `Incremental`, `Differential`).
    public var name: String {
        switch self {
        case .full: return "Full"
        case .incremental: return "Incremental"
        case .differential: return "Differential"
        default: return rawValue
        }
    }
}

extension JobSummary {
    /// Adds the counts of `other` (one thread's share of the job) to these.
    mutating func add(_ other: JobSummary) {
        filesExamined += other.filesExamined
        filesStored += other.filesStored
        filesSkipped += other.filesSkipped
        filesFailed += other.filesFailed
        filesReread += other.filesReread
        skippedByStage.merge(other.skippedByStage, uniquingKeysWith: +)
        entriesStored += other.entriesStored
        bytesRead += other.bytesRead
        bytesStored += other.bytesStored
        errors += other.errors
        warnings += other.warnings
        entriesDeleted += other.entriesDeleted
        volumes += other.volumes
    }
}

extension JobSummary {
    /// Adds error and warning message counts (``JobMessage/severityCounts(_:)``).
    mutating func count(_ counts: (errors: Int, warnings: Int)) {
        errors += counts.errors
        warnings += counts.warnings
    }
}

extension JobMessage {
    /// How many of `messages` are errors and how many warnings: the summary's `errors` and `warnings`.
    static func severityCounts(_ messages: [JobMessage]) -> (errors: Int, warnings: Int) {
        var counts = (errors: 0, warnings: 0)
        for message in messages {
            if message.severity == "error" {
                counts.errors += 1
            } else if message.severity == "warning" {
                counts.warnings += 1
            }
        }
        return counts
    }
}

extension JobRecord {
    /// The job row's counters from a backup's summary.
    mutating func setCounts(from summary: JobSummary) {
        filesExamined = Int64(summary.filesExamined)
        filesStored = Int64(summary.filesStored)
        filesSkipped = Int64(summary.filesSkipped)
        filesFailed = Int64(summary.filesFailed)
        entriesStored = Int64(summary.entriesStored)
        bytesRead = Int64(summary.bytesRead)
        bytesStored = Int64(summary.bytesStored)
        errors = Int64(summary.errors)
        warnings = Int64(summary.warnings)
    }
}

extension JobSummary {
    /// The stored, skipped and failed counters from what the catalog's rows hold. Files examined, errors and
    /// warnings are kept: the walk did examine those files, whether or not their rows were committed.
    mutating func setCounts(from counts: CatalogFileCounts) {
        filesStored = Int(counts.filesStored)
        filesSkipped = Int(counts.filesSkipped)
        filesFailed = Int(counts.filesFailed)
        entriesStored = Int(counts.entriesStored)
        bytesRead = UInt64(max(0, counts.bytesRead))
        bytesStored = UInt64(max(0, counts.bytesStored))
    }
}
