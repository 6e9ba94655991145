/// One regular file's way through the data stages of its chain, in chain order: observers see the bytes,
/// transforms replace them, the last output goes to `emit` (the volume).
///
/// ```
///   source ─┬─► source observers (fed by the caller from the buffers it hashes: no copy, no second pass)
///           └─► step 1 ─► step 2 ─► … ─► emit          a step is a transform, or an observer after a transform
/// ```
///
/// Buffers are reused across chunks, so a file of any size needs only a few chunk-sized buffers. Every observer
/// ends with exactly one `finish` or `abandon`: callers that give up on a file call ``abandon(reason:)``.
struct DataPath {
    private enum Step {
        /// `index`: the data stage's position (into `work`).
        case transform(stage: String, any ByteTransform, index: Int)
        case observe(Int)  // index into `observers`
    }

    private struct Observer {
        var stage: String
        var observer: any ByteObserver
        var seesSource: Bool
        /// The data stage's position (into `work`).
        var index: Int
        var bytes: UInt64 = 0
        var ended = false
    }

    /// What one data stage did for this file (`backup --stats`): time in its hooks, bytes in and out.
    struct StageWork {
        var nanoseconds: UInt64 = 0
        var bytesIn: UInt64 = 0
        var bytesOut: UInt64 = 0
    }

    /// One entry per data stage when the job collects statistics, else empty (and nothing is timed): kept in the
    /// path, which the file's thread owns, and added to that thread's ``JobStatistics`` when the file is stored.
    private(set) var work: [StageWork] = []
    private var timed: Bool { !work.isEmpty }

    private var steps: [Step] = []
    private var buffers: [[UInt8]] = []
    private var observers: [Observer] = []
    /// Names of the transforming stages in the order they apply (what the volume member records).
    private(set) var transformStages: [String] = []
    /// The member-name suffix of the last transforming stage (`.gz`, `.gpg`), nil when it has none.
    private(set) var memberSuffix: String?
    /// The compression among the transforms, if any.
    private(set) var compression: OptionsBlock.Compression?
    private var transforms: [any ByteTransform] = []

    /// An empty path: the stored bytes are the source bytes.
    init() {}

    /// A path of transforms only, in the order they apply (restore's inverse transforms).
    init(transforms list: [(stage: String, transform: any ByteTransform)]) {
        for (stage, transform) in list {
            steps.append(.transform(stage: stage, transform, index: 0))
            transforms.append(transform)
            transformStages.append(stage)
        }
        buffers = Array(repeating: [], count: steps.count)
    }

    /// Builds the path of one file: each data stage's observer and transform, in chain order. With `timed`, each
    /// stage's time and bytes are counted in ``work`` (making its observer and transform included: a `gpg`
    /// transform wraps a session key there).
    init(stages: [any Stage], item: FileItem, chainEncrypts: Bool, context: StageContext, timed: Bool = false) throws {
        if timed { work = Array(repeating: StageWork(), count: stages.count) }
        do {
            for (index, stage) in stages.enumerated() {
                let placement = ObserverPlacement(seesSourceBytes: transforms.isEmpty, chainEncrypts: chainEncrypts)
                let started = timed ? Clock.nanoseconds() : 0
                defer { if timed { work[index].nanoseconds &+= Clock.nanoseconds() &- started } }
                do {
                    if let observer = try stage.makeObserver(for: item, placement: placement, context: context) {
                        observers.append(
                            Observer(stage: stage.name, observer: observer, seesSource: transforms.isEmpty, index: index))
                        if !transforms.isEmpty { steps.append(.observe(observers.count - 1)) }
                    }
                    if let transform = try stage.makeTransform(for: item, context: context) {
                        steps.append(.transform(stage: stage.name, transform, index: index))
                        transforms.append(transform)
                        transformStages.append(stage.name)
                        memberSuffix = stage.memberSuffix
                        if let compressing = stage as? CompressionStage { compression = compressing.compression }
                    }
                } catch {
                    throw (error as? StageFailure) ?? StageFailure(stage: stage.name, path: item.path, underlying: error)
                }
            }
        } catch let failure as StageFailure {
            abandon(reason: "stage \(failure.stage): \(failure.message)")
            throw failure
        }
        buffers = Array(repeating: [], count: steps.count)
    }

    /// True when a stage changes the bytes: the stored bytes are not the source bytes (no shortcut, no holes).
    var hasTransforms: Bool { !transforms.isEmpty }

    /// True when nothing but `emit` needs the bytes (no steps): the caller may write source buffers directly.
    var isEmpty: Bool { steps.isEmpty }

    /// True when some observer before every transform needs the source bytes.
    var observesSource: Bool { observers.contains { $0.seesSource && $0.observer.needsBytes } }

    /// The source observers that need bytes, for a caller that feeds them from another thread (the hasher).
    var sourceObservers: [any ByteObserver] {
        observers.filter { $0.seesSource && $0.observer.needsBytes }.map(\.observer)
    }

