/// OpenPGP packet framing (RFC 4880 4.2, RFC 9580 4.2): headers, lengths and MPIs, for whole buffers (keys,
/// PKESKs) and for streams (``PacketStreamParser``).
enum OpenPGPPacket {
    /// Packet tags used here.
    enum Tag {
        static let publicKeyEncryptedSessionKey = 1
        static let signature = 2
        static let symmetricKeyEncryptedSessionKey = 3
        static let onePassSignature = 4
        static let secretKey = 5
        static let publicKey = 6
        static let secretSubkey = 7
        static let compressedData = 8
        static let symmetricallyEncryptedData = 9
        static let marker = 10
        static let literalData = 11
        static let trust = 12
        static let userID = 13
        static let publicSubkey = 14
        static let userAttribute = 17
        static let symmetricallyEncryptedIntegrityProtectedData = 18
        static let modificationDetectionCode = 19
        static let aeadEncryptedData = 20
        static let padding = 21
    }

    /// Appends a new-format header (`0xC0 | tag`, RFC 4880 4.2.2) with a definite `length`.
    static func appendHeader(tag: Int, length: Int, to output: inout [UInt8]) {
        output.append(0xC0 | UInt8(tag))
        appendLength(length, to: &output)
    }

    /// Appends a new-format definite body length: one octet below 192, two up to 8383, else 0xFF and four octets.
    static func appendLength(_ length: Int, to output: inout [UInt8]) {
        precondition(length >= 0 && length <= Int(UInt32.max), "OpenPGP packet length out of range")
        switch length {
        case ..<192:
            output.append(UInt8(length))
        case ..<8384:
            let value = length - 192
            output.append(UInt8(value >> 8) + 192)
            output.append(UInt8(value & 0xFF))
        default:
            output.append(0xFF)
            appendBigEndian(UInt32(length), to: &output)
        }
    }

    /// The octet announcing a partial body of 2^`exponent` bytes (RFC 4880 4.2.2.4).
    static func partialLengthOctet(exponent: Int) -> UInt8 {
        precondition((0...30).contains(exponent))
        return 0xE0 | UInt8(exponent)
    }

    static func appendBigEndian(_ value: UInt32, to output: inout [UInt8]) {
        output.append(UInt8(value >> 24))
        output.append(UInt8(value >> 16 & 0xFF))
        output.append(UInt8(value >> 8 & 0xFF))
        output.append(UInt8(value & 0xFF))
    }

    /// Appends `value` (big-endian, leading zero octets allowed) as an MPI: a two-octet bit count then the
    /// octets without leading zeros (RFC 4880 3.2).
    static func appendMPI(_ value: [UInt8], to output: inout [UInt8]) {
        let digits = value.drop { $0 == 0 }
        let bits = digits.first.map { digits.count * 8 - $0.leadingZeroBitCount } ?? 0
        output.append(UInt8(bits >> 8))
        output.append(UInt8(bits & 0xFF))
        output.append(contentsOf: digits)
    }

    /// Splits a whole buffer into packets: (tag, body). Accepts old-format headers (including the indeterminate
    /// length, which runs to the end of the buffer) and new-format ones (including partial body lengths, whose
    /// pieces are joined).
    static func packets(in bytes: [UInt8]) throws -> [(tag: Int, body: [UInt8])] {
        var reader = ByteReader(bytes[...])
        var result: [(tag: Int, body: [UInt8])] = []
        while !reader.isAtEnd {
            let ctb = try reader.byte()
            guard ctb & 0x80 != 0 else {
                throw OpenPGPError.malformed("octet \(hex(ctb)) at offset \(reader.offset - 1) is not a packet header")
            }
            if ctb & 0x40 == 0 {
                // Old format: tag in bits 5-2, length type in bits 1-0.
                let tag = Int(ctb >> 2 & 0x0F)
                let length: Int
                switch ctb & 0x03 {
                case 0: length = Int(try reader.byte())
                case 1: length = Int(try reader.uint16())
                case 2: length = Int(try reader.uint32())
                default: length = reader.remaining
                }
                result.append((tag, Array(try reader.take(length))))
            } else {
                let tag = Int(ctb & 0x3F)
                var body: [UInt8] = []
                while true {
                    let first = try reader.byte()
                    if first >= 224 && first < 255 {
                        body += try reader.take(1 << Int(first & 0x1F))
                        continue
                    }
                    let length: Int
                    switch first {
                    case ..<192: length = Int(first)
                    case ..<224: length = (Int(first) - 192) << 8 + Int(try reader.byte()) + 192
                    default: length = Int(try reader.uint32())
                    }
                    body += try reader.take(length)
                    break
                }
                result.append((tag, body))
            }
        }
        return result
    }

    static func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return "0x" + String(digits[Int(byte >> 4)]) + String(digits[Int(byte & 0x0F)])
    }
}

/// Reads big-endian fields from a byte slice; every read past the end throws ``OpenPGPError/Kind/malformed``.
struct ByteReader {
    private var bytes: ArraySlice<UInt8>
    private let start: Int

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        start = bytes.startIndex
    }

    var isAtEnd: Bool { bytes.isEmpty }
    var remaining: Int { bytes.count }
    /// How many octets have been read.
    var offset: Int { bytes.startIndex - start }

    mutating func byte() throws -> UInt8 {
        guard let value = bytes.popFirst() else { throw OpenPGPError.malformed("unexpected end of data") }
        return value
    }

    mutating func uint16() throws -> UInt16 {
        UInt16(try byte()) << 8 | UInt16(try byte())
    }

    mutating func uint32() throws -> UInt32 {
        UInt32(try uint16()) << 16 | UInt32(try uint16())
    }

    mutating func take(_ count: Int) throws -> ArraySlice<UInt8> {
        guard count >= 0, count <= bytes.count else {
            throw OpenPGPError.malformed("a field of \(count) bytes runs past the end of its packet")
        }
        let field = bytes.prefix(count)
        bytes = bytes.dropFirst(count)
        return field
    }

    /// An MPI's value octets (RFC 4880 3.2).
    mutating func mpi() throws -> [UInt8] {
        let bits = Int(try uint16())
        return Array(try take((bits + 7) / 8))
    }

    /// The rest of the slice.
    mutating func rest() -> ArraySlice<UInt8> {
        defer { bytes = bytes[bytes.endIndex...] }
        return bytes
    }
}
