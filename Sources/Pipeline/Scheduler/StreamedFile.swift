import Synchronization

/// The hand-off of one streamed file (large, sparse, or taken over by a stage) from the thread that reads and
/// transforms it (a `StreamPool` thread) to the volume writer, which appends the chunks in order.
///
/// ```
///   pool thread: read ─► hash ─► transforms ─► chunk ─┐   events (at most `capacity` chunks waiting)
///                                                    ├─► header, data…, finished | failed ─► writer
///                ◄──────────── spare buffers ◄───────┘   (written chunks come back for reuse)
/// ```
///
/// Memory per file is bounded: at most `capacity` chunks wait, one is being filled and one written, and buffers
/// are reused. The writer ends a file early with ``abandon(reason:)`` (its volume refused the member, or the job
/// stops): the producer's next `send` then fails and it abandons its data path with that reason.
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
        case finished(Result)
        /// The file is not stored (unreadable, changed while read, a stage failed it, cancelled).
        case failed(message: String, stage: String?)
    }

    private let events: BoundedQueue<Event>
    private let spare: BoundedQueue<[UInt8]>
    private let abandonment = Mutex<String?>(nil)
    private let allocated = Atomic<Int>(0)
    let chunkSize: Int
    /// Buffers in circulation at most: `capacity` queued, one being filled, one being written.
    let bufferLimit: Int

    init(chunkSize: Int, capacity: Int) {
        self.chunkSize = chunkSize
        events = BoundedQueue(capacity: capacity)
        bufferLimit = capacity + 2
        spare = BoundedQueue(capacity: capacity + 2)
    }

    // MARK: Producer side

    /// Hands the next event to the writer, waiting while `capacity` chunks wait. False when the writer abandoned
    /// the file: the producer stops and abandons its data path with ``abandonReason``.
    func send(_ event: Event) -> Bool {
        events.put(event)
    }

    /// A buffer of `chunkSize` bytes to fill: a new one while fewer than `bufferLimit` exist, else one the writer
    /// gave back (waiting for it). Nil when the file was abandoned.
    func emptyBuffer() -> [UInt8]? {
        if allocated.load(ordering: .relaxed) < bufferLimit {
            allocated.add(1, ordering: .relaxed)
            return [UInt8](repeating: 0, count: chunkSize)
        }
        return spare.take()
    }

    /// Why the writer abandoned the file, once it did.
    var abandonReason: String? { abandonment.withLock { $0 } }

    // MARK: Writer side

    /// The next event in order; nil only after `abandon`.
    func next() -> Event? {
        events.take()
    }

    /// Gives a written buffer back to the producer.
    func recycle(_ buffer: [UInt8]) {
        spare.put(buffer)
    }

    /// The writer gives up on the file: the producer's waits end and it abandons the file with `reason`.
    func abandon(reason: String) {
        abandonment.withLock { if $0 == nil { $0 = reason } }
        events.close()
        spare.close()
    }
}
