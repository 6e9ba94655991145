#if canImport(Glibc)
    import Glibc
#endif

/// How a walk decides whether an entry changed since the previous backup (`bareos-conf-fileset.md` §5.2, §5.3).
///
/// - `.all`: a Full (and `estimate`): every selected entry is emitted.
/// - `.since(t)`: Incremental/Differential without Accurate. An entry is *unchanged* iff `mtime < t` and
///   (`MtimeOnly = yes` or `ctime < t`); equality counts as changed. Unchanged non-directories are not emitted;
///   unchanged directories are walked but their own entry is not emitted, except a directory the walk does not
///   descend into (Recurse = no, One FS, FS Type), whose entry Bareos saves even when unchanged.
/// - `.accurate(state)`: Incremental/Differential with `Accurate = yes`: an entry not in the previous state is
///   changed; one in it is compared by the Include's `Accurate` letters. The walk marks every entry it examines
///   as seen in `state`; what is left unseen at the end was deleted.
public enum ChangeTest: Sendable {
    case all
    case since(FileStat.Timestamp)
    case accurate(AccurateState)

    /// The since time as nanoseconds since the epoch (one integer compare per timestamp in the walk).
    static func nanoseconds(_ time: FileStat.Timestamp) -> Int64 {
        time.seconds &* 1_000_000_000 &+ Int64(time.nanoseconds)
    }
}

/// The tree as of the job an Accurate Incremental/Differential extends: per path, the stat data and source digest
/// of its newest stored entry (`JobChain.state(asOf:)`), plus which paths the current walk has seen.
///
/// One walk uses a state at a time (the walker thread); read `unseen` after the walk has finished. 20,000 entries
/// take a few MiB.
public final class AccurateState: @unchecked Sendable {
    /// What the comparison letters need from the previous record.
    struct Previous {
        var kind: EntryKind
        var mode: UInt32
        var inode: UInt64
        var nlink: UInt64
        var uid: UInt32
        var gid: UInt32
        var size: UInt64
        var atime: FileStat.Timestamp
        var mtime: FileStat.Timestamp
        var ctime: FileStat.Timestamp
        var sourceSHA256: [UInt8]?
    }

    private var index: [[UInt8]: Int] = [:]
    private var paths: [[UInt8]] = []
    private var entries: [Previous] = []
    private var seen: [Bool] = []

    /// Builds the state from the previous tree's records (only `stored` ones count).
    public init(records: some Collection<FileRecord>) {
        index.reserveCapacity(records.count)
        paths.reserveCapacity(records.count)
        entries.reserveCapacity(records.count)
        for record in records where record.status == .stored {
            if let existing = index[record.path] {
                entries[existing] = Previous(record)
                continue
            }
            index[record.path] = entries.count
            paths.append(record.path)
            entries.append(Previous(record))
        }
        seen = [Bool](repeating: false, count: entries.count)
    }

    /// Number of paths in the previous state.
    public var count: Int { entries.count }

    /// Looks `path` up and marks it seen; nil when the previous state does not have it.
    func lookUpAndMark(_ path: UnsafeBufferPointer<UInt8>) -> Previous? {
        guard let position = index[Array(path)] else { return nil }
        seen[position] = true
        return entries[position]
    }

    /// Marks `path` seen, if the previous state has it.
    func mark(_ path: UnsafeBufferPointer<UInt8>) {
        if let position = index[Array(path)] { seen[position] = true }
    }

    /// Marks `path` and everything below it as seen: the walk could not look there (an unreadable directory, a
    /// failed `lstat` other than "no such file"), so nothing there is known to be deleted.
    func markSubtree(_ path: [UInt8]) {
        if let position = index[path] { seen[position] = true }
        var prefix = path
        if prefix.last != UInt8(ascii: "/") { prefix.append(UInt8(ascii: "/")) }
        for (position, candidate) in paths.enumerated() where !seen[position] && candidate.starts(with: prefix) {
            seen[position] = true
        }
    }

    /// Paths of the previous state the walk did not see, with the kind of their previous entry, in path order.
    var unseen: [(path: [UInt8], kind: EntryKind)] {
        var result: [(path: [UInt8], kind: EntryKind)] = []
        for position in entries.indices where !seen[position] {
            result.append((paths[position], entries[position].kind))
        }
        return result.sorted { $0.path.lexicographicallyPrecedes($1.path) }
    }

    /// Bareos' `AccurateCheckFile`: the letters in order until one finds a difference. `i` inode, `p` st_mode,
    /// `n` nlink, `u` uid, `g` gid, `s` size, `a` atime, `m` mtime, `c` ctime, `d` size decreased, `A` always,
    /// `5`/`1` content (regular files: SHA-256 of the file now against the recorded source SHA-256). Times compare
    /// with nanoseconds (the catalog keeps them; Bareos' attribute string has whole seconds).
    static func differs(
        _ previous: Previous, _ info: stat, letters: [UInt8], content: () -> [UInt8]?
    ) -> Bool {
        for letter in letters {
            switch letter {
            case UInt8(ascii: "i"): if previous.inode != UInt64(info.st_ino) { return true }
            case UInt8(ascii: "p"): if previous.mode != UInt32(info.st_mode) { return true }
            case UInt8(ascii: "n"): if previous.nlink != UInt64(info.st_nlink) { return true }
            case UInt8(ascii: "u"): if previous.uid != UInt32(info.st_uid) { return true }
            case UInt8(ascii: "g"): if previous.gid != UInt32(info.st_gid) { return true }
            case UInt8(ascii: "s"): if previous.size != UInt64(clamping: info.st_size) { return true }
            case UInt8(ascii: "a"): if previous.atime != FileStat.Timestamp(info.st_atim) { return true }
            case UInt8(ascii: "m"): if previous.mtime != FileStat.Timestamp(info.st_mtim) { return true }
            case UInt8(ascii: "c"): if previous.ctime != FileStat.Timestamp(info.st_ctim) { return true }
            case UInt8(ascii: "d"): if previous.size > UInt64(clamping: info.st_size) { return true }
            case UInt8(ascii: "A"): return true
            case UInt8(ascii: "5"), UInt8(ascii: "1"):
                guard UInt32(info.st_mode) & FileMode.typeMask == FileMode.regular else { continue }
                // No recorded digest: Bareos warns "Cannot verify checksum" and saves the file.
                guard let recorded = previous.sourceSHA256, let now = content() else { return true }
                if recorded != now { return true }
            default:
                continue
            }
        }
        return false
    }
}

extension AccurateState.Previous {
    init(_ record: FileRecord) {
        self.init(
            kind: record.kind, mode: record.mode, inode: record.inode, nlink: record.nlink, uid: record.uid,
            gid: record.gid, size: record.size, atime: record.atime, mtime: record.mtime, ctime: record.ctime,
            sourceSHA256: record.sourceSHA256)
    }
}
