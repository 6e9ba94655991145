/// The Job's Director plugins (`Dir Plugin Options`) around a backup, in Bareos' order (see `DirectorPlugin`).
extension BackupJob {
    /// Loads every Director plugin, then delivers JobStart and JobInit. A plugin that cannot load or whose handler
    /// raises fails the job here, before any file is read; the plugins loaded so far still get JobEnd. What the
    /// plugins said goes into the catalog at once (counted with the job's messages). Returns the loaded plugins.
    func startDirectorPlugins(jobID: JobID, context: StageContext) -> [any DirectorPlugin] {
        guard !directorPlugins.isEmpty else { return [] }
        let values = directorValues(jobID: jobID, status: "C", summary: nil)
        var loaded: [any DirectorPlugin] = []
        for plugin in directorPlugins {
            do {
                try plugin.load(values, context: context)
                loaded.append(plugin)
            } catch {
                fail("Director plugin \(plugin.name): \(error)")
                break
            }
        }
        for event in [DirectorEvent.jobStart, .jobInit] where fatalMessage == nil {
            deliverDirectorEvent(event, to: loaded, values: values, context: context)
        }
        recordDirectorMessages(context: context, jobID: jobID)
        return loaded
    }

    /// JobRun: after the Before RunScripts, before the stages start.
    func runDirectorPlugins(_ loaded: [any DirectorPlugin], jobID: JobID, context: StageContext) {
        guard !loaded.isEmpty, fatalMessage == nil else { return }
        let values = directorValues(jobID: jobID, status: "R", summary: withLock { $0 })
        deliverDirectorEvent(.jobRun, to: loaded, values: values, context: context)
        recordDirectorMessages(context: context, jobID: jobID)
    }

    /// JobEnd, once the job's record is final (as in Bareos, after the After RunScripts and the catalog update),
    /// then the plugins' interpreters end. What they say now, an exception or a bad answer included, is added to
    /// the job's messages, but the job's status, counts and exit code stay as they are. Returns a problem that kept
    /// those messages out of the catalog (nil normally).
    func endDirectorPlugins(_ loaded: [any DirectorPlugin], summary: JobSummary, context: StageContext) -> String? {
        guard !loaded.isEmpty else { return nil }
        let jobID = JobID(rawValue: summary.jobID)
        let values = directorValues(jobID: jobID, status: Self.statusLetter(summary.status), summary: summary)
        for plugin in loaded {
            do {
                try plugin.deliver(.jobEnd, values, context: context)
            } catch {
                context.message(.error, "\(error)", stage: plugin.name)
            }
        }
        for plugin in loaded { plugin.unload(context: context) }
        let messages = context.drainMessages().map { JobMessage(jobID: jobID, $0) }
        do {
            if !messages.isEmpty { try withCatalog { [messages] in try $0.insert(files: [], messages: messages) } }
        } catch {
            return "cannot record the Director plugins' messages of JobEnd: \(error)"
        }
        return nil
    }

    /// Delivers `event` to each plugin; a handler that raised fails the job (Bareos: M_FATAL), and the later
    /// plugins do not get the event.
    private func deliverDirectorEvent(
        _ event: DirectorEvent, to plugins: [any DirectorPlugin], values: DirectorJobValues, context: StageContext
    ) {
        for plugin in plugins where fatalMessage == nil {
            do {
                try plugin.deliver(event, values, context: context)
            } catch {
                fail("Director plugin \(plugin.name): \(error)")
            }
        }
    }

    /// Moves what the plugins said so far into the catalog, counted with the job's messages (before any stage
    /// runs, so the context holds nothing else).
    private func recordDirectorMessages(context: StageContext, jobID: JobID) {
        let messages = context.drainMessages().map { JobMessage(jobID: jobID, $0) }
        guard !messages.isEmpty else { return }
        withLock { $0.count(JobMessage.severityCounts(messages)) }
        do {
            try withCatalog { try $0.insert(files: [], messages: messages) }
        } catch {
            fail("catalog write failed: \(error)")
        }
    }

    /// The job's variables now: `summary` holds the counts (nil before the job has any).
    func directorValues(jobID: JobID, status: Character, summary: JobSummary?) -> DirectorJobValues {
        let levelLetter: Character
        switch level {
        case "Incremental": levelLetter = "I"
        case "Differential": levelLetter = "D"
        default: levelLetter = "F"
        }
        var values = DirectorJobValues(
            jobID: jobID.rawValue, job: job.name,
            uniqueName: RunScriptRunner.uniqueJobName(job.name, start: startTime, jobID: jobID.rawValue),
            level: levelLetter, status: status, client: job.client ?? RunScriptRunner.hostName())
        values.pool = job.keptDirective("pool")
        values.storage = job.archive ?? settings.archiveDirectory
        values.catalog = job.catalog
        values.priority = job.keptDirective("priority").flatMap { Int($0) } ?? 10
        values.pluginDirectory = job.pluginDirectory
        values.sideStatus = status == "C" ? nil : status
        if let summary {
            values.volumeCount = summary.volumes.count
            values.volumeName = summary.volumes.last.map { String($0.split(separator: "/").last ?? Substring($0)) }
            values.errors = UInt64(max(0, summary.errors))
            values.files = UInt64(max(0, summary.filesStored))
            values.entries = UInt64(max(0, summary.entriesStored))
            values.bytes = summary.bytesStored
            values.readBytes = summary.bytesRead
            values.rate = summary.wallSeconds > 0 ? UInt64(Double(summary.bytesRead) / summary.wallSeconds) : 0
        }
        return values
    }

    /// Bareos' JobStatus letter for how a job ended: `T` ok, `W` ok with warnings, `f` fatal error, `A` cancelled.
    static func statusLetter(_ status: JobStatus) -> Character {
        switch status {
        case .ok: return "T"
        case .warnings: return "W"
        case .failed: return "f"
        case .cancelled: return "A"
        case .running: return "R"
        }
    }
}
