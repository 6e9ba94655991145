#if canImport(Glibc)
import Glibc
#endif

/// The writer thread of a backup: takes prepared batches in walk order, appends members to the current volume
/// (rotating at `Maximum Volume Bytes`; a member is never split), appends the chunks of large and taken-over
/// files that `StreamPool` threads read and transform, in order, and hands file records to the catalog thread together with the volume to fsync first.
///
/// Confined to its thread: it counts what it stored in its own `summary` and merges it (with the volume names)
/// into the coordinator when it ends.
final class VolumeWriter {
    /// The job's records for its volumes: a label at the start of each (by volume number), the trailer that ends
    /// the last one (given the job's counts), and whether the trailer holds more than counts (Accurate deletions:
    /// a job that stored nothing still writes a volume for them).
    struct Labels: Sendable {
        var label: @Sendable (_ volume: Int) -> [VolumeMember.Record]
        var trailer: @Sendable (_ counts: JobSummary) -> [VolumeMember.Record]
        var trailerHasExtras: @Sendable () -> Bool
    }

    private let coordinator: JobCoordinator
    private let jobName: String
    private let labels: Labels
    private let context: StageContext
    private let jobID: JobID
    private let catalogQueue: BoundedQueue<BackupJob.CatalogBatch>

    private var writer: PaxWriter?
    private var volumeSync: VolumeSync?
    private var sequence = 0
    private var bytesSinceWriteback: UInt64 = 0
    /// What this thread stored, failed and wrote (volume names included).
    private var summary = JobSummary(jobID: 0, jobName: "", level: "", status: .running)
    private var batch = BackupJob.CatalogBatch()
    /// Text for the search index in `batch`: a batch also goes to the catalog once it holds this much, so the
    /// batches queued for the catalog thread stay small however much text the `index` stage extracts.
    private var batchTextBytes = 0
    private static let catalogBatchTextBytes = 4 << 20
    /// Batches sent to the catalog so far: the first is an eighth of ``BackupSettings/catalogBatch``, so the catalog
    /// thread starts while the rest of the job is still being read. On PostgreSQL that thread is the job's critical
    /// path (small corpus, server log: ten COPYs of 2,000 rows, ~60 ms each, back to back from the first batch to
    /// the job's end); with a first batch of 250 rows its first COPY ended 0.07 s after the start instead of 0.34 s.
    private var catalogBatches = 0
    /// Reads and transforms streamed files on other threads; this thread only appends their chunks.
    private let streams: StreamPool
    /// Where chunks a streamed file spilled are copied through (allocated with the first one).
    private var spillBuffer: [UInt8] = []
    /// With statistics: this thread's waits (for batches, streamed chunks, the catalog thread), which its time in
    /// the statistics leaves out.
    private let timed: Bool
    private var waitedNanoseconds: UInt64 = 0

    init(
        coordinator: JobCoordinator, jobName: String, labels: Labels, context: StageContext, jobID: JobID,
        catalogQueue: BoundedQueue<BackupJob.CatalogBatch>, streams: StreamPool
    ) {
        self.coordinator = coordinator
        self.jobName = jobName
        self.labels = labels
        self.context = context
        self.jobID = jobID
        self.catalogQueue = catalogQueue
        self.streams = streams
        timed = coordinator.settings.collectStatistics
    }

    /// Runs `body`, a wait for another thread, counting its time as waited (with statistics).
    @inline(__always)
    private func waiting<T>(_ body: () -> T) -> T {
        guard timed else { return body() }
        let started = Clock.nanoseconds()
        defer { waitedNanoseconds &+= Clock.nanoseconds() &- started }
        return body()
    }

    func run(from queue: BoundedQueue<PreparedBatch>) {
        let started = timed ? Clock.nanoseconds() : 0
        defer {
            if timed {
                var statistics = JobStatistics()
                statistics.volumeWriteNanoseconds = (Clock.nanoseconds() &- started) &- waitedNanoseconds
                coordinator.merge(statistics: statistics)
            }
        }
        var waiting: [Int: PreparedBatch] = [:]
        var next = 0
        while let prepared = self.waiting({ queue.take() }) {
            waiting[prepared.sequence] = prepared
            while let ready = waiting.removeValue(forKey: next) {
                if !coordinator.cancellation.isCancelled { process(ready) }
                next += 1
                _ = coordinator.inFlight.take()  // the walker may start one more batch
            }
        }
        do {
            // The last volume ends with the job trailer (end time, counts, Accurate deletions). A job that stored
            // nothing but recorded deletions still gets a volume, so `scan` can rebuild the deletions.
            if !coordinator.cancellation.isCancelled {
                if writer == nil && labels.trailerHasExtras() { _ = try currentWriter() }
                // The workers have all ended (and merged their counts) before the last batch reached this thread.
                var counts = coordinator.totals
                counts.add(summary)
                if let writer { try writer.appendGlobalHeader(records: labels.trailer(counts)) }
            }
            try closeVolume(status: "closed")
        } catch {
            coordinator.fail("\(error)")
        }
        flushCatalog()
        coordinator.merge(summary)
    }

