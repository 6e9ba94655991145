import Foundation
import XCTest

@testable import Pipeline

#if canImport(Glibc)
    import Glibc
#endif

/// A real directory tree under the temporary directory, built with byte-exact names, removed by `remove()`.
final class FileTreeFixture {
    /// Absolute path of the tree's root, no trailing slash.
    let root: [UInt8]
    var rootString: String { String(decoding: root, as: UTF8.self) }
    private var mounts: [[UInt8]] = []

    init(function: String = #function) throws {
        let name = "FileSelectorTests-\(function.prefix { $0 != "(" })-\(UUID().uuidString.prefix(8))"
        let url = FileManager.default.temporaryDirectory.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        // Resolve symbolic links in the temporary directory's path so that reported paths compare equal.
        root = Array(url.resolvingSymlinksInPath().path.utf8)
        try chmodBytes(root, 0o755)
    }

    /// `root + "/" + relative`.
    func path(_ relative: String) -> [UInt8] { path(bytes: Array(relative.utf8)) }
    func path(bytes relative: [UInt8]) -> [UInt8] { relative.isEmpty ? root : root + [UInt8(ascii: "/")] + relative }
    func string(_ relative: String) -> String { String(decoding: path(relative), as: UTF8.self) }

    func dir(_ relative: String, mode: mode_t = 0o755) throws { try dir(bytes: Array(relative.utf8), mode: mode) }
    func dir(bytes relative: [UInt8], mode: mode_t = 0o755) throws {
        try check(Self.withC(path(bytes: relative)) { mkdir($0, mode) }, "mkdir", relative)
        try chmodBytes(path(bytes: relative), mode)
    }

    func file(_ relative: String, size: Int = 0) throws { try file(bytes: Array(relative.utf8), size: size) }
    func file(bytes relative: [UInt8], size: Int = 0) throws {
        let fd = Self.withC(path(bytes: relative)) { open($0, O_WRONLY | O_CREAT | O_TRUNC, 0o644) }
        try check(fd >= 0 ? 0 : -1, "open", relative)
        defer { close(fd) }
        if size > 0 {
            let data = [UInt8](repeating: UInt8(ascii: "x"), count: size)
            _ = data.withUnsafeBytes { write(fd, $0.baseAddress, size) }
        }
    }

    func symlink(_ relative: String, to target: String) throws {
        try check(
            Self.withC(Array(target.utf8)) { t in Self.withC(path(relative)) { Glibc.symlink(t, $0) } }, "symlink",
            relative)
    }

    func hardLink(_ relative: String, to existing: String) throws {
        try check(Self.withC(path(existing)) { e in Self.withC(path(relative)) { link(e, $0) } }, "link", relative)
    }

    func fifo(_ relative: String) throws {
        try check(Self.withC(path(relative)) { mkfifo($0, 0o644) }, "mkfifo", relative)
    }

    /// A Unix-domain socket file, left behind by a bound socket that is closed again.
    func socket(_ relative: String) throws {
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        try check(fd >= 0 ? 0 : -1, "socket", relative)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = path(relative)
        precondition(bytes.count < MemoryLayout.size(ofValue: address.sun_path))
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (i, byte) in bytes.enumerated() { buffer[i] = byte }
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        try check(result, "bind", relative)
    }

    func chmod(_ relative: String, _ mode: mode_t) throws { try chmodBytes(path(relative), mode) }

    /// Mounts a tmpfs at `relative` (an existing directory); false when this process may not mount.
    func mountTmpfs(_ relative: String) -> Bool {
        let target = path(relative)
        let result = Self.withC(target) { Glibc.mount("none", $0, "tmpfs", 0, nil) }
        if result == 0 { mounts.append(target) }
        return result == 0
    }

    /// A chain of `depth` nested directories named `d` under `relative`, built with descriptors (no long paths);
    /// each level also holds a file `f`. Returns the relative path of the deepest directory.
    func deepChain(under relative: String, depth: Int) throws {
        var fd = Self.withC(path(relative)) { open($0, O_RDONLY | O_DIRECTORY) }
        try check(fd >= 0 ? 0 : -1, "open", relative)
        for _ in 0..<depth {
            try check(mkdirat(fd, "d", 0o755), "mkdirat", relative)
            let file = openat(fd, "f", O_WRONLY | O_CREAT, 0o644)
            close(file)
            let next = openat(fd, "d", O_RDONLY | O_DIRECTORY)
            close(fd)
            try check(next >= 0 ? 0 : -1, "openat", relative)
            fd = next
        }
        close(fd)
    }

    func remove() {
        for target in mounts.reversed() { _ = Self.withC(target) { umount2($0, Int32(MNT_DETACH)) } }
        mounts = []
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/rm")
        process.arguments = ["-rf", rootString]
        try? process.run()
        process.waitUntilExit()
    }

    /// The path relative to the root for readable assertions: "." for the root, invalid UTF-8 as `\xNN`.
    func relative(_ bytes: [UInt8]) -> String {
        var rest = bytes[...]
        if bytes == root {
            return "."
        } else if bytes.starts(with: root + [UInt8(ascii: "/")]) {
            rest = bytes[(root.count + 1)...]
        } else {
            return Self.escaped(bytes[...])
        }
        return Self.escaped(rest)
    }

    static func escaped(_ bytes: ArraySlice<UInt8>) -> String {
        var text = ""
        var index = bytes.startIndex
        while index < bytes.endIndex {
            // Decode one scalar at a time so that only the invalid bytes are escaped.
            var iterator = bytes[index...].makeIterator()
            var decoder = UTF8()
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar):
                text.unicodeScalars.append(scalar)
                index += String(scalar).utf8.count
            default:
                text += String(format: "\\x%02X", bytes[index])
                index += 1
            }
        }
        return text
    }

    static func withC<R>(_ bytes: [UInt8], _ body: (UnsafePointer<CChar>) -> R) -> R {
        (bytes + [0]).withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { body($0.baseAddress!) }
        }
    }

    private func chmodBytes(_ bytes: [UInt8], _ mode: mode_t) throws {
        try check(Self.withC(bytes) { Glibc.chmod($0, mode) }, "chmod", bytes)
    }

    private func check(_ result: Int32, _ what: String, _ relative: some Collection<UInt8>) throws {
        if result != 0 {
            let error = String(decoding: Array(relative), as: UTF8.self)
            throw NSError(
                domain: "FileTreeFixture", code: Int(errno),
                userInfo: [NSLocalizedDescriptionKey: "\(what) \(error): \(String(cString: strerror(errno)))"])
        }
    }
    private func check(_ result: Int32, _ what: String, _ relative: String) throws {
        try check(result, what, Array(relative.utf8))
    }
}

