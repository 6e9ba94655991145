import Foundation
import PipelineTestSupport
import XCTest

@testable import Pipeline
@testable import Stages

/// The python-fd host: call order, return codes, errors, both API generations, isolation, `bareosfd` surface.
final class PythonPluginTests: PythonPluginTestCase {
    // MARK: - Call order

    func testBackupAndRestoreCallOrderOfATakenFile() throws {
        try write("a.txt", "hello\n")
        let (summary, catalog) = try backup([plugin("callorder", "answer=ok:root=\(source)", examples: true)])
        XCTAssertEqual(summary.status, .ok, summary.failure ?? "")
        XCTAssertEqual(summary.filesStored, 1)
        XCTAssertEqual(
            callOrder(try stageMessages(catalog, jobID: summary.jobID)),
            [
                "load_bareos_plugin('answer=ok:root=\(source):')",
                "parse_plugin_definition('answer=ok:root=\(source):')",
                "handle_plugin_event(16)",
                "handle_plugin_event(3)",
                "handle_backup_file(a.txt, type=3)",
                "plugin_io(open, a.txt, flags=0, mode=0o0)",
                "plugin_io(read, count=262144) -> 6",
                "plugin_io(read, count=262144) -> 0",
                "plugin_io(close)",
                "get_acl(a.txt)",
                "get_xattr(a.txt)",
                "handle_backup_file(., type=5)",
                "get_acl(.)",
                "get_xattr(.)",
                "handle_plugin_event(4)",
                "handle_plugin_event(2)",
            ])
        let record = try file(catalog, jobID: summary.jobID, "a.txt")
        XCTAssertEqual(record.status, .stored)
        XCTAssertEqual(record.stageMetadata[PythonPluginStage.takenKey], plugin("callorder", "answer=ok:root=\(source)", examples: true))
        XCTAssertEqual(record.sourceSHA256, try Digester.digest(.sha256, of: Array("hello\n".utf8)))

        let (restored, messages) = try restore(catalog, jobID: summary.jobID)
        XCTAssertEqual(restored.status, .ok, "\(messages)")
        XCTAssertEqual(try read(self.restored("a.txt")), Array("hello\n".utf8))
        let calls = callOrder(messages)
        XCTAssertEqual(calls.first, "load_bareos_plugin('answer=ok:root=\(source):')")
        let output = target + source + "/a.txt"
        XCTAssertEqual(
            Array(calls.drop { !$0.hasPrefix("start_restore_file") }),
            [
                "start_restore_file('\(plugin("callorder", "answer=ok:root=\(source)", examples: true))')",
                "create_file(\(relativeToRoot(output)), type=3)",
                "plugin_io(open, \(relativeToRoot(output)), flags=577, mode=0o600)",
                "plugin_io(write, count=6)",
                "set_file_attributes(\(relativeToRoot(output)))",
                "plugin_io(close)",
                "end_restore_file()",
                "handle_plugin_event(6)",
                "handle_plugin_event(2)",
            ])
    }

    /// callorder prints names relative to its `root` option.
    private func relativeToRoot(_ path: String) -> String {
        let base = URL(fileURLWithPath: source).standardized.pathComponents
        let full = URL(fileURLWithPath: path).standardized.pathComponents
        var common = 0
        while common < min(base.count, full.count) && base[common] == full[common] { common += 1 }
        return (Array(repeating: "..", count: base.count - common) + full[common...]).joined(separator: "/")
    }

    // MARK: - Return codes

