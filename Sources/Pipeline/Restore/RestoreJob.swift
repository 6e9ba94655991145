import Synchronization
internal import CLinux
#if canImport(Glibc)
import Glibc
#endif

/// What `--replace` does when the file already exists (Bareos' restore `replace=`).
public enum ReplacePolicy: String, Sendable, CaseIterable {
    case always, ifnewer, ifolder, never
}

/// How a restore runs.
public struct RestoreSettings: Sendable {
    /// Files land at `whereDirectory` + their original absolute path (Bareos `where=`); "/" restores in place.
    public var whereDirectory: String
    public var replace: ReplacePolicy = .always
    /// Bareos wildcard patterns (`*` crosses `/`) matched against the original path; empty selects everything.
    public var select: [String] = []
    /// Write the single selected file's bytes to this descriptor instead of restoring files.
    public var outputFD: Int32?
    /// Restore one stored version of one path instead of the tree as of the job: `select` must then hold exactly
    /// that path (taken literally, not as a pattern), and this is its 1-based number in `list versions`
    /// (``FileVersions``, oldest = 1). The job is the version's own; the `jobID` given to ``RestoreJob`` is ignored.
    public var version: Int?
    /// With `version`: number only the versions written by jobs of this Job name (as `list versions --job`).
    public var versionJobName: String?
    /// Restore exactly these stored file versions (file indexes per job, e.g. the hits of `restore --from-search`)
    /// instead of the tree as of a job; the `jobID` given to ``RestoreJob`` is ignored. Paths must not repeat.
    public var exactVersions: [JobID: [Int64]]?
    public var chunkSize = 1 << 20
    /// Stage debug messages up to this level are kept (`-d N`).
    public var debugLevel = 0

    public init(whereDirectory: String) {
        self.whereDirectory = whereDirectory
    }
}

/// Restores the tree as it was at one job (decision D5): the ``JobChain`` state of the job (its Full, the newest
/// Differential, the Incrementals, minus Accurate deletions), each entry read from the volume of the job that stored
/// it — or, with ``RestoreSettings/version``, one stored version of one path.
///
/// Reads members straight from their volume offsets, runs the inverse stages, verifies the source SHA-256 before a
/// file takes its final name (temporary name + rename; a mismatch leaves no file under the final name), then
/// restores mode, owner (as root), times, xattrs and ACLs. Links, directories, fifos and devices are recreated;
/// directory metadata is applied last, deepest first.
///
/// Order: every entry but hard links first, by (JobId, file index) — so within a job a directory's own record still
/// comes after its contents — then the hard links, by the same key. A hard link of a later job may name a first name
/// stored by an earlier job, and a first name re-stored by a later job may be the target of a link from an earlier
/// one: linking after all files are in place covers both. A hard link is linked to its first name only when that
/// name is restored by this run as the same inode (same device and inode number in the catalog); otherwise (the
/// first name is not selected, was deleted, or is another file now) the link is restored as a copy of that inode's
/// data — the first name's entry in the state if it is still that inode, else its row in the newest chain job at or
/// before the link's job that stored it with that inode — with an info message.
public final class RestoreJob {
    let catalog: any CatalogStore
    /// The job whose state is restored; with a version, the version's job (known once `run` starts).
    private(set) var jobID: JobID
    /// The jobs whose entries make up the restore, oldest first (known once `run` starts).
    public private(set) var chain: [JobRecord] = []
    let settings: RestoreSettings
    let builder: StageChainBuilder
    public let progress: ProgressCounters
    public let cancellation: CancellationFlag
    private var summary: JobSummary
    private var readers: [Int64: PaxReader] = [:]
    private var volumePaths: [Int64: String] = [:]
    private var messages: [JobMessage] = []
    private let isRoot = geteuid() == 0
    private var chunk: [UInt8]
    /// Paths of regular files this run verified and renamed into place: the only ones a hard link may join.
    private var writtenFiles: Set<[UInt8]> = []
    private let digester = try! Digester(.sha256)

