import BareosFD
import Pipeline

/// A Bareos python-fd option plugin as a stage: `Plugin = "python3:module_path=DIR:module_name=NAME:k=v"`.
///
/// One instance per distinct string per job, each in its own sub-interpreter (D3), loaded at job start before any
/// file is read (`load_bareos_plugin`, `parse_plugin_definition`, events 16 EndFileSet and 3 StartBackupJob when
/// registered). Entries reach `handle_backup_file` a batch at a time on the Python thread; `bRC_OK` makes the
/// plugin's `plugin_io` the byte source, and restore hands it the verified bytes (`start_restore_file`,
/// `create_file`, `plugin_io` writes, `set_file_attributes`, `end_restore_file`). Restore loads the plugin when
/// the first file it took is restored, as Bareos does.
public final class PythonPluginStage: Stage, @unchecked Sendable {
    public let name: String
    let definition: PluginString.PythonDefinition
    let settings: PythonPluginSettings
    private let state = Locked<State>(State())
    /// Bytes of taken files, read during `decide` and handed to the writer by `openSource` (by file index).
    let taken = Locked<[Int64: PythonByteSource]>([:])
    /// Command plugin (Include-level string): where its backup loop stands, and the items it produced.
    let command = Locked<CommandLoop>(CommandLoop())
    /// In a plugin process: what the host computed from each entry's Options block (the `savepkt.flags` bits and
    /// `noatime`) for the batch about to be decided, by file index; the process has no FileSet of its own.
    let presetFacts = Locked<[Int64: BlockFacts]>([:])

    struct BlockFacts: Sendable {
        var flags: [UInt8]
        var noAtime: Bool
    }

    /// At most this much of one taken file stays in memory (the rest is spilled to a temporary file), and at most
    /// `batchMemory` per batch, so memory stays flat whatever plugins produce.
    static let fileMemory = 8 << 20
    static let batchMemory = 16 << 20

    private struct State {
        var plugin: PythonPlugin?
        /// Files restore has handed this plugin so far (the first one loads it).
        var restoredFiles = 0
        /// Why loading failed at restore: later files fail with the same reason instead of loading again.
        var loadFailure: PythonPluginError?
    }

    /// Stage metadata key naming the stage that took a file over at backup (restore hands it the bytes).
    static let takenKey = "python.plugin"
    static let aclKey = "python.acl"
    static let xattrKey = "python.xattr"

    /// IO_READ asks for this many bytes (Bareos' default network buffer).
    static let readCount: Int32 = 262_144

    public init(string: String, settings: PythonPluginSettings) throws {
        guard let definition = try PluginString.pythonDefinition(string) else {
            throw PythonPluginError.host("\"*all*\" is not a plugin a FileSet can name")
        }
        guard let moduleName = definition.moduleName, !moduleName.isEmpty else {
            throw PythonPluginError.host("plugin string \"\(string)\" names no module_name")
        }
        self.name = string
        self.definition = definition
        self.settings = settings
    }

    var runtime: PythonRuntime { PythonRuntime.shared }

    /// A plugin sees its entries in walk order, as the file daemon offers them.
    public var needsWalkOrder: Bool { true }

    /// Runs `body` on the Python thread; a call that does not return in time aborts the job (D6).
    func perform<T>(context: StageContext, _ body: @escaping () throws -> T) throws -> T {
        do {
            return try runtime.perform(timeout: settings.callTimeout, body)
        } catch let error as PythonPluginError {
            switch error {
            case .timeout, .wedged: context.failJob("\(name): \(error)", stage: name)
            default: break
            }
            throw error
        }
    }

    var plugin: PythonPlugin? { state.withLock { $0.plugin } }

    // MARK: - Job events

