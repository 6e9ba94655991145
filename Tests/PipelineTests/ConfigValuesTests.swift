@testable import Pipeline
import XCTest

final class ConfigValuesTests: XCTestCase {
    private typealias SizeMatch = OptionsBlock.SizeMatch

    private let kibi: UInt64 = 1 << 10
    private let mebi: UInt64 = 1 << 20
    private let gibi: UInt64 = 1 << 30
    private let tebi: UInt64 = 1 << 40
    private let pebi: UInt64 = 1 << 50
    private let exbi: UInt64 = 1 << 60
    private let day: UInt64 = 86_400

    // MARK: size

    func testSizeWithoutUnitIsBytes() {
        XCTAssertEqual(ConfigValues.size("0"), 0)
        XCTAssertEqual(ConfigValues.size("10"), 10)
        XCTAssertEqual(ConfigValues.size("0010"), 10)
        XCTAssertEqual(ConfigValues.size("+7"), 7)
    }

    func testSizeBinaryUnits() {
        XCTAssertEqual(ConfigValues.size("1k"), kibi)
        XCTAssertEqual(ConfigValues.size("3m"), 3 * mebi)
        XCTAssertEqual(ConfigValues.size("2g"), 2 * gibi)
        XCTAssertEqual(ConfigValues.size("5t"), 5 * tebi)
        XCTAssertEqual(ConfigValues.size("6p"), 6 * pebi)
        XCTAssertEqual(ConfigValues.size("7e"), 7 * exbi)
    }

    func testSizeDecimalUnits() {
        XCTAssertEqual(ConfigValues.size("1kb"), 1_000)
        XCTAssertEqual(ConfigValues.size("3mb"), 3_000_000)
        XCTAssertEqual(ConfigValues.size("2gb"), 2_000_000_000)
        XCTAssertEqual(ConfigValues.size("5tb"), 5_000_000_000_000)
        XCTAssertEqual(ConfigValues.size("6pb"), 6_000_000_000_000_000)
        XCTAssertEqual(ConfigValues.size("7eb"), 7_000_000_000_000_000_000)
    }

    func testSizeUnitsAreCaseInsensitive() {
        XCTAssertEqual(ConfigValues.size("1K"), kibi)
        XCTAssertEqual(ConfigValues.size("1KB"), 1_000)
        XCTAssertEqual(ConfigValues.size("1Kb"), 1_000)
        XCTAssertEqual(ConfigValues.size("1G"), gibi)
        XCTAssertEqual(ConfigValues.size("1GB"), 1_000_000_000)
        XCTAssertEqual(ConfigValues.size("1E"), exbi)
        XCTAssertEqual(ConfigValues.size("1EB"), 1_000_000_000_000_000_000)
    }

    func testSizeSectionOneTenExamples() {
        // `Size = "10 MB"` and `Size = 10MB` store 10 000 000; `Size = 10 MB` stores just "10" (the lexer's business).
        XCTAssertEqual(ConfigValues.size("10MB"), 10_000_000)
        XCTAssertEqual(ConfigValues.size("10 MB"), 10_000_000)
        XCTAssertEqual(ConfigValues.size("10"), 10)
        XCTAssertEqual(ConfigValues.sizeMatch("10"), .approximately(10))
        XCTAssertFalse(ConfigValues.sizeMatch("10")!.matches(10))
    }

    func testSizeDecimalNumbers() {
        XCTAssertEqual(ConfigValues.size("1.5g"), 1_610_612_736)
        XCTAssertEqual(ConfigValues.size("0.5k"), 512)
        XCTAssertEqual(ConfigValues.size(".5k"), 512)
        XCTAssertEqual(ConfigValues.size("5.k"), 5 * kibi)
        XCTAssertEqual(ConfigValues.size("2.5"), 2)
        XCTAssertEqual(ConfigValues.size("0.1k"), 102)
        XCTAssertEqual(ConfigValues.size("1.5mb"), 1_500_000)
        // Fractional terms go through an IEEE double product and are truncated, as in Bareos.
        XCTAssertEqual(ConfigValues.size("1.15mb"), 1_150_000)
        // 1.001 × 1000 is 1000.9999999999999 in binary floating point.
        XCTAssertEqual(ConfigValues.size("1.001kb"), 1_000)
    }