/// Base class of the selection tests: fixture trees made with `makeTree()` are removed in `tearDown`, and the
/// helpers build FileSets, run a `FileSelector` and compare results.
class SelectorTestCase: XCTestCase {
    private var trees: [FileTreeFixture] = []

    static let location = SourceLocation(file: "test.conf", line: 1, column: 1)

    func makeTree(function: String = #function) throws -> FileTreeFixture {
        let tree = try FileTreeFixture(function: function)
        trees.append(tree)
        return tree
    }

    override func tearDown() {
        for tree in trees { tree.remove() }
        trees = []
        super.tearDown()
    }

    // MARK: - Building FileSets

    /// An Options block configured in place; its index is set by `makeInclude`.
    func options(_ configure: (inout OptionsBlock) -> Void = { _ in }) -> OptionsBlock {
        var block = OptionsBlock(index: 0, location: Self.location)
        configure(&block)
        return block
    }

    func makeInclude(
        _ files: [[UInt8]], _ blocks: [OptionsBlock] = [], excludeDirContaining: [String] = [],
        location: SourceLocation = SelectorTestCase.location
    ) -> Include {
        var include = Include(location: location)
        include.files = files.map { FileEntry(value: $0, location: location) }
        include.options = blocks.enumerated().map { index, block in
            var block = block
            block.index = index
            return block
        }
        include.excludeDirContaining = excludeDirContaining.map { Array($0.utf8) }
        return include
    }

