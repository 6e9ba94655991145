/// A restore or verify run as a job in the catalog, as in Bareos: a row of type `R` (Restore) or `V` (Verify) with
/// the name, level and FileSet of the backup job it restored or verified, its start and end, status, counts, the
/// `--where` of a restore and the JobId it worked on, and its log in `job_messages` (`list messages --jobid ID`).
public struct RunRecord: Sendable {
    /// The run's own JobId.
    public let id: JobID
    let type: String
    let job: JobRecord
    let start: FileStat.Timestamp

    /// Records the start of a run of `type` (`R` or `V`) on backup job `job`.
    public static func begin(
        in catalog: any CatalogStore, type: String, of job: JobRecord, whereDirectory: String? = nil
    ) throws -> RunRecord {
        let start = Clock.realtime()
        var record = JobRecord(
            name: job.name, type: type, level: job.level, status: .running, fileSetName: job.fileSetName,
            fileSetDigest: job.fileSetDigest, clientName: job.clientName, startTime: start)
        record.whereDirectory = whereDirectory
        record.restoredJob = job.id
        return RunRecord(id: try catalog.beginJob(record), type: type, job: job, start: start)
    }

    /// Records the end: status, counts, and `messages` (their JobIds set to the run's) plus the failure, if any.
    public func finish(in catalog: any CatalogStore, summary: JobSummary, messages: [JobMessage]) throws {
        var record = JobRecord(
            id: id, name: job.name, type: type, level: job.level, status: summary.status, fileSetName: job.fileSetName,
            fileSetDigest: job.fileSetDigest, startTime: start, endTime: Clock.realtime(),
            filesExamined: Int64(summary.filesExamined), filesStored: Int64(summary.filesStored),
            filesSkipped: Int64(summary.filesSkipped), filesFailed: Int64(summary.filesFailed),
            entriesStored: Int64(summary.entriesStored), bytesRead: Int64(summary.bytesRead),
            bytesStored: Int64(summary.bytesStored), errors: Int64(summary.errors), warnings: Int64(summary.warnings))
        record.restoredJob = job.id
        var log = messages.map { message -> JobMessage in
            var message = message
            message.jobID = id
            return message
        }
        if let failure = summary.failure {
            log.append(JobMessage(jobID: id, time: Clock.realtime(), severity: "error", text: failure))
        }
        try catalog.insert(files: [], messages: log)
        try catalog.finishJob(record)
    }
}
