#if canImport(Glibc)
    import Glibc
#endif

/// File system type names by device, from `/proc/self/mountinfo`, for the `FS Type` option.
///
/// Names are the kernel's (`ext4`, `xfs`, `btrfs`, `tmpfs`, `proc`, `overlay`, `fuse.sshfs`, ...). A device that no
/// mount line names (a btrfs subvolume reports its own anonymous device) falls back to the mount with the longest
/// mount point that is a path prefix of the entry.
struct MountTable {
    private var typeByDevice: [UInt64: String] = [:]
    private var mounts: [(point: [UInt8], type: String)] = []

    init() {}

    /// Parses mountinfo text: `id parent major:minor root mountpoint options [optional...] - fstype source super`.
    init(mountinfo: [UInt8]) {
        for line in mountinfo.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
            let fields = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: true)
            guard fields.count >= 7,
                let dash = fields[6...].firstIndex(where: { $0.elementsEqual([UInt8(ascii: "-")]) }),
                dash + 1 < fields.count
            else { continue }
            let type = String(decoding: Self.unescape(fields[dash + 1]), as: UTF8.self)
            let numbers = fields[2].split(separator: UInt8(ascii: ":"))
            if numbers.count == 2, let major = Self.number(numbers[0]), let minor = Self.number(numbers[1]) {
                typeByDevice[Self.makeDevice(major: major, minor: minor)] = type
            }
            mounts.append((Self.unescape(fields[4]), type))
        }
    }

    /// Reads `/proc/self/mountinfo`; an empty table if it cannot be read (then no type is known).
    static func load() -> MountTable {
        guard let text = SelectIO.readWholeFile("/proc/self/mountinfo") else { return MountTable() }
        return MountTable(mountinfo: text)
    }

    /// The type of the file system holding an entry with device `device` at `path`; nil when unknown.
    func fsType(device: UInt64, path: UnsafeBufferPointer<UInt8>) -> String? {
        if let type = typeByDevice[device] { return type }
        var best: (length: Int, type: String)?
        for mount in mounts where Self.isPathPrefix(mount.point, of: path) {
            if mount.point.count >= (best?.length ?? -1) { best = (mount.point.count, mount.type) }
        }
        return best?.type
    }

    /// glibc's `makedev` encoding of `dev_t`.
    static func makeDevice(major: UInt64, minor: UInt64) -> UInt64 {
        ((major & 0xffff_f000) << 32) | ((major & 0x0000_0fff) << 8) | ((minor & 0xffff_ff00) << 12)
            | (minor & 0x0000_00ff)
    }

    private static func isPathPrefix(_ point: [UInt8], of path: UnsafeBufferPointer<UInt8>) -> Bool {
        guard path.count >= point.count, path.starts(with: point) else { return false }
        if point.last == UInt8(ascii: "/") || path.count == point.count { return true }
        return path[point.count] == UInt8(ascii: "/")
    }

    private static func number(_ digits: ArraySlice<UInt8>) -> UInt64? {
        guard !digits.isEmpty else { return nil }
        var value: UInt64 = 0
        for digit in digits {
            guard digit >= UInt8(ascii: "0"), digit <= UInt8(ascii: "9") else { return nil }
            value = value &* 10 &+ UInt64(digit - UInt8(ascii: "0"))
        }
        return value
    }

    /// Undoes the kernel's octal escapes (`\040` for a blank, `\011`, `\012`, `\134`).
    static func unescape(_ field: ArraySlice<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(field.count)
        var i = field.startIndex
        while i < field.endIndex {
            let byte = field[i]
            if byte == UInt8(ascii: "\\"), field.endIndex - i >= 4,
                let value = octal(field[(i + 1)..<(i + 4)])
            {
                out.append(value)
                i += 4
            } else {
                out.append(byte)
                i += 1
            }
        }
        return out
    }

    private static func octal(_ digits: ArraySlice<UInt8>) -> UInt8? {
        var value = 0
        for digit in digits {
            guard digit >= UInt8(ascii: "0"), digit <= UInt8(ascii: "7") else { return nil }
            value = value * 8 + Int(digit - UInt8(ascii: "0"))
        }
        return value <= 255 ? UInt8(value) : nil
    }
}
