internal import CLinux
#if canImport(Glibc)
import Glibc
#endif

/// A failure that stops a job (at start, or fatal during it). Per-file problems are not `BackupError`s.
public struct BackupError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A backup at Bareos' levels (Full, Incremental, Differential; `LevelDecision`, Accurate mode): walker → worker threads (decision hooks, read, hash, transform) → volume writer → catalog
/// writer, every hand-off a bounded queue of batches.
///
/// ```
///   walker ──batches──► workers ×N ──prepared batches──► writer (in walk order) ──records──► catalog thread
///   (FileSelector)      hooks, small files read+hashed     pax volumes; appends the          fsync volume, then
///                       and transformed in memory          chunks of streamed files          one transaction
///                                                                ▲ per-file chunk queues, in order
///                                                     stream pool ×cores: large, sparse and taken-over files
///                                                     read, hashed, compressed/encrypted chunk by chunk
/// ```
/// Blocking work (file I/O, SQLite, Python, GPG) runs on these dedicated threads, never on the cooperative pool;
/// memory is bounded by the queue capacities times the batch size, plus the stream pool's chunks (`StreamPool`).
/// What the threads share is one `JobCoordinator`; each thread counts in its own summary, merged when it ends.
public final class BackupJob: @unchecked Sendable {
    // @unchecked Sendable: the thread bodies `runThreads` starts capture this job for its immutable inputs
    // (`fileSet`, `builder`, `settings`, ...), for the label/trailer records, the walk and the catalog thread.
    // Its `var`s (`level`, `since`, `decision`, `accurateState`, `jobData`, `chainJobs`) are written only by the
    // caller of `run`, before `runThreads` starts any thread (pthread_create orders those writes before the
    // threads' reads) and never while threads run; `deletedPaths` and the summary are behind the `shared` mutex.
    // The catalog is not among them: it moves between the caller and the catalog thread through `catalogSlot`
    // as a `sending` value, which the compiler checks. Everything the threads change together is in
    // `coordinator`, also checked.
    let job: Job
    let fileSet: FileSet
    let chains: [[[String]]]
    let options: [[OptionsBlock]]
    /// The catalog (not Sendable). The caller's thread uses it before and after the threads run, the catalog
    /// thread in between; it moves between them through this slot as a `sending` value, so the compiler checks
    /// that no two threads ever hold it at once. ``releaseCatalog(as:)`` hands it back after the job.
    let catalogSlot: Locked<Parcel<any CatalogStore>>
    let settings: BackupSettings
    /// What the threads share: cancellation, the fatal problem, the error policy, decision turns, totals.
    let coordinator: JobCoordinator
    let builder: StageChainBuilder
    public let progress: ProgressCounters
    public let cancellation: CancellationFlag
    /// The level asked for: the command line's, else the Job's (Bareos' default Incremental).
    public let requestedLevel: Job.Level
    /// The level the job runs at (`Full`, `Incremental`, `Differential`), once decided.
    private(set) var level: String
    /// Start of the job and, for Incremental/Differential, the since time. The start is read from the kernel's
    /// coarse real-time clock, the one file timestamps come from: a file changed after the job started always
    /// has an mtime/ctime at or after it, so the next Incremental (whose since time this is) cannot miss it.
    let startTime = BackupJob.coarseRealtime()
    private(set) var since: FileStat.Timestamp?
    /// The level, since time and chain, decided from the catalog before the job is recorded.
    public private(set) var decision: LevelDecision?
    /// Accurate mode: the previous state the walk compares with (nil otherwise).
    var accurateState: AccurateState?
    /// The Job's Director plugins (`Dir Plugin Options`), told when the job starts, runs and ends.
    let directorPlugins: [any DirectorPlugin]
    /// Accurate mode: paths recorded as deleted (set when the walk ends, read by the trailer).
    private var deletedPaths: [[UInt8]] = []

    /// The job's own part of the summary (id, level, since, volumes); the threads' counts are merged in at the end.
    private struct Shared: Sendable {
        var summary: JobSummary
    }
    private let shared: Locked<Shared>

