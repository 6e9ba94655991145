import Foundation
import XCTest

@testable import Pipeline

#if canImport(Glibc)
    import Glibc
#endif

/// One FS, FS Type and the mount table (section 4.2 steps 2 and 7e).
final class FileSelectorFileSystemTests: SelectorTestCase {

    /// `m/` on the temporary directory's file system with a tmpfs mounted at `m/mnt`.
    private func treeWithMount(function: String = #function) throws -> (FileTreeFixture, rootType: String) {
        let tree = try makeTree(function: function)
        try tree.dir("m")
        try tree.file("m/f")
        try tree.dir("m/mnt")
        guard tree.mountTmpfs("m/mnt") else { throw XCTSkip("cannot mount a tmpfs here (needs root)") }
        try tree.dir("m/mnt/inner")
        try tree.file("m/mnt/inner/g")
        let rootType = try shell("findmnt -n -o FSTYPE --target '\(tree.rootString)'")
        XCTAssertFalse(rootType.isEmpty)
        return (tree, rootType)
    }

    func testOneFSStopsAtAnotherDevice() throws {
        let (tree, _) = try treeWithMount()

        let selection = try runSelection(makeFileSet([makeInclude([tree.path("m")])]))

        assertRows(selection, in: tree, [Row("m", .directory), Row("m/f", .file), Row("m/mnt", .directory)])
        let mount = try XCTUnwrap(selection.entries.first { $0.path == tree.path("m/mnt") })
        XCTAssertEqual(mount.note, "not descended: other file system (One FS)")
        XCTAssertEqual(
            problemLines(selection, in: tree),
            [
                "info: Not descending into $TMP/m/mnt: other file system (One FS = yes)"
            ])
    }

    func testOneFSMessageIsNotGivenForAPathNamedInTheFileSet() throws {
        let (tree, _) = try treeWithMount()

        let selection = try runSelection(makeFileSet([makeInclude([tree.path("m"), tree.path("m/mnt")])]))

        // m/mnt is met twice: as a child of m (entry only, silently) and as its own top-level entry (walked).
        XCTAssertEqual(
            selection.entries.map { tree.relative($0.path) }.sorted(),
            [
                "m", "m/f", "m/mnt", "m/mnt", "m/mnt/inner", "m/mnt/inner/g",
            ])
        XCTAssertEqual(selection.problems.count, 0)
    }

    func testFSTypeListAtADeviceCrossingNeedsOneFSNo() throws {
        let (tree, rootType) = try treeWithMount()
        func include(_ types: [String]) -> Include {
            makeInclude(
                [tree.path("m")],
                [
                    options {
                        $0.oneFS = false
                        $0.fsTypes = types
                    }
                ])
        }

        let unlisted = try runSelection(makeFileSet([include([rootType])]))
        assertRows(unlisted, in: tree, [Row("m", .directory), Row("m/f", .file), Row("m/mnt", .directory)])
        let mount = try XCTUnwrap(unlisted.entries.first { $0.path == tree.path("m/mnt") })
        XCTAssertEqual(mount.note, "not descended: file system type tmpfs not listed")
        XCTAssertEqual(
            problemLines(unlisted, in: tree),
            [
                "info: Not descending into $TMP/m/mnt: file system type tmpfs is not in the FS Type list"
            ])

        for types in [[rootType, "tmpfs"], []] {
            let listed = try runSelection(makeFileSet([include(types)]))
            assertRows(
                listed, in: tree,
                [
                    Row("m", .directory), Row("m/f", .file), Row("m/mnt", .directory), Row("m/mnt/inner", .directory),
                    Row("m/mnt/inner/g", .file),
                ])
            XCTAssertEqual(listed.problems.count, 0)
        }
    }

    func testFSTypeOfATopLevelEntryUsesTheLastBlock() throws {
        let (tree, rootType) = try treeWithMount()
        let fileSet = makeFileSet([
            makeInclude(
                [tree.path("m"), tree.path("m/mnt")],
                [
                    options { $0.fsTypes = [rootType] },
                    options { $0.fsTypes = ["tmpfs"] },
                ])
        ])

        let selection = try runSelection(fileSet)

        assertRows(
            selection, in: tree,
            [
                Row("m/mnt", .directory), Row("m/mnt/inner", .directory), Row("m/mnt/inner/g", .file),
            ])
        XCTAssertEqual(
            problemLines(selection, in: tree),
            [
                "info: Skipping $TMP/m: file system type \(rootType) is not in the FS Type list"
            ])
    }

    func testRootSkippedWhenItsTypeIsNotListed() throws {
        // E8, second setup, the `/` part: an unlisted top-level entry is skipped entirely, nothing is read.
        let rootType = try shell("findmnt -n -o FSTYPE --target /")
        let selection = try runSelection(
            makeFileSet([
                makeInclude(
                    [Array("/".utf8)],
                    [
                        options {
                            $0.oneFS = false
                            $0.fsTypes = ["nosuchfs"]
                        }
                    ])
            ]))

        XCTAssertEqual(selection.entries.count, 0)
        XCTAssertEqual(
            selection.problems.map(\.message),
            [
                "Skipping /: file system type \(rootType) is not in the FS Type list"
            ])
        XCTAssertEqual(selection.problems.first?.path, Array("/".utf8))
    }

    // MARK: - MountTable

    func testMountTableParsesMountinfo() {
        let text = """
            22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
            36 22 98:0 /mnt1 /mnt/with\\040space rw,noatime master:1 - ext3 /dev/root rw,errors=continue
            40 22 0:45 / /srv/pool rw - zfs tank/srv rw
            41 22 259:65537 / /big rw - xfs /dev/nvme0n1p1 rw
            """
        let table = MountTable(mountinfo: Array(text.utf8))
        func type(_ device: UInt64, _ path: String) -> String? {
            Array(path.utf8).withUnsafeBufferPointer { table.fsType(device: device, path: $0) }
        }

        XCTAssertEqual(MountTable.makeDevice(major: 8, minor: 1), 2049)
        XCTAssertEqual(MountTable.makeDevice(major: 259, minor: 65537), 0x1001_0301)
        XCTAssertEqual(type(MountTable.makeDevice(major: 98, minor: 0), "/anything"), "ext3")
        XCTAssertEqual(type(MountTable.makeDevice(major: 259, minor: 65537), "/big"), "xfs")
        // Unknown devices (a btrfs subvolume, say) fall back to the longest mount point above the path.
        XCTAssertEqual(type(12345, "/mnt/with space/sub"), "ext3")
        XCTAssertEqual(type(12345, "/mnt/with spacex"), "ext4")
        XCTAssertEqual(type(12345, "/srv/pool/a/b"), "zfs")
        XCTAssertNil(MountTable(mountinfo: []).fsType(device: 1, path: UnsafeBufferPointer(start: nil, count: 0)))
    }

    func testMountTableMatchesTheKernel() throws {
        let table = MountTable.load()
        for (path, expected) in [("/proc", "proc"), ("/sys", "sysfs")] {
            var info = stat()
            guard stat(path, &info) == 0 else { continue }
            let type = Array(path.utf8).withUnsafeBufferPointer { table.fsType(device: UInt64(info.st_dev), path: $0) }
            XCTAssertEqual(type, expected)
        }
        var info = stat()
        XCTAssertEqual(stat("/", &info), 0)
        let root = Array("/".utf8).withUnsafeBufferPointer { table.fsType(device: UInt64(info.st_dev), path: $0) }
        XCTAssertEqual(root, try shell("findmnt -n -o FSTYPE --target /"))
    }
}
