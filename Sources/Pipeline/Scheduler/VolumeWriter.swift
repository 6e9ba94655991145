#if canImport(Glibc)
import Glibc
#endif

/// The writer thread of a backup: takes prepared batches in walk order, appends members to the current volume
/// (rotating at `Maximum Volume Bytes`; a member is never split), streams large and taken-over files chunk by
/// chunk, and hands file records to the catalog thread together with the volume to fsync first.
final class VolumeWriter: @unchecked Sendable {
    private unowned let job: BackupJob
    private let context: StageContext
    private let jobID: JobID
    private let catalogQueue: BoundedQueue<BackupJob.CatalogBatch>

    private var writer: PaxWriter?
    private var volumeSync: VolumeSync?
    private var sequence = 0
    private var bytesSinceWriteback: UInt64 = 0
    private(set) var volumeNames: [String] = []
    private var batch = BackupJob.CatalogBatch()
    /// Text for the search index in `batch`: a batch also goes to the catalog once it holds this much, so the
    /// batches queued for the catalog thread stay small however much text the `index` stage extracts.
    private var batchTextBytes = 0
    private static let catalogBatchTextBytes = 4 << 20
    private let sourceDigester = try! Digester(.sha256)
    private let storedDigester = try! Digester(.sha256)
    private var signatureDigesters: [DigestAlgorithm: Digester] = [:]
    private var chunk: [UInt8]
    /// Hashes streamed files' chunks on its own thread; started with the job's first streamed file.
    private var chunkHasher: ChunkHasher?
    private static let zeros = [UInt8](repeating: 0, count: 1 << 16)

    init(job: BackupJob, context: StageContext, jobID: JobID, catalogQueue: BoundedQueue<BackupJob.CatalogBatch>) {
        self.job = job
        self.context = context
        self.jobID = jobID
        self.catalogQueue = catalogQueue
        self.chunk = [UInt8](repeating: 0, count: job.settings.chunkSize)
    }

    func run(from queue: BoundedQueue<PreparedBatch>) {
        var waiting: [Int: PreparedBatch] = [:]
        var next = 0
        while let prepared = queue.take() {
            waiting[prepared.sequence] = prepared
            while let ready = waiting.removeValue(forKey: next) {
                if !job.cancellation.isCancelled { process(ready) }
                next += 1
                _ = job.inFlight.take()  // the walker may start one more batch
            }
        }
        do {
            // The last volume ends with the job trailer (end time, counts, Accurate deletions). A job that stored
            // nothing but recorded deletions still gets a volume, so `scan` can rebuild the deletions.
            if !job.cancellation.isCancelled {
                if writer == nil && !job.extraTrailerRecords().isEmpty { _ = try currentWriter() }
                if let writer { try writer.appendGlobalHeader(records: job.trailerRecords(jobID: jobID)) }
            }
            try closeVolume(status: "closed")
        } catch {
            job.fail("\(error)")
        }
        chunkHasher?.close()
        flushCatalog()
    }

    // MARK: - Volumes

    private func volumePath(_ number: Int) -> (name: String, path: String) {
        let safeJob = String(job.job.name.map { $0 == "/" ? "_" : $0 })
        let digits = String(number)
        let name = "\(safeJob)-\(jobID.rawValue)-\(String(repeating: "0", count: max(0, 4 - digits.count)))\(digits).tar"
        let directory = job.settings.archiveDirectory
        return (name, directory.hasSuffix("/") ? directory + name : directory + "/" + name)
    }