    public func handle(_ event: JobEvent, context: StageContext) throws {
        switch event {
        case .jobStarted:
            guard context.mode == .backup else { return }
            settings.record(in: context)
            try perform(context: context) { [self] in
                let plugin = try load(context: context, job: nil)
                state.withLock { $0.plugin = plugin }  // ended at jobEnded, also when an event below fails
                try plugin.entered {
                    for event: Int32 in [16, 3] {  // bEventEndFileSet, bEventStartBackupJob
                        if let rc = try plugin.deliver(event), rc != 0 {
                            context.message(
                                .warning, "handle_plugin_event(\(event)) returned \(PythonPluginError.returnCodeName(rc))",
                                stage: name)
                        }
                    }
                }
            }
        case .fileSetEnded:
            return
        case .jobEnded(let succeeded):
            taken.withLock { $0.removeAll() }
            command.withLock { $0 = CommandLoop() }
            guard let plugin = state.withLock({ state -> PythonPlugin? in
                defer { state.plugin = nil }
                return state.plugin
            }) else { return }
            try perform(context: context) {
                defer { plugin.destroy() }
                try plugin.entered {
                    plugin.setJobStatus(succeeded ? "T" : "f")
                    // EndBackupJob / EndRestoreJob always; JobEnd only for a job that did not fail (Bareos §2.3).
                    _ = try plugin.deliver(context.mode == .restore ? 6 : 4)
                    if succeeded { _ = try plugin.deliver(2) }
                }
            }
        }
    }

    /// Creates the sub-interpreter, imports the module, calls `load_bareos_plugin` and `parse_plugin_definition`
    /// (and the Job's `Fd Plugin Options` overrides). Any failure here fails the job before files are read (D6).
    /// `job`: at restore, the backup job whose recorded settings fill in what the command did not give.
    private func load(context: StageContext, job: Int64?) throws -> PythonPlugin {
        let plugin = try PythonPlugin(
            stage: name, definition: definition, settings: settings.resolved(context: context, job: job),
            context: context)
        do {
            try plugin.entered {
                let options = definition.options
                let loaded = try plugin.call("load_bareos_plugin") { instance, rc, error in
                    opfd_load_bareos_plugin(instance, options, &rc, &error)
                }
                guard loaded == 0 else { throw PythonPluginError.returned(function: "load_bareos_plugin", code: loaded) }
                try parse(plugin, options)
                // Fd Plugin Options (Bareos' event 20): a python string reaches every Python instance, or only those
                // of the module it names.
                for override in settings.overrides where PluginString.isPython(override) {
                    guard let parsed = try? PluginString.pythonDefinition(override) else { continue }
                    if let module = parsed.moduleName, module != definition.moduleName { continue }
                    try parse(plugin, parsed.options)
                }
            }
        } catch {
            plugin.destroy()
            throw error
        }
        return plugin
    }

    func parse(_ plugin: PythonPlugin, _ options: String) throws {
        let parsed = try plugin.call("parse_plugin_definition") { instance, rc, error in
            opfd_parse_plugin_definition(instance, options, &rc, &error)
        }
        guard parsed == 0 else { throw PythonPluginError.returned(function: "parse_plugin_definition", code: parsed) }
    }

    /// The plugin for restore: loaded with the first file it took (Bareos: event 10 with the first plugin stream),
    /// `parse_plugin_definition` again for each later file. `job` is the backup job of that first file.
    func restorePlugin(context: StageContext, job: Int64) throws -> PythonPlugin {
        let (existing, count, failure) = state.withLock { state in
            state.restoredFiles += 1
            return (state.plugin, state.restoredFiles, state.loadFailure)
        }
        if let failure { throw failure }
        if let existing {
            if count > 1 { try existing.entered { try parse(existing, definition.options) } }
            return existing
        }
        do {
            let plugin = try load(context: context, job: job)
            state.withLock { $0.plugin = plugin }
            return plugin
        } catch let error as PythonPluginError {
            // The traceback once, as a job message; every file of the plugin then fails with one short line.
            context.message(.error, "\(error)", stage: name)
            let lastLine = "\(error)".split(separator: "\n").last.map(String.init) ?? ""
            let failure = PythonPluginError.host(
                "the plugin could not be loaded for restore (\(lastLine)); its files are not restored")
            state.withLock { $0.loadFailure = failure }
            throw failure
        }
    }

    // MARK: - Backup

    public func decide(batch: inout [FileItem], context: StageContext) -> [Result<StageDecision, any Error>] {
        guard context.mode == .backup else { return batch.map { _ in .success(.core) } }
        // Items this stage produced as a command plugin are taken over without handle_backup_file.
        let claimed = claimCommandItems(&batch)
        let open = claimed.indices.filter { claimed[$0] == nil }
        guard open.count < batch.count else { return decideOffered(batch: &batch, context: context) }
        var offered = open.map { batch[$0] }
        let answers = offered.isEmpty ? [] : decideOffered(batch: &offered, context: context)
        var results = claimed
        for (position, index) in open.enumerated() {
            batch[index] = offered[position]
            results[index] = answers[position]
        }
        return results.map { $0! }
    }

