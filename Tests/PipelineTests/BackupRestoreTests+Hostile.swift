import Foundation
import PipelineTestSupport
import XCTest

@testable import Pipeline

#if canImport(Glibc)
import Glibc
#endif

/// Issue 14, suite item 4: a crafted catalog never makes a restore write outside its `--where` directory (the
/// crafted volumes and the first crafted rows are in `testRestoreRefusesCraftedPaths` and `PaxVolumeTests`).
extension BackupRestoreTests {
    /// Rows a hostile catalog could hold: `..` in the middle of a path and at the end, a directory row named by
    /// `..`, and a chain of symbolic links (`l1 -> /`, an absolute target; `l2 -> l1`) with a directory and a file
    /// through it. Nothing is created outside the restore target, and the genuine file is restored.
    func testRestoreOfCraftedDotDotRowsAndAnAbsoluteSymlinkChainStaysUnderWhere() throws {
        try write("ok.txt", Array("fine".utf8))
        let (summary, catalog) = try backup()
        let jobID = JobID(rawValue: summary.jobID)
        let good = try XCTUnwrap(try catalog.files(job: jobID).first { $0.kind == .file })
        let outside = work.path + "/outside"
        var rows: [FileRecord] = []
        func row(_ path: String, _ kind: EntryKind = .file, target: String? = nil) {
            var record = good
            record.fileIndex = Int64(2_000 + rows.count)
            record.path = Array(path.utf8)
            record.kind = kind
            record.linkTarget = target.map { Array($0.utf8) }
            rows.append(record)
        }
        let depth = String(repeating: "/..", count: source.split(separator: "/").count + 2)
        row(source + "/sub" + depth + outside + "-middle.txt")
        row(source + "/..")
        row(source + "/../outside-dir", .directory)
        row(source + "/l1", .symlink, target: "/")
        row(source + "/l2", .symlink, target: "l1")
        row(source + "/l2" + work.path, .directory)
        row(source + "/l2" + outside + "-chain.txt")
        row(source + "/l1" + outside + "-absolute.txt")
        try catalog.insert(files: rows, messages: [])

        let result = try restore(catalog, jobID: summary.jobID)
        XCTAssertEqual(result.status, .warnings)
        XCTAssertEqual(try String(contentsOfFile: restored("ok.txt"), encoding: .utf8), "fine")
        let everything = try XCTUnwrap(FileManager.default.contentsOfDirectory(atPath: work.path)).sorted()
        XCTAssertFalse(everything.contains { $0.hasPrefix("outside") }, "\(everything)")
        for name in ["-middle.txt", "-chain.txt", "-absolute.txt", "-dir"] {
            XCTAssertNil(stat(outside + name), name)
        }
        XCTAssertNil(stat("/outside-dir"))
        // What was created is under the target, and no link there points out of it and has something behind it.
        let (_, listing) = try shell("cd '\(target)' && find . -newer '\(catalogPath)' -type f | LC_ALL=C sort")
        XCTAssertEqual(listing.split(separator: "\n").filter { !$0.hasSuffix("/ok.txt") }, [], listing)
    }
}
