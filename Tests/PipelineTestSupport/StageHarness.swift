import Pipeline

/// Tests one stage in isolation, in the spirit of swift-nio's `EmbeddedChannel`: no backup job, no files. Feed
/// entries (`feed` does a whole file; `decide`, `read`, `stream`, `abandon` do one step each), read the decision,
/// the metadata, the observer's result and the bytes the stage produced, run the inverse and the restore sink,
/// and check at the end that nothing was left over (`finish()` → `leftovers`, `isClean`).
public final class StageHarness {
    /// What one entry did inside the stage.
    public struct Result {
        public var decision: StageDecision
        public var item: FileItem
        /// The bytes after the stage's transform (the input unchanged when it has none); empty for skips.
        public var output: [UInt8]
        /// Metadata from the decision hook, the transform and the observer.
        public var metadata: [String: String]
        /// What the stage's observer returned (nil when it made none).
        public var observed: ObserverResult?
    }

    /// What a stage left undone when the job ended: each entry names the path.
    public struct Leftovers: Equatable, CustomStringConvertible {
        /// Files the stage took over whose byte source was never opened nor discarded.
        public var takeOversNeverOpened: [String] = []
        /// Transforms that were never finished.
        public var transformsNeverFinished: [String] = []
        /// Observers that heard neither `finish` nor `abandon`.
        public var observersNeverEnded: [String] = []

        public var isEmpty: Bool {
            takeOversNeverOpened.isEmpty && transformsNeverFinished.isEmpty && observersNeverEnded.isEmpty
        }

        public var description: String {
            "take-overs never opened: \(takeOversNeverOpened), transforms never finished: "
                + "\(transformsNeverFinished), observers never ended: \(observersNeverEnded)"
        }
    }

    public let stage: any Stage
    public let context: StageContext
    /// Where observers are told they sit (source bytes unless a test says otherwise).
    public var placement = ObserverPlacement(seesSourceBytes: true, chainEncrypts: false)
    public private(set) var events: [JobEvent] = []
    public private(set) var messages: [StageMessage] = []
    public private(set) var leftovers = Leftovers()
    private var nextIndex: Int64 = 0
    private var finished = false
    private var pendingTakeOvers: [[UInt8]: Bool] = [:]
    private var openTransforms: [String: Int] = [:]
    private var openObservers: [String: Int] = [:]

    /// Job data by job id and key: what the stage recorded at job start (`recordJobData`), plus what a test put
    /// in; the harness context answers `jobData(job:key:)` from it, so `restore` works as in a real job.
    private final class JobDataBox: Sendable {
        let data = Locked<[Int64: [String: [UInt8]]]>([:])
    }

    private let jobDataBox = JobDataBox()

    /// What the stage recorded with the job at its start (`StageContext.recordJobData`).
    public private(set) var recordedJobData: [JobDatum] = []

    public init(
        stage: any Stage, jobName: String = "harness", jobID: Int64 = 1, level: String = "Full",
        mode: StageContext.Mode = .backup, contentIndex: (any ContentIndexLookup)? = nil,
        jobData: [Int64: [String: [UInt8]]] = [:]
    ) throws {
        self.stage = stage
        let box = jobDataBox
        box.data.withLock { $0 = jobData }
        self.context = StageContext(
            mode: mode, jobID: jobID, jobName: jobName, level: level, fileSetName: "harness", contentIndex: contentIndex,
            jobData: { job, key in box.data.withLock { $0[job]?[key] } })
        try stage.handle(.jobStarted, context: context)
        events.append(.jobStarted)
        recordedJobData = context.takeRecordedJobData()
        box.data.withLock { data in
            for datum in recordedJobData { data[jobID, default: [:]][datum.key] = datum.value }
        }
    }

    /// An entry with the given stat data (nothing is read from disk: the harness is the source).
    public static func entry(
        path: String, kind: EntryKind = .file, size: UInt64, uid: UInt32 = 0, gid: UInt32 = 0, mode: UInt32? = nil,
        chain: [String] = []
    ) -> SelectedEntry {
        entry(path: Array(path.utf8), kind: kind, size: size, uid: uid, gid: gid, mode: mode, chain: chain)
    }

