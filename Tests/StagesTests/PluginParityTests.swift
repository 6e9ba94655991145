import Foundation
import PipelineTestSupport
import XCTest

@testable import Pipeline
@testable import Stages

/// Plugin parity (issue 12 item 4): the values a Bareos file daemon always sets reach plugins as values of their
/// type at backup and at a restore without CONFIG, so a plugin built on a Bareos-style base class (which calls
/// `.endswith` on bVarUsedConfig while it is constructed) restores its files.
final class PluginParityTests: PythonPluginTestCase {
    /// The helper directory a Job's `Plugin Directory` names (the base class lives there, as Bareos installs it).
    var helpers: String { work.path + "/helpers" }

    /// A base class in the style of Bareos' `BareosFdPluginBaseclass` (our own code): its constructor reads the
    /// values Bareos always sets and uses them as what they are (str methods on strings, arithmetic on ints), so a
    /// None fails the load with an AttributeError or TypeError.
    static let baseClass = """
        import os
        import bareosfd

        class ParityBaseclass(object):
            def __init__(self, plugindef):
                bareosfd.RegisterEvents([bareosfd.bEventHandleBackupFile])
                config = bareosfd.GetValue(bareosfd.bVarUsedConfig)
                if config.endswith("/*/*.conf"):
                    self.config_dir = config[: -len("/*/*.conf")]
                else:
                    self.config_dir = os.path.dirname(config)
                name = bareosfd.GetValue(bareosfd.bVarJobName)
                bareosfd.JobMessage(bareosfd.M_INFO, "parity: config=%s dir=%s jobid=%d name=%s level=%s since=%d "
                    "client=%s workdir=%s type=%s\\n" % (
                    config, self.config_dir, bareosfd.GetValue(bareosfd.bVarJobId) + 0, name.split(".")[0],
                    chr(bareosfd.GetValue(bareosfd.bVarLevel)), bareosfd.GetValue(bareosfd.bVarSinceTime) + 0,
                    bareosfd.GetValue(bareosfd.bVarClient).lower(), bareosfd.GetValue(bareosfd.bVarWorkingDir).rstrip("/") != "",
                    chr(bareosfd.GetValue(bareosfd.bVarType))))

            def parse_plugin_definition(self, plugindef):
                return bareosfd.bRC_OK

            def handle_backup_file(self, savepkt):
                return bareosfd.bRC_OK if savepkt.type == bareosfd.FT_REG else bareosfd.bRC_Core

            def plugin_io(self, iop):
                if iop.func == bareosfd.IO_OPEN:
                    self.file = open(iop.fname, "rb" if iop.flags == 0 else "wb")
                elif iop.func == bareosfd.IO_READ:
                    iop.buf = bytearray(self.file.read(iop.count))
                    iop.status = len(iop.buf)
                elif iop.func == bareosfd.IO_WRITE:
                    self.file.write(iop.buf)
                    iop.status = iop.count
                elif iop.func == bareosfd.IO_CLOSE:
                    self.file.close()
                return bareosfd.bRC_OK

            def start_restore_file(self, cmd):
                return bareosfd.bRC_OK

            def create_file(self, restorepkt):
                os.makedirs(os.path.dirname(restorepkt.ofname), exist_ok=True)
                restorepkt.create_status = bareosfd.CF_EXTRACT
                return bareosfd.bRC_OK

            def set_file_attributes(self, restorepkt):
                return bareosfd.bRC_OK

            def end_restore_file(self):
                return bareosfd.bRC_OK
        """

    /// The plugin module, in the style of `BareosFdWrapper`: module-level entry points routed to one instance.
    static let plugin = """
        import bareosfd
        from parity_base import ParityBaseclass

        plugin = None

        def load_bareos_plugin(plugindef):
            global plugin
            plugin = ParityBaseclass(plugindef)
            return bareosfd.bRC_OK

        def parse_plugin_definition(plugindef): return plugin.parse_plugin_definition(plugindef)
        def handle_backup_file(savepkt): return plugin.handle_backup_file(savepkt)
        def plugin_io(iop): return plugin.plugin_io(iop)
        def start_restore_file(cmd): return plugin.start_restore_file(cmd)
        def create_file(restorepkt): return plugin.create_file(restorepkt)
        def set_file_attributes(restorepkt): return plugin.set_file_attributes(restorepkt)
        def end_restore_file(): return plugin.end_restore_file()
        """

    override func setUpWithError() throws {
        try super.setUpWithError()
        try FileManager.default.createDirectory(atPath: helpers, withIntermediateDirectories: true)
        try Self.baseClass.write(toFile: helpers + "/parity_base.py", atomically: true, encoding: .utf8)
        try writePlugin("parity_plugin", Self.plugin)
        try write("a.txt", "alpha\n")
        try write("sub/b.txt", "bravo\n")
    }

    private func parityLines(_ messages: [JobMessage]) -> [String] {
        messages.compactMap { $0.text.hasPrefix("parity: ") ? $0.text : nil }
    }

