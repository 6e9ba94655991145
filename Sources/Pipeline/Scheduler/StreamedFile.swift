internal import CLinux
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The hand-off of one streamed file (large, sparse, or taken over by a stage) from the thread that reads and
/// transforms it (a `StreamPool` thread) to the volume writer, which appends the stored bytes in order.
///
/// ```
///   pool thread: read ─► hash ─► transforms ─┬─► chunk in memory (at most `bufferLimit` buffers) ─┐
///                                            └─► spill file (when every buffer is taken)         ─┴─► events ─► writer
///                ◄──────────────────── written buffers come back for reuse ◄──────────────────────────────┘
/// ```
///
/// The writer appends one file at a time, in walk order, while pool threads produce the next ones: a file whose
/// turn has not come keeps at most `bufferLimit` chunks in memory and writes the rest to an unnamed spill file
/// (`O_TMPFILE` in the volume directory), which the writer copies when the file's turn comes. So memory stays
/// bounded and N large files are compressed or encrypted on N cores at once; the cost is one extra write and read
/// of what a file produces ahead of its turn (mostly in the page cache). Without a spill file (the file system
/// refuses `O_TMPFILE`) a producer waits for a buffer instead. Events carry no more than `bufferLimit` chunks, so
/// their queue needs no bound of its own.
///
/// The writer ends a file early with ``abandon(reason:)`` (its volume refused the member, or the job stops): the
/// producer's next `send` then fails and it abandons its data path with that reason.
final class StreamedFile: Sendable {
    /// What the producer knows before the data: the member (with its placeholders) and the record.
    struct Header: Sendable {
        var member: VolumeMember
        var record: FileRecord
    }

    /// What the producer knows after the data: the record with its digests and observers' metadata.
    struct Result: Sendable {
        var record: FileRecord
        var sourceBytes: UInt64
        var storedBytes: UInt64
    }

    enum Event: Sendable {
        case header(Header)
        /// The first `count` bytes of the buffer are the member's next stored bytes.
        case data([UInt8], count: Int)
        /// The member's next stored bytes are `length` bytes of the spill file at `offset`.
        case spilled(offset: UInt64, length: UInt64)
        case finished(Result)
        /// The file is not stored (unreadable, changed while read, a stage failed it, cancelled).
        case failed(message: String, stage: String?)
    }

    private struct Events: Sendable {
        var list: [Event] = []
        var closed = false
    }

    private let events = WaitableState(Events())
    private let spare: BoundedQueue<[UInt8]>
    private let abandonment = Locked<String?>(nil)
    private let allocated = Atomic<Int>(0)
    /// The spill file (-1 until the producer needs it; -2 once it could not be made) and its length.
    private let spill = Locked<(fd: Int32, end: UInt64)>((-1, 0))
    private let spillDirectory: String
    let chunkSize: Int
    /// Chunk buffers in memory at most (queued, being filled, being written).
    let bufferLimit: Int

    init(chunkSize: Int, buffers: Int, spillDirectory: String) {
        self.chunkSize = chunkSize
        self.spillDirectory = spillDirectory
        bufferLimit = max(2, buffers)
        spare = BoundedQueue(capacity: bufferLimit)
    }

    deinit {
        spill.withLock { if $0.fd >= 0 { Glibc.close($0.fd) } }
    }

    // MARK: Producer side

    /// Hands the next event to the writer (never waits). False when the writer abandoned the file: the producer
    /// stops and abandons its data path with ``abandonReason``.
    @discardableResult
    func send(_ event: Event) -> Bool {
        var accepted = false
        events.update {
            guard !$0.closed else { return }
            $0.list.append(event)
            accepted = true
        }
        return accepted
    }

    /// A buffer of `chunkSize` bytes to fill, if one is free now: a new one while fewer than `bufferLimit` exist,
    /// else one the writer gave back.
    func freeBuffer() -> [UInt8]? {
        if allocated.load(ordering: .relaxed) < bufferLimit {
            allocated.add(1, ordering: .relaxed)
            return [UInt8](repeating: 0, count: chunkSize)
        }
        return spare.tryTake()
    }

    /// A buffer to fill, waiting for the writer to give one back if need be (when there is no spill file). Nil
    /// when the file was abandoned.
    func waitForBuffer() -> [UInt8]? {
        freeBuffer() ?? spare.take()
    }

    /// True when the file has a spill file (made on first use in the spill directory; false for good when the
    /// file system cannot make one).
    func canSpill() -> Bool {
        spill.withLock { state in
            if state.fd == -1 {
                let fd = SystemCall.withCPath(Array(spillDirectory.utf8)) {
                    Glibc.open($0, clinux_O_TMPFILE | O_RDWR | O_CLOEXEC, 0o600)
                }
                state.fd = fd >= 0 ? fd : -2
            }
            return state.fd >= 0
        }
    }

    /// Appends `bytes` to the spill file (`canSpill()` was true) and tells the writer where they are, next to the
    /// previous spilled range when nothing came between.
    /// - Throws: `Errno` when the spill file cannot be written; `StreamProducer.Abandoned` when the writer
    ///   abandoned the file.
    func spill(_ bytes: UnsafeRawBufferPointer) throws {
        let offset = try spill.withLock { (state) throws(Errno) -> UInt64 in
            var written = 0
            while written < bytes.count {
                written += try SystemCall.retrying {
                    pwrite(state.fd, bytes.baseAddress! + written, bytes.count - written, off_t(state.end) + off_t(written))
                }
            }
            defer { state.end += UInt64(bytes.count) }
            return state.end
        }
        let length = UInt64(bytes.count)
        var accepted = false
        events.update {
            guard !$0.closed else { return }
            accepted = true
            if case .spilled(let start, let previous)? = $0.list.last, start + previous == offset {
                $0.list[$0.list.count - 1] = .spilled(offset: start, length: previous + length)
            } else {
                $0.list.append(.spilled(offset: offset, length: length))
            }
        }
        if !accepted { throw StreamProducer.Abandoned() }
    }

    /// Why the writer abandoned the file, once it did.
    var abandonReason: String? { abandonment.withLock { $0 } }

    // MARK: Writer side

    /// The next event in order, waiting for it; nil only after `abandon`.
    func next() -> Event? {
        events.wait(until: { !$0.list.isEmpty || $0.closed }) { state in
            state.list.isEmpty ? nil : state.list.removeFirst()
        }
    }

    /// Gives a written buffer back to the producer.
    func recycle(_ buffer: [UInt8]) {
        spare.put(buffer)
    }

    /// Reads spilled bytes at `offset` into `buffer`; returns how many (0 at the end of the spill file).
    func readSpilled(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        let fd = spill.withLock { $0.fd }
        return try SystemCall.retrying { pread(fd, buffer.baseAddress!, buffer.count, off_t(offset)) }
    }

    /// The writer gives up on the file: the producer's waits end and it abandons the file with `reason`.
    func abandon(reason: String) {
        abandonment.withLock { if $0 == nil { $0 = reason } }
        events.update {
            $0.closed = true
            $0.list.removeAll()
        }
        spare.close()
    }
}
