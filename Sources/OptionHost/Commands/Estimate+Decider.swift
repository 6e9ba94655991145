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

        private let context: StageContext
        private var pure: [[String]: [any Stage]] = [:]
        private var made: [String: any Stage] = [:]
        /// Stage names this build cannot run (unknown, or not available yet): their decisions are not estimated.
        private(set) var notRun: [String] = []

        init(chains: [[[String]]], jobName: String, fileSet: FileSet) throws {
            context = StageContext(
                mode: .estimate, jobID: 0, jobName: jobName, level: "Full", fileSetName: fileSet.name,
                fileRoots: fileSet.fileRoots)
            for include in chains {
                for strings in include where !strings.isEmpty && pure[strings] == nil {
                    var stages: [any Stage] = []
                    for string in strings {
                        if let stage = made[string] {
                            if !stage.hasSideEffects { stages.append(stage) }
                            continue
                        }
                        guard case .available = StageRegistry.availability(of: string) else {
                            if !notRun.contains(string) { notRun.append(string) }
                            continue
                        }
                        let stage: any Stage
                        do {
                            stage = try StageRegistry.makeStage(string)
                        } catch {
                            throw Failure(message: "\(error)")
                        }
                        made[string] = stage
                        guard !stage.hasSideEffects else { continue }
                        do {
                            try stage.handle(.jobStarted, context: context)
                        } catch {
                            throw Failure(message: "stage \(stage.name): \(error)")
                        }
                        stages.append(stage)
                    }
                    pure[strings] = stages
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
            for stage in made.values where !stage.hasSideEffects {
                try? stage.handle(.fileSetEnded, context: context)
                try? stage.handle(.jobEnded(succeeded: true), context: context)
            }
        }
    }
}
