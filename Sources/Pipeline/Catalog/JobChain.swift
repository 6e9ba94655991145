/// The backup chain behind a job (Bareos' rules, `bareos-conf-fileset.md` §5.2): the jobs whose entries together
/// make up the tree as it was at that job, and that tree.
///
/// - Full: the job alone.
/// - Differential: the newest successful Full before it (same Job name, client and FileSet digest), then the job.
/// - Incremental: that Full, the newest successful Differential after it (if any), every successful Incremental
///   after that, up to and including the job.
///
/// "Successful" is status `T` or `W` (the job itself is included whatever its status, so a running or failed job
/// can be inspected). The state keeps, per path, the entry of the newest job in the chain that has one; entries
/// recorded as `deleted` (Accurate mode) remove the path; `failed` and `skipped` rows do not change the state.
public enum JobChain {
    public struct ChainError: Error, Sendable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    static func isSuccessful(_ job: JobRecord) -> Bool { job.status == .ok || job.status == .warnings }

    /// Whether two jobs' clients can be in one chain: the same client, or one of them not recorded (a job of a
    /// build before clients were recorded, or rebuilt by `scan`).
    static func sameClient(_ one: String?, _ other: String?) -> Bool { one == nil || other == nil || one == other }

    /// The jobs of the chain, oldest first, ending with `job`.
    public static func jobs(asOf job: JobID, in catalog: any CatalogStore) throws -> [JobRecord] {
        guard let target = try catalog.job(job) else {
            throw ChainError(message: "no job with JobId \(job.rawValue) in the catalog")
        }
        guard target.isBackup else {
            throw ChainError(
                message: "JobId \(job.rawValue) is a \(target.typeName) job, not a backup: it has no files to restore")
        }
        if target.level == .full { return [target] }
        // Same Job name, client and FileSet, started before the target, successful; newest first.
        let earlier = try catalog.jobs(name: target.name).filter {
            $0.isBackup && $0.id < target.id && $0.fileSetDigest == target.fileSetDigest && $0.fileSetName == target.fileSetName
                && isSuccessful($0) && sameClient($0.clientName, target.clientName)
        }
        guard let full = earlier.first(where: { $0.level == .full }) else {
            throw ChainError(
                message: "JobId \(job.rawValue) (\(target.level.name)) has no earlier successful Full of Job "
                    + "\"\(target.name)\" with the same FileSet in this catalog")
        }
        if target.level == .differential { return [full, target] }
        let afterFull = earlier.filter { $0.id > full.id }
        var chain = [full]
        let differential = afterFull.first { $0.level == .differential }
        if let differential { chain.append(differential) }
        let base = differential?.id ?? full.id
        chain += afterFull.filter { $0.level == .incremental && $0.id > base }.sorted { $0.id < $1.id }
        chain.append(target)
        return chain
    }

    /// The tree as of `job`: path → the newest stored entry of the chain (deleted paths removed).
    public static func state(asOf job: JobID, in catalog: any CatalogStore) throws -> [[UInt8]: FileRecord] {
        var state: [[UInt8]: FileRecord] = [:]
        for member in try jobs(asOf: job, in: catalog) {
            try catalog.forEachFile(job: member.id) { record in
                switch record.status {
                case .stored: state[record.path] = record
                case .deleted: state[record.path] = nil
                case .failed, .skipped: break
                }
            }
        }
        return state
    }

    // MARK: - Completeness (issue 14)

    /// What the catalog lacks for a complete restore of `job`, in words for the user; empty when nothing.
    ///
    /// - The job itself did not finish: it is running (`R`), failed (`f`) or was cancelled (`A`), so the entries
    ///   its walk had not reached are missing.
    /// - A job its restore chain needs (recorded as `chain_jobs` when it ran, and in its volumes' labels) is not
    ///   in the catalog (a `scan` that left out its volumes, a prune of another catalog), or is there but did not
    ///   finish. Jobs whose chain was not recorded (older builds) can be checked for the first point only.
    public static func gaps(asOf job: JobID, in catalog: any CatalogStore) throws -> [String] {
        guard let target = try catalog.job(job) else {
            throw ChainError(message: "no job with JobId \(job.rawValue) in the catalog")
        }
        var problems: [String] = []
        if let unfinished = try unfinished(target, in: catalog) { problems.append(unfinished) }
        guard let needed = target.chainJobs, !needed.isEmpty else { return problems }
        let present = Set(((try? jobs(asOf: job, in: catalog)) ?? []).map(\.id))
        var absent: [JobID] = []
        var notFinished: [String] = []
        for id in needed where !present.contains(id) {
            if let record = try catalog.job(id) {
                notFinished.append("JobId \(id.rawValue) (\(record.level.name), status \(record.status.rawValue))")
            } else {
                absent.append(id)
            }
        }
        let what = "the tree as of JobId \(job.rawValue) needs"
        if !absent.isEmpty {
            let ids = absent.map { String($0.rawValue) }.joined(separator: ", ")
            problems.append(
                "\(what) JobId\(absent.count == 1 ? "" : "s") \(ids), which the catalog does not hold (were all "
                    + "volumes scanned?)")
        }
        if !notFinished.isEmpty {
            problems.append("\(what) \(notFinished.joined(separator: ", ")), which did not finish")
        }
        return problems
    }

    /// Why `job` did not finish, with what the catalog holds of it; nil when it finished (`T` or `W`).
    public static func unfinished(_ job: JobRecord, in catalog: any CatalogStore) throws -> String? {
        let state: String
        switch job.status {
        case .ok, .warnings: return nil
        case .running: state = "is still running (status R)"
        case .failed: state = "did not finish (status f, failed)"
        case .cancelled: state = "did not finish (status A, cancelled)"
        }
        let entries = try catalog.fileCounts(job: job.id).entriesStored
        return "JobId \(job.id.rawValue) \(state): the catalog holds \(entries) stored "
            + "entr\(entries == 1 ? "y" : "ies") of it; the entries it had not reached are missing"
    }
}
