import BareosFD
import Pipeline

#if canImport(Glibc)
import Glibc
#endif

/// Restore of a file a Python plugin took at backup (python-fd §2.5): `start_restore_file(cmd)`,
/// `create_file(restorepkt)`, then for CF_EXTRACT/CF_CORE `plugin_io` IO_OPEN (O_WRONLY|O_CREAT|O_TRUNC) and one
/// IO_WRITE per piece of the verified bytes, `set_file_attributes`, IO_CLOSE, `set_acl`/`set_xattr`,
/// `end_restore_file()`. Nothing reaches the plugin before restore has verified the bytes (D2): the calls start
/// with the first write (or at close, for an empty file).
final class PythonRestoreSink: ByteSink, @unchecked Sendable {
    private let stage: PythonPluginStage
    private let item: RestoreItem
    private let outputPath: [UInt8]
    private let context: StageContext

    private var plugin: PythonPlugin?
    private var started = false
    /// start_restore_file answered bRC_OK, so end_restore_file is owed (once).
    private var fileStarted = false
    private var opened = false
    private var discard = false
    private var coreDescriptor: Int32 = -1

    /// CF_* values (python-fd §4.7).
    private static let skip: Int32 = 1, error: Int32 = 2, extract: Int32 = 3, created: Int32 = 4, core: Int32 = 5
    /// IO_WRITE pieces (Bareos hands the plugin one data record at a time).
    private static let writePiece = 262_144

    init(stage: PythonPluginStage, item: RestoreItem, outputPath: [UInt8], context: StageContext) {
        self.stage = stage
        self.item = item
        self.outputPath = outputPath
        self.context = context
    }

    private func failure(_ message: String) -> StageFailure {
        StageFailure(stage: stage.name, path: item.path, message: message)
    }

