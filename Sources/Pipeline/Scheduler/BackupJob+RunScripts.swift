/// The Job's RunScripts around a backup (Bareos' `RunScript`, `Run Before Job`, `Run After Job`,
/// `Run After Failed Job`).
extension BackupJob {
    /// Runs the scripts of `moment`. Before the job (`summary` nil) their messages go into the catalog at once and
    /// a failing script with `FailJobOnError` fails the job, before any file is read; after it, the messages are
    /// returned to be counted with the job's own, and such a failure is an error message (the job then ends
    /// with warnings).
    func runScripts(at moment: RunScript.When, jobID: JobID, summary: JobSummary?) -> [JobMessage] {
        guard !job.runScripts.isEmpty else { return [] }
        let runner = RunScriptRunner(
            jobID: jobID.rawValue, jobName: job.name, client: job.client ?? RunScriptRunner.hostName(), level: level,
            start: startTime, since: since, timeoutSeconds: job.runScriptTimeout, cancellation: cancellation)
        let (messages, failure) = runner.run(job.runScripts, at: moment, summary: summary)
        guard summary == nil else { return messages }
        // Counted like every other message of the job: the summary's errors and warnings are its log's.
        withLock { $0.count(JobMessage.severityCounts(messages)) }
        do {
            try withCatalog { try $0.insert(files: [], messages: messages) }
        } catch {
            fail("catalog write failed: \(error)")
        }
        // A script killed by Ctrl-C leaves a cancelled job, not a failed one.
        if let failure, !cancellation.isCancelled { fail(failure) }
        return []
    }
}
