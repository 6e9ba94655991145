/// The stages of one chain (the `Plugin =` strings of one Options block, decision D1), applied with the
/// semantics of decision D2. Built once per distinct chain per job by `StageChainBuilder`.
///
/// ```
///   decide(batch:)   hooks in chain order; first .skip ends; a throw fails the file; two .takeOver fail it
///   dataPath(…)      observers and transforms of `dataStages` in chain order: the stages, with the block's
///                    compression stage placed before the first encrypting stage (or at the end)
///   inverse(…)       the data stages reversed, each stage's inverse
/// ```
public final class StageChain: Sendable {
    /// What the chain decided for one entry.
    public enum Outcome: Sendable {
        /// Store the entry; `source` is the index of the stage that took the I/O over (nil: the host reads).
        case store(source: Int?)
        /// Not stored: the stage (index and name) that answered skip, and its reason.
        case skip(stage: String, reason: String?)
        /// The file failed (stage error, exception, two take-overs).
        case failed(StageFailure)
    }

    /// The chain's stage strings in order (what the catalog records as `chain`).
    public let strings: [String]
    /// The stages of `strings`, in order (decision hooks run over these; `Outcome.store(source:)` indexes them).
    public let stages: [any Stage]
    /// The stages that see a regular file's bytes, in order: `stages` with the compression stage placed.
    let dataStages: [any Stage]
    /// The Options block's compression this chain applies, if any.
    let compression: CompressionStage?
    /// True when a data stage encrypts.
    let encrypts: Bool
    /// The statistics slot (``JobStatistics/stages``) of each of `stages` and of each of `dataStages`.
    let slots: [Int]
    let dataSlots: [Int]
    /// Where compression sits among `dataStages` (nil without compression).
    let compressionPosition: Int?

    /// A chain of `stages`; `compression` goes before the first encrypting stage, or at the end. `slots` and
    /// `compressionSlot` are their statistics slots (by default their positions, compression after them).
    init(
        strings: [String], stages: [any Stage], compression: CompressionStage? = nil, slots: [Int]? = nil,
        compressionSlot: Int? = nil
    ) {
        precondition(strings.count == stages.count)
        self.strings = strings
        self.stages = stages
        self.compression = compression
        let slots = slots ?? Array(stages.indices)
        var data = stages
        var dataSlots = slots
        var compressionPosition: Int?
        if let compression {
            let position = stages.firstIndex { $0.isEncrypting } ?? stages.count
            data.insert(compression, at: position)
            dataSlots.insert(compressionSlot ?? stages.count, at: position)
            compressionPosition = position
        }
        self.compressionPosition = compressionPosition
        self.dataStages = data
        self.slots = slots
        self.dataSlots = dataSlots
        self.encrypts = stages.contains { $0.isEncrypting }
    }

    /// Runs the decision hooks over a batch of entries that share this chain.
    public func decide(batch items: inout [FileItem], context: StageContext) -> [Outcome] {
        var statistics: JobStatistics?
        return decide(batch: &items, context: context, statistics: &statistics).outcomes
    }