    private func currentWriter() throws -> PaxWriter {
        if let writer, let maximum = job.settings.maximumVolumeBytes, writer.offset >= maximum {
            try closeVolume(status: "full")
        }
        if let writer { return writer }
        sequence += 1
        let (name, path) = volumePath(sequence)
        let opened = try PaxWriter(path: path, mode: job.settings.volumeMode)
        // Each volume starts with a job label, so `scan` can rebuild the job from volumes alone.
        try opened.appendGlobalHeader(records: job.labelRecords(jobID: jobID, volumeSequence: sequence))
        writer = opened
        volumeSync = try VolumeSync(path: path)
        volumeNames.append(path)
        batch.newVolumes.append(
            (sequence, VolumeRecord(jobID: jobID, name: name, path: path, sequence: Int64(sequence))))
        return opened
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
                job.fail("cannot write volume: \(error)")
            }
        }
        batch.sync = volumeSync
        catalogQueue.put(batch)
        batch = BackupJob.CatalogBatch()
        batchTextBytes = 0
    }

    private func wrote(_ bytes: UInt64) {
        bytesSinceWriteback += bytes
        if bytesSinceWriteback >= job.settings.writebackInterval {
            volumeSync?.startWriteback()
            bytesSinceWriteback = 0
        }
    }

    // MARK: - Entries

    private func process(_ prepared: PreparedBatch) {
        batch.messages += prepared.messages
        for entry in prepared.entries {
            if job.cancellation.isCancelled { break }
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
                    job.fail("cannot write volume: \(error)")
                }
            case .stream(let request):
                stream(request)
            }
            if batch.files.count >= job.settings.catalogBatch || batchTextBytes >= VolumeWriter.catalogBatchTextBytes {
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

    /// Records an entry that could not be stored (a file counts as failed, anything else as an error).
    private func failedEntry(_ record: FileRecord, _ message: String) {
        var record = record
        record.status = .failed
        record.error = message
        batch.files.append(record)
        batch.messages.append(
            JobMessage(jobID: jobID, time: Clock.realtime(), severity: "error", stage: nil, path: record.path, text: message))
        job.progress.errors.add(1, ordering: .relaxed)
        job.withLock {
            if record.kind == .file { $0.filesFailed += 1 } else { $0.errors += 1 }
        }
    }

    private func noteRename(_ member: VolumeMember, record: FileRecord) {
        guard member.kind == .file, record.nlink > 1 else { return }
        let plain = VolumeMember.memberName(record.path)
        if member.name != plain { renamedMembers[plain] = member.name }
    }

    private func stored(_ record: FileRecord, sourceBytes: UInt64, storedBytes: UInt64) {
        batch.files.append(record)
        batchTextBytes += record.searchDocument?.text?.utf8.count ?? 0
        if record.kind == .file && record.nlink > 1 { storedLinkedFiles.insert(record.path) }
        job.progress.entries.add(1, ordering: .relaxed)
        if record.kind == .file {
            job.progress.files.add(1, ordering: .relaxed)
            job.progress.bytes.add(sourceBytes, ordering: .relaxed)
        }
        job.withLock { summary in
            summary.entriesStored += 1
            if record.kind == .file {
                summary.filesStored += 1
                summary.bytesRead += sourceBytes
            }
            summary.bytesStored += storedBytes
        }
    }

    private func failed(_ request: StreamRequest, _ message: String, stage: String?) {
        var record = request.record
        record.status = .failed
        record.error = stage.map { "stage \($0): \(message)" } ?? message
        let message = JobMessage(
            jobID: jobID, time: Clock.realtime(), severity: "error", stage: stage, path: record.path,
            text: record.error!)
        job.progress.errors.add(1, ordering: .relaxed)
        job.withLock { $0.filesFailed += 1 }
        if job.settings.stageErrorPolicy == .fail {
            job.failByPolicy(record, message)
            return
        }
        batch.files.append(record)
        batch.messages.append(message)
    }

    /// Streams one regular file: source (file or stage), digests, transforms, volume; never the whole file in
    /// memory. The member header is written first; its size and digest records are patched at the end.
    private func stream(_ request: StreamRequest) {
        var record = request.record
        var member = request.member
        let item = request.item
        // The data path first, so that observers hear of a file that cannot be opened.
        var path: DataPath
        do {
            path = try request.chain.dataPath(for: item, context: context)
        } catch let failure as StageFailure {
            failed(request, failure.message, stage: failure.stage)
            return
        } catch {
            failed(request, "\(error)", stage: nil)
            return
        }
        // The byte source: the stage that took the file over, or the file itself.
        let source: any ByteSource
        var sparse: [(offset: UInt64, length: UInt64)]?
        do {
            if let index = request.sourceStage {
                source = try request.chain.stages[index].openSource(for: item, context: context)
            } else {
                let file = try FileByteSource(path: item.path, noAtime: request.noAtime)
                source = file
                sparse = FileReader.sparseSegments(fd: file.fd, size: item.stat.size)
            }
        } catch let failure as StageFailure {
            path.abandon(reason: "stage \(failure.stage): \(failure.message)")
            failed(request, failure.message, stage: failure.stage)
            return
        } catch {
            path.abandon(reason: "\(error)")
            failed(request, "\(error)", stage: nil)
            return
        }
        defer { try? source.close() }

        if path.hasTransforms { sparse = nil }  // holes are kept only for untransformed data
        if path.hasTransforms {
            member.applyTransforms(suffix: path.memberSuffix, compression: path.compression, record: &record)
        }
        record.compression = member.compressionName
        // What the transforms know before the data (a stage's wrapped key, its settings) goes into the header.
        record.stageMetadata.merge(path.earlyMetadata) { _, new in new }
        if let sparse {
            member.sparse = VolumeMember.SparseLayout(
                realSize: item.stat.size,
                segments: sparse.map { VolumeMember.SparseLayout.Segment(offset: $0.offset, length: $0.length) })
            record.sparse = true
        }
        member.records += VolumeMember.catalogRecords(record, jobID: jobID)
        let headerMetadata = record.stageMetadata
        member.records += VolumeMember.digestPlaceholders(signature: request.signature)

        // The source SHA-256 doubles as a SHA256 signature, and as the stored digest when nothing transforms
        // the bytes and no holes are left out: each is computed once. Observers do not change the bytes.
        let storedIsSource = !path.hasTransforms && sparse == nil
        let signature = request.signature.flatMap { algorithm -> Digester? in
            if algorithm == .sha256 { return nil }
            let digester = try! signatureDigesters[algorithm] ?? Digester(algorithm)
            signatureDigesters[algorithm] = digester
            return digester
        }
        sourceDigester.reset()
        storedDigester.reset()
        let writer: PaxWriter
        do {
            writer = try currentWriter()
            noteRename(member, record: record)
            let location = try writer.beginMember(member)
            record.volumeID = Int64(sequence)
            record.headerOffset = Int64(location.headerOffset)
            record.dataOffset = Int64(location.dataOffset)
        } catch let error as VolumeError where self.writer?.isUsable ?? false {
            path.abandon(reason: "cannot be stored: \(error.message)")
            failed(request, "cannot be stored: \(error.message)", stage: nil)
            return
        } catch {
            path.abandon(reason: "cannot write volume: \(error)")
            job.fail("cannot write volume: \(error)")
            return
        }
        var sourceBytes: UInt64 = 0
        var storedBytes: UInt64 = 0
        var readFailure: String?
        var failingStage: String?
        // The stored bytes' digest: on the hasher thread for a streamed file, here for a sparse one.
        var hashStored: (UnsafeRawBufferPointer) -> Void = { [storedDigester] in storedDigester.update($0) }
        func emit(_ bytes: UnsafeRawBufferPointer) throws {
            if !storedIsSource { hashStored(bytes) }
            try writer.write(bytes)
            storedBytes += UInt64(bytes.count)
            wrote(UInt64(bytes.count))
        }
        func hashZeros(_ count: UInt64) {
            var left = count
            while left > 0 {
                let take = Int(min(left, UInt64(VolumeWriter.zeros.count)))
                VolumeWriter.zeros.withUnsafeBytes { zeros in
                    let slice = UnsafeRawBufferPointer(rebasing: zeros[0..<take])
                    sourceDigester.update(slice)
                    signature?.update(slice)
                    path.observeSource(slice)
                }
                left -= UInt64(take)
            }
        }
        do {
            if let sparse, let file = source as? FileByteSource {
                var position: UInt64 = 0
                for segment in sparse {
                    hashZeros(segment.offset - position)
                    var left = segment.length
                    var offset = segment.offset
                    while left > 0 {
                        let count = try chunk.withUnsafeMutableBytes { buffer in
                            try file.read(at: offset, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<Int(min(left, UInt64(buffer.count)))]))
                        }
                        if count == 0 { throw FileReader.FileProblem(message: "changed while being read (shorter than its sparse map)") }
                        try chunk.withUnsafeBytes { buffer in
                            let data = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
                            sourceDigester.update(data)
                            signature?.update(data)
                            path.observeSource(data)
                            try emit(data)
                        }
                        left -= UInt64(count)
                        offset += UInt64(count)
                        sourceBytes += UInt64(count)
                    }
                    position = segment.offset + segment.length
                }
                hashZeros(item.stat.size - position)
                sourceBytes = item.stat.size
                // Holes are not read: a file written to while its map was taken must not pass as unchanged.
                var after = stat()
                if fstat(file.fd, &after) != 0 || UInt64(after.st_size) != item.stat.size
                    || Int64(after.st_mtim.tv_sec) != item.stat.mtime.seconds
                    || Int32(after.st_mtim.tv_nsec) != item.stat.mtime.nanoseconds
                {
                    readFailure = "changed while being read (sparse file modified during the backup)"
                }
            } else {
                // The source digests run on a hasher thread, overlapping the copy into the volume.
                let hasher = chunkHasher ?? ChunkHasher(chunkSize: job.settings.chunkSize)
                chunkHasher = hasher
                hasher.start(
                    digesters: [sourceDigester] + (signature.map { [$0] } ?? []), observers: path.sourceObservers,
                    storedDigesters: storedIsSource ? [] : [storedDigester])
                hashStored = { hasher.submitCopy($0) }
                defer { hasher.wait() }
                while true {
                    if job.cancellation.isCancelled { throw BackupError("cancelled") }
                    var buffer = hasher.buffer()
                    let count = try buffer.withUnsafeMutableBytes { try source.read(into: $0) }
                    if count == 0 {
                        hasher.recycle(buffer)
                        break
                    }
                    if request.sourceStage == nil && sourceBytes + UInt64(count) > item.stat.size {
                        // A file that keeps growing (a log being written) must not be read forever.
                        throw FileReader.FileProblem(
                            message: "changed while being read (grew beyond its size \(item.stat.size) at the walk)")
                    }
                    try buffer.withUnsafeBytes { raw in
                        let data = UnsafeRawBufferPointer(rebasing: raw[0..<count])
                        sourceBytes += UInt64(count)
                        path.countSource(UInt64(count))
                        if path.isEmpty { try emit(data) } else { try path.push(data, emit: emit) }
                    }
                    hasher.submit(buffer, count: count)
                }
                try path.finish(emit: emit)
                hasher.wait()
                if request.sourceStage == nil && sourceBytes != item.stat.size {
                    readFailure = "changed while being read (size \(item.stat.size) at the walk, \(sourceBytes) read)"
                }
            }
        } catch let failure as StageFailure {
            readFailure = failure.message
            failingStage = failure.stage
        } catch let error as VolumeError {
            path.abandon(reason: "cannot write volume: \(error)")
            job.fail("cannot write volume: \(error)")
            return
        } catch {
            readFailure = "\(error)"
        }
        if readFailure == nil {
            do {
                let digest = sourceDigester.finalize()
                record.sourceSHA256 = digest
                let observed = try path.finishObservers(sourceSHA256: digest)
                record.stageMetadata.merge(observed.metadata) { _, new in new }
                record.searchDocument = observed.searchDocument
            } catch let failure as StageFailure {
                readFailure = failure.message
                failingStage = failure.stage
            } catch {
                readFailure = "\(error)"
            }
        }
        if let readFailure {
            path.abandon(reason: failingStage.map { "stage \($0): \(readFailure)" } ?? readFailure)
            // Nothing half-written stays in the volume: the member is dropped and the file recorded as failed.
            do {
                try writer.abandonMember()
            } catch {
                job.fail("cannot write volume: \(error)")
                return
            }
            // A file interrupted by Ctrl-C is neither stored nor failed: the job is marked cancelled.
            if !job.cancellation.isCancelled { failed(request, readFailure, stage: failingStage) }
            return
        }
        do {
            let sourceDigest = record.sourceSHA256 ?? sourceDigester.finalize()
            record.storedSHA256 = storedIsSource ? sourceDigest : storedDigester.finalize()
            if let algorithm = request.signature {
                record.signatureAlgorithm = algorithm.rawValue
                record.signature = signature?.finalize() ?? sourceDigest
            }
            let length = try writer.finishMember(patching: VolumeMember.digestRecords(record))
            record.storedLength = Int64(length)
            // Metadata that stages produced with or after the data follows the member, so `scan` rebuilds it.
            if record.stageMetadata != headerMetadata {
                _ = try writer.appendGlobalHeader(records: VolumeMember.lateMetadataRecords(record))
            }
        } catch {
            job.fail("cannot write volume: \(error)")
            return
        }
        stored(record, sourceBytes: sourceBytes, storedBytes: storedBytes)
    }
}

/// The host reading a regular file (when no stage took it over).
final class FileByteSource: ByteSource {
    let fd: Int32

    init(path: [UInt8], noAtime: Bool) throws {
        fd = try FileReader.open(path, noAtime: noAtime)
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