    func testEveryReturnCodeOfHandleBackupFile() throws {
        let answers = ["core", "skip", "ok", "error", "none", "raise", "string", "1", "3", "5", "8", "-1"]
        for answer in answers { try write("\(answer).dat", "data of \(answer)\n") }
        try writePlugin(
            "answers",
            """
            import bareosfd, os
            from bareosfd import *
            def load_bareos_plugin(plugindef):
                bareosfd.RegisterEvents([bEventHandleBackupFile])
                return bRC_OK
            def parse_plugin_definition(plugindef):
                return bRC_OK
            def handle_backup_file(savepkt):
                name = os.path.basename(savepkt.fname)
                if not name.endswith(".dat"):
                    return bRC_Core
                answer = name[:-4]
                if answer == "core": return bRC_Core
                if answer == "skip": return bRC_Skip
                if answer == "ok": return bRC_OK
                if answer == "error": return bRC_Error
                if answer == "none": return None
                if answer == "raise": raise ValueError("refused " + name)
                if answer == "string": return "oops"
                return int(answer)
            def plugin_io(iop):
                if iop.func == IO_OPEN:
                    iop.status = 0
                elif iop.func == IO_READ:
                    iop.buf = bytearray(b"from the plugin\\n") if not getattr(plugin_io, "done", False) else bytearray()
                    iop.status = len(iop.buf)
                    plugin_io.done = not plugin_io.done if hasattr(plugin_io, "done") else True
                return bRC_OK
            """)
        let (summary, catalog) = try backup([plugin("answers")])
        XCTAssertEqual(summary.status, .warnings)
        XCTAssertEqual(summary.filesStored, 2)  // core, ok
        XCTAssertEqual(summary.filesSkipped, 1)
        XCTAssertEqual(summary.filesFailed, answers.count - 3)
        func row(_ answer: String) throws -> FileRecord { try file(catalog, jobID: summary.jobID, "\(answer).dat") }
        XCTAssertEqual(try row("core").status, .stored)
        XCTAssertNil(try row("core").stageMetadata[PythonPluginStage.takenKey])
        XCTAssertEqual(try row("skip").status, .skipped)
        XCTAssertEqual(try row("skip").error, "skipped by stage \(plugin("answers")): bRC_Skip")
        XCTAssertEqual(try row("ok").status, .stored)
        XCTAssertEqual(try row("ok").sourceSHA256, try Digester.digest(.sha256, of: Array("from the plugin\n".utf8)))
        XCTAssertEqual(try row("ok").size, UInt64("data of ok\n".utf8.count))
        let stage = "stage \(plugin("answers")): "
        XCTAssertEqual(try row("error").error, stage + "handle_backup_file returned bRC_Error (2)")
        XCTAssertEqual(try row("1").error, stage + "handle_backup_file returned bRC_Stop (1)")
        XCTAssertEqual(try row("3").error, stage + "handle_backup_file returned bRC_More (3)")
        XCTAssertEqual(try row("5").error, stage + "handle_backup_file returned bRC_Seen (5)")
        XCTAssertEqual(try row("8").error, stage + "handle_backup_file returned bRC_Cancel (8)")
        XCTAssertEqual(try row("-1").error, stage + "handle_backup_file returned -1, which is no bRC_* value")
        let none = try row("none").error!
        XCTAssertTrue(none.contains("handle_backup_file returned None"), none)
        let string = try row("string").error!
        XCTAssertTrue(string.contains("str"), string)
        let raised = try row("raise").error!
        XCTAssertTrue(raised.hasPrefix(stage + "handle_backup_file raised an exception:\nTraceback (most recent call last):"), raised)
        XCTAssertTrue(raised.contains("ValueError: refused raise.dat"), raised)
        // The traceback is also a job message of the file, and the job went on after it.
        let messages = try stageMessages(catalog, jobID: summary.jobID)
        XCTAssertTrue(messages.contains { $0.severity == "error" && $0.text.contains("ValueError: refused raise.dat") && $0.path == Array((source + "/raise.dat").utf8) })
        // The restore of the plugin's bytes needs its restore side; the core file restores by itself.
        let (restored, _) = try restore(catalog, jobID: summary.jobID)
        XCTAssertEqual(try read(self.restored("core.dat")), Array("data of core\n".utf8))
        XCTAssertEqual(restored.errors, 1)  // ok.dat: the module has no start_restore_file
    }

    func testStageErrorPolicyFailStopsTheJobAtTheFirstException() throws {
        try write("raise.dat", "x")
        try write("z-later.txt", "y")
        try writePlugin(
            "raiser",
            """
            import bareosfd
            def load_bareos_plugin(plugindef):
                bareosfd.RegisterEvents([bareosfd.bEventHandleBackupFile])
                return 0
            def parse_plugin_definition(plugindef): return 0
            def handle_backup_file(savepkt):
                if savepkt.fname.endswith(".dat"): raise RuntimeError("boom")
                return bareosfd.bRC_Core
            """)
        let (summary, catalog) = try backup([plugin("raiser")], jobDirectives: "Stage Error Policy = fail")
        XCTAssertEqual(summary.status, .failed)
        XCTAssertTrue(summary.failure!.contains("RuntimeError: boom"), summary.failure!)
        XCTAssertEqual(try file(catalog, jobID: summary.jobID, "raise.dat").status, .failed)
    }

    // MARK: - Job start

    func testAnImportFailureFailsTheJobBeforeAnyFileIsRead() throws {
        try write("a.txt", "x")
        let (summary, catalog) = try backup([plugin("no_such_module")])
        XCTAssertEqual(summary.status, .failed)
        XCTAssertTrue(summary.failure!.contains("cannot import module \"no_such_module\""), summary.failure!)
        XCTAssertTrue(summary.failure!.contains("ModuleNotFoundError: No module named 'no_such_module'"), summary.failure!)
        XCTAssertEqual(try catalog.files(job: JobID(rawValue: summary.jobID)).count, 0)
        XCTAssertEqual(summary.filesExamined, 0)
    }

    func testASyntaxErrorAndAFailingLoadFailTheJobAtStart() throws {
        try write("a.txt", "x")
        try writePlugin("broken", "def load_bareos_plugin(plugindef)\n    return 0\n")
        let (broken, _) = try backup([plugin("broken")])
        XCTAssertEqual(broken.status, .failed)
        XCTAssertTrue(broken.failure!.contains("SyntaxError"), broken.failure!)

        try writePlugin("refusing", "import bareosfd\ndef load_bareos_plugin(plugindef):\n    return bareosfd.bRC_Error\n")
        let (refused, _) = try backup([plugin("refusing")])
        XCTAssertEqual(refused.status, .failed)
        XCTAssertTrue(refused.failure!.contains("load_bareos_plugin returned bRC_Error (2)"), refused.failure!)

        try writePlugin("noload", "x = 1\n")
        let (missing, _) = try backup([plugin("noload")])
        XCTAssertEqual(missing.status, .failed)
        XCTAssertTrue(missing.failure!.contains("the plugin has no callable load_bareos_plugin"), missing.failure!)
    }

