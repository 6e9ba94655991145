internal import CLinux
#if canImport(Glibc)
import Glibc
#endif

/// `verify --jobid ID --against-live`: compares the live files with the tree as of a job (its ``JobChain`` state)
/// without restoring anything — bit-rot and tampering detection.
///
/// For every entry of the state: a regular file must exist as a regular file with the recorded size, mtime
/// (seconds and nanoseconds) and SHA-256 of its content (the file is always read, so a flipped byte under an
/// unchanged size and mtime is found); a symbolic link must point where it did; a directory, fifo or device must
/// exist as one (devices with the same device number); a hard link must still share its first name's inode.
/// Entries on disk that the state does not have are reported as new: with a FileSet, every entry its selection
/// picks (so exclusions are respected); without one, every entry of the state's directories that exist (a new
/// directory is walked too, so its contents are reported). Paths the chain recorded as skipped or failed are
/// known to the catalog and not reported as new.
///
/// Limits: a file whose bytes came from a stage that took its I/O over is compared with what that stage gave at
/// backup, so it shows as changed unless the stage reproduces the file's bytes. The live tree is read while it
/// may change; what is reported is what was seen.
public final class LiveVerifyJob {
    /// One way the live tree differs from the catalog.
    public struct Difference: Sendable {
        public enum Kind: String, Sendable {
            /// In both, but different: ``fields`` says what (`type`, `size`, `mtime`, `digest`, `target`, `rdev`,
            /// `link`).
            case changed
            /// In the catalog, not on disk.
            case missing
            /// On disk under the job's paths, not in the catalog.
            case new
            /// Could not be checked (unreadable file, unreadable directory).
            case error
        }

        public var kind: Kind
        public var path: [UInt8]
        public var fields: [String]
        /// The catalog's kind of entry for changed/missing, the live kind for new.
        public var entryKind: EntryKind?
        public var message: String
    }

    let catalog: any CatalogStore
    let jobID: JobID
    let fileSet: FileSet?
    public let progress: ProgressCounters
    public let cancellation: CancellationFlag
    /// Made on the first file read (a libcrypto that cannot make one fails that file, not the process).
    private var sha256State: Digester?
    private var buffer = [UInt8](repeating: 0, count: 1 << 20)

    /// - Parameter fileSet: the job's FileSet (absolute `File =` entries), to find new entries exactly as a backup
    ///   would select them; nil walks the directories of the state instead.
    public init(
        catalog: any CatalogStore, jobID: JobID, fileSet: FileSet? = nil, progress: ProgressCounters = ProgressCounters(),
        cancellation: CancellationFlag = CancellationFlag()
    ) {
        self.catalog = catalog
        self.jobID = jobID
        self.fileSet = fileSet
        self.progress = progress
        self.cancellation = cancellation
    }

    /// Runs the comparison. `summary.entriesStored` counts the entries of the state checked, `filesExamined` the
    /// regular files read, `filesStored` those that matched, `bytesRead` the bytes hashed; the status is `ok` when
    /// nothing differs, `failed` when something does, `warnings` when only errors (unreadable entries) occurred.
    /// Differences come sorted by path (byte order) within each kind: changed, missing, new, error.
    public func run() throws -> (summary: JobSummary, differences: [Difference]) {
        let started = Clock.monotonic()
        let cpuStarted = Clock.cpuSeconds()
        guard let job = try catalog.job(jobID) else { throw BackupError("no job with JobId \(jobID.rawValue) in the catalog") }
        var summary = JobSummary(jobID: jobID.rawValue, jobName: job.name, level: job.level.name, status: .running)
        let chain = try JobChain.jobs(asOf: jobID, in: catalog)
        let state = try JobChain.state(asOf: jobID, in: catalog)
        var differences: [Difference] = []

        for path in state.keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            if cancellation.isCancelled { break }
            let record = state[path]!
            progress.currentPath = path
            if let difference = compare(record, summary: &summary) { differences.append(difference) }
            summary.entriesStored += 1
            progress.entries.add(1, ordering: .relaxed)
        }

        // Paths the chain saw but did not store (skipped by a stage or option, failed): not "new".
        var notStored = Set<[UInt8]>()
        for member in chain {
            try catalog.forEachFile(job: member.id) { record in
                switch record.status {
                case .skipped, .failed: if state[record.path] == nil { notStored.insert(record.path) }
                case .stored, .deleted: notStored.remove(record.path)
                }
            }
        }
        if !cancellation.isCancelled {
            var found: [Difference] = []
            if let fileSet {
                try newEntries(selectedBy: fileSet, state: state, notStored: notStored, into: &found)
            } else {
                newEntries(walking: state, notStored: notStored, into: &found)
            }
            differences += found.sorted { $0.path.lexicographicallyPrecedes($1.path) }
        }

