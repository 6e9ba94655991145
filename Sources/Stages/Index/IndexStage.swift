import Pipeline

/// The `index` stage: observes the bytes of each regular file and records its MIME type and encoding
/// (`index.mime`, `index.encoding` in the file's stage metadata) and, for text-like files and PDFs, its text in the
/// catalog's full-text index (`optionhost search`). It never changes the bytes, so a chain of observers keeps sparse
/// holes and stores the source as it is.
///
/// `index:max_size=SIZE:max_text=SIZE:store_text_of_encrypted=yes|no:pdf_timeout=SECONDS` (see
/// `docs/stages.md`). Text of a file whose chain encrypts it is not stored unless `store_text_of_encrypted=yes`;
/// its metadata is. Content the catalog already holds (same source SHA-256) is not extracted again.
public final class IndexStage: Stage {
    public let name: String
    let engine: IndexEngine

    /// - Throws: `IndexOptions.Problem` naming the option that cannot be used.
    public convenience init(string: String, environment: StageEnvironment = StageEnvironment()) throws {
        try self.init(string: string, pdfTool: nil)
    }

    /// `pdfTool`: the `pdftotext` program to run, `.some(nil)` for none (tests); nil looks it up in `PATH`.
    init(string: String, pdfTool: String??) throws {
        name = string
        engine = IndexEngine(options: try IndexOptions(string: string), stageName: string, pdfTool: pdfTool)
    }

    public var hasSideEffects: Bool { false }
    /// No restore role (no inverse transform, no sink).
    public var restoresConcurrently: Bool { true }

    public func handle(_ event: JobEvent, context: StageContext) throws {
        if case .jobStarted = event { engine.resetJob() }
    }

    public func makeObserver(
        for item: FileItem, placement: ObserverPlacement, context: StageContext
    ) throws -> (any ByteObserver)? {
        guard item.kind == .file else { return nil }
        return IndexFileObserver(
            engine: engine, context: context, path: item.path, size: item.stat.size,
            seesSourceBytes: placement.seesSourceBytes, chainEncrypts: placement.chainEncrypts,
            contentIndex: context.contentIndex)
    }
}

extension IndexFileObserver: ByteObserver {
    var needsBytes: Bool { true }

    func finish(_ file: ObservedFile) throws -> ObserverResult {
        let (metadata, document) = finish(sourceSHA256: file.sourceSHA256)
        return ObserverResult(metadata: metadata, searchDocument: document)
    }

    func abandon(reason: String) {
        abandon()
    }
}