    func testModuleNamesWithDashesPackagesAndThePluginDirectory() throws {
        try write("a.txt", "x")
        try FileManager.default.createDirectory(atPath: plugins + "/pkg_plugin", withIntermediateDirectories: true)
        try """
            import bareosfd
            from helper_in_plugindir import greeting
            def load_bareos_plugin(plugindef):
                bareosfd.JobMessage(bareosfd.M_INFO, "package loaded: " + greeting)
                return 0
            def parse_plugin_definition(plugindef): return 0
            """.write(toFile: plugins + "/pkg_plugin/__init__.py", atomically: true, encoding: .utf8)
        let pluginDirectory = work.path + "/plugindir"
        try FileManager.default.createDirectory(atPath: pluginDirectory, withIntermediateDirectories: true)
        try "greeting = 'from the Plugin Directory'\n".write(
            toFile: pluginDirectory + "/helper_in_plugindir.py", atomically: true, encoding: .utf8)
        try writePlugin(
            "dash-name",
            "import bareosfd\ndef load_bareos_plugin(p):\n    bareosfd.JobMessage(bareosfd.M_INFO, 'dash loaded')\n    return 0\ndef parse_plugin_definition(p): return 0\n")
        let (summary, catalog) = try backup(
            [plugin("pkg_plugin"), plugin("dash-name")], jobDirectives: "Plugin Directory = \"\(pluginDirectory)\"")
        XCTAssertEqual(summary.status, .ok, summary.failure ?? "")
        let texts = try stageMessages(catalog, jobID: summary.jobID).map(\.text)
        XCTAssertEqual(texts, ["package loaded: from the Plugin Directory", "dash loaded"])
    }

    // MARK: - Generations and isolation

    func testOldGenerationPluginRunsWithContextAndStringKeyedConstants() throws {
        try write("keep.txt", "k")
        try write("drop.tmp", "d")
        let (summary, catalog) = try backup([
            "python:module_path=\(PythonPluginTestCase.examples):module_name=bareos-fd-oldstyle:skip_suffix=.tmp"
        ])
        XCTAssertEqual(summary.status, .ok, summary.failure ?? "")
        XCTAssertEqual(try file(catalog, jobID: summary.jobID, "keep.txt").status, .stored)
        XCTAssertEqual(try file(catalog, jobID: summary.jobID, "drop.tmp").status, .skipped)
        let messages = try stageMessages(catalog, jobID: summary.jobID)
        // JobMessage(context, bJobMessageType["M_INFO"], ...) from the plugin's end-of-job event, after the skip.
        XCTAssertEqual(
            messages.map(\.text),
            [
                "skipped by stage python:module_path=\(PythonPluginTestCase.examples):module_name=bareos-fd-oldstyle:skip_suffix=.tmp: bRC_Skip",
                "bareos-fd-oldstyle: skipped 1 files",
            ])
        let (restored, _) = try restore(catalog, jobID: summary.jobID)
        XCTAssertEqual(restored.status, .ok)
        XCTAssertEqual(try read(self.restored("keep.txt")), Array("k".utf8))
        XCTAssertFalse(FileManager.default.fileExists(atPath: self.restored("drop.tmp")))
        // With -d the detection is reported.
        let (debug, _) = try backup(
            ["python:module_path=\(PythonPluginTestCase.examples):module_name=bareos-fd-oldstyle:skip_suffix=.tmp"],
            debugLevel: 1)
        XCTAssertEqual(
            try stageMessages(catalog, jobID: debug.jobID).first?.text,
            "bareos-fd-oldstyle is an old-generation plugin: its entry points get a context first")
    }

    func testTwoPluginsInOneChainHaveSeparateInterpretersAndGlobals() throws {
        try write("a.txt", "x")
        let code = """
            import bareosfd, sys
            counter = 0
            def load_bareos_plugin(plugindef):
                global counter
                counter += 1
                bareosfd.RegisterEvents([bareosfd.bEventHandleBackupFile, bareosfd.bEventEndBackupJob])
                sys.shared_marker = getattr(sys, "shared_marker", 0) + 1
                return 0
            def parse_plugin_definition(plugindef):
                global name
                name = plugindef
                return 0
            def handle_backup_file(savepkt):
                global counter
                counter += 1
                return bareosfd.bRC_Core
            def handle_plugin_event(event):
                bareosfd.JobMessage(bareosfd.M_INFO, "%s counter=%d marker=%d" % (name, counter, sys.shared_marker))
                return 0
            """
        try writePlugin("twin", code)
        let (summary, catalog) = try backup([plugin("twin", "who=first"), plugin("twin", "who=second")])
        XCTAssertEqual(summary.status, .ok, summary.failure ?? "")
        // Each instance counted its own load and the two entries (file and directory); `sys` is per interpreter.
        XCTAssertEqual(
            try stageMessages(catalog, jobID: summary.jobID).map(\.text),
            ["who=first: counter=3 marker=1", "who=second: counter=3 marker=1"])
    }

