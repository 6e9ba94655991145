import Foundation
import PipelineTestSupport
import XCTest

@testable import Pipeline
@testable import Stages

/// Each example of `examples/plugins` through a real backup and restore.
final class ExamplePluginTests: PythonPluginTestCase {
    private func makeTree() throws {
        var random = SplitMix64(state: 5)
        try write("docs/readme.txt", "read me\n")
        try write("docs/notes.md", "# notes\n" + String(repeating: "line\n", count: 200))
        try write("data/random.bin", random.bytes(300_000))
        try write("data/large.bin", random.bytes(3 << 20))  // more than one IO_READ and the writer's chunk
        try write("data/empty", [UInt8]())
        try write("tmp/scratch.tmp", "scratch\n")
        XCTAssertEqual(symlink("docs/readme.txt", source + "/link"), 0)
    }

    func testChecksumLogAndIndexerInOneChainVerifyWithSha256sum() throws {
        try makeTree()
        let log = work.path + "/sums.txt"
        let index = work.path + "/index.jsonl"
        let (summary, catalog) = try backup([
            plugin("bareos-fd-checksum-log", "log=\(log)", examples: true),
            plugin("indexer", "index=\(index)", examples: true),
        ])
        XCTAssertEqual(summary.status, .ok, summary.failure ?? "")
        let rows = try catalog.files(job: JobID(rawValue: summary.jobID))
        XCTAssertEqual(summary.filesStored, 6, "\(rows.map { (String(decoding: $0.path, as: UTF8.self), $0.status, $0.error ?? "") })")
        // The log names files relative to / (D8): sha256sum -c checks the live tree and the restored one.
        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 6)
        XCTAssertTrue(lines.allSatisfy { !$0.contains("  /") })
        var (status, output) = try shell("cd / && sha256sum -c --strict \(log)")
        XCTAssertEqual(status, 0, output)
        let (restored, messages) = try restore(catalog, jobID: summary.jobID)
        XCTAssertEqual(restored.status, .ok, "\(messages)")
        (status, output) = try shell("cd \(target) && sha256sum -c --strict \(log)")
        XCTAssertEqual(status, 0, output)
        XCTAssertEqual(try read(self.restored("data/large.bin")), try read(source + "/data/large.bin"))

