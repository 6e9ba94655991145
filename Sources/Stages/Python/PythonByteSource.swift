import BareosFD
import CLinux
import Pipeline

#if canImport(Glibc)
import Glibc
#endif

/// The bytes of a file a Python plugin took over (`bRC_OK`).
///
/// They are read on the Python thread right after the file's `handle_backup_file`, before the next entry is
/// offered, so a plugin sees Bareos' order (python-fd §2.4 step 9): `plugin_io` IO_OPEN, IO_READ until status 0,
/// IO_CLOSE, then `get_acl`/`get_xattr`. When IO_OPEN answers `iostat_do_in_core` with a descriptor, the host
/// reads that descriptor (still before IO_CLOSE, where the plugin closes it). Up to `memoryLimit` bytes stay in
/// memory; the rest goes to an unlinked temporary file, so memory stays bounded whatever a plugin produces. The
/// writer thread then reads the collected bytes without calling Python.
final class PythonByteSource: ByteSource, @unchecked Sendable {
    private var memory: [UInt8]
    private var memoryOffset = 0
    private var spill: Int32
    /// Every byte the plugin gave (in memory and spilled).
    let size: UInt64

    private init(memory: [UInt8], spill: Int32, size: UInt64) {
        self.memory = memory
        self.spill = spill
        self.size = size
    }

