@testable import Pipeline
import XCTest

final class POSIXRegexTests: XCTestCase {
    private func regex(_ pattern: String, ignoreCase: Bool = false) throws -> POSIXRegex {
        try POSIXRegex(Array(pattern.utf8), ignoreCase: ignoreCase)
    }

    private func match(_ regex: POSIXRegex, _ path: [UInt8]) -> Bool {
        let viaArray = regex.matches(path)
        let viaBuffer = path.withUnsafeBufferPointer { regex.matches($0) }
        XCTAssertEqual(viaArray, viaBuffer, "array and buffer entry points disagree")
        return viaArray
    }

    private func match(_ regex: POSIXRegex, _ path: String) -> Bool {
        match(regex, Array(path.utf8))
    }

    func testIgnoreCase() throws {
        let folded = try regex("\\.(jpe?g|png)$", ignoreCase: true)
        XCTAssertTrue(match(folded, "/pics/A.JPG"))
        XCTAssertTrue(match(folded, "/pics/b.jpeg"))
        XCTAssertTrue(match(folded, "/pics/c.Png"))
        XCTAssertFalse(match(folded, "/pics/A.JPG.bak"))
        XCTAssertTrue(folded.ignoreCase)

        let exact = try regex("\\.(jpe?g|png)$")
        XCTAssertFalse(match(exact, "/pics/A.JPG"))
        XCTAssertTrue(match(exact, "/pics/a.jpg"))
        XCTAssertFalse(exact.ignoreCase)
    }

    func testDotIsAnyCharacter() throws {
        // `Regex = "\.o$"` reaches the regex as `.o$` (section 1.10): the dot matches any character.
        let dotO = try regex(".o$")
        XCTAssertTrue(match(dotO, "/pics/xo"))
        XCTAssertTrue(match(dotO, "/src/a.o"))
        XCTAssertFalse(match(dotO, "/src/a.c"))
        XCTAssertFalse(match(dotO, "o"))
    }

    func testUnanchoredSearch() throws {
        let tmp = try regex("tmp")
        XCTAssertTrue(match(tmp, "/var/tmp/x"))
        XCTAssertTrue(match(tmp, "/a/b.tmp"))
        XCTAssertFalse(match(tmp, "/a/b.TMP"))
        let anchored = try regex("^/var/")
        XCTAssertTrue(match(anchored, "/var/log"))
        XCTAssertFalse(match(anchored, "/srv/var/log"))
        let end = try regex("/$")
        XCTAssertTrue(match(end, "/a/"))
        XCTAssertFalse(match(end, "/a/b"))
    }

    func testExtendedSyntax() throws {
        let alternation = try regex("^/(home|root)/[^/]+/\\.cache(/|$)")
        XCTAssertTrue(match(alternation, "/home/alice/.cache"))
        XCTAssertTrue(match(alternation, "/root/x/.cache/y"))
        XCTAssertFalse(match(alternation, "/home/alice/.cachex"))
        XCTAssertFalse(match(alternation, "/home/alice/b/.cache"))
        let interval = try regex("^a{2,3}$")
        XCTAssertTrue(match(interval, "aa"))
        XCTAssertTrue(match(interval, "aaa"))
        XCTAssertFalse(match(interval, "aaaa"))
        let classes = try regex("^[[:digit:]]+$")
        XCTAssertTrue(match(classes, "0123"))
        XCTAssertFalse(match(classes, "01a"))
    }

    func testLargeRepetitionCompiles() throws {
        let long = try regex(".{255,}.*")
        XCTAssertFalse(match(long, String(repeating: "x", count: 254)))
        XCTAssertTrue(match(long, String(repeating: "x", count: 255)))
        XCTAssertTrue(match(long, "/" + String(repeating: "y", count: 400)))
    }

