import Foundation
import PipelineTestSupport
import XCTest

@testable import Pipeline
@testable import Stages

/// The `checksum` stage through `StageHarness`, its log formats checked by the real tools (coreutils, hashdeep).
final class ChecksumStageTests: XCTestCase {
    private var directory: TemporaryDirectory!
    private var root: String { directory.path }

    override func setUpWithError() throws {
        directory = try TemporaryDirectory(prefix: "checksum")
    }

    override func tearDown() {
        if ProcessInfo.processInfo.environment["KEEP"] == nil { directory.remove() }
    }

    /// Names coreutils escapes, names it does not, and one that is not UTF-8.
    private static let names: [[UInt8]] = [
        Array("plain.txt".utf8), Array("with space".utf8), Array("back\\slash".utf8), Array("new\nline".utf8),
        Array("carriage\rreturn".utf8), Array("both\\\n".utf8), [0x6C, 0x61, 0x74, 0x69, 0x6E, 0xE9],
    ]

    /// Writes `contents` at `root/name` and returns the absolute path bytes.
    private func makeFile(_ name: [UInt8], _ contents: [UInt8]) throws -> [UInt8] {
        let path = Array(root.utf8) + [UInt8(ascii: "/")] + name
        var cPath = path + [0]
        let descriptor = cPath.withUnsafeMutableBytes {
            open($0.baseAddress!.assumingMemoryBound(to: CChar.self), O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        }
        XCTAssertGreaterThanOrEqual(descriptor, 0)
        XCTAssertEqual(contents.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }, contents.count)
        close(descriptor)
        return path
    }

    /// Runs the stage over `files` as one job and returns the harness messages.
    @discardableResult
    private func job(
        _ string: String, _ files: [([UInt8], [UInt8])], jobID: Int64 = 1, seesSource: Bool = true
    ) throws -> [StageMessage] {
        let stage = try ChecksumStage(string: string)
        let harness = try StageHarness(stage: stage, jobName: "Nightly", jobID: jobID)
        harness.placement = ObserverPlacement(seesSourceBytes: seesSource, chainEncrypts: false)
        for (path, contents) in files {
            let (decision, item) = try harness.decide(StageHarness.entry(path: path, size: UInt64(contents.count), chain: [string]))
            XCTAssertEqual(decision, .core)
            _ = try harness.stream(item, contents: contents, chunkSize: 7)
        }
        let messages = try harness.finish()
        XCTAssertTrue(harness.isClean, "\(harness.leftovers) \(messages)")
        return messages
    }

    private func files(_ count: Int = names.count) throws -> [([UInt8], [UInt8])] {
        try Self.names.prefix(count).enumerated().map { index, name in
            let contents = Array("contents \(index)\n".utf8) + [UInt8](repeating: UInt8(index), count: index * 1000)
            return (try makeFile(name, contents), contents)
        }
    }

    private func shell(_ command: String) throws -> (status: Int32, output: String) { try Shell.run(command) }

    // MARK: - sha256sum format

    func testLinesAreWhatSha256sumWritesForEveryKindOfName() throws {
        for (name, contents) in try files() {
            let relative = String(decoding: ChecksumLogFormat.relativeName(name), as: UTF8.self)
            let record = ChecksumRecord(
                path: name, stat: StageHarness.entry(path: name, size: 0).stat, size: UInt64(contents.count),
                outcome: .digest(try Digester.digest(.sha256, of: contents)))
            let ours = ChecksumLogFormat.sha256sum.line(record, algorithm: .sha256, job: ChecksumJob(id: 1, name: "j"))
            let out = root + "/../\(directory.url.lastPathComponent).out"
            defer { try? FileManager.default.removeItem(atPath: out) }
            // The name through printf (any byte), with a guard character so $(...) keeps a trailing newline.
            let octalName = octal(Array(ChecksumLogFormat.relativeName(name)))
            let (status, output) = try shell(
                "cd / && name=$(printf '%b' '\(octalName)'; printf x) && sha256sum \"${name%x}\" > \(out)")
            XCTAssertEqual(status, 0, output)
            XCTAssertEqual(ours, Array(try Data(contentsOf: URL(fileURLWithPath: out))), relative)
        }
    }

