/// What one stage of a backup did: every stage of the chains (native, Python), the Options block's compression, and
/// the host's digest step (SHA-256 of the source and stored bytes, and the Options' `Signature`).
///
/// Counted by each thread on its own (``JobStatistics``) and added up when the threads end.
public struct StageStatistics: Sendable, Equatable {
    /// The stage string (`python3:module_path=...:module_name=noop`, `checksum:log=...`), `compression:GZIP6`, or
    /// `digest` for the host's digest step.
    public var name: String
    /// Entries offered to the stage's decision hook, directories, links and specials included (D1). 0 for
    /// compression and digest, which decide nothing.
    public var entriesSeen = 0
    /// Regular files offered to the stage's decision hook; for compression and digest, regular files whose bytes
    /// went through it.
    public var filesSeen = 0
    /// Regular files the stage's decision hook skipped (`bRC_Skip`): what `skipped_by_stage` counts.
    public var filesSkipped = 0
    /// Bytes the stage consumed: what its transform or observer was given. A stage that takes a file over (its
    /// `plugin_io` is the byte source) consumes nothing; one that only decides neither consumes nor produces.
    public var bytesIn: UInt64 = 0
    /// Bytes the stage passed on: a transform's output (compressed, encrypted), what an observer (checksum,
    /// index, digest) let through unchanged, what a taken-over file's byte source produced.
    public var bytesOut: UInt64 = 0
    /// Time spent in the stage's hooks and byte work, all threads added up (decision hooks, making and running
    /// observers and transforms, finishing them, reading a taken-over file's source).
    public var busyNanoseconds: UInt64 = 0
    /// Per-file time in the stage: its share of the decision hook's batch call (the batch's time divided by the
    /// entries offered) plus its byte work on the file. One sample per regular file that was skipped or stored.
    public var latency = LatencyHistogram()

    public init(name: String) {
        self.name = name
    }

    /// Busy time in seconds.
    var busySeconds: Double { Double(busyNanoseconds) / 1e9 }

    /// Bytes per busy second: the larger of what it consumed and what it produced (a byte source only produces),
    /// nil when it handled no bytes or took no measurable time.
    public var bytesPerSecond: Double? {
        let bytes = max(bytesIn, bytesOut)
        guard bytes > 0, busyNanoseconds > 0 else { return nil }
        return Double(bytes) / busySeconds
    }

    /// Files per busy second (seen, skipped or not), nil when it saw none or took no measurable time.
    public var filesPerSecond: Double? {
        guard filesSeen > 0, busyNanoseconds > 0 else { return nil }
        return Double(filesSeen) / busySeconds
    }

    /// Adds another thread's counts for the same stage.
    mutating func merge(_ other: StageStatistics) {
        entriesSeen += other.entriesSeen
        filesSeen += other.filesSeen
        filesSkipped += other.filesSkipped
        bytesIn &+= other.bytesIn
        bytesOut &+= other.bytesOut
        busyNanoseconds &+= other.busyNanoseconds
        latency.merge(other.latency)
    }
}