    /// The option-plugin decision (`handle_backup_file`) for entries the walk offered.
    private func decideOffered(batch: inout [FileItem], context: StageContext) -> [Result<StageDecision, any Error>] {
        guard let plugin = plugin else {
            return batch.map { item in .failure(StageFailure(stage: name, path: item.path, message: "the plugin is not loaded")) }
        }
        let items = batch
        do {
            let (decided, results) = try perform(context: context) { [self] in
                try decide(items, plugin: plugin, context: context)
            }
            batch = decided
            return results
        } catch {
            return batch.map { item in .failure(StageFailure(stage: name, path: item.path, underlying: error)) }
        }
    }

    /// `handle_backup_file` for each entry, on the Python thread; a file the plugin takes over is read right away
    /// (`plugin_io`, `get_acl`, `get_xattr`), before the next entry is offered, as Bareos does.
    private func decide(
        _ items: [FileItem], plugin: PythonPlugin, context: StageContext
    ) throws -> ([FileItem], [Result<StageDecision, any Error>]) {
        var items = items
        var results: [Result<StageDecision, any Error>] = []
        results.reserveCapacity(items.count)
        try plugin.entered {
            // Without event 19 registered every entry goes to the core unasked (Bareos §8.2 item 13).
            guard plugin.eventRegistered(19) else {
                results = items.map { _ in .success(.core) }
                return
            }
            var flagsCache: [Int: [UInt8]] = [:]
            var memoryLeft = PythonPluginStage.batchMemory
            for index in items.indices {
                let item = items[index]
                guard let type = BareosFileType.of(item) else {
                    results.append(.success(.core))  // sockets never reach the plugin (§6.1)
                    continue
                }
                let preset = presetFacts.withLock { $0.removeValue(forKey: item.fileIndex) }
                let blockKey = item.entry.includeIndex << 16 | item.entry.effectiveBlockIndex
                let flags = preset?.flags ?? flagsCache[blockKey] ?? BareosFileType.flags(for: item, context: context)
                flagsCache[blockKey] = flags
                do {
                    let (rc, returnedFlags) = try handleBackupFile(item, type: type, flags: flags, plugin: plugin)
                    func flag(_ bit: Int) -> Bool { returnedFlags[bit >> 3] & (1 << UInt8(bit & 7)) != 0 }
                    switch rc {
                    case 6: results.append(.success(.core))
                    case 7: results.append(.success(.skip(reason: "bRC_Skip")))
                    case 0:
                        let noAtime = preset?.noAtime ?? BareosFileType.block(of: item, context: context)?.noAtime ?? false
                        if item.kind == .file && item.stat.size > 0 {
                            let source = try PythonByteSource.read(
                                item, stage: name, plugin: plugin, noAtime: noAtime,
                                memoryLimit: min(memoryLeft, PythonPluginStage.fileMemory),
                                spillDirectory: context.workingDirectory)
                            memoryLeft = max(0, memoryLeft - source.memoryBytes)
                            taken.withLock { $0[item.fileIndex] = source }
                        }
                        // ACL and xattr packets follow the flags the plugin handed back (FO_ACL 14, FO_XATTR 27).
                        try PythonByteSource.collectACLAndXattrs(
                            item, plugin: plugin, acl: flag(14), xattr: flag(27), into: &items[index].metadata)
                        items[index].metadata[PythonPluginStage.takenKey] = name
                        results.append(.success(.takeOver))
                    default:
                        results.append(
                            .failure(
                                StageFailure(
                                    stage: name, path: item.path,
                                    message: PythonPluginError.returned(function: "handle_backup_file", code: rc).description)))
                    }
                } catch let failure as StageFailure {
                    results.append(.failure(failure))
                } catch {
                    results.append(.failure(StageFailure(stage: name, path: item.path, message: "\(error)")))
                }
            }
        }
        return (items, results)
    }

