#if canImport(Glibc)
    import Glibc
#endif

/// The state of one `FileSelector.run`: the depth-first walk over every Include's entries (section 4.2).
///
/// The walk is iterative: `levels[0..<depth]` is the stack of directories being read. Descriptors of the
/// shallowest levels are closed when the stack is deeper than the budget and reopened, name by name from the
/// top-level directory and checked by device and inode, when the walk comes back to them.
final class SelectionRun {
    private let includes: [CompiledInclude]
    private let topEntries: [[[UInt8]]]
    private let excludes: [Wildcard]
    /// Every File entry and Exclude entry as written: Bareos does not report a One FS stop at such a path.
    private let namedPaths: Set<[UInt8]>
    private let maxOpenDirectories: Int
    private let emit: (SelectionEvent) throws -> Void

    private let path = PathBuffer()
    private var levels: [DirectoryLevel] = []
    private var depth = 0
    /// Levels `1..<firstOpen` have closed descriptors; `firstOpen..<depth` and level 0 are open.
    private var firstOpen = 1
    /// The Include being walked (set before any entry is visited).
    private var include: CompiledInclude!
    private var hardLinks: [InodeKey: [UInt8]] = [:]
    private var mountTable: MountTable?
    private var linkBuffer = [UInt8](repeating: 0, count: 4096)
    /// `.since`: the since time in nanoseconds; nil for a Full or an Accurate walk.
    private let sinceNanoseconds: Int64?
    /// `.accurate`: the previous state, marked as the walk sees entries.
    private let accurate: AccurateState?
    private var contentDigester: Digester?
    private var contentBuffer: [UInt8] = []

    private struct InodeKey: Hashable {
        var dev: UInt64
        var ino: UInt64
    }

    init(
        includes: [CompiledInclude], topEntries: [[[UInt8]]], excludePatterns: [[UInt8]], maxOpenDirectories: Int,
        changes: ChangeTest = .all, emit: @escaping (SelectionEvent) throws -> Void
    ) {
        switch changes {
        case .all:
            sinceNanoseconds = nil
            accurate = nil
        case .since(let time):
            sinceNanoseconds = ChangeTest.nanoseconds(time)
            accurate = nil
        case .accurate(let state):
            sinceNanoseconds = nil
            accurate = state
        }
        self.includes = includes
        self.topEntries = topEntries
        excludes = excludePatterns.map { Wildcard($0) }
        namedPaths = Set(topEntries.joined()).union(excludePatterns)
        self.maxOpenDirectories = maxOpenDirectories
        self.emit = emit
    }

    func walk() throws {
        for (index, compiled) in includes.enumerated() {
            include = compiled
            for entry in topEntries[index] {
                try visitTopLevel(entry)
            }
        }
    }

    func closeAll() {
        for level in levels { level.closeDescriptor() }
        depth = 0
    }

    // MARK: - Top-level entries

