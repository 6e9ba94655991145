import XCTest

@testable import Pipeline

final class CatalogJSONTests: XCTestCase {
    private func decodeArray(_ text: String) throws -> [String] {
        try Array(text.utf8).withUnsafeBufferPointer { try CatalogJSON.decodeArray($0, what: "chain") }
    }

    private func decodeObject(_ text: String) throws -> [String: String] {
        try Array(text.utf8).withUnsafeBufferPointer { try CatalogJSON.decodeObject($0, what: "metadata") }
    }

    private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    func testEncoding() {
        XCTAssertEqual(text(CatalogJSON.encode([String]())), "[]")
        XCTAssertEqual(text(CatalogJSON.encode([String: String]())), "{}")
        XCTAssertEqual(text(CatalogJSON.encode(["a", "b c"])), #"["a","b c"]"#)
        XCTAssertEqual(
            text(CatalogJSON.encode(["\"\\/\n\r\t\u{0}\u{1F}\u{7F}é😀"])), #"["\"\\/\n\r\t\u0000\u001f\u007fé😀"]"#)
        XCTAssertEqual(text(CatalogJSON.encode(["b": "2", "a": "1", "": ""])), #"{"":"","a":"1","b":"2"}"#)
    }

    func testRoundTrip() throws {
        let arrays: [[String]] = [
            [], [""], ["checksum", "gpg:recipient=\"x\""], ["\u{0}\u{8}\u{C}\u{1B}", "日本語", "😀"],
        ]
        for array in arrays {
            XCTAssertEqual(try decodeArray(text(CatalogJSON.encode(array))), array)
        }
        let objects: [[String: String]] = [[:], ["": ""], ["k": "v", "quote\"": "back\\slash\n"]]
        for object in objects {
            XCTAssertEqual(try decodeObject(text(CatalogJSON.encode(object))), object)
        }
    }

    func testDecodesAnyValidJSONOfTheTwoShapes() throws {
        XCTAssertEqual(try decodeArray(" [ \"a\" ,\n\t\"b\" ] "), ["a", "b"])
        XCTAssertEqual(try decodeArray(#"["\u00e9\u00E9\/\b\f","\ud83d\ude00"]"#), ["éé/\u{8}\u{C}", "😀"])
        XCTAssertEqual(try decodeObject(#"{ "a" : "1", "a": "2" }"#), ["a": "2"])
    }

    func testRejectsInvalidInput() {
        for bad in [
            "", "[", "[\"a\"", "[\"a\",]", "[1]", "{}", "[\"a\"] x", "[\"\\x\"]", "[\"\\ud800\"]",
            "[\"\\udc00\"]", "[\"\\u12\"]", "[\"a\nb\"]",
        ] {
            XCTAssertThrowsError(try decodeArray(bad), bad) {
                XCTAssertTrue(ResultCode.mismatch ~= $0, "\($0)")
            }
        }
        for bad in ["[]", "{\"a\"}", "{\"a\":1}", "{a:\"b\"}", "{\"a\":\"b\",}"] {
            XCTAssertThrowsError(try decodeObject(bad), bad)
        }
    }
}
