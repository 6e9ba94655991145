import Pipeline
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Command-line habits (issue 16 item 6): `--version` with the linked libraries, `restore --file-version` (the
/// tool's `--version` is not taken twice), `prune --dry-run` while a job holds the catalog, and a stage failure
/// of `restore --stdout` that names its file.
final class CommandLineHabitsTests: CommandLineTestCase {
    /// `data/notes.txt` (compressible text) backed up with GZIP by Job `Nightly` into `catalog.db` and `archive/`.
    func backUp(_ text: String) throws -> String {
        try makeFile("data/notes.txt", text)
        let config = try write(
            "habits.conf",
            """
            Catalog { Name = cat; DB Driver = sqlite3; DB Name = "\(work.path)/catalog.db" }
            Archive { Name = arc; Directory = "\(work.path)/archive" }
            FileSet { Name = fs; Include { Options { Compression = GZIP6 } File = "\(work.path)/data" } }
            Job { Name = Nightly; Type = Backup; Level = Full; FileSet = fs; Catalog = cat; Archive = arc }

            """)
        let backup = try optionhost(["backup", config, "--job", "Nightly"])
        XCTAssertEqual(backup.status, 0, backup.stderr)
        return config
    }

    func testVersionNamesTheLinkedLibraries() throws {
        let result = try optionhost(["--version"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let lines = result.lines
        XCTAssertEqual(lines.first, "0.1.0")
        XCTAssertEqual(
            lines.dropFirst().map { String($0.prefix { $0 != " " }) },
            ["SQLite", "OpenSSL", "zlib", "xxHash", "Python", "libmagic"], result.output)
        // The versions as the libraries report them (Debian's libpython3.11, SQLite 3, OpenSSL 3).
        XCTAssertTrue(lines.contains { $0.hasPrefix("SQLite 3.") }, result.output)
        XCTAssertTrue(lines.contains { $0.hasPrefix("OpenSSL 3.") }, result.output)
        XCTAssertTrue(lines.contains { $0.hasPrefix("Python 3.") && !$0.contains("(") }, result.output)
        // Every subcommand answers the same.
        let restore = try optionhost(["restore", "--version"])
        XCTAssertEqual(restore.status, 0, restore.stderr)
        XCTAssertEqual(restore.output, result.output)
    }

    func testRestoreTakesFileVersionAndListsVersionOnce() throws {
        let help = try optionhost(["restore", "--help"])
        XCTAssertEqual(help.status, 0)
        XCTAssertEqual(help.output.components(separatedBy: "--version").count - 1, 1, help.output)
        XCTAssertTrue(help.output.contains("--file-version <N>"), help.output)

        let config = try backUp("first version\n")
        try makeFile("data/notes.txt", "second version, longer\n")
        XCTAssertEqual(try optionhost(["backup", config, "--job", "Nightly"]).status, 0)
        let notes = work.appendingPathComponent("data/notes.txt").path
        let restored = work.appendingPathComponent("restored")
        let result = try optionhost(
            ["restore", config, "--select", notes, "--file-version", "1", "--where", restored.path])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(
            try String(contentsOfFile: restored.path + notes, encoding: .utf8), "first version\n")
        let zero = try optionhost(["restore", config, "--select", notes, "--file-version", "0", "--where", restored.path])
        XCTAssertEqual(zero.status, 2)
        XCTAssertTrue(zero.stderr.contains("--file-version counts from 1"), zero.stderr)
    }

    func testPruneDryRunReadsWhileAJobHoldsTheCatalog() throws {
        let config = try backUp("text\n")
        let catalog = work.appendingPathComponent("catalog.db").path
        let lock = try JobLock.acquire(path: catalog, holder: "Nightly")
        defer { lock.release() }
        let dryRun = try optionhost(["prune", config, "--job", "Nightly", "--keep-last", "1", "--dry-run"])
        XCTAssertEqual(dryRun.status, 0, dryRun.stderr)
        XCTAssertTrue(
            dryRun.stderr.hasPrefix("note: catalog \(catalog) is in use by job \"Nightly\" (pid \(getpid())) since "),
            dryRun.stderr)
        XCTAssertTrue(dryRun.stderr.hasSuffix("; a dry run only reads: the volumes of jobs still running are left out\n"))
        XCTAssertTrue(dryRun.output.contains("JobId 1"), dryRun.output)
        let json = try optionhost(["prune", config, "--job", "Nightly", "--keep-last", "1", "--dry-run", "--json"])
        XCTAssertEqual(json.status, 0, json.stderr)
        XCTAssertTrue(json.lines.first?.hasPrefix("{\"type\":\"warning\",\"message\":\"catalog ") == true, json.output)
        // A prune that would change the catalog still waits for its turn.
        let real = try optionhost(["prune", config, "--job", "Nightly", "--keep-last", "1"])
        XCTAssertEqual(real.status, 3, real.output)
        XCTAssertTrue(real.stderr.contains("is in use by job \"Nightly\""), real.stderr)
    }

    func testStdoutRestoreNamesTheFileAStageFailedOn() throws {
        let config = try backUp(String(repeating: "a line of text that compresses well\n", count: 2000))
        // Damage the gzip stream inside the volume (after its 10-byte header): inflating it fails.
        let volume = work.appendingPathComponent("archive/Nightly-1-0001.tar").path
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: volume)))
        let start = try XCTUnwrap(
            (0..<(bytes.count - 3)).first { bytes[$0] == 0x1F && bytes[$0 + 1] == 0x8B && bytes[$0 + 2] == 0x08 })
        for offset in (start + 12)..<(start + 60) { bytes[offset] = 0xFF }
        try Data(bytes).write(to: URL(fileURLWithPath: volume))
        let notes = work.appendingPathComponent("data/notes.txt").path
        let result = try optionhost(["restore", config, "--jobid", "1", "--select", notes, "--stdout"])
        XCTAssertEqual(result.status, 3, result.stderr)
        XCTAssertEqual(result.stdout, [])
        XCTAssertTrue(result.stderr.hasPrefix("optionhost: \(notes): stage "), result.stderr)
        XCTAssertFalse(result.stderr.contains(": : "), result.stderr)
    }
}

