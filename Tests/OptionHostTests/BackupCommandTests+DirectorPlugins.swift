import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Director-style Python plugins (`Job { Dir Plugin Options = "python3:..." }`, issue 16 item 7): the events and
/// `bDirVar*` values a plugin sees for a good and a failed job, what happens when it misbehaves, the Nagios/Icinga
/// example's check line to a file and to a command pipe, and the configuration errors of a bad string.
extension BackupCommandTests {
    private var fixtures: String { Self.repository.appendingPathComponent("Tests/Fixtures/plugins").path }
    private var examples: String { Self.repository.appendingPathComponent("examples/plugins").path }

    /// The recorder's calls, one JSON object each.
    private func recorded(_ log: String) throws -> [[String: Any]] {
        try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    /// The start time (seconds) of each job, from `list jobs`.
    private func starts() throws -> [Int: Int] {
        let jobs = try objects(try optionhost(["list", "jobs", "--catalog", catalogPath, "--json"]))
        return Dictionary(uniqueKeysWithValues: jobs.compactMap { job -> (Int, Int)? in
            guard let id = job["job_id"] as? Int, let start = job["start"] as? Int else { return nil }
            return (id, start)
        })
    }

    /// `NAME.2026-12-06_06.41.55_07`, RunScript's `%j`: the start in UTC and the JobId modulo 100.
    private func uniqueJobName(_ name: String, start: Int, jobID: Int) -> String {
        var time = time_t(start)
        var parts = tm()
        gmtime_r(&time, &parts)
        return String(
            format: "%@.%04d-%02d-%02d_%02d.%02d.%02d_%02d", name, parts.tm_year + 1900, parts.tm_mon + 1,
            parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec, jobID % 100)
    }

    /// Every variable of one event, bDirVar* names to values (`NSNull` for None).
    private func variables(_ entry: [String: Any]) -> [String: String] {
        var result: [String: String] = [:]
        for (key, value) in entry where key.hasPrefix("bDirVar") {
            result[key] = value is NSNull ? "None" : "\(value)"
        }
        return result
    }

    func testADirectorPluginSeesTheEventsAndVariablesOfAGoodAndAFailedJob() throws {
        let tree = try makeTree()
        let log = work.appendingPathComponent("recorder.jsonl").path
        let scripts = work.appendingPathComponent("after.log").path
        let jobExtra = """

              Client = web1
              Pool = NightlyPool
              Priority = 7
              Dir Plugin Options = "python3:module_path=\(fixtures):module_name=dir_recorder:instance=0:log=\(log)"
              RunScript {
                RunsWhen = After
                RunsOnFailure = yes
                Command = "echo %i %e %j >> \(scripts)"
              }

            """
        let good = try backup(try config([tree.root], jobExtra: jobExtra))
        XCTAssertEqual(good.status, 0, good.stderr)
        let goodSummary = try summary(good)
        let failed = try backup(
            try config([tree.root], name: "bad.conf", jobExtra: "\n  Run Before Job = \"sh -c 'exit 3'\"" + jobExtra))
        XCTAssertEqual(failed.status, 3, failed.stderr)
        let failedSummary = try summary(failed)
        let starts = try starts()
        let (name1, name2) = (
            uniqueJobName("Nightly", start: try XCTUnwrap(starts[1]), jobID: 1),
            uniqueJobName("Nightly", start: try XCTUnwrap(starts[2]), jobID: 2)
        )

        let calls = try recorded(log)
        // Per job: load_bareos_plugin and parse_plugin_definition with the options python-dir passes on (without
        // module_path, module_name and instance), then JobStart, JobInit, JobRun (not for the job whose Before
        // script failed), JobEnd.
        XCTAssertEqual(
            calls.map { ($0["call"] as? String ?? "") + (($0["event"] as? Int).map { "(\($0))" } ?? "") },
            [
                "load_bareos_plugin", "parse_plugin_definition", "handle_plugin_event(1)", "handle_plugin_event(3)",
                "handle_plugin_event(4)", "handle_plugin_event(2)",
                "load_bareos_plugin", "parse_plugin_definition", "handle_plugin_event(1)", "handle_plugin_event(3)",
                "handle_plugin_event(2)",
            ])
        XCTAssertEqual(calls[0]["plugindef"] as? String, "log=\(log):")
        XCTAssertEqual(calls[1]["plugindef"] as? String, "log=\(log):")
        XCTAssertEqual(calls[0]["register"] as? Int, 0)
        XCTAssertEqual(calls[0]["consts"] as? [Int], [2, 27])
        XCTAssertEqual(calls[0]["bytes_keys"] as? Int, 26)

        func expected(
            job: Int, name: String, status: Character, side: Character?, counts: [String: Any]?
        ) -> [String: String] {
            var values: [String: String] = [
                "bDirVarJob": "Nightly", "bDirVarJobName": name, "bDirVarLevel": "70", "bDirVarType": "66",
                "bDirVarJobId": "\(job)", "bDirVarClient": "web1", "bDirVarPool": "NightlyPool",
                "bDirVarStorage": archivePath, "bDirVarWriteStorage": archivePath, "bDirVarReadStorage": "None",
                "bDirVarCatalog": "None", "bDirVarMediaType": "None", "bDirVarCatalogRes": "None",
                "bDirVarJobStatus": "\(status.asciiValue!)", "bDirVarPriority": "7", "bDirVarPluginDir": "None",
                "bDirVarFDJobStatus": "\(side?.asciiValue ?? 0)", "bDirVarSDJobStatus": "\(side?.asciiValue ?? 0)",
                "bDirVarNumVols": "0", "bDirVarVolumeName": "None", "bDirVarJobErrors": "0", "bDirVarJobFiles": "0",
                "bDirVarSDJobFiles": "0", "bDirVarSDErrors": "0", "bDirVarJobBytes": "0", "bDirVarReadBytes": "0",
                "bDirVarLastRate": "0",
            ]
            if let counts {
                let volumes = counts["volumes"] as? [String] ?? []
                values["bDirVarNumVols"] = "\(volumes.count)"
                values["bDirVarVolumeName"] = volumes.last.map { String($0.split(separator: "/").last!) } ?? "None"
                values["bDirVarJobErrors"] = "\(counts["errors"] as? Int ?? -1)"
                values["bDirVarJobFiles"] = "\(counts["files_stored"] as? Int ?? -1)"
                values["bDirVarSDJobFiles"] = "\(counts["entries_stored"] as? Int ?? -1)"
                values["bDirVarJobBytes"] = "\(counts["bytes_stored"] as? Int ?? -1)"
                values["bDirVarReadBytes"] = "\(counts["bytes_read"] as? Int ?? -1)"
            }
            return values
        }
        var goodEnd = variables(calls[5])
        // Bytes read per second over the job: the only figure that depends on the machine's speed.
        let rate = try XCTUnwrap(Int(goodEnd["bDirVarLastRate"] ?? ""))
        let wall = try XCTUnwrap(goodSummary["wall_seconds"] as? Double)
        XCTAssertEqual(Double(rate), Double(tree.totalBytes) / wall, accuracy: Double(tree.totalBytes) / wall * 0.5 + 1)
        goodEnd["bDirVarLastRate"] = "0"
        XCTAssertEqual(variables(calls[2]), expected(job: 1, name: name1, status: "C", side: nil, counts: nil))
        XCTAssertEqual(variables(calls[3]), expected(job: 1, name: name1, status: "C", side: nil, counts: nil))
        XCTAssertEqual(variables(calls[4]), expected(job: 1, name: name1, status: "R", side: "R", counts: nil))
        XCTAssertEqual(goodEnd, expected(job: 1, name: name1, status: "T", side: "T", counts: goodSummary))
        XCTAssertEqual(goodEnd["bDirVarVolumeName"], "Nightly-1-0001.tar")
        XCTAssertEqual(goodEnd["bDirVarJobFiles"], "4")
        XCTAssertEqual(goodEnd["bDirVarReadBytes"], "\(tree.totalBytes)")
        XCTAssertEqual(variables(calls[8]), expected(job: 2, name: name2, status: "C", side: nil, counts: nil))
        XCTAssertEqual(variables(calls[10]), expected(job: 2, name: name2, status: "f", side: "f", counts: failedSummary))
        XCTAssertEqual(variables(calls[10])["bDirVarJobErrors"], "2")
        XCTAssertEqual(variables(calls[10])["bDirVarJobFiles"], "0")

        // The After RunScript of both jobs names the same job the plugin saw, and how it ended.
        XCTAssertEqual(
            try String(contentsOfFile: scripts, encoding: .utf8).split(separator: "\n").map(String.init),
            ["1 OK \(name1)", "2 Fatal Error \(name2)"])
    }

    func testADirectorPluginThatRaisesOrAnswersBadlyIsReportedAndFailsTheJobOnlyBeforeItRuns() throws {
        let tree = try makeTree()
        let log = work.appendingPathComponent("recorder.jsonl").path
        func plugin(_ options: String, module: String = "dir_recorder") -> String {
            "python3:module_path=\(fixtures):module_name=\(module):log=\(log)\(options)"
        }
        func run(_ options: String, module: String = "dir_recorder") throws -> Result {
            try backup(try config([tree.root], jobExtra: "\n  Dir Plugin Options = \"\(plugin(options, module: module))\"\n"))
        }
        // At JobEnd an exception is an error message naming the plugin; the job's outcome is final (exit 0).
        let atEnd = try run(":answer_2=raise:message_2=said at the end")
        XCTAssertEqual(atEnd.status, 0, atEnd.stderr)
        XCTAssertEqual(try summary(atEnd)["status"] as? String, "ok")
        XCTAssertTrue(atEnd.stderr.isEmpty, atEnd.stderr)
        let endMessages = try optionhost(["list", "messages", "--catalog", catalogPath, "--jobid", "1"])
        XCTAssertTrue(
            endMessages.lines.contains("info: stage \(plugin(":answer_2=raise:message_2=said at the end")): said at the end"),
            endMessages.output)
        let raised = try XCTUnwrap(endMessages.lines.firstIndex {
            $0 == "error: stage \(plugin(":answer_2=raise:message_2=said at the end")): "
                + "handle_plugin_event(bDirEventJobEnd) raised an exception:"
        }, endMessages.output)
        XCTAssertEqual(endMessages.lines.last, "    RuntimeError: dir_recorder was told to raise at event 2")
        XCTAssertGreaterThan(endMessages.lines.count, raised + 2)

        // At JobStart it fails the job before any file is read; the plugin still hears JobEnd.
        try? FileManager.default.removeItem(atPath: log)
        let atStart = try run(":answer_1=raise")
        XCTAssertEqual(atStart.status, 3, atStart.stderr)
        let startSummary = try summary(atStart)
        assertCounts(startSummary, ["job_id": 2, "files_examined": 0, "entries_stored": 0])
        let failure = try XCTUnwrap(startSummary["failure"] as? String)
        XCTAssertTrue(
            failure.hasPrefix(
                "Director plugin \(plugin(":answer_1=raise")): handle_plugin_event(bDirEventJobStart) raised an exception:\n"),
            failure)
        XCTAssertTrue(failure.hasSuffix("RuntimeError: dir_recorder was told to raise at event 1"), failure)
        XCTAssertEqual(try recorded(log).compactMap { $0["event"] as? Int }, [1, 2])

        // An answer that is no int is an error of the job (exit 1); another bRC a warning.
        let none = try run(":answer_4=none:answer_3=2")
        XCTAssertEqual(none.status, 1, none.stderr)
        assertCounts(try summary(none), ["files_stored": 4, "errors": 1, "warnings": 1])
        let noneMessages = try optionhost(["list", "messages", "--catalog", catalogPath, "--jobid", "3"])
        XCTAssertEqual(
            noneMessages.lines.filter { $0.contains("handle_plugin_event") },
            [
                "warning: stage \(plugin(":answer_4=none:answer_3=2")): handle_plugin_event(bDirEventJobInit) "
                    + "returned bRC_Error (2)",
                "error: stage \(plugin(":answer_4=none:answer_3=2")): handle_plugin_event returned None, not an "
                    + "int (bRC_* value)",
            ])

        // A module that cannot be imported fails the job at its start.
        let missing = try run("", module: "no_such_dir_plugin")
        XCTAssertEqual(missing.status, 3, missing.stderr)
        let missingFailure = try XCTUnwrap(try summary(missing)["failure"] as? String)
        XCTAssertTrue(
            missingFailure.hasPrefix(
                "Director plugin \(plugin("", module: "no_such_dir_plugin")): cannot import module \"no_such_dir_plugin\":"),
            missingFailure)
        XCTAssertTrue(missingFailure.hasSuffix("ModuleNotFoundError: No module named 'no_such_dir_plugin'"), missingFailure)
    }

    /// An old-generation plugin (a context first everywhere, `bareos_dir_consts`) runs unchanged.
    func testAnOldGenerationDirectorPluginGetsItsContextAndStrKeyedConstants() throws {
        let tree = try makeTree()
        let string = "python:module_path=\(fixtures):module_name=dir_oldstyle"
        let result = try backup(try config([tree.root], jobExtra: "\n  Dir Plugin Options = \"\(string)\"\n"))
        XCTAssertEqual(result.status, 0, result.stderr)
        let messages = try optionhost(["list", "messages", "--catalog", catalogPath, "--jobid", "1"])
        XCTAssertEqual(
            messages.lines.filter { $0.contains("old-style") }, ["info: stage \(string): old-style: event 2, job Nightly ended T"])
    }

    /// The Nagios/Icinga example: `[time] PROCESS_SERVICE_CHECK_RESULT;host;service;code;text|perfdata`, OK for a
    /// good job and CRITICAL for a failed one, each into a file and into a command pipe (a FIFO this test reads;
    /// one plugin per output), and a warning when nobody reads the pipe.
    func testTheNagiosExampleWritesOKAndCRITICALCheckLinesToAFileAndToACommandPipe() throws {
        let tree = try makeTree()
        let file = work.appendingPathComponent("checks.txt").path
        let pipe = work.appendingPathComponent("icinga2.cmd").path
        XCTAssertEqual(mkfifo(pipe, 0o600), 0)
        func jobExtra(_ outputs: [String]) -> String {
            "\n  Client = web1\n" + outputs.map {
                "  Dir Plugin Options = \"python3:module_path=\(examples):module_name=bareos-dir-nagios:output=\($0)\"\n"
            }.joined()
        }
        /// The lines, each with its time stamp (10 digits, between `before` and `after`) replaced by `TIME`.
        func stamped(_ text: String, before: Int, after: Int) -> [String] {
            text.split(separator: "\n").map { line in
                guard line.hasPrefix("["), let close = line.firstIndex(of: "]") else { return "no stamp: \(line)" }
                let digits = line[line.index(after: line.startIndex)..<close]
                guard digits.count == 10, digits.allSatisfy(\.isNumber), let stamp = Int(digits),
                    stamp >= before && stamp <= after
                else { return "bad stamp: \(line)" }
                return "[TIME" + line[close...]
            }
        }
        // The test holds the pipe open for reading, as the monitor does.
        let reader = open(pipe, O_RDONLY | O_NONBLOCK)
        XCTAssertGreaterThanOrEqual(reader, 0)
        func readPipe() -> String {
            var buffer = [UInt8](repeating: 0, count: 4096)
            let count = read(reader, &buffer, buffer.count)
            return String(decoding: buffer.prefix(max(0, count)), as: UTF8.self)
        }

        let first = Int(time(nil))
        var before = first
        let good = try backup(try config([tree.root], jobExtra: jobExtra([file, pipe])))
        XCTAssertEqual(good.status, 0, good.stderr)
        let stored = try XCTUnwrap(try summary(good)["bytes_stored"] as? Int)
        let name1 = uniqueJobName("Nightly", start: try XCTUnwrap(try starts()[1]), jobID: 1)
        let ok =
            "[TIME] PROCESS_SERVICE_CHECK_RESULT;web1;Backup Nightly;0;OK: JobId 1 \(name1) (Full) terminated "
            + "normally: 4 files, \(stored) bytes, 0 errors|files=4 bytes=\(stored)B errors=0"
        XCTAssertEqual(stamped(readPipe(), before: before, after: Int(time(nil))), [ok])

        before = Int(time(nil))
        let failed = try backup(
            try config(
                [tree.root], name: "bad.conf", jobExtra: "\n  Run Before Job = \"sh -c 'exit 3'\"" + jobExtra([file, pipe])))
        XCTAssertEqual(failed.status, 3, failed.stderr)
        let name2 = uniqueJobName("Nightly", start: try XCTUnwrap(try starts()[2]), jobID: 2)
        let critical =
            "[TIME] PROCESS_SERVICE_CHECK_RESULT;web1;Backup Nightly;2;CRITICAL: JobId 2 \(name2) (Full) failed "
            + "(fatal error): 0 files, 0 bytes, 2 errors|files=0 bytes=0B errors=2"
        XCTAssertEqual(stamped(readPipe(), before: before, after: Int(time(nil))), [critical])
        let fileLines = stamped(try String(contentsOfFile: file, encoding: .utf8), before: first, after: Int(time(nil)))
        XCTAssertEqual(fileLines, [ok, critical])

        // Nobody reads the pipe now: a warning, and the job's exit code stays 0.
        close(reader)
        let unread = try backup(try config([tree.root], jobExtra: jobExtra([pipe])))
        XCTAssertEqual(unread.status, 0, unread.stderr)
        XCTAssertEqual(
            unread.lines.compactMap { line -> String? in
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                    object["type"] as? String == "warning"
                else { return nil }
                return object["message"] as? String
            },
            ["bareos-dir-nagios: nobody reads the command pipe \(pipe); check not sent"])
    }

    func testABadDirPluginOptionsStringIsAConfigurationErrorWithItsPlace() throws {
        let cases: [(String, String)] = [
            ("bpipe:file=/x", "Director plugin \"bpipe\" is not one this host runs: Dir Plugin Options takes python3: (or python:) strings"),
            ("python3", "illegal plugin definition \"python3\": no ':' after the plugin name"),
            ("python3:module_path=/x:module_name", "illegal argument \"module_name\" without value in plugin definition \"python3:module_path=/x:module_name\""),
            ("python3:module_path=/x", "plugin definition \"python3:module_path=/x\" names no module_name"),
        ]
        // The string's value starts at line 4, column 24.
        func configuration(_ string: String) throws -> String {
            try write(
                "dir.conf",
                """
                FileSet { Name = fs; Include { File = /tmp } }
                Job {
                  Name = J; Type = Backup; FileSet = fs
                  Dir Plugin Options = "\(string)"
                }

                """)
        }
        for (string, message) in cases {
            let path = try configuration(string)
            let check = try optionhost(["check", path])
            XCTAssertEqual(check.status, 2, check.stderr)
            XCTAssertEqual(
                check.stderr.split(separator: "\n").first.map(String.init),
                "\(path):4:24: invalid Dir Plugin Options: \(message)")
        }
        // A good string whose module is not where it says: a warning at the same place, without importing it.
        let path = try configuration("python3:module_path=\(examples):module_name=bareos-dir-nagio:output=/x")
        let check = try optionhost(["check", path])
        XCTAssertEqual(check.status, 0, check.stderr)
        XCTAssertEqual(
            check.lines.filter { $0.contains(": warning: ") },
            [
                "\(path):4:24: warning: module \"bareos-dir-nagio\" is not in module_path \"\(examples)\"; the job must "
                    + "find it in the Plugin Directory or Python's own path"
            ])
    }
}