    /// `handle_backup_file` for one entry: its answer and the `flags` it handed back.
    private func handleBackupFile(
        _ item: FileItem, type: Int32, flags: [UInt8], plugin: PythonPlugin
    ) throws -> (Int, [UInt8]) {
        let link = BareosFileType.link(of: item)
        let stat = item.stat
        return try item.path.withUnsafeBufferPointer { path in
            try link.withUnsafeBufferPointer { link in
                try name.withCString { cmd in
                    var packet = opfd_save_packet()
                    packet.fname = UnsafeRawPointer(path.baseAddress).map { $0.assumingMemoryBound(to: CChar.self) }
                    packet.fname_length = path.count
                    packet.link = UnsafeRawPointer(link.baseAddress).map { $0.assumingMemoryBound(to: CChar.self) }
                    packet.link_length = link.count
                    packet.type = type
                    packet.has_stat = 1
                    packet.stat = BareosFileType.stat(stat)
                    packet.cmd = cmd
                    packet.flags = (flags[0], flags[1], flags[2], flags[3], flags[4])
                    let rc = try plugin.call("handle_backup_file", path: item.path) { instance, rc, error in
                        opfd_handle_backup_file(instance, &packet, &rc, &error)
                    }
                    let returned = packet.flags
                    return (rc, [returned.0, returned.1, returned.2, returned.3, returned.4])
                }
            }
        }
    }

    /// Taken files whose bytes wait for the writer.
    var pendingSources: Int { taken.withLock { $0.count } }

    public func discardTakeOver(of item: FileItem, context: StageContext) {
        let source = taken.withLock { $0.removeValue(forKey: item.fileIndex) }
        try? source?.close()
    }

    /// The bytes `plugin_io` gave for a file this plugin took (read when it answered `bRC_OK`).
    public func openSource(for item: FileItem, context: StageContext) throws -> any ByteSource {
        if let source = taken.withLock({ $0.removeValue(forKey: item.fileIndex) }) { return source }
        if item.stat.size == 0 { return PythonByteSource.empty() }
        throw StageFailure(stage: name, path: item.path, message: "no bytes were read through plugin_io for this file")
    }

    // MARK: - Accurate

    /// `check_file(path)` for each entry of the previous backup the walk did not see (python-fd §2.4 step 10):
    /// `bRC_Seen` keeps it from being recorded as deleted, as does a path the plugin marked seen with
    /// `SetValue(bVarFileSeen)` or `SetSeenBitmap`.
    public func claimsUnseen(_ paths: [[UInt8]], context: StageContext) -> [Bool] {
        guard context.mode == .backup, let plugin else { return paths.map { _ in false } }
        do {
            return try perform(context: context) { [name] in
                try plugin.entered {
                    var claimed: [Bool] = []
                    claimed.reserveCapacity(paths.count)
                    for path in paths {
                        if plugin.host.allSeen || plugin.host.seenPaths.contains(path) {
                            claimed.append(true)
                            continue
                        }
                        do {
                            let rc = try path.withUnsafeBufferPointer { buffer in
                                try plugin.optionalCall("check_file", path: path) { instance, rc, error in
                                    opfd_check_file(
                                        instance, UnsafeRawPointer(buffer.baseAddress)?.assumingMemoryBound(to: CChar.self),
                                        buffer.count, &rc, &error)
                                }
                            }
                            claimed.append(rc == 5)
                        } catch {
                            context.message(.warning, "\(error)", stage: name, path: path)
                            claimed.append(false)
                        }
                    }
                    return claimed
                }
            }
        } catch {
            context.message(.warning, "check_file: \(error)", stage: name)
            return paths.map { _ in false }
        }
    }

    // MARK: - Restore

    public func openRestoreSink(
        for item: RestoreItem, outputPath: [UInt8], context: StageContext
    ) throws -> (any ByteSink)? {
        guard item.kind == .file, item.metadata[PythonPluginStage.takenKey] == name else { return nil }
        // A restore object reached restore_object_data before any file: nothing is written for it.
        if isRestoreObject(item) { return DiscardingSink() }
        return PythonRestoreSink(stage: self, item: item, outputPath: outputPath, context: context)
    }
}

/// Where the bytes of a restore object go in the file pass of a restore: nowhere (they were handed to
/// `restore_object_data` before).
final class DiscardingSink: ByteSink {
    func write(_ bytes: UnsafeRawBufferPointer) throws {}
    func close(success: Bool) throws {}
}