    // MARK: - bareosfd surface

    func testGetValueAndTheModuleSurfaceFromARealJob() throws {
        try write("a.txt", "x")
        try writePlugin(
            "probe",
            """
            import bareosfd
            from bareosfd import *
            problems = []
            def check(condition, text):
                if not condition: problems.append(text)
            def load_bareos_plugin(plugindef):
                check(bareosfd.bRCs[b"bRC_OK"] == 0 and bareosfd.bRCs[b"bRC_Skip"] == 7, "bRCs")
                check("bRC_OK" not in bareosfd.bRCs, "bRCs has str keys")
                check(bareosfd.bLevels[b"L_FULL"] == b"F" and bareosfd.L_FULL == "F", "bLevels")
                check(bareosfd.bJobMessageType[b"M_INFO"] == 6, "M_INFO")
                check(bareosfd.bEventType[b"bEventHandleBackupFile"] == 19, "events")
                check(bareosfd.bCFs[b"CF_EXTRACT"] == 3 and bareosfd.bIOPS[b"IO_READ"] == 2, "CF/IO")
                check(bareosfd.bIOPstatus[b"iostat_do_in_core"] == 1, "iostat")
                check(bareosfd.bAccurateOption[b"bAccurateOptionMtime"] == 128, "accurate")
                check(bareosfd.bFileType[b"FT_DIREND"] == 5 and bareosfd.bVariable[b"bVarJobId"] == 1, "FT/var")
                s = bareosfd.StatPacket()
                check(s.st_mode == 0o100700 and s.st_size == 2**64 - 1 and s.st_blksize == 4096, "StatPacket defaults")
                check(type(s).__name__ == "stat_pkt" and type(bareosfd.SavePacket()).__name__ == "save_pkt", "type names")
                try:
                    bareosfd.SavePacket().cmd = "x"
                    problems.append("cmd writable")
                except TypeError:
                    pass
                bareosfd.RegisterEvents([bEventHandleBackupFile, bEventEndBackupJob])
                return bRC_OK
            def parse_plugin_definition(plugindef): return bRC_OK
            def handle_backup_file(savepkt):
                check(isinstance(savepkt.flags, bytearray) and len(savepkt.flags) == 5, "flags")
                check(savepkt.flags[19 >> 3] & (1 << (19 & 7)), "FO_SHA256 bit")
                check(savepkt.flags[29 >> 3] & (1 << (29 & 7)), "FO_PLUGIN bit")
                check(savepkt.cmd.startswith("python3:module_path="), "cmd")
                if savepkt.type == bFileType[b"FT_REG"]:
                    check(savepkt.link == savepkt.fname, "link of a regular file")
                    check(savepkt.statp.st_size == 1, "st_size")
                if savepkt.type == FT_DIREND:
                    check(savepkt.link == savepkt.fname + "/", "link of a directory")
                return bRC_Core
            def handle_plugin_event(event):
                values = [bareosfd.GetValue(v) for v in (bVarJobId, bVarJobName, bVarLevel, bVarType, bVarSinceTime,
                          bVarFDName, bVarWorkingDir, bVarAccurate, bVarJobStatus)]
                check(values[2] == ord("F") and values[3] == ord("B") and values[4] == 0, "level/type/since")
                check(values[1].startswith("j.") and isinstance(values[0], int), "job id/name")
                check(bareosfd.GetValue(bVarAccurateOptions) is None, "accurate options")
                check(bareosfd.GetInstanceCount() >= 1, "instance count")
                bareosfd.JobMessage(M_INFO, "jobid=%d problems=%s" % (values[0], problems))
                return bRC_OK
            """)
        let (summary, catalog) = try backup([plugin("probe")])
        XCTAssertEqual(summary.status, .ok, summary.failure ?? "")
        XCTAssertEqual(try stageMessages(catalog, jobID: summary.jobID).map(\.text), ["jobid=\(summary.jobID) problems=[]"])
    }

