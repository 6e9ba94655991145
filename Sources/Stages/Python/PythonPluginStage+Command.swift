import BareosFD
import Pipeline

/// Where a command plugin's backup loop stands, and what it produced that the chain has not decided yet.
struct CommandLoop {
    /// `parse_plugin_definition` (Bareos' event 9, BackupCommand) was sent and the loop has not ended.
    var running = false
    /// `end_backup_file` answered something other than `bRC_More`: the next call ends the loop.
    var ended = false
    /// Metadata of the produced items, by file index, until their decision hook takes them over.
    var items: [Int64: [String: String]] = [:]
    /// Items whose data could not be read (the file fails, the loop goes on).
    var failures: [Int64: StageFailure] = [:]
}

/// A python-fd **command plugin** (an Include-level `Plugin =` string, D1): its backup loop, in Bareos' order
/// (python-fd §2.6): `parse_plugin_definition` (BackupCommand), then per item `start_backup_file(savepkt)` →
/// `plugin_io` IO_OPEN / IO_READ until 0 / IO_CLOSE (or the descriptor of `iostat_do_in_core`) → `get_acl` →
/// `get_xattr` → `end_backup_file`, looping while it answers `bRC_More`. Each item is then handed to the walk
/// (one per call, so the Python thread never waits on the job's queues), goes through the chain of the Include's
/// Options block that matches its name, and is taken over here: stored and restored like a file an option plugin
/// took (restore: `start_restore_file`, `create_file`, `plugin_io` writes, ...). Restore objects
/// (FT_RESTORE_FIRST) are stored as files marked with their object name and reach `restore_object_data` before any
/// file at restore.
extension PythonPluginStage {
    /// Stage metadata of a restore object: the hex of `object_name`, its FT_* type and `object_index`.
    static let objectKey = "python.object"
    static let objectTypeKey = "python.object_type"
    static let objectIndexKey = "python.object_index"

    public func nextCommandItem(includeIndex: Int, fileIndex: Int64, context: StageContext) throws -> CommandPluginItem? {
        guard context.mode == .backup, let plugin else { throw PythonPluginError.host("the plugin is not loaded") }
        let (running, ended) = command.withLock { ($0.running, $0.ended) }
        if ended {
            command.withLock { $0 = CommandLoop(items: $0.items, failures: $0.failures) }
            return nil
        }
        return try perform(context: context) { [self] in
            try plugin.entered {
                if !running {
                    // Bareos sends the backup command with the plugin string: parse_plugin_definition once more.
                    try parse(plugin, definition.options)
                    command.withLock { $0.running = true }
                }
                return try produce(includeIndex: includeIndex, fileIndex: fileIndex, plugin: plugin, context: context)
            }
        }
    }

    /// One turn of the loop, on the Python thread inside `plugin.entered`.
    private func produce(
        includeIndex: Int, fileIndex: Int64, plugin: PythonPlugin, context: StageContext
    ) throws -> CommandPluginItem? {
        let flags = Self.commandFlags(includeIndex: includeIndex, context: context)
        var packet = opfd_command_packet()
        defer { opfd_command_packet_clear(&packet) }
        var skipped = 0
        while true {
            opfd_command_packet_clear(&packet)
            packet = opfd_command_packet()
            packet.flags = (flags[0], flags[1], flags[2], flags[3], flags[4])
            packet.save_time = context.since?.seconds ?? 0
            let rc = try name.withCString { cmd in
                packet.cmd = cmd
                defer { packet.cmd = nil }
                return try plugin.call("start_backup_file") { instance, rc, error in
                    opfd_start_backup_file(instance, &packet, &rc, &error)
                }
            }
            switch rc {
            case 0:
                break
            case 1:  // bRC_Stop: no (more) items
                command.withLock { $0.running = false }
                return nil
            case 7:  // bRC_Skip: ask again
                skipped += 1
                guard skipped < 1_000_000 else {
                    throw PythonPluginError.host("start_backup_file answered bRC_Skip a million times in a row")
                }
                continue
            default:
                throw PythonPluginError.returned(function: "start_backup_file", code: rc)
            }
            break
        }
        let item = try CommandPacket(packet).item()
        var metadata = [PythonPluginStage.takenKey: name]
        let fileItem = FileItem(
            entry: SelectedEntry(
                path: item.path, kind: item.kind, stat: item.stat, linkTarget: item.linkTarget,
                includeIndex: includeIndex, blockIndex: nil,
                effectiveBlockIndex: max(0, (context.options[safe: includeIndex]?.count ?? 1) - 1), isTopLevel: false,
                chain: [name]),
            fileIndex: fileIndex)
        var produced = item
        if let object = CommandPacket.object(packet) {
            metadata[PythonPluginStage.objectKey] = Hex.encode(object.name)
            metadata[PythonPluginStage.objectTypeKey] = String(packet.type)
            metadata[PythonPluginStage.objectIndexKey] = String(packet.object_index)
            taken.withLock { $0[fileIndex] = PythonByteSource.bytes(object.data) }
            produced.stat.size = UInt64(object.data.count)
        } else if item.kind == .file {
            if packet.no_read != 0 {
                produced.stat.size = 0
            } else {
                // Items wait for the writer with their bytes: what they hold in memory together stays within
                // `batchMemory` (the rest of each goes to its unlinked temporary file).
                let held = taken.withLock { $0.values.reduce(0) { $0 + $1.memoryBytes } }
                do {
                    let source = try PythonByteSource.read(
                        fileItem, stage: name, plugin: plugin, noAtime: false,
                        memoryLimit: max(0, min(PythonPluginStage.fileMemory, PythonPluginStage.batchMemory - held)),
                        spillDirectory: context.workingDirectory)
                    produced.stat.size = source.size
                    taken.withLock { $0[fileIndex] = source }
                } catch let failure as StageFailure {
                    command.withLock { $0.failures[fileIndex] = failure }
                }
            }
        }
        if CommandPacket.object(packet) == nil {
            func flag(_ bit: Int) -> Bool { CommandPacket.flags(packet)[bit >> 3] & (1 << UInt8(bit & 7)) != 0 }
            try PythonByteSource.collectACLAndXattrs(
                fileItem, plugin: plugin, acl: flag(14), xattr: flag(27), into: &metadata)
        }
        command.withLock { $0.items[fileIndex] = metadata }
        let end = try plugin.call("end_backup_file", path: item.path) { instance, rc, error in
            opfd_end_backup_file(instance, &rc, &error)
        }
        if end != 3 {  // bRC_More asks for another item; anything else ends the loop after this one
            if end != 0 {
                context.message(
                    .warning, "end_backup_file returned \(PythonPluginError.returnCodeName(end)); the loop ends",
                    stage: name, path: item.path)
            }
            command.withLock { $0.ended = true }
        }
        return produced
    }

