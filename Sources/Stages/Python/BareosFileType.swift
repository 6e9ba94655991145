import BareosFD
import Pipeline

/// How an entry looks to a python-fd plugin: its FT_* type, `savepkt.link`, `statp` and the FO_* bits of
/// `savepkt.flags` (python-fd §4.3, §4.10, §5.1).
enum BareosFileType {
    /// FT_* of an entry, or nil for entries Bareos never offers to option plugins (sockets, §6.1).
    static func of(_ item: FileItem) -> Int32? {
        switch item.kind {
        case .file: return item.stat.size == 0 ? 2 : 3  // FT_REGE, FT_REG
        case .directory: return 5  // FT_DIREND (offered after its contents)
        case .symlink: return 4  // FT_LNK
        case .hardLink: return 1  // FT_LNKSAVED
        case .fifo: return 17  // FT_FIFO
        case .charDevice, .blockDevice: return 6  // FT_SPEC
        case .socket: return nil
        }
    }

    /// `savepkt.link`: the symlink target, the first name of a hard link, the directory with a trailing `/`, and
    /// for every other entry the name itself (review correction 6).
    static func link(of item: FileItem) -> [UInt8] {
        switch item.kind {
        case .symlink, .hardLink: return item.entry.linkTarget ?? []
        case .directory: return item.path.last == UInt8(ascii: "/") ? item.path : item.path + [UInt8(ascii: "/")]
        default: return item.path
        }
    }

    static func stat(_ stat: FileStat) -> opfd_stat {
        opfd_stat(
            dev: stat.dev, ino: stat.ino, mode: stat.mode, nlink: UInt32(truncatingIfNeeded: stat.nlink),
            uid: stat.uid, gid: stat.gid, rdev: stat.rdev, size: stat.size, atime: stat.atime.seconds,
            mtime: stat.mtime.seconds, ctime: stat.ctime.seconds, blksize: 4096, blocks: stat.blocks)
    }

    /// The Options block that applies to a backup entry.
    static func block(of item: FileItem, context: StageContext) -> OptionsBlock? {
        guard context.options.indices.contains(item.entry.includeIndex) else { return nil }
        let blocks = context.options[item.entry.includeIndex]
        guard blocks.indices.contains(item.entry.effectiveBlockIndex) else { return nil }
        return blocks[item.entry.effectiveBlockIndex]
    }

    /// The 5 bytes of FO_* bits Bareos sets from an Options block (bit b is `flags[b >> 3] & (1 << (b & 7))`).
    static func flags(for item: FileItem, context: StageContext) -> [UInt8] {
        var flags = [UInt8](repeating: 0, count: 5)
        func set(_ bit: Int) { flags[bit >> 3] |= 1 << UInt8(bit & 7) }
        set(29)  // FO_PLUGIN: the block names a plugin
        guard let block = block(of: item, context: context) else { return flags }
        if block.portable { set(10) }
        switch block.effectiveSignature {
        case .md5: set(1)
        case .sha1: set(9)
        case .sha256: set(19)
        case .sha512: set(20)
        case .xxh128: set(33)
        case nil: break
        }
        if block.compression != nil { set(2) }
        if !block.recurse { set(3) }
        if !block.oneFS { set(4) }
        if block.sparse { set(5) }
        if block.replace == .ifnewer { set(6) }
        if block.replace == .never { set(7) }
        if block.readFifo { set(8) }
        if block.mtimeOnly { set(11) }
        if block.keepAtime { set(12) }
        if block.exclude { set(13) }
        if block.aclSupport { set(14) }
        if !block.hardLinks { set(15) }
        if block.ignoreCase { set(16) }
        if block.hfsPlusSupport { set(17) }
        if block.noAtime { set(22) }
        if block.checkFileChanges { set(24) }
        if block.stripPath != nil { set(25) }
        if block.honorNoDumpFlag { set(26) }
        if block.xattrSupport { set(27) }
        if !block.autoExclude { set(31) }
        if block.forceEncryption { set(32) }
        return flags
    }
}