extension CommandLineHabitsTests {
    /// The long options and commands the binary has, from argument-parser's own description of it.
    func commandLineNames() throws -> (options: Set<String>, commands: Set<String>) {
        let dump = try optionhost(["--experimental-dump-help"])
        XCTAssertEqual(dump.status, 0, dump.stderr)
        let root = try XCTUnwrap(
            (try JSONSerialization.jsonObject(with: Data(dump.stdout)) as? [String: Any])?["command"] as? [String: Any])
        var options: Set<String> = []
        var commands: Set<String> = []
        func walk(_ command: [String: Any]) {
            for argument in command["arguments"] as? [[String: Any]] ?? []
            where argument["shouldDisplay"] as? Bool != false {
                for name in argument["names"] as? [[String: Any]] ?? [] where name["kind"] as? String == "long" {
                    options.insert(name["name"] as? String ?? "")
                }
            }
            // Hidden commands (`plugin-process`, started by optionhost itself) are not for people, as hidden options.
            for sub in command["subcommands"] as? [[String: Any]] ?? [] where sub["shouldDisplay"] as? Bool != false {
                commands.insert(sub["commandName"] as? String ?? "")
                walk(sub)
            }
        }
        walk(root)
        return (options, commands)
    }

    func testManualPageListsEveryCommandAndOption() throws {
        let page = try String(
            contentsOf: CommandLineTestCase.repository.appendingPathComponent("docs/optionhost.1"), encoding: .utf8)
        let (options, commands) = try commandLineNames()
        XCTAssertTrue(options.contains("file-version") && commands.contains("volumes"))
        for option in options.sorted() {
            XCTAssertTrue(
                page.contains("Fl -\(option)") || page.contains(" , -\(option)"), "docs/optionhost.1 lacks --\(option): regenerate it (see its header)")
        }
        for command in commands.sorted() {
            XCTAssertTrue(page.contains("Em \(command)"), "docs/optionhost.1 lacks \(command): regenerate it (see its header)")
        }
    }

    func testCompletionScriptCompletesTheNewNames() throws {
        let bash = try optionhost(["--generate-completion-script", "bash"])
        XCTAssertEqual(bash.status, 0, bash.stderr)
        XCTAssertTrue(bash.output.hasPrefix("#!/bin/bash"), bash.output)
        XCTAssertTrue(bash.output.contains("--file-version"), "restore's --file-version")
        XCTAssertTrue(bash.output.contains("volumes"), "list volumes")
    }
}
