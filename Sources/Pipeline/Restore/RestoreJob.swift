/// Restores the tree as it was at one job (decision D5): the ``JobChain`` state of the job (its Full, the newest
/// Differential, the Incrementals, minus Accurate deletions), each entry read from the volume of the job that stored
/// it — or, with ``RestoreSettings/version``, one stored version of one path.
///
/// Reads members straight from their volume offsets, runs the inverse stages, verifies the source SHA-256 before a
/// file has a name (it is created unnamed with `O_TMPFILE`, written, verified, given mode, owner (as root), xattrs,
/// ACLs and times, then linked to its final name; where the file system has no `O_TMPFILE`, a temporary name and a
/// rename): a mismatch, a failure or a kill leaves no file under the final name. Links, directories, fifos and
/// devices are recreated; directory metadata is applied last, deepest first.
///
/// Memory: the selection is a ``RestorePlan`` of compact keys (16 bytes an entry), streamed from the catalog
/// (``CatalogStore/forEachStateEntry(jobs:_:)``); the full rows are read back in batches on the calling thread
/// (the catalog connection is not shared) as the restore goes, so at most a few batches of them are in memory
/// whatever the selection's size.
///
/// Threads (``RestoreSettings/workers``): with one, every entry is restored on the calling thread in the order
/// below. With more, the calling thread creates the directories first, then reads the other rows in batches and
/// hands runs of one directory's entries (creates in one directory wait for each other on its lock, in different
/// directories they do not) to the worker threads through a bounded queue, restoring meanwhile itself, in order,
/// the files with a stage chain (a stage may take such a file over, and plugins handle one file at a time); then
/// it links the hard links and sets directory metadata.
///
/// Order: every entry but hard links first, by (JobId, file index) — so within a job a directory's own record still
/// comes after its contents — then the hard links, by the same key. A hard link of a later job may name a first name
/// stored by an earlier job, and a first name re-stored by a later job may be the target of a link from an earlier
/// one: linking after all files are in place covers both. A hard link is linked to its first name only when that
/// name is restored by this run as the same inode (same device and inode number in the catalog); otherwise (the
/// first name is not selected, was deleted, or is another file now) the link is restored as a copy of that inode's
/// data — the first name's entry in the state if it is still that inode, else its row in the newest chain job at or
/// before the link's job that stored it with that inode — with an info message.
public final class RestoreJob {
    let catalog: any CatalogStore
    /// The job whose state is restored; with a version, the version's job (known once `run` starts).
    var jobID: JobID
    /// The jobs whose entries make up the restore, oldest first (known once `run` starts).
    public internal(set) var chain: [JobRecord] = []
    let settings: RestoreSettings
    let builder: StageChainBuilder
    public let progress: ProgressCounters
    public let cancellation: CancellationFlag
    var summary: JobSummary
    var volumePaths: [Int64: String] = [:]
    var messages: [JobMessage] = []
    /// This run as a Restore job in the catalog, once it has started; nil when it could not be recorded.
    private var record: RunRecord?
    /// This run's own JobId in the catalog (a Restore job), once it has started; nil when it could not be recorded.
    public var restoreJobID: JobID? { record?.id }

    public init(
        catalog: any CatalogStore, jobID: JobID, settings: RestoreSettings,
        stageFactory: @escaping StageChainBuilder.Factory, progress: ProgressCounters = ProgressCounters(),
        cancellation: CancellationFlag = CancellationFlag()
    ) {
        self.catalog = catalog
        self.jobID = jobID
        self.settings = settings
        self.builder = StageChainBuilder(factory: stageFactory)
        self.progress = progress
        self.cancellation = cancellation
        self.summary = JobSummary(jobID: jobID.rawValue, jobName: "", level: "", status: .running)
    }

    /// Problems reported during the run, oldest first (also printed by the host).
    public var problems: [JobMessage] { messages }

    func problem(_ path: [UInt8], _ text: String, severity: String = "error") {
        messages.append(JobMessage(jobID: jobID, time: Clock.realtime(), severity: severity, stage: nil, path: path, text: text))
        if severity == "error" {
            summary.errors += 1
            progress.errors.add(1, ordering: .relaxed)
        } else if severity == "warning" {
            summary.warnings += 1
        }
    }

