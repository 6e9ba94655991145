import Foundation
import PipelineTestSupport
import XCTest

@testable import Pipeline

/// The search index in a real SQLite catalog: rows written with the files, text once per SHA-256, ranking, filters,
/// export and prune.
class SearchCatalogTests: CatalogTestCase {
    /// A stored file record with a search document; the digest is derived from `digestSeed`.
    func indexed(
        job: JobID, index: Int64, path: String, text: String?, mime: String = "text/plain", digestSeed: UInt8,
        content: SearchDocument.Content? = nil
    ) -> FileRecord {
        var record = FileRecord(
            jobID: job, fileIndex: index, path: Array(path.utf8), kind: .file, size: UInt64(text?.utf8.count ?? 0),
            mtime: time(1_700_000_000 + Int64(index)), sourceSHA256: [UInt8](repeating: digestSeed, count: 32))
        record.searchDocument = SearchDocument(
            mimeType: mime, encoding: text == nil ? nil : "utf-8", text: text, content: content)
        return record
    }

    func testPhraseHitsRankBeforeWordHitsAndContentIsStoredOnce() throws {
        let catalog = try openCatalog()
        let job = try catalog.beginJob(sampleJob())
        try catalog.insert(
            files: [
                indexed(job: job, index: 1, path: "/a/scattered.txt", text: "quick notes; the fox is brown", digestSeed: 1),
                indexed(job: job, index: 2, path: "/a/phrase.txt", text: "the quick brown fox jumps", digestSeed: 2),
                indexed(job: job, index: 3, path: "/a/copy.txt", text: nil, digestSeed: 2, content: .alreadyIndexed),
                indexed(job: job, index: 4, path: "/a/other.txt", text: "nothing to see", digestSeed: 3),
            ], messages: [])
        XCTAssertEqual(try catalog.connection.scalar("SELECT count(*) FROM search_content"), 3)
        XCTAssertEqual(try catalog.connection.scalar("SELECT count(*) FROM search_files"), 4)

        let hits = try catalog.search(["\"quick brown\"", "\"quick\" \"brown\""], filter: SearchFilter(), limit: nil)
        XCTAssertEqual(hits.map { String(decoding: $0.file.path, as: UTF8.self) }, ["/a/phrase.txt", "/a/copy.txt", "/a/scattered.txt"])
        XCTAssertEqual(hits.map(\.group), [0, 0, 1])
        XCTAssertEqual(hits[0].snippet, "the [quick brown] fox jumps")
        XCTAssertEqual(hits[0].file.jobName, "nightly")
        XCTAssertEqual(hits[0].file.mtime, time(1_700_000_002))

        let limited = try catalog.search(["\"quick\""], filter: SearchFilter(paths: [Wildcard(Array("*/scat*".utf8))]), limit: 1)
        XCTAssertEqual(limited.map(\.file.fileIndex), [1])
        XCTAssertTrue(try catalog.search(["\"quick\""], filter: SearchFilter(mimeType: "text/html"), limit: nil).isEmpty)
        XCTAssertEqual(try catalog.search(["\"quick\""], filter: SearchFilter(mimeType: "text/*"), limit: nil).count, 3)
        XCTAssertEqual(try catalog.indexedContent().digests.count, 3)
        try catalog.close()
    }

    func testAFileWrittenBeforeTheTwinThatExtractedItsTextGetsTheTextLater() throws {
        let catalog = try openCatalog()
        let job = try catalog.beginJob(sampleJob())
        // Worker order: file 2 extracted the text, file 1 only points at it, but file 1 is written first.
        try catalog.insert(
            files: [indexed(job: job, index: 1, path: "/early.txt", text: nil, digestSeed: 4, content: .alreadyIndexed)],
            messages: [])
        XCTAssertEqual(try catalog.connection.scalar("SELECT count(*) FROM search_files WHERE note = 'text pending'"), 1)
        try catalog.insert(
            files: [indexed(job: job, index: 2, path: "/late.txt", text: "twin words", digestSeed: 4)], messages: [])
        let hits = try catalog.search(["\"twin\""], filter: SearchFilter(), limit: nil)
        XCTAssertEqual(hits.map(\.file.fileIndex), [1, 2])
        XCTAssertEqual(try catalog.connection.scalar("SELECT count(*) FROM search_files WHERE note IS NOT NULL"), 0)
        try catalog.close()
    }

