import Pipeline

extension OptionHost.Verify {
    /// Refuses a JobId that is no backup, then records the verify run as a Verify job of it (``RunRecord``, type
    /// `V`); nil, with a note on standard error, when the catalog does not take the row (the verify goes on).
    static func begin(_ catalog: SQLiteCatalog, _ jobID: JobID) throws -> RunRecord? {
        guard let job = try catalog.job(jobID) else {
            throw CommandFailure.failed("no job with JobId \(jobID.rawValue) in the catalog")
        }
        guard job.isBackup else {
            throw CommandFailure.failed(
                "JobId \(jobID.rawValue) is a \(job.typeName) job, not a backup: it has nothing to verify")
        }
        do {
            return try RunRecord.begin(in: catalog, type: "V", of: job)
        } catch {
            note("the verify is not recorded as a job in the catalog: \(error)")
            return nil
        }
    }

    /// Records the end of the verify run with its findings as the job's log.
    static func finish(
        _ run: RunRecord?, _ catalog: SQLiteCatalog, summary: JobSummary,
        messages: [(severity: MessageSeverity, path: [UInt8], text: String)]
    ) {
        guard let run else { return }
        let log = messages.map {
            JobMessage(jobID: run.id, time: Clock.realtime(), severity: $0.severity.rawValue, path: $0.path, text: $0.text)
        }
        do {
            try run.finish(in: catalog, summary: summary, messages: log)
        } catch {
            note("the end of the verify is not recorded in the catalog (JobId \(run.id.rawValue)): \(error)")
        }
    }

    /// Records a verify run that could not finish.
    static func finish(_ run: RunRecord?, _ catalog: SQLiteCatalog, failure: String) {
        var summary = JobSummary(jobID: 0, jobName: "", level: "", status: .failed)
        summary.failure = failure
        finish(run, catalog, summary: summary, messages: [])
    }

    private static func note(_ text: String) {
        ByteWriter.standardError.line("note: \(text)")
        ByteWriter.standardError.flush()
    }
}
