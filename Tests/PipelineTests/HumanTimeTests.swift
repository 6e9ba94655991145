import Pipeline
import XCTest

/// Durations and times as the command line prints them (issue 16 item 2).
final class HumanTimeTests: XCTestCase {
    func testDurationsUseTheirTwoLargestUnits() {
        XCTAssertEqual(HumanTime.duration(0), "0s")
        XCTAssertEqual(HumanTime.duration(44.6), "45s")
        XCTAssertEqual(HumanTime.duration(125), "2m 5s")
        XCTAssertEqual(HumanTime.duration(3600), "1h")
        XCTAssertEqual(HumanTime.duration(3 * 3600 + 4 * 60 + 59), "3h 4m")
        XCTAssertEqual(HumanTime.duration(3 * 86_400 + 4 * 3600 + 300), "3d 4h")
        XCTAssertEqual(HumanTime.duration(7_776_000), "90d")
        XCTAssertEqual(HumanTime.elapsed(0.04), "0.0s")
        XCTAssertEqual(HumanTime.elapsed(4.26), "4.3s")
        XCTAssertEqual(HumanTime.elapsed(125), "2m 5s")
    }

    func testISO8601IsUTCWithMilliseconds() {
        let time = FileStat.Timestamp(seconds: 1_796_538_043, nanoseconds: 911_449_795)
        XCTAssertEqual(HumanTime.iso8601(time), "2026-12-06T06:20:43.911Z")
        XCTAssertEqual(HumanTime.iso8601(FileStat.Timestamp(seconds: 0, nanoseconds: 5_000_000)), "1970-01-01T00:00:00.005Z")
    }

    func testPrunePolicySaysItsAgeInDays() {
        XCTAssertEqual(
            PrunePolicy.olderThan(seconds: 7_776_000).description, "remove jobs that started more than 90d ago")
    }
}
