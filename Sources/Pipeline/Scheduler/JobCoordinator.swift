import Synchronization

/// What the threads of one backup share, and only that: the settings, the live counters, cancellation, the fatal
/// problem, the error policy, the decision turns, and the totals each thread merges in when it ends. Every member
/// is immutable, atomic or behind a lock (`Locked`, which the thread sanitizer sees), so the compiler checks that it
/// is `Sendable`; workers and the writer hold this instead of calling back into `BackupJob`.
final class JobCoordinator: Sendable {
    let settings: BackupSettings
    let progress: ProgressCounters
    let cancellation: CancellationFlag
    /// One permit per batch between the walker and the writer: bounds the batches (and their data) in flight even
    /// when one worker is slow and later batches wait in the writer's reorder buffer.
    let inFlight: BoundedQueue<Void>
    /// True when a stage needs its decision hooks in walk order (a Python plugin sees its entries as Bareos offers
    /// them, a directory after its contents): batches then take turns for that phase. Set before the threads start.
    var orderedDecisions: Bool {
        get { ordered.load(ordering: .relaxed) }
        set { ordered.store(newValue, ordering: .relaxed) }
    }
    private let ordered = Atomic<Bool>(false)

    private struct Outcome: Sendable {
        /// The counts of the threads that ended so far (each keeps its own while it runs).
        var totals: JobSummary
        /// The statistics of the threads that ended so far (with `BackupSettings.collectStatistics`).
        var statistics = JobStatistics()
        var fatal: String?
        /// `Stage Error Policy = fail`: the file error that stopped the job, recorded at the end of the job (what
        /// was in flight when it stopped is dropped, this row and message are not).
        var policyFailure: (records: [FileRecord], messages: [JobMessage]) = ([], [])
    }
    private let outcome: Locked<Outcome>

    private struct Turns: Sendable {
        /// The walk batch whose decision hooks may run next (with `orderedDecisions`).
        var next = 0
        /// Walk batches whose decision hooks have run, or that were dropped.
        var decided = 0
    }
    private let turns = WaitableState(Turns())

    init(settings: BackupSettings, progress: ProgressCounters, cancellation: CancellationFlag) {
        self.settings = settings
        self.progress = progress
        self.cancellation = cancellation
        inFlight = BoundedQueue<Void>(capacity: settings.queueCapacity + settings.workers + 2)
        outcome = Locked(Outcome(totals: JobSummary(jobID: 0, jobName: "", level: "", status: .running)))
    }

    // MARK: - Failures

    /// Records a fatal problem (the first one wins) and stops the job.
    func fail(_ message: String) {
        outcome.withLock { if $0.fatal == nil { $0.fatal = message } }
        cancellation.cancel(reason: message)
    }

    var fatalMessage: String? { outcome.withLock { $0.fatal } }

    /// The one place a file's failure meets the error policy (D6), whichever thread found it (a worker: unreadable,
    /// a decision or data stage failed; the writer: a streamed file failed mid-stream, the volume refused a
    /// member). The caller has counted it in its own summary. Returns true when the caller records the row and
    /// message and the job goes on (`Stage Error Policy = continue`); false when the job stops
    /// (`Stage Error Policy = fail`): the row and message are then kept here for the end of the job.
    func fileFailed(_ record: FileRecord, _ message: JobMessage) -> Bool {
        progress.errors.add(1, ordering: .relaxed)
        guard settings.stageErrorPolicy == .fail else { return true }
        outcome.withLock {
            $0.policyFailure.records.append(record)
            $0.policyFailure.messages.append(message)
        }
        fail("Stage Error Policy = fail: \(String(decoding: record.path, as: UTF8.self)): \(record.error ?? "")")
        return false
    }

    /// The rows and messages of the file that stopped the job by policy.
    var policyFailure: (records: [FileRecord], messages: [JobMessage]) { outcome.withLock { $0.policyFailure } }

    // MARK: - Totals

    /// Adds the counts of a thread that ended (or of the writer, about to write the trailer).
    func merge(_ counts: JobSummary) {
        outcome.withLock { $0.totals.add(counts) }
    }

    /// The counts merged so far.
    var totals: JobSummary { outcome.withLock { $0.totals } }

    /// Adds the statistics of a thread that ended.
    func merge(statistics: JobStatistics) {
        outcome.withLock { $0.statistics.merge(statistics) }
    }

    /// The statistics merged so far.
    var statistics: JobStatistics { outcome.withLock { $0.statistics } }

    // MARK: - Decision turns

    /// Waits until every earlier walk batch has had its decision hooks run (with `orderedDecisions`).
    func awaitDecisionTurn(_ sequence: Int) {
        guard orderedDecisions else { return }
        turns.wait { $0.next >= sequence }
    }

    /// The decision hooks of batch `sequence` are done (or the batch was dropped): the next batch's may run.
    func endDecisionTurn(_ sequence: Int) {
        guard orderedDecisions else { return }
        turns.update { $0.next = max($0.next, sequence + 1) }
    }

    /// One more walk batch went through the decision hooks (or was dropped).
    func batchDecided() {
        turns.update { $0.decided += 1 }
    }

    /// Blocks until `count` walk batches went through the decision hooks. Workers count the batches they drop
    /// when the job stops, so this returns then too.
    func awaitDecidedBatches(_ count: Int) {
        turns.wait { $0.decided >= count }
    }
}
