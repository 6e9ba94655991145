import PipelineTestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Issue 14, suite item 5: the soak. A Full, then Incrementals in a row (Accurate) with seeded random changes
/// between them — files added, modified, deleted and renamed, directories added — each restored and compared with
/// the live tree (`diff -r`). `OPTIONHOST_SOAK_FILES` (default 300) and `OPTIONHOST_SOAK_INCREMENTALS` (default 5)
/// size it; `Tests/soak.sh` runs a large one.
extension BackupCommandTests {
    func testSoakOfIncrementalsWithRandomChangesEachRestoresTheLiveTree() throws {
        let files = BackupCommandTests.environmentInteger("OPTIONHOST_SOAK_FILES", default: 300)
        let incrementals = BackupCommandTests.environmentInteger("OPTIONHOST_SOAK_INCREMENTALS", default: 5)
        var random = SplitMix64(state: UInt64(BackupCommandTests.environmentInteger("OPTIONHOST_SOAK_SEED", default: 5)))
        let root = work.appendingPathComponent("soak").path
        var live: [String] = []
        var serial = 0
        func add() throws {
            let relative = "d\(random.below(max(files / 50, 1)))/n\(serial)"
            serial += 1
            try makeFile("soak/" + relative, bytes: random.bytes(random.below(8_192)))
            live.append(relative)
        }
        for _ in 0..<files { try add() }
        let config = try config([root], jobExtra: "; Accurate = yes")
        var changes = [0, 0, 0, 0]
        var compared = 0
        var lastJobID = 0
        for round in 0...incrementals {
            if round > 0 {
                for _ in 0..<(1 + random.below(max(files / 10, 2))) {
                    let kind = random.below(4)
                    changes[kind] += 1
                    switch kind {
                    case 0: try add()
                    case 1:
                        // Modified in place, sometimes to the same size.
                        let relative = live[random.below(live.count)]
                        let size = random.below(2) == 0 ? (contents(root + "/" + relative)?.count ?? 0) : random.below(8_192)
                        try makeFile("soak/" + relative, bytes: random.bytes(size))
                    case 2:
                        guard live.count > 1 else { continue }
                        XCTAssertEqual(unlink(root + "/" + live.remove(at: random.below(live.count))), 0)
                    default:
                        // Renamed into another (maybe new) directory; its mtime stays, only its ctime moves.
                        let index = random.below(live.count)
                        let directory = "r\(random.below(5))"
                        let renamed = directory + "/m\(serial)"
                        serial += 1
                        try FileManager.default.createDirectory(
                            atPath: root + "/" + directory, withIntermediateDirectories: true)
                        XCTAssertEqual(rename(root + "/" + live[index], root + "/" + renamed), 0)
                        live[index] = renamed
                    }
                }
            }
            let level = round == 0 ? "Full" : "Incremental"
            let backup = try self.backup(config, extra: ["--level", level])
            XCTAssertEqual(backup.status, 0, "round \(round): \(backup.stderr) \(backup.output)")
            let jobID = try XCTUnwrap(try summary(backup)["job_id"] as? Int)
            // Each restore below is a job too, so backups are not numbered 1, 2, 3...: only ever newer.
            XCTAssertGreaterThan(jobID, lastJobID, "round \(round)")
            lastJobID = jobID
            let target = work.appendingPathComponent("restored-\(round)").path
            let restore = try optionhost(["restore", "--catalog", catalogPath, "--jobid", "\(jobID)", "--where", target])
            XCTAssertEqual(restore.status, 0, "round \(round): \(restore.stderr)")
            try assertSameTree(target + root, root)
            compared += live.count
            _ = try run("/bin/rm", ["-rf", target])
        }
        print(
            "soak: \(files) files, \(incrementals) Incrementals; \(changes[0]) added, \(changes[1]) modified, "
                + "\(changes[2]) deleted, \(changes[3]) renamed; \(compared) files compared by diff -r; nothing lost")
    }
}
