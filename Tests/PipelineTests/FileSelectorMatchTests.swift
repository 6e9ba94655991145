import XCTest

import Pipeline

/// `FileSelector.match`, the per-entry decision without a tree (what the micro-benchmarks time): the same rules
/// as the walk — first block with a hit decides, an `Exclude = yes` block rejects, then the Exclude patterns.
final class FileSelectorMatchTests: XCTestCase {
    private func selector() throws -> FileSelector {
        let configuration = try Configuration.parse(
            text: """
                FileSet {
                  Name = fs
                  Include {
                    Options { WildFile = "*.tmp"; WildDir = "*/.cache"; Exclude = yes }
                    Options { Wild = "*.jpg"; Compression = LZ4 }
                    Options { Signature = SHA256 }
                    File = /home
                  }
                  Exclude { File = /home/*/Trash }
                }
                """)
        return try FileSelector(fileSet: try XCTUnwrap(configuration.fileSets["fs"]))
    }

    func testFirstBlockWithAHitDecides() throws {
        let selector = try selector()
        XCTAssertEqual(selector.match(Array("/home/a/x.tmp".utf8), isDirectory: false), .rejected)
        XCTAssertEqual(selector.match(Array("/home/a/.cache".utf8), isDirectory: true), .rejected)
        XCTAssertEqual(selector.match(Array("/home/a/.cache".utf8), isDirectory: false), .accepted(block: nil))
        XCTAssertEqual(selector.match(Array("/home/a/p.jpg".utf8), isDirectory: false), .accepted(block: 1))
        XCTAssertEqual(selector.match(Array("/home/a/notes.txt".utf8), isDirectory: false), .accepted(block: nil))
    }

    func testExcludePatternsComeLast() throws {
        let selector = try selector()
        XCTAssertEqual(selector.match(Array("/home/a/Trash".utf8), isDirectory: true), .rejected)
        XCTAssertEqual(
            selector.match(Array("/home/a/Trash".utf8), isDirectory: true, excludePatterns: []), .accepted(block: nil))
    }
}
