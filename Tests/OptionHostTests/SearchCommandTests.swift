import Foundation
import PipelineTestSupport
import XCTest

/// `search` and `restore --from-search` end to end: the built binary backs up real files with an `index` stage
/// into a real catalog, then searches it.
final class SearchCommandTests: CommandLineTestCase {
    var catalogPath: String { work.appendingPathComponent("catalog.db").path }
    var tree: String { work.appendingPathComponent("tree").path }

    /// A config whose FileSet sends every file of `tree` through `index`.
    func config() throws -> String {
        try write(
            "search.conf",
            """
            FileSet {
              Name = fs
              Include {
                Options { Plugin = "index" }
                File = "\(tree)"
              }
            }
            Job { Name = Docs; Type = Backup; Level = Full; FileSet = fs }
            """)
    }

    @discardableResult
    func backup(_ config: String, file: StaticString = #filePath, line: UInt = #line) throws -> Result {
        let result = try optionhost(
            ["backup", config, "--job", "Docs", "--catalog", catalogPath, "--archive", work.appendingPathComponent("volumes").path])
        XCTAssertEqual(result.status, 0, result.stderr, file: file, line: line)
        return result
    }

    func search(_ arguments: [String]) throws -> (Result, [[String: Any]]) {
        let result = try optionhost(["search"] + arguments + ["--catalog", catalogPath, "--json"])
        let objects = try result.lines.map {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any], $0)
        }
        return (result, objects)
    }

    func hitPaths(_ objects: [[String: Any]]) -> [String] {
        objects.filter { $0["type"] as? String == "hit" }.compactMap { $0["path"] as? String }
    }

    func testSearchFindsTextHTMLAndPDFAndRanksTheExactPhraseFirst() throws {
        try makeFile("tree/notes.txt", "Meeting notes: the purple walrus budget was approved.\n")
        try makeFile("tree/scattered.txt", "A walrus swam by. Later, purple paint was bought for the budget.\n")
        try makeFile(
            "tree/site/page.html",
            "<html><head><title>Harbour</title><script>var x = 'hiddenword';</script></head>"
                + "<body><p>The <em>lighthouse</em> keeper&#39;s journal</p></body></html>")
        try makeFile("tree/report.pdf", bytes: MinimalPDF.make(lines: ["Zeppelin maintenance schedule"]))
        try makeFile("tree/data.bin", bytes: [0x1F, 0x8B, 0x08, 0x00, 0x01, 0x02])
        try backup(try config())

        let (_, walrus) = try search(["purple walrus"])
        XCTAssertEqual(hitPaths(walrus), [tree + "/notes.txt", tree + "/scattered.txt"], "\(walrus)")
        XCTAssertEqual(walrus.first?["exact_phrase"] as? Bool, true)
        XCTAssertEqual(walrus.dropFirst().first?["exact_phrase"] as? Bool, false)
        XCTAssertEqual(walrus.first?["snippet"] as? String, "Meeting notes: the [purple walrus] budget was approved.")
        XCTAssertEqual(walrus.first?["job"] as? String, "Docs")
        XCTAssertEqual(walrus.last?["type"] as? String, "summary")
        XCTAssertEqual(walrus.last?["hits"] as? Int, 2)

        let (_, html) = try search(["lighthouse"])
        XCTAssertEqual(hitPaths(html), [tree + "/site/page.html"])
        XCTAssertEqual(html.first?["mime"] as? String, "text/html")
        XCTAssertTrue(hitPaths(try search(["hiddenword"]).1).isEmpty, "script contents are not text")

        let (_, pdf) = try search(["zeppelin"])
        XCTAssertEqual(hitPaths(pdf), [tree + "/report.pdf"])
        XCTAssertEqual(pdf.first?["mime"] as? String, "application/pdf")

        // Filters, and the text listing.
        XCTAssertEqual(hitPaths(try search(["walrus", "--mime", "text/html"]).1), [])
        XCTAssertEqual(hitPaths(try search(["walrus", "--path", "*/scat*"]).1), [tree + "/scattered.txt"])
        XCTAssertEqual(hitPaths(try search(["walrus", "--limit", "1"]).1).count, 1)
        let text = try optionhost(["search", "lighthouse", "--catalog", catalogPath])
        XCTAssertEqual(text.status, 0)
        XCTAssertTrue(text.output.hasPrefix("1. \(tree)/site/page.html\n   JobId 1 (Docs), "), text.output)
        XCTAssertTrue(text.output.contains("The [lighthouse] keeper's journal"), text.output)
    }

    func testMalformedQueryIsAUsageError() throws {
        try makeFile("tree/a.txt", "alpha\n")
        try backup(try config())
        let result = try optionhost(["search", "alpha AND", "--catalog", catalogPath])
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.stderr.hasPrefix("optionhost: invalid search query \"alpha AND\": "), result.stderr)
        XCTAssertFalse(result.stderr.contains("SQL"), result.stderr)
        XCTAssertEqual(try optionhost(["search", "\"open", "--catalog", catalogPath]).status, 2)
    }

    func testRestoreFromSearchRestoresTheVersionThatMatched() throws {
        let config = try config()
        try makeFile("tree/plan.txt", "first draft mentions the marmot expedition\n")
        try backup(config)
        try makeFile("tree/plan.txt", "second draft, the expedition was cancelled\n")
        try backup(config)

        let (_, objects) = try search(["marmot"])
        XCTAssertEqual(objects.first?["job_id"] as? Int, 1)
        let target = work.appendingPathComponent("restored").path
        let restore = try optionhost(["restore", "--catalog", catalogPath, "--from-search", "marmot", "--where", target])
        XCTAssertEqual(restore.status, 0, restore.stderr + restore.output)
        XCTAssertEqual(
            try String(contentsOfFile: target + tree + "/plan.txt", encoding: .utf8),
            "first draft mentions the marmot expedition\n")

        // Found in both jobs: the newest version.
        let both = work.appendingPathComponent("both").path
        let newest = try optionhost(["restore", "--catalog", catalogPath, "--from-search", "expedition", "--where", both])
        XCTAssertEqual(newest.status, 0, newest.stderr)
        XCTAssertEqual(
            try String(contentsOfFile: both + tree + "/plan.txt", encoding: .utf8), "second draft, the expedition was cancelled\n")
        XCTAssertTrue(newest.stderr.contains("1 older versions"), newest.stderr)
    }

    func testExportWritesElasticsearchBulkLines() throws {
        try makeFile("tree/a.txt", "bulk export words\n")
        try makeFile("tree/b.gz", bytes: [0x1F, 0x8B, 0x08, 0x00])
        try backup(try config())
        let result = try optionhost(["search", "--export", "es-bulk", "--catalog", catalogPath])
        XCTAssertEqual(result.status, 0, result.stderr)
        let lines = result.lines
        XCTAssertEqual(lines.count, 4)
        let objects = try lines.map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        let action = try XCTUnwrap(objects[0]["index"] as? [String: Any])
        XCTAssertEqual(action["_index"] as? String, "optionhost")
        let documents = [objects[1], objects[3]]
        let text = try XCTUnwrap(documents.first { ($0["path"] as? String)?.hasSuffix("/a.txt") == true })
        XCTAssertEqual(text["text"] as? String, "bulk export words\n")
        XCTAssertEqual(text["mime"] as? String, "text/plain")
        XCTAssertEqual(text["job"] as? String, "Docs")
        XCTAssertEqual((text["sha256"] as? String)?.count, 64)
        XCTAssertTrue((text["mtime"] as? String)?.hasSuffix("Z") == true)
        let binary = try XCTUnwrap(documents.first { ($0["path"] as? String)?.hasSuffix("/b.gz") == true })
        XCTAssertNil(binary["text"])
        XCTAssertEqual(binary["mime"] as? String, "application/gzip")
    }
}
