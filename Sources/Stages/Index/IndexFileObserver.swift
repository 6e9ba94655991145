import Pipeline

/// Watches the bytes of one regular file go by and turns them into its ``SearchDocument``: keeps the first bytes
/// for the MIME sniffer, then, for text-like files and PDFs whose text is wanted, the bytes the text is made of
/// (up to `max_text`, or the whole PDF up to `max_size`). Nothing else is copied. The text itself is made in
/// ``finish(sourceSHA256:)``, and only when the index does not hold that content yet.
///
/// One instance per file, called by one thread at a time.
final class IndexFileObserver {
    private let engine: IndexEngine
    private let context: StageContext
    private let path: [UInt8]
    private let size: UInt64
    private let contentIndex: (any ContentIndexLookup)?
    /// Why no text is extracted whatever the content (nil: text is wanted).
    private let noTextReason: String?

    private var buffer: [UInt8] = []
    /// Bytes to keep in `buffer`: the sniffer's prefix until the verdict, then what the text needs.
    private var keep: Int
    private var verdict: MIMESniffer.Verdict?
    private var seen: UInt64 = 0
    private var claimedDigest: [UInt8]?

    init(
        engine: IndexEngine, context: StageContext, path: [UInt8], size: UInt64, seesSourceBytes: Bool,
        chainEncrypts: Bool, contentIndex: (any ContentIndexLookup)?
    ) {
        self.engine = engine
        self.context = context
        self.path = path
        self.size = size
        self.contentIndex = contentIndex
        if chainEncrypts && !engine.options.storeTextOfEncrypted {
            noTextReason = "encrypted by its chain (store_text_of_encrypted=no)"
        } else if !seesSourceBytes {
            noTextReason = "the index stage sees transformed bytes (place it before transforming stages)"
        } else if size > engine.options.maxSize {
            noTextReason = "larger than max_size"
        } else {
            noTextReason = nil
        }
        keep = MIMESniffer.prefixLength
        buffer.reserveCapacity(Int(min(size, UInt64(keep))))
    }

    /// The next bytes of the file.
    func observe(_ bytes: UnsafeRawBufferPointer) {
        seen += UInt64(bytes.count)
        var rest = bytes
        if verdict == nil {
            let take = min(rest.count, keep - buffer.count)
            buffer.append(contentsOf: rest.prefix(take))
            rest = UnsafeRawBufferPointer(rebasing: rest.dropFirst(take))
            guard buffer.count >= keep else { return }
            decide()
        }
        let room = keep - buffer.count
        if room > 0 && !rest.isEmpty { buffer.append(contentsOf: rest.prefix(room)) }
    }

    /// Sniffs the prefix and sets how many bytes the text needs.
    private func decide() {
        let verdict = buffer.withUnsafeBytes { MIMESniffer.sniff($0, path: path, fileSize: max(size, seen)) }
        self.verdict = verdict
        guard noTextReason == nil, case .text(let mime, _) = verdict else {
            if case .binary("application/pdf") = verdict, noTextReason == nil {
                keep = Int(clamping: engine.options.maxSize)
                buffer.reserveCapacity(Int(min(size, engine.options.maxSize)))
            } else {
                keep = buffer.count
            }
            return
        }
        keep = MIMESniffer.textKind(of: mime) == .none ? buffer.count : engine.options.maxText
        if keep > buffer.count { buffer.reserveCapacity(Int(min(size, UInt64(keep)))) }
    }

    /// All bytes went by: the file's index metadata and search document. `sourceSHA256` is the digest of the
    /// source bytes (nil when this stage does not see them).
    func finish(sourceSHA256: [UInt8]?) -> (metadata: [String: String], document: SearchDocument) {
        if verdict == nil { decide() }
        var mime: String
        var encoding: String?
        switch verdict ?? .unknown {
        case .text(let textMime, let textEncoding):
            (mime, encoding) = (textMime, textEncoding)
        case .binary(let binaryMime):
            mime = binaryMime
        case .unknown:
            mime = buffer.withUnsafeBytes { engine.magic.mimeType(of: $0) } ?? "application/octet-stream"
        }
        var metadata = ["index.mime": mime]
        let kind = MIMESniffer.textKind(of: mime)
        func result(_ document: SearchDocument) -> (metadata: [String: String], document: SearchDocument) {
            if let encoding = document.encoding { metadata["index.encoding"] = encoding }
            buffer = []
            return (metadata, document)
        }
        if kind == .none { return result(SearchDocument(mimeType: mime, encoding: encoding)) }
        if let noTextReason { return result(SearchDocument(mimeType: mime, encoding: encoding, note: noTextReason)) }
        if let digest = sourceSHA256 {
            if contentIndex?.contains(sha256: digest) == true || !engine.claim(digest) {
                return result(SearchDocument(mimeType: mime, encoding: encoding, content: .alreadyIndexed))
            }
            claimedDigest = digest
        }
        if kind != .pdf && buffer.count > engine.options.maxText { buffer.removeSubrange(engine.options.maxText...) }
        let cut = seen > UInt64(buffer.count)
        if kind == .pdf {
            guard engine.pdf.executable != nil else {
                engine.noticeMissingPDFTool(context)
                return result(SearchDocument(mimeType: mime, note: "pdftotext is not installed"))
            }
            if cut {
                return result(SearchDocument(mimeType: mime, note: "larger than max_size", content: .extracted))
            }
            do {
                let output = try buffer.withUnsafeBytes { try engine.pdf.text(of: $0, limit: engine.options.maxText) }
                let (text, _) = output.bytes.withUnsafeBytes {
                    TextExtractor.decode($0, encoding: "utf-8", cut: output.cut)
                }
                return result(
                    SearchDocument(
                        mimeType: mime, encoding: "utf-8", text: Self.tidy(text), textTruncated: output.cut))
            } catch {
                return result(SearchDocument(mimeType: mime, note: "\(error)", content: .extracted))
            }
        }
        var (text, used) = buffer.withUnsafeBytes {
            TextExtractor.decode($0, encoding: encoding ?? "utf-8", cut: cut)
        }
        if kind == .markup { text = TextExtractor.stripMarkup(text) }
        return result(SearchDocument(mimeType: mime, encoding: used, text: text, textTruncated: cut))
    }

    /// The file was not stored: drop the bytes, and let a later file with the same content extract it.
    func abandon() {
        buffer = []
        if let claimedDigest { engine.release(claimedDigest) }
        claimedDigest = nil
    }

    /// pdftotext separates pages with form feeds; the index wants plain line breaks.
    private static func tidy(_ text: String) -> String {
        text.contains("\u{0C}") ? String(text.map { $0 == "\u{0C}" ? "\n" : $0 }) : text
    }
}
