/// The level a backup actually runs at, decided from the catalog before the job is recorded
/// (`bareos-conf-fileset.md` §2.6, §5.2).
///
/// - Full: no since time.
/// - Differential: since = start time of the newest successful (T or W) Full of the same Job name, client and
///   FileSet (name and digest); none → upgraded to Full. (Bareos matches the client too: one catalog holds the
///   jobs of several hosts, and another host's Full says nothing about this one's files. A job without a
///   recorded client, of an older build or rebuilt by `scan`, counts for any client.)
/// - Incremental: needs such a Full (else upgraded to Full); since = start time of the newest successful Full,
///   Differential or Incremental with the same keys.
/// - A FileSet whose File/Plugin strings changed has a new digest, so no Full matches and the job is upgraded
///   ("FileSet changed since the last Full"). With `Ignore FileSet Changes = yes` the newest successful Full of the
///   Job and FileSet name is used whatever its digest, and the job is recorded under that Full's digest so that
///   its backup chain (`JobChain`) stays whole.
public struct LevelDecision: Sendable, Equatable {
    var requested: JobLevel
    public var level: JobLevel
    /// Entries unchanged since this time are not saved (Incremental/Differential).
    public var since: FileStat.Timestamp?
    /// Why the level was raised to Full, e.g. "no usable Full: upgraded to Full".
    var upgradeReason: String?
    /// The FileSet digest the job is recorded under.
    public var fileSetDigest: String
    /// The job whose tree this one extends: the newest job of the chain (Incremental) or the Full (Differential).
    /// Accurate mode compares with `JobChain.state(asOf:)` of this job.
    var baseJob: JobID?

    static let noFullReason = "no usable Full: upgraded to Full"
    static let fileSetChangedReason = "FileSet changed since the last Full: upgraded to Full"

    public init(
        requested: JobLevel, level: JobLevel, since: FileStat.Timestamp?, upgradeReason: String?,
        fileSetDigest: String, baseJob: JobID?
    ) {
        self.requested = requested
        self.level = level
        self.since = since
        self.upgradeReason = upgradeReason
        self.fileSetDigest = fileSetDigest
        self.baseJob = baseJob
    }

    /// The catalog level for a configured or command-line level; nil for levels a backup cannot run
    /// (VirtualFull, Base, Since, and the Verify levels).
    public static func jobLevel(_ level: Job.Level) -> JobLevel? {
        switch level {
        case .full: return .full
        case .incremental: return .incremental
        case .differential: return .differential
        default: return nil
        }
    }

    /// Parses `Full`, `Incremental` or `Differential`, case-insensitively (the `--level` option).
    public static func parse(_ text: String) -> Job.Level? {
        let lowered = text.lowercased()
        return [Job.Level.full, .incremental, .differential].first { $0.rawValue.lowercased() == lowered }
    }

    /// Decides the level for a run of Job `jobName` of `client` over `fileSet` at `requested` level.
    public static func resolve(
        requested: JobLevel, jobName: String, client: String? = nil, fileSet: FileSet, catalog: any CatalogStore
    ) throws -> LevelDecision {
        let digest = FileSetIdentity.digest(fileSet)
        var decision = LevelDecision(
            requested: requested, level: .full, since: nil, upgradeReason: nil, fileSetDigest: digest, baseJob: nil)
        guard requested != .full else { return decision }

        // Newest first (start time, then id).
        let successful = try catalog.jobs(name: jobName).filter {
            $0.type == "B" && $0.fileSetName == fileSet.name && ($0.status == .ok || $0.status == .warnings)
                && JobChain.sameClient($0.clientName, client)
        }
        var chainDigest = digest
        if fileSet.ignoreFileSetChanges, let newestFull = successful.first(where: { $0.level == .full }) {
            chainDigest = newestFull.fileSetDigest
        }
        let sameFileSet = successful.filter { $0.fileSetDigest == chainDigest }
        guard let full = sameFileSet.first(where: { $0.level == .full }) else {
            let otherDigest = successful.contains { $0.level == .full && $0.fileSetDigest != chainDigest }
            decision.upgradeReason = otherDigest ? fileSetChangedReason : noFullReason
            return decision
        }
        decision.fileSetDigest = chainDigest
        if requested == .differential {
            decision.level = .differential
            decision.since = full.startTime
            decision.baseJob = full.id
        } else {
            let newest =
                sameFileSet.first { [.full, .differential, .incremental].contains($0.level) } ?? full
            decision.level = .incremental
            decision.since = newest.startTime
            decision.baseJob = newest.id
        }
        return decision
    }
}