    public init(
        job: Job, fileSet: FileSet, chains: [[[String]]], catalog: sending any CatalogStore, settings: BackupSettings,
        stageFactory: @escaping StageChainBuilder.Factory, level requested: Job.Level? = nil,
        progress: ProgressCounters = ProgressCounters(), cancellation: CancellationFlag = CancellationFlag(),
        directorPlugins: [any DirectorPlugin] = []
    ) {
        self.directorPlugins = directorPlugins
        self.job = job
        self.fileSet = fileSet
        self.chains = chains
        self.options = fileSet.includes.map(\.options)
        self.catalogSlot = Locked(Parcel(catalog))
        self.settings = settings
        self.coordinator = JobCoordinator(settings: settings, progress: progress, cancellation: cancellation)
        self.builder = StageChainBuilder(factory: stageFactory)
        self.progress = progress
        self.cancellation = cancellation
        self.requestedLevel = requested ?? job.effectiveLevel
        self.level = LevelDecision.jobLevel(requestedLevel)?.name ?? requestedLevel.rawValue
        self.shared = Locked(Shared(summary: JobSummary(jobID: 0, jobName: job.name, level: level, status: .running)))
        extraTrailerRecords = { [unowned self] in
            self.withLock { _ in self.deletedPaths }.map {
                PipelineRecords.deleted($0)
            }
        }
    }

    static func coarseRealtime() -> FileStat.Timestamp {
        var spec = timespec()
        // CLOCK_REALTIME_COARSE (5): the clock the kernel stamps inode times with.
        if clock_gettime(clockid_t(5), &spec) != 0 { clock_gettime(CLOCK_REALTIME, &spec) }
        return FileStat.Timestamp(seconds: Int64(spec.tv_sec), nanoseconds: Int32(spec.tv_nsec))
    }

    /// Decides the level and since time from the catalog (once; `run` calls it if the caller has not). Throws
    /// `BackupError` for a level a backup cannot run or an unreadable catalog.
    @discardableResult
    public func resolveLevel() throws -> LevelDecision {
        if let decision { return decision }
        guard let requested = LevelDecision.jobLevel(requestedLevel) else {
            throw BackupError(
                "Job \"\(job.name)\": Level = \(requestedLevel.rawValue) is not supported by backup "
                    + "(Full, Incremental or Differential)")
        }
        let decided: LevelDecision
        do {
            decided = try withCatalog { catalog in
                try LevelDecision.resolve(
                requested: requested, jobName: job.name, client: job.clientName, fileSet: fileSet, catalog: catalog)
            }
        } catch {
            throw BackupError("cannot read the previous jobs from the catalog: \(error)")
        }
        decision = decided
        level = decided.level.name
        since = decided.since
        withLock {
            $0.level = decided.level.name
            $0.since = decided.since
            $0.upgraded = decided.upgradeReason
        }
        return decided
    }

    /// How the walk tests for changes: everything for a Full; since time; or Accurate comparison.
    var changeTest: ChangeTest {
        if let accurateState { return .accurate(accurateState) }
        if let since { return .since(since) }
        return .all
    }

    func withLock<R: Sendable>(_ body: (inout JobSummary) -> R) -> R {
        shared.withLock { body(&$0.summary) }
    }

    /// Records a fatal problem and stops the job.
    func fail(_ message: String) {
        coordinator.fail(message)
    }

    var fatalMessage: String? { coordinator.fatalMessage }

    // MARK: - Run