    public func run() throws -> JobSummary {
        let started = Clock.monotonic()
        let cpuStarted = Clock.cpuSeconds()
        if settings.version == nil, settings.exactVersions == nil, try catalog.job(jobID) == nil {
            throw RestoreError("no job with JobId \(jobID.rawValue) in the catalog")
        }
        let plan = try selection()
        guard let job = chain.last else { throw RestoreError("no job to restore") }
        summary.jobID = job.id.rawValue
        summary.jobName = job.name
        summary.level = job.level.name
        for member in chain {
            for volume in try catalog.volumes(job: member.id) { volumePaths[volume.id] = volume.path }
        }
        summary.filesExamined = plan.fileCount
        summary.volumes = volumePaths.keys.sorted().compactMap { volumePaths[$0] }
        if plan.isEmpty {
            throw RestoreError("nothing selected: job \(jobID.rawValue) has no stored entry matching the selection")
        }
        record = beginRecord(restoring: job)
        do {
            try run(plan, job: job)
        } catch {
            summary.status = .failed
            summary.failure = "\(error)"
            finishRecord(record)
            throw error
        }
        summary.wallSeconds = Clock.monotonic() - started
        summary.cpuSeconds = Clock.cpuSeconds() - cpuStarted
        summary.peakRSSBytes = Clock.peakRSSBytes()
        finishRecord(record)
        return summary
    }

    /// The restore of a non-empty plan, once the run is recorded.
    private func run(_ plan: RestorePlan, job: JobRecord) throws {
        // Volumes of entries stored by jobs outside the chain (exact versions): no thread reads the catalog.
        for id in Set(plan.jobs).subtracting(chain.map(\.id)) {
            for volume in try catalog.volumes(job: id) { volumePaths[volume.id] = volume.path }
        }
        let fatal = Locked<String?>(nil)
        // What stages kept with the jobs whose files are restored (e.g. the gpg stage's encrypted job keys).
        var jobData: [Int64: [String: [UInt8]]] = [:]
        for id in Set(plan.jobs).union(chain.map(\.id)) { jobData[id.rawValue] = try catalog.jobData(job: id) }
        let loaded = jobData
        let context = StageContext(
            mode: .restore, jobID: jobID.rawValue, jobName: job.name, level: job.level.rawValue,
            fileSetName: job.fileSetName, debugLevel: settings.debugLevel, whereDirectory: settings.whereDirectory,
            jobData: { job, key in loaded[job]?[key] },
            onFatal: { [cancellation] reason in
                fatal.withLock { if $0 == nil { $0 = reason } }
                cancellation.cancel(reason: reason)
            })
        try builder.broadcast(.jobStarted, context: context)
        let environment = RestoreEnvironment(
            jobID: jobID, settings: settings, builder: builder, context: context, volumePaths: volumePaths,
            progress: progress, cancellation: cancellation, linkTargets: plan.linkTargets)
        if let fd = settings.outputFD {
            try restoreToStream(plan, fd: fd, environment: environment)
        } else {
            // Only jobs that ran command plugins can hold restore objects (no extra pass over the rows otherwise).
            if loaded.values.contains(where: { $0[BackupJob.commandPluginsKey] != nil }) {
                try deliverRestoreObjects(plan, environment: environment)
            }
            try restoreTree(plan, environment: environment)
        }
        let failure = fatal.withLock { $0 }
        try? builder.broadcast(
            .jobEnded(succeeded: summary.errors == 0 && failure == nil && !cancellation.isCancelled), context: context)
        // A plugin's messages (its stderr lines are warnings, as at backup) count in the summary like the restore's own.
        let stageMessages = context.drainMessages().map { JobMessage(jobID: jobID, $0) }
        messages += stageMessages
        summary.count(JobMessage.severityCounts(stageMessages))
        if let failure {
            summary.status = .failed
            summary.failure = failure
        } else if cancellation.isCancelled {
            summary.status = .cancelled
        } else if summary.filesExamined > 0, summary.filesStored == 0, summary.errors > 0 {
            // Nothing of what was asked for came back: "ok with warnings" (exit 1) would let a script go on as if
            // the data were there.
            summary.status = .failed
            summary.failure = "no selected file could be restored (\(summary.errors) errors)"
        } else {
            summary.status = summary.errors > 0 ? .warnings : .ok
        }
    }

    // MARK: - --stdout

