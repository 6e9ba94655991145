#if canImport(Glibc)
import Glibc
#endif

/// A set of user or group ids compiled from an `owner` option: names, numeric ids and ranges, comma-separated
/// (`nobody,1000-1999,4242`). Names are resolved once, when the set is made; matching is a scan of a few sorted,
/// merged ranges, no lookup.
struct OwnerIDSet: Sendable, Equatable {
    enum Kind: String, Sendable {
        case user, group
    }

    /// Sorted, non-overlapping, non-adjacent ranges.
    private(set) var ranges: [ClosedRange<UInt32>] = []
    /// The names the option gave, by the id they resolved to (for skip reasons).
    private(set) var names: [UInt32: String] = [:]

    var isEmpty: Bool { ranges.isEmpty }

    init() {}

    /// Parses `list` (the value of option `option`); a problem names the option and the item.
    /// - Parameter resolve: name → id (`getpwnam_r`/`getgrnam_r` when nil), nil for an unknown name.
    init(
        _ list: String, kind: Kind, option: String, resolve: ((String) -> UInt32?)? = nil
    ) throws(OwnerSpecProblem) {
        let resolve = resolve ?? Self.systemLookup(kind: kind)
        var ranges: [ClosedRange<UInt32>] = []
        for rawItem in list.split(separator: ",", omittingEmptySubsequences: false) {
            let item = rawItem.trimmingBlanks()
            guard !item.isEmpty else {
                throw OwnerSpecProblem(message: "option \(option)=\(list) has an empty item")
            }
            if let id = Self.number(item) {
                ranges.append(id...id)
            } else if let dash = item.firstIndex(of: "-"), let low = Self.number(item[..<dash]),
                let high = Self.number(item[item.index(after: dash)...])
            {
                guard low <= high else {
                    throw OwnerSpecProblem(message: "option \(option): range \(item) runs backwards")
                }
                ranges.append(low...high)
            } else if let id = resolve(String(item)) {
                ranges.append(id...id)
                names[id] = String(item)
            } else {
                throw OwnerSpecProblem(message: "option \(option): unknown \(kind.rawValue) \"\(item)\"")
            }
        }
        self.ranges = Self.merged(ranges)
    }

    func contains(_ id: UInt32) -> Bool {
        for range in ranges {
            if id < range.lowerBound { return false }
            if id <= range.upperBound { return true }
        }
        return false
    }

    /// A decimal id (no sign, at most UInt32.max - 1: `(uid_t)-1` is not an owner).
    private static func number(_ text: Substring) -> UInt32? {
        guard !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }), let value = UInt32(text),
            value != UInt32.max
        else { return nil }
        return value
    }

    private static func merged(_ ranges: [ClosedRange<UInt32>]) -> [ClosedRange<UInt32>] {
        var out: [ClosedRange<UInt32>] = []
        for range in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = out.last, range.lowerBound <= last.upperBound &+ 1, last.upperBound != UInt32.max {
                out[out.count - 1] = last.lowerBound...max(last.upperBound, range.upperBound)
            } else {
                out.append(range)
            }
        }
        return out
    }

    /// The system's user or group database.
    static func systemLookup(kind: Kind) -> (String) -> UInt32? {
        switch kind {
        case .user: return { OwnerNameLookup.uid(named: $0) }
        case .group: return { OwnerNameLookup.gid(named: $0) }
        }
    }
}

/// A problem with an `owner` option (the stage wraps it into a `StageOptions.Problem`).
struct OwnerSpecProblem: Error, Sendable, Equatable {
    var message: String
}

extension Substring {
    fileprivate func trimmingBlanks() -> Substring {
        var text = self
        while text.first == " " { text = text.dropFirst() }
        while text.last == " " { text = text.dropLast() }
        return text
    }
}

/// The few passwd/group database calls of the `owner` stage.
enum OwnerNameLookup {
    static func uid(named name: String) -> UInt32? {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var storage = [CChar](repeating: 0, count: 16_384)
        guard getpwnam_r(name, &entry, &storage, storage.count, &result) == 0, result != nil else { return nil }
        return entry.pw_uid
    }

    static func gid(named name: String) -> UInt32? {
        var entry = group()
        var result: UnsafeMutablePointer<group>?
        var storage = [CChar](repeating: 0, count: 65_536)
        guard getgrnam_r(name, &entry, &storage, storage.count, &result) == 0, result != nil else { return nil }
        return entry.gr_gid
    }

    static func userName(_ uid: UInt32) -> String? {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var storage = [CChar](repeating: 0, count: 16_384)
        guard getpwuid_r(uid, &entry, &storage, storage.count, &result) == 0, result != nil else { return nil }
        return String(cString: entry.pw_name)
    }

    static func groupName(_ gid: UInt32) -> String? {
        var entry = group()
        var result: UnsafeMutablePointer<group>?
        var storage = [CChar](repeating: 0, count: 65_536)
        guard getgrgid_r(gid, &entry, &storage, storage.count, &result) == 0, result != nil else { return nil }
        return String(cString: entry.gr_name)
    }
}
