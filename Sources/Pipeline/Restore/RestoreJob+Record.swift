/// A restore is a job in the catalog, as in Bareos: a row of type `R` (`job_type` Restore) with the restored
/// job's name, level and FileSet, its start and end, status, counts, `--where` and the JobId it restored, and its
/// log (the restore's problems and the plugins' messages) in `job_messages`, which `list messages --jobid ID`
/// shows. Writing the row is not allowed to stop a restore: a catalog that cannot take it gets a warning.
extension RestoreJob {
    /// Records the start of the run; nil when the catalog did not take the row (the restore goes on).
    func beginRecord(restoring job: JobRecord) -> JobID? {
        let record = JobRecord(
            name: job.name, type: "R", level: job.level, status: .running, fileSetName: job.fileSetName,
            fileSetDigest: job.fileSetDigest, clientName: job.clientName, startTime: Clock.realtime())
        var withWhere = record
        withWhere.whereDirectory = settings.outputFD == nil ? settings.whereDirectory : nil
        withWhere.restoredJob = job.id
        do {
            return try catalog.beginJob(withWhere)
        } catch {
            messages.append(
                JobMessage(
                    jobID: jobID, time: Clock.realtime(), severity: "warning", stage: nil, path: nil,
                    text: "the restore is not recorded as a job in the catalog: \(error)"))
            summary.warnings += 1
            return nil
        }
    }

    /// Records the end of the run: status, counts and the log (`messages`, under the restore's JobId).
    func finishRecord(_ id: JobID?, restoring job: JobRecord, summary: JobSummary) {
        guard let id else { return }
        var record = JobRecord(
            id: id, name: job.name, type: "R", level: job.level, status: summary.status, fileSetName: job.fileSetName,
            fileSetDigest: job.fileSetDigest, startTime: Clock.realtime(), endTime: Clock.realtime(),
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
        do {
            try catalog.insert(files: [], messages: log)
            try catalog.finishJob(record)
        } catch {
            messages.append(
                JobMessage(
                    jobID: jobID, time: Clock.realtime(), severity: "warning", stage: nil, path: nil,
                    text: "the end of the restore is not recorded in the catalog (JobId \(id.rawValue)): \(error)"))
        }
    }
}