    func testMessagesDebugLevelsPrintAndFatalMessages() throws {
        try write("a.txt", "x")
        try writePlugin(
            "talker",
            """
            import bareosfd, sys
            def load_bareos_plugin(plugindef):
                bareosfd.RegisterEvents([bareosfd.bEventHandleBackupFile])
                return 0
            def parse_plugin_definition(plugindef):
                bareosfd.DebugMessage(100, "debug at 100\\n")
                bareosfd.DebugMessage(200, "debug at 200\\n")
                bareosfd.JobMessage(bareosfd.M_WARNING, "a warning\\n")
                print("printed line")
                print("to stderr", file=sys.stderr)
                return 0
            def handle_backup_file(savepkt):
                return bareosfd.bRC_Core
            """)
        let (summary, catalog) = try backup([plugin("talker")], debugLevel: 150)
        XCTAssertEqual(summary.status, .ok, summary.failure ?? "")
        let messages = try stageMessages(catalog, jobID: summary.jobID)
        XCTAssertEqual(messages.map(\.text), ["debug 100: debug at 100", "a warning", "stdout: printed line", "stderr: to stderr"])
        XCTAssertEqual(messages.map(\.severity), ["debug", "warning", "info", "warning"])

        try writePlugin(
            "fatal",
            """
            import bareosfd
            def load_bareos_plugin(plugindef):
                bareosfd.RegisterEvents([bareosfd.bEventHandleBackupFile])
                return 0
            def parse_plugin_definition(plugindef): return 0
            def handle_backup_file(savepkt):
                bareosfd.JobMessage(bareosfd.M_FATAL, "giving up on %s\\n" % savepkt.fname)
                return bareosfd.bRC_Core
            """)
        let (fatal, _) = try backup([plugin("fatal")])
        XCTAssertEqual(fatal.status, .failed)
        XCTAssertTrue(fatal.failure!.contains("plugin message (M_FATAL): giving up on"), fatal.failure!)
    }

    func testNamesThatAreNotUTF8ReachPythonWithSurrogateEscapes() throws {
        try write("plain.txt", "p")
        let name: [UInt8] = Array("caf".utf8) + [0xE9] + Array(".txt".utf8)
        let path = (Array(source.utf8) + [UInt8(ascii: "/")] + name).map { CChar(bitPattern: $0) } + [0]
        let created = creat(path, 0o644)
        XCTAssertGreaterThanOrEqual(created, 0)
        close(created)
        try writePlugin(
            "names",
            """
            import bareosfd, os
            def load_bareos_plugin(plugindef):
                bareosfd.RegisterEvents([bareosfd.bEventHandleBackupFile])
                return 0
            def parse_plugin_definition(plugindef): return 0
            def handle_backup_file(savepkt):
                if savepkt.type == bareosfd.FT_REGE or savepkt.type == bareosfd.FT_REG:
                    bareosfd.JobMessage(bareosfd.M_INFO, os.fsencode(os.path.basename(savepkt.fname)).hex())
                return bareosfd.bRC_Core
            """)
        let (summary, catalog) = try backup([plugin("names")])
        XCTAssertEqual(summary.status, .ok, summary.failure ?? "")
        let texts = Set(try stageMessages(catalog, jobID: summary.jobID).map(\.text))
        XCTAssertTrue(texts.contains(Hex.encode(name)), "\(texts)")
        XCTAssertTrue(texts.contains(Hex.encode(Array("plain.txt".utf8))), "\(texts)")
    }

    func testThreadsOfAPluginAreJoinedAndADaemonThreadLeftRunningIsReportedNotACrash() throws {
        try write("a.txt", "x")
        try writePlugin(
            "threads",
            """
            import bareosfd, threading, time
            def worker(seconds):
                time.sleep(seconds)
            def load_bareos_plugin(plugindef):
                threading.Thread(target=worker, args=(0.2,)).start()             # joined at the end of the job
                if "daemon" in plugindef:
                    threading.Thread(target=worker, args=(3600,), daemon=True).start()
                return 0
            def parse_plugin_definition(plugindef): return 0
            """)
        let (joined, catalog) = try backup([plugin("threads", "x=1")])
        XCTAssertEqual(joined.status, .ok, joined.failure ?? "")
        XCTAssertEqual(try stageMessages(catalog, jobID: joined.jobID).map(\.text), [])

        let (daemon, _) = try backup([plugin("threads", "daemon=1")])
        XCTAssertEqual(daemon.status, .ok, daemon.failure ?? "")
        let texts = try stageMessages(catalog, jobID: daemon.jobID).map(\.text)
        XCTAssertEqual(
            texts,
            ["the plugin left threads running at the end of the job (daemon threads?); its interpreter is kept until the process exits"])
    }

    func testAccurateAsksCheckFileBeforeRecordingADeletion() throws {
        for name in ["gone.txt", "keep-by-check.txt", "keep-by-seen.txt", "stays.txt"] { try write(name, name) }
        try writePlugin(
            "accurate",
            """
            import bareosfd, os
            def load_bareos_plugin(plugindef):
                bareosfd.RegisterEvents([bareosfd.bEventHandleBackupFile])
                return 0
            def parse_plugin_definition(plugindef): return 0
            def handle_backup_file(savepkt):
                if savepkt.type == bareosfd.FT_DIREND:
                    bareosfd.SetValue(bareosfd.bVarFileSeen, os.path.join(savepkt.fname, "keep-by-seen.txt"))
                return bareosfd.bRC_Core
            def check_file(fname):
                bareosfd.JobMessage(bareosfd.M_INFO, "check_file(%s)" % os.path.basename(fname))
                return bareosfd.bRC_Seen if fname.endswith("keep-by-check.txt") else bareosfd.bRC_OK
            """)
        let (full, catalog) = try backup([plugin("accurate")], jobDirectives: "Accurate = yes")
        XCTAssertEqual(full.status, .ok, full.failure ?? "")
        for name in ["gone.txt", "keep-by-check.txt", "keep-by-seen.txt"] { XCTAssertEqual(unlink(source + "/" + name), 0) }
        let (incremental, _) = try backup([plugin("accurate")], jobDirectives: "Accurate = yes", level: .incremental)
        XCTAssertEqual(incremental.status, .ok, incremental.failure ?? "")
        XCTAssertEqual(incremental.entriesDeleted, 1)
        let deleted = try catalog.files(job: JobID(rawValue: incremental.jobID)).filter { $0.status == .deleted }
        XCTAssertEqual(deleted.map { String(decoding: $0.path, as: UTF8.self) }, [source + "/gone.txt"])
        // check_file is asked only for what the plugin did not mark seen itself.
        XCTAssertEqual(
            try stageMessages(catalog, jobID: incremental.jobID).map(\.text).sorted(),
            ["check_file(gone.txt)", "check_file(keep-by-check.txt)"])
    }

