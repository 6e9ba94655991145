/// Hashes the chunks of streamed files on its own thread while the writer thread copies them into the volume:
/// for large files SHA-256 (~0.9 s per GiB here) is the slowest step, and the copy (~0.3 s per GiB) overlaps it.
///
/// One hasher (one thread, four 1 MiB buffers) serves all streamed files of a writer, so memory stays flat and
/// no thread is started per file. Per file: `start(digesters:observers:storedDigesters:)`, then for each chunk
/// `buffer()` → read → write → `submit`; `wait()` returns once every submitted chunk is hashed, and only then may
/// the digesters be read. When stages transform the bytes, the writer also hands a copy of what it writes to
/// `submitCopy`, so the stored bytes' SHA-256 is off the writer thread too (which then only reads, transforms and
/// writes: for an encrypted 1 GiB stream that is the difference between ~270 and ~340 MB/s here).
final class ChunkHasher: @unchecked Sendable {
    /// One file's digesters and source observers. Safe to send: the writer hands them over with `start` and
    /// touches them again only after `wait()`, so exactly one thread uses them at a time.
    private final class Digesters: @unchecked Sendable {
        let list: [Digester]
        let observers: [any ByteObserver]
        init(_ list: [Digester], observers: [any ByteObserver] = []) {
            self.list = list
            self.observers = observers
        }
    }

    private enum Work {
        case chunk([UInt8], Int, Digesters)
        case barrier
    }

    private let work = BoundedQueue<Work>(capacity: 2)
    private let free = BoundedQueue<[UInt8]>(capacity: 4)
    private let drained = BoundedQueue<Void>(capacity: 1)
    private var thread: WorkerThread?
    private var current = Digesters([])
    private var currentStored = Digesters([])

    init(chunkSize: Int) {
        for _ in 0..<4 { free.put([UInt8](repeating: 0, count: chunkSize)) }
        let work = self.work
        let free = self.free
        let drained = self.drained
        thread = WorkerThread(name: "op-hash") {
            while let item = work.take() {
                switch item {
                case .chunk(let buffer, let count, let digesters):
                    buffer.withUnsafeBytes { raw in
                        let data = UnsafeRawBufferPointer(rebasing: raw[0..<count])
                        for digester in digesters.list { digester.update(data) }
                        for observer in digesters.observers { observer.observe(data) }
                    }
                    free.put(buffer)
                case .barrier:
                    drained.put(())
                }
            }
        }
    }

    deinit { close() }

    /// The digesters the next chunks update (one file's source digest and signature), and the observers that see
    /// the same source bytes (a checksum or index stage before every transform).
    func start(digesters: [Digester], observers: [any ByteObserver] = [], storedDigesters: [Digester] = []) {
        current = Digesters(digesters, observers: observers)
        currentStored = Digesters(storedDigesters)
    }

    /// An empty buffer to read the next chunk into (waits while all are being hashed).
    func buffer() -> [UInt8] {
        free.take() ?? []
    }

    /// Hands a chunk over for hashing (the first `count` bytes of `buffer`).
    func submit(_ buffer: [UInt8], count: Int) {
        work.put(.chunk(buffer, count, current))
    }

    /// Hands a copy of `bytes` (what the writer stores, after the transforms) over for the stored digesters: the
    /// caller's buffer is free again at once. Chunks are hashed in the order they were handed over.
    func submitCopy(_ bytes: UnsafeRawBufferPointer) {
        var offset = 0
        while offset < bytes.count {
            var buffer = self.buffer()
            guard !buffer.isEmpty else { return }  // closed: nothing is hashed any more
            let take = min(buffer.count, bytes.count - offset)
            buffer.withUnsafeMutableBytes { target in
                target.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + take)]))
            }
            work.put(.chunk(buffer, take, currentStored))
            offset += take
        }
    }

    /// Gives back a buffer that carried no data.
    func recycle(_ buffer: [UInt8]) {
        free.put(buffer)
    }

    /// Returns once every chunk submitted so far is hashed.
    func wait() {
        guard thread != nil else { return }
        work.put(.barrier)
        _ = drained.take()
    }

    /// Ends the thread (after the chunks submitted so far). Idempotent.
    func close() {
        guard let thread else { return }
        work.close()
        thread.join()
        self.thread = nil
    }
}
