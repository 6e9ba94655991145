import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The `owner` stage end to end: files chowned to several users and groups (the tests run as root), what the
/// catalog stores, what `estimate --listing` shows, and `check` refusing an unknown name.
final class OwnerCommandTests: StageCommandTestCase {
    /// tree/ (root), alice/ (1001:1001) with a.txt (1001:1001) and shared.txt (0:50 staff), bob/ (1002:1002) with
    /// b.txt (1002:1002) and root.txt (0:0), top.txt (1003:50), nobody.txt (65534:65534). Uids 1001-1003 have no
    /// name on the test machine; nobody, nogroup and staff are Debian's.
    private func makeTree() throws {
        try makeFile("tree/alice/a.txt", "a\n")
        try makeFile("tree/alice/shared.txt", "shared\n")
        try makeFile("tree/bob/b.txt", "b\n")
        try makeFile("tree/bob/root.txt", "root\n")
        try makeFile("tree/top.txt", "top\n")
        try makeFile("tree/nobody.txt", "nobody\n")
        for (path, uid, gid) in [
            ("alice", 1001, 1001), ("alice/a.txt", 1001, 1001), ("alice/shared.txt", 0, 50), ("bob", 1002, 1002),
            ("bob/b.txt", 1002, 1002), ("top.txt", 1003, 50), ("nobody.txt", 65534, 65534),
        ] as [(String, UInt32, UInt32)] {
            XCTAssertEqual(chown(tree + "/" + path, uid, gid), 0, path)
        }
    }

    /// The catalog's entries of job `id`: relative path → status.
    private func entries(_ id: Int) throws -> [String: String] {
        let result = try optionhost(["list", "files", "--catalog", catalog, "--jobid", String(id), "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        var entries: [String: String] = [:]
        for line in result.lines {
            let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            guard let path = object["path"] as? String, path.hasPrefix(tree) else { continue }
            entries[String(path.dropFirst(tree.count)).trimmingPrefix("/").description] = object["status"] as? String
        }
        return entries
    }

    private func stored(_ entries: [String: String]) -> Set<String> {
        Set(entries.filter { $0.value == "stored" }.keys)
    }

    func testExcludeUserWinsOverIncludeGroupAndDirectoriesAreTraversed() throws {
        try makeTree()
        let summary = try backup(try config(["owner:exclude_user=1002,nobody:include_user=1001:include_group=staff"]))
        let entries = try entries(1)
        // Kept: uid 1001's file, group staff's files, every directory. bob/root.txt (root:root) matches no include.
        XCTAssertEqual(
            stored(entries), ["", "alice", "alice/a.txt", "alice/shared.txt", "bob", "top.txt"], "\(entries)")
        XCTAssertEqual(entries["bob/b.txt"], "skipped")
        XCTAssertEqual(entries["bob/root.txt"], "skipped")
        XCTAssertEqual(entries["nobody.txt"], "skipped")
        XCTAssertEqual(summary["files_skipped"] as? Int, 3)
        XCTAssertEqual(summary["files_stored"] as? Int, 3)
    }

    func testPruneDirsLeavesOutAnExcludedDirectoryWithEverythingBelowIt() throws {
        try makeTree()
        try backup(try config(["owner:exclude_user=1002:prune_dirs=yes"]))
        let entries = try entries(1)
        XCTAssertEqual(
            stored(entries), ["", "alice", "alice/a.txt", "alice/shared.txt", "top.txt", "nobody.txt"], "\(entries)")
        XCTAssertEqual(entries["bob/root.txt"], "skipped")
        XCTAssertEqual(entries["bob"], "skipped")
    }

    /// The directories above the `File =` path (/tmp and the test's work directory, root's) decide nothing.
    func testPruneDirsLooksNoHigherThanTheFileSetsPaths() throws {
        try makeTree()
        XCTAssertEqual(chown(tree, 1004, 1004), 0)
        try backup(try config(["owner:exclude_user=root:prune_dirs=yes"]))
        let entries = try entries(1)
        XCTAssertEqual(
            stored(entries), ["", "alice", "alice/a.txt", "bob", "bob/b.txt", "top.txt", "nobody.txt"], "\(entries)")
        XCTAssertEqual(entries["alice/shared.txt"], "skipped")
        XCTAssertEqual(entries["bob/root.txt"], "skipped")
    }

    func testEstimateListsTheDecisionsWithTheirReasons() throws {
        try makeTree()
        let config = try config(["owner:exclude_user=1002:exclude_group=nogroup"])
        let result = try optionhost(["estimate", config, "--job", "Nightly", "--listing", "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        var reasons: [String: String] = [:]
        for line in result.lines {
            let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            if object["decision"] as? String == "skip", let path = object["path"] as? String {
                XCTAssertEqual(object["stage"] as? String, "owner:exclude_user=1002:exclude_group=nogroup")
                reasons[String(path.dropFirst(tree.count + 1))] = object["reason"] as? String
            }
        }
        XCTAssertEqual(
            reasons,
            [
                "bob/b.txt": "owner uid 1002 excluded by exclude_user",
                "nobody.txt": "group gid 65534 (nogroup) excluded by exclude_group",
            ])
        let text = try optionhost(["estimate", config, "--job", "Nightly", "--listing"])
        XCTAssertTrue(
            text.output.contains("skipped by owner:exclude_user=1002:exclude_group=nogroup: owner uid 1002 excluded by exclude_user"),
            text.output)
    }

    func testCheckRefusesAnUnknownUser() throws {
        try makeTree()
        let result = try optionhost(["check", try config(["owner:include_user=nobody,no-such-user-4711"])])
        XCTAssertEqual(result.status, 2, result.output)
        XCTAssertTrue(
            (result.output + result.stderr).contains(
                "stage \"owner\": option include_user: unknown user \"no-such-user-4711\""), result.output + result.stderr)
    }
}
