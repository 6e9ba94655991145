#if canImport(Glibc)
import Glibc
#endif

/// Catalog queries a prune uses when the backend has them; without them ``Pruner`` falls back to reading every
/// remaining job's rows (slow, but the same answer).
protocol CatalogVolumeReferences {
    /// For each of `volumeIDs`, the jobs whose `files` rows point into it.
    func jobsReferencing(volumeIDs: [Int64]) throws -> [Int64: Set<JobID>]
    /// Every `volumes` row naming the file `path`, whichever job recorded it.
    func volumes(path: String) throws -> [VolumeRecord]
}

/// Which jobs of a Job name a prune keeps before restore chains are considered.
public enum PrunePolicy: Sendable, Equatable, CustomStringConvertible {
    /// The N newest successful jobs (status `T` or `W`), and every job newer than the oldest of them.
    case keepLast(Int)
    /// Jobs that started less than this many seconds ago.
    case olderThan(seconds: UInt64)

    public var description: String {
        switch self {
        case .keepLast(let count): return "keep the last \(count) successful job\(count == 1 ? "" : "s")"
        case .olderThan(let seconds):
            return "remove jobs that started more than \(HumanTime.duration(Double(seconds))) ago"
        }
    }
}

/// What a prune does (or, with `--dry-run`, would do). Computing it changes nothing.
public struct PrunePlan: Sendable {
    public struct Kept: Sendable {
        public var job: JobRecord
        /// Why: `policy`, `newer` (newer than the oldest job the policy keeps), `chain` (a kept job's restore
        /// chain needs it) or `volume` (a kept job's files point into its volumes).
        public var reason: String
        /// For `chain` and `volume`: the kept job that needs it.
        public var neededBy: JobID?
    }

    public struct VolumeAction: Sendable {
        public var volume: VolumeRecord
        /// True: the file is deleted. False: it stays because another remaining catalog row names it
        /// (`keptFor`).
        public var delete: Bool
        public var keptFor: [JobID]
    }

    public var jobName: String
    /// The client whose jobs were considered (nil: every client).
    public var client: String?
    public var policy: PrunePolicy
    /// Kept jobs of the name, newest first.
    public var kept: [Kept]
    /// Removed jobs, oldest first (the order they are removed in).
    public var removed: [JobRecord]
    /// The volumes of the removed jobs.
    public var volumes: [VolumeAction]
    /// Kept jobs whose restore chain could not be worked out (kept alone, nothing else is kept for them).
    public var warnings: [String]
}

/// The outcome of carrying out a plan.
public struct PruneResult: Sendable {
    public var plan: PrunePlan
    /// Volume files deleted.
    public var deleted: [String] = []
    /// Volume files that were already gone.
    public var missing: [String] = []
    /// Volume files that could not be deleted, with the reason.
    public var failures: [(path: String, reason: String)] = []

    /// The result of a dry run: the plan, nothing done.
    public init(plan: PrunePlan) {
        self.plan = plan
    }
}

/// `prune --job NAME (--keep-last N | --older-than DURATION)`: removes jobs no restore chain still needs, and the
/// volume files only they referenced.
///
/// 1. The policy picks the jobs to keep among the jobs of `jobName` (``PrunePolicy``).
/// 2. Every job in a kept job's restore chain (``JobChain/jobs(asOf:in:)``: its Full, Differential and earlier
///    Incrementals) is kept too; so is any job whose volumes hold data a kept job's rows point at.
/// 3. The other jobs of the name are removed from the catalog (files, messages, volume rows, job row), oldest
///    first, one transaction each; then their volume files are deleted, except a file another remaining
///    `volumes` row names. Catalog rows go first: an interrupted prune can leave an unreferenced volume file,
///    never a catalog row pointing at a deleted file.
///
/// Jobs of other names, and with `client` set jobs of other clients, are never touched; their rows still keep
/// the volumes they point into. The caller holds the catalog's ``JobLock`` (SQLite) or the Job's lock of the
/// client (PostgreSQL, ``DatabaseCatalog/tryLockJob(_:client:)``).
public final class Pruner {
    let catalog: any CatalogStore
    public let jobName: String
    /// Only the jobs of this client (`jobs.client_name`); all clients when nil.
    public let client: String?
    public let policy: PrunePolicy
    let now: FileStat.Timestamp

    public init(
        catalog: any CatalogStore, jobName: String, client: String? = nil, policy: PrunePolicy,
        now: FileStat.Timestamp = Clock.realtime()
    ) {
        self.catalog = catalog
        self.jobName = jobName
        self.client = client
        self.policy = policy
        self.now = now
    }