    // MARK: - Volumes

    private func volumePath(_ number: Int) -> (name: String, path: String) {
        let safeJob = String(jobName.map { $0 == "/" ? "_" : $0 })
        let digits = String(number)
        let name = "\(safeJob)-\(jobID.rawValue)-\(String(repeating: "0", count: max(0, 4 - digits.count)))\(digits).tar"
        let directory = coordinator.settings.archiveDirectory
        return (name, directory.hasSuffix("/") ? directory + name : directory + "/" + name)
    }

    private func currentWriter() throws -> PaxWriter {
        if let writer, let maximum = coordinator.settings.maximumVolumeBytes, writer.offset >= maximum {
            try closeVolume(status: "full")
        }
        if let writer { return writer }
        sequence += 1
        let (name, path) = volumePath(sequence)
        try recordVolume(VolumeRecord(jobID: jobID, name: name, path: path, sequence: Int64(sequence)))
        let opened = try PaxWriter(path: path, mode: coordinator.settings.volumeMode)
        // Each volume starts with a job label, so `scan` can rebuild the job from volumes alone.
        try opened.appendGlobalHeader(records: labels.label(sequence))
        writer = opened
        volumeSync = try VolumeSync(path: path)
        summary.volumes.append(path)
        return opened
    }

    /// Commits the volume's row (status `open`) before its file exists, and waits for the catalog thread to say
    /// so: a job that dies while writing it (disk full, SIGKILL) leaves a row the next job or `prune` finds, so the
    /// partial file is never unknown to the catalog.
    private func recordVolume(_ record: VolumeRecord) throws {
        flushCatalog()  // rows of the previous volume first, in order
        let reply = BoundedQueue<Bool>(capacity: 1)
        var opening = BackupJob.CatalogBatch()
        opening.newVolumes = [(sequence, record)]
        opening.recorded = reply
        waiting { _ = catalogQueue.put(opening) }
        guard waiting({ reply.take() }) == true else {
            throw BackupError("cannot record volume \(record.path) in the catalog before writing it")
        }
    }

    private func closeVolume(status: String) throws {
        guard let writer else { return }
        try writer.close()
        batch.volumeUpdates.append((sequence, Int64(writer.offset), status))
        self.writer = nil
        // Everything in a closed volume is durable (close fsyncs): the rows may point into it.
        flushCatalog()
        volumeSync = nil
    }

    private func flushCatalog() {
        guard !batch.files.isEmpty || !batch.messages.isEmpty || !batch.newVolumes.isEmpty
            || !batch.volumeUpdates.isEmpty
        else { return }
        if let writer {
            // Gathered bytes must be in the file before the catalog thread fsyncs it.
            do {
                try writer.flush()
            } catch {
                coordinator.fail("cannot write volume: \(error)")
            }
        }
        batch.sync = volumeSync
        catalogBatches += 1
        let full = batch
        waiting { _ = catalogQueue.put(full) }
        batch = BackupJob.CatalogBatch()
        batchTextBytes = 0
    }

    private func wrote(_ bytes: UInt64) {
        bytesSinceWriteback += bytes
        if bytesSinceWriteback >= coordinator.settings.writebackInterval {
            volumeSync?.startWriteback()
            bytesSinceWriteback = 0
        }
    }

    // MARK: - Entries