    /// Runs the decision hooks over a batch; with `statistics` (the calling thread's own), each stage's call is timed
    /// and its entries, regular files and skips counted. `shares` gives, per stage of the chain, its call's time
    /// divided by the entries it was offered (the per-file part of its latency; 0 without statistics).
    func decide(
        batch items: inout [FileItem], context: StageContext, statistics: inout JobStatistics?
    ) -> (outcomes: [Outcome], shares: [UInt64]) {
        var shares = [UInt64](repeating: 0, count: statistics == nil ? 0 : stages.count)
        var outcomes = [Outcome](repeating: .store(source: nil), count: items.count)
        var takers: [Int: [Int]] = [:]  // item index -> stages that answered take-over
        var open = Array(items.indices)
        for (stageIndex, stage) in stages.enumerated() {
            guard !open.isEmpty else { break }
            var subset = open.map { items[$0] }
            let started = statistics == nil ? 0 : Clock.nanoseconds()
            let results = stage.decide(batch: &subset, context: context)
            if statistics != nil {
                let elapsed = Clock.nanoseconds() &- started
                var files = 0
                var skipped = 0
                for (position, item) in subset.enumerated() where item.kind == .file {
                    files += 1
                    if position < results.count, case .success(.skip) = results[position] { skipped += 1 }
                }
                statistics!.decided(
                    slot: slots[stageIndex], entries: subset.count, files: files, skipped: skipped, nanoseconds: elapsed)
                shares[stageIndex] = elapsed / UInt64(max(subset.count, 1))
            }
            var stillOpen: [Int] = []
            for (position, itemIndex) in open.enumerated() {
                // A stage may edit the items it was given, not add or remove them.
                if subset.count == open.count { items[itemIndex] = subset[position] }
                let result: Result<StageDecision, any Error> =
                    position < results.count
                    ? results[position]
                    : .failure(StageFailure(stage: stage.name, path: items[itemIndex].path, message: "gave no answer"))
                switch result {
                case .success(.core):
                    stillOpen.append(itemIndex)
                case .success(.skip(let reason)):
                    outcomes[itemIndex] = .skip(stage: stage.name, reason: reason)
                case .success(.takeOver):
                    takers[itemIndex, default: []].append(stageIndex)
                    if case .store(let source?) = outcomes[itemIndex] {
                        outcomes[itemIndex] = .failed(
                            StageFailure(
                                stage: stage.name, path: items[itemIndex].path,
                                message: "took the file over, but stage \(stages[source].name) already did"))
                    } else {
                        outcomes[itemIndex] = .store(source: stageIndex)
                        stillOpen.append(itemIndex)
                    }
                case .failure(let error):
                    let failure =
                        (error as? StageFailure)
                        ?? StageFailure(stage: stage.name, path: items[itemIndex].path, underlying: error)
                    outcomes[itemIndex] = .failed(failure)
                }
            }
            open = stillOpen
        }
        // A stage that took a file over which the chain then did not store (a later skip or failure, a second
        // take-over) drops what it prepared for it.
        for (itemIndex, stageIndices) in takers {
            for stageIndex in stageIndices {
                if case .store(stageIndex) = outcomes[itemIndex] { continue }
                stages[stageIndex].discardTakeOver(of: items[itemIndex], context: context)
            }
        }
        return (outcomes, shares)
    }

    /// The data path of one regular file: observers and transforms of `dataStages`, in order; `timed` counts each
    /// stage's time and bytes (``DataPath/work``).
    func dataPath(for item: FileItem, context: StageContext, timed: Bool = false) throws -> DataPath {
        if dataStages.isEmpty { return DataPath() }
        return try DataPath(stages: dataStages, item: item, chainEncrypts: encrypts, context: context, timed: timed)
    }

    /// The position among `dataStages` of `stages[index]` (compression may sit before it).
    func dataPosition(ofStage index: Int) -> Int {
        if let compressionPosition, index >= compressionPosition { return index + 1 }
        return index
    }

    /// Adds a stored regular file to `statistics`: per stage, one latency sample (its decision share from
    /// `shares` plus its byte work in `path`) and its bytes. Compression counts the file as seen.
    func record(stored path: DataPath, shares: [UInt64], into statistics: inout JobStatistics) {
        for (position, slot) in dataSlots.enumerated() {
            let work = position < path.work.count ? path.work[position] : DataPath.StageWork()
            let isCompression = position == compressionPosition
            let stage = isCompression ? nil : (compressionPosition.map { position > $0 ? position - 1 : position } ?? position)
            let share = stage.map { $0 < shares.count ? shares[$0] : 0 } ?? 0
            statistics.file(
                slot: slot, share: share, nanoseconds: work.nanoseconds, bytesIn: work.bytesIn, bytesOut: work.bytesOut,
                counts: isCompression)
        }
    }

    /// Adds a regular file stage `skipper` skipped to `statistics`: one latency sample (the decision share) for each
    /// stage up to that one.
    func record(skippedBy skipper: String, shares: [UInt64], into statistics: inout JobStatistics) {
        guard !stages.isEmpty else { return }
        let last = min(strings.firstIndex(of: skipper) ?? (stages.count - 1), stages.count - 1)
        for index in 0...last {
            statistics.file(
                slot: slots[index], share: index < shares.count ? shares[index] : 0, nanoseconds: 0, bytesIn: 0, bytesOut: 0)
        }
    }

    /// The inverse transforms for restore, in the order they apply (the reverse of the data stages).
    func inverseTransforms(
        for item: RestoreItem, context: StageContext
    ) throws -> [(stage: String, transform: any ByteTransform)] {
        var forward: [(String, any ByteTransform)] = []
        for stage in dataStages {
            do {
                if let transform = try stage.makeInverseTransform(for: item, context: context) {
                    forward.append((stage.name, transform))
                }
            } catch {
                throw (error as? StageFailure) ?? StageFailure(stage: stage.name, path: item.path, underlying: error)
            }
        }
        return forward.reversed()
    }

    /// Delivers a job event to every stage, in chain order.
    public func handle(_ event: JobEvent, context: StageContext) throws {
        for stage in stages { try stage.handle(event, context: context) }
    }
}