    func testFdPluginOptionsReachTheMatchingPluginsAfterTheFileSetOptions() throws {
        try write("a.txt", "x")
        let code = """
            import bareosfd
            def load_bareos_plugin(plugindef): return 0
            def parse_plugin_definition(plugindef):
                bareosfd.JobMessage(bareosfd.M_INFO, "%s: %s" % (__name__, plugindef))
                return 0
            """
        try writePlugin("first", code)
        try writePlugin("second", code)
        let (summary, catalog) = try backup(
            [plugin("first", "a=1"), plugin("second", "b=2")],
            jobDirectives: "Fd Plugin Options = \"python:c=3\"; Fd Plugin Options = \"python:module_name=second:d=4\"")
        XCTAssertEqual(summary.status, .ok, summary.failure ?? "")
        XCTAssertEqual(
            try stageMessages(catalog, jobID: summary.jobID).map(\.text),
            ["first: a=1:", "first: c=3:", "second: b=2:", "second: c=3:", "second: d=4:"])
    }

    func testAnExceptionAtTheEndOfTheJobDoesNotKeepOtherPluginsFromTheirEndEvents() throws {
        try write("a.txt", "x")
        let code = """
            import bareosfd
            def load_bareos_plugin(plugindef):
                global options
                options = plugindef
                bareosfd.RegisterEvents([bareosfd.bEventEndBackupJob, bareosfd.bEventJobEnd])
                return 0
            def parse_plugin_definition(plugindef): return 0
            def handle_plugin_event(event):
                if "bad" in options and event == bareosfd.bEventEndBackupJob:
                    raise RuntimeError("bad at the end")
                bareosfd.JobMessage(bareosfd.M_INFO, "%s got %d" % (options, event))
                return 0
            """
        try writePlugin("ender", code)
        let (summary, catalog) = try backup([plugin("ender", "bad=1"), plugin("ender", "good=1")])
        let texts = try catalog.messages(job: JobID(rawValue: summary.jobID)).map(\.text)
        XCTAssertTrue(texts.contains("good=1: got 4"), "\(texts)")
        XCTAssertTrue(texts.contains("good=1: got 2"), "\(texts)")
        XCTAssertTrue(texts.contains { $0.contains("RuntimeError: bad at the end") }, "\(texts)")
    }

    func testATakenFileThatALaterStageSkipsIsDropped() throws {
        try write("big.bin", [UInt8](repeating: 7, count: 100_000))
        try writePlugin(
            "taker",
            """
            import bareosfd
            def load_bareos_plugin(plugindef):
                bareosfd.RegisterEvents([bareosfd.bEventHandleBackupFile])
                return 0
            def parse_plugin_definition(plugindef): return 0
            def handle_backup_file(savepkt): return bareosfd.bRC_OK
            def plugin_io(iop):
                if iop.func == bareosfd.IO_OPEN:
                    plugin_io.f = open(iop.fname, "rb")
                elif iop.func == bareosfd.IO_READ:
                    iop.buf = bytearray(plugin_io.f.read(iop.count))
                    iop.status = len(iop.buf)
                elif iop.func == bareosfd.IO_CLOSE:
                    plugin_io.f.close()
                return bareosfd.bRC_OK
            """)
        try writePlugin(
            "skipper",
            """
            import bareosfd
            def load_bareos_plugin(plugindef):
                bareosfd.RegisterEvents([bareosfd.bEventHandleBackupFile])
                return 0
            def parse_plugin_definition(plugindef): return 0
            def handle_backup_file(savepkt): return bareosfd.bRC_Skip
            """)
        let builder = StageChainBuilder(factory: Self.factory(nil))
        let strings = [plugin("taker"), plugin("skipper")]
        let chain = try builder.chain(for: strings)
        let context = StageContext(mode: .backup, jobID: 1, jobName: "t", level: "Full", fileSetName: "fs")
        try builder.broadcast(.jobStarted, context: context)
        defer { try? builder.broadcast(.jobEnded(succeeded: true), context: context) }
        let now = FileStat.Timestamp(seconds: 1_700_000_000, nanoseconds: 0)
        let stat = FileStat(
            dev: 1, ino: 2, mode: 0o100644, nlink: 1, uid: 0, gid: 0, rdev: 0, size: 100_000, blocks: 200, atime: now,
            mtime: now, ctime: now)
        let entry = SelectedEntry(
            path: Array((source + "/big.bin").utf8), kind: .file, stat: stat, includeIndex: 0, blockIndex: 0,
            effectiveBlockIndex: 0, isTopLevel: false, chain: strings)
        var batch = [FileItem(entry: entry, fileIndex: 0)]
        let outcomes = chain.decide(batch: &batch, context: context)
        guard case .skip(let stage, _) = outcomes[0] else { return XCTFail("\(outcomes)") }
        XCTAssertEqual(stage, plugin("skipper"))
        let taker = try XCTUnwrap(chain.stages[0] as? PythonPluginStage)
        XCTAssertEqual(taker.pendingSources, 0)  // the 100,000 bytes read through plugin_io were let go
    }

