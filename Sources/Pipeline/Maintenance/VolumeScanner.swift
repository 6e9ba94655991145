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
/// - the `jobs` row, with its original JobId: name, client, level, FileSet name and digest, start and since times
///   and restore chain from the label; end time and counts from the trailer. The client
///   (`OPTIONPIPELINE.label.client`) keeps a rebuilt job the original's for levels, `prune` and `restore --latest`,
///   which select jobs by client; volumes written before the record existed name none (NULL). A job **without a trailer** (it was cancelled, failed or
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
/// of entries that were not stored (`failed`, `skipped`), the job's original messages, the FileSet text and the
/// warnings count are not in volumes. For members that carry no `OPTIONPIPELINE.*` records
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
    struct ScanError: Error, Sendable, CustomStringConvertible {
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
        /// The row of the same job that did not finish, which the scan replaced (scan into an existing catalog).
        public var replaced: JobRecord? = nil
    }

    public struct Result: Sendable {
        public var jobs: [JobResult]
        public var wallSeconds: Double
        /// Finished jobs the catalog already held, left as they were (``scan(volumes:into:skipFinished:progress:)``).
        public var skipped: [JobRecord] = []
        public var entries: Int { jobs.reduce(0) { $0 + $1.entries } }
        public var files: Int { jobs.reduce(0) { $0 + $1.files } }
        public var volumes: Int { jobs.reduce(0) { $0 + $1.volumes.count } }
    }

    let paths: [String]
    let catalog: any CatalogStore
    /// File rows per `insert` call (one transaction each).
    var batchSize = 2_000
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
            if (try? SystemCall.rename(path + suffix, to: aside)) != nil { movedAside.append((aside, path + suffix)) }
        }
        do {
            try SystemCall.rename(temporary, to: path)
        } catch {
            for (aside, original) in movedAside { try? SystemCall.rename(aside, to: original) }
            throw ScanError(error.message("cannot move the new catalog to \(path)"))
        }
        for (aside, _) in movedAside { unlink(aside) }
        keep = true
        return result
    }

    private static func removeDatabase(_ path: String) {
        for suffix in ["", "-wal", "-shm", "-journal"] { unlink(path + suffix) }
    }


    // MARK: - Run

    /// A volume to scan, with its job label.
    struct Volume {
        var path: String
        var label: PipelineRecords.Label
        var bytes: Int64
    }

    /// Scans every volume into the catalog; the catalog must not hold the jobs yet. Each job's rows are committed
    /// batch by batch, so a failure leaves the jobs scanned so far (and part of the failing one) in the catalog:
    /// ``scan(volumes:intoNewCatalog:replacing:progress:)`` builds a new file and keeps it only on success;
    /// ``scan(volumes:into:skipFinished:progress:)`` writes into an existing catalog in one transaction.
    public func run() throws -> Result {
        let started = Clock.monotonic()
        let groups = try groupedVolumes()
        startProgress(groups)
        var results: [JobResult] = []
        for group in groups { results.append(try scanJob(group)) }
        return Result(jobs: results, wallSeconds: Clock.monotonic() - started)
    }

    /// Progress counts volume bytes scanned: the sizes of the volumes to read are the total (no file total is known).
    func startProgress(_ groups: [[Volume]]) {
        let bytes = groups.joined().reduce(UInt64(0)) { $0 &+ UInt64(max(0, $1.bytes)) }
        progress.totalBytes.store(bytes, ordering: .relaxed)
        progress.totalsKnown.store(true, ordering: .relaxed)
    }

    /// The labels of every volume, grouped by job in JobId and sequence order; an error when the volumes of a job
    /// do not fit together (a sequence twice, different labels, a volume missing).
    func groupedVolumes() throws -> [[Volume]] {
        var volumes: [Volume] = []
        for path in paths { volumes.append(try readLabel(VolumeScanner.absolute(path))) }
        volumes.sort { ($0.label.jobID, $0.label.sequence) < ($1.label.jobID, $1.label.sequence) }
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
        return groups
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
        guard let records = reader.labels.first, PipelineRecords.isLabel(records) else {
            throw ScanError(
                "\(path): not an optionhost volume (it does not start with a job label); scan reads only volumes "
                    + "optionhost wrote")
        }
        let info: stat
        do {
            info = try SystemCall.status(of: path)
        } catch {
            throw ScanError(error.message("\(path): cannot stat"))
        }
        return Volume(path: path, label: try VolumeScanner.label(records, volume: path), bytes: Int64(info.st_size))
    }

    /// The job label of a volume, its problems named after the volume.
    static func label(_ records: [VolumeMember.Record], volume: String) throws(ScanError) -> PipelineRecords.Label {
        do {
            return try PipelineRecords.Label(decoding: records)
        } catch {
            throw ScanError("\(volume): \(error)")
        }
    }

}
