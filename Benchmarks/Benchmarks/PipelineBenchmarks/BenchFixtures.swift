import Foundation
import Pipeline
import Synchronization

/// What the benchmarks share, made once per process on first use (never at registration, so `list` stays fast):
/// a temporary directory, a throwaway GnuPG home with one cv25519 key, a no-op Python plugin, file contents.
final class BenchFixtures: Sendable {
    static let shared = BenchFixtures()

    /// The repository root (this file is Benchmarks/Benchmarks/PipelineBenchmarks/BenchFixtures.swift).
    let repositoryRoot: String
    let directory: String
    /// 4 KiB of word-salad text, like half of make-corpus.sh's small files (the other half is random bytes).
    let smallFile: [UInt8]
    /// 1 MiB of pseudo-random bytes: the MB/s benchmarks process this once per iteration.
    let megabyte: [UInt8]
    private let gpgKey = Mutex<Result<String, BenchSetupError>?>(nil)

    private init() {
        var root = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { root.deleteLastPathComponent() }
        repositoryRoot = root.path
        directory = NSTemporaryDirectory() + "optionhost-microbench-\(getpid())"
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // package-benchmark starts one process per benchmark: each removes its directory, and stops the gpg-agent
        // that GPGME started for its GnuPG home, when it exits.
        atexit { BenchFixtures.shared.removeAll() }
        let words = Array("backup archive checksum catalog index search file tree owner encrypt stream block ".utf8)
        smallFile = (0..<4096).map { words[($0 &* 7) % words.count] }
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        megabyte = (0..<(1 << 20)).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 56)
        }
    }

    private func removeAll() {
        if gpgKey.withLock({ $0 != nil }) { _ = try? run("gpgconf", "--kill", "gpg-agent") }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// A path in the temporary directory.
    func path(_ name: String) -> String { directory + "/" + name }

    /// The fingerprint of a cv25519 key in `path("gnupg")`, made with the `gpg` on PATH the first time; that home
    /// is exported as GNUPGHOME so GPGME finds it.
    func gpgRecipient() throws(BenchSetupError) -> String {
        let result = gpgKey.withLock { cached -> Result<String, BenchSetupError> in
            if let cached { return cached }
            let made = Result { () throws(BenchSetupError) -> String in try makeKey() }
            cached = made
            return made
        }
        return try result.get()
    }

    private func makeKey() throws(BenchSetupError) -> String {
        let home = path("gnupg")
        try? FileManager.default.createDirectory(
            atPath: home, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        setenv("GNUPGHOME", home, 1)
        _ = try run(
            "gpg", "--batch", "--quiet", "--passphrase", "", "--quick-gen-key", "Bench <bench@example.org>",
            "future-default", "default", "never")
        let listing = try run("gpg", "--batch", "--with-colons", "--list-keys", "bench@example.org")
        guard let line = listing.split(separator: "\n").first(where: { $0.hasPrefix("fpr:") }),
            let fingerprint = line.split(separator: ":", omittingEmptySubsequences: false).dropFirst(9).first
        else { throw BenchSetupError("gpg --list-keys printed no fingerprint") }
        return String(fingerprint)
    }

    /// Runs a tool found on PATH and returns its standard output.
    func run(_ arguments: String...) throws(BenchSetupError) -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw BenchSetupError("cannot run \(arguments[0]): \(error)")
        }
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw BenchSetupError("\(arguments.joined(separator: " ")) exited with \(process.terminationStatus)")
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// The plugin string of examples/plugins/noop.py, whose `handle_backup_file` returns `bRC_Core` (the
    /// no-op plugin of the scripts).
    var trivialPlugin: String { "python3:module_path=\(repositoryRoot)/examples/plugins:module_name=noop" }

    /// One selected regular file of `size` bytes at `path`, as the walk would hand it to the stages.
    static func item(path: String, size: Int, index: Int64 = 0, chain: [String] = []) -> FileItem {
        let now = FileStat.Timestamp(seconds: 1_765_000_000, nanoseconds: 0)
        let stat = FileStat(
            dev: 1, ino: UInt64(index) + 1, mode: 0o100644, nlink: 1, uid: 1000, gid: 1000, rdev: 0,
            size: UInt64(size), blocks: UInt64((size + 511) / 512), atime: now, mtime: now, ctime: now)
        let entry = SelectedEntry(
            path: Array(path.utf8), kind: .file, stat: stat, includeIndex: 0, blockIndex: 0, effectiveBlockIndex: 0,
            isTopLevel: false, chain: chain)
        return FileItem(entry: entry, fileIndex: index)
    }
}

/// A benchmark could not prepare what it measures (a missing tool); the message says which.
struct BenchSetupError: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) { self.description = description }
}
