/// Splits a stream of OpenPGP packets, fed in pieces of any size, into events: a packet starts (its tag), body
/// octets, the packet ends. Handles old-format headers (one-, two-, four-octet and indeterminate lengths) and
/// new-format headers (including partial body lengths, RFC 4880 4.2.2.4), so the body of a packet of any size
/// streams through without being held.
///
/// A class, not a struct: its owner's event handler may touch the owner while the parser runs.
final class PacketStreamParser {
    enum Event {
        case start(tag: Int)
        /// Body octets, valid only during the call.
        case body(UnsafeRawBufferPointer)
        case end
    }

    private enum State {
        /// Reading a packet header (CTB and length) into `header`.
        case header
        /// Reading the next new-format length of a packet with partial lengths, into `header`.
        case partialLength
        /// Inside a body part: `remaining` octets, then either the packet ends or (`partial`) a length follows.
        case body(remaining: Int, partial: Bool)
        /// Old-format indeterminate length: the body runs to the end of the stream.
        case indeterminate
        case failed
    }

    private var state = State.header
    private var header: [UInt8] = []
    /// What the packets are, for messages ("message", "encrypted data", "compressed data").
    private let context: String

    init(context: String) {
        self.context = context
        header.reserveCapacity(6)
    }

    /// True between packets (a stream may end here).
    var isBetweenPackets: Bool {
        if case .header = state { return header.isEmpty }
        return false
    }

    func feed(
        _ input: UnsafeRawBufferPointer, into output: inout [UInt8],
        _ handler: (Event, inout [UInt8]) throws -> Void
    ) throws {
        var rest = input
        do {
            while !rest.isEmpty {
                switch state {
                case .failed:
                    throw OpenPGPError(.misuse, "\(context): parser used after an earlier error")
                case .header, .partialLength:
                    header.append(rest[rest.startIndex])
                    rest = UnsafeRawBufferPointer(rebasing: rest.dropFirst())
                    try decodeHeader(into: &output, handler)
                case .indeterminate:
                    try handler(.body(rest), &output)
                    rest = UnsafeRawBufferPointer(rebasing: rest[rest.endIndex...])
                case .body(let remaining, let partial):
                    let take = min(remaining, rest.count)
                    if take > 0 {
                        try handler(.body(UnsafeRawBufferPointer(rebasing: rest.prefix(take))), &output)
                        rest = UnsafeRawBufferPointer(rebasing: rest.dropFirst(take))
                    }
                    if take == remaining {
                        try endOfPart(partial: partial, into: &output, handler)
                    } else {
                        state = .body(remaining: remaining - take, partial: partial)
                    }
                }
            }
        } catch {
            state = .failed
            throw error
        }
    }

    /// The stream has ended: closes an indeterminate-length packet, or throws if a packet is incomplete.
    func finish(into output: inout [UInt8], _ handler: (Event, inout [UInt8]) throws -> Void) throws {
        switch state {
        case .indeterminate:
            state = .header
            try handler(.end, &output)
        case .header where header.isEmpty:
            return
        case .failed:
            throw OpenPGPError(.misuse, "\(context): parser used after an earlier error")
        default:
            state = .failed
            throw OpenPGPError(.integrity, "\(context) ends in the middle of a packet (truncated)")
        }
    }

    private func endOfPart(partial: Bool, into output: inout [UInt8], _ handler: (Event, inout [UInt8]) throws -> Void)
        throws
    {
        if partial {
            state = .partialLength
        } else {
            state = .header
            try handler(.end, &output)
        }
    }

    /// Tries to decode `header`; does nothing while octets are missing.
    private func decodeHeader(into output: inout [UInt8], _ handler: (Event, inout [UInt8]) throws -> Void) throws {
        if case .partialLength = state {
            guard let (length, partial) = try newFormatLength(header[...]) else { return }
            header.removeAll(keepingCapacity: true)
            state = .body(remaining: length, partial: partial)
            if length == 0 { try endOfPart(partial: partial, into: &output, handler) }
            return
        }
        let ctb = header[0]
        guard ctb & 0x80 != 0 else {
            throw OpenPGPError.malformed("\(context): octet \(OpenPGPPacket.hex(ctb)) is not a packet header")
        }
        let tag: Int
        let length: Int?
        var partial = false
        if ctb & 0x40 == 0 {
            tag = Int(ctb >> 2 & 0x0F)
            let octets = [1, 2, 4, 0][Int(ctb & 0x03)]
            guard header.count == 1 + octets else { return }
            length = octets == 0 ? nil : header.dropFirst().reduce(0) { $0 << 8 | Int($1) }
        } else {
            tag = Int(ctb & 0x3F)
            guard let (value, isPartial) = try newFormatLength(header.dropFirst()) else { return }
            length = value
            partial = isPartial
        }
        header.removeAll(keepingCapacity: true)
        try handler(.start(tag: tag), &output)
        if let length {
            state = .body(remaining: length, partial: partial)
            if length == 0 { try endOfPart(partial: partial, into: &output, handler) }
        } else {
            state = .indeterminate
        }
    }

    /// A new-format length from `octets`, or nil if more octets are needed.
    private func newFormatLength(_ octets: ArraySlice<UInt8>) throws -> (Int, partial: Bool)? {
        guard let first = octets.first else { return nil }
        switch first {
        case ..<192:
            return (Int(first), false)
        case ..<224:
            guard octets.count == 2 else { return nil }
            return ((Int(first) - 192) << 8 + Int(octets[octets.startIndex + 1]) + 192, false)
        case 255:
            guard octets.count == 5 else { return nil }
            return (octets.dropFirst().reduce(0) { $0 << 8 | Int($1) }, false)
        default:
            return (1 << Int(first & 0x1F), true)
        }
    }
}
