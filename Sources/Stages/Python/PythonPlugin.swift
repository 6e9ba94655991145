import BareosFD
import Pipeline

#if canImport(Glibc)
import Glibc
#endif

/// One loaded python-fd plugin: a sub-interpreter (D3) with its module imported. Every method runs on the
/// Python thread (inside `PythonRuntime.perform`); the callbacks `bareosfd` makes arrive here too.
final class PythonPlugin: @unchecked Sendable {
    /// The stage string (what `savepkt.cmd` and `start_restore_file` receive).
    let stage: String
    let definition: PluginString.PythonDefinition
    let settings: PythonPluginSettings
    let context: StageContext
    private var instance: OpaquePointer?
    /// The entry being handled, named in the messages the plugin raises meanwhile.
    var currentPath: [UInt8]?
    private(set) var isOldAPI = false
    /// Paths the plugin marked seen (`SetValue(bVarFileSeen)`, `SetSeenBitmap`).
    private(set) var seenPaths: Set<[UInt8]> = []
    /// `SetSeenBitmap(True)`: every path counts as seen.
    private(set) var allSeen = false
    private var fileSetEditsWarned = false

    private var runtime: PythonRuntime { PythonRuntime.shared }

    /// Creates the sub-interpreter and imports the module (no entry point called yet).
    init(stage: String, definition: PluginString.PythonDefinition, settings: PythonPluginSettings, context: StageContext) throws {
        self.stage = stage
        self.definition = definition
        self.settings = settings
        self.context = context
        if let problem = runtime.initializationProblem { throw PythonPluginError.unavailable(problem) }
        try createInstance()
        do {
            try importModule()
        } catch {
            destroy()
            throw error
        }
    }

    deinit { destroy() }

    private func createInstance() throws {
        let values = JobValues(context: context, settings: settings)
        var error = opfd_error()
        let host = Unmanaged.passUnretained(self).toOpaque()
        let created = values.withJob(host: host) { job in opfd_instance_create(&job, &error) }
        guard let created else {
            let text = error.text.map { String(cString: $0) } ?? "cannot create a sub-interpreter"
            opfd_error_clear(&error)
            throw PythonPluginError.host(text)
        }
        instance = created
    }

    private func importModule() throws {
        guard let moduleName = definition.moduleName, !moduleName.isEmpty else {
            throw PythonPluginError.host("the plugin string names no module_name")
        }
        try entered {
            var error = opfd_error()
            runtime.beginCall("import \(moduleName)")
            let status = opfd_import(instance, definition.modulePath, settings.pluginDirectory, moduleName, &error)
            runtime.endCall()
            guard status == OPFD_DONE else {
                let text = error.text.map { String(cString: $0) } ?? ""
                opfd_error_clear(&error)
                throw PythonPluginError.importFailed(module: moduleName, traceback: text)
            }
            isOldAPI = opfd_is_old_api(instance) != 0
        }
    }

    /// Ends the sub-interpreter (joining the plugin's threads).
    func destroy() {
        guard let instance else { return }
        self.instance = nil
        opfd_instance_destroy(instance)
    }

    var isAlive: Bool { instance != nil }

    /// Runs `body` with this plugin's interpreter current on the Python thread.
    func entered<T>(_ body: () throws -> T) throws -> T {
        guard let instance else { throw PythonPluginError.host("the plugin's interpreter has already ended") }
        opfd_instance_enter(instance)
        defer { opfd_instance_leave(instance) }
        return try body()
    }

    /// One entry-point call: `body` makes it (with the instance, an error slot and the rc slot); the result is the
    /// plugin's return code, or the error the call produced. Must run inside `entered`.
    func call(
        _ function: String, path: [UInt8]? = nil,
        _ body: (OpaquePointer?, inout Int32, inout opfd_error) -> opfd_status
    ) throws -> Int {
        var rc: Int32 = 0
        var error = opfd_error()
        currentPath = path
        runtime.beginCall(function, path: path)
        let status = body(instance, &rc, &error)
        runtime.endCall()
        currentPath = nil
        guard status == OPFD_DONE else { throw PythonPluginError.from(status, function: function, error: &error) }
        opfd_error_clear(&error)
        return Int(rc)
    }

    /// Like `call`, but a missing entry point answers nil instead of failing (`get_acl`, `get_xattr`, ...).
    func optionalCall(
        _ function: String, path: [UInt8]? = nil,
        _ body: (OpaquePointer?, inout Int32, inout opfd_error) -> opfd_status
    ) throws -> Int? {
        do {
            return try call(function, path: path, body)
        } catch PythonPluginError.missing {
            return nil
        }
    }