    /// Runs the job to the end. Throws `BackupError` only when the job could not start; a job that started
    /// always ends with a catalog record and a summary (status failed/cancelled when it had to stop).
    public func run() throws -> JobSummary {
        let started = Clock.monotonic()
        let cpuStarted = Clock.cpuSeconds()
        // Command plugins other than Python ones are not run by this host (D1): refuse before reading any file.
        try checkCommandPlugins()
        let selector: FileSelector
        do {
            try builder.prepare(chains: chains)
            try prepareCommandPlugins()
            coordinator.orderedDecisions = builder.allStages.contains { $0.needsWalkOrder }
            selector = try FileSelector(fileSet: fileSet, chains: chains)
        } catch let error as SelectionError {
            throw BackupError(error.description)
        } catch {
            throw BackupError("\(error)")
        }

        let decision = try resolveLevel()
        // Accurate (Incremental/Differential only): the tree as of the job this one extends.
        if job.accurate, decision.level != .full, let base = decision.baseJob {
            do {
                accurateState = AccurateState(records: try withCatalog { try JobChain.state(asOf: base, in: $0).values })
            } catch {
                throw BackupError("cannot build the Accurate file list from JobId \(base.rawValue): \(error)")
            }
        }

        // The index stage extracts no content the catalog already holds; the digests are loaded once (before
        // the job is recorded, so a failure leaves no job behind), for jobs with one.
        var contentIndex: IndexedContentSet?
        if builder.allStages.contains(where: { PluginString.name($0.name) == "index" }) {
            do {
                contentIndex = try withCatalog { try $0.indexedContent() }
            } catch {
                throw BackupError("cannot read the search index of the catalog: \(error)")
            }
        }
        var record = JobRecord(
            id: JobID(rawValue: 0), name: job.name, type: "B", level: decision.level, status: .running,
            fileSetName: fileSet.name, fileSetDigest: decision.fileSetDigest,
            clientName: job.clientName, startTime: startTime, sinceTime: decision.since)
        // The jobs a restore of this one will need: recorded in the catalog and in every volume's label, so a
        // restore from a catalog that lacks one of them (a partial `scan`) can name it.
        do {
            record.chainJobs = try decision.baseJob.map { base in try withCatalog { try JobChain.jobs(asOf: base, in: $0).map(\.id) } } ?? []
        } catch {
            throw BackupError("cannot read the restore chain of JobId \(decision.baseJob?.rawValue ?? 0): \(error)")
        }
        chainJobs = record.chainJobs ?? []
        let jobID: JobID
        do {
            jobID = try withCatalog { [record] in try $0.beginJob(record) }
        } catch {
            throw BackupError("cannot record the job in the catalog: \(error)")
        }
        record.id = jobID
        withLock { $0.jobID = jobID.rawValue }
        let context = StageContext(
            mode: .backup, jobID: jobID.rawValue, jobName: job.name, level: level, fileSetName: fileSet.name,
            since: decision.since, debugLevel: settings.debugLevel, options: options, startTime: startTime,
            fileRoots: fileSet.fileRoots, contentIndex: contentIndex, onFatal: { [weak self] reason in self?.fail(reason) })
        do {
            let messages = levelMessages(decision, jobID: jobID)
            try withCatalog { try $0.insert(files: [], messages: messages) }
        } catch {
            fail("catalog write failed: \(error)")
        }
        // Director plugins: loaded, JobStart and JobInit; a failure fails the job before the scripts run.
        let director = startDirectorPlugins(jobID: jobID, context: context)
        // RunsWhen = Before: before any file is read; a failure with FailJobOnError fails the job here.
        if fatalMessage == nil { _ = runScripts(at: .before, jobID: jobID, summary: nil) }
        runDirectorPlugins(director, jobID: jobID, context: context)

        do {
            try builder.broadcast(.jobStarted, context: context)
        } catch {
            fail("a stage failed at job start: \(error)")
        }
        // What stages keep with the job goes into the catalog now and into every volume's label.
        jobData = context.takeRecordedJobData() + commandPluginJobData()
        do {
            let jobData = self.jobData
            try withCatalog { try $0.insertJobData(job: jobID, jobData) }
        } catch {
            fail("catalog write failed: \(error)")
        }

        if !cancellation.isCancelled {
            runThreads(selector: selector, jobID: jobID, context: context)
        }

        let succeeded = fatalMessage == nil && !cancellation.isCancelled
        do {
            try builder.broadcast(.fileSetEnded, context: context)
            try builder.broadcast(.jobEnded(succeeded: succeeded), context: context)
        } catch {
            context.message(.error, "a stage failed at job end: \(error)")
        }

        var final = withLock { $0 }
        final.add(coordinator.totals)
        final.wallSeconds = Clock.monotonic() - started
        final.cpuSeconds = Clock.cpuSeconds() - cpuStarted
        final.peakRSSBytes = Clock.peakRSSBytes()
        if settings.collectStatistics {
            var statistics = coordinator.statistics
            statistics.name(builder.slotNames)
            statistics.workerThreads = settings.workers
            statistics.streamThreads = settings.streamThreads + 1  // and the serial lane of taken-over files
            final.statistics = statistics
        }
        if let fatal = fatalMessage {
            final.status = .failed
            final.failure = fatal
        } else if cancellation.isCancelled {
            final.status = .cancelled
            final.failure = cancellation.reason ?? "cancelled"
        } else if final.filesFailed > 0 || final.errors > 0 || final.filesReread > 0 {
            final.status = .warnings
        } else {
            final.status = .ok
        }
        record.endTime = Clock.realtime()
        var messages = context.drainMessages().map { JobMessage(jobID: jobID, $0) }
        let policy = coordinator.policyFailure
        // The summary's errors and warnings are the job's error and warning messages, wherever they came from (the
        // walk, a stage's failure or traceback, a plugin's JobMessage or stderr): what `list messages` shows.
        final.count(JobMessage.severityCounts(messages + policy.messages))
        if fatalMessage != nil { final.errors += 1 }
        if final.status == .ok && final.errors > 0 { final.status = .warnings }
        // RunsWhen = After: the scripts see how the job ended (%e); what they print is part of its log.
        let after = runScripts(at: .after, jobID: jobID, summary: final)
        final.count(JobMessage.severityCounts(after))
        messages += after
        if final.status == .ok && final.errors > 0 { final.status = .warnings }
        record.status = final.status
        record.setCounts(from: final)
        do {
            if accurateState != nil && final.entriesDeleted > 0 {
                messages.append(
                    JobMessage(
                        jobID: jobID, time: Clock.realtime(), severity: "info", stage: nil, path: nil,
                        text: "Accurate: \(final.entriesDeleted) entries recorded as deleted"))
            }
            // The job's statistics per stage: how many files each stage skipped.
            for (stage, count) in final.skippedByStage.sorted(by: { $0.key < $1.key }) {
                messages.append(
                    JobMessage(
                        jobID: jobID, time: Clock.realtime(), severity: "info", stage: nil, path: nil,
                        text: "stage \(stage) skipped \(count) file\(count == 1 ? "" : "s")"))
            }
            let fatal = fatalMessage.map {
                [JobMessage(jobID: jobID, time: Clock.realtime(), severity: "error", stage: nil, path: nil, text: $0)]
            }
            let unfinished = final.status == .failed || final.status == .cancelled
            let counts = try withCatalog { [messages] catalog -> CatalogFileCounts? in
                if !messages.isEmpty { try catalog.insert(files: [], messages: messages) }
                if !policy.records.isEmpty { try catalog.insert(files: policy.records, messages: policy.messages) }
                if let fatal { try catalog.insert(files: [], messages: fatal) }
                // Rows that never reached the catalog (the catalog thread stops at a fatal error) are not counted:
                // the summary and the job row say what the catalog holds.
                return unfinished ? try catalog.fileCounts(job: jobID) : nil
            }
            if let counts {
                final.setCounts(from: counts)
                record.setCounts(from: final)
            }
            try withCatalog { [record] in try $0.finishJob(record) }
        } catch {
            final.status = .failed
            final.failure = (final.failure.map { $0 + "; " } ?? "") + "cannot finish the catalog record: \(error)"
        }
        // JobEnd: the job's record is final; what the Director plugins say now changes none of it.
        if let problem = endDirectorPlugins(director, summary: final, context: context) {
            final.failure = (final.failure.map { $0 + "; " } ?? "") + problem
        }
        return final
    }

