/// A restore is a job in the catalog (``RunRecord``, type `R`). Writing the row is not allowed to stop a restore: a
/// catalog that cannot take it gets a warning.
extension RestoreJob {
    /// Records the start of the run; nil when the catalog did not take the row (the restore goes on).
    func beginRecord(restoring job: JobRecord) -> RunRecord? {
        do {
            return try RunRecord.begin(
                in: catalog, type: "R", of: job, whereDirectory: settings.outputFD == nil ? settings.whereDirectory : nil)
        } catch {
            messages.append(
                JobMessage(
                    jobID: jobID, time: Clock.realtime(), severity: "warning", stage: nil, path: nil,
                    text: "the restore is not recorded as a job in the catalog: \(error)"))
            summary.warnings += 1
            return nil
        }
    }

    /// Records the end of the run: status, counts and the log (the restore's problems and the stages' messages).
    func finishRecord(_ record: RunRecord?) {
        guard let record else { return }
        do {
            try record.finish(in: catalog, summary: summary, messages: messages)
        } catch {
            messages.append(
                JobMessage(
                    jobID: jobID, time: Clock.realtime(), severity: "warning", stage: nil, path: nil,
                    text: "the end of the restore is not recorded in the catalog (JobId \(record.id.rawValue)): \(error)"))
        }
    }
}
