import Foundation
import XCTest

/// Restore selection as a Bareos admin expects from bconsole's `mark` (issue 12 item 6).
extension BackupCommandTests {
    /// `--select DIR`, with or without a trailing slash, restores the directory and everything below it (and only
    /// that); restoring again with `--replace never` keeps the files and the summary says how many.
    func testSelectingADirectoryRestoresItsSubtreeAndReplaceNeverSaysWhatItKept() throws {
        let tree = try makeTree()
        XCTAssertEqual(try backup(try config([tree.root])).status, 0)
        for (name, select) in [("plain", tree.path("sub")), ("slash", tree.path("sub") + "/")] {
            let target = work.appendingPathComponent(name).path
            let restore = try optionhost(
                ["restore", "--catalog", catalogPath, "--jobid", "1", "--where", target, "--select", select, "--json"])
            XCTAssertEqual(restore.status, 0, restore.stderr)
            assertCounts(try summary(restore), ["files_stored": 2, "entries_stored": 3, "files_kept": 0])
            let found = try run("/usr/bin/find", [target + tree.root, "-mindepth", "1"])
            XCTAssertEqual(
                Set(found.lines), [target + tree.path("sub"), target + tree.path("sub/c.txt"), target + tree.path("sub/big.bin")],
                name)
            XCTAssertEqual(contents(target + tree.path("sub/big.bin")), BackupCommandTests.bigBinary)
        }
        // Once more into the same place, keeping what is there: both files kept, counted and said.
        try makeFile("plain" + tree.path("sub/c.txt"), "edited")
        let target = work.appendingPathComponent("plain").path
        let again = try optionhost(
            ["restore", "--catalog", catalogPath, "--jobid", "1", "--where", target, "--select", tree.path("sub"),
             "--replace", "never"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(
            again.output.contains("  0 files verified and restored, 1 entries, 2 kept as they were (--replace never), 0 failed"),
            again.output)
        XCTAssertEqual(contents(target + tree.path("sub/c.txt")), Array("edited".utf8))
        let json = try optionhost(
            ["restore", "--catalog", catalogPath, "--jobid", "1", "--where", target, "--select", tree.path("sub"),
             "--replace", "never", "--json"])
        assertCounts(try summary(json), ["files_stored": 0, "files_skipped": 2, "files_kept": 2])
    }
}
