import BareosFD
import Pipeline

#if canImport(Glibc)
import Glibc
#endif

/// A Bareos python-dir plugin (`Job { Dir Plugin Options = "python3:module_path=DIR:module_name=NAME:k=v" }`),
/// unmodified, in the same embedded CPython as the file-daemon plugins: one sub-interpreter per string per job,
/// whose `bareosdir` module answers `GetValue(bDirVar*)` from the running job.
///
/// Loading is python-dir's: `module_path` and the Job's Plugin Directory on `sys.path`, import `module_name`,
/// `load_bareos_plugin(options)`, `parse_plugin_definition(options)` (options without `module_path`,
/// `module_name` and `instance`), both of which must answer `bRC_OK`. Then `handle_plugin_event(event)` for every
/// event the plugin registered. An exception fails the job at JobStart, JobInit and JobRun; a handler that
/// answers `None` or a non-int is an error message, another bRC than `bRC_OK` a warning (Bareos ignores the
/// answer); nothing at JobEnd changes the job's outcome (`DirectorPlugin`).
public final class PythonDirectorPlugin: DirectorPlugin {
    public let name: String
    let definition: PluginString.PythonDefinition
    let settings: PythonPluginSettings
    private let loaded = Locked<PythonPlugin?>(nil)

    /// - Throws: the string's problem when python-dir would refuse it (the configuration reader checked it).
    public init(string: String, settings: PythonPluginSettings) throws {
        self.name = string
        self.definition = try PluginString.directorDefinition(string)
        self.settings = settings
    }

    /// The Director plugins of `job`, in the order of its `Dir Plugin Options`; a string given twice is one plugin.
    public static func plugins(of job: Job, settings: PythonPluginSettings) throws -> [any DirectorPlugin] {
        var seen: Set<String> = []
        return try job.dirPluginOptions.filter { seen.insert($0.string).inserted }.map {
            try PythonDirectorPlugin(string: $0.string, settings: settings)
        }
    }

    private var runtime: PythonRuntime { PythonRuntime.shared }

    public func load(_ values: DirectorJobValues, context: StageContext) throws {
        let plugin = try runtime.perform(timeout: settings.callTimeout) { [self] in
            let plugin = try PythonPlugin(
                stage: name, definition: definition, settings: settings.resolved(context: context, job: nil),
                context: context, director: values)
            do {
                try plugin.entered {
                    let options = definition.options
                    let rc = try plugin.call("load_bareos_plugin") { instance, rc, error in
                        opfd_load_bareos_plugin(instance, options, &rc, &error)
                    }
                    guard rc == 0 else { throw PythonPluginError.returned(function: "load_bareos_plugin", code: rc) }
                    let parsed = try plugin.call("parse_plugin_definition") { instance, rc, error in
                        opfd_parse_plugin_definition(instance, options, &rc, &error)
                    }
                    guard parsed == 0 else {
                        throw PythonPluginError.returned(function: "parse_plugin_definition", code: parsed)
                    }
                }
            } catch {
                plugin.destroy()
                throw error
            }
            return plugin
        }
        loaded.withLock { $0 = plugin }
    }

    public func deliver(_ event: DirectorEvent, _ values: DirectorJobValues, context: StageContext) throws {
        guard let plugin = loaded.withLock({ $0 }) else { return }
        try runtime.perform(timeout: settings.callTimeout) { [self] in
            try plugin.entered {
                try plugin.setDirectorValues(values)
                guard plugin.eventRegistered(event.rawValue) else { return }
                let function = "handle_plugin_event(\(event.constantName))"
                do {
                    let rc = try plugin.call(function) { instance, rc, error in
                        opfd_handle_plugin_event(instance, event.rawValue, &rc, &error)
                    }
                    if rc != 0 {
                        context.message(
                            .warning, "\(function) returned \(PythonPluginError.returnCodeName(rc))", stage: name)
                    }
                } catch let error as PythonPluginError {
                    switch error {
                    case .badReturn: context.message(.error, "\(error)", stage: name)
                    case .missing: context.message(.warning, "\(error) for the events it registered", stage: name)
                    default: throw error
                    }
                }
            }
        }
    }

    public func unload(context: StageContext) {
        guard let plugin = loaded.withLock({ plugin -> PythonPlugin? in
            defer { plugin = nil }
            return plugin
        }) else { return }
        do {
            try runtime.perform(timeout: settings.callTimeout) { plugin.destroy() }
        } catch {
            context.message(.warning, "the plugin's interpreter could not be ended: \(error)", stage: name)
        }
    }
}

extension DirectorJobValues {
    /// These values as the C struct `opfd_director_create` and `opfd_director_set_values` copy.
    func withC<R>(_ body: (inout opfd_dir_values) -> R) -> R {
        var owned: [UnsafeMutablePointer<CChar>] = []
        defer { owned.forEach { free($0) } }
        func text(_ value: String?) -> UnsafePointer<CChar>? {
            guard let value, let copy = strdup(value) else { return nil }
            owned.append(copy)
            return UnsafePointer(copy)
        }
        func code(_ letter: Character?) -> Int32 { Int32(letter?.asciiValue ?? 0) }
        var values = opfd_dir_values()
        values.job_id = jobID
        values.job = text(job)
        values.job_name = text(uniqueName)
        values.level = code(level)
        values.job_type = code(type)
        values.job_status = code(status)
        values.client = text(client)
        values.num_vols = Int32(clamping: volumeCount)
        values.pool = text(pool)
        values.storage = text(storage)
        values.write_storage = text(storage)
        values.catalog = text(catalog)
        values.priority = Int32(clamping: priority)
        values.volume_name = text(volumeName)
        values.job_errors = errors
        values.job_files = files
        values.sd_job_files = entries
        values.fd_job_status = code(sideStatus)
        values.sd_job_status = code(sideStatus)
        values.plugin_dir = text(pluginDirectory)
        values.last_rate = rate
        values.job_bytes = bytes
        values.read_bytes = readBytes
        return body(&values)
    }
}