    /// Feeds source bytes to the source observers (on the caller's thread).
    mutating func observeSource(_ bytes: UnsafeRawBufferPointer) {
        for index in observers.indices where observers[index].seesSource {
            observers[index].bytes += UInt64(bytes.count)
            if timed {
                // The bytes go past an observer that needs none too (a checksum log reusing the host's digest).
                let stage = observers[index].index
                let started = Clock.nanoseconds()
                if observers[index].observer.needsBytes { observers[index].observer.observe(bytes) }
                work[stage].nanoseconds &+= Clock.nanoseconds() &- started
                work[stage].bytesIn &+= UInt64(bytes.count)
                work[stage].bytesOut &+= UInt64(bytes.count)
            } else if observers[index].observer.needsBytes {
                observers[index].observer.observe(bytes)
            }
        }
    }

    /// Counts source bytes that the caller handed to `sourceObservers` itself.
    mutating func countSource(_ count: UInt64) {
        for index in observers.indices where observers[index].seesSource {
            observers[index].bytes += count
            if timed {
                work[observers[index].index].bytesIn &+= count
                work[observers[index].index].bytesOut &+= count
            }
        }
    }

    /// Counts, with statistics, the time and bytes of data stage `index` done outside the path: the reads of the
    /// byte source of a stage that took the file over.
    mutating func charge(stage index: Int, nanoseconds: UInt64, bytesOut: UInt64) {
        guard timed else { return }
        work[index].nanoseconds &+= nanoseconds
        work[index].bytesOut &+= bytesOut
    }

    /// Pushes one chunk of source bytes through the steps (not the source observers: see `observeSource`).
    mutating func push(_ chunk: UnsafeRawBufferPointer, emit: (UnsafeRawBufferPointer) throws -> Void) throws {
        try run(from: 0, chunk, finishing: false, emit: emit)
    }

    /// Flushes every transform in order (each flush feeds the steps after it). Observers are finished separately
    /// (``finishObservers(sourceSHA256:)``), once the caller knows the source digest.
    mutating func finish(emit: (UnsafeRawBufferPointer) throws -> Void) throws {
        try [UInt8]().withUnsafeBytes { empty in
            try run(from: 0, empty, finishing: true, emit: emit)
        }
    }

    private mutating func run(
        from start: Int, _ input: UnsafeRawBufferPointer, finishing: Bool,
        emit: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        guard start < steps.count else {
            if input.count > 0 { try emit(input) }
            return
        }
        switch steps[start] {
        case .observe(let index):
            if input.count > 0 {
                observers[index].bytes += UInt64(input.count)
                let started = timed ? Clock.nanoseconds() : 0
                observers[index].observer.observe(input)
                if timed {
                    let stage = observers[index].index
                    work[stage].nanoseconds &+= Clock.nanoseconds() &- started
                    work[stage].bytesIn &+= UInt64(input.count)
                    work[stage].bytesOut &+= UInt64(input.count)
                }
            }
            try run(from: start + 1, input, finishing: finishing, emit: emit)
        case .transform(let stage, let transform, let index):
            var output: [UInt8] = []
            swap(&output, &buffers[start])
            output.removeAll(keepingCapacity: true)
            defer { swap(&output, &buffers[start]) }
            // Only the transform's own work is timed: the steps after it run below, outside this interval.
            let started = timed ? Clock.nanoseconds() : 0
            do {
                if input.count > 0 { try transform.process(input, into: &output) }
                if finishing { try transform.finish(into: &output) }
            } catch {
                throw StageFailure(stage: stage, path: [], underlying: error)
            }
            if timed {
                work[index].nanoseconds &+= Clock.nanoseconds() &- started
                work[index].bytesIn &+= UInt64(input.count)
                work[index].bytesOut &+= UInt64(output.count)
            }
            try output.withUnsafeBytes { produced in
                try run(from: start + 1, produced, finishing: finishing, emit: emit)
            }
        }
    }

    /// What the transforms hold as metadata before any byte went through them (a stage's key material, its
    /// settings): known before the data, so it can go into a streamed member's header.
    var earlyMetadata: [String: String] {
        var result: [String: String] = [:]
        for case let producer as any StageMetadataProducer in transforms {
            result.merge(producer.metadata) { _, new in new }
        }
        return result
    }

    /// Ends every observer with `finish`, in chain order, and returns what they produced merged with the
    /// transforms' metadata. An observer that throws fails the file: the ones after it are abandoned.
    mutating func finishObservers(sourceSHA256: [UInt8]?) throws -> ObserverResult {
        var result = ObserverResult(metadata: earlyMetadata)
        for index in observers.indices where !observers[index].ended {
            observers[index].ended = true
            let file = ObservedFile(
                sourceSHA256: observers[index].seesSource ? sourceSHA256 : nil, bytesObserved: observers[index].bytes)
            let started = timed ? Clock.nanoseconds() : 0
            // An index stage extracts its text here, a checksum stage writes its log line: the stage's time.
            defer { if timed { work[observers[index].index].nanoseconds &+= Clock.nanoseconds() &- started } }
            do {
                let produced = try observers[index].observer.finish(file)
                result.metadata.merge(produced.metadata) { _, new in new }
                if let document = produced.searchDocument { result.searchDocument = document }
            } catch {
                let failure =
                    (error as? StageFailure) ?? StageFailure(stage: observers[index].stage, path: [], underlying: error)
                abandon(reason: "stage \(failure.stage): \(failure.message)")
                throw failure
            }
        }
        return result
    }

    /// The file is not stored: every observer not yet ended hears why.
    mutating func abandon(reason: String) {
        for index in observers.indices where !observers[index].ended {
            observers[index].ended = true
            observers[index].observer.abandon(reason: reason)
        }
    }
}
