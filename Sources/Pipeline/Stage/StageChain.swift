/// The stages of one chain (the `Plugin =` strings of one Options block, decision D1), applied with the
/// semantics of decision D2. Built once per distinct chain per job by `StageChainBuilder`.
///
/// ```
///   decide(batch:)   hooks in chain order; first .skip ends; a throw fails the file; two .takeOver fail it
///   transforms(…)    data transforms in chain order, compression inserted before the first encrypting stage
///                    (or at the end)
///   inverse(…)       the same list reversed, each stage's inverse
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
    public let stages: [any Stage]

    public init(strings: [String], stages: [any Stage]) {
        precondition(strings.count == stages.count)
        self.strings = strings
        self.stages = stages
    }

    /// Runs the decision hooks over a batch of entries that share this chain.
    public func decide(batch items: inout [FileItem], context: StageContext) -> [Outcome] {
        var outcomes = [Outcome](repeating: .store(source: nil), count: items.count)
        var takers: [Int: [Int]] = [:]  // item index -> stages that answered take-over
        var open = Array(items.indices)
        for (stageIndex, stage) in stages.enumerated() {
            guard !open.isEmpty else { break }
            var subset = open.map { items[$0] }
            let results = stage.decide(batch: &subset, context: context)
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
        return outcomes
    }

    /// Position of the implicit compression stage: before the first encrypting stage, else at the end.
    public var compressionPosition: Int {
        stages.firstIndex { $0.isEncrypting } ?? stages.count
    }

    /// The data transforms for one regular file in the order they apply, each with the name of its stage.
    public func transforms(
        for item: FileItem, compression: OptionsBlock.Compression?, context: StageContext
    ) throws -> [(stage: String, transform: any ByteTransform)] {
        var result: [(String, any ByteTransform)] = []
        for (index, stage) in stages.enumerated() {
            if index == compressionPosition, let compression {
                result.append((CompressionStage.name(compression), try CompressionStage.compressor(compression)))
            }
            do {
                if let transform = try stage.makeTransform(for: item, context: context) {
                    result.append((stage.name, transform))
                }
            } catch {
                throw (error as? StageFailure) ?? StageFailure(stage: stage.name, path: item.path, underlying: error)
            }
        }
        if compressionPosition == stages.count, let compression {
            result.append((CompressionStage.name(compression), try CompressionStage.compressor(compression)))
        }
        return result
    }

    /// The inverse transforms for restore, in the order they apply (reverse of `transforms`).
    public func inverseTransforms(
        for item: RestoreItem, compression: OptionsBlock.Compression?, context: StageContext
    ) throws -> [(stage: String, transform: any ByteTransform)] {
        var forward: [(String, any ByteTransform)] = []
        for (index, stage) in stages.enumerated() {
            if index == compressionPosition, let compression {
                forward.append((CompressionStage.name(compression), try CompressionStage.decompressor(compression)))
            }
            do {
                if let transform = try stage.makeInverseTransform(for: item, context: context) {
                    forward.append((stage.name, transform))
                }
            } catch {
                throw (error as? StageFailure) ?? StageFailure(stage: stage.name, path: item.path, underlying: error)
            }
        }
        if compressionPosition == stages.count, let compression {
            forward.append((CompressionStage.name(compression), try CompressionStage.decompressor(compression)))
        }
        return forward.reversed()
    }

    /// Delivers a job event to every stage, in chain order.
    public func handle(_ event: JobEvent, context: StageContext) throws {
        for stage in stages { try stage.handle(event, context: context) }
    }
}
