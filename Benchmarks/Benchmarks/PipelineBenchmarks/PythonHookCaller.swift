import Pipeline
import Stages

/// A loaded Python plugin offered synthetic entries in the backup's batches of 256 (no file I/O): the hook path
/// alone, as `optionhost bench plugin` measures it — hand-off to the Python thread, SavePacket, the call, the answer.
final class PythonHookCaller {
    private let stage: any Stage
    private let context: StageContext
    private let batch: [FileItem]

    init(plugin: String) throws {
        stage = try StageRegistry.makeStage(plugin)
        context = StageContext(mode: .backup, jobID: 1, jobName: "bench", level: "Full", fileSetName: "bench")
        try stage.handle(.jobStarted, context: context)
        batch = (0..<256).map {
            BenchFixtures.item(
                path: "/srv/data/dir\($0 % 20)/file-\($0).txt", size: 8192, index: Int64($0), chain: [plugin])
        }
    }

    /// Offers `count` entries (whole batches, the last one shorter); throws when an answer is not `bRC_Core`.
    func offer(count: Int) throws {
        var left = count
        while left > 0 {
            var items = Array(batch.prefix(left))
            left -= items.count
            for result in stage.decide(batch: &items, context: context) {
                guard case .success(.core) = result else { throw BenchSetupError("unexpected answer: \(result)") }
            }
        }
    }

    func end() {
        try? stage.handle(.jobEnded(succeeded: true), context: context)
    }
}