    private func runThreads(selector: FileSelector, jobID: JobID, context: StageContext) {
        let walkQueue = BoundedQueue<WalkBatch>(capacity: settings.queueCapacity)
        let preparedQueue = BoundedQueue<PreparedBatch>(capacity: settings.workers + 2)
        let catalogQueue = BoundedQueue<CatalogBatch>(capacity: 2)
        let coordinator = self.coordinator
        let labels = VolumeWriter.Labels(
            label: { [self] volume in labelRecords(jobID: jobID, volumeSequence: volume) },
            trailer: { [self] counts in trailerRecords(jobID: jobID, summary: counts) },
            trailerHasExtras: { [self] in !extraTrailerRecords().isEmpty })
        // Consumers start before producers, so a thread that cannot start leaves only threads that end once
        // their queues are closed.
        var streams: StreamPool?
        var threads: (catalog: WorkerThread?, writer: WorkerThread?, workers: [WorkerThread], walker: WorkerThread?)
        threads = (nil, nil, [], nil)
        do {
            threads.catalog = try WorkerThread(name: "op-catalog") { [self] in
                // The catalog thread owns the catalog until it ends; the caller gets it back after the join.
                guard let catalog = catalogSlot.withLock({ $0 }).take() else { return }
                let back = Parcel(writeCatalog(catalog, from: catalogQueue, jobID: jobID))
                catalogSlot.withLock { $0 = back }
            }
            // The stream threads hand their statistics to the job when they end.
            let statisticsSink: (@Sendable (JobStatistics) -> Void)? =
                settings.collectStatistics ? { @Sendable statistics in coordinator.merge(statistics: statistics) } : nil
            let pool = try StreamPool(
                threads: settings.streamThreads, chunkSize: settings.chunkSize,
                chunksPerFile: settings.streamChunksPerFile, spillDirectory: settings.archiveDirectory,
                context: context, jobID: jobID, cancellation: cancellation, progress: progress,
                statistics: statisticsSink)
            streams = pool
            let jobName = job.name
            threads.writer = try WorkerThread(name: "op-write") {
                VolumeWriter(
                    coordinator: coordinator, jobName: jobName, labels: labels, context: context, jobID: jobID,
                    catalogQueue: catalogQueue, streams: pool
                ).run(from: preparedQueue)
            }
            let builder = self.builder
            let options = self.options
            for index in 0..<settings.workers {
                threads.workers.append(
                    try WorkerThread(name: "op-work\(index)") {
                        let worker: BackupWorker?
                        do {
                            worker = try BackupWorker(
                                coordinator: coordinator, builder: builder, options: options, context: context,
                                jobID: jobID)
                        } catch {
                            coordinator.fail("\(error)")  // batches are still taken in turn below, and dropped
                            worker = nil
                        }
                        while let batch = walkQueue.take() {
                            guard let worker, !coordinator.cancellation.isCancelled else {
                                // In turn even when dropped, so no later batch passes one whose hooks still run.
                                coordinator.awaitDecisionTurn(batch.sequence)
                                coordinator.endDecisionTurn(batch.sequence)
                                coordinator.batchDecided()
                                continue
                            }
                            let prepared = worker.prepare(batch)
                            coordinator.batchDecided()
                            preparedQueue.put(prepared)
                        }
                        if let worker {
                            coordinator.merge(worker.summary)
                            if let statistics = worker.statistics { coordinator.merge(statistics: statistics) }
                        }
                    })
            }
            threads.walker = try WorkerThread(name: "op-walk") { [self] in
                walk(selector: selector, into: walkQueue, context: context)
            }
        } catch {
            fail("\(error)")
            walkQueue.close()
            coordinator.inFlight.close()
        }
        threads.walker?.join()
        for worker in threads.workers { worker.join() }
        preparedQueue.close()
        threads.writer?.join()
        streams?.close()
        catalogQueue.close()
        threads.catalog?.join()
    }

