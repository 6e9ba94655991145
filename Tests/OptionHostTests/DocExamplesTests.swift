import XCTest

/// Docs that cannot drift: every fenced example of README.md and docs/*.md that shows a command is run with the
/// real `optionhost` and its output compared with what the page shows (or the example is marked with the reason
/// it is not run). The syntax is in README.md, "Examples in the docs are tested".
final class DocExamplesTests: CommandLineTestCase {
    private var binaryDirectory: String { URL(fileURLWithPath: CommandLineTestCase.binary).deletingLastPathComponent().path }

    func testEveryExampleOfTheDocsDoesWhatThePageShows() throws {
        let root = CommandLineTestCase.repository.path
        let docs = try FileManager.default.contentsOfDirectory(atPath: root + "/docs")
            .filter { $0.hasSuffix(".md") }.sorted().map { "docs/" + $0 }
        for name in ["README.md"] + docs {
            var runner = DocExampleRunner(
                page: root + "/" + name, displayName: name,
                work: work.path + "/" + name.replacingOccurrences(of: "/", with: "-"),
                binaryDirectory: binaryDirectory, repository: root)
            for failure in try runner.run() { XCTFail(failure) }
        }
    }

    /// The harness itself: a command broken on purpose fails with the page, the line and the differing line.
    func testABrokenExampleFailsNamingPageLineAndDifference() throws {
        let page = try write(
            "page.md",
            """
            Intro.

            <!-- doc-test: file one.conf -->
            ```
            FileSet { Name = "one" }
            ```

            ```
            $ optionhost chek one.conf
            Configuration one.conf: OK (1 file read)
              FileSet: 1 (one)
            …
            ```

            ```
            tar -xf VOLUME
            ```

            <!-- doc-test: skp a typo -->
            ```
            $ optionhost check one.conf
            ```

            """)
        var runner = DocExampleRunner(
            page: page, displayName: "page.md", work: work.path + "/page", binaryDirectory: binaryDirectory,
            repository: CommandLineTestCase.repository.path)
        let failures = try runner.run()
        XCTAssertEqual(failures.count, 3, failures.joined(separator: "\n"))
        XCTAssertEqual(
            failures.first?.components(separatedBy: "\n").prefix(3),
            [
                "page.md:10: $ optionhost chek one.conf",
                "  expected: \"Configuration one.conf: OK (1 file read)\"",
                "  actual:   \"Error: 2 unexpected arguments: 'chek', 'one.conf'\"",
            ])
        XCTAssertEqual(
            failures.dropFirst().first,
            "page.md:15: \"tar -xf VOLUME\" shows a command but is neither run (`$ ` lines or a ```sh block) nor "
                + "marked <!-- doc-test: skip REASON -->")
        XCTAssertEqual(
            failures.last,
            "page.md:20: unknown marker <!-- doc-test: skp a typo --> (known: skip, not compared, one command, file, "
                + "setup, paths, sql)")

        // Fixed, the same page passes.
        try Data(String(contentsOfFile: page, encoding: .utf8).replacingOccurrences(of: "chek", with: "check")
            .replacingOccurrences(of: "```\ntar", with: "<!-- doc-test: skip no volume here -->\n```\ntar")
            .replacingOccurrences(of: "skp a typo", with: "not compared")
            .utf8).write(to: URL(fileURLWithPath: page))
        XCTAssertEqual(try runner.run(), [])
    }

    func testPlaceholders() {
        func compare(_ expected: [String], _ actual: [String]) -> DocOutputMatcher.Mismatch? {
            DocOutputMatcher.compare(expected: expected.enumerated().map { ($0 + 1, $1) }, actual: actual)
        }
        XCTAssertNil(compare(["bytes: … read, 12 stored; … s"], ["bytes: 1,024 read, 12 stored; 0.01 s"]))
        XCTAssertEqual(
            compare(["bytes: … read, 12 stored; … s"], ["bytes: 1,024 read, 13 stored; 0.01 s"]),
            DocOutputMatcher.Mismatch(
                expectedLine: 1, expected: "bytes: … read, 12 stored; … s",
                actual: "bytes: 1,024 read, 13 stored; 0.01 s"))
        XCTAssertNil(compare(["a", "…", "z"], ["a", "b", "c", "z"]))
        XCTAssertNil(compare(["a", "…", "z"], ["a", "z", ""]))
        XCTAssertEqual(
            compare(["a", "z"], ["a", "z", "extra"]),
            DocOutputMatcher.Mismatch(expectedLine: nil, expected: nil, actual: "extra"))
        XCTAssertEqual(
            compare(["a", "b"], ["a"]), DocOutputMatcher.Mismatch(expectedLine: 2, expected: "b", actual: nil))
        XCTAssertFalse(DocOutputMatcher.lineMatches("ab…ba", "aba"))
        XCTAssertTrue(DocOutputMatcher.lineMatches("…", ""))
    }
}
