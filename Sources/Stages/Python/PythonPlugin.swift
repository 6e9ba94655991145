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
    /// What `bareosfd`'s callbacks reach; retained for the C side until the interpreter has ended.
    let host: PythonPluginHost

    private var runtime: PythonRuntime { PythonRuntime.shared }

    /// Creates the sub-interpreter and imports the module (no entry point called yet); the C side detects whether
    /// it is an old-generation plugin (context first) from its `load_bareos_plugin`. With `director`, the instance
    /// is a Director plugin's: its host module is `bareosdir`, answering GetValue from these values.
    init(
        stage: String, definition: PluginString.PythonDefinition, settings: PythonPluginSettings, context: StageContext,
        director: DirectorJobValues? = nil
    ) throws {
        self.stage = stage
        self.definition = definition
        self.settings = settings
        self.context = context
        self.host = PythonPluginHost(stage: stage, context: context)
        if let problem = runtime.initializationProblem { throw PythonPluginError.unavailable(problem) }
        if let director {
            try createDirectorInstance(director)
        } else {
            try createInstance()
        }
        do {
            try importModule()
        } catch {
            destroy()
            throw error
        }
    }

    /// An interpreter the stage did not end (a job that stopped on an error) is ended on the Python thread, never
    /// on the thread that drops the last reference.
    deinit {
        guard let instance else { return }
        let host = Unmanaged.passUnretained(self.host)
        runtime.detach {
            opfd_instance_destroy(instance)
            host.release()
        }
    }

    private func createInstance() throws {
        let values = JobValues(context: context, settings: settings)
        try adopt { host, error in values.withJob(host: host) { job in opfd_instance_create(&job, &error) } }
    }

    private func createDirectorInstance(_ values: DirectorJobValues) throws {
        let level = Int32(clamping: context.debugLevel)
        try adopt { host, error in values.withC { values in opfd_director_create(host, level, &values, &error) } }
    }

    /// Keeps the instance `create` made with the retained `host` pointer (released again when it failed).
    private func adopt(
        _ create: (UnsafeMutableRawPointer, inout opfd_error) -> OpaquePointer?
    ) throws {
        var error = opfd_error()
        let retained = Unmanaged.passRetained(host)
        guard let created = create(retained.toOpaque(), &error) else {
            retained.release()
            let text = error.text.map { String(cString: $0) } ?? "cannot create a sub-interpreter"
            opfd_error_clear(&error)
            throw PythonPluginError.host(text)
        }
        instance = created
    }

    /// A Director plugin's GetValue answers these from now on.
    func setDirectorValues(_ values: DirectorJobValues) throws {
        guard let instance else { throw PythonPluginError.host("the plugin's interpreter has already ended") }
        guard values.withC({ opfd_director_set_values(instance, &$0) }) == 0 else {
            throw PythonPluginError.host("out of memory")
        }
    }

    private func importModule() throws {
        guard let moduleName = definition.moduleName, !moduleName.isEmpty else {
            throw PythonPluginError.host("the plugin string names no module_name")
        }
        try entered {
            var error = opfd_error()
            runtime.beginCall("import \(moduleName)")
            noteCrashSite("import \(moduleName)", path: nil)
            let status = opfd_import(instance, definition.modulePath, settings.pluginDirectory, moduleName, &error)
            opfd_crash_note_clear()
            runtime.endCall()
            guard status == OPFD_DONE else {
                let text = error.text.map { String(cString: $0) } ?? ""
                opfd_error_clear(&error)
                let failure = PythonPluginError.importFailed(module: moduleName, traceback: text)
                throw exitFailure(failure, call: "import \(moduleName)", path: nil) ?? failure
            }
            if opfd_is_old_api(instance) != 0 && context.debugLevel > 0 {
                context.message(
                    .debug, "\(moduleName) is an old-generation plugin: its entry points get a context first",
                    stage: stage)
            }
        }
    }

    /// Ends the sub-interpreter (joining the plugin's threads, within the call timeout), on the Python thread.
    func destroy() {
        guard let instance else { return }
        self.instance = nil
        runtime.beginCall("the end of the plugin's interpreter (joining its threads)")
        opfd_instance_destroy(instance)
        runtime.endCall()
        Unmanaged.passUnretained(host).release()  // the C side no longer calls back
    }

    /// What the crash guard prints if the process dies in the call about to start: the plugin string, the entry
    /// point and the file (a fixed C buffer, set before and cleared after every call).
    private func noteCrashSite(_ function: String, path: [UInt8]?) {
        var text = Array(stage.utf8)
        text += Array(": ".utf8) + Array(function.utf8)
        if let path { text += Array(" of ".utf8) + path }
        // Printed by a signal handler as is: control bytes become "?" so a name cannot drive the terminal.
        for index in text.indices where text[index] < 0x20 || text[index] == 0x7F { text[index] = UInt8(ascii: "?") }
        text.withUnsafeBufferPointer { opfd_crash_note($0.baseAddress, $0.count) }
    }

    /// When the failed call ended in the plugin's `os._exit` (refused by the host): the job fails here, naming the
    /// plugin, the call and the file, whoever catches the error later (a per-file failure would hide it).
    private func exitFailure(_ failure: PythonPluginError, call: String, path: [UInt8]?) -> PythonPluginError? {
        guard opfd_instance_take_exit_request(instance) != 0 else { return nil }
        let traceback: String
        switch failure {
        case .exception(_, let text), .importFailed(_, let text): traceback = text
        default: traceback = "\(failure)"
        }
        let place = path.map { "\(call) of \(String(decoding: $0, as: UTF8.self))" } ?? call
        let exited = PythonPluginError.exited(call: place, traceback: traceback)
        context.failJob("\(stage): \(exited)", stage: stage)
        return exited
    }

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
        guard runtime.beginCall(function, path: path) else { throw PythonPluginError.wedged(function) }
        var rc: Int32 = 0
        var error = opfd_error()
        host.currentPath = path
        noteCrashSite(function, path: path)
        let status = body(instance, &rc, &error)
        opfd_crash_note_clear()
        runtime.endCall()
        host.currentPath = nil
        guard status == OPFD_DONE else {
            let failure = PythonPluginError.from(status, function: function, error: &error)
            throw exitFailure(failure, call: function, path: path) ?? failure
        }
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
    var usedConfig: String
    var debugLevel: Int

    init(context: StageContext, settings: PythonPluginSettings) {
        jobID = context.jobID
        jobName = JobValues.uniqueName(context.jobName, start: context.startTime, jobID: context.jobID)
        fdName = settings.fdName
        client = settings.clientName ?? context.clientName
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
        usedConfig = settings.configurationPath ?? PythonPluginSettings.defaultUsedConfig
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
                                    usedConfig.withCString { usedConfig in
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