    public init(
        catalog: any CatalogStore, jobID: JobID, settings: RestoreSettings,
        stageFactory: @escaping StageChainBuilder.Factory, progress: ProgressCounters = ProgressCounters(),
        cancellation: CancellationFlag = CancellationFlag()
    ) {
        self.catalog = catalog
        self.jobID = jobID
        self.settings = settings
        self.builder = StageChainBuilder(factory: stageFactory)
        self.progress = progress
        self.cancellation = cancellation
        self.summary = JobSummary(jobID: jobID.rawValue, jobName: "", level: "", status: .running)
        self.chunk = [UInt8](repeating: 0, count: settings.chunkSize)
    }

    /// Problems reported during the run, oldest first (also printed by the host).
    public var problems: [JobMessage] { messages }

    private func problem(_ path: [UInt8], _ text: String, severity: String = "error") {
        messages.append(JobMessage(jobID: jobID, time: Clock.realtime(), severity: severity, stage: nil, path: path, text: text))
        if severity == "error" {
            summary.errors += 1
            progress.errors.add(1, ordering: .relaxed)
        } else if severity == "warning" {
            summary.warnings += 1
        }
    }

    /// The records the restore writes, in restore order (see the type's documentation): the chain state of the job
    /// filtered by `select`, or the one version asked for.
    public func selectedRecords() throws -> [FileRecord] {
        if let number = settings.version {
            guard settings.select.count == 1, let path = settings.select.first else {
                throw BackupError("--version needs exactly one --select PATH (the path itself, not a pattern)")
            }
            let version = try FileVersions.storedVersion(
                number, of: Array(path.utf8), jobName: settings.versionJobName, in: catalog)
            jobID = version.job.id
            chain = [version.job]
            return try ordered([version.record], state: nil)
        }
        if let exact = settings.exactVersions {
            var records: [FileRecord] = []
            chain = []
            for (job, indexes) in exact.sorted(by: { $0.key < $1.key }) {
                guard let record = try catalog.job(job) else { continue }
                chain.append(record)
                let wanted = Set(indexes)
                try catalog.forEachFile(job: job) { file in
                    if file.status == .stored && wanted.contains(file.fileIndex) { records.append(file) }
                }
            }
            jobID = chain.last?.id ?? jobID
            return try ordered(records, state: nil)
        }
        chain = try JobChain.jobs(asOf: jobID, in: catalog)
        let patterns = settings.select.map { Wildcard(Array($0.utf8)) }
        // The state is kept only while hard links need it (memory stays at about one copy of the selection).
        var state: [[UInt8]: FileRecord]? = try JobChain.state(asOf: jobID, in: catalog)
        let selected = state!.values.filter { record in
            patterns.isEmpty || patterns.contains { $0.matches(record.path) }
        }
        if !selected.contains(where: { $0.kind == .hardLink }) { state = nil }
        return try ordered(selected, state: state)
    }

    private static func restoreOrder(_ a: FileRecord, _ b: FileRecord) -> Bool {
        (a.jobID, a.fileIndex) < (b.jobID, b.fileIndex)
    }

    /// Everything but hard links by (JobId, file index), then the hard links; a link whose first name is not
    /// restored as the same inode becomes a copy of that name's data (see the type's documentation).
    private func ordered(_ records: [FileRecord], state: [[UInt8]: FileRecord]?) throws -> [FileRecord] {
        var result: [FileRecord] = []
        result.reserveCapacity(records.count)
        var pendingLinks: [FileRecord] = []
        for record in records {
            if record.kind == .hardLink { pendingLinks.append(record) } else { result.append(record) }
        }
        result.sort(by: RestoreJob.restoreOrder)
        if pendingLinks.isEmpty { return result }
        pendingLinks.sort(by: RestoreJob.restoreOrder)
        var files: [[UInt8]: (device: UInt64, inode: UInt64)] = [:]
        for record in result where record.kind == .file { files[record.path] = (record.device, record.inode) }
        var links: [FileRecord] = []
        for link in pendingLinks {
            guard let target = link.linkTarget else {
                links.append(link)  // restoreSpecial reports it
                continue
            }
            if let file = files[target], file.device == link.device, file.inode == link.inode {
                links.append(link)
                continue
            }
            guard let data = try dataRecord(forLink: link, target: target, state: state) else {
                links.append(link)  // fails in restoreSpecial: the first name is not there
                continue
            }
            var copy = data
            copy.path = link.path
            copy.fileIndex = link.fileIndex
            result.append(copy)
            problem(
                link.path,
                "hard link restored as a copy of \(String(decoding: target, as: UTF8.self)) (JobId "
                    + "\(data.jobID.rawValue)): its first name is not restored as the same file by this run",
                severity: "info")
        }
        return result + links
    }

