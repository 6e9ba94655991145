import Pipeline

#if canImport(Glibc)
import Glibc
#endif

/// Where the callbacks of one plugin instance land (JobMessage, DebugMessage, print, CheckChanges, ...): the
/// job's messages and the instance's Accurate "seen" marks. The C side holds it retained until the instance's
/// interpreter has ended, so a late callback never reaches a freed object. Used on the Python thread only.
final class PythonPluginHost: @unchecked Sendable {
    let stage: String
    let context: StageContext
    /// The entry being handled, named in the messages the plugin raises meanwhile.
    var currentPath: [UInt8]?
    /// Paths the plugin marked seen (`SetValue(bVarFileSeen)`, `SetSeenBitmap`).
    private(set) var seenPaths: Set<[UInt8]> = []
    /// `SetSeenBitmap(True)`: every path counts as seen.
    private(set) var allSeen = false

    init(stage: String, context: StageContext) {
        self.stage = stage
        self.context = context
    }

    func jobMessage(type: Int, text: String) {
        let text = PythonPluginHost.trimmed(text)
        switch type {
        case 1, 3, 11:  // M_ABORT, M_FATAL, M_ERROR_TERM: the job cannot go on (Bareos fails or ends it)
            context.failJob("plugin message (\(PythonPluginHost.messageTypeName(type))): \(text)", stage: stage)
        case 4: context.message(.error, text, stage: stage, path: currentPath)
        case 5: context.message(.warning, text, stage: stage, path: currentPath)
        case 2: context.message(.debug, text, stage: stage, path: currentPath)
        default: context.message(.info, text, stage: stage, path: currentPath)
        }
    }

    func debugMessage(level: Int, text: String) {
        context.message(.debug, "debug \(level): \(PythonPluginHost.trimmed(text))", stage: stage, path: currentPath)
    }

    func output(stream: Int, text: String) {
        context.message(
            stream == 2 ? .warning : .info, (stream == 2 ? "stderr: " : "stdout: ") + text, stage: stage,
            path: currentPath)
    }

    /// `CheckChanges`: changed (0) unless the file's mtime and ctime are both older than the base time — the
    /// packet's `save_time` when set, else the job's since time (Full: always changed).
    func checkChanges(path: [UInt8], saveTime: Int64) -> Int {
        let base = saveTime > 0 ? saveTime : (context.since?.seconds ?? 0)
        guard base > 0 else { return 0 }
        var st = stat()
        let name = path.map { CChar(bitPattern: $0) } + [0]
        guard lstat(name, &st) == 0 else { return 0 }
        return Int64(st.st_mtim.tv_sec) >= base || Int64(st.st_ctim.tv_sec) >= base ? 0 : 5
    }

    /// `AcceptFile`: an option plugin is only offered entries the FileSet's rules already accepted, so this
    /// host answers 0 (accepted) without re-running the rules (documented in docs/python-plugins.md).
    func acceptFile(path: [UInt8], mode: UInt32) -> Int { 0 }

    func fileSeen(path: [UInt8]?, seen: Bool) -> Int {
        guard let path else {
            allSeen = seen
            if !seen { seenPaths.removeAll() }
            return 0
        }
        if seen { seenPaths.insert(path) } else { seenPaths.remove(path) }
        return 0
    }

    /// AddExclude, AddInclude, ...: the FileSet is fixed when the job starts; the call fails with a warning.
    func fileSetEdit(operation: Int, text: String?) -> Int {
        let names = [
            1: "AddExclude", 2: "AddInclude", 3: "AddOptions", 4: "AddRegex", 5: "AddWild", 6: "NewOptions",
            7: "NewInclude", 8: "NewPreInclude",
        ]
        context.message(
            .warning,
            "bareosfd.\(names[operation] ?? "FileSet edit") is not supported: the FileSet is fixed before plugins load",
            stage: stage)
        return 2
    }

    private static func trimmed(_ text: String) -> String {
        var text = text
        while text.last == "\n" { text.removeLast() }
        return text
    }

    static func messageTypeName(_ type: Int) -> String {
        let names = [
            1: "M_ABORT", 2: "M_DEBUG", 3: "M_FATAL", 4: "M_ERROR", 5: "M_WARNING", 6: "M_INFO", 7: "M_SAVED",
            8: "M_NOTSAVED", 9: "M_SKIPPED", 10: "M_MOUNT", 11: "M_ERROR_TERM", 12: "M_TERM", 13: "M_RESTORED",
            14: "M_SECURITY", 15: "M_ALERT", 16: "M_VOLMGMT",
        ]
        return names[type] ?? "type \(type)"
    }
}