    func testAFailedRestoreWriteStillClosesTheFileAndEndsIt() throws {
        try write("a.txt", "some data\n")
        try writePlugin(
            "fullrestore",
            """
            import bareosfd, os
            def log(text): bareosfd.JobMessage(bareosfd.M_INFO, text)
            def load_bareos_plugin(plugindef):
                bareosfd.RegisterEvents([bareosfd.bEventHandleBackupFile])
                return 0
            def parse_plugin_definition(plugindef): return 0
            def handle_backup_file(savepkt):
                return bareosfd.bRC_OK if savepkt.type == bareosfd.FT_REG else bareosfd.bRC_Core
            def plugin_io(iop):
                log("io %d" % iop.func)
                if iop.func == bareosfd.IO_OPEN and not iop.flags & os.O_WRONLY:
                    plugin_io.data = open(iop.fname, "rb").read()
                elif iop.func == bareosfd.IO_READ:
                    iop.buf = bytearray(plugin_io.data)
                    plugin_io.data = b""
                    iop.status = len(iop.buf)
                elif iop.func == bareosfd.IO_WRITE:
                    iop.status = -1
                    iop.io_errno = 28
                return bareosfd.bRC_OK
            def start_restore_file(cmd): log("start_restore_file"); return 0
            def create_file(restorepkt):
                log("create_file")
                restorepkt.create_status = bareosfd.CF_EXTRACT
                return 0
            def set_file_attributes(restorepkt): log("set_file_attributes"); return 0
            def end_restore_file(): log("end_restore_file"); return 0
            """)
        let (summary, catalog) = try backup([plugin("fullrestore")])
        XCTAssertEqual(summary.status, .ok, summary.failure ?? "")
        let (restored, messages) = try restore(catalog, jobID: summary.jobID)
        XCTAssertEqual(restored.errors, 1)
        let texts = messages.map(\.text)
        XCTAssertEqual(
            texts.filter { !$0.hasPrefix("stage ") },
            ["start_restore_file", "create_file", "io 1", "io 3", "io 4", "end_restore_file"], "\(texts)")
        XCTAssertTrue(
            texts.contains { $0.contains("plugin_io(IO_WRITE) wrote -1 of 10 bytes: No space left on device (errno 28)") },
            "\(texts)")
    }