        // The indexer saw every entry (files, directories, the symlink) and closed with a summary.
        let records = try String(contentsOfFile: index, encoding: .utf8).split(separator: "\n").map {
            try XCTUnwrap(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        let entries = records.filter { $0["summary"] == nil }
        XCTAssertEqual(entries.count, 11)  // 6 files, 1 symlink, 4 directories (src, docs, data, tmp)
        XCTAssertEqual(records.last?["entries"] as? Int, 11)
        let readme = try XCTUnwrap(entries.first { ($0["path"] as? String) == source + "/docs/readme.txt" })
        XCTAssertEqual(readme["type"] as? String, "FT_REG")
        XCTAssertEqual(readme["size"] as? Int, 8)
        XCTAssertEqual(entries.first { ($0["path"] as? String) == source + "/link" }?["type"] as? String, "FT_LNK")
        XCTAssertEqual(entries.first { ($0["path"] as? String) == source + "/data/empty" }?["type"] as? String, "FT_REGE")
        // Both instances are recorded in each file's chain.
        XCTAssertEqual(try file(catalog, jobID: summary.jobID, "docs/readme.txt").chain.count, 2)
    }

    func testOwnerFilterSkipsTheEntriesOfAUser() throws {
        try makeTree()
        XCTAssertEqual(chown(source + "/docs/notes.md", 65534, 65534), 0)
        XCTAssertEqual(chown(source + "/tmp", 65534, 65534), 0)
        let (summary, catalog) = try backup([plugin("owner_filter", "skip_uids=65534", examples: true)])
        XCTAssertEqual(summary.status, .ok, summary.failure ?? "")
        XCTAssertEqual(try file(catalog, jobID: summary.jobID, "docs/notes.md").status, .skipped)
        XCTAssertEqual(try file(catalog, jobID: summary.jobID, "tmp").status, .skipped)
        XCTAssertEqual(try file(catalog, jobID: summary.jobID, "tmp/scratch.tmp").status, .stored)
        XCTAssertEqual(try file(catalog, jobID: summary.jobID, "docs/readme.txt").status, .stored)
        XCTAssertEqual(summary.filesSkipped, 1)
        let texts = try stageMessages(catalog, jobID: summary.jobID).map(\.text)
        XCTAssertTrue(texts.contains("owner_filter: skipped 2 entries"), "\(texts)")
        let (restored, _) = try restore(catalog, jobID: summary.jobID)
        XCTAssertEqual(restored.status, .ok)
        XCTAssertFalse(FileManager.default.fileExists(atPath: self.restored("docs/notes.md")))
        XCTAssertEqual(try read(self.restored("docs/readme.txt")), Array("read me\n".utf8))
    }

    func testGzipPluginStoresStandardGzipAndRestoresThroughPluginIO() throws {
        try makeTree()
        XCTAssertEqual(chmod(source + "/docs/readme.txt", 0o640), 0)
        var times = [timespec(tv_sec: 1_600_000_000, tv_nsec: 0), timespec(tv_sec: 1_600_000_000, tv_nsec: 0)]
        XCTAssertEqual(utimensat(AT_FDCWD, source + "/docs/readme.txt", &times, 0), 0)
        let (summary, catalog) = try backup([plugin("gzip_io", examples: true)], workers: 2)
        XCTAssertEqual(summary.status, .ok, summary.failure ?? "")
        let large = try file(catalog, jobID: summary.jobID, "data/large.bin")
        XCTAssertEqual(large.stageMetadata[PythonPluginStage.takenKey], plugin("gzip_io", examples: true))
        // What the volume holds for a taken file is the plugin's output: a gzip stream gunzip reads.
        let extract = work.path + "/extract"
        try FileManager.default.createDirectory(atPath: extract, withIntermediateDirectories: true)
        for volume in summary.volumes {
            let (status, output) = try shell("tar -xf \(volume) -C \(extract) --warning=no-unknown-keyword 2>&1")
            XCTAssertEqual(status, 0, output)
        }
        for name in ["data/large.bin", "docs/readme.txt", "data/random.bin"] {
            let (status, output) = try shell("gunzip -c \(extract)\(source)/\(name) | cmp - \(source)/\(name)")
            XCTAssertEqual(status, 0, "\(name): \(output)")
        }
        // Restore hands the verified gzip bytes to plugin_io, which inflates them into the file.
        let (restored, messages) = try restore(catalog, jobID: summary.jobID)
        XCTAssertEqual(restored.status, .ok, "\(messages)")
        let (status, output) = try shell("diff -r \(source) \(target)\(source)")
        XCTAssertEqual(status, 0, output)
        var st = stat()
        XCTAssertEqual(lstat(self.restored("docs/readme.txt"), &st), 0)
        XCTAssertEqual(st.st_mode & 0o7777, 0o640)
        XCTAssertEqual(st.st_mtim.tv_sec, 1_600_000_000)
    }

    /// A plugin in the shape of Bareos' option example: its own `load_bareos_plugin` sets
    /// `BareosFdWrapper.bareos_fd_plugin_object`, `from BareosFdWrapper import *` provides the entry points, and a
    /// `BareosFdPluginBaseclass` subclass takes every regular file (`bRC_OK`), so the data goes through the base
    /// class's `plugin_io` at backup and its `create_file`/`plugin_io`/`set_file_attributes` at restore.
    func testTheLookAlikeHelpersCarryAPluginThatTakesEveryFile() throws {
        try makeTree()
        XCTAssertEqual(chmod(source + "/docs/notes.md", 0o600), 0)
        try writePlugin(
            "option_example",
            """
            import bareosfd
            import BareosFdWrapper
            from BareosFdWrapper import *
            from BareosFdPluginBaseclass import BareosFdPluginBaseclass

            class TakeEverything(BareosFdPluginBaseclass):
                def handle_backup_file(self, savepkt):
                    if savepkt.type == bareosfd.FT_REG:
                        return bareosfd.bRC_OK
                    return bareosfd.bRC_Core

            def load_bareos_plugin(plugindef):
                BareosFdWrapper.bareos_fd_plugin_object = TakeEverything(plugindef)
                return bareosfd.bRC_OK
            """)
        let string = "python3:module_path=\(plugins):module_name=option_example"
        let (summary, catalog) = try backup(
            [string], jobDirectives: "Plugin Directory = \"\(PythonPluginTestCase.examples)\"")
        XCTAssertEqual(summary.status, .ok, summary.failure ?? "")
        XCTAssertEqual(try file(catalog, jobID: summary.jobID, "data/large.bin").stageMetadata[PythonPluginStage.takenKey], string)
        var python = PythonPluginSettings()
        python.pluginDirectory = PythonPluginTestCase.examples  // where the helper modules are
        let job = RestoreJob(
            catalog: catalog, jobID: JobID(rawValue: summary.jobID), settings: RestoreSettings(whereDirectory: target),
            stageFactory: StageRegistry.factory(python: python))
        let restored = try job.run()
        XCTAssertEqual(restored.status, .ok, "\(job.problems.map(\.text))")
        let (status, output) = try shell("diff -r \(source) \(target)\(source)")
        XCTAssertEqual(status, 0, output)
        var st = stat()
        XCTAssertEqual(lstat(self.restored("docs/notes.md"), &st), 0)
        XCTAssertEqual(st.st_mode & 0o7777, 0o600)
    }

    /// A 2014-style plugin class behind `BareosFdWrapper` (Bareos <= 19): context first everywhere, the old dicts of
    /// `bareos_fd_consts`, the object assigned to `BareosFdWrapper.bareos_fd_plugin_object`.
    func testAnOldGenerationPluginClassBehindTheWrapper() throws {
        try makeTree()
        try writePlugin(
            "old_wrapped",
            """
            from bareosfd import *
            from bareos_fd_consts import *
            import BareosFdWrapper
            from BareosFdWrapper import *

            class OldPlugin(object):
                def __init__(self, context, plugindef):
                    RegisterEvents(context, [bEventType['bEventHandleBackupFile'], bEventType['bEventEndBackupJob']])
                    self.files = 0
                def parse_plugin_definition(self, context, plugindef):
                    return bRCs['bRC_OK']
                def handle_plugin_event(self, context, event):
                    if event == bEventType['bEventEndBackupJob']:
                        JobMessage(context, bJobMessageType['M_INFO'], "old plugin saw %d files\\n" % self.files)
                    return bRCs['bRC_OK']
                def handle_backup_file(self, context, savepkt):
                    if savepkt.type == bFileType['FT_REG'] or savepkt.type == bFileType['FT_REGE']:
                        self.files += 1
                    if savepkt.fname.endswith('.tmp'):
                        return bRCs['bRC_Skip']
                    return bRCs['bRC_Core']

            def load_bareos_plugin(context, plugindef):
                BareosFdWrapper.bareos_fd_plugin_object = OldPlugin(context, plugindef)
                return bRCs['bRC_OK']
            """)
        let (summary, catalog) = try backup(
            ["python:module_path=\(plugins):module_name=old_wrapped"],
            jobDirectives: "Plugin Directory = \"\(PythonPluginTestCase.examples)\"")
        XCTAssertEqual(summary.status, .ok, summary.failure ?? "")
        XCTAssertEqual(try file(catalog, jobID: summary.jobID, "tmp/scratch.tmp").status, .skipped)
        XCTAssertEqual(summary.filesStored, 5)
        XCTAssertEqual(try stageMessages(catalog, jobID: summary.jobID).map(\.text).last, "old plugin saw 6 files")
    }
}
