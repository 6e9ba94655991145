@testable import Pipeline
import XCTest

final class WildcardTests: XCTestCase {
    private func match(_ pattern: String, _ path: String, caseFold: Bool = false) -> Bool {
        let wildcard = Wildcard(Array(pattern.utf8), caseFold: caseFold)
        let viaArray = wildcard.matches(Array(path.utf8))
        let viaBuffer = Array(path.utf8).withUnsafeBufferPointer { wildcard.matches($0) }
        XCTAssertEqual(viaArray, viaBuffer, "array and buffer entry points disagree for \(pattern) ~ \(path)")
        return viaArray
    }

    // MARK: Verified examples (section 4.4)

    func testVerifiedExamples() {
        XCTAssertTrue(match("/t/*1/*", "/t/data1/x"))
        XCTAssertFalse(match("/t/*1/*", "/t/data2/x"))
        XCTAssertTrue(match("/t/*1", "/t/x1/data1"))
        XCTAssertTrue(match("[A-Z]:/RECYCLER", "c:/RECYCLER", caseFold: true))
        XCTAssertFalse(match("[A-Z]:/RECYCLER", "c:/RECYCLER"))
        XCTAssertTrue(match("[A-Z]:/RECYCLER", "C:/RECYCLER"))
        XCTAssertTrue(match("*.o", "/usr/src/a.o"))
        XCTAssertTrue(match("/home/*/Documents", "/home/alice/Documents"))
        XCTAssertTrue(match("/home/*/Documents", "/home/a/b/Documents"))
        XCTAssertFalse(match("/home/*/Documents", "/home/alice/Documents/x"))
    }

    // MARK: Literals and anchoring

    func testWholeStringMatch() {
        XCTAssertTrue(match("/etc/passwd", "/etc/passwd"))
        XCTAssertFalse(match("/etc/passwd", "/etc/passwd2"))
        XCTAssertFalse(match("/etc/passwd", "/etc/passw"))
        XCTAssertFalse(match("etc", "/etc"))
        XCTAssertTrue(match("", ""))
        XCTAssertFalse(match("", "a"))
        XCTAssertFalse(match("a", ""))
    }

    // MARK: Stars

    func testStarMatchesAnySequenceIncludingSlash() {
        XCTAssertTrue(match("*", ""))
        XCTAssertTrue(match("*", "/a/b/c"))
        XCTAssertTrue(match("/a/*", "/a/"))
        XCTAssertTrue(match("/a/*", "/a/b/c/d"))
        XCTAssertTrue(match("*/c", "/a/b/c"))
        XCTAssertTrue(match("a*b*c", "abc"))
        XCTAssertTrue(match("a*b*c", "a/x/b/y/c"))
        XCTAssertFalse(match("a*b*c", "a/x/c/y/b"))
        XCTAssertTrue(match("***", "x"))
        XCTAssertTrue(match("a**b", "ab"))
        XCTAssertFalse(match("a*b", "a"))
        XCTAssertTrue(match("*a*", "banana"))
        XCTAssertTrue(match("*ana", "banana"))
        XCTAssertTrue(match("*an*an*", "banana"))
        XCTAssertFalse(match("*an*an*an*", "banana"))
        // Head and tail may not overlap.
        XCTAssertFalse(match("ab*ba", "aba"))
        XCTAssertTrue(match("ab*ba", "abba"))
    }

    func testNoLeadingDotRule() {
        XCTAssertTrue(match("*", ".hidden"))
        XCTAssertTrue(match("/home/*/x", "/home/.cache/x"))
        XCTAssertTrue(match("?bashrc", ".bashrc"))
        XCTAssertTrue(match("/a/[.]b", "/a/.b"))
    }

    // MARK: Question mark

    func testQuestionMarkMatchesAnySingleByteIncludingSlash() {
        XCTAssertTrue(match("a?c", "abc"))
        XCTAssertTrue(match("a?c", "a/c"))
        XCTAssertFalse(match("a?c", "ac"))
        XCTAssertFalse(match("a?c", "abbc"))
        XCTAssertTrue(match("???", "/a/"))
    }

    // MARK: Sets

    func testSetsAndRanges() {
        XCTAssertTrue(match("file[0-9].txt", "file7.txt"))
        XCTAssertFalse(match("file[0-9].txt", "fileA.txt"))
        XCTAssertTrue(match("[abc]", "b"))
        XCTAssertFalse(match("[abc]", "d"))
        XCTAssertTrue(match("[a-cx-z]", "y"))
        XCTAssertFalse(match("[a-cx-z]", "m"))
        XCTAssertTrue(match("a[/]b", "a/b"))
        // A reversed range is empty.
        XCTAssertFalse(match("[z-a]", "m"))
        XCTAssertFalse(match("[z-a]", "a"))
    }

