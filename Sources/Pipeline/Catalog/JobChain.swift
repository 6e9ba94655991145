/// The backup chain behind a job (Bareos' rules, `bareos-conf-fileset.md` §5.2): the jobs whose entries together
/// make up the tree as it was at that job, and that tree.
///
/// - Full: the job alone.
/// - Differential: the newest successful Full before it (same Job name and FileSet digest), then the job.
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
        // Same Job name and FileSet, started before the target, successful; newest first.
        let earlier = try catalog.jobs(name: target.name).filter {
            $0.isBackup && $0.id < target.id && $0.fileSetDigest == target.fileSetDigest && $0.fileSetName == target.fileSetName
                && isSuccessful($0)
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
}