    func eventRegistered(_ event: Int32) -> Bool { opfd_event_registered(instance, event) != 0 }

    /// `handle_plugin_event(event)` when the plugin registered the event; nil when it did not.
    func deliver(_ event: Int32) throws -> Int? {
        guard eventRegistered(event) else { return nil }
        return try call("handle_plugin_event(\(event))") { instance, rc, error in
            opfd_handle_plugin_event(instance, event, &rc, &error)
        }
    }

    func setJobStatus(_ letter: Character) {
        guard let instance, let ascii = letter.asciiValue else { return }
        opfd_instance_set_job_status(instance, Int32(ascii))
    }

    // MARK: - Callbacks from bareosfd

    func jobMessage(type: Int, text: String) {
        let text = PythonPlugin.trimmed(text)
        switch type {
        case 1, 3, 11:  // M_ABORT, M_FATAL, M_ERROR_TERM: the job cannot go on (Bareos fails or ends it)
            context.failJob("plugin message (\(PythonPlugin.messageTypeName(type))): \(text)", stage: stage)
        case 4: context.message(.error, text, stage: stage, path: currentPath)
        case 5: context.message(.warning, text, stage: stage, path: currentPath)
        case 2: context.message(.debug, text, stage: stage, path: currentPath)
        default: context.message(.info, text, stage: stage, path: currentPath)
        }
    }

    func debugMessage(level: Int, text: String) {
        context.message(.debug, "debug \(level): \(PythonPlugin.trimmed(text))", stage: stage, path: currentPath)
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

/// What `bareosfd.GetValue` answers, gathered from the job before the instance is created.
struct JobValues {
    var jobID: Int64
    var jobName: String
    var fdName: String
    var client: String
    var level: Int32
    var jobType: Int32
    var since: Int64
    var accurate: Bool
    var workingDirectory: String
    var whereDirectory: String?
    var executablePath: String
    var version: String
    var usedConfig: String?
    var debugLevel: Int

    init(context: StageContext, settings: PythonPluginSettings) {
        jobID = context.jobID
        jobName = JobValues.uniqueName(context.jobName, start: context.startTime, jobID: context.jobID)
        fdName = settings.fdName
        client = context.clientName
        let letter: Character
        switch context.level.lowercased() {
        case "incremental", "i": letter = "I"
        case "differential", "d": letter = "D"
        default: letter = "F"
        }
        level = Int32(letter.asciiValue!)
        jobType = Int32((context.mode == .restore ? Character("R") : Character("B")).asciiValue!)
        since = context.since?.seconds ?? 0
        accurate = settings.accurate
        workingDirectory = context.workingDirectory
        whereDirectory = context.whereDirectory
        executablePath = JobValues.executable()
        version = "optionhost \(PythonPluginSettings.hostVersion)"
        usedConfig = settings.configurationPath
        debugLevel = context.debugLevel
    }

    func withJob<R>(host: UnsafeMutableRawPointer, _ body: (inout opfd_job) -> R) -> R {
        jobName.withCString { jobName in
            fdName.withCString { fdName in
                client.withCString { client in
                    workingDirectory.withCString { workingDirectory in
                        executablePath.withCString { executablePath in
                            version.withCString { version in
                                JobValues.withOptionalCString(whereDirectory) { whereDirectory in
                                    JobValues.withOptionalCString(usedConfig) { usedConfig in
                                        var job = opfd_job(
                                            host: host, job_id: jobID, job_name: jobName, fd_name: fdName,
                                            client: client, level: level, job_type: jobType,
                                            job_status: Int32(Character("R").asciiValue!), since: since,
                                            accurate: accurate ? 1 : 0, working_dir: workingDirectory,
                                            where: whereDirectory, regexwhere: nil, exe_path: executablePath,
                                            version: version, prev_job_name: nil, used_config: usedConfig,
                                            prefix_links: 0, accurate_options: accurate ? (128 | 256 | 32) : -1,
                                            debug_level: Int32(clamping: debugLevel))
                                        return body(&job)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    private static func withOptionalCString<R>(_ text: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
        guard let text else { return body(nil) }
        return text.withCString { body($0) }
    }

    /// Bareos' unique job name: `Name.YYYY-MM-DD_HH.MM.SS_NN`.
    static func uniqueName(_ name: String, start: FileStat.Timestamp, jobID: Int64) -> String {
        var seconds = time_t(start.seconds)
        var parts = tm()
        localtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(name).\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))_"
            + "\(two(parts.tm_hour)).\(two(parts.tm_min)).\(two(parts.tm_sec))_\(two(Int32(jobID % 100)))"
    }

    private static func executable() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { return "optionhost" }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