    func testNegatedSets() {
        XCTAssertTrue(match("[!a]", "b"))
        XCTAssertFalse(match("[!a]", "a"))
        XCTAssertTrue(match("[^a-z]", "5"))
        XCTAssertFalse(match("[^a-z]", "q"))
        XCTAssertTrue(match("*.[!o]", "/src/a.c"))
        XCTAssertFalse(match("*.[!o]", "/src/a.o"))
    }

    func testCloseBracketFirstIsLiteral() {
        XCTAssertTrue(match("[]]", "]"))
        XCTAssertTrue(match("[]a]", "a"))
        XCTAssertFalse(match("[]a]", "b"))
        XCTAssertTrue(match("[!]]", "x"))
        XCTAssertFalse(match("[!]]", "]"))
        XCTAssertTrue(match("[^]a]", "b"))
    }

    func testDashAtEndOfSetIsLiteral() {
        XCTAssertTrue(match("[a-]", "-"))
        XCTAssertTrue(match("[a-]", "a"))
        XCTAssertFalse(match("[a-]", "b"))
        XCTAssertTrue(match("[-a]", "-"))
    }

    func testBackslashEscapesInsideSet() {
        XCTAssertTrue(match("[\\]]", "]"))
        XCTAssertTrue(match("[\\!a]", "!"))
        XCTAssertTrue(match("[a\\-z]", "-"))
        XCTAssertFalse(match("[a\\-z]", "m"))
        XCTAssertTrue(match("[\\a-\\c]", "b"))
        XCTAssertTrue(match("[\\\\]", "\\"))
    }

    func testNoPOSIXClasses() {
        // `[[:alpha:]]` is the set {[, :, a, l, p, h} followed by a literal `]`.
        XCTAssertFalse(match("[[:alpha:]]", "x"))
        XCTAssertTrue(match("[[:alpha:]]", "a]"))
        XCTAssertTrue(match("[[:alpha:]]", ":]"))
    }

    func testUnterminatedBracketIsLiteral() {
        XCTAssertTrue(match("[abc", "[abc"))
        XCTAssertFalse(match("[abc", "a"))
        XCTAssertTrue(match("a[", "a["))
        XCTAssertTrue(match("[", "["))
        XCTAssertTrue(match("[]", "[]"))
        XCTAssertTrue(match("[!", "[!"))
        XCTAssertTrue(match("[a-", "[a-"))
        // `[a\]`: the set never closes, so the rest is ordinary text and `\]` an escaped `]`.
        XCTAssertTrue(match("[a\\]", "[a]"))
        XCTAssertTrue(match("[*", "[anything"))
        XCTAssertTrue(match("[a\\", "[a\\"))
    }

    // MARK: Escapes

    func testBackslashEscapesOutsideSets() {
        XCTAssertTrue(match("\\*", "*"))
        XCTAssertFalse(match("\\*", "x"))
        XCTAssertTrue(match("a\\?c", "a?c"))
        XCTAssertFalse(match("a\\?c", "abc"))
        XCTAssertTrue(match("\\[a]", "[a]"))
        XCTAssertTrue(match("\\a", "a"))
        XCTAssertTrue(match("C:\\\\x", "C:\\x"))
    }

    func testTrailingBackslashMatchesBackslash() {
        XCTAssertTrue(match("a\\", "a\\"))
        XCTAssertFalse(match("a\\", "a"))
        XCTAssertTrue(match("*\\", "dir\\"))
    }

    // MARK: Case folding

    func testCaseFold() {
        XCTAssertTrue(match("*.JPG", "/pics/a.jpg", caseFold: true))
        XCTAssertTrue(match("*.jpg", "/pics/A.JPG", caseFold: true))
        XCTAssertFalse(match("*.jpg", "/pics/A.JPG"))
        XCTAssertTrue(match("[a-z]", "Q", caseFold: true))
        XCTAssertFalse(match("[a-z]", "Q"))
        XCTAssertTrue(match("[!a-z]", "5", caseFold: true))
        XCTAssertFalse(match("[!a-z]", "Q", caseFold: true))
        XCTAssertTrue(match("[X]", "x", caseFold: true))
        XCTAssertTrue(match("\\Q", "q", caseFold: true))
        // Only ASCII letters fold: `[`/`{` are not letters, and non-ASCII bytes are compared as they are.
        XCTAssertFalse(match("[", "{", caseFold: true))
        XCTAssertFalse(match("\u{C9}", "\u{E9}", caseFold: true))
    }

