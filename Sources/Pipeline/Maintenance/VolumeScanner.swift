#if canImport(Glibc)
import Glibc
#endif

/// `scan VOLUME...`: rebuilds catalog records from volumes alone, for a lost or damaged catalog.
///
/// Every volume starts with a job label (a pax global header of `OPTIONPIPELINE.label.*` records) and the last
/// volume of a job ends with its trailer (`OPTIONPIPELINE.trailer.*`, plus one `OPTIONPIPELINE.deleted` record per
/// path an Accurate job found gone). Members of regular files carry `OPTIONPIPELINE.*` records with the catalog
/// fields the ustar/pax header has no room for (job, file index, original path, source size, digests, signature,
/// chain, stage metadata, Options block, compression). From these the scanner rebuilds, per job:
///
/// - the `jobs` row, with its original JobId: name, level, FileSet name and digest, start and since times from the
///   label; end time and counts from the trailer. A job **without a trailer** (it was cancelled, failed or
///   crashed, or its last volume is missing) gets status `f` (failed), no end time, and counts recomputed from
///   its members (files examined = files stored, nothing skipped or failed);
/// - one `volumes` row per volume: the path as given (made absolute), its sequence, its size; status `closed` for
///   the last volume and `full` for the others, as the writer leaves them;
/// - one `files` row per member, and one `deleted` row per `OPTIONPIPELINE.deleted` record (file indexes after the
///   last member's, in record order; the kind is the path's kind in the newest earlier scanned job that stored it);
/// - one `info` job message saying the job was rebuilt by `scan` (and, without a trailer, why it is `f`).
///
/// What volumes do not hold stays empty (`inode`, `device` and `nlink` come from `OPTIONPIPELINE.inode`, 0 for older
/// volumes): `size` of a directory is 0; rows
/// of entries that were not stored (`failed`, `skipped`), the job's original messages, the client name, the
/// FileSet text and the warnings count are not in volumes. For members that carry no `OPTIONPIPELINE.*` records
/// (volumes written before directories, links and specials carried them) the file index is inferred from the member
/// order (the previous member's index + 1), so it equals the original unless an entry that was not stored came
/// just before; their `chain`, `stage_metadata` and `block` are empty. Files streamed by the writer (larger than
/// the small-file limit) lack what their transforms recorded while running (the header is written first). A job
/// that stored no entry wrote no volume and cannot be rebuilt.
///
/// Volumes may be given in any order: they are sorted by JobId and volume sequence from their labels. Every volume
/// of a job must be given (a gap in the sequence is an error). A volume that does not start with a job label (one
/// written by another program), a damaged or truncated volume, or two volumes claiming the same place are errors
/// that name the volume: the scan stops and nothing is kept (see ``scan(volumes:intoNewCatalog:replacing:progress:)``).
public final class VolumeScanner {
    /// A volume that cannot be scanned, or volumes that do not fit together.
    public struct ScanError: Error, Sendable, CustomStringConvertible {
        public var message: String
        public init(_ message: String) { self.message = message }
        public var description: String { message }
    }

    /// What the scan rebuilt for one job.
    public struct JobResult: Sendable {
        public var job: JobRecord
        public var volumes: [VolumeRecord]
        /// `files` rows of stored entries (every member).
        public var entries: Int
        /// Regular files among them.
        public var files: Int
        /// `deleted` rows from the trailer.
        public var deleted: Int
        /// Members whose file index was inferred from the member order.
        public var inferredIndexes: Int
        /// False when the job had no trailer (status `f`).
        public var hadTrailer: Bool
    }

    public struct Result: Sendable {
        public var jobs: [JobResult]
        public var wallSeconds: Double
        public var entries: Int { jobs.reduce(0) { $0 + $1.entries } }
        public var files: Int { jobs.reduce(0) { $0 + $1.files } }
        public var volumes: Int { jobs.reduce(0) { $0 + $1.volumes.count } }
    }

    let paths: [String]
    let catalog: any CatalogStore
    /// File rows per `insert` call (one transaction each).
    public var batchSize = 2_000
    public let progress: ProgressCounters

