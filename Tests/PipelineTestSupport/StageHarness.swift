import Pipeline

/// Tests one stage in isolation, in the spirit of swift-nio's `EmbeddedChannel`: feed entries, read the
/// decision, the metadata and the bytes the stage produced, run the inverse, and check at the end that nothing
/// was left over (`isClean`: no error messages, every event delivered).
public final class StageHarness {
    /// What one entry did inside the stage.
    public struct Result {
        public var decision: StageDecision
        public var item: FileItem
        /// The bytes after the stage's transform (the input unchanged when it has none); empty for skips.
        public var output: [UInt8]
        public var metadata: [String: String]
    }

    public let stage: any Stage
    public let context: StageContext
    public private(set) var events: [JobEvent] = []
    private var nextIndex: Int64 = 0
    private var finished = false

    public init(stage: any Stage, jobName: String = "harness") throws {
        self.stage = stage
        self.context = StageContext(mode: .backup, jobID: 1, jobName: jobName, level: "Full", fileSetName: "harness")
        try stage.handle(.jobStarted, context: context)
        events.append(.jobStarted)
    }

    /// A regular file entry with the given contents (nothing is read from disk: the harness is the source).
    public static func entry(
        path: String, kind: EntryKind = .file, size: UInt64, uid: UInt32 = 0, chain: [String] = []
    ) -> SelectedEntry {
        let time = FileStat.Timestamp(seconds: 1_700_000_000, nanoseconds: 0)
        let mode: UInt32 = kind == .directory ? 0o040755 : 0o100644
        let stat = FileStat(
            dev: 1, ino: 1, mode: mode, nlink: 1, uid: uid, gid: 0, rdev: 0, size: size, blocks: (size + 511) / 512,
            atime: time, mtime: time, ctime: time)
        return SelectedEntry(
            path: Array(path.utf8), kind: kind, stat: stat, includeIndex: 0, blockIndex: 0, effectiveBlockIndex: 0,
            isTopLevel: false, chain: chain)
    }

    /// Offers one entry: runs the decision hook and, for stored regular files, the transform over `contents`
    /// (fed in `chunkSize` pieces, or the stage's own byte source when it took the file over).
    public func feed(
        path: String, kind: EntryKind = .file, contents: [UInt8] = [], uid: UInt32 = 0, chunkSize: Int = 4096
    ) throws -> Result {
        var item = FileItem(
            entry: StageHarness.entry(path: path, kind: kind, size: UInt64(contents.count), uid: uid, chain: [stage.name]),
            fileIndex: nextIndex)
        nextIndex += 1
        let decision = try stage.decide(&item, context: context)
        if case .skip = decision { return Result(decision: decision, item: item, output: [], metadata: item.metadata) }
        guard kind == .file else { return Result(decision: decision, item: item, output: [], metadata: item.metadata) }
        var input = contents
        if decision == .takeOver {
            let source = try stage.openSource(for: item, context: context)
            input = []
            var buffer = [UInt8](repeating: 0, count: chunkSize)
            while true {
                let count = try buffer.withUnsafeMutableBytes { try source.read(into: $0) }
                if count == 0 { break }
                input += buffer[0..<count]
            }
            try source.close()
        }
        var output: [UInt8] = []
        var metadata = item.metadata
        if let transform = try stage.makeTransform(for: item, context: context) {
            var start = 0
            repeat {
                let end = min(input.count, start + chunkSize)
                try input[start..<end].withUnsafeBytes { try transform.process($0, into: &output) }
                start = end
            } while start < input.count
            try transform.finish(into: &output)
            if let producer = transform as? any StageMetadataProducer { metadata.merge(producer.metadata) { _, new in new } }
        } else {
            output = input
        }
        return Result(decision: decision, item: item, output: output, metadata: metadata)
    }

    /// Runs the stage's inverse over bytes it produced (what restore does).
    public func restore(_ stored: [UInt8], path: String, metadata: [String: String]) throws -> [UInt8] {
        let item = RestoreItem(path: Array(path.utf8), kind: .file, size: 0, metadata: metadata)
        guard let inverse = try stage.makeInverseTransform(for: item, context: context) else { return stored }
        var output: [UInt8] = []
        try stored.withUnsafeBytes { try inverse.process($0, into: &output) }
        try inverse.finish(into: &output)
        return output
    }

    /// Ends the job (file set end, job end) and returns every message the stage raised.
    @discardableResult
    public func finish(succeeded: Bool = true) throws -> [StageMessage] {
        precondition(!finished, "finish() called twice")
        finished = true
        try stage.handle(.fileSetEnded, context: context)
        try stage.handle(.jobEnded(succeeded: succeeded), context: context)
        events += [.fileSetEnded, .jobEnded(succeeded: succeeded)]
        messages = context.drainMessages()
        return messages
    }

    private var messages: [StageMessage] = []

    /// True once `finish()` ran and the stage raised no error message.
    public var isClean: Bool { finished && !messages.contains { $0.severity == .error } }
}