    private func process(_ prepared: PreparedBatch) {
        batch.messages += prepared.messages
        // Streamed files are submitted to the pool up to `streams.window` ahead of the one being appended.
        let streamed = prepared.entries.indices.filter {
            if case .stream = prepared.entries[$0] { return true } else { return false }
        }
        var submitted: [Int: StreamedFile] = [:]
        var nextSubmit = 0
        func submitAhead() {
            while nextSubmit < streamed.count && submitted.count < streams.window {
                if case .stream(let request) = prepared.entries[streamed[nextSubmit]] {
                    submitted[streamed[nextSubmit]] = streams.submit(request)
                }
                nextSubmit += 1
            }
        }
        defer {
            // Files submitted and not appended (the job stops): their producers give up.
            for file in submitted.values { file.abandon(reason: "cancelled") }
        }
        for (index, entry) in prepared.entries.enumerated() {
            if coordinator.cancellation.isCancelled { break }
            switch entry {
            case .record(let record):
                batch.files.append(record)
            case .member(var member):
                // A later name of an inode links to the first name only if that name's data is in this job.
                if member.member.kind == .hardLink, let first = member.record.linkTarget, !storedLinkedFiles.contains(first) {
                    failedEntry(
                        member.record,
                        "hard link not stored: its first name \(String(decoding: first, as: UTF8.self)) was not stored")
                    continue
                }
                do {
                    noteRename(member.member, record: member.record)
                    if member.member.kind == .hardLink, let target = member.member.linkTarget,
                        let renamed = renamedMembers[target]
                    {
                        member.member.linkTarget = renamed
                    }
                    coordinator.progress.currentPath = member.record.path
                    let writer = try currentWriter()
                    let location = try member.data.withUnsafeBytes { try writer.append(member.member, data: $0) }
                    member.record.volumeID = Int64(sequence)
                    member.record.headerOffset = Int64(location.headerOffset)
                    member.record.dataOffset = Int64(location.dataOffset)
                    member.record.storedLength = Int64(member.data.count)
                    stored(member.record, sourceBytes: member.sourceBytes, storedBytes: UInt64(member.data.count))
                    wrote(UInt64(member.data.count) + 1024)
                } catch let error as VolumeError where writer?.isUsable ?? false {
                    // The writer refused this member (e.g. an xattr name it cannot encode): this file fails.
                    failedEntry(member.record, "cannot be stored: \(error.message)")
                } catch {
                    coordinator.fail("cannot write volume: \(error)")
                }
            case .stream(let request):
                submitAhead()
                if let file = submitted.removeValue(forKey: index) { stream(request, from: file) }
                submitAhead()
            }
            let rows = catalogBatches == 0 ? coordinator.settings.catalogBatch / 8 : coordinator.settings.catalogBatch
            if batch.files.count >= rows || batchTextBytes >= VolumeWriter.catalogBatchTextBytes {
                flushCatalog()
            }
        }
        context.drainMessages().forEach { batch.messages.append(JobMessage(jobID: jobID, $0)) }
    }

    /// Member names of multiply-linked files that got a codec suffix (`a.txt` stored as `a.txt.gz`), so that later
    /// hard-link members point at the name GNU tar can link to.
    private var renamedMembers: [[UInt8]: [UInt8]] = [:]

    /// Multiply-linked regular files whose data this job stored (hard links may point at them).
    private var storedLinkedFiles: Set<[UInt8]> = []

    /// Records an entry that could not be stored (a file counts as failed, anything else as an error), through
    /// the job's error policy.
    private func failedEntry(_ record: FileRecord, _ message: String, stage: String? = nil) {
        var record = record
        record.status = .failed
        record.error = message
        // Its error message is counted in the summary's errors where messages reach the catalog.
        if record.kind == .file { summary.filesFailed += 1 }
        let message = JobMessage(
            jobID: jobID, time: Clock.realtime(), severity: "error", stage: stage, path: record.path, text: message)
        guard coordinator.fileFailed(record, message) else { return }
        batch.files.append(record)
        batch.messages.append(message)
    }

    private func noteRename(_ member: VolumeMember, record: FileRecord) {
        guard member.kind == .file, record.nlink > 1 else { return }
        let plain = VolumeMember.memberName(record.path)
        if member.name != plain { renamedMembers[plain] = member.name }
    }

    /// - Parameter streamed: the producer counted the file's bytes for progress as it read them.
    private func stored(_ record: FileRecord, sourceBytes: UInt64, storedBytes: UInt64, streamed: Bool = false) {
        batch.files.append(record)
        batchTextBytes += record.searchDocument?.text?.utf8.count ?? 0
        if record.kind == .file && record.nlink > 1 { storedLinkedFiles.insert(record.path) }
        coordinator.progress.entries.add(1, ordering: .relaxed)
        if record.kind == .file {
            coordinator.progress.files.add(1, ordering: .relaxed)
            if !streamed { coordinator.progress.bytes.add(sourceBytes, ordering: .relaxed) }
        }
        summary.entriesStored += 1
        if record.kind == .file {
            summary.filesStored += 1
            summary.bytesRead += sourceBytes
        }
        summary.bytesStored += storedBytes
    }

    private func failed(_ request: StreamRequest, _ message: String, stage: String?) {
        failedEntry(request.record, stage.map { "stage \($0): \(message)" } ?? message, stage: stage)
    }

