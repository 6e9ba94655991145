import XCTest

@testable import Pipeline

/// The buckets of `LatencyHistogram` and the percentiles read back from them (`backup --stats`).
final class LatencyHistogramTests: XCTestCase {
    /// Every value falls inside its bucket's bounds, and a bucket is at most a quarter of its lower bound wide.
    func testEveryValueLiesInItsBucket() {
        var values: [UInt64] = Array(0...300) + [1_000, 4_095, 4_096, 65_535, 1_000_000, 123_456_789, 1 << 39]
        values += (0..<62).map { UInt64(1) << UInt64($0) &+ 12_345 }
        for value in values where value < (1 << 40) {
            let bucket = LatencyHistogram.bucket(value)
            let (lower, upper) = LatencyHistogram.bounds(bucket)
            XCTAssertTrue(max(value, 1) >= lower && max(value, 1) < upper, "\(value) in [\(lower), \(upper))")
            XCTAssertLessThanOrEqual(upper - lower, max(1, lower / 4), "\(value)")
        }
        // Beyond 2^40 ns everything lands in the last bucket.
        XCTAssertEqual(LatencyHistogram.bucket(UInt64.max), LatencyHistogram.bucketCount - 1)
    }

    func testPercentilesOfKnownSamplesAndMerging() throws {
        var fast = LatencyHistogram()
        XCTAssertNil(fast.percentile(0.5))
        for _ in 0..<98 { fast.record(10_000) }  // 10 µs
        var slow = LatencyHistogram()
        for _ in 0..<2 { slow.record(5_000_000) }  // 5 ms
        fast.merge(slow)
        XCTAssertEqual(fast.samples, 100)
        let p50 = try XCTUnwrap(fast.percentile(0.5))
        let p98 = try XCTUnwrap(fast.percentile(0.98))
        let p99 = try XCTUnwrap(fast.percentile(0.99))
        // Within the bucket around the true value (buckets are at most 25% wide).
        XCTAssertEqual(p50, 10e-6, accuracy: 10e-6 * 0.15)
        XCTAssertEqual(p98, 10e-6, accuracy: 10e-6 * 0.15)
        XCTAssertEqual(p99, 5e-3, accuracy: 5e-3 * 0.15)
        XCTAssertEqual(fast.percentile(1.0), p99)
        // Merging into an empty histogram gives the other one.
        var empty = LatencyHistogram()
        empty.merge(fast)
        XCTAssertEqual(empty, fast)
    }
}