    func testSha256sumAndSha512sumCheckTheLiveTreeAndRejectAChangedByte() throws {
        let files = try files()
        for (algorithm, tool) in [("sha256", "sha256sum"), ("sha512", "sha512sum"), ("blake2b-512", "b2sum"), ("md5", "md5sum"), ("sha1", "sha1sum")] {
            let log = root + "/\(algorithm).log"
            try job("checksum:algorithm=\(algorithm):log=\(log)", files)
            var (status, output) = try shell("cd / && \(tool) -c --strict \(log)")
            XCTAssertEqual(status, 0, "\(tool): \(output)")
            XCTAssertEqual(output.components(separatedBy: ": OK").count - 1, files.count, output)
            var info = stat()
            XCTAssertEqual(stat(log, &info), 0)
            XCTAssertEqual(info.st_mode & 0o777, 0o600)
            // One changed byte: FAILED.
            try Data("contents 0\r".utf8).write(to: URL(fileURLWithPath: root + "/plain.txt"))
            (status, output) = try shell("cd / && \(tool) -c \(log)")
            XCTAssertEqual(status, 1, output)
            XCTAssertTrue(output.contains("plain.txt: FAILED"), output)
            try Data("contents 0\n".utf8).write(to: URL(fileURLWithPath: root + "/plain.txt"))
        }
    }

    func testSha256ReusesTheHostDigestAndHashesItselfWhereItMust() throws {
        let stage = try ChecksumStage(string: "checksum:log=\(root)/sums")
        let context = StageContext(mode: .backup, jobID: 1, jobName: "j", level: "Full", fileSetName: "f")
        try stage.handle(.jobStarted, context: context)
        let item = FileItem(entry: StageHarness.entry(path: root + "/x", size: 1), fileIndex: 0)
        let source = ObserverPlacement(seesSourceBytes: true, chainEncrypts: false)
        let transformed = ObserverPlacement(seesSourceBytes: false, chainEncrypts: true)
        let reusing = try XCTUnwrap(try stage.makeObserver(for: item, placement: source, context: context))
        XCTAssertFalse(reusing.needsBytes)
        reusing.abandon(reason: "test")
        let hashing = try XCTUnwrap(try stage.makeObserver(for: item, placement: transformed, context: context))
        XCTAssertTrue(hashing.needsBytes)
        hashing.abandon(reason: "test")
        let directory = FileItem(entry: StageHarness.entry(path: root, kind: .directory, size: 0), fileIndex: 1)
        XCTAssertNil(try stage.makeObserver(for: directory, placement: source, context: context))
        let sha512 = try ChecksumStage(string: "checksum:algorithm=sha512:log=\(root)/sums512")
        try sha512.handle(.jobStarted, context: context)
        let observer = try XCTUnwrap(try sha512.makeObserver(for: item, placement: source, context: context))
        XCTAssertTrue(observer.needsBytes)
        observer.abandon(reason: "test")
        try stage.handle(.jobEnded(succeeded: true), context: context)
        try sha512.handle(.jobEnded(succeeded: true), context: context)
        // Outside a backup the stage opens no log and observes nothing.
        let estimate = StageContext(mode: .estimate, jobID: 0, jobName: "j", level: "Full", fileSetName: "f")
        let idle = try ChecksumStage(string: "checksum:log=\(root)/never")
        try idle.handle(.jobStarted, context: estimate)
        XCTAssertNil(try idle.makeObserver(for: item, placement: source, context: estimate))
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/never"))
    }

