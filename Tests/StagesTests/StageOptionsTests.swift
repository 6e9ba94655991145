import XCTest

@testable import Stages

/// The option parser native stages share.
final class StageOptionsTests: XCTestCase {
    func testValuesEscapedColonsBooleansAndChoices() throws {
        let options = try StageOptions(
            "checksum:log=/var/x\\:y:format=JSONL:prune=Yes", valid: ["log", "format", "prune", "algorithm"])
        XCTAssertEqual(options.stage, "checksum")
        XCTAssertEqual(options["log"], "/var/x:y")
        XCTAssertNil(options["algorithm"])
        XCTAssertEqual(try options.required("log", purpose: "where"), "/var/x:y")
        XCTAssertEqual(try options.choice("format", ["sha256sum", "jsonl"], default: "sha256sum"), "jsonl")
        XCTAssertEqual(try options.choice("algorithm", ["sha256"], default: "sha256"), "sha256")
        XCTAssertTrue(try options.bool("prune", default: false))
        XCTAssertFalse(try options.bool("missing", default: false))
        XCTAssertEqual(try StageOptions("owner", valid: []).stage, "owner")
    }

    func testRepeatableKeysKeepEveryValueInOrder() throws {
        let valid = ["recipient", "master"]
        let options = try StageOptions("gpg:recipient=a:master=m:recipient=b", valid: valid, repeatable: ["recipient"])
        XCTAssertEqual(options.all("recipient"), ["a", "b"])
        XCTAssertEqual(options["recipient"], "a")
        XCTAssertEqual(options.all("master"), ["m"])
        XCTAssertEqual(options.all("missing"), [])
        XCTAssertThrowsError(
            try StageOptions("gpg:recipient=a:master=m:master=n", valid: valid, repeatable: ["recipient"])
        ) { XCTAssertEqual("\($0)", "stage \"gpg\": option master= is given twice") }
    }

    func testProblemsNameTheStageAndTheOption() {
        func problem(_ body: () throws -> Void) -> String {
            do {
                try body()
                return "no error"
            } catch {
                return "\(error)"
            }
        }
        XCTAssertEqual(
            problem { _ = try StageOptions("checksum:lgo=/x", valid: ["algorithm", "log"]) },
            "stage \"checksum\": unknown option \"lgo\" (valid options: algorithm, log)")
        XCTAssertEqual(
            problem { _ = try StageOptions("checksum:log=/x:log=/y", valid: ["log"]) },
            "stage \"checksum\": option log= is given twice")
        XCTAssertEqual(
            problem { _ = try StageOptions("checksum:log", valid: ["log"]) },
            "stage \"checksum\": option log needs a value (log=...)")
        XCTAssertEqual(
            problem { _ = try StageOptions("checksum:log=", valid: ["log"]) },
            "stage \"checksum\": option log needs a value (log=...)")
        XCTAssertEqual(
            problem { _ = try StageOptions("checksum", valid: ["log"]).required("log", purpose: "the log file") },
            "stage \"checksum\": option log= is required (the log file)")
        XCTAssertEqual(
            problem { _ = try StageOptions("owner:prune_dirs=maybe", valid: ["prune_dirs"]).bool("prune_dirs", default: false) },
            "stage \"owner\": option prune_dirs=maybe is not a boolean (yes, no, true, false)")
        XCTAssertEqual(
            problem { _ = try StageOptions("c:format=xml", valid: ["format"]).choice("format", ["a", "b"], default: "a") },
            "stage \"c\": option format=xml is not one of a, b")
    }
}
