/// A file's entry in the catalog's search index, made by the `index` stage: the catalog keys it by
/// (job, path, source SHA-256) and stores the text once per distinct content.
public struct SearchDocument: Sendable, Hashable {
    /// The MIME type the stage determined (`text/plain`, `application/pdf`, ...).
    public var mimeType: String
    /// The text's encoding when the file is text (`utf-8`, `iso-8859-1`).
    public var encoding: String?
    /// The extracted text; nil when only metadata is indexed (not text-like, too large, encrypted by the chain,
    /// or the same content is already in the index).
    public var text: String?
    /// True when `text` was cut at the stage's `max_text`.
    public var textTruncated: Bool
    /// Why there is no text, when there is none.
    public var note: String?

    public init(mimeType: String, encoding: String? = nil, text: String? = nil, textTruncated: Bool = false, note: String? = nil) {
        self.mimeType = mimeType
        self.encoding = encoding
        self.text = text
        self.textTruncated = textTruncated
        self.note = note
    }
}