    /// An entry with a path of raw bytes (names that are not UTF-8).
    public static func entry(
        path: [UInt8], kind: EntryKind = .file, size: UInt64, uid: UInt32 = 0, gid: UInt32 = 0, mode: UInt32? = nil,
        chain: [String] = []
    ) -> SelectedEntry {
        let time = FileStat.Timestamp(seconds: 1_700_000_000, nanoseconds: 0)
        let type: UInt32 = kind == .directory ? 0o040000 : 0o100000
        let stat = FileStat(
            dev: 1, ino: 1, mode: type | (mode ?? (kind == .directory ? 0o755 : 0o644)), nlink: 1, uid: uid, gid: gid,
            rdev: 0, size: size, blocks: (size + 511) / 512, atime: time, mtime: time, ctime: time)
        return SelectedEntry(
            path: path, kind: kind, stat: stat, includeIndex: 0, blockIndex: 0, effectiveBlockIndex: 0,
            isTopLevel: false, chain: chain)
    }

    /// Runs the decision hook for one entry (a batch of one, as the host does).
    public func decide(
        path: String, kind: EntryKind = .file, size: UInt64 = 0, uid: UInt32 = 0, gid: UInt32 = 0
    ) throws -> (decision: StageDecision, item: FileItem) {
        try decide(StageHarness.entry(path: path, kind: kind, size: size, uid: uid, gid: gid, chain: [stage.name]))
    }

    /// Runs the decision hook for an entry built by the test.
    public func decide(_ entry: SelectedEntry) throws -> (decision: StageDecision, item: FileItem) {
        var batch = [FileItem(entry: entry, fileIndex: nextIndex)]
        nextIndex += 1
        let results = stage.decide(batch: &batch, context: context)
        let decision = try results.first?.get() ?? .core
        if decision == .takeOver && entry.kind == .file { pendingTakeOvers[entry.path] = true }
        return (decision, batch[0])
    }

