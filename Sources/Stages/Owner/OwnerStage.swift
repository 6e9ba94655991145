#if canImport(Glibc)
import Glibc
#endif
import Pipeline

/// `owner`: keeps or skips entries by their owner and group.
///
/// ```
/// owner:exclude_user=nobody,1000-1999:include_group=staff:prune_dirs=yes
/// ```
///
/// Rules, in this order (the first that applies decides):
/// 1. A directory is never skipped (its contents are reached) unless `prune_dirs=yes`.
/// 2. `exclude_user` / `exclude_group`: an entry whose uid (gid) is listed is skipped. Exclude always wins.
/// 3. With any `include_user` or `include_group` given, an entry is kept only when its uid is in `include_user`
///    or its gid is in `include_group`; otherwise it is skipped.
/// 4. Otherwise the entry is kept.
///
/// With `prune_dirs=yes` directories follow rules 2 and 3 too, and an entry below a directory that rule 2 skips
/// is skipped as well (`below excluded directory ...`). The walk offers a directory after its contents, so the
/// stage looks at the entry's ancestor directories itself: one `lstat` per directory, cached for the job, and
/// only up to the FileSet's `File =` paths (`StageContext.fileRoots`): the directories above them are not backed
/// up and decide nothing.
///
/// Names are resolved when the stage is created (an unknown name is an error that `check` reports), except for a
/// restore, where the stage decides nothing; a decision is a few integer comparisons. The stage has no side effects, so `estimate --listing` shows its decisions.
public final class OwnerStage: Stage {
    public static let optionNames = ["include_user", "exclude_user", "include_group", "exclude_group", "prune_dirs"]

    public let name: String
    let includeUsers: OwnerIDSet
    let excludeUsers: OwnerIDSet
    let includeGroups: OwnerIDSet
    let excludeGroups: OwnerIDSet
    let pruneDirs: Bool
    /// The include options given, for reasons (`include_user/include_group`).
    private let includeOptions: String

    /// Names of ids met in skip reasons.
    private let names = Locked<[OwnerIDSet.Kind: [UInt32: String]]>([:])
    /// `prune_dirs=yes`: for each directory seen as an ancestor, the reason it is excluded (nil: not excluded).
    private let ancestors = Locked<[[UInt8]: String?]>([:])

    public init(string: String, environment: StageEnvironment = StageEnvironment()) throws(StageOptions.Problem) {
        let options = try StageOptions(string, valid: Self.optionNames)
        name = string
        func set(_ option: String, _ kind: OwnerIDSet.Kind) throws(StageOptions.Problem) -> OwnerIDSet {
            // At restore the stage decides nothing: names are not resolved (the user may be gone since).
            guard let list = options[option], !environment.forRestore else { return OwnerIDSet() }
            do {
                return try OwnerIDSet(list, kind: kind, option: option)
            } catch {
                throw StageOptions.Problem(stage: options.stage, message: error.message)
            }
        }
        includeUsers = try set("include_user", .user)
        excludeUsers = try set("exclude_user", .user)
        includeGroups = try set("include_group", .group)
        excludeGroups = try set("exclude_group", .group)
        pruneDirs = try options.bool("prune_dirs", default: false)
        includeOptions = ["include_user", "include_group"].filter { options[$0] != nil }.joined(separator: "/")
        var known: [OwnerIDSet.Kind: [UInt32: String]] = [:]
        known[.user] = includeUsers.names.merging(excludeUsers.names) { first, _ in first }
        known[.group] = includeGroups.names.merging(excludeGroups.names) { first, _ in first }
        names.withLock { $0 = known }
    }

    public var hasSideEffects: Bool { false }
    /// No restore role (no inverse transform, no sink).
    public var restoresConcurrently: Bool { true }

    public func handle(_ event: JobEvent, context: StageContext) throws {
        if case .jobStarted = event { ancestors.withLock { $0.removeAll() } }
    }

