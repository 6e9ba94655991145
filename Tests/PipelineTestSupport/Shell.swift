import Foundation

/// Runs shell commands and writes test files: the helpers every engine test needs.
public enum Shell {
    /// Runs `/bin/bash -c COMMAND`; returns the exit status and standard output and error together.
    public static func run(_ command: String) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["-c", command]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Writes `bytes` to `root/relative` (creating directories) with `mode`; false when it could not.
    @discardableResult
    public static func writeFile(_ root: String, _ relative: String, _ bytes: [UInt8], mode: Int = 0o644) throws -> Bool {
        let path = root + "/" + relative
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        return FileManager.default.createFile(atPath: path, contents: Data(bytes))
            && chmod(path, mode_t(mode)) == 0
    }
}
