import Pipeline
import Synchronization

/// Where the `gpg` stage keeps its job keys (one small OpenPGP message per recipient set, key
/// `gpg.jobkey.<setid>`) and how it finds them again at restore.
///
/// The engine stores a job's data in the catalog with the job (`StageContext.recordJobData(key:value:)` and
/// `jobData(job:key:)`); this seam keeps the stage independent of when that API lands, and lets tests use an
/// in-memory store shared by a backup stage and a restore stage.
package struct GPGJobDataStore: Sendable {
    /// Stores `value` under `key` with the running backup job.
    package var record: @Sendable (_ context: StageContext, _ key: String, _ value: [UInt8]) throws -> Void
    /// The value stored under `key` with backup job `job`, nil when there is none.
    package var load: @Sendable (_ context: StageContext, _ job: Int64, _ key: String) throws -> [UInt8]?
    /// The backup job a restored file comes from.
    package var job: @Sendable (_ item: RestoreItem, _ context: StageContext) -> Int64

    package init(
        record: @escaping @Sendable (StageContext, String, [UInt8]) throws -> Void,
        load: @escaping @Sendable (StageContext, Int64, String) throws -> [UInt8]?,
        job: @escaping @Sendable (RestoreItem, StageContext) -> Int64
    ) {
        self.record = record
        self.load = load
        self.job = job
    }

    /// The engine's job data in the catalog.
    ///
    /// This branch predates the engine API: the store refuses, so a backup fails at job start with a clear
    /// message instead of storing files whose catalog restore could never work.
    package static let engine = GPGJobDataStore(
        record: { _, key, _ in
            throw GPGStageError("this build's engine cannot store job data yet (needed for \(key))")
        },
        load: { _, job, key in
            throw GPGStageError("this build's engine cannot read job data yet (\(key) of job \(job))")
        },
        job: { _, context in context.jobID })

    /// A store in memory, keyed by job id and key (tests: one store shared by the backup and the restore stage).
    package static func inMemory() -> GPGJobDataStore {
        let values = Mutex<[String: [UInt8]]>([:])
        return GPGJobDataStore(
            record: { context, key, value in values.withLock { $0["\(context.jobID)/\(key)"] = value } },
            load: { _, job, key in values.withLock { $0["\(job)/\(key)"] } },
            job: { _, context in context.jobID })
    }
}

/// A problem of the `gpg` stage that is not one of GPGME's or of the OpenPGP code: options, key sets, job keys.
public struct GPGStageError: Error, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
