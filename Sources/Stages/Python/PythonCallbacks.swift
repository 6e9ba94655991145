import BareosFD
import Pipeline

/// The C callbacks `bareosfd` calls (JobMessage, DebugMessage, print output, CheckChanges, ...). Each receives the
/// `host` pointer of the current instance: an unretained `PythonPlugin`, alive while its interpreter is.
enum PythonCallbacks {
    static let table = opfd_callbacks(
        job_message: { host, type, text, length in
            plugin(host)?.jobMessage(type: Int(type), text: string(text, length))
        },
        debug_message: { host, level, text, length in
            plugin(host)?.debugMessage(level: Int(level), text: string(text, length))
        },
        output: { host, stream, text, length in
            plugin(host)?.output(stream: Int(stream), text: string(text, length))
        },
        check_changes: { host, fname, length, type, saveTime, accurateFound, deltaSeq in
            guard let plugin = plugin(host) else { return 0 }
            return Int32(plugin.checkChanges(path: bytes(fname, length), saveTime: saveTime))
        },
        accept_file: { host, fname, length, mode in
            guard let plugin = plugin(host) else { return 0 }
            return Int32(plugin.acceptFile(path: bytes(fname, length), mode: mode))
        },
        file_seen: { host, fname, length, seen in
            guard let plugin = plugin(host) else { return 2 }
            return Int32(plugin.fileSeen(path: fname.map { bytes($0, length) }, seen: seen != 0))
        },
        fileset: { host, op, text, length, type in
            guard let plugin = plugin(host) else { return 2 }
            return Int32(plugin.fileSetEdit(operation: Int(op), text: text.map { string($0, length) }))
        })

    private static func plugin(_ host: UnsafeMutableRawPointer?) -> PythonPluginHost? {
        host.map { Unmanaged<PythonPluginHost>.fromOpaque($0).takeUnretainedValue() }
    }

    private static func bytes(_ text: UnsafePointer<CChar>?, _ length: Int) -> [UInt8] {
        guard let text, length > 0 else { return [] }
        return text.withMemoryRebound(to: UInt8.self, capacity: length) { Array(UnsafeBufferPointer(start: $0, count: length)) }
    }

    private static func string(_ text: UnsafePointer<CChar>?, _ length: Int) -> String {
        String(decoding: bytes(text, length), as: UTF8.self)
    }
}
