import Foundation
import XCTest

@testable import Pipeline

/// `<file`, `\<file`, `|command`, `\|command` entries (section 2.4) and job-start failures.
final class FileSelectorEntryListTests: SelectorTestCase {
    private let location = SourceLocation(file: "fs.conf", line: 7, column: 3)

    private func include(_ values: [[UInt8]]) -> Include {
        var include = Include(location: location)
        include.files = values.map { FileEntry(value: $0, location: location) }
        return include
    }

    private func writeList(_ tree: FileTreeFixture, _ name: String, _ bytes: [UInt8]) throws -> [UInt8] {
        let url = URL(fileURLWithPath: tree.string(name))
        try Data(bytes).write(to: url)
        return tree.path(name)
    }

    func testListFileLinesBecomeEntries() throws {
        let tree = try makeTree()
        try tree.dir("l")
        try tree.file("l/a")
        try tree.file("l/b")
        try tree.file("l/tab\t")
        let root = tree.rootString
        let text = "\(root)/l/a   \n\(root)/l/b\r\n\n   \n\(root)/l/tab\t\n \(root)/l/a\n"
        let list = try writeList(tree, "list", Array(text.utf8))

        for form in ["<", "\\<"] {
            let selection = try runSelection(makeFileSet([include([Array(form.utf8) + list])]))
            XCTAssertEqual(selection.entries.map { tree.relative($0.path) }, ["l/a", "l/b", "l/tab\t"], form)
            XCTAssertTrue(selection.entries.allSatisfy(\.isTopLevel))
            // Leading blanks are part of the name.
            XCTAssertEqual(
                problemLines(selection, in: tree), ["error: Could not stat  $TMP/l/a: No such file or directory"])
        }
    }

    func testMissingListFileFailsTheJobNamingTheEntry() throws {
        let tree = try makeTree()
        try tree.file("present")
        for form in ["<", "\\<"] {
            let fileSet = makeFileSet([include([tree.path("present"), Array("\(form)/nonexistent/list".utf8)])])
            var events: [SelectionEvent] = []
            XCTAssertThrowsError(try FileSelector(fileSet: fileSet).run { events.append($0) }) { error in
                XCTAssertEqual(
                    "\(error)", "fs.conf:7:3: cannot read file list \"/nonexistent/list\": No such file or directory")
                XCTAssertEqual((error as? SelectionError)?.location, self.location)
            }
            XCTAssertEqual(events.count, 0, "expansion happens before anything is walked")
        }
    }

    func testCommandOutputLinesBecomeEntries() throws {
        let tree = try makeTree()
        try tree.file("a")
        try tree.file("b")
        for form in ["|", "\\|"] {
            let command = "\(form)printf '%s  \\n\\n%s\\r\\n' '\(tree.rootString)/a' '\(tree.rootString)/b'"
            let selection = try runSelection(makeFileSet([include([Array(command.utf8)])]))
            XCTAssertEqual(selection.entries.map { tree.relative($0.path) }, ["a", "b"], form)
            XCTAssertEqual(selection.problems.count, 0)
        }
    }

    func testFailingCommandFailsTheJobWithItsStatus() throws {
        let tree = try makeTree()
        try tree.file("a")
        let cases: [(String, String)] = [
            (
                "|echo '\(tree.rootString)/a'; exit 3",
                "fs.conf:7:3: command \"echo '\(tree.rootString)/a'; exit 3\" exited with status 3"
            ),
            ("\\|exit 1", "fs.conf:7:3: command \"exit 1\" exited with status 1"),
            ("|kill -9 $$", "fs.conf:7:3: command \"kill -9 $$\" was killed by signal 9"),
        ]
        for (value, message) in cases {
            let fileSet = makeFileSet([include([tree.path("a"), Array(value.utf8)])])
            var events: [SelectionEvent] = []
            XCTAssertThrowsError(try FileSelector(fileSet: fileSet).run { events.append($0) }) { error in
                XCTAssertEqual("\(error)", message)
            }
            XCTAssertEqual(events.count, 0)
        }
    }

    func testDirectorSideListLinesStartingWithPipeOrAngleAreExpandedAgain() throws {
        let tree = try makeTree()
        try tree.file("a")
        try tree.file("b")
        let inner = try writeList(tree, "inner", Array("\(tree.rootString)/b\n".utf8))
        let outer = try writeList(
            tree, "outer", Array("|echo '\(tree.rootString)/a'\n<".utf8) + inner + [UInt8(ascii: "\n")])

        let selection = try runSelection(makeFileSet([include([[UInt8(ascii: "<")] + outer])]))
        XCTAssertEqual(selection.entries.map { tree.relative($0.path) }, ["a", "b"])

        // Client-side (`\<`) lines are taken literally.
        let literal = try runSelection(makeFileSet([include([Array("\\<".utf8) + outer])]))
        XCTAssertEqual(literal.entries.count, 0)
        XCTAssertEqual(literal.problems.map(\.path).first, Array("|echo '\(tree.rootString)/a'".utf8))
    }

    func testOneLeadingBackslashIsRemovedAndTrailingBlanksAreStripped() throws {
        let tree = try makeTree()
        try tree.file("a")
        let selection = try runSelection(
            makeFileSet([
                include([
                    [UInt8(ascii: "\\")] + tree.path("a"), tree.path("a") + Array("  \r".utf8), Array("\\\\x".utf8),
                ])
            ]))

        XCTAssertEqual(selection.entries.map { tree.relative($0.path) }, ["a", "a"])
        XCTAssertEqual(problemLines(selection, in: tree), ["error: Could not stat \\x: No such file or directory"])
    }

    func testExcludeEntriesExpandTheSameWay() throws {
        let tree = try makeTree()
        try tree.dir("t")
        try tree.file("t/a.swp")
        try tree.file("t/b.bak")
        try tree.file("t/c")
        let list = try writeList(tree, "patterns", Array("*.swp\n".utf8))
        var fileSet = makeFileSet([makeInclude([tree.path("t")])])
        var exclude = ExcludeBlock(location: location)
        exclude.files = [
            FileEntry(value: [UInt8(ascii: "<")] + list, location: location),
            FileEntry(value: Array("|echo '*.bak'".utf8), location: location),
        ]
        fileSet.excludes = [exclude]

        let selection = try runSelection(fileSet)

        assertRows(selection, in: tree, [Row("t", .directory), Row("t/c", .file)])

        fileSet.excludes[0].files.append(FileEntry(value: Array("</nonexistent".utf8), location: location))
        XCTAssertThrowsError(try runSelection(fileSet)) {
            XCTAssertEqual("\($0)", "fs.conf:7:3: cannot read file list \"/nonexistent\": No such file or directory")
        }
    }

    func testInvalidRegularExpressionFailsAtInitialisation() {
        var block = OptionsBlock(index: 0, location: SourceLocation(file: "fs.conf", line: 12, column: 5))
        block.regexDir = [Array("a(b".utf8)]
        var include = Include(location: location)
        include.options = [block]
        XCTAssertThrowsError(try FileSelector(fileSet: makeFileSet([include]))) { error in
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix("fs.conf:12:5: invalid regular expression \"a(b\" in RegexDir: "), text)
            XCTAssertGreaterThan(text.count, "fs.conf:12:5: invalid regular expression \"a(b\" in RegexDir: ".count)
        }
    }
}
