import Pipeline
import Stages

extension OptionHost.Estimate {
    /// Runs the decision hooks that have no side effects (`Stage.hasSideEffects` false, e.g. `owner`) for
    /// `estimate`, in chain order. Stages with side effects (Python plugins, checksum logs) are created but never
    /// called, so what `estimate` lists as skipped is what those stages alone would skip.
    final class Decider {
        struct Skip {
            var stage: String
            var reason: String?
        }

        /// A stage string that cannot be made (unknown name, bad option).
        struct Failure: Error {
            var message: String
        }

        private let builder: StageChainBuilder
        private let context: StageContext
        private var pure: [[String]: [any Stage]] = [:]
        private var started: [ObjectIdentifier: any Stage] = [:]

        init(chains: [[[String]]], jobName: String, fileSetName: String) throws {
            builder = StageChainBuilder(factory: StageRegistry.factory(StageEnvironment()))
            context = StageContext(mode: .estimate, jobID: 0, jobName: jobName, level: "Full", fileSetName: fileSetName)
            for include in chains {
                for strings in include where !strings.isEmpty && pure[strings] == nil {
                    let chain: StageChain
                    do {
                        chain = try builder.chain(for: strings)
                    } catch {
                        throw Failure(message: "\(error)")
                    }
                    let stages = chain.stages.filter { !$0.hasSideEffects }
                    pure[strings] = stages
                    for stage in stages where started[ObjectIdentifier(stage)] == nil {
                        do {
                            try stage.handle(.jobStarted, context: context)
                        } catch {
                            throw Failure(message: "stage \(stage.name): \(error)")
                        }
                        started[ObjectIdentifier(stage)] = stage
                    }
                }
            }
        }

        /// The first skip of the entry's side-effect-free stages, nil when they keep it (or it has none).
        func skip(_ entry: SelectedEntry, fileIndex: Int64) -> Skip? {
            guard !entry.chain.isEmpty, let stages = pure[entry.chain], !stages.isEmpty else { return nil }
            var item = FileItem(entry: entry, fileIndex: fileIndex)
            for stage in stages {
                if case .skip(let reason)? = try? stage.decide(&item, context: context) {
                    return Skip(stage: stage.name, reason: reason)
                }
            }
            return nil
        }

        /// Ends the job for the stages that were started.
        func end() {
            for stage in started.values {
                try? stage.handle(.fileSetEnded, context: context)
                try? stage.handle(.jobEnded(succeeded: true), context: context)
            }
        }
    }
}