    private func restoreToStream(_ plan: RestorePlan, fd: Int32, environment: RestoreEnvironment) throws {
        var files: [FileRecord] = []
        if plan.fileCount == 1 {
            try forEachBatch(of: plan, including: { $0.kind == .file }, copies: true) { files += $0 }
        }
        guard plan.fileCount == 1, let record = files.first else {
            throw RestoreError("--stdout needs exactly one selected regular file; the selection has \(plan.fileCount)")
        }
        var volumes = VolumeReaders(paths: volumePaths)
        let decoder = try MemberDecoder(builder: builder, chunkSize: settings.chunkSize, cancellation: cancellation)
        let (reader, member, location) = try volumes.member(of: record)
        // First pass verifies; only verified bytes are written (second pass). A stage's failure names the file
        // (the data path does not know it; the tree restore's workers add it the same way).
        let digest: [UInt8]
        do {
            digest = try decoder.decode(
                record, reader: reader, member: member, location: location, context: environment.context) { _, _ in }
        } catch var failure as StageFailure where failure.path.isEmpty {
            failure.path = record.path
            throw failure
        }
        guard digest == record.sourceSHA256 else {
            throw RestoreError(
                "\(String(decoding: record.path, as: UTF8.self)): SHA-256 of the restored bytes does not match the "
                    + "catalog; nothing written")
        }
        let output = FileDescriptor(rawValue: fd)
        let written = try decoder.decode(record, reader: reader, member: member, location: location, context: environment.context) {
            bytes, _ in
            do throws(Errno) {
                try output.writeAll(bytes)
            } catch {
                throw RestoreError("cannot write to standard output", error)
            }
        }
        // The bytes written come from a second read: it must verify too (the volume could change in between).
        guard written == record.sourceSHA256 else {
            throw RestoreError(
                "\(String(decoding: record.path, as: UTF8.self)): the bytes written to standard output did not verify "
                    + "on the second read of the volume (it changed during the restore)")
        }
        summary.filesStored = 1
        summary.entriesStored = 1
        summary.bytesRead = record.size
    }

    // MARK: - Tree

    private func restoreTree(_ plan: RestorePlan, environment: RestoreEnvironment) throws {
        let target = try RestoreTarget(root: settings.whereDirectory)
        let main = try RestoreWorker(environment: environment, target: target, index: 0)
        if settings.workers <= 1 {
            try forEachBatch(of: plan, copies: true) { batch in
                for record in batch {
                    if cancellation.isCancelled { break }
                    main.restore(record)
                }
            }
        } else {
            try forEachBatch(of: plan, including: { $0.kind == .directory }, copies: false) { batch in
                for record in batch {
                    if cancellation.isCancelled { break }
                    main.restore(record)
                }
            }
            if !cancellation.isCancelled {
                let outcomes = try RestoreThreads.run(
                    count: settings.workers, environment: environment, target: target
                ) { queue in
                    try forEachBatch(of: plan, including: { $0.kind != .directory }, copies: true) { batch in
                        for range in RestoreThreads.batches(batch[...], builder: builder) {
                            queue.put(Array(batch[range]))
                        }
                        for record in batch where !RestoreThreads.isThreaded(record, builder: builder) {
                            if cancellation.isCancelled { break }
                            main.restore(record)
                        }
                    }
                }
                for outcome in outcomes { main.outcome.merge(outcome) }
            }
        }
        // Hard links last (see the type's documentation).
        try forEachBatch(of: plan, including: { _ in false }, copies: false, links: true) { batch in
            for record in batch {
                if cancellation.isCancelled { break }
                main.restore(record)
            }
        }
        main.applyDirectoryMetadata()
        target.syncFileSystem()
        let outcome = main.outcome
        messages += outcome.messages
        summary.add(outcome.counts)
    }
}

extension RestoreItem {
    /// The item restore hands the stages for a catalog row.
    init(_ record: FileRecord) {
        self.init(
            path: record.path, kind: record.kind, size: record.size, metadata: record.stageMetadata,
            stat: FileStat(
                dev: record.device, ino: record.inode, mode: record.mode, nlink: record.nlink, uid: record.uid,
                gid: record.gid, rdev: record.rdev, size: record.size, blocks: 0, atime: record.atime,
                mtime: record.mtime, ctime: record.ctime),
            fileIndex: record.fileIndex, linkTarget: record.linkTarget, jobID: record.jobID.rawValue)
    }
}