    // MARK: - Volume labels

    /// Records the writer puts at the start of every volume (a pax global header): enough for `scan` to rebuild
    /// the job record.
    func labelRecords(jobID: JobID, volumeSequence: Int) -> [VolumeMember.Record] {
        func record(_ key: String, _ value: String) -> VolumeMember.Record {
            PipelineRecords.label(key, value)
        }
        var records = [
            record("job", String(jobID.rawValue)), record("name", job.name), record("level", level),
            record("fileset", fileSet.name),
            record("fileset_digest", decision?.fileSetDigest ?? FileSetIdentity.digest(fileSet)),
            record("start", BackupJob.decimalTime(startTime)), record("volume", String(volumeSequence)),
            // The client as `jobs.client_name` records it, so `scan` rebuilds it (levels, `prune` and
            // `restore --latest` select jobs by client).
            record("client", job.clientName),
        ]
        if let since { records.append(record("since", BackupJob.decimalTime(since))) }
        if !chainJobs.isEmpty { records.append(record("chain", JobRecord.encodeChainJobs(chainJobs))) }
        for datum in jobData {
            records.append(VolumeMember.Record(key: VolumeMember.jobDataPrefix + datum.key, value: datum.value))
        }
        return records
    }

    /// What stages recorded with the job at its start (set before the worker threads start, read by the writer).
    private(set) var jobData: [JobDatum] = []
    /// The jobs this job's restore chain needs (set before the worker threads start, read by the writer).
    private(set) var chainJobs: [JobID] = []

