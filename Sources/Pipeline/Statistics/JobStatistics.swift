/// Where a backup's time went, stage by stage and thread kind by thread kind (`backup --stats`, the `stats` object
/// of the JSON summary).
///
/// Each thread of the job counts in its own `JobStatistics` (a plain value no other thread sees: no atomics, no
/// locks per file) and hands it to the job's coordinator when it ends, which adds them up (``merge(_:)``). Stages
/// are indexed by the slot `StageChainBuilder` gives each distinct stage string and compression; the host's digest
/// step has its own row.
///
/// The times of the thread kinds overlap: the walker, the workers, the stream threads, the volume writer and the
/// catalog thread run at once, so `walk + read + stages + volumeWrite + catalog` may exceed the job's wall time (and
/// is at most wall time × threads).
public struct JobStatistics: Sendable, Equatable {
    /// By slot (`StageChainBuilder`), in the order the stages were first built; names are set when the job ends.
    public internal(set) var stages: [StageStatistics] = []
    /// The host's digest step: SHA-256 of every regular file's source bytes (and of its stored bytes when a stage
    /// transformed them), and the Options block's `Signature` when it is not SHA-256.
    public internal(set) var digest = StageStatistics(name: "digest")
    /// The walker thread's time walking (selecting entries, stat, Accurate comparison), not waiting for the workers.
    public internal(set) var walkNanoseconds: UInt64 = 0
    /// Time reading regular files the host reads (small files whole on the workers, streamed files chunk by chunk).
    /// Reading a taken-over file is its stage's time.
    public internal(set) var readNanoseconds: UInt64 = 0
    /// The volume writer's time appending members and chunks, rotating and closing volumes, not waiting for batches
    /// or for streamed chunks.
    public internal(set) var volumeWriteNanoseconds: UInt64 = 0
    /// The catalog thread's time making volumes durable and committing rows, not waiting for batches.
    public internal(set) var catalogNanoseconds: UInt64 = 0
    /// Threads of each kind the job ran (for reading the times above: each is at most wall time × its threads).
    public internal(set) var workerThreads = 0
    public internal(set) var streamThreads = 0

    public init() {}

    /// Busy time of every stage, the digest step included.
    public var stagesNanoseconds: UInt64 {
        stages.reduce(digest.busyNanoseconds) { $0 &+ $1.busyNanoseconds }
    }

    /// The stages that saw anything, then the digest step: what the table and the JSON list.
    public var rows: [StageStatistics] {
        stages.filter { $0.entriesSeen > 0 || $0.filesSeen > 0 || $0.busyNanoseconds > 0 } + [digest]
    }

    // MARK: - Recording (one thread's own value)

    /// Makes room for `slot`: a thread meets the stages as their files come.
    @inline(__always)
    mutating func reserve(_ slot: Int) {
        while stages.count <= slot { stages.append(StageStatistics(name: "")) }
    }

    /// A decision hook's call for a batch: `entries` offered (`files` of them regular files), `skipped` regular
    /// files it skipped, in `nanoseconds`.
    mutating func decided(slot: Int, entries: Int, files: Int, skipped: Int, nanoseconds: UInt64) {
        reserve(slot)
        stages[slot].entriesSeen += entries
        stages[slot].filesSeen += files
        stages[slot].filesSkipped += skipped
        stages[slot].busyNanoseconds &+= nanoseconds
    }

    /// One regular file's byte work in a stage (`nanoseconds`, already part of no busy time) plus its share of the
    /// decision hook's batch (`share`, already counted as busy): the latency sample. `counts` adds the file to
    /// `filesSeen` (compression, which has no decision hook).
    @inline(__always)
    mutating func file(
        slot: Int, share: UInt64, nanoseconds: UInt64, bytesIn: UInt64, bytesOut: UInt64, counts: Bool = false
    ) {
        reserve(slot)
        stages[slot].busyNanoseconds &+= nanoseconds
        stages[slot].bytesIn &+= bytesIn
        stages[slot].bytesOut &+= bytesOut
        stages[slot].latency.record(share &+ nanoseconds)
        if counts { stages[slot].filesSeen += 1 }
    }

    /// The host's digests of one regular file: `bytes` hashed in `nanoseconds`.
    @inline(__always)
    mutating func digested(bytes: UInt64, nanoseconds: UInt64) {
        digest.filesSeen += 1
        digest.bytesIn &+= bytes
        digest.bytesOut &+= bytes
        digest.busyNanoseconds &+= nanoseconds
        digest.latency.record(nanoseconds)
    }

    // MARK: - Merging

    /// Adds another thread's statistics.
    mutating func merge(_ other: JobStatistics) {
        for (slot, stage) in other.stages.enumerated() {
            reserve(slot)
            stages[slot].merge(stage)
        }
        digest.merge(other.digest)
        walkNanoseconds &+= other.walkNanoseconds
        readNanoseconds &+= other.readNanoseconds
        volumeWriteNanoseconds &+= other.volumeWriteNanoseconds
        catalogNanoseconds &+= other.catalogNanoseconds
    }

    /// Names the stage rows by slot (the builder's names), once the threads have ended.
    mutating func name(_ names: [String]) {
        for (slot, name) in names.enumerated() {
            reserve(slot)
            stages[slot].name = name
        }
    }
}
