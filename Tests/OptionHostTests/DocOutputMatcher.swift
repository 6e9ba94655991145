import Foundation

/// Compares the output a page shows with the output a command printed, line by line.
///
/// Placeholders (README.md, "Examples in the docs are tested"): `…` inside a line stands for any text on that
/// line (a time, an id, a size, a temporary path); a line that is only `…` stands for any number of lines,
/// none included. Trailing blanks and trailing empty lines are ignored on both sides.
struct DocOutputMatcher {
    /// Where the comparison failed: the page line whose text was expected (nil when the output has lines the
    /// page does not show) and the output line found there (nil when the output ended too early).
    struct Mismatch: Equatable {
        var expectedLine: Int?
        var expected: String?
        var actual: String?
    }

    static let ellipsis = "…"

    /// nil when `actual` matches `expected`.
    static func compare(expected: [(line: Int, text: String)], actual: [String]) -> Mismatch? {
        let expected = Array(trimmed(expected.map { ($0.line, stripped($0.text)) }, text: { $0.1 }))
        let actual = Array(trimmed(actual.map(stripped), text: { $0 }))
        var furthest = Mismatch(expectedLine: nil, expected: nil, actual: nil)
        var furthestIndex = -1
        // Lazy matching of `…` lines: the first way found is the one with the shortest runs, so a failure is
        // reported at the earliest expected line no way got past (the most useful line to show).
        func match(_ e: Int, _ a: Int) -> Bool {
            if e == expected.count {
                if a == actual.count { return true }
                if e > furthestIndex || (e == furthestIndex && furthest.expectedLine != nil) {
                    furthestIndex = e
                    furthest = Mismatch(expectedLine: nil, expected: nil, actual: actual[a])
                }
                return false
            }
            if expected[e].1 == ellipsis {
                for next in a...actual.count where match(e + 1, next) { return true }
                return false
            }
            if a < actual.count, lineMatches(expected[e].1, actual[a]) { return match(e + 1, a + 1) }
            if e > furthestIndex {
                furthestIndex = e
                furthest = Mismatch(
                    expectedLine: expected[e].0, expected: expected[e].1, actual: a < actual.count ? actual[a] : nil)
            }
            return false
        }
        return match(0, 0) ? nil : furthest
    }

    /// One line against its pattern: the parts between `…`s must appear in order, the first at the start and
    /// the last at the end.
    static func lineMatches(_ pattern: String, _ line: String) -> Bool {
        let parts = pattern.components(separatedBy: ellipsis)
        if parts.count == 1 { return pattern == line }
        guard line.hasPrefix(parts[0]), line.dropFirst(parts[0].count).hasSuffix(parts[parts.count - 1]) else {
            return false
        }
        var rest = Substring(line.dropFirst(parts[0].count).dropLast(parts[parts.count - 1].count))
        for part in parts.dropFirst().dropLast() where !part.isEmpty {
            guard let range = rest.range(of: part) else { return false }
            rest = rest[range.upperBound...]
        }
        return line.count >= parts[0].count + parts[parts.count - 1].count
    }

    private static func stripped(_ text: String) -> String {
        var text = text
        while let last = text.last, last == " " || last == "\t" || last == "\r" { text.removeLast() }
        return text
    }

    private static func trimmed<T>(_ items: [T], text: (T) -> String) -> ArraySlice<T> {
        var slice = items[...]
        while let last = slice.last, text(last).isEmpty { slice = slice.dropLast() }
        return slice
    }
}
