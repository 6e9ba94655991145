import XCTest

/// `check` warns about what can never match (issue 16 item 5): a relative Wild pattern, a `^`-anchored relative
/// Regex, a `File =` missing on this host, and Options blocks an earlier block always decides first.
final class CheckLintCommandTests: CommandLineTestCase {
    func testCheckWarnsAboutPatternsFilesAndBlocksThatCannotMatch() throws {
        try makeFile("data/a.txt")
        let data = work.appendingPathComponent("data").path
        let missing = work.appendingPathComponent("missing").path
        let config = try write(
            "lint.conf",
            """
            FileSet {
              Name = fs
              Include {
                Options { Wild = "examples/data/src/*"; Regex = "^src/.*" }
                Options { Exclude = yes }
                Options { Wild = "*.txt" }
                File = "\(data)"
                File = "\(missing)"
              }
              Include {
                Options { Wild = "*.log"; Compression = GZIP }
                Options { WildFile = "*.log" }
                Options { Wild = "/var/*"; Regex = "\\\\.tmp$" }
                File = "\(data)"
              }
            }
            Job { Name = J; Type = Backup; Level = Full; FileSet = fs }

            """)
        let result = try optionhost(["check", config])
        XCTAssertEqual(result.status, 0, result.stderr)
        let warnings = result.lines.drop { !$0.hasSuffix(" warnings:") }.dropFirst()
        XCTAssertEqual(
            Array(warnings),
            [
                "\(config):4:5: warning: Wild = \"examples/data/src/*\" can never match: Bareos matches patterns "
                    + "against the absolute path (did you mean \"*/examples/data/src/*\" or \"/examples/data/src/*\"?)",
                "\(config):4:5: warning: Regex = \"^src/.*\" can never match: it is anchored with ^ to a path that "
                    + "does not start with /, and every path does",
                "\(config):6:5: warning: this Options block never applies: the block at \(config):5:5 is an Exclude = "
                    + "yes block without patterns, which rejects every entry that reaches it",
                "\(config):8:12: warning: File = \"\(missing)\" of FileSet \"fs\" does not exist on this host (a "
                    + "backup reports it as an error)",
                "\(config):12:5: warning: this Options block never applies: the block at \(config):11:5 has every "
                    + "pattern of this block, and is tried first",
            ], result.output)

        let json = try optionhost(["check", config, "--json"])
        XCTAssertEqual(json.status, 0, json.stderr)
        XCTAssertTrue(
            json.lines.contains {
                $0.hasPrefix("{\"type\":\"warning\",\"file\":\"\(config)\",\"line\":8,\"column\":12,\"message\":\"File = ")
            }, json.output)
    }
}
