#if canImport(Glibc)
import Glibc
#endif

/// Reads, hashes and transforms streamed files (large, sparse, or taken over by a stage) on a `StreamPool`
/// thread, chunk by chunk, and hands the stored bytes to the volume writer through a `StreamedFile`. One
/// producer per pool thread, never shared: its digesters are reused file after file.
///
/// Per file: the data path (observers, transforms) and the byte source are opened, the member header is sent
/// (its size and digests are placeholders the writer patches at the end), then the data, then the record with
/// its digests, or the reason the file is not stored. Every observer ends with `finish` or `abandon`, here.
final class StreamProducer {
    private let context: StageContext
    private let jobID: JobID
    private let cancellation: CancellationFlag
    /// Source bytes are counted here chunk by chunk, so progress moves inside a large file.
    private let progress: ProgressCounters
    private let sourceDigester: Digester
    private let storedDigester: Digester
    private var signatureDigesters = SignatureDigesters()
    /// Where transformed files are read (the chunks sent are transform output).
    private var readBuffer: [UInt8]
    private static let zeros = [UInt8](repeating: 0, count: 1 << 16)
    /// This thread's statistics (`backup --stats`), nil when the job collects none.
    private(set) var statistics: JobStatistics?

    /// - Throws: `DigestError` when libcrypto cannot give this thread its SHA-256 states.
    init(
        context: StageContext, jobID: JobID, cancellation: CancellationFlag, chunkSize: Int, progress: ProgressCounters,
        collectStatistics: Bool = false
    ) throws(DigestError) {
        if collectStatistics { statistics = JobStatistics() }
        self.progress = progress
        sourceDigester = try Digester(.sha256)
        storedDigester = try Digester(.sha256)
        self.context = context
        self.jobID = jobID
        self.cancellation = cancellation
        readBuffer = [UInt8](repeating: 0, count: chunkSize)
    }

    /// A reason a file is not stored, with the stage that gave it (nil for the host).
    private struct NotStored: Error {
        var message: String
        var stage: String?
    }

    /// The writer abandoned the file (its volume refused the member, or the job stops).
    struct Abandoned: Error {}

