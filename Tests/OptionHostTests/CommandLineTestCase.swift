import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Shared helpers of the end-to-end tests that run the built `optionhost` binary: a fresh temporary directory per
/// test, running processes and capturing their exit status, standard output and standard error.
class CommandLineTestCase: XCTestCase {
    struct Result {
        var status: Int32
        var stdout: [UInt8]
        var stderr: String
        var output: String { String(decoding: stdout, as: UTF8.self) }
        var lines: [String] { output.split(separator: "\n", omittingEmptySubsequences: true).map(String.init) }
    }

    static let repository: URL = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url
    }()

    /// `optionhost` sits next to the test bundle in the build directory.
    static let binary: String = {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
        var url = URL(fileURLWithPath: exe).deletingLastPathComponent()
        while url.path != "/" {
            let candidate = url.appendingPathComponent("optionhost").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            url.deleteLastPathComponent()
        }
        return repository.appendingPathComponent(".build/debug/optionhost").path
    }()

    /// This host's name: the client of a Job without `Client`.
    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    var work: URL!

    override func setUpWithError() throws {
        work = FileManager.default.temporaryDirectory.appendingPathComponent("cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: work.path)
    }

    override func tearDownWithError() throws {
        _ = try? run("/bin/chmod", ["-R", "u+rwx", work.path])
        try? FileManager.default.removeItem(at: work)
    }

    @discardableResult
    func run(_ executable: String, _ arguments: [String], directory: URL? = nil) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, stdout: Array(stdout), stderr: String(decoding: stderr, as: UTF8.self))
    }

    func optionhost(_ arguments: [String], directory: URL? = nil) throws -> Result {
        try run(CommandLineTestCase.binary, arguments, directory: directory)
    }

    func write(_ name: String, _ text: String) throws -> String {
        let url = work.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url.path
    }

    func makeFile(_ relative: String, _ contents: String = "x") throws {
        try makeFile(relative, bytes: Array(contents.utf8))
    }

    /// `open-plugins` in the work directory, holding a Python plugin module `quiet` that does nothing, writable by
    /// any local user (mode 1777); the text of the warning `check` and `backup` give about it.
    func worldWritablePluginDirectory() throws -> (path: String, warning: String) {
        let plugins = work.appendingPathComponent("open-plugins").path
        try FileManager.default.createDirectory(atPath: plugins, withIntermediateDirectories: true)
        try """
            import bareosfd
            def load_bareos_plugin(plugindef): return 0
            def parse_plugin_definition(plugindef): return 0
            """.write(toFile: plugins + "/quiet.py", atomically: true, encoding: .utf8)
        XCTAssertEqual(chmod(plugins, 0o1777), 0)
        let warning = "module_path \"\(plugins)\" is world-writable (mode 1777): any local user can put code there "
            + "that the job imports and runs; make it writable by its owner only"
        return (plugins, warning)
    }

    func makeFile(_ relative: String, bytes: [UInt8]) throws {
        let url = work.appendingPathComponent(relative)
        try FileManager.default.createDirectory(
            at: url.deletingLastPathComponent(), withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o755])
        try Data(bytes).write(to: url)
    }
}