    private func visitTopLevel(_ written: [UInt8]) throws {
        var info = stat()
        let statResult = SelectIO.withCString(written) { fstatat(AT_FDCWD, $0, &info, AT_SYMLINK_NOFOLLOW) }
        // The entry's own name: as written without trailing slashes ("/" stays "/").
        var length = written.count
        while length > 1 && written[length - 1] == UInt8(ascii: "/") { length -= 1 }
        guard statResult == 0 else {
            let error = errno
            if error != ENOENT { accurate?.markSubtree(Array(written[0..<length])) }
            try problem(.error, written, "Could not stat \(SelectIO.display(written)): \(SelectIO.errorText(error))")
            return
        }
        path.reset(to: written[0..<length])
        let isRoot = length == 1 && written[0] == UInt8(ascii: "/")

        let mode = UInt32(info.st_mode)
        guard let kind = EntryKind(mode: mode) else { return }
        let current = include.blocks[include.lastBlockIndex]
        if !current.fsTypes.isEmpty {
            let type = fsType(device: UInt64(info.st_dev))
            if type == nil || !current.fsTypes.contains(type!) {
                let severity: SelectionProblem.Severity = type == nil ? .warning : .info
                let name = type ?? "unknown"
                try problem(
                    severity, path.array,
                    "Skipping \(SelectIO.display(path.bytes)): file system type \(name) is not in the FS Type list")
                return
            }
        }
        if kind == .file, let size = include.sizeMatch, !size.matches(UInt64(clamping: info.st_size)) { return }

        guard kind == .directory else {
            guard changed(info, block: current) else { return }
            try saveNonDirectory(kind, info, blockIndex: nil, isTopLevel: true, directoryFD: AT_FDCWD, nameStart: 0)
            return
        }
        if hasExcludeMarker(directoryFD: AT_FDCWD, nameStart: 0) { return }
        let directoryChanged = changed(info, block: current)
        let fd = SelectIO.withCString(written) { open($0, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        guard fd >= 0 else {
            let error = errno
            accurate?.markSubtree(path.array)
            try problem(
                .error, path.array,
                "Could not open directory \(SelectIO.display(path.bytes)): \(SelectIO.errorText(error))")
            return
        }
        if isRoot { path.truncate(to: 0) }
        try push(fd: fd, info, blockIndex: nil, isTopLevel: true, isRoot: isRoot, changed: directoryChanged)
        try drain()
    }

    // MARK: - The directory stack

    /// Walks until the stack is empty, emitting each directory's entry after its children.
    private func drain() throws {
        while depth > 0 {
            let level = levels[depth - 1]
            if level.hasMoreEntries {
                if level.fd < 0 {
                    guard try reopen(upTo: depth - 1) else { continue }
                }
                let (nameStart, type) = level.appendNextName(to: path)
                try visitChild(of: level, nameStart: nameStart, type: type)
            } else {
                level.closeDescriptor()
                depth -= 1
                if firstOpen > depth { firstOpen = max(1, depth) }
                path.truncate(to: level.pathLength)
                // An unchanged directory is walked but its own entry is not saved (section 5.2).
                guard level.changed else { continue }
                try saveEntry(
                    level.isRoot ? [UInt8(ascii: "/")] : path.array, .directory, level.stat!,
                    blockIndex: level.blockIndex, isTopLevel: level.isTopLevel)
            }
        }
    }

    /// Makes `fd` (an open directory whose path is in the buffer) the new top of the stack.
    private func push(
        fd: Int32, _ info: stat, blockIndex: Int?, isTopLevel: Bool, isRoot: Bool = false, changed: Bool
    ) throws {
        if depth == levels.count { levels.append(DirectoryLevel()) }
        let level = levels[depth]
        let error = level.load(fd: fd)
        if level.fd < 0 {
            let shown = isRoot ? [UInt8(ascii: "/")] : path.array
            accurate?.markSubtree(shown)
            try problem(
                .error, shown, "Could not open directory \(SelectIO.display(shown)): \(SelectIO.errorText(error))")
            return
        }
        level.pathLength = path.count
        level.isRoot = isRoot
        level.isTopLevel = isTopLevel
        level.blockIndex = blockIndex
        level.stat = FileStat(info)
        level.changed = changed
        depth += 1
        if depth == 1 { firstOpen = 1 }
        // Budget: level 0 plus levels firstOpen..<depth.
        while 1 + depth - firstOpen > maxOpenDirectories && firstOpen < depth - 1 {
            levels[firstOpen].closeDescriptor()
            firstOpen += 1
        }
        if error != 0 {
            let shown = isRoot ? [UInt8(ascii: "/")] : path.array
            accurate?.markSubtree(shown)
            try problem(
                .error, shown, "Could not read directory \(SelectIO.display(shown)): \(SelectIO.errorText(error))")
        }
    }

    /// Reopens levels `1...target` (all closed) from level 0, keeping only the deepest ones within the budget.
    /// On failure the unreachable levels are finished without their remaining children and false is returned.
    private func reopen(upTo target: Int) throws -> Bool {
        let keepFrom = max(1, target - maxOpenDirectories + 2)
        var parentFD = levels[0].fd
        for index in 1...target {
            let level = levels[index]
            let nameStart = levels[index - 1].pathLength + 1
            let name = path.prefix(level.pathLength)[nameStart...]
            let fd = SelectIO.withCString(name) {
                openat(parentFD, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            }
            var info = stat()
            var failure: String?
            if fd < 0 {
                failure = SelectIO.errorText(errno)
            } else if fstat(fd, &info) != 0 {
                failure = SelectIO.errorText(errno)
            } else if UInt64(info.st_dev) != level.stat?.dev || UInt64(info.st_ino) != level.stat?.ino {
                failure = "it was replaced during the walk"
            }
            if let failure {
                if fd >= 0 { close(fd) }
                for closed in 1..<index where levels[closed].fd >= 0 {
                    levels[closed].closeDescriptor()
                }
                for unreachable in index...target {
                    levels[unreachable].abandonRemainingEntries()
                    accurate?.markSubtree(path.prefix(levels[unreachable].pathLength))
                }
                firstOpen = target + 1
                let shown = path.prefix(level.pathLength)
                try problem(.error, shown, "Could not reopen directory \(SelectIO.display(shown)): \(failure)")
                return false
            }
            level.adopt(fd: fd)
            if index - 1 >= 1 && index - 1 < keepFrom { levels[index - 1].closeDescriptor() }
            parentFD = fd
        }
        firstOpen = keepFrom
        return true
    }

    // MARK: - Children

    private func visitChild(of parent: DirectoryLevel, nameStart: Int, type: UInt8) throws {
        var info = stat()
        let statResult = fstatat(parent.fd, cName(nameStart), &info, AT_SYMLINK_NOFOLLOW)
        guard statResult == 0 else {
            let error = errno
            if error != ENOENT { accurate?.markSubtree(path.array) }
            if case .accept = decide(isDirectory: type == UInt8(DT_DIR)) {
                try problem(
                    .error, path.array, "Could not stat \(SelectIO.display(path.bytes)): \(SelectIO.errorText(error))")
            }
            return
        }
        guard let kind = EntryKind(mode: UInt32(info.st_mode)) else { return }
        if kind == .directory {
            try visitDirectory(of: parent, info, nameStart: nameStart)
            return
        }
        if kind == .file, let size = include.sizeMatch, !size.matches(UInt64(clamping: info.st_size)) { return }
        guard case .accept(let blockIndex) = decide(isDirectory: false) else {
            // Bareos tests for changes before matching: a rejected entry still counts as seen.
            accurate?.mark(path.bytes)
            return
        }
        guard changed(info, block: include.blocks[blockIndex ?? include.lastBlockIndex]) else { return }
        try saveNonDirectory(
            kind, info, blockIndex: blockIndex, isTopLevel: false, directoryFD: parent.fd, nameStart: nameStart)
    }

    private func visitDirectory(of parent: DirectoryLevel, _ info: stat, nameStart: Int) throws {
        if hasExcludeMarker(directoryFD: parent.fd, nameStart: nameStart) { return }
        guard case .accept(let blockIndex) = decide(isDirectory: true) else {
            accurate?.mark(path.bytes)
            return
        }
        let block = include.blocks[blockIndex ?? include.lastBlockIndex]
        let directoryChanged = changed(info, block: block)

        var stop: (note: String, message: String?)?
        if !block.recurse {
            stop = ("not descended: Recurse = no", "Not descending into \(SelectIO.display(path.bytes)): Recurse = no")
        } else if UInt64(info.st_dev) != parent.stat?.dev {
            if block.oneFS {
                // Like Bareos, no message for a path that is itself named in the FileSet (e.g. `/dev` under `/`).
                let message =
                    namedPaths.contains(path.array)
                    ? nil : "Not descending into \(SelectIO.display(path.bytes)): other file system (One FS = yes)"
                stop = ("not descended: other file system (One FS)", message)
            } else if !block.fsTypes.isEmpty {
                let type = fsType(device: UInt64(info.st_dev))
                if type == nil || !block.fsTypes.contains(type!) {
                    let name = type ?? "unknown"
                    let shown = SelectIO.display(path.bytes)
                    stop = (
                        "not descended: file system type \(name) not listed",
                        "Not descending into \(shown): file system type \(name) is not in the FS Type list"
                    )
                }
            }
        }
        if let stop {
            // Saved even when unchanged: Bareos' not-descended markers replace the "unchanged" one (section 4.2
            // step 7 (d)/(e), Review corrections item 5).
            if let message = stop.message { try problem(.info, path.array, message) }
            try saveEntry(
                path.array, .directory, FileStat(info), blockIndex: blockIndex, isTopLevel: false, note: stop.note)
            return
        }
        let fd = openat(parent.fd, cName(nameStart), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            let error = errno
            accurate?.markSubtree(path.array)
            try problem(
                .error, path.array,
                "Could not open directory \(SelectIO.display(path.bytes)): \(SelectIO.errorText(error))")
            return
        }
        try push(fd: fd, info, blockIndex: blockIndex, isTopLevel: false, changed: directoryChanged)
    }

    // MARK: - Saving

    private func saveNonDirectory(
        _ kind: EntryKind, _ info: stat, blockIndex: Int?, isTopLevel: Bool, directoryFD: Int32, nameStart: Int
    ) throws {
        let block = include.blocks[blockIndex ?? include.lastBlockIndex]
        if block.hardLinks && info.st_nlink > 1 && kind != .symlink {
            let key = InodeKey(dev: UInt64(info.st_dev), ino: UInt64(info.st_ino))
            let current = path.array
            if let first = hardLinks[key] {
                if first == current { return }
                try saveEntry(
                    current, .hardLink, FileStat(info), linkTarget: first, blockIndex: blockIndex,
                    isTopLevel: isTopLevel)
                return
            }
            if kind == .socket {
                try problem(.info, current, "Skipping socket \(SelectIO.display(current))")
                return
            }
            try saveEntry(current, kind, FileStat(info), blockIndex: blockIndex, isTopLevel: isTopLevel)
            hardLinks[key] = current
            return
        }
        var target: [UInt8]?
        switch kind {
        case .socket:
            try problem(.info, path.array, "Skipping socket \(SelectIO.display(path.bytes))")
            return
        case .symlink:
            guard let link = readLink(directoryFD: directoryFD, nameStart: nameStart) else {
                let error = errno
                try problem(
                    .error, path.array,
                    "Could not read symbolic link \(SelectIO.display(path.bytes)): \(SelectIO.errorText(error))")
                return
            }
            target = link
        default:
            break
        }
        try saveEntry(
            path.array, kind, FileStat(info), linkTarget: target, blockIndex: blockIndex, isTopLevel: isTopLevel)
    }

    private func saveEntry(
        _ entryPath: [UInt8], _ kind: EntryKind, _ info: FileStat, linkTarget: [UInt8]? = nil, blockIndex: Int?,
        isTopLevel: Bool, note: String? = nil
    ) throws {
        let effective = blockIndex ?? include.lastBlockIndex
        try emit(
            .entry(
                SelectedEntry(
                    path: entryPath, kind: kind, stat: info, linkTarget: linkTarget, includeIndex: include.index,
                    blockIndex: blockIndex, effectiveBlockIndex: effective, isTopLevel: isTopLevel,
                    chain: include.blocks[effective].chain, note: note)))
    }

    private func problem(_ severity: SelectionProblem.Severity, _ problemPath: [UInt8], _ message: String) throws {
        try emit(.problem(SelectionProblem(severity: severity, path: problemPath, message: message)))
    }

    // MARK: - Change test

    /// Whether the entry whose path is in the buffer must be saved at this level (sections 5.2, 5.3): always for a
    /// Full; since-time test with the block's MtimeOnly; Accurate comparison (which also marks the path seen).
    @inline(__always)
    private func changed(_ info: stat, block: CompiledBlock) -> Bool {
        if let since = sinceNanoseconds {
            if Int64(info.st_mtim.tv_sec) &* 1_000_000_000 &+ Int64(info.st_mtim.tv_nsec) >= since { return true }
            if block.mtimeOnly { return false }
            return Int64(info.st_ctim.tv_sec) &* 1_000_000_000 &+ Int64(info.st_ctim.tv_nsec) >= since
        }
        guard let accurate else { return true }
        guard let previous = accurate.lookUpAndMark(path.bytes) else { return true }
        return AccurateState.differs(previous, info, letters: include.accurateLetters) { contentSHA256() }
    }

    /// SHA-256 of the regular file whose path is in the buffer (Accurate letters `5`/`1`); nil if unreadable.
    private func contentSHA256() -> [UInt8]? {
        // The buffer already holds the path NUL-terminated: no copy.
        guard let fd = try? SystemCall.retrying({ open(cName(0), O_RDONLY | O_NOFOLLOW | O_CLOEXEC) }) else {
            return nil
        }
        let file = FileDescriptor(rawValue: fd)
        defer { try? file.close() }
        guard let digester = try? contentDigester ?? Digester(.sha256) else { return nil }
        contentDigester = digester
        digester.reset()
        if contentBuffer.isEmpty { contentBuffer = [UInt8](repeating: 0, count: 1 << 16) }
        while true {
            guard let count = contentBuffer.withUnsafeMutableBytes({ try? file.read(into: $0) }) else { return nil }
            if count == 0 { return try? digester.finalize() }
            contentBuffer.withUnsafeBytes { digester.update(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
        }
    }

    // MARK: - Helpers

    private func decide(isDirectory: Bool) -> CompiledInclude.Decision {
        include.decide(path.bytes, isDirectory: isDirectory, excludes: excludes)
    }

    /// The name starting at `nameStart` in the path buffer, as a C string (valid until the buffer changes).
    private func cName(_ nameStart: Int) -> UnsafePointer<CChar> {
        UnsafeRawPointer(path.base + nameStart).assumingMemoryBound(to: CChar.self)
    }

    /// Exclude Dir Containing: whether `<dir>/<name>` exists for one of the Include's names (any file type; the
    /// check follows symbolic links, as Bareos' `stat` does). The directory is the buffer's path from `nameStart`,
    /// relative to `directoryFD`.
    private func hasExcludeMarker(directoryFD: Int32, nameStart: Int) -> Bool {
        guard !include.excludeDirContaining.isEmpty else { return false }
        let length = path.count
        defer { path.truncate(to: length) }
        var info = stat()
        for marker in include.excludeDirContaining {
            path.truncate(to: length)
            path.append(byte: UInt8(ascii: "/"))
            path.append(marker)
            if fstatat(directoryFD, cName(nameStart), &info, 0) == 0 { return true }
        }
        return false
    }

    private func readLink(directoryFD: Int32, nameStart: Int) -> [UInt8]? {
        while true {
            let count = linkBuffer.withUnsafeMutableBytes { buffer in
                readlinkat(
                    directoryFD, cName(nameStart), buffer.baseAddress!.assumingMemoryBound(to: CChar.self),
                    buffer.count)
            }
            if count < 0 { return nil }
            if count < linkBuffer.count { return Array(linkBuffer[0..<count]) }
            linkBuffer = [UInt8](repeating: 0, count: linkBuffer.count * 2)
        }
    }

    private func fsType(device: UInt64) -> String? {
        if mountTable == nil { mountTable = MountTable.load() }
        return mountTable!.fsType(device: device, path: path.bytes)
    }
}

@available(*, unavailable)
extension SelectionRun: Sendable {}