    public init(volumes: [String], catalog: any CatalogStore, progress: ProgressCounters = ProgressCounters()) {
        self.paths = volumes
        self.catalog = catalog
        self.progress = progress
    }

    // MARK: - Into a new catalog file

    /// Scans `volumes` into a NEW catalog file at `path`.
    ///
    /// The catalog is built under a temporary name next to `path` and renamed into place only when the whole scan
    /// succeeded, so a failed scan leaves nothing behind (and, with `replacing`, the old file untouched). An
    /// existing file at `path` is refused unless `replacing` is true; it is then replaced, never merged into.
    public static func scan(
        volumes: [String], intoNewCatalog path: String, replacing: Bool = false,
        progress: ProgressCounters = ProgressCounters()
    ) throws -> Result {
        if access(path, F_OK) == 0 && !replacing {
            throw ScanError(
                "catalog \(path) already exists: scan writes a new catalog (pass --force to replace that file; "
                    + "nothing is merged)")
        }
        let temporary = path + ".scan-\(getpid())"
        removeDatabase(temporary)
        var keep = false
        defer { if !keep { removeDatabase(temporary) } }
        let catalog = try SQLiteCatalog.open(path: temporary, create: true)
        let result: Result
        do {
            result = try VolumeScanner(volumes: volumes, catalog: catalog, progress: progress).run()
            try catalog.close()
        } catch {
            try? catalog.close()
            throw error
        }
        // A WAL or shared-memory file of the replaced catalog would be applied to the new one. Move them aside
        // (not delete: if the rename fails the old catalog keeps its committed transactions), rename, then drop them.
        var movedAside: [(String, String)] = []
        for suffix in ["-wal", "-shm"] where access(path + suffix, F_OK) == 0 {
            let aside = temporary + ".old" + suffix
            if rename(path + suffix, aside) == 0 { movedAside.append((aside, path + suffix)) }
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            for (aside, original) in movedAside { rename(aside, original) }
            throw ScanError("cannot move the new catalog to \(path): \(reason)")
        }
        for (aside, _) in movedAside { unlink(aside) }
        keep = true
        return result
    }

    private static func removeDatabase(_ path: String) {
        for suffix in ["", "-wal", "-shm", "-journal"] { unlink(path + suffix) }
    }

    // MARK: - Labels

    /// A job label: the first global header of every volume.
    struct Label: Equatable {
        var jobID: JobID
        var name: String
        var level: JobLevel
        var fileSetName: String
        var fileSetDigest: String
        var start: FileStat.Timestamp
        var since: FileStat.Timestamp?
        var sequence: Int64
        /// What stages recorded with the job (`OPTIONPIPELINE.jobdata.KEY`), in label order.
        var jobData: [JobDatum] = []

        init(_ records: [VolumeMember.Record], volume: String) throws(ScanError) {
            for record in records where record.key.hasPrefix(VolumeMember.jobDataPrefix) {
                jobData.append(
                    JobDatum(key: String(record.key.dropFirst(VolumeMember.jobDataPrefix.count)), value: record.value))
            }
            var values: [String: String] = [:]
            for record in records where record.key.hasPrefix(Label.prefix) {
                values[String(record.key.dropFirst(Label.prefix.count))] = String(decoding: record.value, as: UTF8.self)
            }
            func required(_ key: String) throws(ScanError) -> String {
                guard let value = values[key] else {
                    throw ScanError("\(volume): the job label has no \(Label.prefix)\(key) record")
                }
                return value
            }
            func time(_ key: String) throws(ScanError) -> FileStat.Timestamp? {
                guard let text = values[key] else { return nil }
                guard let value = VolumeScanner.timestamp(text) else {
                    throw ScanError("\(volume): bad \(Label.prefix)\(key) value \"\(text)\"")
                }
                return value
            }
            guard let id = Int64(try required("job")), id > 0 else {
                throw ScanError("\(volume): bad \(Label.prefix)job value \"\(values["job"] ?? "")\"")
            }
            guard let sequence = Int64(try required("volume")), sequence > 0 else {
                throw ScanError("\(volume): bad \(Label.prefix)volume value \"\(values["volume"] ?? "")\"")
            }
            jobID = JobID(rawValue: id)
            name = try required("name")
            level = VolumeScanner.level(try required("level"))
            fileSetName = try required("fileset")
            fileSetDigest = try required("fileset_digest")
            _ = try required("start")
            start = try time("start")!
            since = try time("since")
            self.sequence = sequence
        }

