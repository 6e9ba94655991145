import Foundation
import PipelineTestSupport
import XCTest

@testable import Pipeline
@testable import Stages

/// The `owner` stage: its id lists, its rules and their precedence, `prune_dirs`, and its errors.
final class OwnerStageTests: XCTestCase {
    private func error(_ body: () throws -> Void) -> String {
        do {
            try body()
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    func testIDListsTakeNamesNumbersAndRangesResolvedOnce() throws {
        var lookups: [String] = []
        let set = try OwnerIDSet(
            "alice, 1000-1999,42,1500-2500,7", kind: .user, option: "exclude_user",
            resolve: { lookups.append($0); return $0 == "alice" ? 501 : nil })
        XCTAssertEqual(lookups, ["alice"])
        XCTAssertEqual(set.ranges, [7...7, 42...42, 501...501, 1000...2500])
        XCTAssertEqual(set.names, [501: "alice"])
        for id: UInt32 in [7, 42, 501, 1000, 1999, 2500] { XCTAssertTrue(set.contains(id), "\(id)") }
        for id: UInt32 in [0, 8, 500, 999, 2501, UInt32.max] { XCTAssertFalse(set.contains(id), "\(id)") }
        // A name with a dash is a name, not a range.
        let dashed = try OwnerIDSet("www-data", kind: .user, option: "include_user", resolve: { _ in 33 })
        XCTAssertEqual(dashed.ranges, [33...33])
        XCTAssertEqual(try OwnerIDSet("root,nobody", kind: .user, option: "x").ranges, [0...0, 65534...65534])
        XCTAssertEqual(try OwnerIDSet("root,nogroup", kind: .group, option: "x").ranges, [0...0, 65534...65534])
        XCTAssertEqual(try OwnerIDSet("0-4294967294", kind: .group, option: "x").ranges, [0...4_294_967_294])
    }

    func testBadListsAreErrorsNamingTheOptionAndTheName() {
        XCTAssertEqual(
            error { _ = try StageRegistry.makeStage("owner:exclude_user=root,no-such-user-4711") },
            "stage \"owner\": option exclude_user: unknown user \"no-such-user-4711\"")
        XCTAssertEqual(
            error { _ = try StageRegistry.makeStage("owner:include_group=no-such-group-4711") },
            "stage \"owner\": option include_group: unknown group \"no-such-group-4711\"")
        XCTAssertEqual(
            error { _ = try StageRegistry.makeStage("owner:exclude_user=2000-1000") },
            "stage \"owner\": option exclude_user: range 2000-1000 runs backwards")
        XCTAssertEqual(
            error { _ = try StageRegistry.makeStage("owner:exclude_user=1,,2") },
            "stage \"owner\": option exclude_user=1,,2 has an empty item")
        XCTAssertEqual(
            error { _ = try StageRegistry.makeStage("owner:prune_dirs=often") },
            "stage \"owner\": option prune_dirs=often is not a boolean (yes, no, true, false)")
        XCTAssertTrue(
            error { _ = try StageRegistry.makeStage("owner:allow=alice") }.contains(
                "unknown option \"allow\" (valid options: include_user, exclude_user, include_group, exclude_group, prune_dirs)"))
        XCTAssertEqual(error { _ = try StageRegistry.makeStage("owner:exclude_user=-1") }, "stage \"owner\": option exclude_user: unknown user \"-1\"")
        XCTAssertEqual(error { _ = try StageRegistry.makeStage("owner") }, "no error")
    }

    /// Restore creates every stage of a stored chain; an owner string naming a user deleted since the backup must
    /// not stop the restore (the stage decides nothing there), while backup and check still refuse it.
    func testRestoreDoesNotResolveNames() throws {
        let string = "owner:exclude_user=no-such-user-4711:include_group=no-such-group-4711"
        XCTAssertEqual(
            error { _ = try StageRegistry.makeStage(string) },
            "stage \"owner\": option exclude_user: unknown user \"no-such-user-4711\"")
        let stage = try StageRegistry.makeStage(string, environment: StageEnvironment(forRestore: true))
        let harness = try StageHarness(stage: stage, mode: .restore)
        XCTAssertEqual(try harness.restore(Array("bytes".utf8), path: "/a", metadata: [:]), Array("bytes".utf8))
        try harness.finish()
        XCTAssertTrue(harness.isClean, "\(harness.leftovers)")
    }

    func testExcludeWinsIncludeKeepsUserOrGroupAndDirectoriesAreTraversed() throws {
        let stage = try OwnerStage(string: "owner:exclude_user=1001-1099:include_user=1000,1001:include_group=50:exclude_group=66")
        XCTAssertFalse(stage.hasSideEffects)
        let harness = try StageHarness(stage: stage)
        func decision(_ uid: UInt32, _ gid: UInt32, _ kind: EntryKind = .file) throws -> StageDecision {
            try harness.decide(path: "/srv/f\(uid)-\(gid)", kind: kind, uid: uid, gid: gid).decision
        }
        XCTAssertEqual(try decision(1000, 100), .core)                    // include_user
        XCTAssertEqual(try decision(0, 50), .core)                        // include_group
        XCTAssertEqual(try decision(1001, 50), .skip(reason: "owner uid 1001 excluded by exclude_user"))  // exclude wins
        XCTAssertEqual(try decision(1000, 66), .skip(reason: "group gid 66 excluded by exclude_group"))
        XCTAssertEqual(try decision(0, 0), .skip(reason: "owner uid 0 (root), group gid 0 (root) matches no include_user/include_group"))
        XCTAssertEqual(try decision(1001, 66, .directory), .core)        // directories are traversed
        XCTAssertEqual(try decision(1001, 66, .symlink), .skip(reason: "owner uid 1001 excluded by exclude_user"))
        XCTAssertTrue(harness.isClean == false)  // not finished yet
        try harness.finish()
        XCTAssertTrue(harness.isClean)
    }

    func testNamesFromTheOptionsAppearInReasons() throws {
        let harness = try StageHarness(stage: try OwnerStage(string: "owner:exclude_user=nobody:exclude_group=nogroup"))
        XCTAssertEqual(
            try harness.decide(path: "/a", uid: 65534, gid: 0).decision,
            .skip(reason: "owner uid 65534 (nobody) excluded by exclude_user"))
        XCTAssertEqual(
            try harness.decide(path: "/b", uid: 0, gid: 65534).decision,
            .skip(reason: "group gid 65534 (nogroup) excluded by exclude_group"))
        XCTAssertEqual(try harness.decide(path: "/c", uid: 0, gid: 0).decision, .core)
        try harness.finish()
    }

    func testPruneDirsSkipsExcludedDirectoriesAndWhatIsBelowThem() throws {
        let directory = try TemporaryDirectory(prefix: "owner")
        defer { directory.remove() }
        let root = directory.path
        try FileManager.default.createDirectory(atPath: root + "/bob/deep", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/alice", withIntermediateDirectories: true)
        XCTAssertEqual(chown(root + "/bob", 1001, 1001), 0)
        let pruning = try StageHarness(stage: try OwnerStage(string: "owner:exclude_user=1001:prune_dirs=yes"))
        let plain = try StageHarness(stage: try OwnerStage(string: "owner:exclude_user=1001"))
        // Walk order: contents first, then the directory.
        let entries: [(String, EntryKind, UInt32)] = [
            ("/bob/deep/f", .file, 0), ("/bob/deep", .directory, 0), ("/bob/g", .file, 0), ("/bob", .directory, 1001),
            ("/alice/h", .file, 0), ("/alice", .directory, 0),
        ]
        var pruned: [String: StageDecision] = [:]
        var traversed: [String: StageDecision] = [:]
        for (path, kind, uid) in entries {
            pruned[path] = try pruning.decide(path: root + path, kind: kind, uid: uid).decision
            traversed[path] = try plain.decide(path: root + path, kind: kind, uid: uid).decision
        }
        let below = "below excluded directory \(root)/bob: owner uid 1001 excluded by exclude_user"
        XCTAssertEqual(pruned["/bob/deep/f"], .skip(reason: below))
        XCTAssertEqual(pruned["/bob/deep"], .skip(reason: below))
        XCTAssertEqual(pruned["/bob/g"], .skip(reason: below))
        XCTAssertEqual(pruned["/bob"], .skip(reason: "owner uid 1001 excluded by exclude_user"))
        XCTAssertEqual(pruned["/alice/h"], .core)
        XCTAssertEqual(pruned["/alice"], .core)
        XCTAssertTrue(traversed.values.allSatisfy { $0 == .core }, "\(traversed)")
        try pruning.finish()
        try plain.finish()
    }
}
