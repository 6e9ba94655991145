import BareosFD
import Pipeline

/// What a command plugin's `start_backup_file` set in its SavePacket, read as an item (python-fd §5.1, command
/// column): `fname`, `type`, `statp` are required (Bareos fails the job without them), `link` for symlinks;
/// restore objects (FT_RESTORE_FIRST, FT_PLUGIN_CONFIG, FT_PLUGIN_CONFIG_FILLED) carry `object_name` and `object`.
struct CommandPacket {
    let packet: opfd_command_packet

    init(_ packet: opfd_command_packet) { self.packet = packet }

    static let emptyStat = FileStat(
        dev: 0, ino: 0, mode: 0o100600, nlink: 1, uid: 0, gid: 0, rdev: 0, size: 0, blocks: 0,
        atime: .init(seconds: 0, nanoseconds: 0), mtime: .init(seconds: 0, nanoseconds: 0),
        ctime: .init(seconds: 0, nanoseconds: 0))

    /// FT_* types that are restore objects.
    static let objectTypes: Set<Int32> = [25, 27, 28]

    private static func bytes(_ pointer: UnsafeMutablePointer<CChar>?, _ count: Int) -> [UInt8] {
        guard let pointer, count > 0 else { return [] }
        return pointer.withMemoryRebound(to: UInt8.self, capacity: count) { Array(UnsafeBufferPointer(start: $0, count: count)) }
    }

    static func flags(_ packet: opfd_command_packet) -> [UInt8] {
        let flags = packet.flags
        return [flags.0, flags.1, flags.2, flags.3, flags.4]
    }

    /// The restore object of the packet (name and the first `object_len` bytes), nil for other types.
    static func object(_ packet: opfd_command_packet) -> (name: [UInt8], data: [UInt8])? {
        guard objectTypes.contains(packet.type) else { return nil }
        var data = packet.object.map { Array(UnsafeBufferPointer(start: $0, count: packet.object_length)) } ?? []
        if packet.object_len > 0 && Int(packet.object_len) < data.count { data = Array(data.prefix(Int(packet.object_len))) }
        return (bytes(packet.object_name, packet.object_name_length), data)
    }

    func failure(_ message: String) -> PythonPluginError { .host("start_backup_file: " + message) }

    /// The item, or the reason the packet cannot be one (the job fails, as in Bareos).
    func item() throws -> CommandPluginItem {
        var path = Self.bytes(packet.fname, packet.fname_length)
        let isObject = Self.objectTypes.contains(packet.type)
        if path.isEmpty && isObject { path = Self.bytes(packet.object_name, packet.object_name_length) }
        guard !path.isEmpty else { throw failure("savepkt.fname is empty") }
        if path.first != UInt8(ascii: "/") { path.insert(UInt8(ascii: "/"), at: 0) }
        while path.count > 1 && path.last == UInt8(ascii: "/") { path.removeLast() }
        guard packet.type != 0 else { throw failure("savepkt.type is not set (no FT_* type)") }
        guard packet.has_stat != 0 || isObject else { throw failure("savepkt.statp must be a StatPacket") }
        let link = packet.link.map { _ in Self.bytes(packet.link, packet.link_length) }
        let kind: EntryKind
        var typeBits: UInt32
        switch packet.type {
        case 2, 3: (kind, typeBits) = (.file, 0o100000)  // FT_REGE, FT_REG
        case 5: (kind, typeBits) = (.directory, 0o040000)  // FT_DIREND
        case 4: (kind, typeBits) = (.symlink, 0o120000)  // FT_LNK
        case 17: (kind, typeBits) = (.fifo, 0o010000)  // FT_FIFO
        case 6:  // FT_SPEC: the statp's mode says which
            switch packet.stat.mode & 0o170000 {
            case 0o020000: (kind, typeBits) = (.charDevice, 0o020000)
            case 0o060000: (kind, typeBits) = (.blockDevice, 0o060000)
            case 0o010000: (kind, typeBits) = (.fifo, 0o010000)
            default: throw failure("FT_SPEC with a statp.st_mode that is no device or FIFO")
            }
        case _ where isObject: (kind, typeBits) = (.file, 0o100000)
        default: throw failure("savepkt.type \(packet.type) is not a type a command plugin item can have here")
        }
        if kind == .symlink && (link ?? []).isEmpty { throw failure("FT_LNK without savepkt.link") }
        let stat = packet.has_stat != 0 ? packet.stat : BareosFileType.stat(Self.emptyStat)
        typeBits = (stat.mode & 0o7777) | typeBits  // the type bits follow savepkt.type
        func time(_ seconds: Int64) -> FileStat.Timestamp { .init(seconds: seconds, nanoseconds: 0) }
        return CommandPluginItem(
            path: path, kind: kind,
            stat: FileStat(
                dev: stat.dev, ino: stat.ino, mode: typeBits, nlink: UInt64(stat.nlink), uid: stat.uid, gid: stat.gid,
                rdev: stat.rdev, size: kind == .file ? stat.size : 0, blocks: stat.blocks, atime: time(stat.atime),
                mtime: time(stat.mtime), ctime: time(stat.ctime)),
            linkTarget: kind == .symlink ? link : nil)
    }
}
