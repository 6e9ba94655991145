/// Which paths `--select` chooses, as a Bareos admin expects from bconsole's `mark`: a pattern selects every path
/// it matches (Bareos wildcards, `*` crossing `/`) and everything below such a path — `--select /srv/data` and
/// `--select /srv/data/` both select the directory and its whole subtree. A trailing slash is ignored. No
/// pattern selects everything.
struct RestoreSelection {
    private let patterns: [Wildcard]

    init(_ patterns: [String]) {
        self.patterns = patterns.map { pattern in
            var bytes = Array(pattern.utf8)
            while bytes.count > 1 && bytes.last == UInt8(ascii: "/") { bytes.removeLast() }
            return Wildcard(bytes)
        }
    }

    /// True when `path`, or a directory above it, matches a pattern.
    func selects(_ path: [UInt8]) -> Bool {
        if patterns.isEmpty { return true }
        return path.withUnsafeBufferPointer { name in
            if patterns.contains(where: { $0.matches(name) }) { return true }
            // The ancestors, longest first: "/a/b/c" is below "/a/b", "/a" and "/".
            var end = name.count
            while let slash = name[..<end].lastIndex(of: UInt8(ascii: "/")) {
                let ancestor = UnsafeBufferPointer(rebasing: name[..<max(slash, 1)])
                if patterns.contains(where: { $0.matches(ancestor) }) { return true }
                if slash == 0 { break }
                end = slash
            }
            return false
        }
    }
}
