import Foundation
@testable import Pipeline
import PipelineTestSupport
import XCTest

@testable import Stages

/// The `index` stage through the stage harness (bytes in, ObserverResult out), and once through the real backup
/// engine into a real SQLite catalog.
final class IndexStageTests: XCTestCase {
    func harness(_ string: String = "index", contentIndex: (any ContentIndexLookup)? = nil) throws -> StageHarness {
        try StageHarness(stage: try IndexStage(string: string), contentIndex: contentIndex)
    }

    func document(
        _ harness: StageHarness, _ path: String, _ contents: [UInt8], file: StaticString = #filePath, line: UInt = #line
    ) throws -> SearchDocument {
        let result = try harness.feed(path: path, contents: contents, chunkSize: 1000)
        return try XCTUnwrap(result.observed?.searchDocument, file: file, line: line)
    }

    // MARK: - Text

    func testPlainUTF8TextIsStoredWithItsTypeAndEncoding() throws {
        let harness = try harness()
        let result = try harness.feed(path: "/docs/notes.md", contents: Array("# Título\nplain words here\n".utf8))
        XCTAssertEqual(result.metadata["index.mime"], "text/markdown")
        XCTAssertEqual(result.metadata["index.encoding"], "utf-8")
        XCTAssertEqual(result.observed?.searchDocument?.text, "# Título\nplain words here\n")
        XCTAssertEqual(result.observed?.searchDocument?.content, .extracted)
        XCTAssertEqual(result.output, Array("# Título\nplain words here\n".utf8), "the bytes pass unchanged")
        try harness.finish()
        XCTAssertTrue(harness.isClean, "\(harness.leftovers)")
    }

