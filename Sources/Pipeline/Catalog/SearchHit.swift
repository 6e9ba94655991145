/// Which indexed file versions a search looks at (every one when all fields are nil or empty).
public struct SearchFilter: Sendable {
    /// Only versions stored by this job.
    public var jobID: JobID?
    /// Only this MIME type (`text/html`), or a whole family with a trailing `/` or `/*` (`text/`, `text/*`).
    public var mimeType: String?
    /// Only paths matching one of these Bareos wildcards (`*` crosses `/`).
    public var paths: [Wildcard]

    public init(jobID: JobID? = nil, mimeType: String? = nil, paths: [Wildcard] = []) {
        self.jobID = jobID
        self.mimeType = mimeType
        self.paths = paths
    }

    /// The MIME condition as SQL parameters: an exact type, or a `LIKE` prefix for a family.
    var mimeCondition: (exact: String?, prefix: String?) {
        guard let mimeType else { return (nil, nil) }
        if mimeType.hasSuffix("/*") { return (nil, String(mimeType.dropLast()) + "%") }
        if mimeType.hasSuffix("/") { return (nil, mimeType + "%") }
        return (mimeType, nil)
    }

    func accepts(path: [UInt8]) -> Bool {
        paths.isEmpty || paths.contains { $0.matches(path) }
    }
}

/// One indexed file version: its identity, type and job, as search results and exports show it.
public struct IndexedFile: Sendable, Hashable {
    public var jobID: JobID
    public var fileIndex: Int64
    public var path: [UInt8]
    public var sourceSHA256: [UInt8]?
    public var mimeType: String
    public var encoding: String?
    public var jobName: String
    public var clientName: String?
    public var jobStart: FileStat.Timestamp
    /// Size and modification time of the file version (nil when its `files` row is gone).
    public var size: UInt64?
    public var mtime: FileStat.Timestamp?
}

/// One file version a search found.
public struct SearchHit: Sendable, Hashable {
    public var file: IndexedFile
    /// The matching text around the hits, matches in `[` `]`, cut parts as `…`.
    public var snippet: String
    /// FTS5's bm25 score within the hit's group (lower is better).
    public var score: Double
    /// 0 for hits of the first (exact phrase) query, 1 for the next, and so on.
    public var group: Int
}

/// One indexed file version with its text, for exporting the index (`search --export es-bulk`).
public struct SearchExportRecord: Sendable, Hashable {
    public var file: IndexedFile
    /// The indexed text; nil when only the metadata is indexed.
    public var text: String?
    public var textTruncated: Bool
    public var ctime: FileStat.Timestamp?
    public var userName: String?
    public var groupName: String?
    public var uid: UInt32?
    public var gid: UInt32?
}