    /// Records that end the job's last volume: end time, counts, and any extra ones (Accurate deletions).
    func trailerRecords(jobID: JobID, summary: JobSummary) -> [VolumeMember.Record] {
        let end = Clock.realtime()
        func record(_ key: String, _ value: String) -> VolumeMember.Record {
            PipelineRecords.trailer(key, value)
        }
        return [
            record("job", String(jobID.rawValue)), record("end", BackupJob.decimalTime(end)),
            record("files_examined", String(summary.filesExamined)), record("files_stored", String(summary.filesStored)),
            record("files_skipped", String(summary.filesSkipped)), record("files_failed", String(summary.filesFailed)),
            record("entries_stored", String(summary.entriesStored)), record("bytes_read", String(summary.bytesRead)),
            record("bytes_stored", String(summary.bytesStored)), record("errors", String(summary.errors)),
        ] + extraTrailerRecords()
    }

    /// Extra trailer records: the Accurate deletions of this job, one `OPTIONPIPELINE.deleted` record per path
    /// (raw bytes), so `scan` can rebuild them.
    var extraTrailerRecords: () -> [VolumeMember.Record] = { [] }

    /// `seconds.nnnnnnnnn`, the way pax writes times (nine digits of nanoseconds).
    static func decimalTime(_ time: FileStat.Timestamp) -> String {
        let nanos = String(time.nanoseconds)
        return "\(time.seconds)." + String(repeating: "0", count: max(0, 9 - nanos.count)) + nanos
    }

    /// The job messages that explain the level: an upgrade, the since time, the Accurate baseline.
    private func levelMessages(_ decision: LevelDecision, jobID: JobID) -> [JobMessage] {
        func info(_ text: String) -> JobMessage {
            JobMessage(jobID: jobID, time: Clock.realtime(), severity: "info", stage: nil, path: nil, text: text)
        }
        var messages: [JobMessage] = []
        if let reason = decision.upgradeReason { messages.append(info(reason)) }
        if let since = decision.since, let base = decision.baseJob {
            messages.append(
                info(
                    "\(decision.level.name): saving what changed since \(since.seconds).\(since.nanoseconds) "
                        + "(start of JobId \(base.rawValue))"))
        }
        if let accurateState, let base = decision.baseJob {
            messages.append(
                info("Accurate: comparing with the \(accurateState.count) entries of the tree as of JobId \(base.rawValue)"))
        }
        return messages
    }

    // MARK: - Walker

    /// Walk events in order; event `i` has file index `firstIndex + i` (problems get an index too, so every
    /// catalog row of a job has its own).
    struct WalkBatch {
        var sequence: Int
        var firstIndex: Int64
        var events: [SelectionEvent] = []
        /// Accurate deletions (after the last event; file indices continue after the events).
        var deletions: [(path: [UInt8], kind: EntryKind)] = []
    }

