/// Value grammars of Bareos configuration directives (section 1.9): sizes, size matches, time intervals and
/// octal modes.
///
/// All parsers are pure and total: invalid text and values that do not fit the result type give `nil`, never a
/// trap.
///
/// Sizes and intervals share one grammar: one or more *terms*, optionally separated by blanks, whose values are
/// summed. A term is a number followed (optionally after blanks) by a unit, which runs up to the next digit or
/// blank; so `1g 512m`, `2h30min` and `1 day 2 hours` all have two terms. The number is unsigned decimal, with an
/// optional `+`, fraction (`1.5`, `.5`, `5.`) and exponent (`1e3`), as C's `strtod` reads it (hexadecimal, `inf`
/// and `nan` are not accepted). Each term is converted to whole bytes or seconds on its own, truncating toward zero:
/// integer terms exactly, terms with a fraction or exponent through an IEEE double product, like Bareos (so `1.001kb`
/// is 1000, as Bareos stores it). Unlike Bareos, text without any term (empty or blank) is rejected.
public enum ConfigValues {
    /// Parses a size in bytes (Options `Size`, Archive `Maximum Volume Bytes`).
    ///
    /// Units are compared case-insensitively and must be spelled exactly: `k` = 1024, `kb` = 1000, `m` = 1024²,
    /// `mb` = 10⁶, `g` = 1024³, `gb` = 10⁹, `t`, `tb`, `p`, `pb`, `e`, `eb` likewise; no unit means bytes. `KiB` and
    /// `MiB` are rejected. Several terms are summed: `"1g 512m"` is 1 610 612 736.
    /// - Returns: The size, or nil when the text is invalid or the sum exceeds `UInt64.max`.
    public static func size(_ text: String) -> UInt64? {
        let bytes = Array(text.utf8)
        return sum(bytes[...], units: sizeUnits, unitsArePrefixes: false, limit: UInt64.max)
    }

    /// Parses the value of an Options `Size =` directive.
    ///
    /// The forms are `N` (within 1 %), `<N`, `>N` and `N-M` (inclusive), each `N` a `size(_:)`. As in Bareos, any
    /// `-` makes the value a range, split at the first `-`, and `<`/`>` must be the very first character.
    /// - Returns: The size match, or nil when the text (or either end of a range) is invalid. An empty side of a
    ///   range and a bare `<`/`>` are invalid here (Bareos reads them as 0).
    static func sizeMatch(_ text: String) -> OptionsBlock.SizeMatch? {
        let bytes = Array(text.utf8)
        func parse(_ part: ArraySlice<UInt8>) -> UInt64? {
            sum(part, units: sizeUnits, unitsArePrefixes: false, limit: UInt64.max)
        }
        if let dash = bytes.firstIndex(of: UInt8(ascii: "-")) {
            guard let low = parse(bytes[..<dash]), let high = parse(bytes[(dash + 1)...]) else { return nil }
            return .range(low, high)
        }
        switch bytes.first {
        case UInt8(ascii: "<"):
            return parse(bytes[1...]).map { .smallerThan($0) }
        case UInt8(ascii: ">"):
            return parse(bytes[1...]).map { .greaterThan($0) }
        default:
            return parse(bytes[...]).map { .approximately($0) }
        }
    }

    /// Parses a time interval into seconds (Job `... Interval`, retention periods).
    ///
    /// A unit is any case-insensitive *prefix* of one of these words, the first word in this order winning:
    /// `n` (minute), `seconds`, `months` (30 days), `minutes`, `mins`, `hours`, `days`, `weeks`, `quarters`
    /// (91 days), `years` (365 days). So `m` and `mo` are months, `mi` and `min` minutes, `s`, `h`, `d`, `w`, `q`,
    /// `y` the obvious units; `secs` or `hrs` are no unit at all. A number without unit is seconds. Terms are summed:
    /// `"1 day 2 hours"`, `"1d2h"` and `"2h30min"` are all accepted.
    /// - Returns: The number of seconds, or nil when the text is invalid or the total exceeds `Int64.max` (Bareos
    ///   keeps intervals in a signed 64-bit integer).
    public static func time(_ text: String) -> UInt64? {
        let bytes = Array(text.utf8)
        return sum(bytes[...], units: timeUnits, unitsArePrefixes: true, limit: UInt64(Int64.max))
    }