    /// Produces one file into `file`. Returns once the last event is sent (or the writer abandoned the file).
    func produce(_ request: StreamRequest, into file: StreamedFile) {
        if file.abandonReason != nil { return }  // the writer gave up on it before it started
        var record = request.record
        var member = request.member
        let item = request.item
        // The data path first, so that observers hear of a file that cannot be opened.
        var path: DataPath
        do {
            path = try request.chain.dataPath(for: item, context: context, timed: statistics != nil)
        } catch let failure as StageFailure {
            _ = file.send(.failed(message: failure.message, stage: failure.stage))
            return
        } catch {
            _ = file.send(.failed(message: "\(error)", stage: nil))
            return
        }
        // A Signature other than SHA-256 needs its own digest state (reused file after file).
        let signature: Digester?
        do {
            signature = try signatureDigesters.digester(for: request.signature)
        } catch {
            path.abandon(reason: "\(error)")
            _ = file.send(.failed(message: "\(error)", stage: nil))
            return
        }
        // The byte source: the stage that took the file over, or the file itself.
        let source: any ByteSource
        var sparse: [(offset: UInt64, length: UInt64)]?
        /// The file's stamp at its open, when the host reads it: checked again after the last byte.
        var stamp: ReadStamp?
        do {
            if let index = request.sourceStage {
                source = try request.chain.stages[index].openSource(for: item, context: context)
            } else {
                let opened = try FileByteSource(path: item.path, noAtime: request.noAtime)
                source = opened
                stamp = opened.stamp
                sparse = FileReader.sparseSegments(fd: opened.fd, size: item.stat.size)
            }
        } catch let failure as StageFailure {
            path.abandon(reason: "stage \(failure.stage): \(failure.message)")
            _ = file.send(.failed(message: failure.message, stage: failure.stage))
            return
        } catch {
            path.abandon(reason: "\(error)")
            _ = file.send(.failed(message: "\(error)", stage: nil))
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
        member.records += VolumeMember.digestPlaceholders(signature: request.signature)
        guard file.send(.header(StreamedFile.Header(member: member, record: record))) else {
            path.abandon(reason: file.abandonReason ?? "cancelled")
            return
        }

        // The source SHA-256 doubles as a SHA256 signature, and as the stored digest when nothing transforms
        // the bytes and no holes are left out: each is computed once. Observers do not change the bytes.
        let storedIsSource = !path.hasTransforms && sparse == nil
        sourceDigester.reset()
        storedDigester.reset()
        var sourceBytes: UInt64 = 0
        var storedBytes: UInt64 = 0
        // With statistics: the host's digests (the `digest` row) and its reads of the file; a taken-over file's
        // reads are its stage's time (`DataPath.charge`).
        let timed = statistics != nil
        var digestNanoseconds: UInt64 = 0
        var readNanoseconds: UInt64 = 0
        let sourcePosition = request.sourceStage.map { request.chain.dataPosition(ofStage: $0) }
        func timing<T>(_ total: inout UInt64, _ body: () throws -> T) rethrows -> T {
            guard timed else { return try body() }
            let started = Clock.nanoseconds()
            defer { total &+= Clock.nanoseconds() &- started }
            return try body()
        }
        func read(_ body: () throws -> Int) throws -> Int {
            guard timed else { return try body() }
            let started = Clock.nanoseconds()
            let count = try body()
            let elapsed = Clock.nanoseconds() &- started
            if let sourcePosition {
                path.charge(stage: sourcePosition, nanoseconds: elapsed, bytesOut: UInt64(count))
            } else {
                readNanoseconds &+= elapsed
            }
            return count
        }
        do {
            func hashSource(_ data: UnsafeRawBufferPointer) {
                timing(&digestNanoseconds) {
                    sourceDigester.update(data)
                    signature?.update(data)
                }
                path.observeSource(data)
            }
            if !path.hasTransforms {
                // The stored bytes are the source bytes (minus holes): read straight into the buffers sent.
                var position: UInt64 = 0
                for segment in sparse ?? [(0, UInt64.max)] {
                    if sparse != nil {
                        hashZeros(segment.offset - position, hashSource)
                    }
                    var left = segment.length
                    var offset = segment.offset
                    while left > 0 {
                        if cancellation.isCancelled { throw BackupError("cancelled") }
                        // Into a free chunk buffer; with none free, into our own and then the spill file; without
                        // a spill file, wait for the writer to give a buffer back.
                        var buffer = file.freeBuffer()
                        if buffer == nil && !file.canSpill() {
                            guard let waited = file.waitForBuffer() else { throw Abandoned() }
                            buffer = waited
                        }
                        let want = Int(min(left, UInt64(file.chunkSize)))
                        func readChunk(_ raw: UnsafeMutableRawBufferPointer) throws -> Int {
                            let target = UnsafeMutableRawBufferPointer(rebasing: raw[0..<want])
                            if sparse != nil, let host = source as? FileByteSource {
                                return try host.read(at: offset, into: target)
                            }
                            return try source.read(into: target)
                        }
                        let count = try read {
                            try buffer != nil
                                ? buffer!.withUnsafeMutableBytes(readChunk) : readBuffer.withUnsafeMutableBytes(readChunk)
                        }
                        if count == 0 {
                            if sparse != nil {
                                throw NotStored(message: "changed while being read (shorter than its sparse map)")
                            }
                            break
                        }
                        if sparse == nil && request.sourceStage == nil && sourceBytes + UInt64(count) > item.stat.size {
                            // A file that keeps growing (a log being written) must not be read forever.
                            throw NotStored(
                                message: "changed while being read (grew beyond its size \(item.stat.size) at the walk)")
                        }
                        try (buffer ?? readBuffer).withUnsafeBytes { raw in
                            let data = UnsafeRawBufferPointer(rebasing: raw[0..<count])
                            hashSource(data)
                            if !storedIsSource { timing(&digestNanoseconds) { storedDigester.update(data) } }
                            if buffer == nil { try file.spill(data) }
                        }
                        if let buffer { guard file.send(.data(buffer, count: count)) else { throw Abandoned() } }
                        if sourceBytes == 0, stamp != nil { request.readHook?(item.path, 1) }
                        left -= UInt64(count)
                        offset += UInt64(count)
                        sourceBytes += UInt64(count)
                        storedBytes += UInt64(count)
                        progress.bytes.add(UInt64(count), ordering: .relaxed)
                    }
                    position = segment.offset &+ segment.length
                }
                if let sparse, let host = source as? FileByteSource {
                    hashZeros(item.stat.size - (sparse.last.map { $0.offset + $0.length } ?? 0), hashSource)
                    progress.bytes.add(item.stat.size &- sourceBytes, ordering: .relaxed)  // the holes
                    sourceBytes = item.stat.size
                    // Holes are not read: a file written to while its map was taken must not pass as unchanged.
                    var after = stat()
                    if fstat(host.fd, &after) != 0 || UInt64(after.st_size) != item.stat.size
                        || Int64(after.st_mtim.tv_sec) != item.stat.mtime.seconds
                        || Int32(after.st_mtim.tv_nsec) != item.stat.mtime.nanoseconds
                    {
                        throw NotStored(message: "changed while being read (sparse file modified during the backup)")
                    }
                }
            } else {
                // Transformed: source chunks go through the data path; its output is packed into chunks.
                var pending: [UInt8]? = nil
                var filled = 0
                func flush() throws {
                    guard let buffer = pending, filled > 0 else { return }
                    guard file.send(.data(buffer, count: filled)) else { throw Abandoned() }
                    pending = nil
                    filled = 0
                }
                func emit(_ bytes: UnsafeRawBufferPointer) throws {
                    timing(&digestNanoseconds) { storedDigester.update(bytes) }
                    storedBytes += UInt64(bytes.count)
                    var offset = 0
                    while offset < bytes.count {
                        if pending == nil {
                            // A free chunk buffer; with none free the rest goes to the spill file; without a
                            // spill file, wait for the writer to give a buffer back.
                            if let buffer = file.freeBuffer() {
                                pending = buffer
                            } else if file.canSpill() {
                                try file.spill(UnsafeRawBufferPointer(rebasing: bytes[offset...]))
                                return
                            } else {
                                guard let buffer = file.waitForBuffer() else { throw Abandoned() }
                                pending = buffer
                            }
                        }
                        let take = min(bytes.count - offset, file.chunkSize - filled)
                        pending!.withUnsafeMutableBytes { target in
                            UnsafeMutableRawBufferPointer(rebasing: target[filled..<(filled + take)])
                                .copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + take)]))
                        }
                        filled += take
                        offset += take
                        if filled == file.chunkSize { try flush() }
                    }
                }
                while true {
                    if cancellation.isCancelled { throw BackupError("cancelled") }
                    let count = try read { try readBuffer.withUnsafeMutableBytes { try source.read(into: $0) } }
                    if count == 0 { break }
                    if request.sourceStage == nil && sourceBytes + UInt64(count) > item.stat.size {
                        throw NotStored(
                            message: "changed while being read (grew beyond its size \(item.stat.size) at the walk)")
                    }
                    if sourceBytes == 0, stamp != nil { request.readHook?(item.path, 1) }
                    sourceBytes += UInt64(count)
                    progress.bytes.add(UInt64(count), ordering: .relaxed)
                    try readBuffer.withUnsafeBytes { raw in
                        let data = UnsafeRawBufferPointer(rebasing: raw[0..<count])
                        hashSource(data)
                        try path.push(data, emit: emit)
                    }
                }
                try path.finish(emit: emit)
                try flush()
            }
            if request.sourceStage == nil && sparse == nil && sourceBytes != item.stat.size {
                throw NotStored(
                    message: "changed while being read (size \(item.stat.size) at the walk, \(sourceBytes) read)")
            }
            // Too large to read again: a file written to during its read is not stored (the member is dropped), so
            // no restore can hand back a mix of two versions as verified.
            if let stamp, let host = source as? FileByteSource, let change = stamp.change(of: host.fd) {
                throw NotStored(message: "changed while being read (\(change))")
            }
            let digest = try timing(&digestNanoseconds) { try sourceDigester.finalize() }
            record.sourceSHA256 = digest
            let observed = try path.finishObservers(sourceSHA256: digest)
            record.stageMetadata.merge(observed.metadata) { _, new in new }
            record.searchDocument = observed.searchDocument
            try timing(&digestNanoseconds) {
                record.storedSHA256 = storedIsSource ? digest : try storedDigester.finalize()
                if let algorithm = request.signature {
                    record.signatureAlgorithm = algorithm.rawValue
                    record.signature = try signature?.finalize() ?? digest
                }
            }
            if statistics != nil {
                statistics!.readNanoseconds &+= readNanoseconds
                statistics!.digested(
                    bytes: sourceBytes + (storedIsSource ? 0 : storedBytes), nanoseconds: digestNanoseconds)
                request.chain.record(stored: path, shares: request.decisionShares, into: &statistics!)
            }
        } catch is Abandoned {
            path.abandon(reason: file.abandonReason ?? "cancelled")
            return
        } catch {
            let (message, stage): (String, String?)
            switch error {
            case let failure as StageFailure: (message, stage) = (failure.message, failure.stage)
            case let notStored as NotStored: (message, stage) = (notStored.message, notStored.stage)
            default: (message, stage) = ("\(error)", nil)
            }
            path.abandon(reason: stage.map { "stage \($0): \(message)" } ?? message)
            _ = file.send(.failed(message: message, stage: stage))
            return
        }
        _ = file.send(.finished(StreamedFile.Result(record: record, sourceBytes: sourceBytes, storedBytes: storedBytes)))
    }

    /// Feeds `count` zeros (a hole of a sparse file) to the source digests and observers.
    private func hashZeros(_ count: UInt64, _ hash: (UnsafeRawBufferPointer) -> Void) {
        var left = count
        while left > 0 {
            let take = Int(min(left, UInt64(StreamProducer.zeros.count)))
            StreamProducer.zeros.withUnsafeBytes { zeros in hash(UnsafeRawBufferPointer(rebasing: zeros[0..<take])) }
            left -= UInt64(take)
        }
    }
}