    struct Cancelled: Error {}

    private func walk(selector: FileSelector, into queue: BoundedQueue<WalkBatch>, context: StageContext) {
        var sequence = 0
        var nextIndex: Int64 = 0
        var batch = WalkBatch(sequence: 0, firstIndex: 0)
        var batchBytes: UInt64 = 0
        // With statistics, the walk's time is this thread's time less its waits for the workers and the writer.
        let timed = settings.collectStatistics
        let walkStarted = timed ? Clock.nanoseconds() : 0
        var waited: UInt64 = 0
        defer {
            if timed {
                var statistics = JobStatistics()
                statistics.walkNanoseconds = (Clock.nanoseconds() &- walkStarted) &- waited
                coordinator.merge(statistics: statistics)
            }
        }
        func flush() {
            let waitStarted = timed ? Clock.nanoseconds() : 0
            defer { if timed { waited &+= Clock.nanoseconds() &- waitStarted } }
            coordinator.inFlight.put(())  // waits while the writer is `inFlight.capacity` batches behind
            queue.put(batch)
            sequence += 1
            batch = WalkBatch(sequence: sequence, firstIndex: nextIndex)
            batchBytes = 0
        }
        // The path on the progress line is the file the writer appends (set there), not the one walked last.
        func add(_ event: SelectionEvent) throws {
            if cancellation.isCancelled { throw Cancelled() }
            batch.events.append(event)
            nextIndex += 1
            if case .entry(let entry) = event, entry.kind == .file {
                batchBytes += min(entry.stat.size, settings.smallFileLimit)
            }
            if batch.events.count >= settings.batchEntries || batchBytes >= UInt64(settings.batchBytes) {
                flush()
            }
        }
        do {
            try selector.run(changes: changeTest, add)
            // Then the items of the Include-level (command) plugins, Include by Include.
            try runCommandPlugins(selector: selector, context: context, nextIndex: { nextIndex }, add)
        } catch is Cancelled {
        } catch {
            fail("the file walk failed: \(error)")
        }
        // Accurate: what the previous state has and the walk did not see was deleted (only after a complete walk,
        // as Bareos sends no deleted list for a cancelled or failed job).
        if let accurateState, !cancellation.isCancelled, fatalMessage == nil {
            var deletions = accurateState.unseen
            if !deletions.isEmpty && !builder.allStages.isEmpty {
                // Stages are asked once every entry of the walk went through their decision hooks (Bareos calls
                // check_file after the last handle_backup_file); the entries still being walked are flushed first.
                if !batch.events.isEmpty { flush() }
                let waitStarted = timed ? Clock.nanoseconds() : 0
                coordinator.awaitDecidedBatches(sequence)
                if timed { waited &+= Clock.nanoseconds() &- waitStarted }
                // A job that failed meanwhile records no deletions (as above).
                if cancellation.isCancelled || fatalMessage != nil { deletions = [] }
            }
            // A stage may still account for an entry the walk did not see (a Python plugin's check_file answering
            // bRC_Seen): it is not recorded as deleted.
            for stage in builder.allStages where !deletions.isEmpty {
                let claimed = stage.claimsUnseen(deletions.map(\.path), context: context)
                deletions = zip(deletions, claimed + Array(repeating: false, count: max(0, deletions.count - claimed.count)))
                    .filter { !$0.1 }.map(\.0)
            }
            if cancellation.isCancelled || fatalMessage != nil { deletions = [] }
            withLock { _ in deletedPaths = deletions.map(\.path) }
            for deletion in deletions {
                batch.deletions.append(deletion)
                nextIndex += 1
                if batch.events.count + batch.deletions.count >= settings.batchEntries { flush() }
            }
        }
        if !batch.events.isEmpty || !batch.deletions.isEmpty { flush() }
        queue.close()
    }
}

extension JobMessage {
    init(jobID: JobID, _ message: StageMessage) {
        self.init(
            jobID: jobID, time: message.time, severity: message.severity.rawValue, stage: message.stage,
            path: message.path, text: message.text)
    }
}