    /// Parses an octal file mode such as `"0600"` or `"600"`.
    ///
    /// Only the digits `0`–`7` are allowed (no sign, blanks or `0o` prefix); leading zeros are fine.
    /// - Returns: The mode, or nil when the text is not octal or the value exceeds `0o7777`.
    static func octalMode(_ text: String) -> UInt32? {
        var value: UInt32 = 0
        var sawDigit = false
        for byte in text.utf8 {
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "7") else { return nil }
            value = value * 8 + UInt32(byte - UInt8(ascii: "0"))
            guard value <= 0o7777 else { return nil }
            sawDigit = true
        }
        return sawDigit ? value : nil
    }

    // MARK: - Shared term grammar

    private typealias Unit = (name: [UInt8], factor: UInt64)

    private static let sizeUnits: [Unit] = [
        (Array("k".utf8), 1 << 10), (Array("kb".utf8), 1_000),
        (Array("m".utf8), 1 << 20), (Array("mb".utf8), 1_000_000),
        (Array("g".utf8), 1 << 30), (Array("gb".utf8), 1_000_000_000),
        (Array("t".utf8), 1 << 40), (Array("tb".utf8), 1_000_000_000_000),
        (Array("p".utf8), 1 << 50), (Array("pb".utf8), 1_000_000_000_000_000),
        (Array("e".utf8), 1 << 60), (Array("eb".utf8), 1_000_000_000_000_000_000),
    ]

    private static let day: UInt64 = 24 * 60 * 60

    /// Order matters: the first word the written unit is a prefix of wins (`m` = months, `mi` = minutes).
    private static let timeUnits: [Unit] = [
        (Array("n".utf8), 60),
        (Array("seconds".utf8), 1),
        (Array("months".utf8), 30 * day),
        (Array("minutes".utf8), 60),
        (Array("mins".utf8), 60),
        (Array("hours".utf8), 60 * 60),
        (Array("days".utf8), day),
        (Array("weeks".utf8), 7 * day),
        (Array("quarters".utf8), 91 * day),
        (Array("years".utf8), 365 * day),
    ]

    @inline(__always)
    private static func isDigit(_ byte: UInt8) -> Bool {
        byte &- UInt8(ascii: "0") < 10
    }

    /// C `isspace` in the "C" locale: space, `\t`, `\n`, `\v`, `\f`, `\r`.
    @inline(__always)
    private static func isBlank(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || (byte >= 0x09 && byte <= 0x0D)
    }

    @inline(__always)
    private static func lowercased(_ byte: UInt8) -> UInt8 {
        byte &- UInt8(ascii: "A") < 26 ? byte | 0x20 : byte
    }

    /// The factor of `unit`, or nil when it names no unit. An empty unit is the base unit (factor 1).
    private static func factor(of unit: ArraySlice<UInt8>, in units: [Unit], prefixes: Bool) -> UInt64? {
        if unit.isEmpty { return 1 }
        for candidate in units {
            let fits = prefixes ? unit.count <= candidate.name.count : unit.count == candidate.name.count
            guard fits else { continue }
            if zip(unit, candidate.name).allSatisfy({ lowercased($0) == $1 }) { return candidate.factor }
        }
        return nil
    }

    /// Sums the terms of `text`; nil when a term is malformed, a unit is unknown, there is no term, or the total
    /// exceeds `limit` (which must be `UInt64.max` or `Int64.max`, exactly representable bounds as doubles).
    private static func sum(
        _ text: ArraySlice<UInt8>, units: [Unit], unitsArePrefixes: Bool, limit: UInt64
    ) -> UInt64? {
        var index = text.startIndex
        let end = text.endIndex
        var total: UInt64 = 0
        var sawTerm = false
        while true {
            while index < end && isBlank(text[index]) { index += 1 }
            if index == end { break }

            // The number: [+] digits [. digits] [e [+|-] digits], at least one mantissa digit.
            let numberStart = index
            if text[index] == UInt8(ascii: "+") { index += 1 }
            let integerStart = index
            while index < end && isDigit(text[index]) { index += 1 }
            let integerEnd = index
            var mantissaDigits = integerEnd - integerStart
            var isInteger = true
            if index < end && text[index] == UInt8(ascii: ".") {
                isInteger = false
                index += 1
                let fractionStart = index
                while index < end && isDigit(text[index]) { index += 1 }
                mantissaDigits += index - fractionStart
            }
            guard mantissaDigits > 0 else { return nil }
            if index < end && (text[index] == UInt8(ascii: "e") || text[index] == UInt8(ascii: "E")) {
                // Only an exponent when digits follow; otherwise the `e` starts the unit (exabytes).
                var probe = index + 1
                if probe < end && (text[probe] == UInt8(ascii: "+") || text[probe] == UInt8(ascii: "-")) {
                    probe += 1
                }
                if probe < end && isDigit(text[probe]) {
                    isInteger = false
                    index = probe
                    while index < end && isDigit(text[index]) { index += 1 }
                }
            }
            let numberEnd = index

            // The unit: after optional blanks, everything up to the next digit or blank.
            while index < end && isBlank(text[index]) { index += 1 }
            let unitStart = index
            while index < end && !isDigit(text[index]) && !isBlank(text[index]) { index += 1 }
            guard let factor = factor(of: text[unitStart..<index], in: units, prefixes: unitsArePrefixes) else {
                return nil
            }

            let term: UInt64
            if isInteger {
                var number: UInt64 = 0
                for digit in text[integerStart..<integerEnd] {
                    let (times10, overflow1) = number.multipliedReportingOverflow(by: 10)
                    let (next, overflow2) = times10.addingReportingOverflow(UInt64(digit - UInt8(ascii: "0")))
                    if overflow1 || overflow2 { return nil }
                    number = next
                }
                let (product, overflow) = number.multipliedReportingOverflow(by: factor)
                if overflow { return nil }
                term = product
            } else {
                guard let number = Double(String(decoding: text[numberStart..<numberEnd], as: UTF8.self)) else {
                    return nil
                }
                let product = number * Double(factor)
                // Double(limit) is limit + 1 (2⁶⁴ or 2⁶³), so `<` keeps the truncated value within the limit.
                guard product.isFinite, product < Double(limit) else { return nil }
                term = UInt64(product)
            }
            let (next, overflow) = total.addingReportingOverflow(term)
            if overflow || next > limit { return nil }
            total = next
            sawTerm = true
        }
        return sawTerm ? total : nil
    }
}
