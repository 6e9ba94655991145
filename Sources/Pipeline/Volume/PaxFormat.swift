/// Byte-level pieces of the POSIX.1-2001 pax interchange format (ustar headers, extended header records) and of the
/// GNU sparse format 1.0, shared by `PaxWriter` and `PaxReader`.
enum PaxFormat {
    static let blockSize = 512
    /// The largest value an 11-digit octal ustar field holds (8 GiB - 1).
    static let maxOctal11: UInt64 = 0o77777777777
    /// The largest value a 7-digit octal ustar field holds.
    static let maxOctal7: UInt64 = 0o7777777
    /// Width of the zero-padded `size` record value of a streaming member (enough for any UInt64).
    static let patchableSizeDigits = 20

    // Offsets and widths of the ustar header fields.
    static let nameField = (offset: 0, width: 100)
    static let modeField = (offset: 100, width: 8)
    static let uidField = (offset: 108, width: 8)
    static let gidField = (offset: 116, width: 8)
    static let sizeField = (offset: 124, width: 12)
    static let mtimeField = (offset: 136, width: 12)
    static let checksumField = (offset: 148, width: 8)
    static let typeflagOffset = 156
    static let linkNameField = (offset: 157, width: 100)
    static let magicField = (offset: 257, width: 6)
    static let versionField = (offset: 263, width: 2)
    static let unameField = (offset: 265, width: 32)
    static let gnameField = (offset: 297, width: 32)
    static let devMajorField = (offset: 329, width: 8)
    static let devMinorField = (offset: 337, width: 8)
    static let prefixField = (offset: 345, width: 155)

    enum Typeflag {
        static let regular = UInt8(ascii: "0")
        static let regularOld: UInt8 = 0
        static let hardLink = UInt8(ascii: "1")
        static let symlink = UInt8(ascii: "2")
        static let charDevice = UInt8(ascii: "3")
        static let blockDevice = UInt8(ascii: "4")
        static let directory = UInt8(ascii: "5")
        static let fifo = UInt8(ascii: "6")
        static let contiguous = UInt8(ascii: "7")
        static let extended = UInt8(ascii: "x")
        static let global = UInt8(ascii: "g")
        static let gnuLongName = UInt8(ascii: "L")
        static let gnuLongLink = UInt8(ascii: "K")
    }

    static let slash = UInt8(ascii: "/")
    static let dot = UInt8(ascii: ".")

    /// Rounds `value` up to a multiple of 512 (UInt64.max when that does not fit: no valid volume is that large).
    @inline(__always)
    static func padded(_ value: UInt64) -> UInt64 {
        value > UInt64.max - 511 ? UInt64.max : (value + 511) & ~511
    }

    /// `a + b`, or UInt64.max when that does not fit.
    @inline(__always)
    static func saturatingSum(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? UInt64.max : sum
    }

    /// Bytes the data of a sparse member takes in the volume after its map, for segment lengths `lengths` (zero
    /// lengths left out): GNU tar reads each segment from whole blocks, so every segment but the last is padded to 512.
    /// Saturates at UInt64.max for lengths no volume can hold.
    static func sparseStoredLength(_ lengths: [UInt64]) -> UInt64 {
        guard let last = lengths.last else { return 0 }
        return saturatingSum(lengths.dropLast().reduce(0) { saturatingSum($0, padded($1)) }, last)
    }

    // MARK: - Numbers

    static func decimalCount(_ value: UInt64) -> Int {
        var count = 1
        var rest = value
        while rest >= 10 {
            rest /= 10
            count += 1
        }
        return count
    }