        static let prefix = "OPTIONPIPELINE.label."

        /// The same job (everything but the volume sequence).
        func sameJob(as other: Label) -> Bool {
            var copy = other
            copy.sequence = sequence
            return copy == self
        }
    }

    /// A level as the label spells it: `Full`, `Incremental`, `Differential` (or the one-letter code).
    static func level(_ text: String) -> JobLevel {
        switch text.lowercased() {
        case "full", "f": return .full
        case "incremental", "i": return .incremental
        case "differential", "d": return .differential
        default: return JobLevel(rawValue: text)
        }
    }

    /// `SECONDS.NANOSECONDS` as the labels write it: the part after the dot is the nanosecond count (the writer
    /// does not pad it to 9 digits, so it is read as an integer, which also reads a padded value right).
    static func timestamp(_ text: String) -> FileStat.Timestamp? {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let seconds = Int64(parts[0]) else { return nil }
        var nanoseconds: Int32 = 0
        if parts.count == 2 {
            guard let value = Int32(parts[1]), value >= 0, value < 1_000_000_000 else { return nil }
            nanoseconds = value
        }
        return FileStat.Timestamp(seconds: seconds, nanoseconds: nanoseconds)
    }

    // MARK: - Run

    private struct Volume {
        var path: String
        var label: Label
        var bytes: Int64
    }

    /// Scans every volume into the catalog; the catalog must not hold the jobs yet. Each job's rows are committed
    /// batch by batch, so a failure leaves the jobs scanned so far (and part of the failing one) in the catalog:
    /// ``scan(volumes:intoNewCatalog:replacing:progress:)`` builds a new file and keeps it only on success.
    public func run() throws -> Result {
        let started = Clock.monotonic()
        var volumes: [Volume] = []
        for path in paths { volumes.append(try readLabel(VolumeScanner.absolute(path))) }
        volumes.sort { ($0.label.jobID, $0.label.sequence) < ($1.label.jobID, $1.label.sequence) }
        // Group by job and check that the volumes of each job fit together.
        var groups: [[Volume]] = []
        for volume in volumes {
            if let last = groups.last?.last, last.label.jobID == volume.label.jobID {
                guard last.label.sequence != volume.label.sequence else {
                    throw ScanError(
                        "\(last.path) and \(volume.path) are both volume \(volume.label.sequence) of JobId "
                            + "\(volume.label.jobID)")
                }
                guard last.label.sameJob(as: volume.label) else {
                    throw ScanError(
                        "\(volume.path): its job label differs from that of \(last.path), another volume of JobId "
                            + "\(volume.label.jobID)")
                }
                groups[groups.count - 1].append(volume)
            } else {
                groups.append([volume])
            }
        }
        for group in groups {
            let sequences = group.map(\.label.sequence)
            if let missing = (1...sequences.last!).first(where: { !sequences.contains($0) }) {
                throw ScanError(
                    "JobId \(group[0].label.jobID) (\(group[0].label.name)): volume \(missing) is missing (given: "
                        + sequences.map(String.init).joined(separator: ", ") + "); pass every volume of the job")
            }
        }
        var results: [JobResult] = []
        for group in groups { results.append(try scanJob(group)) }
        return Result(jobs: results, wallSeconds: Clock.monotonic() - started)
    }

    static func absolute(_ path: String) -> String {
        if let resolved = realpath(path, nil) {
            defer { free(resolved) }
            return String(cString: resolved)
        }
        guard !path.hasPrefix("/"), let cwd = getcwd(nil, 0) else { return path }
        defer { free(cwd) }
        return String(cString: cwd) + "/" + path
    }