    func makeFileSet(_ includes: [Include], excludes: [[[UInt8]]] = []) -> FileSet {
        var fileSet = FileSet(name: "test", location: Self.location)
        fileSet.includes = includes
        fileSet.excludes = excludes.map { files in
            var block = ExcludeBlock(location: Self.location)
            block.files = files.map { FileEntry(value: $0, location: Self.location) }
            return block
        }
        return fileSet
    }

    // MARK: - Running and comparing

    struct Selection {
        var events: [SelectionEvent] = []
        var entries: [SelectedEntry] {
            events.compactMap { if case .entry(let entry) = $0 { return entry } else { return nil } }
        }
        var problems: [SelectionProblem] {
            events.compactMap { if case .problem(let problem) = $0 { return problem } else { return nil } }
        }
    }

    /// (path relative to the tree, kind, matching block): what most assertions compare.
    struct Row: Hashable, CustomStringConvertible {
        var path: String
        var kind: EntryKind
        var block: Int?

        init(_ path: String, _ kind: EntryKind, _ block: Int? = nil) {
            self.path = path
            self.kind = kind
            self.block = block
        }

        var description: String { "(\(path), \(kind.rawValue), \(block.map(String.init) ?? "nil"))" }
    }

    func runSelection(_ fileSet: FileSet, chains: [[[String]]]? = nil, maxOpenDirectories: Int? = nil) throws
        -> Selection
    {
        let selector = try FileSelector(
            fileSet: fileSet, chains: chains, maxOpenDirectories: maxOpenDirectories ?? 128)
        var selection = Selection()
        try selector.run { selection.events.append($0) }
        return selection
    }

    func rows(_ selection: Selection, in tree: FileTreeFixture) -> Set<Row> {
        Set(selection.entries.map { Row(tree.relative($0.path), $0.kind, $0.blockIndex) })
    }

    /// Exactly these (path, kind, block) rows, each emitted once.
    func assertRows(
        _ selection: Selection, in tree: FileTreeFixture, _ expected: Set<Row>, file: StaticString = #filePath,
        line: UInt = #line
    ) {
        let actual = rows(selection, in: tree)
        let entries = selection.entries
        XCTAssertEqual(
            entries.count, actual.count, "an entry was emitted twice: \(entries.map { tree.relative($0.path) })",
            file: file, line: line)
        if actual != expected {
            let missing = expected.subtracting(actual).map(\.description).sorted()
            let extra = actual.subtracting(expected).map(\.description).sorted()
            XCTFail("missing: \(missing)\nunexpected: \(extra)", file: file, line: line)
        }
    }

    /// Problems as `severity: message`, with the tree's root replaced by `$TMP`.
    func problemLines(_ selection: Selection, in tree: FileTreeFixture) -> [String] {
        selection.problems.map { problem in
            "\(problem.severity.rawValue): \(problem.message.replacingOccurrences(of: tree.rootString, with: "$TMP"))"
        }
    }

    // MARK: - Environment

    /// Runs `body` with the effective user id of `nobody`, so that permission checks apply even to root.
    func asNobody<R>(_ body: () throws -> R) throws -> R {
        guard geteuid() == 0 else { return try body() }
        guard seteuid(65534) == 0 else { throw XCTSkip("cannot switch to uid 65534") }
        defer { _ = seteuid(0) }
        return try body()
    }

    /// Runs a shell command and returns its standard output without surrounding white space.
    func shell(_ command: String) throws -> String {
        let process = Process()
        let pipe = Pipe()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Number of open file descriptors of this process.
    func openDescriptorCount() -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
    }

    /// `text` as a POSIX ERE matching it literally.
    func regexEscaped(_ text: String) -> String {
        var out = ""
        for character in text {
            if character.isLetter || character.isNumber || character == "/" || character == "_" {
                out.append(character)
            } else if character == "-" {
                out += "[-]"
            } else {
                out += "\\\(character)"
            }
        }
        return out
    }
}
