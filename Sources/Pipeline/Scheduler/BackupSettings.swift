/// How a backup runs. Every default says why it was chosen.
public struct BackupSettings: Sendable {
    /// Worker threads that run decision hooks, read and hash files. Default: the number of cores (on this
    /// project's 2-core machines two workers keep the disk and one core busy while the writer runs).
    public var workers: Int
    /// Entries per batch handed between threads: hand-offs cost ~8 µs each (engineering notes), batching makes
    /// them negligible; 256 keeps a batch of small files well under a few MiB.
    var batchEntries = 256
    /// A batch is also closed once its files add up to this many bytes, so memory stays flat with big files.
    /// Up to `queueCapacity + workers + 2` batches are in flight (`JobCoordinator.inFlight`): at 2 MiB that held
    /// ~13 MiB of small-file data at the peak of a backup of the real corpus (heaptrack), at 1 MiB half of it.
    /// A 1 MiB batch still has ~120 files of 8 KiB, so the ~8 µs hand-off stays under 0.1 µs per file.
    public var batchBytes = 1 << 20
    /// Files up to this size are read whole by a worker; larger ones are streamed by the writer in `chunkSize`
    /// pieces (never a whole large file in memory).
    var smallFileLimit: UInt64 = 1 << 20
    public var chunkSize = 1 << 20
    /// Threads that read and transform streamed files (compression, encryption) for the writer, which only
    /// appends their chunks. Default: the number of cores, so N large compressed or encrypted files use N cores.
    var streamThreads: Int
    /// Chunks of one streamed file that may wait in memory for the writer. With `streamThreads + 1` files in flight
    /// and two more buffers each (one being filled, one being written) the default bounds streamed data in memory
    /// to (cores + 1) × 6 × `chunkSize`: 18 MiB on 2 cores, 54 MiB on 8. What a file produces beyond that before
    /// its turn goes to an unnamed spill file in the archive directory (see `StreamedFile`).
    var streamChunksPerFile = 4
    /// File records per catalog transaction (the notes measure ~98k rows/s at 1,000 per transaction).
    var catalogBatch = 2_000
    /// Batches waiting between stages; with `batchBytes` this bounds the data in flight.
    var queueCapacity = 4
    /// Where volumes go and how they are created (Archive resource or `--archive`).
    public var archiveDirectory: String
    public var maximumVolumeBytes: UInt64?
    public var volumeMode: UInt32 = 0o600
    public var stageErrorPolicy: Job.StageErrorPolicy = .continue
    /// Start writeback of volume data every this many bytes (sync_file_range), so the final fsync is short.
    var writebackInterval: UInt64 = 8 << 20
    /// Per-stage and per-thread statistics (`backup --stats`): off by default, because what they cost is measured,
    /// not assumed, and a job that nobody reads them for should not pay even that (docs/commands.md, `--stats`).
    public var collectStatistics = false
    /// Stage debug messages up to this level are kept (`-d N`; Bareos' debug level).
    public var debugLevel = 0
    /// Tests only: see ``ReadHook``.
    var readHook: ReadHook?

    public init(archiveDirectory: String, workers: Int? = nil) {
        self.archiveDirectory = archiveDirectory
        self.workers = max(1, workers ?? BackupSettings.processorCount)
        self.streamThreads = max(1, min(BackupSettings.processorCount, 8))
    }

    static var processorCount: Int {
        Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
    }
}

#if canImport(Glibc)
import Glibc
#endif
