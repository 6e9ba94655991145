/// What the `index` stage found in one stored file, for the search index (`search_files`, `search_content`).
///
/// The catalog writes it in the same transaction as the file's `files` row, keyed by (job, file index) with the
/// file's path and source SHA-256. Text is stored once per distinct SHA-256 (`search_content`); a file whose
/// content is already there only points at it.
public struct SearchDocument: Sendable, Hashable {
    /// What happened to the file's text.
    public enum Content: String, Sendable, Hashable {
        /// The text was extracted (``SearchDocument/text``, possibly empty): store it under the file's SHA-256.
        case extracted
        /// Content with the same SHA-256 is already in the index (an earlier job, or an earlier file of this job):
        /// the file points at that text; nothing was extracted.
        case alreadyIndexed
        /// No text for this file: not a text-like type, too large, or its chain encrypts it and
        /// `store_text_of_encrypted` is off. Only the metadata is indexed.
        case metadataOnly
    }

    /// The MIME type (`text/plain`, `application/pdf`, `application/octet-stream`, ...).
    public var mimeType: String
    /// The character encoding of text-like content (`utf-8`, `iso-8859-1`, `us-ascii`), nil for binary types.
    public var encoding: String?
    /// The extracted text (only with ``Content/extracted``).
    public var text: String?
    /// The text was cut at the `max_text` limit.
    public var textTruncated: Bool
    /// Why there is no text, or what went wrong extracting it (`pdftotext not installed`, `larger than max_size`).
    public var note: String?
    public var content: Content

    public init(
        mimeType: String, encoding: String? = nil, text: String? = nil, textTruncated: Bool = false,
        note: String? = nil, content: Content? = nil
    ) {
        self.mimeType = mimeType
        self.encoding = encoding
        self.text = text
        self.textTruncated = textTruncated
        self.note = note
        self.content = content ?? (text == nil ? .metadataOnly : .extracted)
    }
}

/// A ``ContentIndexLookup`` over a set loaded from the catalog.
public struct IndexedContentSet: ContentIndexLookup {
    public let digests: Set<[UInt8]>

    public init(_ digests: Set<[UInt8]>) {
        self.digests = digests
    }

    public func contains(sha256: [UInt8]) -> Bool { digests.contains(sha256) }
}
