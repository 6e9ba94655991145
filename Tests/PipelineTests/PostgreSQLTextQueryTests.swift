import XCTest

@testable import Pipeline

/// FTS5 queries rewritten as PostgreSQL tsquery text (no server needed).
final class PostgreSQLTextQueryTests: XCTestCase {
    func query(_ expression: String) -> String {
        switch PostgreSQLTextQuery.translate(expression) {
        case .success(let text): text
        case .failure(let problem): "error: \(problem.message)"
        }
    }

    func testPhrasesWordsOperatorsAndPrefixes() {
        XCTAssertEqual(query("\"quick brown\""), "('quick' <-> 'brown')")
        XCTAssertEqual(query("\"quick\" \"brown\""), "'quick' & 'brown'")
        XCTAssertEqual(query("Fox OR (dog NOT cat)"), "'fox' | ( 'dog' & ! 'cat' )")
        XCTAssertEqual(query("dog AND NOT cat"), "error: syntax error near \"NOT\"", "NOT is binary, as in FTS5")
        XCTAssertEqual(query("inv* \"l'été\""), "'inv':* & ('l' <-> 'été')")
    }

    func testMalformedQueriesNameTheProblem() {
        XCTAssertEqual(query("\"word\" AND"), "error: syntax error at the end")
        XCTAssertEqual(query("( \"open\""), "error: unbalanced parentheses")
        XCTAssertEqual(query("\"unterminated"), "error: unterminated string")
        XCTAssertEqual(query("AND x"), "error: syntax error near \"AND\"")
        XCTAssertEqual(query("\" \""), "error: empty phrase \" \"")
    }
}