    /// The backup had a CONFIG and a Plugin Directory; the restore has neither: the plugin gets the configuration
    /// path and the Plugin Directory (where its base class lives) recorded with the backup job, and restores both
    /// files.
    func testARestoreWithoutConfigGetsTheConfigPathAndPluginDirectoryOfTheBackup() throws {
        let (summary, catalog) = try backup(
            [plugin("parity_plugin")], jobDirectives: "Plugin Directory = \"\(helpers)\"",
            configurationPath: "/srv/optionhost/job.conf")
        XCTAssertEqual(summary.status, .ok, summary.failure ?? "")
        let host = PythonPluginSettings.hostName().lowercased()
        XCTAssertEqual(
            parityLines(try stageMessages(catalog, jobID: summary.jobID)),
            ["parity: config=/srv/optionhost/job.conf dir=/srv/optionhost jobid=\(summary.jobID) name=j level=F since=0 "
                + "client=\(host) workdir=True type=B"])
        let (outcome, messages) = try restore(catalog, jobID: summary.jobID)
        XCTAssertEqual(outcome.status, .ok, messages.map(\.text).joined(separator: "\n"))
        XCTAssertEqual(outcome.filesStored, 2)
        XCTAssertEqual(
            parityLines(messages),
            ["parity: config=/srv/optionhost/job.conf dir=/srv/optionhost jobid=\(summary.jobID) name=j level=F since=0 "
                + "client=\(host) workdir=True type=R"])
        XCTAssertEqual(try read(restored("a.txt")), Array("alpha\n".utf8))
        XCTAssertEqual(try read(restored("sub/b.txt")), Array("bravo\n".utf8))
    }

    /// Neither the backup nor the restore had a CONFIG: the plugin gets the documented default (a Bareos file
    /// daemon's configuration glob) both times, and the Job's `Client =` as the client at backup and restore.
    func testWithoutAnyConfigThePluginGetsTheDocumentedDefaultAndTheJobsClient() throws {
        let (summary, catalog) = try backup(
            [plugin("parity_plugin")], jobDirectives: "Plugin Directory = \"\(helpers)\"\n  Client = Web1-fd")
        XCTAssertEqual(summary.status, .ok, summary.failure ?? "")
        XCTAssertEqual(PythonPluginSettings.defaultUsedConfig, "/etc/bareos/bareos-fd.d/*/*.conf")
        let expected =
            "parity: config=/etc/bareos/bareos-fd.d/*/*.conf dir=/etc/bareos/bareos-fd.d jobid=\(summary.jobID) "
            + "name=j level=F since=0 client=web1-fd workdir=True type="
        XCTAssertEqual(parityLines(try stageMessages(catalog, jobID: summary.jobID)), [expected + "B"])
        let (outcome, messages) = try restore(catalog, jobID: summary.jobID)
        XCTAssertEqual(outcome.status, .ok, messages.map(\.text).joined(separator: "\n"))
        XCTAssertEqual(outcome.filesStored, 2)
        XCTAssertEqual(parityLines(messages), [expected + "R"])
        XCTAssertEqual(try read(restored("sub/b.txt")), Array("bravo\n".utf8))
    }

    /// A command plugin on the helper modules a Bareos installation has in its plugin directory (our look-alikes in
    /// `examples/plugins`: `BareosFdPluginBaseclass`, `BareosFdWrapper`, `@BareosPlugin`), whose options come from a
    /// `defaults_file=` that the base class resolves against the directory of bVarUsedConfig: a restore without
    /// CONFIG finds both (the Plugin Directory and the configuration path recorded with the backup).
    func testAHelperBasedCommandPluginWithADefaultsFileRestoresWithoutConfig() throws {
        try writePlugin(
            "helper_list",
            """
            import os
            import bareosfd
            from BareosFdPluginBaseclass import BareosFdPluginBaseclass
            from BareosFdWrapper import *  # noqa: F401,F403 - the entry points
            from BareosFdWrapper import BareosPlugin

            @BareosPlugin
            class HelperList(BareosFdPluginBaseclass):
                def __init__(self, plugindef):
                    super().__init__(plugindef, ["filename"])
                    self.files = None

                def start_backup_file(self, savepkt):
                    if self.files is None:
                        with open(self.options["filename"]) as listing:
                            self.files = [line.strip() for line in listing if line.strip()]
                    if not self.files:
                        return bareosfd.bRC_Stop
                    name = self.files.pop(0)
                    info = os.stat(name)
                    statp = bareosfd.StatPacket()
                    statp.st_mode = info.st_mode
                    statp.st_size = info.st_size
                    statp.st_atime = statp.st_mtime = statp.st_ctime = int(info.st_mtime)
                    savepkt.statp = statp
                    savepkt.fname = name
                    savepkt.type = bareosfd.FT_REG
                    return bareosfd.bRC_OK

                def end_backup_file(self):
                    return bareosfd.bRC_More if self.files else bareosfd.bRC_OK
            """)
        let conf = work.path + "/conf"
        try FileManager.default.createDirectory(atPath: conf, withIntermediateDirectories: true)
        try "# the job's configuration\n".write(toFile: conf + "/job.conf", atomically: true, encoding: .utf8)
        let list = work.path + "/list.txt"
        try "\(source)/a.txt\n\(source)/sub/b.txt\n".write(toFile: list, atomically: true, encoding: .utf8)
        try "filename=\(list)\n".write(toFile: conf + "/helper_list.ini", atomically: true, encoding: .utf8)
        let body = """
              Include {
                Options { Signature = SHA256 }
                Plugin = "\(plugin("helper_list", "defaults_file=helper_list.ini"))"
              }
            """
        let (summary, catalog) = try backup(
            [], jobDirectives: "Plugin Directory = \"\(PythonPluginTestCase.examples)\"", fileSetBody: body,
            configurationPath: conf + "/job.conf")
        XCTAssertEqual(summary.status, .ok, summary.failure ?? "")
        XCTAssertEqual(summary.filesStored, 2)
        try FileManager.default.removeItem(atPath: source)
        let (outcome, messages) = try restore(catalog, jobID: summary.jobID)
        XCTAssertEqual(outcome.status, .ok, messages.map(\.text).joined(separator: "\n"))
        XCTAssertEqual(outcome.filesStored, 2)
        XCTAssertEqual(try read(restored("a.txt")), Array("alpha\n".utf8))
        XCTAssertEqual(try read(restored("sub/b.txt")), Array("bravo\n".utf8))
    }
}