    public func decide(_ item: inout FileItem, context: StageContext) throws -> StageDecision {
        if item.kind == .directory && !pruneDirs { return .core }
        if let reason = verdict(uid: item.stat.uid, gid: item.stat.gid) { return .skip(reason: reason) }
        if pruneDirs, let reason = excludedAncestor(of: item.path, roots: context.fileRoots) {
            return .skip(reason: reason)
        }
        return .core
    }

    /// Why an entry owned by `uid`:`gid` is skipped, nil when it is kept (rules 2 and 3).
    func verdict(uid: UInt32, gid: UInt32) -> String? {
        if let reason = excluded(uid: uid, gid: gid) { return reason }
        if !includeOptions.isEmpty && !includeUsers.contains(uid) && !includeGroups.contains(gid) {
            return "owner \(describe(.user, uid)), group \(describe(.group, gid)) matches no \(includeOptions)"
        }
        return nil
    }

    private func excluded(uid: UInt32, gid: UInt32) -> String? {
        if excludeUsers.contains(uid) { return "owner \(describe(.user, uid)) excluded by exclude_user" }
        if excludeGroups.contains(gid) { return "group \(describe(.group, gid)) excluded by exclude_group" }
        return nil
    }

    /// `uid 1001 (bob)`, or `uid 1001` for an id without a name.
    private func describe(_ kind: OwnerIDSet.Kind, _ id: UInt32) -> String {
        let label = kind == .user ? "uid" : "gid"
        let cached = names.withLock { $0[kind]?[id] }
        let name: String?
        if let cached {
            name = cached
        } else {
            name = kind == .user ? OwnerNameLookup.userName(id) : OwnerNameLookup.groupName(id)
            names.withLock { $0[kind, default: [:]][id] = name ?? "" }
        }
        guard let name, !name.isEmpty else { return "\(label) \(id)" }
        return "\(label) \(id) (\(name))"
    }

    // MARK: - prune_dirs

    /// The reason an ancestor directory of `path` (below `/`, at or below one of `roots` when there are roots) is
    /// excluded, nil when none is.
    private func excludedAncestor(of path: [UInt8], roots: [[UInt8]]) -> String? {
        guard let parent = Self.parent(of: path) else { return nil }
        return ancestorReason(parent, roots: roots)
    }

    /// True when `directory` is a `File =` path or below one (always true without roots).
    static func isWalked(_ directory: [UInt8], roots: [[UInt8]]) -> Bool {
        roots.isEmpty
            || roots.contains { root in
                directory == root
                    || (directory.count > root.count && directory.starts(with: root)
                        && (root == [UInt8(ascii: "/")] || directory[root.count] == UInt8(ascii: "/")))
            }
    }

    private func ancestorReason(_ directory: [UInt8], roots: [[UInt8]]) -> String? {
        guard Self.isWalked(directory, roots: roots) else { return nil }
        if let known = ancestors.withLock({ $0[directory] }) { return known }
        // Outer directories first: the reason names the outermost excluded one.
        var reason = Self.parent(of: directory).flatMap { ancestorReason($0, roots: roots) }
        if reason == nil {
            var info = stat()
            var cPath = directory + [0]
            let found = cPath.withUnsafeMutableBytes { lstat($0.baseAddress!.assumingMemoryBound(to: CChar.self), &info) == 0 }
            if found, let excluded = excluded(uid: info.st_uid, gid: info.st_gid) {
                reason = "below excluded directory \(String(decoding: directory, as: UTF8.self)): \(excluded)"
            }
        }
        ancestors.withLock { $0[directory] = .some(reason) }
        return reason
    }

    /// The parent directory of an absolute path, nil for `/` and for the entries directly in `/`.
    static func parent(of path: [UInt8]) -> [UInt8]? {
        guard let slash = path.lastIndex(of: UInt8(ascii: "/")), slash > path.startIndex else { return nil }
        return Array(path[..<slash])
    }
}