    func testSizeExponentForm() {
        XCTAssertEqual(ConfigValues.size("1e3"), 1_000)
        XCTAssertEqual(ConfigValues.size("2E2k"), 200 * kibi)
        XCTAssertEqual(ConfigValues.size("1e+3"), 1_000)
        XCTAssertEqual(ConfigValues.size("1500e-3k"), 1_536)
        // Without digits after it, `e` is the exbibyte unit.
        XCTAssertEqual(ConfigValues.size("1e"), exbi)
        XCTAssertEqual(ConfigValues.size("1eb"), 1_000_000_000_000_000_000)
    }

    func testSizeTermsAreSummed() {
        XCTAssertEqual(ConfigValues.size("1g 512m"), gibi + 512 * mebi)
        XCTAssertEqual(ConfigValues.size("1g512m"), gibi + 512 * mebi)
        XCTAssertEqual(ConfigValues.size("1 2"), 3)
        XCTAssertEqual(ConfigValues.size("1k 1kb 1"), kibi + 1_000 + 1)
        XCTAssertEqual(ConfigValues.size("  4 k\t"), 4 * kibi)
        XCTAssertEqual(ConfigValues.size("4k\n"), 4 * kibi)
        // Each term is truncated on its own.
        XCTAssertEqual(ConfigValues.size("0.5 0.5"), 0)
    }

    func testSizeRejections() {
        for text in [
            "10 KiB", "10KiB", "1MiB", "1.2.3", "", "   ", "-5", "abc", "k", "10 x", "10kbb", "1e5x", ".", "+", "5+3",
            "0x10", "inf", "nan", "1k,", "10 bytes", "1 kbyte", "1*",
        ] {
            XCTAssertNil(ConfigValues.size(text), "\"\(text)\" should be rejected")
        }
    }

    func testSizeOverflowIsNil() {
        XCTAssertEqual(ConfigValues.size("18446744073709551615"), UInt64.max)
        XCTAssertNil(ConfigValues.size("18446744073709551616"))
        XCTAssertNil(ConfigValues.size("99999999999999999999999999"))
        XCTAssertEqual(ConfigValues.size("15e"), 15 * exbi)
        XCTAssertNil(ConfigValues.size("16e"))
        XCTAssertEqual(ConfigValues.size("18eb"), 18_000_000_000_000_000_000)
        XCTAssertNil(ConfigValues.size("19eb"))
        XCTAssertNil(ConfigValues.size("16.0e"))
        XCTAssertNil(ConfigValues.size("1e30"))
        XCTAssertNil(ConfigValues.size("1e999"))
        XCTAssertNil(ConfigValues.size("15e 1e"))
        XCTAssertNil(ConfigValues.size("18446744073709551615 1"))
    }

    // MARK: sizeMatch

    func testSizeMatchForms() {
        XCTAssertEqual(ConfigValues.sizeMatch("10k"), .approximately(10 * kibi))
        XCTAssertEqual(ConfigValues.sizeMatch("<10k"), .smallerThan(10 * kibi))
        XCTAssertEqual(ConfigValues.sizeMatch("< 10k"), .smallerThan(10 * kibi))
        XCTAssertEqual(ConfigValues.sizeMatch(">1g"), .greaterThan(gibi))
        XCTAssertEqual(ConfigValues.sizeMatch("1k-2k"), .range(kibi, 2 * kibi))
        XCTAssertEqual(ConfigValues.sizeMatch("1 k - 2 kb"), .range(kibi, 2_000))
        XCTAssertEqual(ConfigValues.sizeMatch("10MB"), .approximately(10_000_000))
        XCTAssertEqual(ConfigValues.sizeMatch("1g 512m"), .approximately(gibi + 512 * mebi))
        // A reversed range is accepted (and matches nothing), as in Bareos.
        XCTAssertEqual(ConfigValues.sizeMatch("2k-1k"), .range(2 * kibi, kibi))
    }