    struct PruneError: Error, Sendable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// Works out what to keep and remove; changes nothing.
    public func plan() throws -> PrunePlan {
        if case .keepLast(let count) = policy, count < 1 {
            throw PruneError(message: "--keep-last must be at least 1")
        }
        // Backups only, newest first (restore and verify runs keep their rows: they hold no files or volumes).
        let jobs = try catalog.jobs(name: jobName).filter { $0.isBackup && (client == nil || $0.clientName == client) }
        var reasons: [JobID: (String, JobID?)] = [:]
        switch policy {
        case .keepLast(let count):
            let successful = jobs.filter { $0.status == .ok || $0.status == .warnings }.prefix(count)
            for job in successful { reasons[job.id] = ("policy", nil) }
            if let oldest = successful.last, let position = jobs.firstIndex(where: { $0.id == oldest.id }) {
                for job in jobs[..<position] where reasons[job.id] == nil { reasons[job.id] = ("newer", nil) }
            }
        case .olderThan(let seconds):
            let cutoff = now.seconds - Int64(clamping: seconds)
            for job in jobs where job.startTime.seconds >= cutoff { reasons[job.id] = ("policy", nil) }
        }

        var warnings: [String] = []
        var warned: Set<JobID> = []
        // Restore chains of the kept jobs, then volumes that kept jobs' rows point into, until nothing is added.
        let ids = Set(jobs.map(\.id))
        var pending = jobs.filter { reasons[$0.id] != nil }.map(\.id)
        while true {
            while !pending.isEmpty {
                var added: [JobID] = []
                for id in pending {
                    let chain: [JobRecord]
                    do {
                        chain = try JobChain.jobs(asOf: id, in: catalog)
                    } catch let error as JobChain.ChainError {
                        if warned.insert(id).inserted { warnings.append("JobId \(id): \(error.message); kept alone") }
                        continue
                    }
                    for member in chain where reasons[member.id] == nil && ids.contains(member.id) {
                        reasons[member.id] = ("chain", id)
                        added.append(member.id)
                    }
                }
                pending = added
            }
            // A removed job's volume that the rows of a kept job (or of another Job name) point into keeps its
            // owner: never delete a volume a remaining job needs.
            let candidates = try jobs.filter { reasons[$0.id] == nil }.flatMap { try catalog.volumes(job: $0.id) }
            for (volumeID, users) in try references(to: candidates.map(\.id), among: ids, reasons: reasons) {
                guard let owner = candidates.first(where: { $0.id == volumeID })?.jobID, reasons[owner] == nil,
                    let user = users.sorted().first(where: { reasons[$0] != nil || !ids.contains($0) })
                else { continue }
                reasons[owner] = ("volume", user)
                pending.append(owner)
            }
            if pending.isEmpty { break }
        }

        let kept = jobs.compactMap { job in
            reasons[job.id].map { PrunePlan.Kept(job: job, reason: $0.0, neededBy: $0.1) }
        }
        let removed = Array(jobs.filter { reasons[$0.id] == nil }.reversed())
        let removedIDs = Set(removed.map(\.id))
        var volumes: [PrunePlan.VolumeAction] = []
        for job in removed {
            for volume in try catalog.volumes(job: job.id) {
                let others = try rows(naming: volume.path).map(\.jobID).filter { !removedIDs.contains($0) }
                volumes.append(.init(volume: volume, delete: others.isEmpty, keptFor: Array(Set(others)).sorted()))
            }
        }
        return PrunePlan(
            jobName: jobName, client: client, policy: policy, kept: kept, removed: removed, volumes: volumes, warnings: warnings)
    }

    /// For each volume id, the jobs (other than its owner's) whose rows point into it.
    private func references(
        to volumeIDs: [Int64], among pruned: Set<JobID>, reasons: [JobID: (String, JobID?)]
    ) throws -> [Int64: Set<JobID>] {
        guard !volumeIDs.isEmpty else { return [:] }
        if let queries = catalog as? CatalogVolumeReferences {
            return try queries.jobsReferencing(volumeIDs: volumeIDs)
        }
        let wanted = Set(volumeIDs)
        var result: [Int64: Set<JobID>] = [:]
        for job in try catalog.jobs(name: nil) where !pruned.contains(job.id) || reasons[job.id] != nil {
            try catalog.forEachFile(job: job.id) { record in
                if let id = record.volumeID, wanted.contains(id) { result[id, default: []].insert(job.id) }
            }
        }
        return result
    }

    /// Every volume row (any job) naming the file `path`.
    private func rows(naming path: String) throws -> [VolumeRecord] {
        if let queries = catalog as? CatalogVolumeReferences { return try queries.volumes(path: path) }
        return try catalog.jobs(name: nil).flatMap { try catalog.volumes(job: $0.id) }.filter { $0.path == path }
    }

    /// Carries out `plan`: removes the jobs from the catalog, then deletes the volume files.
    public func execute(_ plan: PrunePlan) throws -> PruneResult {
        var result = PruneResult(plan: plan)
        for job in plan.removed { try catalog.deleteJob(job.id) }
        for action in plan.volumes where action.delete {
            do throws(Errno) {
                _ = try SystemCall.retrying { unlink(action.volume.path) }
                result.deleted.append(action.volume.path)
            } catch {
                // Not `catch .notFound`: that picks ResultCode.notFound and its `~=`, which never matches an Errno.
                if error == .notFound {
                    result.missing.append(action.volume.path)
                } else {
                    result.failures.append((action.volume.path, error.description))
                }
            }
        }
        return result
    }
}