    deinit { if spill >= 0 { Glibc.close(spill) } }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if memoryOffset < memory.count {
            let count = min(buffer.count, memory.count - memoryOffset)
            memory.withUnsafeBytes { source in
                buffer.baseAddress!.copyMemory(from: source.baseAddress! + memoryOffset, byteCount: count)
            }
            memoryOffset += count
            return count
        }
        guard spill >= 0 else { return 0 }
        do {
            return try FileDescriptor(rawValue: spill).read(into: buffer)
        } catch {
            throw PythonPluginError.host(error.message("reading the spill file"))
        }
    }

    func close() throws {
        memory = []
        if spill >= 0 {
            Glibc.close(spill)
            spill = -1
        }
    }

    /// An empty file: Bareos does not call plugin_io for it.
    static func empty() -> PythonByteSource { PythonByteSource(memory: [], spill: -1, size: 0) }

    /// Bytes a plugin handed over in a packet (a restore object's `savepkt.object`).
    static func bytes(_ data: [UInt8]) -> PythonByteSource {
        PythonByteSource(memory: data, spill: -1, size: UInt64(data.count))
    }

    /// Bytes held in memory.
    var memoryBytes: Int { memory.count }

    /// Reads a taken file through the plugin, on the Python thread inside `plugin.entered`.
    static func read(
        _ item: FileItem, stage: String, plugin: PythonPlugin, noAtime: Bool, memoryLimit: Int,
        spillDirectory: String
    ) throws -> PythonByteSource {
        func failure(_ message: String) -> StageFailure { StageFailure(stage: stage, path: item.path, message: message) }
        var io = opfd_io()
        io.func = 1  // IO_OPEN
        io.flags = O_RDONLY | (noAtime ? clinux_O_NOATIME : 0)
        io.mode = 0
        io.filedes = -1
        let rc = try item.path.withUnsafeBufferPointer { path -> Int in
            io.fname = UnsafeRawPointer(path.baseAddress).map { $0.assumingMemoryBound(to: CChar.self) }
            io.fname_length = path.count
            return try plugin.call("plugin_io(IO_OPEN)", path: item.path) { instance, rc, error in
                opfd_plugin_io(instance, &io, &rc, &error)
            }
        }
        if rc != 0 || io.status < 0 { throw failure("plugin_io(IO_OPEN) failed" + errnoText(io.io_errno)) }
        let coreDescriptor: Int32 = io.status == 1 ? Int32(truncatingIfNeeded: io.filedes) : -1
        if io.status == 1 && coreDescriptor < 0 {
            throw failure("plugin_io(IO_OPEN) answered iostat_do_in_core without a descriptor")
        }

        let collector = Collector(
            memoryLimit: memoryLimit, spillDirectory: spillDirectory, fail: { StageFailure(stage: stage, path: item.path, message: $0) })
        var problem: StageFailure?
        var chunk = [UInt8](repeating: 0, count: Int(PythonPluginStage.readCount))
        func keep(_ bytes: ArraySlice<UInt8>) throws { try collector.append(bytes) }
        do {
            while true {
                let count: Int
                if coreDescriptor >= 0 {
                    // Reading the plugin's descriptor is bounded by the call timeout too (a pipe may never end).
                    PythonRuntime.shared.beginCall("reading the descriptor plugin_io opened (iostat_do_in_core)", path: item.path)
                    let got = chunk.withUnsafeMutableBytes { raw in
                        Result { () throws(Errno) in try FileDescriptor(rawValue: coreDescriptor).read(into: raw) }
                    }
                    PythonRuntime.shared.endCall()
                    switch got {
                    case .success(let read): count = read
                    case .failure(let error):
                        throw failure("reading the descriptor plugin_io opened (iostat_do_in_core)" + errnoText(error.rawValue))
                    }
                } else {
                    var read = opfd_io()
                    read.func = 2  // IO_READ
                    read.count = PythonPluginStage.readCount
                    let status = try chunk.withUnsafeMutableBufferPointer { chunk -> Int64 in
                        read.read_buffer = chunk.baseAddress
                        _ = try plugin.call("plugin_io(IO_READ)", path: item.path) { instance, rc, error in
                            opfd_plugin_io(instance, &read, &rc, &error)
                        }
                        return read.status
                    }
                    if status < 0 { throw failure("plugin_io(IO_READ) failed" + errnoText(read.io_errno)) }
                    count = Int(status)
                }
                if count == 0 { break }
                try keep(chunk[0..<count])
            }
        } catch let error as StageFailure {
            problem = error
        } catch {
            problem = failure("\(error)")
        }
        // IO_CLOSE also after a failed read: the plugin closes what it opened.
        var close = opfd_io()
        close.func = 4  // IO_CLOSE
        close.filedes = Int64(coreDescriptor)
        do {
            _ = try plugin.call("plugin_io(IO_CLOSE)", path: item.path) { instance, rc, error in
                opfd_plugin_io(instance, &close, &rc, &error)
            }
            if close.status < 0 && problem == nil {
                problem = failure("plugin_io(IO_CLOSE) failed" + errnoText(close.io_errno))
            }
        } catch {
            if problem == nil { problem = failure("\(error)") }
        }
        if let problem {
            collector.abandon()
            throw problem
        }
        return try collector.finish()
    }

    /// Gathers a taken file's bytes as they come (from `plugin_io`, or from a plugin process over its socket): up
    /// to `memoryLimit` in memory, the rest in an unlinked temporary file in `spillDirectory`.
    final class Collector {
        private var memory: [UInt8] = []
        private var spill: Int32 = -1
        private var size: UInt64 = 0
        private let memoryLimit: Int
        private let spillDirectory: String
        private let fail: (String) -> StageFailure

        init(memoryLimit: Int, spillDirectory: String, fail: @escaping (String) -> StageFailure) {
            self.memoryLimit = memoryLimit
            self.spillDirectory = spillDirectory
            self.fail = fail
        }

        deinit { if spill >= 0 { Glibc.close(spill) } }

        /// Bytes held in memory so far.
        var memoryBytes: Int { memory.count }

        func append(_ bytes: ArraySlice<UInt8>) throws {
            size += UInt64(bytes.count)
            if spill < 0 && memory.count + bytes.count <= memoryLimit {
                memory += bytes
                return
            }
            if spill < 0 {
                do {
                    spill = try FileDescriptor.open(spillDirectory, clinux_O_TMPFILE | O_RDWR, mode: 0o600).rawValue
                } catch {
                    throw fail(error.message("cannot create a temporary file in \(spillDirectory)"))
                }
            }
            do {
                try bytes.withUnsafeBytes { raw in
                    Result { () throws(Errno) in try FileDescriptor(rawValue: spill).writeAll(raw) }
                }.get()
            } catch {
                throw fail(error.message("cannot write the temporary file"))
            }
        }

        /// Drops what was gathered (a failed read).
        func abandon() {
            memory = []
            if spill >= 0 { Glibc.close(spill) }
            spill = -1
        }

        /// The source that reads back everything appended; the collector is empty afterwards.
        func finish() throws -> PythonByteSource {
            let descriptor = spill
            spill = -1
            if descriptor >= 0 {
                do {
                    _ = try SystemCall.retrying { lseek(descriptor, 0, SEEK_SET) }
                } catch {
                    Glibc.close(descriptor)
                    throw fail(error.message("cannot rewind the temporary file"))
                }
            }
            defer { memory = [] }
            return PythonByteSource(memory: memory, spill: descriptor, size: size)
        }
    }

    /// `get_acl` and `get_xattr` for a taken entry (python-fd §2.4 step 9): what the plugin hands over is kept as
    /// stage metadata (hex) and given back to `set_acl`/`set_xattr` at restore.
    static func collectACLAndXattrs(
        _ item: FileItem, plugin: PythonPlugin, acl: Bool, xattr: Bool, into metadata: inout [String: String]
    ) throws {
        try item.path.withUnsafeBufferPointer { path in
            let fname = UnsafeRawPointer(path.baseAddress).map { $0.assumingMemoryBound(to: CChar.self) }
            if acl && item.kind != .symlink {
                var content: UnsafeMutablePointer<UInt8>?
                var length = 0
                let rc = try plugin.optionalCall("get_acl", path: item.path) { instance, rc, error in
                    opfd_get_acl(instance, fname, path.count, &rc, &content, &length, &error)
                }
                if let content {
                    if rc == 0 && length > 0 {
                        metadata[PythonPluginStage.aclKey] = Hex.encode(Array(UnsafeBufferPointer(start: content, count: length)))
                    }
                    opfd_free(content)
                }
            }
            guard xattr else { return }
            var pairs: [String] = []
            for _ in 0..<100_000 {
                var name: UnsafeMutablePointer<UInt8>?
                var nameLength = 0
                var value: UnsafeMutablePointer<UInt8>?
                var valueLength = 0
                let rc = try plugin.optionalCall("get_xattr", path: item.path) { instance, rc, error in
                    opfd_get_xattr(instance, fname, path.count, &rc, &name, &nameLength, &value, &valueLength, &error)
                }
                defer {
                    opfd_free(name)
                    opfd_free(value)
                }
                if let name, nameLength > 0, rc == 0 || rc == 3 {
                    let valueBytes = value.map { Array(UnsafeBufferPointer(start: $0, count: valueLength)) } ?? []
                    pairs.append(
                        Hex.encode(Array(UnsafeBufferPointer(start: name, count: nameLength))) + "=" + Hex.encode(valueBytes))
                }
                if rc != 3 { break }
            }
            if !pairs.isEmpty { metadata[PythonPluginStage.xattrKey] = pairs.joined(separator: ",") }
        }
    }

    static func errnoText(_ code: Int32) -> String {
        code == 0 ? "" : ": \(Errno(code)) (errno \(code))"
    }
}