    /// Reads the job label of a volume (its first global header).
    private func readLabel(_ path: String) throws -> Volume {
        let reader = try PaxReader(path: path)
        do {
            _ = try reader.next()
        } catch {
            throw ScanError("\(error) — not an optionhost volume, or a damaged one")
        }
        guard let records = reader.labels.first, records.contains(where: { $0.key == Label.prefix + "job" }) else {
            throw ScanError(
                "\(path): not an optionhost volume (it does not start with a job label); scan reads only volumes "
                    + "optionhost wrote")
        }
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw ScanError("\(path): cannot stat: \(String(cString: strerror(errno)))")
        }
        return Volume(path: path, label: try Label(records, volume: path), bytes: Int64(info.st_size))
    }

    // MARK: - One job

    /// The members' running state while a job's volumes are read.
    private struct JobState {
        var lastIndex: Int64 = -1
        var entries = 0
        var files = 0
        var inferred = 0
        var bytesRead: Int64 = 0
        var bytesStored: Int64 = 0
        var batch: [FileRecord] = []
        /// Hard links wait until their targets are in the catalog (their size and file type come from there).
        var hardLinks: [FileRecord] = []
        var chainMemo: ([UInt8], [String]) = ([], [])
        var metadataMemo: ([UInt8], [String: String]) = ([], [:])
    }

    private func scanJob(_ volumes: [Volume]) throws -> JobResult {
        let label = volumes[0].label
        var job = JobRecord(
            id: label.jobID, name: label.name, type: "B", level: label.level, status: .running,
            fileSetName: label.fileSetName, fileSetDigest: label.fileSetDigest, startTime: label.start,
            sinceTime: label.since)
        do {
            _ = try catalog.beginJob(job)
        } catch {
            if let error = error as? CatalogError, error.code == .constraint {
                throw ScanError("JobId \(label.jobID) (\(label.name)) is already in the catalog")
            }
            throw error
        }
        try catalog.insertJobData(job: label.jobID, label.jobData)
        var state = JobState()
        var volumeRecords: [VolumeRecord] = []
        var trailer: [VolumeMember.Record] = []
        for (position, volume) in volumes.enumerated() {
            let isLast = position == volumes.count - 1
            var record = VolumeRecord(
                jobID: label.jobID, name: VolumeScanner.baseName(volume.path), path: volume.path,
                sequence: volume.label.sequence, bytes: volume.bytes, status: isLast ? "closed" : "full")
            record.id = try catalog.addVolume(record)
            volumeRecords.append(record)
            let extra = try scanVolume(volume, volumeID: record.id, jobID: label.jobID, state: &state)
            if !extra.isEmpty && !isLast {
                throw ScanError(
                    "\(volume.path): holds the trailer of JobId \(label.jobID) but is not its last volume (volume "
                        + "\(volumes[position + 1].label.sequence) follows)")
            }
            trailer += extra
        }
        try catalog.insert(files: state.batch, messages: [])
        state.batch.removeAll()
        try insertHardLinks(&state, jobID: label.jobID)

        // Deleted rows (Accurate) after the last member's index.
        var deleted: [FileRecord] = []
        for record in trailer where record.key == VolumeScanner.deletedKey {
            guard state.lastIndex < Int64.max else { throw ScanError("JobId \(label.jobID): file index out of range") }
            state.lastIndex += 1
            // The kind the path had in the previous state: its newest stored row in an earlier job (scanned before
            // this one, as jobs go in JobId order).
            let kind = try catalog.versions(of: record.value).last {
                $0.jobID < label.jobID && $0.status == .stored
            }?.kind ?? .file
            deleted.append(
                FileRecord(jobID: label.jobID, fileIndex: state.lastIndex, path: record.value, kind: kind, status: .deleted))
            if deleted.count >= batchSize {
                try catalog.insert(files: deleted, messages: [])
                deleted.removeAll(keepingCapacity: true)
            }
        }
        let deletedCount = trailer.filter { $0.key == VolumeScanner.deletedKey }.count
        try catalog.insert(files: deleted, messages: [])

        let hadTrailer = trailer.contains { $0.key.hasPrefix(VolumeScanner.trailerPrefix) }
        let now = Clock.realtime()
        var note = "rebuilt by scan from \(volumes.count) volume\(volumes.count == 1 ? "" : "s"): "
            + "\(state.entries) stored entries"
        if hadTrailer {
            try applyTrailer(trailer, to: &job, volume: volumes.last!.path)
        } else {
            job.status = .failed
            job.filesExamined = Int64(state.files)
            job.filesStored = Int64(state.files)
            job.entriesStored = Int64(state.entries)
            job.bytesRead = state.bytesRead
            job.bytesStored = state.bytesStored
            note += "; the last volume has no job trailer (the job did not finish, or its last volume is missing): "
                + "status set to f, counts recomputed from the members"
        }
        note += "; not in volumes: entries that were not stored and the original job messages"
        try catalog.insert(
            files: [], messages: [JobMessage(jobID: label.jobID, time: now, severity: "info", stage: nil, text: note)])
        try catalog.finishJob(job)
        return JobResult(
            job: job, volumes: volumeRecords, entries: state.entries, files: state.files, deleted: deletedCount,
            inferredIndexes: state.inferred, hadTrailer: hadTrailer)
    }

    static let trailerPrefix = "OPTIONPIPELINE.trailer."
    static let deletedKey = "OPTIONPIPELINE.deleted"

    private func applyTrailer(_ records: [VolumeMember.Record], to job: inout JobRecord, volume: String) throws {
        var values: [String: String] = [:]
        for record in records where record.key.hasPrefix(VolumeScanner.trailerPrefix) {
            values[String(record.key.dropFirst(VolumeScanner.trailerPrefix.count))] =
                String(decoding: record.value, as: UTF8.self)
        }
        func count(_ key: String) throws -> Int64 {
            guard let text = values[key] else { return 0 }
            guard let value = Int64(text), value >= 0 else {
                throw ScanError("\(volume): bad \(VolumeScanner.trailerPrefix)\(key) value \"\(text)\"")
            }
            return value
        }
        if let text = values["job"], Int64(text) != job.id.rawValue {
            throw ScanError("\(volume): the trailer is for JobId \(text), the label for JobId \(job.id)")
        }
        if let text = values["end"] {
            guard let end = VolumeScanner.timestamp(text) else {
                throw ScanError("\(volume): bad \(VolumeScanner.trailerPrefix)end value \"\(text)\"")
            }
            job.endTime = end
        }
        job.filesExamined = try count("files_examined")
        job.filesStored = try count("files_stored")
        job.filesSkipped = try count("files_skipped")
        job.filesFailed = try count("files_failed")
        job.entriesStored = try count("entries_stored")
        job.bytesRead = try count("bytes_read")
        job.bytesStored = try count("bytes_stored")
        job.errors = try count("errors")
        job.warnings = try count("warnings")
        // The writer's rule (BackupJob): a job that wrote its trailer ended OK, with warnings when files failed.
        if let text = values["status"], let status = JobStatus(rawValue: text) {
            job.status = status
        } else {
            job.status = job.filesFailed > 0 || job.errors > 0 ? .warnings : .ok
        }
    }

    static func baseName(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    // MARK: - One volume

    /// Reads every member of a volume into file rows; returns the records of its global headers after the job
    /// label (the trailer, if this volume has it).
    private func scanVolume(
        _ volume: Volume, volumeID: Int64, jobID: JobID, state: inout JobState
    ) throws -> [VolumeMember.Record] {
        let reader = try PaxReader(path: volume.path)
        // Global headers after the label: late metadata of the member before them, or the job trailer.
        var absorbed = 1
        var trailer: [VolumeMember.Record] = []
        func absorbHeaders() throws {
            while absorbed < reader.labels.count {
                try absorb(reader.labels[absorbed], into: &state, trailer: &trailer, volume: volume.path)
                absorbed += 1
            }
        }
        while let (member, location) = try reader.next() {
            try absorbHeaders()
            if !trailer.isEmpty {
                throw ScanError(
                    "\(volume.path) at offset \(location.headerOffset): a member follows the job trailer (the volume "
                        + "is damaged)")
            }
            // Rows wait in the batch until the next member is read: a late-metadata header may still amend the last.
            if state.batch.count >= batchSize {
                try catalog.insert(files: state.batch, messages: [])
                state.batch.removeAll(keepingCapacity: true)
            }
            let record = try fileRecord(member, location: location, volumeID: volumeID, jobID: jobID, state: &state,
                volume: volume.path)
            state.entries += 1
            progress.entries.add(1, ordering: .relaxed)
            if record.kind == .file {
                state.files += 1
                // Saturating: crafted sizes must not trap.
                let (sum, overflow) = state.bytesRead.addingReportingOverflow(Int64(clamping: record.size))
                state.bytesRead = overflow ? Int64.max : sum
                progress.files.add(1, ordering: .relaxed)
            }
            let (storedSum, storedOverflow) = state.bytesStored.addingReportingOverflow(record.storedLength ?? 0)
            state.bytesStored = storedOverflow ? Int64.max : storedSum
            if record.kind == .hardLink {
                state.hardLinks.append(record)
            } else {
                state.batch.append(record)
            }
        }
        try absorbHeaders()
        guard let labelRecords = reader.labels.first, try Label(labelRecords, volume: volume.path) == volume.label
        else {
            throw ScanError("\(volume.path): changed while it was scanned (its job label differs)")
        }
        try checkEnd(volume)
        return trailer
    }

    /// One global header after a volume's label: the late metadata of the member just before it (a streamed file
    /// whose stages produced metadata with or after its data), else part of the job trailer.
    private func absorb(
        _ records: [VolumeMember.Record], into state: inout JobState, trailer: inout [VolumeMember.Record],
        volume: String
    ) throws {
        guard let index = records.first(where: { $0.key == VolumeMember.lateIndexKey }) else {
            trailer += records
            return
        }
        guard let fileIndex = Int64(String(decoding: index.value, as: UTF8.self)),
            let position = state.batch.lastIndex(where: { $0.fileIndex == fileIndex }),
            let json = records.first(where: { $0.key == VolumeMember.lateMetadataKey })
        else {
            throw ScanError("\(volume): late metadata for file index \(String(decoding: index.value, as: UTF8.self)) "
                + "does not follow that member (the volume is damaged)")
        }
        state.batch[position].stageMetadata = try json.value.withUnsafeBufferPointer { (bytes) throws(CatalogError) in
            try CatalogJSON.decodeObject(bytes, what: "\(VolumeMember.lateMetadataKey) record")
        }
    }

    /// A complete volume ends with the two zero blocks of a tar archive; without them it was cut short.
    private func checkEnd(_ volume: Volume) throws {
        let fd = open(volume.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ScanError("\(volume.path): cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var tail = [UInt8](repeating: 1, count: 1024)
        let count = volume.bytes >= 1024 ? tail.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 1024, off_t(volume.bytes - 1024)) } : 0
        guard count == 1024, tail.allSatisfy({ $0 == 0 }) else {
            throw ScanError(
                "\(volume.path): the volume does not end with the end-of-archive blocks: it is truncated (or was "
                    + "still being written)")
        }
    }

    private func insertHardLinks(_ state: inout JobState, jobID: JobID) throws {
        guard !state.hardLinks.isEmpty else { return }
        for index in state.hardLinks.indices {
            guard let target = state.hardLinks[index].linkTarget else { continue }
            // The first name of the inode, stored earlier in this job: same size and file type.
            if let first = try catalog.versions(of: target).last(where: { $0.jobID == jobID && $0.kind != .hardLink }) {
                state.hardLinks[index].size = first.size
                state.hardLinks[index].mode = (first.mode & FileMode.typeMask) | (state.hardLinks[index].mode & 0o7777)
            }
        }
        var start = 0
        while start < state.hardLinks.count {
            let end = min(start + batchSize, state.hardLinks.count)
            try catalog.insert(files: Array(state.hardLinks[start..<end]), messages: [])
            start = end
        }
        state.hardLinks.removeAll()
    }

    // MARK: - One member

    private func fileRecord(
        _ member: VolumeMember, location: MemberLocation, volumeID: Int64, jobID: JobID, state: inout JobState,
        volume: String
    ) throws -> FileRecord {
        func bad(_ what: String, _ value: [UInt8]) -> ScanError {
            ScanError(
                "\(volume) at offset \(location.headerOffset): bad OPTIONPIPELINE.\(what) record "
                    + "\"\(String(decoding: value.prefix(80), as: UTF8.self))\"")
        }
        var index: Int64?
        var path: [UInt8]?
        var originalLink: [UInt8]?
        var size: UInt64?
        var record = FileRecord(jobID: jobID, fileIndex: 0, path: [], kind: member.kind)
        for item in member.records {
            switch item.key {
            case "OPTIONPIPELINE.job":
                guard let value = VolumeScanner.decimal(item.value) else { throw bad("job", item.value) }
                guard value == jobID.rawValue else {
                    throw ScanError(
                        "\(volume) at offset \(location.headerOffset): member of JobId \(value) in a volume of JobId "
                            + "\(jobID)")
                }
            case "OPTIONPIPELINE.index":
                guard let value = VolumeScanner.decimal(item.value) else { throw bad("index", item.value) }
                index = value
            case "OPTIONPIPELINE.path":
                path = item.value
            case "OPTIONPIPELINE.link":
                originalLink = item.value
            case "OPTIONPIPELINE.inode":
                // device:inode:nlink (volumes written before this record existed leave them 0).
                let parts = item.value.split(separator: UInt8(ascii: ":")).map { UInt64(String(decoding: $0, as: UTF8.self)) }
                if parts.count == 3, let device = parts[0], let inode = parts[1], let nlink = parts[2] {
                    record.device = device
                    record.inode = inode
                    record.nlink = nlink
                }
            case "OPTIONPIPELINE.size":
                guard let value = VolumeScanner.decimal(item.value) else { throw bad("size", item.value) }
                size = UInt64(value)
            case "OPTIONPIPELINE.source_sha256":
                guard let digest = VolumeScanner.hex(item.value[...]), digest.count == 32 else {
                    throw bad("source_sha256", item.value)
                }
                record.sourceSHA256 = digest
            case "OPTIONPIPELINE.stored_sha256":
                guard let digest = VolumeScanner.hex(item.value[...]), digest.count == 32 else {
                    throw bad("stored_sha256", item.value)
                }
                record.storedSHA256 = digest
            case "OPTIONPIPELINE.signature":
                guard let colon = item.value.firstIndex(of: UInt8(ascii: ":")), colon > 0,
                    let digest = VolumeScanner.hex(item.value[(colon + 1)...])
                else { throw bad("signature", item.value) }
                record.signatureAlgorithm = String(decoding: item.value[..<colon], as: UTF8.self)
                record.signature = digest
            case "OPTIONPIPELINE.chain":
                if item.value != state.chainMemo.0 {
                    let chain = try item.value.withUnsafeBufferPointer { (bytes) throws(CatalogError) in
                        try CatalogJSON.decodeArray(bytes, what: "OPTIONPIPELINE.chain record")
                    }
                    state.chainMemo = (item.value, chain)
                }
                record.chain = state.chainMemo.1
            case "OPTIONPIPELINE.metadata":
                if item.value != state.metadataMemo.0 {
                    let metadata = try item.value.withUnsafeBufferPointer { (bytes) throws(CatalogError) in
                        try CatalogJSON.decodeObject(bytes, what: "OPTIONPIPELINE.metadata record")
                    }
                    state.metadataMemo = (item.value, metadata)
                }
                record.stageMetadata = state.metadataMemo.1
            case "OPTIONPIPELINE.block":
                guard let value = VolumeScanner.decimal(item.value) else { throw bad("block", item.value) }
                record.block = Int(value)
            case "OPTIONPIPELINE.compression":
                record.compression = String(decoding: item.value, as: UTF8.self)
            default:
                break
            }
        }

        // File index: recorded, or the next one after the previous member's.
        if let index {
            guard index > state.lastIndex else {
                throw ScanError(
                    "\(volume) at offset \(location.headerOffset): file index \(index) does not follow "
                        + "\(state.lastIndex) (members out of order)")
            }
            record.fileIndex = index
        } else {
            guard state.lastIndex < Int64.max else { throw ScanError("\(volume): file index out of range") }
            record.fileIndex = state.lastIndex + 1
            state.inferred += 1
        }
        state.lastIndex = record.fileIndex

        // Original path: recorded, or the member name made absolute (without the suffix of its last stage).
        if let path {
            record.path = path
        } else {
            var name = member.name
            if let suffix = VolumeMember.memberSuffix(of: record) {
                if name.count > suffix.count && name.suffix(suffix.count).elementsEqual(suffix) {
                    name.removeLast(suffix.count)
                }
            }
            record.path = name == [UInt8(ascii: ".")] ? [UInt8(ascii: "/")] : [UInt8(ascii: "/")] + name
        }

        record.mode = VolumeScanner.typeBits(member.kind) | member.mode
        record.uid = member.uid
        record.gid = member.gid
        record.userName = member.userName
        record.groupName = member.groupName
        record.mtime = member.mtime
        record.atime = member.atime ?? FileStat.Timestamp(seconds: 0, nanoseconds: 0)
        record.ctime = member.ctime ?? FileStat.Timestamp(seconds: 0, nanoseconds: 0)
        switch member.kind {
        case .file:
            record.size = size ?? member.sparse?.realSize ?? member.size
        case .symlink:
            record.linkTarget = member.linkTarget
            record.size = size ?? UInt64(member.linkTarget?.count ?? 0)
        case .hardLink:
            // The volume names the first name as a member name (no leading "/", maybe with a codec suffix); our
            // link record has its original path.
            record.linkTarget = originalLink ?? member.linkTarget.map { [UInt8(ascii: "/")] + $0 }
            record.size = size ?? 0
        case .charDevice, .blockDevice:
            let major = UInt64(member.deviceMajor)
            let minor = UInt64(member.deviceMinor)
            record.rdev = ((major & 0xfff) << 8) | (minor & 0xff) | ((minor & ~0xff) << 12) | ((major & ~0xfff) << 32)
            record.size = size ?? 0
        default:
            record.size = size ?? 0
        }
        record.sparse = member.sparse != nil
        record.volumeID = volumeID
        record.headerOffset = Int64(location.headerOffset)
        record.dataOffset = Int64(location.dataOffset)
        record.storedLength = Int64(member.size)
        return record
    }

    /// The `st_mode` file-type bits of a member kind (a hard link is taken as a regular file until its first
    /// name is known).
    static func typeBits(_ kind: EntryKind) -> UInt32 {
        switch kind {
        case .file, .hardLink: return FileMode.regular
        case .directory: return FileMode.directory
        case .symlink: return FileMode.symlink
        case .fifo: return FileMode.fifo
        case .socket: return FileMode.socket
        case .charDevice: return FileMode.charDevice
        case .blockDevice: return FileMode.blockDevice
        }
    }

    static func decimal(_ bytes: [UInt8]) -> Int64? {
        guard let value = PaxFormat.parseDecimal(bytes), value <= UInt64(Int64.max) else { return nil }
        return Int64(value)
    }

    /// Lower- or upper-case hex digits to bytes; nil for an odd count or another character.
    static func hex(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        guard text.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
            default: return nil
            }
        }
        var result = [UInt8]()
        result.reserveCapacity(text.count / 2)
        var index = text.startIndex
        while index < text.endIndex {
            guard let high = nibble(text[index]), let low = nibble(text[index + 1]) else { return nil }
            result.append(high << 4 | low)
            index += 2
        }
        return result
    }
}
