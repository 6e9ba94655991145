/// A stage of a chain: native (checksum, owner, gpg, index, compression) or a Python plugin.
///
/// A chain is the list of `Plugin =` strings of the Options block that matched a file (decision D1). For each
/// entry the host:
///
/// ```
///   decision hooks, chain order ──► first .skip ends (not stored) · a throw = file failed · at most one .takeOver
///          │
///          ▼
///   byte source: the host reads the file, or the stage that answered .takeOver (openSource)
///          │
///          ▼
///   data stages, chain order: observers (makeObserver) see the bytes, transforms (makeTransform) replace them
///          │                    compression is a transform the chain builder places before the first encrypting
///          ▼                    stage, or at the end
///   volume     (catalog: SHA-256 of source and of stored bytes)
///
///   restore: volume ──► inverse transforms, reverse order ──► verify source SHA-256 ──► file, or the sink of the
///            stage that took the file over (openRestoreSink)
/// ```
///
/// Every hook has a default that does nothing, so a stage implements only what it needs. Stages are shared by
/// the worker threads of a job: an implementation must be thread-safe (or funnel its work, as the Python bridge
/// does, through one thread per batch). Hooks are synchronous and are called on dedicated worker threads, never
/// on the cooperative thread pool.
public protocol Stage: AnyObject, Sendable {
    /// The stage string it was built from (e.g. `python3:module_name=x`), used in messages and the catalog.
    var name: String { get }

    /// True when bytes leaving this stage are encrypted: an implicit compression stage goes before the first one.
    var isEncrypting: Bool { get }

    /// The suffix a volume member gets when this stage's transform is the last one (`.gz`, `.lz4`, `.gpg`), so that
    /// `tar -xf` gives a file the matching tool reads; nil to keep the name.
    var memberSuffix: String? { get }

    /// True when the stage's decision hooks must see entries in walk order across batches (a Python plugin sees them
    /// as Bareos offers them, each directory after its contents); batches then take turns for their decisions.
    var needsWalkOrder: Bool { get }

    /// False when the decision hook has no side effects (reads no file, keeps no state, writes nothing): `estimate`
    /// then runs it and lists its decisions. Python plugins are never run by `estimate` (D3).
    var hasSideEffects: Bool { get }

    /// True when restore may call `makeInverseTransform` and `openRestoreSink` for different files on different
    /// threads at once (the stage keeps no per-file state between calls outside a lock). Files whose chain has a
    /// stage answering false are restored on one thread, in catalog order (a Bareos plugin's `plugin_io` handles
    /// one file at a time). The default is false.
    var restoresConcurrently: Bool { get }

    /// Job events (start before any file is read, end of the file set, end of the job).
    func handle(_ event: JobEvent, context: StageContext) throws

    /// Decision hooks for a batch of entries of this chain, in walk order: one answer (or error) per item.
    /// The default calls `decide(_:context:)` for each item. Every entry type is offered (D1).
    func decide(batch: inout [FileItem], context: StageContext) -> [Result<StageDecision, any Error>]

    /// The decision hook for one entry; may attach metadata to `item.metadata`.
    func decide(_ item: inout FileItem, context: StageContext) throws -> StageDecision

    /// The byte source of a regular file this stage took over (`.takeOver`).
    func openSource(for item: FileItem, context: StageContext) throws -> any ByteSource

    /// An observer for the bytes of a regular file at this stage's place in the chain, or nil. Observing stages
    /// (checksum, index) read without changing anything: no copy, and sparse holes and the "stored bytes are the
    /// source bytes" shortcut survive. `placement` tells whether the bytes are the source's.
    func makeObserver(for item: FileItem, placement: ObserverPlacement, context: StageContext) throws -> (any ByteObserver)?

    /// A transform for the bytes of a regular file, or nil to pass them on unchanged. A transform that also
    /// conforms to `StageMetadataProducer` has its metadata merged into the file's record: what it holds right after
    /// it is made goes into the member's header too (so `scan` rebuilds it), what it holds after `finish` into the
    /// catalog.
    func makeTransform(for item: FileItem, context: StageContext) throws -> (any ByteTransform)?