    func testAFailedFileIsLoggedAsFailedNeverWithADigest() throws {
        let files = try files(2)
        for format in ["sha256sum", "hashdeep", "jsonl"] {
            let log = root + "/failed.\(format)"
            let stage = try ChecksumStage(string: "checksum:format=\(format):log=\(log)")
            let harness = try StageHarness(stage: stage)
            let good = try harness.decide(StageHarness.entry(path: files[0].0, size: UInt64(files[0].1.count)))
            _ = try harness.stream(good.item, contents: files[0].1)
            let bad = try harness.decide(StageHarness.entry(path: files[1].0, size: UInt64(files[1].1.count)))
            try harness.abandon(bad.item, reason: "changed while read\n(size 3 -> 4)", after: Array(files[1].1.prefix(5)))
            try harness.finish()
            let text = try String(contentsOfFile: log, encoding: .utf8)
            XCTAssertFalse(text.contains(Hex.encode(try Digester.digest(.sha256, of: files[1].1))), text)
            switch format {
            case "sha256sum":
                XCTAssertTrue(text.hasSuffix("FAILED (changed while read size 3 -> 4)  \(String(root.dropFirst()))/with space\n"), text)
                let (status, output) = try shell("cd / && sha256sum -c \(log)")
                XCTAssertEqual(status, 0, output)
                XCTAssertTrue(output.contains("1 line is improperly formatted"), output)
                XCTAssertNotEqual(try shell("cd / && sha256sum -c --strict \(log)").status, 0)
            case "hashdeep":
                XCTAssertTrue(text.hasSuffix("## FAILED (changed while read size 3 -> 4)  \(String(root.dropFirst()))/with space\n"), text)
            default:
                let last = try XCTUnwrap(text.split(separator: "\n").last)
                let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any])
                XCTAssertEqual(object["status"] as? String, "failed")
                XCTAssertEqual(object["error"] as? String, "changed while read\n(size 3 -> 4)")
                XCTAssertNil(object["digest"])
            }
        }
    }

    // MARK: - Many jobs, one log

    func testASharedLogKeepsTheNewestLineOfEachFile() throws {
        let log = root + "/shared.sha256"
        let files = try files(3)
        let messages = try job("checksum:log=\(log)", files, jobID: 1)
        XCTAssertEqual(messages.map(\.text), ["checksum log \(log): 3 files logged"])
        let changed = Array("changed\n".utf8)
        let path = try makeFile(Self.names[0], changed)
        try job("checksum:log=\(log)", [(path, changed)], jobID: 2)
        let (status, output) = try shell("cd / && sha256sum -c --strict \(log)")
        XCTAssertEqual(status, 0, output)
        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 3)
        XCTAssertTrue(lines.last!.hasPrefix(Hex.encode(try Digester.digest(.sha256, of: changed))))
        var info = stat()
        XCTAssertEqual(stat(log, &info), 0)
        XCTAssertEqual(info.st_mode & 0o777, 0o600)
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: root).contains { $0.contains("compact") })
    }

    func testTwoWritersOfOneNewLogStillCompact() throws {
        let log = root + "/two.sha256"
        let first = try ChecksumLogFile(path: log, format: .sha256sum, algorithm: .sha256)
        let second = try ChecksumLogFile(path: log, format: .sha256sum, algorithm: .sha256)
        try first.append(Array("aa  x\n".utf8))
        try second.append(Array("bb  x\n".utf8))
        try second.close(compact: true)
        try first.close(compact: true)  // its line is the newest: written after the second's close
        XCTAssertEqual(try String(contentsOfFile: log, encoding: .utf8), "aa  x\n")
        let alone = try ChecksumLogFile(path: root + "/alone.sha256", format: .sha256sum, algorithm: .sha256)
        try alone.append(Array("cc  y\n".utf8))
        XCTAssertEqual(try alone.close(compact: true), 1)
        XCTAssertEqual(try String(contentsOfFile: root + "/alone.sha256", encoding: .utf8), "cc  y\n")
    }

    func testAWriterWhoseLogWasCompactedAwayWritesToTheNewFile() throws {
        let log = root + "/replaced.sha256"
        try Data("old  x\n".utf8).write(to: URL(fileURLWithPath: log))
        let first = try ChecksumLogFile(path: log, format: .sha256sum, algorithm: .sha256)
        let second = try ChecksumLogFile(path: log, format: .sha256sum, algorithm: .sha256)
        var before = stat()
        XCTAssertEqual(stat(log, &before), 0)
        try second.append(Array("new  x\n".utf8))
        try second.close(compact: true)  // renames a compacted copy over the log
        var after = stat()
        XCTAssertEqual(stat(log, &after), 0)
        XCTAssertNotEqual(before.st_ino, after.st_ino)
        let third = try ChecksumLogFile(path: log, format: .sha256sum, algorithm: .sha256)
        try third.append(Array("dd  z\n".utf8))
        try third.close(compact: true)
        try first.append(Array("cc  y\n".utf8))
        // `first` still holds the replaced file: it must reopen the log, or its compaction would drop `dd  z`.
        try first.close(compact: true)
        XCTAssertEqual(try String(contentsOfFile: log, encoding: .utf8), "new  x\ndd  z\ncc  y\n")
    }

    func testCompactionKeepsHeadersCommentsAndTheLastLineOfEachName() {
        let sums = Array("aa  x\nbb  y\n\\cc  a\\\\b\n# comment\ndd  x\nFAILED (gone)  y\n".utf8)
        XCTAssertEqual(
            String(decoding: ChecksumLogFile.compacted(sums, format: .sha256sum), as: UTF8.self),
            "\\cc  a\\\\b\n# comment\ndd  x\nFAILED (gone)  y\n")
        let deep = Array(
            "%%%% HASHDEEP-1.0\n%%%% size,sha256,filename\n## \n1,aa,x\n2,bb,y,z\n## FAILED (r)  x\n3,cc,y,z\n".utf8)
        XCTAssertEqual(
            String(decoding: ChecksumLogFile.compacted(deep, format: .hashdeep), as: UTF8.self),
            "%%%% HASHDEEP-1.0\n%%%% size,sha256,filename\n## \n## FAILED (r)  x\n3,cc,y,z\n")
        let unterminated = Array("aa  x\nbb  x".utf8)
        XCTAssertEqual(String(decoding: ChecksumLogFile.compacted(unterminated, format: .sha256sum), as: UTF8.self), "bb  x")
    }

    func testWholeLinesFromManyThreads() throws {
        let log = root + "/threads.sha256"
        let file = try ChecksumLogFile(path: log, format: .sha256sum, algorithm: .sha256)
        let threads = 8
        let perThread = 4000
        DispatchQueue.concurrentPerform(iterations: threads) { thread in
            for index in 0..<perThread {
                let record = ChecksumRecord(
                    path: Array("/t\(thread)/file-\(index)".utf8), stat: StageHarness.entry(path: "/x", size: 0).stat,
                    size: 0, outcome: .digest(try! Digester.digest(.sha256, of: [UInt8(index & 0xFF)])))
                try? file.append(ChecksumLogFormat.sha256sum.line(record, algorithm: .sha256, job: ChecksumJob(id: 1, name: "j")))
            }
        }
        try file.close(compact: true)
        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, threads * perThread)
        XCTAssertTrue(lines.allSatisfy { $0.count > 66 && $0.dropFirst(64).hasPrefix("  t") })
    }

    // MARK: - hashdeep and jsonl

    func testHashdeepAuditsTheTreeAndANameWithANewlineIsAComment() throws {
        var files: [([UInt8], [UInt8])] = []
        for (path, contents) in try self.files() {
            if path.contains(0x0A) || path.contains(0x0D) {
                var cPath = path + [0]
                XCTAssertEqual(cPath.withUnsafeMutableBytes { unlink($0.baseAddress!.assumingMemoryBound(to: CChar.self)) }, 0)
            } else {
                files.append((path, contents))
            }
        }
        let log = root + "/audit.hashdeep"
        try job("checksum:format=hashdeep:algorithm=sha256:log=\(log)", files)
        let text = try String(contentsOfFile: log, encoding: .isoLatin1)
        XCTAssertTrue(text.hasPrefix("%%%% HASHDEEP-1.0\n%%%% size,sha256,filename\n"), text)
        let relative = String(root.dropFirst())
        // The log itself is in the tree: move it out, then audit.
        try FileManager.default.moveItem(atPath: log, toPath: root + "/../\(directory.url.lastPathComponent).hashdeep")
        let moved = root + "/../\(directory.url.lastPathComponent).hashdeep"
        defer { try? FileManager.default.removeItem(atPath: moved) }
        var (status, output) = try shell("cd / && hashdeep -l -r -a -k \(moved) \(relative)")
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("Audit passed"), output)
        try Data("x".utf8).write(to: URL(fileURLWithPath: root + "/plain.txt"), options: .atomic)
        (status, output) = try shell("cd / && hashdeep -l -r -a -k \(moved) \(relative)")
        XCTAssertNotEqual(status, 0, output)
        // A newline in a name cannot be written in this format: a comment names it (escaped).
        let newline = try makeFile(Array("new\nline".utf8), [1])
        let log2 = root + "/newline.hashdeep"
        try job("checksum:format=hashdeep:log=\(log2)", [(newline, [1])])
        XCTAssertTrue(try String(contentsOfFile: log2, encoding: .utf8).hasSuffix("## UNREPRESENTABLE  \(relative)/new\\nline\n"))
    }

    func testJSONLinesCarryTheJobAndTheFileAndStayHistory() throws {
        let log = root + "/history.jsonl"
        let files = try files()
        try job("checksum:format=jsonl:algorithm=blake2b-512:log=\(log)", files, jobID: 7)
        try job("checksum:format=jsonl:algorithm=blake2b-512:log=\(log)", [files[0]], jobID: 8)
        let objects = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map {
            try XCTUnwrap(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        XCTAssertEqual(objects.count, files.count + 1)  // append-only: both versions stay
        let first = objects[0]
        XCTAssertEqual(first["job_id"] as? Int, 7)
        XCTAssertEqual(first["job"] as? String, "Nightly")
        XCTAssertEqual(first["path"] as? String, String(root.dropFirst()) + "/plain.txt")
        XCTAssertEqual(first["size"] as? Int, files[0].1.count)
        XCTAssertEqual(first["mtime"] as? Int, 1_700_000_000)
        XCTAssertEqual(first["mode"] as? Int, 0o644)
        XCTAssertEqual(first["uid"] as? Int, 0)
        XCTAssertEqual(first["gid"] as? Int, 0)
        XCTAssertEqual(first["algorithm"] as? String, "blake2b-512")
        XCTAssertEqual(first["status"] as? String, "ok")
        XCTAssertEqual(first["digest"] as? String, Hex.encode(try Digester.digest(.blake2b512, of: files[0].1)))
        let time = try XCTUnwrap(first["time"] as? String)
        XCTAssertNotNil(time.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"#, options: .regularExpression), time)
        let latin = try XCTUnwrap(objects.first { $0["path_b64"] != nil })
        XCTAssertNil(latin["path"])
        XCTAssertEqual(
            Data(base64Encoded: try XCTUnwrap(latin["path_b64"] as? String)).map(Array.init),
            Array(ChecksumLogFormat.relativeName(files[6].0)))
        XCTAssertEqual(objects.filter { $0["path"] as? String == String(root.dropFirst()) + "/new\nline" }.count, 1)
        XCTAssertEqual(objects.last?["job_id"] as? Int, 8)
    }

    // MARK: - Options

    func testLogNameSubstitutions() {
        let start = FileStat.Timestamp(seconds: 1_796_539_315, nanoseconds: 0)  // 2026-12-06 06:41:55 UTC
        XCTAssertEqual(
            ChecksumLogName.expand("/v/%j-%i-%l-%t-%n%%.log", jobName: "Nightly", jobID: 42, level: "Full", start: start),
            "/v/Nightly-42-Full-2026-12-06_06.41.55-Nightly%.log")
        XCTAssertEqual(ChecksumLogName.isoTime(start), "2026-12-06T06:41:55Z")
        XCTAssertNil(ChecksumLogName.problem(in: "/v/%j%%"))
        XCTAssertNotNil(ChecksumLogName.problem(in: "/v/%x"))
        XCTAssertNotNil(ChecksumLogName.problem(in: "/v/%"))
    }

    func testLogNamePerJobIsExpandedAtJobStart() throws {
        let files = try files(1)
        try job("checksum:log=\(root)/%j-%i-%l.sha256", files, jobID: 12)
        XCTAssertTrue(FileManager.default.fileExists(atPath: root + "/Nightly-12-Full.sha256"))
    }

    func testConfigurationErrorsNameTheOption() {
        func error(_ string: String) -> String {
            do {
                _ = try StageRegistry.makeStage(string)
                return "no error"
            } catch {
                return "\(error)"
            }
        }
        XCTAssertEqual(
            error("checksum"),
            "stage \"checksum\": option log= is required (the checksum log file, e.g. log=/var/log/optionhost/%j.sha256)")
        XCTAssertEqual(
            error("checksum:algorithm=sha384:log=/x"),
            "stage \"checksum\": option algorithm=sha384 is not one of sha256, sha512, sha1, md5, blake2b-512")
        XCTAssertEqual(
            error("checksum:format=hashdeep:algorithm=sha512:log=/x"),
            "stage \"checksum\": format=hashdeep takes algorithm=md5, sha1 or sha256 (what hashdeep computes), not sha512")
        XCTAssertTrue(error("checksum:log=/x/%q").contains("unknown substitution %q"))
        XCTAssertEqual(error("checksum:log=sums.txt"), "stage \"checksum\": log=sums.txt must be an absolute path")
        XCTAssertTrue(error("checksum:log=/x:colour=red").contains("unknown option \"colour\""))
        XCTAssertEqual(error("checksum:log=/x\\:y"), "no error")
    }

    func testAHashdeepLogOfAnotherAlgorithmIsRefusedAtJobStart() throws {
        let log = root + "/mixed.hashdeep"
        try job("checksum:format=hashdeep:algorithm=md5:log=\(log)", try files(1))
        let stage = try ChecksumStage(string: "checksum:format=hashdeep:log=\(log)")
        XCTAssertThrowsError(try StageHarness(stage: stage)) { error in
            XCTAssertTrue("\(error)".contains("does not start with the header"), "\(error)")
        }
    }

    /// `\NNN` escapes of every byte, for `printf '%b'`.
    private func octal(_ bytes: [UInt8]) -> String {
        bytes.map { "\\0" + String($0, radix: 8) }.joined()
    }

    private func shellQuote(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