    /// `Tests/Fixtures/plugins`: test plugins kept as files.
    static let fixtures: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<2 { url.deleteLastPathComponent() }
        return url.path + "/Fixtures/plugins"
    }()

    func testTheWholeBareosfdSurfaceAndACLXattrPacketsRoundTrip() throws {
        try write("a.txt", "alpha\n")
        try write("sub/b.txt", "beta\n")
        let surface = "python3:module_path=\(PythonPluginTests.fixtures):module_name=surface:jobid=1:take=1"
        let (summary, catalog) = try backup([surface], debugLevel: 50)
        XCTAssertEqual(summary.status, .ok, summary.failure ?? "")
        XCTAssertEqual(summary.filesStored, 2)
        let messages = try stageMessages(catalog, jobID: summary.jobID)
        XCTAssertEqual(messages.filter { $0.severity == "warning" }.count, 8)  // the eight FileSet edits
        XCTAssertTrue(messages.contains { $0.text == "debug 50: debug kw" })
        XCTAssertTrue(messages.contains { $0.text == "surface: functions ok" })
        let record = try file(catalog, jobID: summary.jobID, "a.txt")
        XCTAssertEqual(record.stageMetadata[PythonPluginStage.aclKey], Hex.encode(Array("acl of \(source)/a.txt".utf8)))
        XCTAssertEqual(
            record.stageMetadata[PythonPluginStage.xattrKey],
            [("user.a", "1"), ("user.b", "2")].map { Hex.encode(Array($0.0.utf8)) + "=" + Hex.encode(Array($0.1.utf8)) }
                .joined(separator: ","))

        let (restored, restoreMessages) = try restore(catalog, jobID: summary.jobID)
        XCTAssertEqual(restored.status, .ok, "\(restoreMessages.map(\.text))")
        XCTAssertEqual(try read(self.restored("sub/b.txt")), Array("beta\n".utf8))
        let texts = restoreMessages.map(\.text)
        XCTAssertTrue(texts.contains("set_acl acl of \(source)/a.txt"), "\(texts)")
        XCTAssertEqual(texts.filter { $0.hasPrefix("set_xattr") }, ["set_xattr user.a=1", "set_xattr user.b=2", "set_xattr user.a=1", "set_xattr user.b=2"])
    }

    func testPacketsAPluginSpoilsAreClearErrorsForThatFileOnly() throws {
        for name in ["flags-bytes", "flags-short", "buf-too-long", "buf-str", "status-negative", "fine"] {
            try write(name + ".dat", name)
        }
        try writePlugin(
            "spoiler",
            """
            import bareosfd, os
            def load_bareos_plugin(plugindef):
                bareosfd.RegisterEvents([bareosfd.bEventHandleBackupFile])
                return 0
            def parse_plugin_definition(plugindef): return 0
            def handle_backup_file(savepkt):
                name = os.path.basename(savepkt.fname)
                if name == "flags-bytes.dat":
                    savepkt.flags = b"12345"
                elif name == "flags-short.dat":
                    savepkt.flags = bytearray(4)
                elif not name.endswith(".dat"):
                    return bareosfd.bRC_Core
                plugin_io.mode = name
                return bareosfd.bRC_OK
            def plugin_io(iop):
                mode = plugin_io.mode
                if iop.func == bareosfd.IO_READ:
                    if getattr(plugin_io, "done", None) == mode:
                        iop.status = 0
                    elif mode == "buf-too-long.dat":
                        iop.buf = bytearray(iop.count + 1)
                        iop.status = 1
                    elif mode == "buf-str.dat":
                        iop.buf = "text"
                        iop.status = 4
                    elif mode == "status-negative.dat":
                        iop.status = -1
                        iop.io_errno = 5
                    else:
                        iop.buf = bytearray(b"fine")
                        iop.status = 4
                        plugin_io.done = mode
                return bareosfd.bRC_OK
            """)
        let (summary, catalog) = try backup([plugin("spoiler")])
        XCTAssertEqual(summary.status, .warnings)
        XCTAssertEqual(summary.filesStored, 1)
        XCTAssertEqual(summary.filesFailed, 5)
        var errors: [String: String] = [:]
        for name in ["flags-bytes", "flags-short", "buf-too-long", "buf-str", "status-negative"] {
            errors[name] = try file(catalog, jobID: summary.jobID, name + ".dat").error ?? ""
        }
        let stage = "stage \(plugin("spoiler")): "
        XCTAssertEqual(errors["flags-bytes"], stage + "handle_backup_file: savepkt.flags must be a bytearray of 5 bytes, not bytes")
        XCTAssertEqual(
            errors["flags-short"], stage + "handle_backup_file: savepkt.flags must be a bytearray of 5 bytes, not bytearray of another length")
        XCTAssertEqual(errors["buf-too-long"], stage + "plugin_io: IO_READ returned 262145 bytes with status 1 for a buffer of 262144 bytes")
        XCTAssertEqual(errors["buf-str"], stage + "plugin_io: IO_READ status 4 but buf is str, not bytes or bytearray")
        XCTAssertEqual(errors["status-negative"], stage + "plugin_io(IO_READ) failed: Input/output error (errno 5)")
        XCTAssertEqual(try file(catalog, jobID: summary.jobID, "fine.dat").sourceSHA256, try Digester.digest(.sha256, of: Array("fine".utf8)))
    }

    func testEntriesReachThePluginInWalkOrderWithSeveralWorkers() throws {
        for directory in 0..<10 {
            for file in 0..<20 { try write("d\(directory)/f\(file).txt", "\(directory)/\(file)") }
        }
        let log = work.path + "/order.txt"
        try writePlugin(
            "order",
            """
            import bareosfd, time
            seen = []
            def load_bareos_plugin(plugindef):
                bareosfd.RegisterEvents([bareosfd.bEventHandleBackupFile, bareosfd.bEventEndBackupJob])
                return 0
            def parse_plugin_definition(plugindef): return 0
            def handle_backup_file(savepkt):
                seen.append(savepkt.fname)
                time.sleep(0.0005)   # slow enough that both workers have a batch waiting
                return bareosfd.bRC_Core
            def handle_plugin_event(event):
                with open("\(log)", "w") as out:
                    out.write("\\n".join(seen) + "\\n")
                return 0
            """)
        let (summary, catalog) = try backup([plugin("order")], workers: 2)
        XCTAssertEqual(summary.status, .ok, summary.failure ?? "")
        let offered = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map(String.init)
        let walked = try catalog.files(job: JobID(rawValue: summary.jobID)).sorted { $0.fileIndex < $1.fileIndex }
            .map { String(decoding: $0.path, as: UTF8.self) }
        XCTAssertEqual(offered.count, 211)  // 200 files, 10 directories and the top directory
        XCTAssertEqual(offered, walked)
    }
}