    private func call<T>(_ body: @escaping () throws -> T) throws -> T {
        do {
            return try stage.perform(context: context, body)
        } catch let failure as StageFailure {
            throw failure
        } catch {
            throw failure("\(error)")
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        if !started { try start() }
        if discard || bytes.isEmpty { return }
        if coreDescriptor >= 0 {
            do {
                try FileDescriptor(rawValue: coreDescriptor).writeAll(bytes)
            } catch {
                throw failure(error.message("writing the descriptor plugin_io opened (iostat_do_in_core)"))
            }
            return
        }
        // A copy: if the call times out, the Python thread may still read it after this returns.
        let data = Array(bytes)
        try call { [self] in
            guard let plugin else { return }
            try plugin.entered {
                var offset = 0
                while offset < data.count {
                    let count = min(PythonRestoreSink.writePiece, data.count - offset)
                    var io = opfd_io()
                    io.func = 3  // IO_WRITE
                    io.count = Int32(count)
                    let status = try data.withUnsafeBufferPointer { buffer -> Int64 in
                        io.write_buffer = buffer.baseAddress! + offset
                        _ = try plugin.call("plugin_io(IO_WRITE)", path: item.path) { instance, rc, error in
                            opfd_plugin_io(instance, &io, &rc, &error)
                        }
                        return io.status
                    }
                    guard status == Int64(count) else {
                        throw failure(
                            "plugin_io(IO_WRITE) wrote \(status) of \(count) bytes"
                                + PythonByteSource.errnoText(io.io_errno))
                    }
                    offset += count
                }
            }
        }
    }

    func close(success: Bool) throws {
        if !started {
            guard success else { return }
            try start()
        }
        guard fileStarted else { return }
        try call { [self] in
            guard let plugin else { return }
            try plugin.entered {
                var problems: [String] = []
                if success {
                    do {
                        _ = try withPacket { packet in
                            try plugin.call("set_file_attributes", path: item.path) { instance, rc, error in
                                opfd_set_file_attributes(instance, &packet, &rc, &error)
                            }
                        }
                    } catch { problems.append("\(error)") }
                }
                if let problem = closeFile(plugin) { problems.append(problem) }
                if success { problems += restoreACLAndXattrs(plugin) }
                if let problem = endRestoreFile(plugin) { problems.append(problem) }
                if success, !problems.isEmpty { throw failure(problems.joined(separator: "; ")) }
            }
        }
    }

    /// IO_CLOSE of the open file (in core-I/O mode too: the plugin closes its descriptor); on the Python thread,
    /// inside `entered`. Returns what went wrong.
    private func closeFile(_ plugin: PythonPlugin) -> String? {
        guard opened else { return nil }
        opened = false
        var io = opfd_io()
        io.func = 4  // IO_CLOSE
        io.filedes = Int64(coreDescriptor)
        coreDescriptor = -1
        do {
            _ = try plugin.call("plugin_io(IO_CLOSE)", path: item.path) { instance, rc, error in
                opfd_plugin_io(instance, &io, &rc, &error)
            }
        } catch { return "\(error)" }
        return io.status < 0 ? "plugin_io(IO_CLOSE) failed" + PythonByteSource.errnoText(io.io_errno) : nil
    }

    /// IO_CLOSE if `closing` and the file is open, then `end_restore_file()` once; on the Python thread, inside
    /// `entered`. Returns what went wrong.
    private func endRestoreFile(_ plugin: PythonPlugin, closing: Bool = false) -> String? {
        var problems: [String] = []
        if closing, let problem = closeFile(plugin) { problems.append(problem) }
        guard fileStarted else { return problems.first }
        fileStarted = false
        do {
            let rc = try plugin.call("end_restore_file", path: item.path) { instance, rc, error in
                opfd_end_restore_file(instance, &rc, &error)
            }
            if rc != 0 { problems.append(PythonPluginError.returned(function: "end_restore_file", code: rc).description) }
        } catch { problems.append("\(error)") }
        return problems.isEmpty ? nil : problems.joined(separator: "; ")
    }

    /// On the calling thread: loads the plugin if needed, then `start_restore_file` and `create_file` (and IO_OPEN)
    /// on the Python thread. When a step after `start_restore_file` fails, the plugin still gets IO_CLOSE and
    /// `end_restore_file`.
    private func start() throws {
        started = true
        try call { [self] in
            let plugin = try stage.restorePlugin(context: context, job: item.jobID)
            self.plugin = plugin
            try plugin.entered {
                do {
                    try startFile(plugin)
                } catch {
                    _ = endRestoreFile(plugin, closing: true)
                    throw error
                }
            }
        }
    }

    private func startFile(_ plugin: PythonPlugin) throws {
        let name = stage.name
        let started = try plugin.call("start_restore_file", path: item.path) { instance, rc, error in
            opfd_start_restore_file(instance, name, &rc, &error)
        }
        guard started == 0 else {
            throw PythonPluginError.returned(function: "start_restore_file", code: started)
        }
        fileStarted = true
        var createStatus: Int32 = PythonRestoreSink.error
        let created = try withPacket { packet -> Int in
            let rc = try plugin.call("create_file", path: item.path) { instance, rc, error in
                opfd_create_file(instance, &packet, &rc, &error)
            }
            createStatus = packet.create_status
            return rc
        }
        guard created == 0 else { throw PythonPluginError.returned(function: "create_file", code: created) }
        switch createStatus {
        case PythonRestoreSink.extract, PythonRestoreSink.core:
            try open(plugin, mode: createStatus == PythonRestoreSink.extract ? 0o600 : 0)
        case PythonRestoreSink.created:
            discard = true
        case PythonRestoreSink.skip:
            discard = true
            context.message(.info, "create_file answered CF_SKIP: the plugin did not restore the file", stage: name, path: item.path)
        default:
            throw failure("create_file left create_status = \(createStatus) (CF_ERROR or no CF_* value)")
        }
    }

    private func open(_ plugin: PythonPlugin, mode: Int32) throws {
        var io = opfd_io()
        io.func = 1  // IO_OPEN
        io.flags = O_WRONLY | O_CREAT | O_TRUNC
        io.mode = mode
        io.filedes = -1
        let rc = try outputPath.withUnsafeBufferPointer { path -> Int in
            io.fname = UnsafeRawPointer(path.baseAddress).map { $0.assumingMemoryBound(to: CChar.self) }
            io.fname_length = path.count
            return try plugin.call("plugin_io(IO_OPEN)", path: item.path) { instance, rc, error in
                opfd_plugin_io(instance, &io, &rc, &error)
            }
        }
        if rc != 0 || io.status < 0 { throw failure("plugin_io(IO_OPEN) failed" + PythonByteSource.errnoText(io.io_errno)) }
        opened = true
        if io.status == 1 {  // iostat_do_in_core
            guard io.filedes >= 0 else { throw failure("plugin_io(IO_OPEN) answered iostat_do_in_core without a descriptor") }
            coreDescriptor = Int32(truncatingIfNeeded: io.filedes)
        }
    }

    /// `set_acl` and `set_xattr` with what `get_acl`/`get_xattr` gave at backup.
    private func restoreACLAndXattrs(_ plugin: PythonPlugin) -> [String] {
        var problems: [String] = []
        outputPath.withUnsafeBufferPointer { path in
            let fname = UnsafeRawPointer(path.baseAddress).map { $0.assumingMemoryBound(to: CChar.self) }
            if let text = item.metadata[PythonPluginStage.aclKey], let content = Hex.decode(text) {
                do {
                    let rc = try content.withUnsafeBufferPointer { content in
                        try plugin.call("set_acl", path: item.path) { instance, rc, error in
                            opfd_set_acl(instance, fname, path.count, content.baseAddress, content.count, &rc, &error)
                        }
                    }
                    if rc != 0 { problems.append(PythonPluginError.returned(function: "set_acl", code: rc).description) }
                } catch { problems.append("\(error)") }
            }
            for pair in item.metadata[PythonPluginStage.xattrKey]?.split(separator: ",") ?? [] {
                let parts = pair.split(separator: "=", omittingEmptySubsequences: false)
                guard parts.count == 2, let name = Hex.decode(String(parts[0])), let value = Hex.decode(String(parts[1]))
                else { continue }
                do {
                    let rc = try name.withUnsafeBufferPointer { name in
                        try value.withUnsafeBufferPointer { value in
                            try plugin.call("set_xattr", path: item.path) { instance, rc, error in
                                opfd_set_xattr(
                                    instance, fname, path.count, name.baseAddress, name.count, value.baseAddress,
                                    value.count, &rc, &error)
                            }
                        }
                    }
                    if rc != 0 { problems.append(PythonPluginError.returned(function: "set_xattr", code: rc).description) }
                } catch { problems.append("\(error)") }
            }
        }
        return problems
    }

    /// A RestorePacket for this file (python-fd §5.3).
    private func withPacket<R>(_ body: (inout opfd_restore_packet) throws -> R) throws -> R {
        let link = item.linkTarget ?? []
        let whereDirectory = context.whereDirectory
        return try outputPath.withUnsafeBufferPointer { ofname in
            try item.path.withUnsafeBufferPointer { original in
                try link.withUnsafeBufferPointer { link in
                    try PythonRestoreSink.withOptionalCString(whereDirectory) { whereText in
                        var packet = opfd_restore_packet()
                        packet.stream = 0
                        packet.data_stream = 0
                        packet.type = item.size == 0 ? 2 : 3
                        packet.file_index = item.fileIndex + 1
                        packet.link_fi = 0
                        packet.uid = item.stat.uid
                        packet.stat = BareosFileType.stat(item.stat)
                        packet.ofname = UnsafeRawPointer(ofname.baseAddress).map { $0.assumingMemoryBound(to: CChar.self) }
                        packet.ofname_length = ofname.count
                        packet.olname = UnsafeRawPointer(link.baseAddress).map { $0.assumingMemoryBound(to: CChar.self) }
                        packet.olname_length = link.count
                        packet.where = whereText
                        packet.replace = Int32(Character("a").asciiValue!)
                        packet.original_file_name = UnsafeRawPointer(original.baseAddress).map { $0.assumingMemoryBound(to: CChar.self) }
                        packet.original_file_name_length = original.count
                        packet.create_status = PythonRestoreSink.error
                        packet.filedes = -1
                        return try body(&packet)
                    }
                }
            }
        }
    }

    private static func withOptionalCString<R>(_ text: String?, _ body: (UnsafePointer<CChar>?) throws -> R) rethrows -> R {
        guard let text else { return try body(nil) }
        return try text.withCString { try body($0) }
    }
}
