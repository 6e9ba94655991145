import XCTest

#if canImport(Glibc)
import Glibc
#endif

extension BackupCommandTests {
    /// A restore killed with SIGKILL while it writes: every file that has its final name is complete and has the
    /// bytes of the source (files are written unnamed and linked in once verified); nothing else has a name.
    func testKilledRestoreLeavesOnlyCompleteFilesUnderTheirFinalNames() throws {
        let block = BackupCommandTests.pseudoRandom(4 << 20, seed: 11)
        var expected: [String: [UInt8]] = [:]
        for index in 0..<24 {
            // Each large file differs from the others from its first byte on.
            let bytes = Array("file \(index)\n".utf8) + block
            try makeFile("tree/big/f\(index).bin", bytes: bytes)
            expected["big/f\(index).bin"] = bytes
        }
        for index in 0..<200 {
            let bytes = Array(BackupCommandTests.pseudoRandom(3_000 + index, seed: UInt64(100 + index)))
            try makeFile("tree/small/s\(index)", bytes: bytes)
            expected["small/s\(index)"] = bytes
        }
        let tree = work.appendingPathComponent("tree").path
        XCTAssertEqual(try backup(try config([tree])).status, 0)

        let target = work.appendingPathComponent("restored").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandLineTestCase.binary)
        process.arguments = ["restore", "--catalog", catalogPath, "--jobid", "1", "--where", target, "--workers", "2"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Kill as soon as the first large file has its name: the others are being written or still to come.
        let big = target + tree + "/big"
        let deadline = Date().addingTimeInterval(30)
        while process.isRunning && Date() < deadline {
            if let names = try? FileManager.default.contentsOfDirectory(atPath: big), !names.isEmpty { break }
            usleep(1_000)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .uncaughtSignal, "the restore finished before it was killed")

        var named = 0
        let root = target + tree
        let walker = try XCTUnwrap(FileManager.default.enumerator(atPath: root))
        while let relative = walker.nextObject() as? String {
            var info = stat()
            XCTAssertEqual(lstat(root + "/" + relative, &info), 0, relative)
            XCTAssertFalse(relative.contains(".optionhost-restore-"), "a temporary name: \(relative)")
            guard info.st_mode & S_IFMT == S_IFREG else { continue }
            named += 1
            XCTAssertEqual(contents(root + "/" + relative), expected[relative], "\(relative) is not complete")
        }
        let namedBig = (try? FileManager.default.contentsOfDirectory(atPath: big))?.count ?? 0
        XCTAssertGreaterThan(named, 0)
        XCTAssertLessThan(namedBig, 24, "killed after every large file was restored")
    }
}