    static func appendDecimal(_ value: UInt64, to out: inout [UInt8], width: Int = 0) {
        let count = decimalCount(value)
        if width > count { out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: width - count)) }
        let start = out.count
        out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: count))
        var rest = value
        var index = out.count - 1
        while index >= start {
            out[index] = UInt8(ascii: "0") + UInt8(rest % 10)
            rest /= 10
            index -= 1
        }
    }

    /// Writes `value` as zero-padded octal digits followed by a NUL into a field of `width` bytes.
    static func putOctal(_ value: UInt64, _ field: (offset: Int, width: Int), into block: inout [UInt8], base: Int) {
        var rest = value
        var index = base + field.offset + field.width - 2
        while index >= base + field.offset {
            block[index] = UInt8(ascii: "0") + UInt8(rest & 7)
            rest >>= 3
            index -= 1
        }
        block[base + field.offset + field.width - 1] = 0
    }

    static func putBytes<C: Collection<UInt8>>(
        _ bytes: C, _ field: (offset: Int, width: Int), into block: inout [UInt8], base: Int
    ) {
        var index = base + field.offset
        for byte in bytes.prefix(field.width) {
            block[index] = byte
            index += 1
        }
    }

    /// Computes and stores the header checksum of the block at `base`.
    static func putChecksum(into block: inout [UInt8], base: Int) {
        for index in 0..<checksumField.width { block[base + checksumField.offset + index] = UInt8(ascii: " ") }
        var sum: UInt64 = 0
        for index in base..<(base + blockSize) { sum += UInt64(block[index]) }
        putOctal(sum, (checksumField.offset, 7), into: &block, base: base)
        block[base + checksumField.offset + 7] = UInt8(ascii: " ")
    }

    /// Parses a numeric ustar field: octal digits (leading spaces or zeros, ended by NUL or space), or GNU base-256
    /// (first byte 0x80 positive, 0xff negative). Returns nil for a field that is neither.
    static func parseNumber(_ field: ArraySlice<UInt8>) -> Int64? {
        guard let first = field.first else { return 0 }
        if first == 0x80 || first == 0xff {
            var value: UInt64 = first == 0xff ? UInt64.max : 0
            for byte in field.dropFirst() {
                if first == 0x80 && value >> 56 != 0 { return nil }
                value = (value << 8) | UInt64(byte)
            }
            if first == 0x80 { return value > UInt64(Int64.max) ? nil : Int64(value) }
            let signed = Int64(bitPattern: value)
            return signed < 0 ? signed : nil
        }
        var value: Int64 = 0
        var index = field.startIndex
        while index < field.endIndex && field[index] == UInt8(ascii: " ") { index += 1 }
        var digits = 0
        while index < field.endIndex {
            let byte = field[index]
            if byte == 0 || byte == UInt8(ascii: " ") { break }
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "7") else { return nil }
            guard value <= Int64.max >> 3 else { return nil }
            value = value << 3 | Int64(byte - UInt8(ascii: "0"))
            digits += 1
            index += 1
        }
        // Everything after the digits must be terminators.
        while index < field.endIndex {
            let byte = field[index]
            guard byte == 0 || byte == UInt8(ascii: " ") else { return nil }
            index += 1
        }
        return value
    }

    /// Parses an unsigned decimal record value; nil unless it is digits only and fits.
    static func parseDecimal<C: Collection<UInt8>>(_ bytes: C) -> UInt64? {
        guard !bytes.isEmpty else { return nil }
        var value: UInt64 = 0
        for byte in bytes {
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return nil }
            let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
            guard !overflow1 && !overflow2 else { return nil }
            value = sum
        }
        return value
    }

    // MARK: - Times

    /// `seconds.nanoseconds` with 9 fraction digits; negative times as a negative decimal ("-1.250000000" is
    /// 1.25 seconds before the epoch).
    static func appendTime(_ time: FileStat.Timestamp, to out: inout [UInt8]) {
        let nanoseconds = UInt64(time.nanoseconds)
        if time.seconds >= 0 {
            appendDecimal(UInt64(time.seconds), to: &out)
            out.append(dot)
            appendDecimal(nanoseconds, to: &out, width: 9)
        } else if nanoseconds == 0 {
            out.append(UInt8(ascii: "-"))
            appendDecimal(time.seconds.magnitude, to: &out)
            out.append(contentsOf: ".000000000".utf8)
        } else {
            out.append(UInt8(ascii: "-"))
            appendDecimal((time.seconds + 1).magnitude, to: &out)
            out.append(dot)
            appendDecimal(1_000_000_000 - nanoseconds, to: &out, width: 9)
        }
    }

    /// Parses `[-]seconds[.fraction]`; fraction digits past the ninth are dropped.
    static func parseTime<C: Collection<UInt8>>(_ bytes: C) -> FileStat.Timestamp? {
        var rest = bytes[...]
        let negative = rest.first == UInt8(ascii: "-")
        if negative { rest = rest.dropFirst() }
        let integerPart = rest.prefix { $0 != dot }
        guard let whole = parseDecimal(integerPart), whole <= UInt64(Int64.max) else { return nil }
        var fraction: UInt64 = 0
        let afterInteger = rest.dropFirst(integerPart.count)
        if !afterInteger.isEmpty {
            let digits = afterInteger.dropFirst()
            guard digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
            var count = 0
            for byte in digits.prefix(9) {
                fraction = fraction * 10 + UInt64(byte - UInt8(ascii: "0"))
                count += 1
            }
            while count < 9 {
                fraction *= 10
                count += 1
            }
        }
        if !negative { return FileStat.Timestamp(seconds: Int64(whole), nanoseconds: Int32(fraction)) }
        if fraction == 0 { return FileStat.Timestamp(seconds: -Int64(whole), nanoseconds: 0) }
        guard whole < UInt64(Int64.max) else { return nil }
        return FileStat.Timestamp(seconds: -Int64(whole) - 1, nanoseconds: Int32(1_000_000_000 - fraction))
    }

    // MARK: - Records

    /// The length field of a record "LEN KEY=VALUE\n" whose key and value together have `contentLength` bytes.
    static func recordLength(contentLength: Int) -> Int {
        let base = contentLength + 3  // " ", "=", "\n"
        var digits = decimalCount(UInt64(base))
        while decimalCount(UInt64(base + digits)) != digits { digits += 1 }
        return base + digits
    }

    static func appendRecord<K: Collection<UInt8>, V: Collection<UInt8>>(key: K, value: V, to out: inout [UInt8]) {
        let length = recordLength(contentLength: key.count + value.count)
        appendDecimal(UInt64(length), to: &out)
        out.append(UInt8(ascii: " "))
        out.append(contentsOf: key)
        out.append(UInt8(ascii: "="))
        out.append(contentsOf: value)
        out.append(UInt8(ascii: "\n"))
    }

    /// Splits the data of an extended header into (key, value) pairs; nil when a record is malformed.
    static func parseRecords(_ data: ArraySlice<UInt8>) -> [(key: ArraySlice<UInt8>, value: ArraySlice<UInt8>)]? {
        var result: [(key: ArraySlice<UInt8>, value: ArraySlice<UInt8>)] = []
        var position = data.startIndex
        while position < data.endIndex {
            // Some writers pad the record area with NULs.
            if data[position] == 0 && data[position...].allSatisfy({ $0 == 0 }) { break }
            var index = position
            var length = 0
            while index < data.endIndex, data[index] >= UInt8(ascii: "0"), data[index] <= UInt8(ascii: "9") {
                length = length * 10 + Int(data[index] - UInt8(ascii: "0"))
                guard length <= data.count else { return nil }
                index += 1
            }
            guard index > position, index < data.endIndex, data[index] == UInt8(ascii: " ") else { return nil }
            let end = position + length
            guard end <= data.endIndex, end > index + 1, data[end - 1] == UInt8(ascii: "\n") else { return nil }
            let body = data[(index + 1)..<(end - 1)]
            guard let equals = body.firstIndex(of: UInt8(ascii: "=")), equals > body.startIndex else { return nil }
            result.append((key: body[..<equals], value: body[(equals + 1)...]))
            position = end
        }
        return result
    }

    // MARK: - Extended attribute names (as GNU tar encodes them in record keys)

    static let xattrKeyPrefix = Array("SCHILY.xattr.".utf8)

    /// "%" → "%25" and "=" → "%3D", so a name with "=" cannot end the key early.
    static func appendEncodedXattrName(_ name: [UInt8], to out: inout [UInt8]) {
        for byte in name {
            switch byte {
            case UInt8(ascii: "%"): out.append(contentsOf: "%25".utf8)
            case UInt8(ascii: "="): out.append(contentsOf: "%3D".utf8)
            default: out.append(byte)
            }
        }
    }

    static func decodeXattrName(_ encoded: ArraySlice<UInt8>) -> [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(encoded.count)
        var index = encoded.startIndex
        while index < encoded.endIndex {
            if encoded[index] == UInt8(ascii: "%"), encoded.endIndex - index >= 3 {
                let code = encoded[(index + 1)..<(index + 3)]
                if code.elementsEqual("25".utf8) {
                    result.append(UInt8(ascii: "%"))
                    index += 3
                    continue
                }
                if code.elementsEqual("3D".utf8) || code.elementsEqual("3d".utf8) {
                    result.append(UInt8(ascii: "="))
                    index += 3
                    continue
                }
            }
            result.append(encoded[index])
            index += 1
        }
        return result
    }

    // MARK: - ACL text

    /// Our comma-separated ACL text in the form GNU tar writes for `SCHILY.acl.*` (one entry a line, each ended by a
    /// newline, as `acl_to_text` produces). Nil when there is no entry.
    static func aclRecordValue(_ text: String) -> [UInt8]? {
        var out: [UInt8] = []
        for entry in aclEntries(Array(text.utf8)[...]) {
            out.append(contentsOf: entry)
            out.append(UInt8(ascii: "\n"))
        }
        return out.isEmpty ? nil : out
    }

    /// The record value back in our comma-separated form.
    static func aclText(_ value: ArraySlice<UInt8>) -> String {
        var out: [UInt8] = []
        for entry in aclEntries(value) {
            if !out.isEmpty { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: entry)
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func aclEntries(_ bytes: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
        bytes.split(whereSeparator: { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\n") }).compactMap { entry in
            let isSpace = { (byte: UInt8) in byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
            guard let first = entry.firstIndex(where: { !isSpace($0) }),
                let last = entry.lastIndex(where: { !isSpace($0) })
            else { return nil }
            return entry[first...last]
        }
    }

    // MARK: - Names

    static func isValidUTF8(_ bytes: [UInt8]) -> Bool {
        if bytes.allSatisfy({ $0 < 0x80 }) { return true }
        return String(validating: bytes, as: UTF8.self) != nil
    }

    /// The last component of `name` (which has no trailing slash).
    static func baseName(_ name: [UInt8]) -> ArraySlice<UInt8> {
        if let slash = name.lastIndex(of: slash) { return name[(slash + 1)...] }
        return name[...]
    }

    /// Splits `name` into ustar (prefix, name) fields, or nil when no split fits.
    static func splitUstarName(_ name: [UInt8]) -> (prefix: ArraySlice<UInt8>, name: ArraySlice<UInt8>)? {
        if name.count <= nameField.width { return (name[0..<0], name[...]) }
        // The slash at index i gives prefix name[..<i] (at most 155 bytes) and name name[(i+1)...] (at most 100).
        let lowest = max(1, name.count - nameField.width - 1)
        let highest = min(prefixField.width, name.count - 2)
        guard lowest <= highest else { return nil }
        for index in lowest...highest where name[index] == slash {
            return (name[..<index], name[(index + 1)...])
        }
        return nil
    }
}

extension Array where Element == UInt8 {
    /// `withUnsafeBytes` for a body that throws `VolumeError` (the standard one only rethrows `any Error`).
    func withVolumeBytes<R>(
        _ body: (UnsafeRawBufferPointer) throws(VolumeError) -> R
    ) throws(VolumeError) -> R {
        let result: Result<R, VolumeError> = withUnsafeBytes { bytes in
            do throws(VolumeError) { return .success(try body(bytes)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// `withUnsafeMutableBytes` for a body that throws `VolumeError`.
    mutating func withMutableVolumeBytes<R>(
        _ body: (UnsafeMutableRawBufferPointer) throws(VolumeError) -> R
    ) throws(VolumeError) -> R {
        let result: Result<R, VolumeError> = withUnsafeMutableBytes { bytes in
            do throws(VolumeError) { return .success(try body(bytes)) } catch { return .failure(error) }
        }
        return try result.get()
    }
}