    /// The FO_* bits a command plugin's packet carries: those of the Include's last (default) Options block.
    static func commandFlags(includeIndex: Int, context: StageContext) -> [UInt8] {
        let blocks = context.options[safe: includeIndex] ?? []
        let probe = FileItem(
            entry: SelectedEntry(
                path: [], kind: .file, stat: CommandPacket.emptyStat, includeIndex: includeIndex, blockIndex: nil,
                effectiveBlockIndex: max(0, blocks.count - 1), isTopLevel: false, chain: []),
            fileIndex: 0)
        return BareosFileType.flags(for: probe, context: context)
    }

    /// The decisions for the items this stage produced as a command plugin (take-over, or the failure of reading
    /// them); nil for items it did not produce.
    func claimCommandItems(_ batch: inout [FileItem]) -> [Result<StageDecision, any Error>?] {
        command.withLock { loop in
            batch.indices.map { index -> Result<StageDecision, any Error>? in
                let fileIndex = batch[index].fileIndex
                guard let metadata = loop.items.removeValue(forKey: fileIndex) else { return nil }
                if let failure = loop.failures.removeValue(forKey: fileIndex) { return .failure(failure) }
                batch[index].metadata.merge(metadata) { _, new in new }
                return .success(.takeOver)
            }
        }
    }

    // MARK: - Restore objects

    public func isRestoreObject(_ item: RestoreItem) -> Bool {
        item.metadata[PythonPluginStage.takenKey] == name && item.metadata[PythonPluginStage.objectKey] != nil
    }

    /// `restore_object_data(rop)` with the verified bytes of a restore object (loading the plugin first, as Bareos
    /// does for event 15).
    public func restoreObject(_ item: RestoreItem, data: [UInt8], context: StageContext) throws {
        let objectName = Hex.decode(item.metadata[PythonPluginStage.objectKey] ?? "") ?? []
        let type = Int32(item.metadata[PythonPluginStage.objectTypeKey] ?? "") ?? 25
        let index = Int32(item.metadata[PythonPluginStage.objectIndexKey] ?? "") ?? 0
        let plugin = try restorePlugin(context: context, job: item.jobID)
        let rc = try perform(context: context) { [self] in
            try plugin.entered {
                try objectName.withUnsafeBufferPointer { objectName in
                    try data.withUnsafeBufferPointer { bytes in
                        try name.withCString { pluginName in
                            var object = opfd_restore_object(
                                object_name: UnsafeRawPointer(objectName.baseAddress)?.assumingMemoryBound(to: CChar.self),
                                object_name_length: objectName.count, object: bytes.baseAddress,
                                object_length: bytes.count, plugin_name: pluginName, object_type: type,
                                object_index: index, jobid: item.jobID)
                            return try plugin.call("restore_object_data", path: item.path) { instance, rc, error in
                                opfd_restore_object_data(instance, &object, &rc, &error)
                            }
                        }
                    }
                }
            }
        }
        if rc != 0 {
            throw StageFailure(
                stage: name, path: item.path,
                message: PythonPluginError.returned(function: "restore_object_data", code: rc).description)
        }
    }
}

extension Array {
    /// The element at `index`, nil outside the array (a StageContext built without the FileSet's Options blocks).
    fileprivate subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