    func testInvalidPatternsThrowWithGlibcMessage() {
        XCTAssertThrowsError(try regex("a(b")) { error in
            guard let error = error as? RegexError else { return XCTFail("not a RegexError: \(error)") }
            XCTAssertEqual(error.pattern, "a(b")
            XCTAssertTrue(error.message.contains("Unmatched ("), error.message)
            XCTAssertTrue(error.description.contains("a(b"), error.description)
            XCTAssertTrue(error.description.contains(error.message), error.description)
        }
        XCTAssertThrowsError(try regex("[z-a]")) { error in
            guard let error = error as? RegexError else { return XCTFail("not a RegexError: \(error)") }
            XCTAssertEqual(error.pattern, "[z-a]")
            XCTAssertEqual(error.message, "Invalid range end")
        }
        XCTAssertThrowsError(try regex("*a")) { error in
            XCTAssertFalse((error as? RegexError)?.message.isEmpty ?? true)
        }
        XCTAssertThrowsError(try regex("a{2,1}"))
        XCTAssertThrowsError(try regex("[abc"))
    }

    func testTypedThrows() {
        do {
            _ = try POSIXRegex(Array("(".utf8))
            XCTFail("expected a RegexError")
        } catch {
            // `error` is statically a RegexError thanks to typed throws.
            XCTAssertFalse(error.message.isEmpty)
        }
    }

    func testHighBytes() throws {
        let accented = try regex("caf\u{E9}$")
        XCTAssertTrue(match(accented, "/docs/caf\u{E9}"))
        XCTAssertFalse(match(accented, "/docs/cafe"))

        let raw = try POSIXRegex([0x2F, 0xFF, 0x80, 0x24])  // "/\xFF\x80$"
        XCTAssertTrue(match(raw, [0x2F, 0x61, 0x2F, 0xFF, 0x80]))
        XCTAssertFalse(match(raw, [0x2F, 0x61, 0x2F, 0xFF, 0x81]))

        let anyTwo = try regex("^/..$")
        XCTAssertTrue(match(anyTwo, [0x2F, 0xC3, 0xA9]))  // "/é" is two bytes

        let any = try regex("x.y")
        XCTAssertTrue(match(any, [0x78, 0xFE, 0x79]))
        XCTAssertTrue(match(any, [0x78, 0x0A, 0x79]))  // no REG_NEWLINE: `.` matches a newline
    }

    func testBufferIsNotTreatedAsTerminated() throws {
        let end = try regex("abc$")
        let bytes = Array("xxabcdef".utf8)
        // Only the first five bytes are the path: "xxabc".
        let result = bytes.withUnsafeBufferPointer { whole in
            end.matches(UnsafeBufferPointer(rebasing: whole[0..<5]))
        }
        XCTAssertTrue(result)
        let middle = try regex("^b")
        let inner = bytes.withUnsafeBufferPointer { whole in
            middle.matches(UnsafeBufferPointer(rebasing: whole[3..<6]))
        }
        XCTAssertTrue(inner)
    }

    func testEmptyPath() throws {
        let empty = UnsafeBufferPointer<UInt8>(start: nil, count: 0)
        XCTAssertTrue(try regex("^$").matches(empty))
        XCTAssertTrue(try regex("").matches([]))
        XCTAssertFalse(try regex("a").matches(empty))
    }

    func testPatternIsKept() throws {
        let compiled = try regex("\\.o$")
        XCTAssertEqual(compiled.pattern, Array("\\.o$".utf8))
    }

    func testConcurrentUse() async throws {
        let shared = try regex("/(a|b)+/[0-9]{2}$")
        let count = await withTaskGroup(of: Int.self) { group in
            for task in 0..<4 {
                group.addTask {
                    var hits = 0
                    for index in 0..<2_000 {
                        let path = Array("/x/abab/\(10 + (index + task) % 90)".utf8)
                        if shared.matches(path) { hits += 1 }
                    }
                    return hits
                }
            }
            return await group.reduce(0, +)
        }
        XCTAssertEqual(count, 8_000)
    }
}
