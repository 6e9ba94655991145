/// Where an observer sits in a file's data path.
public struct ObserverPlacement: Sendable, Equatable {
    /// True when no transform runs before the observing stage: it sees the source bytes, the very buffers the host
    /// hashes for the catalog's source SHA-256 (and `ObservedFile.sourceSHA256` is set at `finish`).
    public var seesSourceBytes: Bool
    /// True when a stage of the file's chain encrypts its bytes (before or after the observer).
    public var chainEncrypts: Bool

    public init(seesSourceBytes: Bool, chainEncrypts: Bool) {
        self.seesSourceBytes = seesSourceBytes
        self.chainEncrypts = chainEncrypts
    }
}

/// What the host knows about a file once all of its bytes went past an observer.
public struct ObservedFile: Sendable, Equatable {
    /// The host's SHA-256 of the source bytes when the observer saw them (`ObserverPlacement.seesSourceBytes`):
    /// a stage that wants exactly this digest reuses it instead of hashing again.
    public var sourceSHA256: [UInt8]?
    /// How many bytes went past the observer (holes of sparse files included, as zeros).
    public var bytesObserved: UInt64

    public init(sourceSHA256: [UInt8]?, bytesObserved: UInt64) {
        self.sourceSHA256 = sourceSHA256
        self.bytesObserved = bytesObserved
    }
}

/// What an observer hands back for a file's catalog record.
public struct ObserverResult: Sendable, Hashable {
    /// Merged into the record's `stage_metadata` (keys `stage.key`), and into the member's pax records.
    public var metadata: [String: String]
    /// The file's entry in the search index (the `index` stage), written by the catalog with the file's row.
    public var searchDocument: SearchDocument?

    public init(metadata: [String: String] = [:], searchDocument: SearchDocument? = nil) {
        self.metadata = metadata
        self.searchDocument = searchDocument
    }
}

/// The observe-only role of a stage (checksum log, index extraction): it sees a regular file's bytes at its place
/// in the chain and never changes them.
///
/// Unlike a ``ByteTransform`` an observer costs no copy and does not stop the host's shortcuts: a file whose chain
/// only observes keeps its sparse holes in the volume, and its stored SHA-256 is its source SHA-256, computed once.
/// An observer before every transform is fed from the same buffers as the host's source digest (for streamed
/// files on the hasher thread, overlapping the copy into the volume).
///
/// Life of one observer, one file: `observe` for each chunk in order, then exactly one of `finish` (the file's
/// bytes all went by) or `abandon` (the file is not stored). Calls may come from different threads, never at once.
public protocol ByteObserver: AnyObject {
    /// False when the observer needs no bytes, only `finish` (e.g. a SHA-256 log reusing the host's digest):
    /// `observe` is then never called.
    var needsBytes: Bool { get }

    /// The next bytes of the file, in order; holes of sparse files arrive as zeros.
    func observe(_ bytes: UnsafeRawBufferPointer)

    /// Every byte went by. A throw fails the file (D6) like a transform's error.
    func finish(_ file: ObservedFile) throws -> ObserverResult

    /// The file is not stored (unreadable, changed while read, another stage failed it, the job was cancelled).
    func abandon(reason: String)
}

/// Answers, for the `index` stage, whether the catalog already holds the text of a content (by source SHA-256),
/// so the same content is not extracted twice. Loaded once at job start.
public protocol ContentIndexLookup: Sendable {
    func contains(sha256: [UInt8]) -> Bool
}