    func testSizeMatchRejections() {
        for text in [
            "", "<", ">", "-5", "5-", "-", "1-2-3", "<5-10", " <5", "<<5", "<>5", "=5", "10 KiB", "abc", "<abc",
            "1k-2x",
        ] {
            XCTAssertNil(ConfigValues.sizeMatch(text), "\"\(text)\" should be rejected")
        }
    }

    // MARK: SizeMatch.matches

    func testApproximatelyRule() {
        // abs(size - N) < N / 100, integer arithmetic.
        let thousand = SizeMatch.approximately(1_000)
        XCTAssertTrue(thousand.matches(1_000))
        XCTAssertTrue(thousand.matches(991))
        XCTAssertTrue(thousand.matches(1_009))
        XCTAssertFalse(thousand.matches(990))
        XCTAssertFalse(thousand.matches(1_010))

        let hundred = SizeMatch.approximately(100)
        XCTAssertTrue(hundred.matches(100))
        XCTAssertFalse(hundred.matches(99))
        XCTAssertFalse(hundred.matches(101))

        // N < 100: N / 100 == 0, so nothing matches, not even N itself.
        for n: UInt64 in [0, 1, 10, 50, 99] {
            for size in [0, n, n + 1, n &- 1] {
                XCTAssertFalse(SizeMatch.approximately(n).matches(size), "N=\(n) size=\(size)")
            }
        }

        let tenMB = ConfigValues.sizeMatch("10MB")!
        XCTAssertTrue(tenMB.matches(10_000_000 + 99_999))
        XCTAssertFalse(tenMB.matches(10_000_000 + 100_000))
        XCTAssertTrue(tenMB.matches(10_000_000 - 99_999))
        XCTAssertFalse(tenMB.matches(10_000_000 - 100_000))

        XCTAssertTrue(SizeMatch.approximately(UInt64.max).matches(UInt64.max - 1))
        XCTAssertFalse(SizeMatch.approximately(UInt64.max).matches(0))
    }

    func testOtherSizeMatchRules() {
        XCTAssertTrue(SizeMatch.smallerThan(10).matches(9))
        XCTAssertFalse(SizeMatch.smallerThan(10).matches(10))
        XCTAssertTrue(SizeMatch.greaterThan(10).matches(11))
        XCTAssertFalse(SizeMatch.greaterThan(10).matches(10))
        XCTAssertTrue(SizeMatch.range(10, 20).matches(10))
        XCTAssertTrue(SizeMatch.range(10, 20).matches(20))
        XCTAssertFalse(SizeMatch.range(10, 20).matches(21))
        XCTAssertFalse(SizeMatch.range(20, 10).matches(15))
    }

    // MARK: time

    func testTimeBareNumberIsSeconds() {
        XCTAssertEqual(ConfigValues.time("0"), 0)
        XCTAssertEqual(ConfigValues.time("90"), 90)
        XCTAssertEqual(ConfigValues.time(" 90 "), 90)
    }

    func testTimeEveryUnit() {
        XCTAssertEqual(ConfigValues.time("2n"), 120)
        XCTAssertEqual(ConfigValues.time("2 seconds"), 2)
        XCTAssertEqual(ConfigValues.time("2 months"), 2 * 30 * day)
        XCTAssertEqual(ConfigValues.time("2 minutes"), 120)
        XCTAssertEqual(ConfigValues.time("2 mins"), 120)
        XCTAssertEqual(ConfigValues.time("2 hours"), 7_200)
        XCTAssertEqual(ConfigValues.time("2 days"), 2 * day)
        XCTAssertEqual(ConfigValues.time("2 weeks"), 14 * day)
        XCTAssertEqual(ConfigValues.time("2 quarters"), 182 * day)
        XCTAssertEqual(ConfigValues.time("2 years"), 730 * day)
    }