        let order: [Difference.Kind: Int] = [.changed: 0, .missing: 1, .new: 2, .error: 3]
        differences = differences.enumerated().sorted { a, b in
            (order[a.element.kind]!, a.offset) < (order[b.element.kind]!, b.offset)
        }.map(\.element)
        let mismatches = differences.filter { $0.kind != .error }.count
        summary.errors = differences.count - mismatches
        summary.status =
            cancellation.isCancelled ? .cancelled : (mismatches > 0 ? .failed : (summary.errors > 0 ? .warnings : .ok))
        summary.failure = cancellation.isCancelled ? cancellation.reason : nil
        summary.wallSeconds = Clock.monotonic() - started
        summary.cpuSeconds = Clock.cpuSeconds() - cpuStarted
        summary.peakRSSBytes = Clock.peakRSSBytes()
        return (summary, differences)
    }

    // MARK: - Entries of the state

    private static func kind(of mode: UInt32) -> EntryKind {
        switch mode & UInt32(S_IFMT) {
        case UInt32(S_IFREG): return .file
        case UInt32(S_IFDIR): return .directory
        case UInt32(S_IFLNK): return .symlink
        case UInt32(S_IFIFO): return .fifo
        case UInt32(S_IFCHR): return .charDevice
        case UInt32(S_IFBLK): return .blockDevice
        default: return .socket
        }
    }

    private func lstatPath(_ path: [UInt8]) -> (stat?, Int32) {
        var st = stat()
        let result = FileReader.withCPath(path) { lstat($0, &st) }
        return result == 0 ? (st, 0) : (nil, errno)
    }

    private func compare(_ record: FileRecord, summary: inout JobSummary) -> Difference? {
        let path = record.path
        func difference(_ kind: Difference.Kind, _ fields: [String], _ message: String) -> Difference {
            Difference(kind: kind, path: path, fields: fields, entryKind: record.kind, message: message)
        }
        let (live, code) = lstatPath(path)
        guard let live else {
            if code == ENOENT || code == ENOTDIR { return difference(.missing, [], "not on disk") }
            return difference(.error, [], "cannot examine: \(String(cString: strerror(code)))")
        }
        let liveKind = LiveVerifyJob.kind(of: UInt32(live.st_mode))
        let expectedKind = record.kind == .hardLink ? EntryKind.file : record.kind
        if liveKind != expectedKind {
            return difference(.changed, ["type"], "was a \(record.kind.rawValue), is a \(liveKind.rawValue) now")
        }
        switch record.kind {
        case .file:
            summary.filesExamined += 1
            var fields: [String] = []
            var notes: [String] = []
            if UInt64(live.st_size) != record.size {
                fields.append("size")
                notes.append("size \(live.st_size), catalog \(record.size)")
            }
            let mtime = FileStat.Timestamp(seconds: Int64(live.st_mtim.tv_sec), nanoseconds: Int32(live.st_mtim.tv_nsec))
            if mtime != record.mtime {
                fields.append("mtime")
                notes.append("mtime \(mtime.seconds).\(LiveVerifyJob.nanos(mtime)), catalog \(record.mtime.seconds)."
                    + LiveVerifyJob.nanos(record.mtime))
            }
            if let stage = record.stageMetadata[VolumeMember.sourceStageKey] {
                // The stored bytes are what the stage produced (e.g. a plugin's plugin_io), not the file's content:
                // only size and mtime can be compared.
                if fields.isEmpty {
                    summary.filesStored += 1
                    progress.files.add(1, ordering: .relaxed)
                    return nil
                }
                return difference(.changed, fields, notes.joined(separator: "; ") + " (content taken over by stage \(stage))")
            }
            let digest: [UInt8]
            do {
                digest = try sha256(of: path, summary: &summary)
            } catch {
                return difference(.error, fields, "cannot read: \(error)")
            }
            guard let expected = record.sourceSHA256 else {
                return difference(.error, fields, "the catalog has no SHA-256 for this file: content not compared")
            }
            if digest != expected {
                fields.insert("digest", at: 0)
                notes.insert("SHA-256 \(Hex.encode(digest)), catalog \(Hex.encode(expected))", at: 0)
            }
            if fields.isEmpty {
                summary.filesStored += 1
                progress.files.add(1, ordering: .relaxed)
                return nil
            }
            return difference(.changed, fields, notes.joined(separator: "; "))
        case .hardLink:
            // The data is checked under the first name; here only that both names are still one inode.
            guard let target = record.linkTarget else { return nil }
            let (first, _) = lstatPath(target)
            if let first, first.st_ino == live.st_ino && first.st_dev == live.st_dev { return nil }
            return difference(
                .changed, ["link"], "no longer a hard link of \(String(decoding: target, as: UTF8.self))")
        case .symlink:
            let target = readLink(path)
            if let target, target == (record.linkTarget ?? []) { return nil }
            return difference(
                .changed, ["target"],
                "points to \(target.map { String(decoding: $0, as: UTF8.self) } ?? "?"), catalog "
                    + String(decoding: record.linkTarget ?? [], as: UTF8.self))
        case .charDevice, .blockDevice:
            if UInt64(live.st_rdev) == record.rdev { return nil }
            return difference(.changed, ["rdev"], "device number \(live.st_rdev), catalog \(record.rdev)")
        case .directory, .fifo, .socket:
            return nil
        }
    }

    private static func nanos(_ time: FileStat.Timestamp) -> String {
        let digits = String(time.nanoseconds)
        return String(repeating: "0", count: max(0, 9 - digits.count)) + digits
    }

    private func readLink(_ path: [UInt8]) -> [UInt8]? {
        var target = [UInt8](repeating: 0, count: 4096)
        let count = FileReader.withCPath(path) { name in
            target.withUnsafeMutableBytes { readlink(name, $0.baseAddress!.assumingMemoryBound(to: CChar.self), $0.count) }
        }
        return count < 0 ? nil : Array(target[0..<count])
    }

    /// SHA-256 of the file's content (opened without following a symlink, without touching its atime).
    private func sha256(of path: [UInt8], summary: inout JobSummary) throws -> [UInt8] {
        // Non-blocking open, then the descriptor must still be a regular file: a FIFO or device swapped in after
        // the lstat must not block or feed the digest forever.
        let fd = try FileReader.open(path, noAtime: true)
        defer { close(fd) }
        let digester = try sha256State ?? Digester(.sha256)
        sha256State = digester
        digester.reset()
        while true {
            if cancellation.isCancelled { throw BackupError("cancelled") }
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw FileReader.FileProblem.errno("read error")
            }
            if count == 0 { break }
            buffer.withUnsafeBytes { digester.update(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
            summary.bytesRead += UInt64(count)
            progress.bytes.add(UInt64(count), ordering: .relaxed)
        }
        return try digester.finalize()
    }

    // MARK: - New entries

    private func newEntries(
        selectedBy fileSet: FileSet, state: [[UInt8]: FileRecord], notStored: Set<[UInt8]>,
        into found: inout [Difference]
    ) throws {
        let selector: FileSelector
        do {
            selector = try FileSelector(fileSet: fileSet)
        } catch {
            throw BackupError(error.description)
        }
        try selector.run { event in
            if cancellation.isCancelled { throw BackupError("cancelled") }
            switch event {
            case .entry(let entry):
                if state[entry.path] == nil && !notStored.contains(entry.path) {
                    let kind = entry.kind == .hardLink ? EntryKind.file : entry.kind
                    found.append(
                        Difference(kind: .new, path: entry.path, fields: [], entryKind: kind, message: "not in the catalog"))
                }
            case .problem(let problem):
                // Entries of the state were compared already (a missing top-level File is "missing").
                if problem.severity == .error && state[problem.path] == nil {
                    found.append(
                        Difference(kind: .error, path: problem.path, fields: [], entryKind: nil, message: problem.message))
                }
            }
        }
    }

    /// Lists every directory of the state that is a directory on disk; a new directory is walked too.
    private func newEntries(walking state: [[UInt8]: FileRecord], notStored: Set<[UInt8]>, into found: inout [Difference]) {
        var pending = state.values.filter { $0.kind == .directory }.map(\.path)
        while let directory = pending.popLast() {
            if cancellation.isCancelled { return }
            let stream = FileReader.withCPath(directory) { name -> OpaquePointer? in
                let fd = open(name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                if fd < 0 { return nil }
                guard let stream = fdopendir(fd) else {
                    close(fd)
                    return nil
                }
                return stream
            }
            guard let stream else {
                let code = errno
                // Missing or replaced directories were reported by the comparison.
                if code != ENOENT && code != ENOTDIR && code != ELOOP {
                    found.append(
                        Difference(
                            kind: .error, path: directory, fields: [], entryKind: .directory,
                            message: "cannot list: \(String(cString: strerror(code)))"))
                }
                continue
            }
            defer { closedir(stream) }
            while let entry = readdir(stream) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    Array(raw.prefix { $0 != 0 })
                }
                if name == [UInt8(ascii: ".")] || name == [UInt8(ascii: "."), UInt8(ascii: ".")] { continue }
                let child = directory == [UInt8(ascii: "/")] ? directory + name : directory + [UInt8(ascii: "/")] + name
                if state[child] != nil || notStored.contains(child) { continue }
                let (live, _) = lstatPath(child)
                let kind = live.map { LiveVerifyJob.kind(of: UInt32($0.st_mode)) }
                found.append(Difference(kind: .new, path: child, fields: [], entryKind: kind, message: "not in the catalog"))
                if kind == .directory { pending.append(child) }
            }
        }
    }
}