    func testMetadataOnlyFilesHaveNoTextEvenWhenTheirContentIsIndexed() throws {
        let catalog = try openCatalog()
        let job = try catalog.beginJob(sampleJob())
        var secret = indexed(job: job, index: 2, path: "/secret.txt", text: nil, digestSeed: 7)
        secret.searchDocument?.note = "encrypted by its chain (store_text_of_encrypted=no)"
        try catalog.insert(
            files: [indexed(job: job, index: 1, path: "/public.txt", text: "shared words", digestSeed: 7), secret],
            messages: [])
        let hits = try catalog.search(["\"shared\""], filter: SearchFilter(), limit: nil)
        XCTAssertEqual(hits.map(\.file.fileIndex), [1], "the encrypted copy does not point at the text")
        var exported: [SearchExportRecord] = []
        try catalog.forEachSearchRecord(job: nil) { exported.append($0) }
        XCTAssertEqual(exported.map(\.text), ["shared words", nil])
        XCTAssertEqual(exported.map(\.file.mimeType), ["text/plain", "text/plain"])
        try catalog.close()
    }

    func testMalformedQueriesAreReportedNotRun() throws {
        let catalog = try openCatalog()
        XCTAssertNil(catalog.searchQueryProblem("\"fine\""))
        XCTAssertNotNil(catalog.searchQueryProblem("\"word\" AND"))
        XCTAssertNotNil(catalog.searchQueryProblem("( \"open\""))
        try catalog.close()
    }

    func testPruneRemovesSearchRowsAndUnsharedContent() throws {
        let catalog = try openCatalog()
        let first = try catalog.beginJob(sampleJob())
        try catalog.insert(
            files: [
                indexed(job: first, index: 1, path: "/kept.txt", text: "kept words", digestSeed: 1),
                indexed(job: first, index: 2, path: "/gone.txt", text: "gone words", digestSeed: 2),
            ], messages: [])
        let second = try catalog.beginJob(sampleJob(start: 1_700_000_100))
        try catalog.insert(
            files: [indexed(job: second, index: 1, path: "/kept.txt", text: nil, digestSeed: 1, content: .alreadyIndexed)],
            messages: [])
        try catalog.deleteJob(first)
        XCTAssertEqual(try catalog.connection.scalar("SELECT count(*) FROM search_files"), 1)
        XCTAssertEqual(try catalog.connection.scalar("SELECT count(*) FROM search_content"), 1)
        XCTAssertEqual(try catalog.search(["\"words\""], filter: SearchFilter(), limit: nil).map(\.file.jobID), [second])
        XCTAssertTrue(try catalog.search(["\"gone\""], filter: SearchFilter(), limit: nil).isEmpty)
        let matches =
            driver == .sqlite
            ? "SELECT count(*) FROM search_text WHERE search_text MATCH 'gone'"
            : "SELECT count(*) FROM search_content WHERE search_text @@ to_tsquery('simple', 'gone')"
        XCTAssertEqual(try catalog.connection.scalar(matches), 0)
        try catalog.close()
    }
}

/// ``SearchCatalogTests`` on PostgreSQL: the same queries through `tsvector`, `ts_rank` and `ts_headline`.
/// (Declared again here: test discovery on Linux finds only the methods a class declares itself.)
final class PostgreSQLSearchCatalogTests: SearchCatalogTests {
    override var driver: TestCatalogs.Driver { .postgreSQL }

    override func testPhraseHitsRankBeforeWordHitsAndContentIsStoredOnce() throws { try super.testPhraseHitsRankBeforeWordHitsAndContentIsStoredOnce() }
    override func testAFileWrittenBeforeTheTwinThatExtractedItsTextGetsTheTextLater() throws { try super.testAFileWrittenBeforeTheTwinThatExtractedItsTextGetsTheTextLater() }
    override func testMetadataOnlyFilesHaveNoTextEvenWhenTheirContentIsIndexed() throws { try super.testMetadataOnlyFilesHaveNoTextEvenWhenTheirContentIsIndexed() }
    override func testMalformedQueriesAreReportedNotRun() throws { try super.testMalformedQueriesAreReportedNotRun() }
    override func testPruneRemovesSearchRowsAndUnsharedContent() throws { try super.testPruneRemovesSearchRowsAndUnsharedContent() }
}