    /// Reads the whole byte source of a file the stage took over.
    public func read(_ item: FileItem, chunkSize: Int = 4096) throws -> [UInt8] {
        pendingTakeOvers[item.path] = nil
        let source = try stage.openSource(for: item, context: context)
        var input: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: chunkSize)
        do {
            while true {
                let count = try buffer.withUnsafeMutableBytes { try source.read(into: $0) }
                if count == 0 { break }
                input += buffer[0..<count]
            }
        } catch {
            try? source.close()
            throw error
        }
        try source.close()
        return input
    }

    /// Tells the stage that a file it took over will not be stored (what the chain does after a later skip).
    public func discard(_ item: FileItem) {
        pendingTakeOvers[item.path] = nil
        stage.discardTakeOver(of: item, context: context)
    }

    /// Runs a file's bytes through the stage's observer and transform (the data role), in `chunkSize` pieces.
    /// The observer's `finish` gets the SHA-256 of `contents` when `placement.seesSourceBytes`.
    public func stream(_ item: FileItem, contents: [UInt8], chunkSize: Int = 4096) throws -> Result {
        let name = String(decoding: item.path, as: UTF8.self)
        let observer = try stage.makeObserver(for: item, placement: placement, context: context)
        if observer != nil { openObservers[name, default: 0] += 1 }
        let transform: (any ByteTransform)?
        do {
            transform = try stage.makeTransform(for: item, context: context)
        } catch {
            if let observer { end(observer, name, abandon: "\(error)") }
            throw error
        }
        if transform != nil { openTransforms[name, default: 0] += 1 }
        let digester = try Digester(.sha256)
        var output: [UInt8] = []
        var start = 0
        do {
            repeat {
                let end = min(contents.count, start + chunkSize)
                try contents[start..<end].withUnsafeBytes { chunk in
                    digester.update(chunk)
                    if let observer, observer.needsBytes, chunk.count > 0 { observer.observe(chunk) }
                    if let transform { try transform.process(chunk, into: &output) } else { output += chunk }
                }
                start = end
            } while start < contents.count
            if let transform {
                try transform.finish(into: &output)
                openTransforms[name, default: 1] -= 1
            }
        } catch {
            if let observer { end(observer, name, abandon: "\(error)") }
            throw error
        }
        var metadata = item.metadata
        if let producer = transform as? any StageMetadataProducer { metadata.merge(producer.metadata) { _, new in new } }
        var observed: ObserverResult?
        if let observer {
            openObservers[name, default: 1] -= 1
            let file = ObservedFile(
                sourceSHA256: placement.seesSourceBytes ? try digester.finalize() : nil, bytesObserved: UInt64(contents.count))
            let result = try observer.finish(file)
            metadata.merge(result.metadata) { _, new in new }
            observed = result
        }
        return Result(decision: .core, item: item, output: output, metadata: metadata, observed: observed)
    }

    /// Opens the stage's observer for a file and abandons it with `reason` after `observed` bytes (what the host
    /// does when a file cannot be read, changes while read, or a later stage fails it).
    public func abandon(_ item: FileItem, reason: String, after observed: [UInt8] = []) throws {
        guard let observer = try stage.makeObserver(for: item, placement: placement, context: context) else { return }
        if observer.needsBytes && !observed.isEmpty { observed.withUnsafeBytes { observer.observe($0) } }
        observer.abandon(reason: reason)
    }

    private func end(_ observer: any ByteObserver, _ name: String, abandon reason: String) {
        openObservers[name, default: 1] -= 1
        observer.abandon(reason: reason)
    }

    /// Offers one entry and, for a stored regular file, its bytes: the decision hook, then the byte source (when
    /// the stage took the file over) or `contents`, through the observer and the transform.
    public func feed(
        path: String, kind: EntryKind = .file, contents: [UInt8] = [], uid: UInt32 = 0, gid: UInt32 = 0,
        chunkSize: Int = 4096
    ) throws -> Result {
        let (decision, item) = try decide(
            StageHarness.entry(
                path: path, kind: kind, size: UInt64(contents.count), uid: uid, gid: gid, chain: [stage.name]))
        if case .skip = decision {
            return Result(decision: decision, item: item, output: [], metadata: item.metadata, observed: nil)
        }
        guard kind == .file else {
            return Result(decision: decision, item: item, output: [], metadata: item.metadata, observed: nil)
        }
        let input = decision == .takeOver ? try read(item, chunkSize: chunkSize) : contents
        var result = try stream(item, contents: input, chunkSize: chunkSize)
        result.decision = decision
        return result
    }

    /// Runs the stage's inverse over bytes it produced (what restore does).
    public func restore(_ stored: [UInt8], path: String, metadata: [String: String]) throws -> [UInt8] {
        let item = RestoreItem(path: Array(path.utf8), kind: .file, size: 0, metadata: metadata, jobID: context.jobID)
        guard let inverse = try stage.makeInverseTransform(for: item, context: context) else { return stored }
        var output: [UInt8] = []
        try stored.withUnsafeBytes { try inverse.process($0, into: &output) }
        try inverse.finish(into: &output)
        return output
    }

    /// Hands verified bytes to the stage's restore sink (a stage that took the file over at backup); false when
    /// the stage has no sink for it (the host would write the file).
    public func restoreToSink(_ bytes: [UInt8], item: RestoreItem, outputPath: String) throws -> Bool {
        guard let sink = try stage.openRestoreSink(for: item, outputPath: Array(outputPath.utf8), context: context)
        else { return false }
        do {
            try bytes.withUnsafeBytes { try sink.write($0) }
        } catch {
            try? sink.close(success: false)
            throw error
        }
        try sink.close(success: true)
        return true
    }

    /// Ends the job (file set end, job end) and returns every message the stage raised; `leftovers` then says
    /// what the stage or the test left undone.
    @discardableResult
    public func finish(succeeded: Bool = true) throws -> [StageMessage] {
        precondition(!finished, "finish() called twice")
        finished = true
        try stage.handle(.fileSetEnded, context: context)
        try stage.handle(.jobEnded(succeeded: succeeded), context: context)
        events += [.fileSetEnded, .jobEnded(succeeded: succeeded)]
        messages = context.drainMessages()
        leftovers = Leftovers(
            takeOversNeverOpened: pendingTakeOvers.keys.map { String(decoding: $0, as: UTF8.self) }.sorted(),
            transformsNeverFinished: openTransforms.filter { $0.value > 0 }.keys.sorted(),
            observersNeverEnded: openObservers.filter { $0.value > 0 }.keys.sorted())
        return messages
    }

    /// True once `finish()` ran, the stage raised no error message and nothing was left over.
    public var isClean: Bool { finished && !messages.contains { $0.severity == .error } && leftovers.isEmpty }
}