    /// The stored data of a hard link's inode: the first name's entry in the state when it is still that inode
    /// (its newest content), else its row in the newest chain job at or before the link's job with the same device
    /// and inode.
    private func dataRecord(forLink link: FileRecord, target: [UInt8], state: [[UInt8]: FileRecord]?) throws
        -> FileRecord?
    {
        if let current = state?[target], current.kind == .file, current.device == link.device,
            current.inode == link.inode
        {
            return current
        }
        let chainIDs = Set(chain.map(\.id))
        return try catalog.versions(of: target).last { row in
            row.status == .stored && row.kind == .file && row.device == link.device && row.inode == link.inode
                && row.jobID <= link.jobID && chainIDs.contains(row.jobID)
        }
    }

    public func run() throws -> JobSummary {
        let started = Clock.monotonic()
        let cpuStarted = Clock.cpuSeconds()
        if settings.version == nil, settings.exactVersions == nil, try catalog.job(jobID) == nil {
            throw BackupError("no job with JobId \(jobID.rawValue) in the catalog")
        }
        let records = try selectedRecords()
        guard let job = chain.last else { throw BackupError("no job to restore") }
        summary.jobID = job.id.rawValue
        summary.jobName = job.name
        summary.level = job.level.name
        for member in chain {
            for volume in try catalog.volumes(job: member.id) { volumePaths[volume.id] = volume.path }
        }
        summary.filesExamined = records.filter { $0.kind == .file }.count
        summary.volumes = volumePaths.keys.sorted().compactMap { volumePaths[$0] }
        if records.isEmpty {
            throw BackupError("nothing selected: job \(jobID.rawValue) has no stored entry matching the selection")
        }
        let fatal = Mutex<String?>(nil)
        // What stages kept with the jobs whose files are restored (e.g. the gpg stage's encrypted job keys).
        var jobData: [Int64: [String: [UInt8]]] = [:]
        for id in Set(records.map(\.jobID)).union(chain.map(\.id)) { jobData[id.rawValue] = try catalog.jobData(job: id) }
        let loaded = jobData
        let context = StageContext(
            mode: .restore, jobID: jobID.rawValue, jobName: job.name, level: job.level.rawValue,
            fileSetName: job.fileSetName, debugLevel: settings.debugLevel, whereDirectory: settings.whereDirectory,
            jobData: { job, key in loaded[job]?[key] },
            onFatal: { [cancellation] reason in
                fatal.withLock { if $0 == nil { $0 = reason } }
                cancellation.cancel(reason: reason)
            })
        try builder.broadcast(.jobStarted, context: context)
        if let fd = settings.outputFD {
            try restoreToStream(records, fd: fd, context: context)
        } else {
            try restoreTree(records, context: context)
        }
        let failure = fatal.withLock { $0 }
        try? builder.broadcast(
            .jobEnded(succeeded: summary.errors == 0 && failure == nil && !cancellation.isCancelled), context: context)
        for message in context.drainMessages() { messages.append(JobMessage(jobID: jobID, message)) }
        summary.wallSeconds = Clock.monotonic() - started
        summary.cpuSeconds = Clock.cpuSeconds() - cpuStarted
        summary.peakRSSBytes = Clock.peakRSSBytes()
        if let failure {
            summary.status = .failed
            summary.failure = failure
        } else {
            summary.status = cancellation.isCancelled ? .cancelled : (summary.errors > 0 ? .warnings : .ok)
        }
        return summary
    }

    // MARK: - Volumes

    private func reader(for record: FileRecord) throws -> PaxReader {
        guard let volumeID = record.volumeID else {
            throw RestoreTarget.Problem(message: "the catalog names no volume for this entry")
        }
        if let reader = readers[volumeID] { return reader }
        if volumePaths[volumeID] == nil {
            for volume in try catalog.volumes(job: record.jobID) { volumePaths[volume.id] = volume.path }
        }
        guard let path = volumePaths[volumeID] else {
            throw RestoreTarget.Problem(message: "volume \(volumeID) of JobId \(record.jobID.rawValue) is not in the catalog")
        }
        let reader = try PaxReader(path: path)
        readers[volumeID] = reader
        return reader
    }

