/// Hashes the chunks of a streamed file on its own thread while the writer thread copies them into the volume:
/// for large files SHA-256 (~0.9 s per GiB here) is the slowest step, and the copy (~0.3 s per GiB) overlaps it.
///
/// The writer takes an empty buffer (`buffer()`), reads into it, writes it out, then `submit`s it; the hasher
/// thread updates the digesters in order and hands the buffer back. Three 1 MiB buffers circulate, so memory
/// stays flat. `finish()` waits until every submitted chunk is hashed; only then may the digesters be read.
final class ChunkHasher: @unchecked Sendable {
    private final class Digesters: @unchecked Sendable {
        let list: [Digester]
        init(_ list: [Digester]) { self.list = list }
    }

    private let full = BoundedQueue<(buffer: [UInt8], count: Int)>(capacity: 2)
    private let free = BoundedQueue<[UInt8]>(capacity: 4)
    private var thread: WorkerThread?

    init(digesters: [Digester], chunkSize: Int) {
        for _ in 0..<3 { free.put([UInt8](repeating: 0, count: chunkSize)) }
        let full = self.full
        let free = self.free
        let box = Digesters(digesters)
        thread = WorkerThread(name: "op-hash") {
            while let (buffer, count) = full.take() {
                buffer.withUnsafeBytes { raw in
                    let data = UnsafeRawBufferPointer(rebasing: raw[0..<count])
                    for digester in box.list { digester.update(data) }
                }
                free.put(buffer)
            }
        }
    }

    deinit { finish() }

    /// An empty buffer to read the next chunk into (waits while all are being hashed).
    func buffer() -> [UInt8] {
        free.take() ?? []
    }

    /// Hands a chunk over for hashing (the first `count` bytes of `buffer`).
    func submit(_ buffer: [UInt8], count: Int) {
        full.put((buffer, count))
    }

    /// Gives back a buffer that carried no data.
    func recycle(_ buffer: [UInt8]) {
        free.put(buffer)
    }

    /// Waits until every submitted chunk is hashed. Idempotent.
    func finish() {
        guard let thread else { return }
        full.close()
        thread.join()
        self.thread = nil
    }
}
