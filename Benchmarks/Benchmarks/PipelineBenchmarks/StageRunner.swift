import Pipeline
import Stages

/// Runs one stage over one file's bytes the way a backup worker does (decision hook, observer and transform fed
/// from the same buffer, the host's SHA-256 of the source bytes handed to the observer at the end), without the
/// walk, the file read, the volume or the catalog: what is left is the stage's own per-file cost and the host's
/// digest, which `stage == nil` measures alone as the baseline.
final class StageRunner {
    let stage: (any Stage)?
    let context: StageContext
    private let hostDigest: Digester
    private var output: [UInt8] = []
    private var bytes: [UInt8]
    private var counter: UInt64 = 0

    /// - Parameter string: a stage string for `StageRegistry.makeStage`, nil for no stage.
    init(_ string: String?, bytes: [UInt8]) throws {
        stage = try string.map { try StageRegistry.makeStage($0) }
        context = StageContext(mode: .backup, jobID: 1, jobName: "bench", level: "Full", fileSetName: "bench")
        hostDigest = try Digester(.sha256)
        self.bytes = bytes
        output.reserveCapacity(bytes.count + 4096)
        try stage?.handle(.jobStarted, context: context)
    }

    init(stage: any Stage, bytes: [UInt8]) throws {
        self.stage = stage
        context = StageContext(mode: .backup, jobID: 1, jobName: "bench", level: "Full", fileSetName: "bench")
        hostDigest = try Digester(.sha256)
        self.bytes = bytes
        output.reserveCapacity(bytes.count + 4096)
        try stage.handle(.jobStarted, context: context)
    }

    /// One file: its first 8 bytes are a counter, so that no two files have the same content (the index stage
    /// extracts a content once per job, and would otherwise skip every file after the first).
    func file() throws {
        counter += 1
        withUnsafeBytes(of: counter) { stamp in
            for index in 0..<min(8, bytes.count) { bytes[index] = stamp[index] }
        }
        var item = BenchFixtures.item(path: "/srv/data/d\(counter % 20)/f\(counter).txt", size: bytes.count)
        guard let stage else {
            bytes.withUnsafeBytes { hostDigest.update($0) }
            _ = try hostDigest.finalize()
            return
        }
        guard try stage.decide(&item, context: context) == .core else { return }
        let placement = ObserverPlacement(seesSourceBytes: true, chainEncrypts: stage.isEncrypting)
        let observer = try stage.makeObserver(for: item, placement: placement, context: context)
        let transform = try stage.makeTransform(for: item, context: context)
        output.removeAll(keepingCapacity: true)
        try bytes.withUnsafeBytes { buffer in
            hostDigest.update(buffer)
            if let observer, observer.needsBytes { observer.observe(buffer) }
            try transform?.process(buffer, into: &output)
        }
        try transform?.finish(into: &output)
        let digest = try hostDigest.finalize()
        _ = try observer?.finish(ObservedFile(sourceSHA256: digest, bytesObserved: UInt64(bytes.count)))
    }

    /// Ends the job (a checksum log is closed, Python's end events run).
    func end() {
        try? stage?.handle(.jobEnded(succeeded: true), context: context)
    }
}