    func testLatin1FallsBackAndUTF16IsDecoded() throws {
        let harness = try harness()
        let latin1 = try document(harness, "/a/old.txt", Array("caf".utf8) + [0xE9] + Array(" cr".utf8) + [0xE8, 0x6D, 0x65])
        XCTAssertEqual(latin1.encoding, "iso-8859-1")
        XCTAssertEqual(latin1.text, "café crème")
        let utf16 = try document(harness, "/a/wide.txt", [0xFF, 0xFE] + Array("wide".utf16).flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] })
        XCTAssertEqual(utf16.encoding, "utf-16le")
        XCTAssertEqual(utf16.text, "wide")
        try harness.finish()
    }

    func testHTMLLosesTagsScriptsAndEntities() throws {
        let harness = try harness()
        let html = """
            <!DOCTYPE html><html><head><title>Quarterly &amp; more</title><style>p { color: red }</style>
            <script>var hidden = "scriptword";</script></head>
            <body><p>The <b>lighthouse</b>&nbsp;keeper&#39;s log &#x263A;</p><!-- a commentword --></body></html>
            """
        let document = try document(harness, "/site/index.html", Array(html.utf8))
        XCTAssertEqual(document.mimeType, "text/html")
        let text = try XCTUnwrap(document.text)
        XCTAssertEqual(text, "Quarterly & more The lighthouse keeper's log ☺")
        for hidden in ["scriptword", "commentword", "color", "<"] { XCTAssertFalse(text.contains(hidden), hidden) }
        try harness.finish()
    }

    func testMaxTextCutsAndMarksTruncated() throws {
        let harness = try harness("index:max_text=100")
        let document = try document(harness, "/big.txt", Array(String(repeating: "word ", count: 1000).utf8))
        XCTAssertEqual(document.text?.utf8.count, 100)
        XCTAssertTrue(document.textTruncated)
        try harness.finish()
    }

    // MARK: - Binary, PDF, libmagic

    func testSnifferTellsCommonTypesByContentAndName() {
        func sniff(_ path: String, _ bytes: [UInt8]) -> MIMESniffer.Verdict {
            bytes.withUnsafeBytes { MIMESniffer.sniff($0, path: Array(path.utf8), fileSize: UInt64(bytes.count)) }
        }
        let elf: [UInt8] = [0x7F, 0x45, 0x4C, 0x46, 2, 1, 1, 0] + [UInt8](repeating: 0, count: 8) + [3, 0]
        XCTAssertEqual(sniff("/lib/x.so", elf), .binary(mime: "application/x-sharedlib"))
        XCTAssertEqual(
            sniff("/a/report.docx", Array("PK".utf8) + [3, 4, 0, 0]),
            .binary(mime: "application/vnd.openxmlformats-officedocument.wordprocessingml.document"))
        XCTAssertEqual(sniff("/bin/tool", Array("#!/usr/bin/env python3\nprint(1)\n".utf8)), .text(mime: "text/x-python", encoding: "us-ascii"))
        XCTAssertEqual(sniff("/x/data.json", Array("{\"a\": \"ü\"}".utf8)), .text(mime: "application/json", encoding: "utf-8"))
        XCTAssertEqual(sniff("/x/page", Array("<!DOCTYPE html><p>x".utf8)), .text(mime: "text/html", encoding: "us-ascii"))
        XCTAssertEqual(sniff("/man/ls.1", Array(".TH LS 1\n".utf8)), .text(mime: "text/troff", encoding: "us-ascii"))
        XCTAssertEqual(sniff("/x/t.csv", Array("a;b\n1;2\n".utf8)), .text(mime: "text/csv", encoding: "us-ascii"))
        XCTAssertEqual(sniff("/x/nul", [0x41, 0x00, 0x42]), .unknown)
    }

    func testFilesAboveMaxSizeKeepTheirTypeButNoText() throws {
        let harness = try harness("index:max_size=1k")
        let document = try document(harness, "/a/long.txt", Array(String(repeating: "long text ", count: 200).utf8))
        XCTAssertEqual(document.mimeType, "text/plain")
        XCTAssertNil(document.text)
        XCTAssertEqual(document.note, "larger than max_size")
        try harness.finish()
    }

    func testBinaryTypesKeepMetadataOnly() throws {
        let harness = try harness()
        let gzip = try document(harness, "/a/x.gz", [0x1F, 0x8B, 0x08, 0x00] + [UInt8](repeating: 0, count: 100))
        XCTAssertEqual(gzip.mimeType, "application/gzip")
        XCTAssertNil(gzip.text)
        XCTAssertEqual(gzip.content, .metadataOnly)
        // No signature the sniffer knows: libmagic answers.
        var generator = SplitMix64(state: 9)
        let noise = (0..<4096).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        let unknown = try document(harness, "/a/noise", noise)
        XCTAssertEqual(unknown.mimeType, "application/octet-stream")
        XCTAssertNil(unknown.text)
        let empty = try document(harness, "/a/empty", [])
        XCTAssertEqual(empty.mimeType, "application/x-empty")
        try harness.finish()
    }

    /// pdftotext comes from Debian's poppler-utils, which CI installs: nothing here is skipped.
    func testPDFTextComesFromPdftotext() throws {
        let harness = try harness()
        let pdf = MinimalPDF.make(lines: ["Annual report of the zeppelin club", "Second line (with parentheses)"])
        let document = try document(harness, "/docs/report.pdf", pdf)
        XCTAssertEqual(document.mimeType, "application/pdf")
        let text = try XCTUnwrap(document.text, document.note ?? "no note")
        XCTAssertTrue(text.contains("Annual report of the zeppelin club"), text)
        XCTAssertTrue(text.contains("Second line (with parentheses)"), text)
        XCTAssertFalse(text.contains("\u{0C}"))
        try harness.finish()
        XCTAssertTrue(harness.isClean)
    }

    func testMissingPdftotextIsNoticedOnceAndAHangingOneIsKilled() throws {
        let pdf = MinimalPDF.make(lines: ["unreachable words"])
        let missing = try StageHarness(stage: try IndexStage(string: "index", pdfTool: .some(nil)))
        for path in ["/a.pdf", "/b.pdf"] {
            let document = try document(missing, path, pdf + Array(path.utf8))
            XCTAssertNil(document.text)
            XCTAssertEqual(document.note, "pdftotext is not installed")
            XCTAssertEqual(document.content, .metadataOnly, "extracted by a later job once it is installed")
        }
        let messages = try missing.finish()
        XCTAssertEqual(messages.filter { $0.text.hasPrefix("pdftotext is not installed") }.count, 1)

        let work = try TemporaryDirectory(prefix: "pdftotext")
        defer { work.remove() }
        XCTAssertTrue(try Shell.writeFile(work.path, "pdftotext", Array("#!/bin/sh\nexec sleep 10\n".utf8), mode: 0o755))
        let hanging = try StageHarness(
            stage: try IndexStage(string: "index:pdf_timeout=0.3", pdfTool: work.path + "/pdftotext"))
        let started = Date()
        let document = try document(hanging, "/slow.pdf", pdf)
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
        XCTAssertNil(document.text)
        XCTAssertEqual(document.note, "pdftotext did not finish within 0.3 s")
        XCTAssertEqual(document.content, .extracted, "not tried again")
        try hanging.finish()
    }

    // MARK: - Rules

    func testEncryptingChainKeepsTextOutUnlessAsked() throws {
        let plain = Array("secret launch codes".utf8)
        let harness = try harness()
        harness.placement = ObserverPlacement(seesSourceBytes: true, chainEncrypts: true)
        let hidden = try document(harness, "/vault/codes.txt", plain)
        XCTAssertNil(hidden.text)
        XCTAssertEqual(hidden.mimeType, "text/plain", "the metadata is still indexed")
        XCTAssertEqual(hidden.content, .metadataOnly)
        XCTAssertEqual(hidden.note, "encrypted by its chain (store_text_of_encrypted=no)")
        try harness.finish()

        let allowed = try self.harness("index:store_text_of_encrypted=yes")
        allowed.placement = ObserverPlacement(seesSourceBytes: true, chainEncrypts: true)
        XCTAssertEqual(try document(allowed, "/vault/codes.txt", plain).text, "secret launch codes")
        try allowed.finish()
    }

    func testContentAlreadyIndexedIsNotExtractedAgain() throws {
        let old = Array("indexed by an earlier job".utf8)
        let lookup = IndexedContentSet([try Digester.digest(.sha256, of: old)])
        let harness = try harness(contentIndex: lookup)
        let earlier = try document(harness, "/a/old.txt", old)
        XCTAssertEqual(earlier.content, .alreadyIndexed)
        XCTAssertNil(earlier.text)
        XCTAssertEqual(earlier.mimeType, "text/plain")
        // In one job, the second file with the same content points at the first one's text.
        let first = try document(harness, "/a/one.txt", Array("twins".utf8))
        let second = try document(harness, "/b/two.txt", Array("twins".utf8))
        XCTAssertEqual(first.content, .extracted)
        XCTAssertEqual(second.content, .alreadyIndexed)
        try harness.finish()
        XCTAssertTrue(harness.isClean, "\(harness.leftovers)")
    }

    func testOptionErrorsNameTheOption() {
        for (string, expected) in [
            ("index:max_size=lots", "max_size=lots"), ("index:max_text=0", "max_text=0"),
            ("index:store_text_of_encrypted=maybe", "store_text_of_encrypted=maybe"), ("index:colour=red", "colour"),
        ] {
            XCTAssertThrowsError(try IndexStage(string: string), string) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(error)")
            }
        }
        XCTAssertEqual(try IndexOptions(string: "index:max_size=2m:max_text=10k").maxSize, 2 << 20)
        XCTAssertNoThrow(try StageRegistry.makeStage("index:max_text=1m"))
    }

    // MARK: - The real engine

    /// A backup with the real engine and a real catalog: a chain that encrypts (`xor`, a test stage) stores no
    /// text of its files under the default rule, the plain chain does, and search finds only the latter.
    func testBackupWritesSearchRowsAndKeepsEncryptedTextOut() throws {
        let work = try TemporaryDirectory(prefix: "index")
        defer { work.remove() }
        let source = work.path + "/src"
        XCTAssertTrue(try Shell.writeFile(source, "plain/memo.txt", Array("the albatross report\n".utf8)))
        XCTAssertTrue(try Shell.writeFile(source, "vault/memo.txt", Array("the albatross secret\n".utf8)))
        let text = """
            FileSet {
              Name = fs
              Include {
                Options { Wild = "*/vault/*"; Plugin = "index"; Plugin = "xor" }
                Options { Plugin = "index" }
                File = "\(source)"
              }
            }
            Job { Name = j; Type = Backup; Level = Full; FileSet = fs }
            """
        let configuration = try Configuration.parse(text: text, fileName: "t.conf")
        let fileSet = try XCTUnwrap(configuration.fileSets["fs"])
        try FileManager.default.createDirectory(atPath: work.path + "/volumes", withIntermediateDirectories: true)
        func backup() throws -> JobSummary {
            let tests = TestStageFactory()
            let job = BackupJob(
                job: try XCTUnwrap(configuration.job(named: "j")), fileSet: fileSet,
                chains: configuration.chains(for: fileSet),
                catalog: try SQLiteCatalog.open(path: work.path + "/catalog.db", create: true),
                settings: BackupSettings(archiveDirectory: work.path + "/volumes", workers: 2),
                stageFactory: { string in
                    PluginString.name(string) == "index" ? try IndexStage(string: string) : try tests.stage(string)
                })
            let summary = try job.run()
            try job.releaseCatalog(as: SQLiteCatalog.self)?.close()
            return summary
        }
        let summary = try backup()
        XCTAssertEqual(summary.status, .ok, "\(summary)")
        let catalog = try SQLiteCatalog.open(path: work.path + "/catalog.db", create: false)
        defer { try? catalog.close() }
        let hits = try catalog.search(["\"albatross\""], filter: SearchFilter(), limit: nil)
        XCTAssertEqual(hits.map { String(decoding: $0.file.path, as: UTF8.self) }, [source + "/plain/memo.txt"])
        var exported: [SearchExportRecord] = []
        try catalog.forEachSearchRecord(job: nil) { exported.append($0) }
        let vault = try XCTUnwrap(exported.first { String(decoding: $0.file.path, as: UTF8.self).contains("vault") })
        XCTAssertNil(vault.text)
        XCTAssertEqual(vault.file.mimeType, "text/plain")
        let record = try XCTUnwrap(try catalog.files(job: JobID(rawValue: summary.jobID)).first { $0.path == vault.file.path })
        XCTAssertEqual(record.stageMetadata["index.mime"], "text/plain")

        // A second job finds the content in the index: nothing new is stored, and both versions are found.
        XCTAssertEqual(try catalog.indexedContent().digests.count, 1)
        XCTAssertEqual(try backup().status, .ok)
        XCTAssertEqual(try catalog.indexedContent().digests.count, 1)
        XCTAssertEqual(try catalog.search(["\"albatross\""], filter: SearchFilter(), limit: nil).map(\.file.jobID.rawValue), [2, 1])
    }
}