    /// Appends the first `count` bytes of `buffer` to the open member of `file`. A volume that cannot be written
    /// stops the job (and the file's producer): returns false then.
    private func append(_ buffer: [UInt8], _ count: Int, of file: StreamedFile, to writer: PaxWriter) -> Bool {
        do {
            try buffer.withUnsafeBytes { try writer.write(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
        } catch {
            file.abandon(reason: "cannot write volume: \(error)")
            coordinator.fail("cannot write volume: \(error)")
            return false
        }
        wrote(UInt64(count))
        return true
    }

    /// Appends one streamed file, produced on a pool thread (`StreamProducer`): the member header as soon as the
    /// producer sends it (size and digests are placeholders), the chunks in order, then the patched values and the
    /// record. A member the producer could not finish is dropped from the volume and the file recorded as failed.
    private func stream(_ request: StreamRequest, from file: StreamedFile) {
        // The writer waits here for this file's chunks: it is the file in progress until it is appended.
        coordinator.progress.currentPath = request.record.path
        let first = waiting { file.next() }
        guard case .header(let header)? = first else {
            // Failed before any data (no data path or source), or abandoned because the job stops.
            if case .failed(let message, let stage)? = first, !coordinator.cancellation.isCancelled {
                failed(request, message, stage: stage)
            }
            return
        }
        var record = header.record
        let writer: PaxWriter
        do {
            writer = try currentWriter()
            noteRename(header.member, record: record)
            let location = try writer.beginMember(header.member)
            record.volumeID = Int64(sequence)
            record.headerOffset = Int64(location.headerOffset)
            record.dataOffset = Int64(location.dataOffset)
        } catch let error as VolumeError where self.writer?.isUsable ?? false {
            file.abandon(reason: "cannot be stored: \(error.message)")
            failed(request, "cannot be stored: \(error.message)", stage: nil)
            return
        } catch {
            file.abandon(reason: "cannot write volume: \(error)")
            coordinator.fail("cannot write volume: \(error)")
            return
        }
        while true {
            switch waiting({ file.next() }) {
            case .data(let buffer, let count)?:
                guard append(buffer, count, of: file, to: writer) else { return }
                file.recycle(buffer)
            case .spilled(let offset, let length)?:
                // Produced ahead of its turn: copied from the file's spill file.
                if spillBuffer.isEmpty { spillBuffer = [UInt8](repeating: 0, count: coordinator.settings.chunkSize) }
                var done: UInt64 = 0
                while done < length {
                    let want = Int(min(length - done, UInt64(spillBuffer.count)))
                    var failure: Errno?
                    let count = spillBuffer.withUnsafeMutableBytes { raw -> Int in
                        do throws(Errno) {
                            return try file.readSpilled(
                                at: offset + done, into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<want]))
                        } catch {
                            failure = error
                            return 0
                        }
                    }
                    if count == 0, failure == nil { failure = Errno(EIO) }  // shorter than what was spilled
                    if let error = failure {
                        try? writer.abandonMember()
                        file.abandon(reason: error.message("cannot read the spill file"))
                        failed(request, error.message("cannot read the spill file"), stage: nil)
                        return
                    }
                    guard append(spillBuffer, count, of: file, to: writer) else { return }
                    done += UInt64(count)
                }
            case .finished(let result)?:
                let headerMetadata = record.stageMetadata
                let location = (record.volumeID, record.headerOffset, record.dataOffset)
                record = result.record
                (record.volumeID, record.headerOffset, record.dataOffset) = location
                do {
                    let length = try writer.finishMember(patching: VolumeMember.digestRecords(record))
                    record.storedLength = Int64(length)
                    // Metadata that stages produced with or after the data follows the member, so `scan` rebuilds it.
                    if record.stageMetadata != headerMetadata {
                        _ = try writer.appendGlobalHeader(records: VolumeMember.lateMetadataRecords(record))
                    }
                } catch {
                    coordinator.fail("cannot write volume: \(error)")
                    return
                }
                stored(record, sourceBytes: result.sourceBytes, storedBytes: result.storedBytes, streamed: true)
                return
            case .failed(let message, let stage)?:
                // Nothing half-written stays in the volume: the member is dropped and the file recorded as failed.
                do {
                    try writer.abandonMember()
                } catch {
                    coordinator.fail("cannot write volume: \(error)")
                    return
                }
                // A file interrupted by Ctrl-C is neither stored nor failed: the job is marked cancelled.
                if !coordinator.cancellation.isCancelled { failed(request, message, stage: stage) }
                return
            case .header?, nil:
                try? writer.abandonMember()
                if !coordinator.cancellation.isCancelled { coordinator.fail("streaming \(String(decoding: request.item.path, as: UTF8.self)) ended early") }
                return
            }
        }
    }
}

/// The host reading a regular file (when no stage took it over).
final class FileByteSource: ByteSource {
    let fd: Int32
    /// The file's size and times at the open (``ReadStamp``).
    let stamp: ReadStamp

    init(path: [UInt8], noAtime: Bool) throws {
        (fd, stamp) = try FileReader.openStamped(path, noAtime: noAtime)
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        do { return try FileDescriptor(rawValue: fd).read(into: buffer) } catch {
            throw FileReader.FileProblem.errno("read error", error.rawValue)
        }
    }

    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        do { return try FileDescriptor(rawValue: fd).read(at: offset, into: buffer) } catch {
            throw FileReader.FileProblem.errno("read error", error.rawValue)
        }
    }

    func close() throws {
        Glibc.close(fd)
    }
}