    func testTimeUnitPrefixes() {
        let expectations: [(String, UInt64)] = [
            ("1s", 1), ("1 sec", 1), ("1 second", 1),
            ("1m", 30 * day), ("1mo", 30 * day), ("1 mon", 30 * day), ("1 month", 30 * day),
            ("1mi", 60), ("1 min", 60), ("1 minute", 60), ("1 n", 60),
            ("1h", 3_600), ("1 hour", 3_600),
            ("1d", day), ("1 day", day),
            ("1w", 7 * day), ("1 week", 7 * day),
            ("1q", 91 * day), ("1 quarter", 91 * day),
            ("1y", 365 * day), ("1 year", 365 * day),
            ("1 DAY", day), ("1 Hours", 3_600), ("1M", 30 * day), ("1MIN", 60),
        ]
        for (text, seconds) in expectations {
            XCTAssertEqual(ConfigValues.time(text), seconds, "\"\(text)\"")
        }
    }

    func testTimeTermsAreSummed() {
        XCTAssertEqual(ConfigValues.time("1 day 2 hours"), day + 7_200)
        XCTAssertEqual(ConfigValues.time("1d2h"), day + 7_200)
        XCTAssertEqual(ConfigValues.time("2h30min"), 9_000)
        XCTAssertEqual(ConfigValues.time("1y 6m"), 365 * day + 180 * day)
        XCTAssertEqual(ConfigValues.time("1h 30"), 3_630)
        XCTAssertEqual(ConfigValues.time("1.5h"), 5_400)
        XCTAssertEqual(ConfigValues.time("0.5 days"), 43_200)
    }

    func testTimeRejections() {
        for text in [
            "", "  ", "-5", "abc", "1 hr", "1 hrs", "1 secs", "1 yr", "1 x", "1d,2h", "1.2.3", "day", "1 minutess",
            "1 dayz", "1e", "5 KiB", "1 k",
        ] {
            XCTAssertNil(ConfigValues.time(text), "\"\(text)\" should be rejected")
        }
    }

    func testTimeOverflowIsNil() {
        XCTAssertEqual(ConfigValues.time("9223372036854775807"), UInt64(Int64.max))
        XCTAssertNil(ConfigValues.time("9223372036854775808"))
        XCTAssertEqual(ConfigValues.time("292471208677 years"), 292_471_208_677 * 365 * day)
        XCTAssertNil(ConfigValues.time("292471208678 years"))
        XCTAssertNil(ConfigValues.time("1e30 years"))
        XCTAssertNil(ConfigValues.time("9223372036854775807 1"))
        XCTAssertNil(ConfigValues.time("99999999999999999999999 seconds"))
    }

    // MARK: octalMode

    func testOctalMode() {
        XCTAssertEqual(ConfigValues.octalMode("0600"), 0o600)
        XCTAssertEqual(ConfigValues.octalMode("600"), 0o600)
        XCTAssertEqual(ConfigValues.octalMode("0"), 0)
        XCTAssertEqual(ConfigValues.octalMode("7777"), 0o7777)
        XCTAssertEqual(ConfigValues.octalMode("00000755"), 0o755)
        XCTAssertEqual(ConfigValues.octalMode("4755"), 0o4755)
    }

    func testOctalModeRejections() {
        for text in [
            "", "8", "0608", "10000", "17777", "-600", "+600", " 600", "600 ", "0o600", "6a0", "0x1FF",
            "99999999999999999999999",
        ] {
            XCTAssertNil(ConfigValues.octalMode(text), "\"\(text)\" should be rejected")
        }
    }
}
