
/// Builds the chains of a job: one stage instance per distinct stage string per job (decision D3), one
/// `StageChain` per distinct list of strings. Stage instances are created through the factory the host passes
/// in (the registry of the `Stages` module maps names to stages).
public final class StageChainBuilder: Sendable {
    /// Creates the stage for a stage string; throws for names that are unknown or not available.
    public typealias Factory = @Sendable (_ string: String) throws -> any Stage

    private let factory: Factory
    private let state = Locked<State>(State())

    private struct State {
        var stages: [String: any Stage] = [:]
        var order: [String] = []
        var chains: [ChainKey: StageChain] = [:]
        var compressions: [String: CompressionStage] = [:]
        /// Statistics slots: one per distinct stage string and compression, in the order they were first built.
        var slots: [String: Int] = [:]
        var slotNames: [String] = []

        mutating func slot(_ name: String) -> Int {
            if let slot = slots[name] { return slot }
            slots[name] = slotNames.count
            slotNames.append(name)
            return slotNames.count - 1
        }
    }

    private struct ChainKey: Hashable {
        var strings: [String]
        var compression: String?
    }

    public init(factory: @escaping Factory) {
        self.factory = factory
    }

    /// The chain for a list of stage strings with an Options block's compression (cached). Decision hooks do not
    /// depend on compression; the data stages do.
    public func chain(for strings: [String], compression: OptionsBlock.Compression? = nil) throws -> StageChain {
        let key = ChainKey(strings: strings, compression: compression.map(CompressionStage.name))
        if let chain = state.withLock({ $0.chains[key] }) { return chain }
        var stages: [any Stage] = []
        for string in strings {
            if let stage = state.withLock({ $0.stages[string] }) {
                stages.append(stage)
                continue
            }
            let stage = try factory(string)
            let existing = state.withLock { state -> (any Stage)? in
                if let existing = state.stages[string] { return existing }
                state.stages[string] = stage
                state.order.append(string)
                return nil
            }
            stages.append(existing ?? stage)
        }
        let compressionStage = compression.map { compression in
            state.withLock { state in
                let name = CompressionStage.name(compression)
                if let existing = state.compressions[name] { return existing }
                let stage = CompressionStage(compression)
                state.compressions[name] = stage
                return stage
            }
        }
        let (slots, compressionSlot) = state.withLock { state in
            (strings.map { state.slot($0) }, compressionStage.map { state.slot($0.name) })
        }
        let chain = StageChain(
            strings: strings, stages: stages, compression: compressionStage, slots: slots,
            compressionSlot: compressionSlot)
        return state.withLock { state in
            if let existing = state.chains[key] { return existing }
            state.chains[key] = chain
            return chain
        }
    }

    /// The names of the statistics slots (``JobStatistics/stages``), by slot.
    var slotNames: [String] { state.withLock { $0.slotNames } }

    /// Every stage created so far, in creation order (job events go to each once).
    var allStages: [any Stage] {
        state.withLock { state in state.order.compactMap { state.stages[$0] } }
    }

    /// Creates the chains of every block of a FileSet up front, so that job-start failures (unknown stage,
    /// plugin import error) happen before any file is read (D3, D6).
    func prepare(chains: [[[String]]]) throws {
        for include in chains {
            for strings in include where !strings.isEmpty { _ = try chain(for: strings) }
        }
    }

    /// Delivers a job event to every stage once, in creation order. At job start the first failure stops it (the
    /// job fails before any file is read); later events reach every stage, and the first error is rethrown after.
    public func broadcast(_ event: JobEvent, context: StageContext) throws {
        guard event != .jobStarted else {
            for stage in allStages { try stage.handle(event, context: context) }
            return
        }
        var first: (any Error)?
        for stage in allStages {
            do {
                try stage.handle(event, context: context)
            } catch {
                if first == nil { first = error } else { context.message(.error, "\(error)", stage: stage.name) }
            }
        }
        if let first { throw first }
    }
}