    func testCaseFoldAppliesToRangeEnds() {
        // Folded, `[Z-a]` becomes `[z-a]`, which is empty.
        XCTAssertTrue(match("[Z-a]", "_"))
        XCTAssertFalse(match("[Z-a]", "_", caseFold: true))
        XCTAssertTrue(match("[A-c]", "b", caseFold: true))
        XCTAssertTrue(match("[A-c]", "B", caseFold: true))
    }

    // MARK: Raw bytes

    func testNonASCIIBytes() {
        let pattern: [UInt8] = Array("/data/".utf8) + [0xC3, 0xA9] + Array("*".utf8)
        let wildcard = Wildcard(pattern)
        XCTAssertTrue(wildcard.matches(Array("/data/".utf8) + [0xC3, 0xA9, 0xFF, 0x80]))
        XCTAssertFalse(wildcard.matches(Array("/data/".utf8) + [0xC3, 0xA8]))
        XCTAssertTrue(Wildcard([0x3F]).matches([0xFF]))
        XCTAssertTrue(Wildcard(Array("[\u{7F}-".utf8) + [0xFF, 0x5D]).matches([0xF0]))
        XCTAssertTrue(Wildcard([0x5B, 0x21, 0x80, 0x2D, 0xFF, 0x5D]).matches([0x41]))
        XCTAssertFalse(Wildcard([0x5B, 0x21, 0x80, 0x2D, 0xFF, 0x5D]).matches([0x90]))
    }

    func testNULEndsPattern() {
        XCTAssertTrue(Wildcard([0x61, 0x00, 0x62]).matches([0x61]))
        XCTAssertFalse(Wildcard([0x61, 0x00, 0x62]).matches([0x61, 0x00, 0x62]))
    }

    func testEmptyBuffer() {
        let empty = UnsafeBufferPointer<UInt8>(start: nil, count: 0)
        XCTAssertTrue(Wildcard(Array("*".utf8)).matches(empty))
        XCTAssertTrue(Wildcard([]).matches(empty))
        XCTAssertFalse(Wildcard(Array("?".utf8)).matches(empty))
    }

    // MARK: Recursion cap and complexity

    func testStarLimit() {
        let path = String(repeating: "a", count: 200)
        // 63 stars followed by more pattern: still matched.
        let sixtyThree = String(repeating: "a*", count: 63) + "a"
        XCTAssertTrue(match(sixtyThree, path))
        // 64 inner stars: Bareos' recursion limit makes it fail.
        let sixtyFour = String(repeating: "a*", count: 64) + "a"
        XCTAssertFalse(match(sixtyFour, path))
        // A trailing star does not count.
        let sixtyThreePlusTrailing = String(repeating: "a*", count: 64)
        XCTAssertTrue(match(sixtyThreePlusTrailing, path))
        let sixtyFourPlusTrailing = String(repeating: "a*", count: 65)
        XCTAssertFalse(match(sixtyFourPlusTrailing, path))
        // Consecutive stars collapse into one group.
        let collapsed = String(repeating: "a**", count: 63) + "a"
        XCTAssertTrue(match(collapsed, path))
        // Escaped stars and stars in sets are not stars.
        let escaped = String(repeating: "\\*[*]", count: 100)
        XCTAssertTrue(match(escaped, String(repeating: "**", count: 100)))
    }

    func testPathologicalPatternIsFast() {
        let pattern = String(repeating: "*a", count: 40) + "*b"
        let path = String(repeating: "a", count: 4000)
        let wildcard = Wildcard(Array(pattern.utf8))
        let bytes = Array(path.utf8)
        let start = ContinuousClock.now
        XCTAssertFalse(wildcard.matches(bytes))
        XCTAssertTrue(wildcard.matches(bytes + Array("b".utf8)))
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(1))
    }

    // MARK: Value semantics

    func testEquatableAndHashable() {
        let a = Wildcard(Array("*.o".utf8))
        let b = Wildcard(Array("*.o".utf8))
        let folded = Wildcard(Array("*.o".utf8), caseFold: true)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, folded)
        XCTAssertEqual(Set([a, b, folded]).count, 2)
        XCTAssertEqual(a.pattern, Array("*.o".utf8))
        XCTAssertTrue(folded.caseFold)
    }
}