    /// The inverse transform for restore (nil when `makeTransform` returned nil for this file).
    func makeInverseTransform(for item: RestoreItem, context: StageContext) throws -> (any ByteTransform)?

    /// For a file this stage took over at backup: where restore hands the verified bytes (nil: write the file).
    /// `outputPath` is the file's path under `--where`.
    func openRestoreSink(for item: RestoreItem, outputPath: [UInt8], context: StageContext) throws -> (any ByteSink)?

    /// The chain did not store a file this stage took over (a later stage skipped or failed it, or took it over
    /// too): `openSource` will not be called for it, so the stage drops what it prepared.
    func discardTakeOver(of item: FileItem, context: StageContext)

    /// Accurate backups: paths of the previous state that the walk did not see. True for a path the stage still
    /// accounts for (a Python plugin's `check_file` answering `bRC_Seen`): it is not recorded as deleted.
    func claimsUnseen(_ paths: [[UInt8]], context: StageContext) -> [Bool]

    /// A command plugin (a stage built from an Include-level `Plugin =` string): the next item of its loop, to
    /// get file index `fileIndex`, or nil when the loop has ended. Called by the walk after the file walk, one item
    /// per call (the stage must not block on the job's queues); `includeIndex` is the Include of the `Plugin =` line. Throwing ends the job (Bareos: M_FATAL).
    func nextCommandItem(includeIndex: Int, fileIndex: Int64, context: StageContext) throws -> CommandPluginItem?

    /// At restore, before any file: true when this stage consumes `item` as a restore object (Bareos'
    /// FT_RESTORE_FIRST, handed to `restore_object_data`) instead of having it restored as a file.
    func isRestoreObject(_ item: RestoreItem) -> Bool

    /// Receives the verified bytes of a restore object (`isRestoreObject`), before any file is restored.
    func restoreObject(_ item: RestoreItem, data: [UInt8], context: StageContext) throws
}

extension Stage {
    public var isEncrypting: Bool { false }

    public var needsWalkOrder: Bool { false }

    public var memberSuffix: String? { nil }

    public var hasSideEffects: Bool { true }

    public var restoresConcurrently: Bool { false }

    public func handle(_ event: JobEvent, context: StageContext) throws {}

    public func decide(batch: inout [FileItem], context: StageContext) -> [Result<StageDecision, any Error>] {
        var results: [Result<StageDecision, any Error>] = []
        results.reserveCapacity(batch.count)
        for index in batch.indices {
            do {
                results.append(.success(try decide(&batch[index], context: context)))
            } catch {
                results.append(.failure(error))
            }
        }
        return results
    }

    public func decide(_ item: inout FileItem, context: StageContext) throws -> StageDecision { .core }

    public func openSource(for item: FileItem, context: StageContext) throws -> any ByteSource {
        throw StageFailure(stage: name, path: item.path, message: "answered take-over but provides no byte source")
    }

    public func makeObserver(
        for item: FileItem, placement: ObserverPlacement, context: StageContext
    ) throws -> (any ByteObserver)? { nil }

    public func makeTransform(for item: FileItem, context: StageContext) throws -> (any ByteTransform)? { nil }

    public func makeInverseTransform(for item: RestoreItem, context: StageContext) throws -> (any ByteTransform)? {
        nil
    }

    public func openRestoreSink(
        for item: RestoreItem, outputPath: [UInt8], context: StageContext
    ) throws -> (any ByteSink)? { nil }

    public func claimsUnseen(_ paths: [[UInt8]], context: StageContext) -> [Bool] { paths.map { _ in false } }

    public func discardTakeOver(of item: FileItem, context: StageContext) {}

    public func nextCommandItem(includeIndex: Int, fileIndex: Int64, context: StageContext) throws -> CommandPluginItem? { nil }

    public func isRestoreObject(_ item: RestoreItem) -> Bool { false }

    public func restoreObject(_ item: RestoreItem, data: [UInt8], context: StageContext) throws {}
}
