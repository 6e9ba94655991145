import Pipeline

#if canImport(Glibc)
import Glibc
#endif

/// Renders entries the way `ls -l` and bconsole's `estimate listing` do: mode, links, owner, group, size, mtime,
/// name — plus the Options block and stage chain that apply.
final class EntryFormatter {
    private var users: [UInt32: String] = [:]
    private var groups: [UInt32: String] = [:]

    static func modeString(_ mode: UInt32, kind: EntryKind) -> String {
        var chars: [Character] = []
        switch kind {
        case .directory: chars.append("d")
        case .symlink: chars.append("l")
        case .fifo: chars.append("p")
        case .socket: chars.append("s")
        case .charDevice: chars.append("c")
        case .blockDevice: chars.append("b")
        case .file, .hardLink: chars.append("-")
        }
        let bits: [(UInt32, Character)] = [
            (0o400, "r"), (0o200, "w"), (0o100, "x"), (0o040, "r"), (0o020, "w"), (0o010, "x"),
            (0o004, "r"), (0o002, "w"), (0o001, "x"),
        ]
        for (bit, char) in bits { chars.append(mode & bit != 0 ? char : "-") }
        if mode & 0o4000 != 0 { chars[3] = chars[3] == "x" ? "s" : "S" }
        if mode & 0o2000 != 0 { chars[6] = chars[6] == "x" ? "s" : "S" }
        if mode & 0o1000 != 0 { chars[9] = chars[9] == "x" ? "t" : "T" }
        return String(chars)
    }

    func user(_ uid: UInt32) -> String {
        if let name = users[uid] { return name }
        let name = getpwuid(uid).map { String(cString: $0.pointee.pw_name) } ?? String(uid)
        users[uid] = name
        return name
    }

    func group(_ gid: UInt32) -> String {
        if let name = groups[gid] { return name }
        let name = getgrgid(gid).map { String(cString: $0.pointee.gr_name) } ?? String(gid)
        groups[gid] = name
        return name
    }

    static func time(_ seconds: Int64) -> String { HumanTime.local(seconds) }

    static func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
        let padding = String(repeating: " ", count: max(0, width - text.count))
        return right ? padding + text : text + padding
    }

    /// One listing line (names escaped by ``TerminalText``).
    func line(_ entry: SelectedEntry, decision: String? = nil) -> [UInt8] {
        let stat = entry.stat
        var text = EntryFormatter.modeString(stat.mode, kind: entry.kind) + " "
        text += EntryFormatter.pad(String(stat.nlink), 3, right: true) + " "
        text += EntryFormatter.pad(user(stat.uid), 8) + " " + EntryFormatter.pad(group(stat.gid), 8) + " "
        text += EntryFormatter.pad(String(stat.size), 12, right: true) + " "
        text += EntryFormatter.time(stat.mtime.seconds) + "  "
        var bytes = Array(text.utf8) + TerminalText.escape(entry.path)
        if let target = entry.linkTarget {
            bytes += Array((entry.kind == .hardLink ? " => " : " -> ").utf8) + TerminalText.escape(target)
        }
        var suffix = "  [" + (entry.blockIndex.map { "block \($0)" } ?? "no block matched")
        if !entry.chain.isEmpty { suffix += "; chain " + entry.chain.joined(separator: " | ") }
        suffix += "]"
        if let note = entry.note { suffix += " (\(note))" }
        if let decision { suffix += " " + TerminalText.escape(decision) }
        return bytes + Array(suffix.utf8) + [UInt8(ascii: "\n")]
    }
}
