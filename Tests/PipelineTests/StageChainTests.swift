import PipelineTestSupport
import XCTest

@testable import Pipeline

/// Decision D2 on one chain, and single stages in isolation through `StageHarness`.
final class StageChainTests: XCTestCase {
    private let context = StageContext(mode: .backup, jobID: 1, jobName: "t", level: "Full", fileSetName: "fs")

    private func items(_ paths: [String], kind: EntryKind = .file) -> [FileItem] {
        paths.enumerated().map { index, path in
            FileItem(entry: StageHarness.entry(path: path, kind: kind, size: 10), fileIndex: Int64(index))
        }
    }

    private func chain(_ strings: [String], factory: TestStageFactory = TestStageFactory()) throws -> StageChain {
        try StageChainBuilder(factory: factory.factory).chain(for: strings)
    }

    func testFirstSkipEndsTheChainAndLaterStagesAreNotCalled() throws {
        let factory = TestStageFactory()
        let chain = try chain(["skip:.tmp", "recording"], factory: factory)
        var batch = items(["/a.tmp", "/b.txt"])
        let outcomes = chain.decide(batch: &batch, context: context)
        guard case .skip(let stage, let reason) = outcomes[0] else { return XCTFail("\(outcomes[0])") }
        XCTAssertEqual(stage, "skip:.tmp")
        XCTAssertEqual(reason, "ends with .tmp")
        guard case .store(source: nil) = outcomes[1] else { return XCTFail("\(outcomes[1])") }
        let recording = try XCTUnwrap(factory.made("recording") as? RecordingStage)
        XCTAssertEqual(recording.offered, [Array("/b.txt".utf8)])
    }

    func testAnErrorFailsOnlyThatFile() throws {
        let chain = try chain(["failing:bad", "recording"])
        var batch = items(["/bad", "/good"])
        let outcomes = chain.decide(batch: &batch, context: context)
        guard case .failed(let failure) = outcomes[0] else { return XCTFail("\(outcomes[0])") }
        XCTAssertEqual(failure.stage, "failing:bad")
        XCTAssertEqual(failure.message, "refused by test stage")
        guard case .store(source: nil) = outcomes[1] else { return XCTFail("\(outcomes[1])") }
    }

    func testTheStageThatTakesOverBecomesTheSourceAndASecondTakeOverIsAnError() throws {
        var batch = items(["/x"])
        let single = try chain(["recording", "takeover"]).decide(batch: &batch, context: context)
        guard case .store(source: 1) = single[0] else { return XCTFail("\(single[0])") }
        var again = items(["/x"])
        let double = try chain(["takeover", "takeover:second"]).decide(batch: &again, context: context)
        guard case .failed(let failure) = double[0] else { return XCTFail("\(double[0])") }
        XCTAssertEqual(failure.message, "took the file over, but stage takeover already did")
    }

    func testCompressionGoesBeforeTheFirstEncryptingStageOrAtTheEnd() throws {
        let builder = StageChainBuilder(factory: TestStageFactory().factory)
        let encrypting = try builder.chain(for: ["recording", "xor", "xor:plain"], compression: .lz4)
        XCTAssertEqual(encrypting.dataStages.map(\.name), ["recording", "compression:LZ4", "xor", "xor:plain"])
        XCTAssertEqual(encrypting.strings, ["recording", "xor", "xor:plain"])
        XCTAssertEqual(encrypting.stages.count, 3, "decisions see the configured stages only")
        let plain = try builder.chain(for: ["xor:plain"], compression: .gzip(level: 6))
        XCTAssertEqual(plain.dataStages.map(\.name), ["xor:plain", "compression:GZIP6"])
        let restore = RestoreItem(path: Array("/f".utf8), kind: .file, size: 0, metadata: [:])
        XCTAssertEqual(
            try encrypting.inverseTransforms(for: restore, context: context).map(\.stage),
            ["xor:plain", "xor", "compression:LZ4"])
        // One stage instance per string, whatever the compression; one compression stage per codec.
        let other = try builder.chain(for: ["recording", "xor", "xor:plain"], compression: nil)
        XCTAssertTrue(other.stages[1] === encrypting.stages[1])
        XCTAssertEqual(other.dataStages.map(\.name), ["recording", "xor", "xor:plain"])
        let again = try builder.chain(for: [], compression: .lz4)
        XCTAssertTrue(again.dataStages[0] === encrypting.dataStages[1])
    }

    func testOneInstancePerStageStringPerJob() throws {
        let builder = StageChainBuilder(factory: TestStageFactory().factory)
        let first = try builder.chain(for: ["recording", "xor"])
        let second = try builder.chain(for: ["xor", "recording"])
        XCTAssertTrue(first.stages[0] === second.stages[1])
        XCTAssertTrue(first.stages[1] === second.stages[0])
        XCTAssertEqual(builder.allStages.count, 2)
    }

    // MARK: - Harness

    func testHarnessRunsOneStageLikeAJob() throws {
        let harness = try StageHarness(stage: XORStage())
        let result = try harness.feed(path: "/doc.txt", contents: Array("hello".utf8))
        XCTAssertEqual(result.decision, .core)
        XCTAssertEqual(result.output, Array("hello".utf8).map { $0 ^ 0x5A })
        XCTAssertEqual(result.metadata["xor.bytes"], "5")
        XCTAssertEqual(try harness.restore(result.output, path: "/doc.txt", metadata: result.metadata), Array("hello".utf8))
        let directory = try harness.feed(path: "/dir", kind: .directory)
        XCTAssertEqual(directory.decision, .core)
        XCTAssertEqual(directory.output, [])
        XCTAssertEqual(try harness.finish(), [])
        XCTAssertTrue(harness.isClean)
        XCTAssertEqual(harness.events, [.jobStarted, .fileSetEnded, .jobEnded(succeeded: true)])
    }

    func testHarnessShowsSkipsAndErrors() throws {
        let skip = try StageHarness(stage: SkipStage(suffix: ".tmp"))
        XCTAssertEqual(try skip.feed(path: "/a.tmp", contents: [1]).decision, .skip(reason: "ends with .tmp"))
        XCTAssertEqual(try skip.feed(path: "/a.txt", contents: [1]).decision, .core)
        let failing = try StageHarness(stage: FailingStage(marker: "bad"))
        XCTAssertThrowsError(try failing.feed(path: "/bad", contents: [])) { error in
            XCTAssertEqual((error as? StageFailure)?.message, "refused by test stage")
        }
    }
}