    /// Runs the stored bytes of a file through the inverse stages, calling `body` with the original bytes, and
    /// returns their SHA-256.
    private func decode(
        _ record: FileRecord, member: VolumeMember, location: MemberLocation, context: StageContext,
        _ body: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> [UInt8] {
        let reader = try reader(for: record)
        let compression = record.compression.flatMap(CompressionStage.parse)
        let item = RestoreItem(record)
        let inverse =
            record.chain.isEmpty && compression == nil
            ? [] : try builder.chain(for: record.chain, compression: compression).inverseTransforms(for: item, context: context)
        var pipeline = DataPath(transforms: inverse)
        digester.reset()
        func deliver(_ bytes: UnsafeRawBufferPointer) throws {
            digester.update(bytes)
            try body(bytes)
        }
        // A sparse member holds only its data segments: the holes come back as zeros, in order.
        let segments = member.sparse.map { layout in layout.segments.filter { $0.length > 0 } }
        var segmentIndex = 0
        var segmentUsed: UInt64 = 0
        var logical: UInt64 = 0
        func zeros(upTo offset: UInt64) throws {
            while logical < offset {
                let take = Int(min(offset - logical, UInt64(RestoreJob.zeros.count)))
                try RestoreJob.zeros.withUnsafeBytes { try deliver(UnsafeRawBufferPointer(rebasing: $0[0..<take])) }
                logical += UInt64(take)
            }
        }
        try reader.readData(of: member, at: location, chunkSize: settings.chunkSize) { stored in
            if cancellation.isCancelled { throw BackupError("cancelled") }
            if let segments, pipeline.isEmpty {
                var consumed = 0
                while consumed < stored.count {
                    let segment = segments[segmentIndex]
                    try zeros(upTo: segment.offset + segmentUsed)
                    let take = Int(min(UInt64(stored.count - consumed), segment.length - segmentUsed))
                    try deliver(UnsafeRawBufferPointer(rebasing: stored[consumed..<(consumed + take)]))
                    consumed += take
                    segmentUsed += UInt64(take)
                    logical += UInt64(take)
                    if segmentUsed == segment.length {
                        segmentIndex += 1
                        segmentUsed = 0
                    }
                }
            } else if pipeline.isEmpty {
                try deliver(stored)
            } else {
                // Small pieces into the inverse stages bound their output (gzip expands up to ~1000x).
                var start = 0
                while start < stored.count {
                    let end = min(stored.count, start + RestoreJob.decodePiece)
                    try pipeline.push(UnsafeRawBufferPointer(rebasing: stored[start..<end]), emit: deliver)
                    start = end
                }
            }
        }
        try pipeline.finish(emit: deliver)
        if let sparse = member.sparse, pipeline.isEmpty { try zeros(upTo: sparse.realSize) }
        return digester.finalize()
    }

    /// The member's header offset, refused when the catalog has none or a negative one.
    static func offset(_ record: FileRecord) throws -> UInt64 {
        guard let offset = record.headerOffset, offset >= 0 else {
            throw RestoreTarget.Problem(message: "the catalog has no valid volume offset for this entry")
        }
        return UInt64(offset)
    }

    /// Stored bytes handed to the inverse stages at a time (see `decode`).
    static let decodePiece = 16 << 10

    // MARK: - --stdout

    private func restoreToStream(_ records: [FileRecord], fd: Int32, context: StageContext) throws {
        let files = records.filter { $0.kind == .file }
        guard files.count == 1, let record = files.first else {
            throw BackupError("--stdout needs exactly one selected regular file; the selection has \(files.count)")
        }
        let (member, location) = try reader(for: record).member(at: try RestoreJob.offset(record))
        // First pass verifies; only verified bytes are written (second pass).
        let digest = try decode(record, member: member, location: location, context: context) { _ in }
        guard digest == record.sourceSHA256 else {
            throw BackupError(
                "\(String(decoding: record.path, as: UTF8.self)): SHA-256 of the restored bytes does not match the "
                    + "catalog; nothing written")
        }
        let written = try decode(record, member: member, location: location, context: context) { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw RestoreTarget.Problem.errno("cannot write to standard output")
                }
                offset += written
            }
        }
        // The bytes written come from a second read: it must verify too (the volume could change in between).
        guard written == record.sourceSHA256 else {
            throw BackupError(
                "\(String(decoding: record.path, as: UTF8.self)): the bytes written to standard output did not verify "
                    + "on the second read of the volume (it changed during the restore)")
        }
        summary.filesStored = 1
        summary.entriesStored = 1
        summary.bytesRead = record.size
    }

    // MARK: - Tree

    private struct PendingDirectory {
        var components: [[UInt8]]
        var record: FileRecord
        var member: VolumeMember?
    }

    private func restoreTree(_ records: [FileRecord], context: StageContext) throws {
        let target = try RestoreTarget(root: settings.whereDirectory)
        var directories: [PendingDirectory] = []
        for record in records {
            if cancellation.isCancelled { break }
            progress.currentPath = record.path
            let components: [[UInt8]]
            do {
                // The root directory itself (`File = /`) is the --where directory.
                let name = VolumeMember.memberName(record.path)
                components = record.kind == .directory && name == [UInt8(ascii: ".")] ? [] : try MemberName.safeComponents(name)
            } catch {
                problem(record.path, "refusing to restore: \(error.message)")
                if record.kind == .file { summary.filesFailed += 1 }
                continue
            }
            do {
                var written = true
                switch record.kind {
                case .directory:
                    let fd = try target.parent(of: components)
                    if components.count > 0, let name = components.last {
                        let dir = try target.openDirectory(name, in: fd, create: true)
                        close(dir)
                    }
                    let member = try record.headerOffset.flatMap { $0 >= 0 ? UInt64($0) : nil }.map {
                        try reader(for: record).member(at: $0).0
                    }
                    directories.append(PendingDirectory(components: components, record: record, member: member))
                case .file:
                    written = try restoreFile(record, components: components, target: target, context: context)
                case .symlink, .hardLink, .fifo, .charDevice, .blockDevice:
                    written = try restoreSpecial(record, components: components, target: target)
                case .socket:
                    continue
                }
                if written {
                    summary.entriesStored += 1
                    progress.entries.add(1, ordering: .relaxed)
                } else if record.kind == .file {
                    // Kept by --replace: counted as skipped, not as stored.
                    summary.filesSkipped += 1
                }
            } catch let failure as StageFailure {
                problem(record.path, "stage \(failure.stage): \(failure.message)")
                if record.kind == .file { summary.filesFailed += 1 }
            } catch {
                problem(record.path, "\(error)")
                if record.kind == .file { summary.filesFailed += 1 }
            }
        }
        // Directory metadata last (restoring their contents changed their times), deepest first.
        target.invalidate()
        for directory in directories.sorted(by: { $0.components.count > $1.components.count }) {
            do {
                let fd: Int32
                if directory.components.isEmpty {
                    fd = dup(target.rootFD)
                } else {
                    let parent = try target.parent(of: directory.components)
                    fd = try target.openDirectory(directory.components.last!, in: parent, create: false)
                }
                defer { close(fd) }
                applyMetadata(fd: fd, record: directory.record, member: directory.member, path: directory.record.path)
            } catch {
                problem(directory.record.path, "\(error)")
            }
        }
        target.syncFileSystem()
    }

    private func exists(_ name: [UInt8], in fd: Int32) -> stat? {
        var st = stat()
        let result = FileReader.withCPath(name) { fstatat(fd, $0, &st, AT_SYMLINK_NOFOLLOW) }
        return result == 0 ? st : nil
    }

    /// Whether an existing entry may be replaced, per `--replace`.
    private func mayReplace(_ existing: stat, with record: FileRecord) -> Bool {
        switch settings.replace {
        case .always: return true
        case .never: return false
        case .ifnewer: return record.mtime.seconds > Int64(existing.st_mtim.tv_sec)
        case .ifolder: return record.mtime.seconds < Int64(existing.st_mtim.tv_sec)
        }
    }

    private func temporaryName(_ record: FileRecord) -> [UInt8] {
        Array(".optionhost-restore-\(getpid())-\(record.jobID.rawValue)-\(record.fileIndex)".utf8)
    }

    /// Restores one regular file; false when `--replace` kept the existing one.
    private func restoreFile(
        _ record: FileRecord, components: [[UInt8]], target: RestoreTarget, context: StageContext
    ) throws -> Bool {
        let parent = try target.parent(of: components)
        let name = components.last!
        if let existing = exists(name, in: parent), !mayReplace(existing, with: record) {
            problem(record.path, "not replaced (--replace \(settings.replace.rawValue))", severity: "info")
            return false
        }
        let reader = try reader(for: record)
        let (member, location) = try reader.member(at: try RestoreJob.offset(record))
        // A stage that took the file over at backup gets the verified bytes itself (D2).
        if let chain = record.chain.isEmpty ? nil : try builder.chain(for: record.chain) {
            let item = RestoreItem(record)
            let output = Array(target.root.utf8) + (record.path.first == UInt8(ascii: "/") ? [] : [UInt8(ascii: "/")]) + record.path
            for stage in chain.stages {
                if let sink = try stage.openRestoreSink(for: item, outputPath: output, context: context) {
                    let digest = try decode(record, member: member, location: location, context: context) { _ in }
                    guard digest == record.sourceSHA256 else {
                        try? sink.close(success: false)
                        throw RestoreTarget.Problem(message: "SHA-256 of the restored bytes does not match the catalog")
                    }
                    let delivered: [UInt8]
                    do {
                        delivered = try decode(record, member: member, location: location, context: context) {
                            try sink.write($0)
                        }
                    } catch {
                        try? sink.close(success: false)  // the stage closes what it opened
                        throw error
                    }
                    guard delivered == record.sourceSHA256 else {
                        try? sink.close(success: false)
                        throw RestoreTarget.Problem(message: "the bytes handed to the stage did not verify on the second read")
                    }
                    try sink.close(success: true)
                    summary.filesStored += 1
                    summary.bytesRead += record.size
                    return true
                }
            }
        }
        let temporary = temporaryName(record)
        let fd = FileReader.withCPath(temporary) { openat(parent, $0, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600) }
        if fd < 0 { throw RestoreTarget.Problem.errno("cannot create a temporary file in the target directory") }
        var keep = false
        defer {
            close(fd)
            if !keep { _ = FileReader.withCPath(temporary) { unlinkat(parent, $0, 0) } }
        }
        var written: UInt64 = 0
        let digest: [UInt8]
        if let sparse = member.sparse, record.compression == nil, record.chain.isEmpty {
            // Segment bytes go to their offsets; the rest stays a hole.
            var segmentIndex = 0
            var segmentUsed: UInt64 = 0
            let segments = sparse.segments.filter { $0.length > 0 }
            digester.reset()
            var logical: UInt64 = 0
            func hashZeros(upTo offset: UInt64) {
                while logical < offset {
                    let take = Int(min(offset - logical, 65536))
                    RestoreJob.zeros.withUnsafeBytes { digester.update(UnsafeRawBufferPointer(rebasing: $0[0..<take])) }
                    logical += UInt64(take)
                }
            }
            try reader.readData(of: member, at: location, chunkSize: settings.chunkSize) { bytes in
                var consumed = 0
                while consumed < bytes.count {
                    let segment = segments[segmentIndex]
                    let take = Int(min(UInt64(bytes.count - consumed), segment.length - segmentUsed))
                    let piece = UnsafeRawBufferPointer(rebasing: bytes[consumed..<(consumed + take)])
                    hashZeros(upTo: segment.offset + segmentUsed)
                    digester.update(piece)
                    logical += UInt64(take)
                    try RestoreJob.writeAll(fd, piece, at: segment.offset + segmentUsed)
                    consumed += take
                    segmentUsed += UInt64(take)
                    written += UInt64(take)
                    if segmentUsed == segment.length {
                        segmentIndex += 1
                        segmentUsed = 0
                    }
                }
            }
            hashZeros(upTo: sparse.realSize)
            if ftruncate(fd, off_t(sparse.realSize)) != 0 { throw RestoreTarget.Problem.errno("cannot set the file size") }
            digest = digester.finalize()
        } else {
            digest = try decode(record, member: member, location: location, context: context) { bytes in
                try RestoreJob.writeAll(fd, bytes, at: written)
                written += UInt64(bytes.count)
            }
        }
        guard digest == record.sourceSHA256 else {
            throw RestoreTarget.Problem(
                message: "SHA-256 of the restored bytes does not match the catalog (\(Hex.encode(digest)) ≠ "
                    + "\(record.sourceSHA256.map(Hex.encode) ?? "none")); the file was not restored")
        }
        applyMetadata(fd: fd, record: record, member: member, path: record.path)
        let renamed = FileReader.withCPath(temporary) { from in
            FileReader.withCPath(name) { to in renameat(parent, from, parent, to) }
        }
        if renamed != 0 { throw RestoreTarget.Problem.errno("cannot move the restored file into place") }
        keep = true
        writtenFiles.insert(record.path)
        summary.filesStored += 1
        summary.bytesRead += written
        progress.files.add(1, ordering: .relaxed)
        progress.bytes.add(written, ordering: .relaxed)
        return true
    }

    private static let zeros = [UInt8](repeating: 0, count: 65536)

    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws {
        var done = 0
        while done < bytes.count {
            let count = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            if count < 0 {
                if errno == EINTR { continue }
                throw RestoreTarget.Problem.errno("write error")
            }
            done += count
        }
    }

    /// Restores a link, fifo or device; false when `--replace` kept the existing entry.
    private func restoreSpecial(_ record: FileRecord, components: [[UInt8]], target: RestoreTarget) throws -> Bool {
        let parent = try target.parent(of: components)
        let name = components.last!
        if let existing = exists(name, in: parent) {
            guard mayReplace(existing, with: record) else {
                problem(record.path, "not replaced (--replace \(settings.replace.rawValue))", severity: "info")
                return false
            }
        }
        let temporary = temporaryName(record)
        var created: Int32
        switch record.kind {
        case .symlink:
            guard let link = record.linkTarget else { throw RestoreTarget.Problem(message: "symbolic link without a target") }
            created = FileReader.withCPath(link) { linkTarget in
                FileReader.withCPath(temporary) { symlinkat(linkTarget, parent, $0) }
            }
        case .hardLink:
            guard let link = record.linkTarget else { throw RestoreTarget.Problem(message: "hard link without a target") }
            // Only a file this run wrote (and verified) may be linked: never one that was already there.
            guard writtenFiles.contains(link) else {
                throw RestoreTarget.Problem(
                    message: "not linked: its first name \(String(decoding: link, as: UTF8.self)) was not restored by this run")
            }
            // The target must itself be inside the restore tree, reached without following symlinks.
            let targetComponents = try MemberName.safeComponents(VolumeMember.memberName(link))
            var fd = target.rootFD
            for component in targetComponents.dropLast() {
                let next = try target.openDirectory(component, in: fd, create: false)
                if fd != target.rootFD { close(fd) }
                fd = next
            }
            defer { if fd != target.rootFD { close(fd) } }
            target.invalidate()
            let parentAgain = try target.parent(of: components)
            created = FileReader.withCPath(targetComponents.last!) { from in
                FileReader.withCPath(temporary) { linkat(fd, from, parentAgain, $0, 0) }
            }
            if created != 0 { throw RestoreTarget.Problem.errno("cannot create the hard link to \(String(decoding: link, as: UTF8.self))") }
            try moveIntoPlace(temporary, name, parent: parentAgain, record: record, applyMetadata: false)
            return true
        case .fifo:
            created = FileReader.withCPath(temporary) { mkfifoat(parent, $0, record.mode & 0o7777) }
        case .charDevice, .blockDevice:
            let type: UInt32 = record.kind == .charDevice ? S_IFCHR : S_IFBLK
            created = FileReader.withCPath(temporary) { mknodat(parent, $0, type | (record.mode & 0o7777), dev_t(record.rdev)) }
        default:
            return false
        }
        if created != 0 { throw RestoreTarget.Problem.errno("cannot create \(record.kind.rawValue)") }
        try moveIntoPlace(temporary, name, parent: parent, record: record, applyMetadata: true)
        return true
    }

    private func moveIntoPlace(_ temporary: [UInt8], _ name: [UInt8], parent: Int32, record: FileRecord, applyMetadata: Bool) throws {
        if applyMetadata {
            FileReader.withCPath(temporary) { path in
                if isRoot { _ = fchownat(parent, path, record.uid, record.gid, AT_SYMLINK_NOFOLLOW) }
                // Never follow a symlink someone swapped in for the temporary name.
                if record.kind != .symlink { _ = fchmodat(parent, path, record.mode & 0o7777, AT_SYMLINK_NOFOLLOW) }
                var times = [RestoreJob.timespec(record.atime), RestoreJob.timespec(record.mtime)]
                _ = utimensat(parent, path, &times, AT_SYMLINK_NOFOLLOW)
            }
        }
        let renamed = FileReader.withCPath(temporary) { from in
            FileReader.withCPath(name) { to in renameat(parent, from, parent, to) }
        }
        if renamed != 0 {
            let code = errno
            _ = FileReader.withCPath(temporary) { unlinkat(parent, $0, 0) }
            throw RestoreTarget.Problem.errno("cannot move the restored entry into place", code)
        }
    }

    static func timespec(_ timestamp: FileStat.Timestamp) -> Glibc.timespec {
        Glibc.timespec(tv_sec: Int(timestamp.seconds), tv_nsec: Int(timestamp.nanoseconds))
    }

    /// Owner (as root), mode, xattrs, ACLs, then times — in that order, since the others change ctime/mtime.
    private func applyMetadata(fd: Int32, record: FileRecord, member: VolumeMember?, path: [UInt8]) {
        if isRoot && fchown(fd, record.uid, record.gid) != 0 {
            problem(path, "cannot set owner: \(String(cString: strerror(errno)))", severity: "warning")
        }
        if fchmod(fd, record.mode & 0o7777) != 0 {
            problem(path, "cannot set mode: \(String(cString: strerror(errno)))", severity: "warning")
        }
        if let member, !member.metadataMatches(record) {
            // xattrs and ACLs come from the volume header, which no data digest covers: only the recorded ones.
            problem(
                path, "extended attributes or ACLs in the volume differ from the catalog's; they were not applied",
                severity: "error")
        } else if let member {
            for xattr in member.xattrs {
                let result = FileReader.withCPath(xattr.name) { name in
                    xattr.value.withUnsafeBytes { fsetxattr(fd, name, $0.baseAddress, $0.count, 0) }
                }
                if result != 0 {
                    problem(path, "cannot set extended attribute \(String(decoding: xattr.name, as: UTF8.self)): "
                        + String(cString: strerror(errno)), severity: "warning")
                }
            }
            if let acl = member.aclAccess, let failure = ACLText.apply(acl, toFD: fd) {
                problem(path, "cannot set ACL: \(failure)", severity: "warning")
            }
            if let acl = member.aclDefault {
                let procPath = Array("/proc/self/fd/\(fd)".utf8)
                if let failure = ACLText.apply(acl, to: procPath, defaultACL: true) {
                    problem(path, "cannot set default ACL: \(failure)", severity: "warning")
                }
            }
        }
        var times = [RestoreJob.timespec(record.atime), RestoreJob.timespec(record.mtime)]
        if futimens(fd, &times) != 0 {
            problem(path, "cannot set times: \(String(cString: strerror(errno)))", severity: "warning")
        }
    }
}

extension RestoreItem {
    /// The item restore hands the stages for a catalog row.
    init(_ record: FileRecord) {
        self.init(
            path: record.path, kind: record.kind, size: record.size, metadata: record.stageMetadata,
            stat: FileStat(
                dev: record.device, ino: record.inode, mode: record.mode, nlink: record.nlink, uid: record.uid,
                gid: record.gid, rdev: record.rdev, size: record.size, blocks: 0, atime: record.atime,
                mtime: record.mtime, ctime: record.ctime),
            fileIndex: record.fileIndex, linkTarget: record.linkTarget, jobID: record.jobID.rawValue)
    }
}
