import Synchronization  // Atomic
import Pipeline

/// What one `index` stage shares between the files of a job, across worker threads: its options, the PDF and
/// libmagic helpers, and the digests this job has already claimed for extraction (so two files with the same
/// content in one job are extracted once).
final class IndexEngine: Sendable {
    let options: IndexOptions
    let pdf: PDFTextExtractor
    let magic = MagicPool()
    /// The stage string, for job messages.
    let stageName: String
    private let claimed = Locked<Set<[UInt8]>>([])
    private let pdfNoticeGiven = Atomic<Bool>(false)

    /// `pdfTool`: the `pdftotext` to run, `.some(nil)` for none (tests); by default the one in `PATH`.
    init(options: IndexOptions, stageName: String, pdfTool: String?? = nil) {
        self.options = options
        self.stageName = stageName
        self.pdf = PDFTextExtractor(timeout: options.pdfTimeout, executable: pdfTool)
    }

    /// True for the first file of the job with this content: it extracts the text, later ones point at it.
    func claim(_ digest: [UInt8]) -> Bool {
        claimed.withLock { $0.insert(digest).inserted }
    }

    /// The file that claimed `digest` was not stored after all: a later file with the same content extracts it.
    func release(_ digest: [UInt8]) {
        _ = claimed.withLock { $0.remove(digest) }
    }

    /// Forgets the digests of the previous job (a stage object may serve several jobs).
    func resetJob() {
        claimed.withLock { $0.removeAll() }
    }

    /// Tells the job once that PDFs get no text because `pdftotext` is missing.
    func noticeMissingPDFTool(_ context: StageContext) {
        guard !pdfNoticeGiven.exchange(true, ordering: .relaxed) else { return }
        context.message(
            .info,
            "pdftotext is not installed (Debian package poppler-utils): PDF files are indexed by their metadata only",
            stage: stageName)
    }
}
