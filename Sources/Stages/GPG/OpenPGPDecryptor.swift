import Pipeline

/// Decrypts one OpenPGP message with a known AES-256 session key, streaming: PKESK packets (their key IDs are
/// collected in ``recipientKeyIDs``), then one SEIPD v1 packet whose plaintext holds a literal data packet,
/// optionally inside a compressed data packet (uncompressed, ZIP or ZLIB). This reads what ``OpenPGPEncryptor``
/// writes and what `gpg --encrypt` writes (with or without partial body lengths and compression).
///
/// **Do not trust any output before ``finish(into:)`` returns.** ``process(_:into:)`` hands out plaintext as it
/// is decrypted, but the MDC that proves the message is unchanged is checked only at the end: a tampered
/// message yields bytes and then an ``OpenPGPError/Kind/integrity`` error from `finish` (or earlier). A caller
/// must write the output somewhere provisional (a temporary file, a buffer) and commit it only after `finish`
/// succeeded, and discard it on any error.
///
/// No early answers about the plaintext: the quick check after the random prefix and any error in the packets
/// inside the encrypted data are held until the MDC has been checked, and a failed MDC is reported first. An
/// early, distinguishable "wrong key" or "bad packet" answer is an oracle for chosen-ciphertext attacks on CFB
/// (Mister–Zuccherato; RFC 4880 14 / RFC 9580 13.4 warn about the quick check); restore decrypts volumes that
/// someone else may have changed. `quickCheck: true` restores the early ``OpenPGPError/Kind/wrongKey`` error
/// for callers that decrypt only their own data and prefer to stop at once on a wrong key.
///
/// Signed messages (one-pass signature packets), symmetrically encrypted data without MDC (tag 9), AEAD
/// packets (tag 20) and SEIPD v2 are refused with ``OpenPGPError/Kind/unsupported``. Session keys are AES-256
/// only (``OpenPGPSessionKey``): a message under another cipher fails like one under a wrong key. Not
/// thread-safe.
public final class OpenPGPDecryptor: ByteTransform {
    /// The key IDs of the PKESK packets read so far (all of them once the encrypted data has started).
    public private(set) var recipientKeyIDs: [OpenPGPKeyID] = []

    private let outer = PacketStreamParser(context: "message")
    private let cipher: OpenSSL.CFB
    private let mdc: Digester
    private var state = TransformPhase.open

    /// Where the outer parser is: which packet's body is streaming.
    private enum Packet {
        case none
        case sessionKey([UInt8])
        case skipped
        case encrypted
    }

    private var packet = Packet.none
    private var sawEncryptedData = false
    /// SEIPD body octets seen (the first is the version).
    private var encryptedOctets = 0
    /// Decrypted octets of the random prefix and quick check, until there are 18.
    private var prefix: [UInt8] = []
    /// The last 22 decrypted octets: they may be the MDC packet, so they are held back from hashing and parsing.
    private var tail: [UInt8] = []
    private var plaintext: [UInt8] = []
    private let inner = PlaintextLayer(depth: 0)
    private let quickCheck: Bool
    private var quickCheckFailed = false
    /// The first error of the plaintext packets, held until the MDC is checked.
    private var deferredError: (any Error)?

    /// A decryptor for one message under `sessionKey`; see the type's notes on `quickCheck`.
    public init(sessionKey: OpenPGPSessionKey, quickCheck: Bool = false) throws {
        self.quickCheck = quickCheck
        mdc = try Digester(.sha1)
        cipher = try OpenSSL.CFB(encrypt: false)
        try cipher.start(key: sessionKey.bytes)
        tail.reserveCapacity(44)
    }

    /// Decrypts a whole message in memory; returns the literal data only when the message is intact.
    public static func decrypt(_ message: [UInt8], sessionKey: OpenPGPSessionKey, quickCheck: Bool = false) throws
        -> [UInt8]
    {
        let decryptor = try OpenPGPDecryptor(sessionKey: sessionKey, quickCheck: quickCheck)
        var output: [UInt8] = []
        try message.withUnsafeBytes { try decryptor.process($0, into: &output) }
        try decryptor.finish(into: &output)
        return output
    }

    /// The key IDs of the PKESK packets at the start of `message`. A prefix that holds the session key packets
    /// whole is enough: parsing stops at the first packet that is not a PKESK, SKESK or marker packet.
    public static func recipientKeyIDs(in message: [UInt8]) throws -> [OpenPGPKeyID] {
        var reader = ByteReader(message[...])
        var keyIDs: [OpenPGPKeyID] = []
        while !reader.isAtEnd {
            let ctb = try reader.byte()
            guard ctb & 0x80 != 0 else { throw OpenPGPError.malformed("not an OpenPGP message") }
            let tag = ctb & 0x40 == 0 ? Int(ctb >> 2 & 0x0F) : Int(ctb & 0x3F)
            guard [1, 3, 10].contains(tag) else { break }
            let length: Int
            if ctb & 0x40 == 0 {
                switch ctb & 0x03 {
                case 0: length = Int(try reader.byte())
                case 1: length = Int(try reader.uint16())
                case 2: length = Int(try reader.uint32())
                default: throw OpenPGPError.malformed("a session key packet of indeterminate length")
                }
            } else {
                let first = Int(try reader.byte())
                switch first {
                case ..<192: length = first
                case ..<224: length = (first - 192) << 8 + Int(try reader.byte()) + 192
                case 255: length = Int(try reader.uint32())
                default: throw OpenPGPError.malformed("a session key packet with partial lengths")
                }
            }
            let body = try reader.take(length)
            if tag == 1 { keyIDs.append(try Self.keyID(ofSessionKeyPacket: body)) }
        }
        return keyIDs
    }

    private static func keyID(ofSessionKeyPacket body: ArraySlice<UInt8>) throws -> OpenPGPKeyID {
        var reader = ByteReader(body)
        let version = try reader.byte()
        guard version == 3 else {
            throw OpenPGPError.unsupported("version \(version) public-key encrypted session keys (only v3)")
        }
        return OpenPGPKeyID(fingerprint: Array(try reader.take(8)))
    }

    public func process(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) throws {
        try state.checkOpen("decryptor")
        do {
            try outer.feed(input, into: &output) { event, output in try self.handle(event, into: &output) }
        } catch {
            state = .failed
            throw error
        }
    }

    /// Ends the message: checks that the encrypted packet is complete, that its MDC matches, and that the
    /// plaintext held one complete literal packet. Only after this returns is the output trustworthy.
    public func finish(into output: inout [UInt8]) throws {
        try state.checkOpen("decryptor")
        do {
            try outer.finish(into: &output) { event, output in try self.handle(event, into: &output) }
            guard sawEncryptedData, case .none = packet else {
                throw OpenPGPError(.integrity, "the message has no complete encrypted data packet (truncated)")
            }
            state = .finished
        } catch {
            state = .failed
            throw error
        }
    }

    private func handle(_ event: PacketStreamParser.Event, into output: inout [UInt8]) throws {
        switch event {
        case .start(let tag):
            guard !sawEncryptedData else {
                throw OpenPGPError.malformed("packet \(tag) after the encrypted data (only one message is read)")
            }
            switch tag {
            case OpenPGPPacket.Tag.publicKeyEncryptedSessionKey: packet = .sessionKey([])
            case OpenPGPPacket.Tag.symmetricKeyEncryptedSessionKey, OpenPGPPacket.Tag.marker: packet = .skipped
            case OpenPGPPacket.Tag.symmetricallyEncryptedIntegrityProtectedData:
                packet = .encrypted
                sawEncryptedData = true
            case OpenPGPPacket.Tag.symmetricallyEncryptedData:
                throw OpenPGPError.unsupported("encrypted data without integrity protection (packet 9) is refused")
            case OpenPGPPacket.Tag.aeadEncryptedData:
                throw OpenPGPError.unsupported("AEAD encrypted data (packet 20) is not supported yet")
            default:
                throw OpenPGPError.malformed("unexpected packet \(tag) in an encrypted message")
            }
        case .body(let bytes):
            switch packet {
            case .sessionKey(var body):
                guard body.count + bytes.count <= 4096 else { throw OpenPGPError.malformed("oversized session key packet") }
                packet = .none  // drop the array's reference before appending, so it is not copied
                body.append(contentsOf: bytes)
                packet = .sessionKey(body)
            case .encrypted:
                try decrypt(bytes, into: &output)
            case .skipped, .none:
                break
            }
        case .end:
            switch packet {
            case .sessionKey(let body):
                recipientKeyIDs.append(try Self.keyID(ofSessionKeyPacket: body[...]))
            case .encrypted:
                try endOfEncryptedData(into: &output)
            case .skipped, .none:
                break
            }
            packet = .none
        }
    }

    private func decrypt(_ bytes: UnsafeRawBufferPointer, into output: inout [UInt8]) throws {
        var ciphertext = bytes
        if encryptedOctets == 0, let version = ciphertext.first {
            guard version == 1 else {
                throw OpenPGPError.unsupported("SEIPD version \(version) is not supported yet (only version 1)")
            }
            ciphertext = UnsafeRawBufferPointer(rebasing: ciphertext.dropFirst())
        }
        encryptedOctets += bytes.count
        guard !ciphertext.isEmpty else { return }
        plaintext.removeAll(keepingCapacity: true)
        try cipher.update(ciphertext, appendingTo: &plaintext)
        var fresh = plaintext[...]
        if prefix.count < 18 {
            let take = min(18 - prefix.count, fresh.count)
            prefix += fresh.prefix(take)
            fresh = fresh.dropFirst(take)
            if prefix.count == 18 {
                mdc.update(prefix)
                // RFC 4880 5.7 / 5.13: the last two random octets repeat. A mismatch means a wrong key (or a
                // changed first block); unless asked for, it is only reported after the MDC (see the type).
                if prefix[14] != prefix[16] || prefix[15] != prefix[17] {
                    guard !quickCheck else {
                        throw OpenPGPError(.wrongKey, "the session key does not fit this message (quick check failed)")
                    }
                    quickCheckFailed = true
                }
            }
        }
        guard !fresh.isEmpty else { return }
        // Release everything except the newest 22 octets.
        if fresh.count >= 22 {
            release(tail[...], into: &output)
            release(fresh.dropLast(22), into: &output)
            tail.removeAll(keepingCapacity: true)
            tail += fresh[(fresh.endIndex - 22)...]
        } else {
            tail += fresh
            if tail.count > 22 {
                let excess = tail.count - 22
                release(tail.prefix(excess), into: &output)
                tail.removeFirst(excess)
            }
        }
    }

    /// Plaintext that is certainly not the MDC packet: hashed, and parsed for the literal data.
    private func release(_ bytes: ArraySlice<UInt8>, into output: inout [UInt8]) {
        guard !bytes.isEmpty else { return }
        bytes.withUnsafeBytes { buffer in
            mdc.update(buffer)
            guard deferredError == nil, !quickCheckFailed else { return }
            do {
                try inner.feed(buffer, into: &output)
            } catch {
                deferredError = error
            }
        }
    }

    private func endOfEncryptedData(into output: inout [UInt8]) throws {
        guard prefix.count == 18, tail.count == 22, tail[0] == 0xD3, tail[1] == 0x14 else {
            throw OpenPGPError(.integrity, "the encrypted data has no modification detection code: it was changed or cut")
        }
        mdc.update([0xD3, 0x14])
        let expected = try mdc.finalize()
        // Not secret, but compare without an early exit anyway.
        let difference = zip(expected, tail[2...]).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) }
        guard difference == 0, !quickCheckFailed else {
            throw OpenPGPError(
                .integrity,
                "the modification detection code does not match: the message was changed, or the session key is wrong")
        }
        if let deferredError { throw deferredError }
        try inner.finish(into: &output)
    }
}

@available(*, unavailable)
extension OpenPGPDecryptor: Sendable {}

/// Where a streaming object is in its life.
enum TransformPhase {
    case open
    case finished
    case failed

    func checkOpen(_ name: String) throws {
        switch self {
        case .open: return
        case .finished: throw OpenPGPError(.misuse, "\(name) used after finish")
        case .failed: throw OpenPGPError(.misuse, "\(name) used after an earlier error")
        }
    }
}

/// The packets inside the encrypted data: one literal data packet, possibly inside a compressed data packet
/// (which nests another layer). Literal data goes to the output.
private final class PlaintextLayer {
    private let depth: Int
    private let parser: PacketStreamParser

    private enum Packet {
        case none
        /// A literal packet whose header (format, name length, name, date) is being read: the octets so far.
        case literalHeader([UInt8])
        case literalData
        /// A compressed packet before its algorithm octet.
        case compressedStart
        case compressed(OpenPGPInflater?, PlaintextLayer)
        case skipped
    }

    private var packet = Packet.none
    private var sawLiteral = false

    init(depth: Int) {
        self.depth = depth
        parser = PacketStreamParser(context: depth == 0 ? "decrypted data" : "decompressed data")
    }

    func feed(_ bytes: UnsafeRawBufferPointer, into output: inout [UInt8]) throws {
        try parser.feed(bytes, into: &output) { event, output in try self.handle(event, into: &output) }
    }

    func finish(into output: inout [UInt8]) throws {
        try parser.finish(into: &output) { event, output in try self.handle(event, into: &output) }
        guard sawLiteral, case .none = packet else {
            throw OpenPGPError(.integrity, "the decrypted data holds no complete literal data packet")
        }
    }

    private func handle(_ event: PacketStreamParser.Event, into output: inout [UInt8]) throws {
        switch event {
        case .start(let tag):
            switch tag {
            case OpenPGPPacket.Tag.literalData:
                guard !sawLiteral else { throw OpenPGPError.unsupported("messages with several literal packets") }
                sawLiteral = true
                packet = .literalHeader([])
            case OpenPGPPacket.Tag.compressedData:
                guard !sawLiteral, depth < 2 else { throw OpenPGPError.malformed("nested or repeated compressed packets") }
                sawLiteral = true  // the nested layer checks for its literal packet
                packet = .compressedStart
            case OpenPGPPacket.Tag.marker, OpenPGPPacket.Tag.padding:
                packet = .skipped
            case OpenPGPPacket.Tag.onePassSignature, OpenPGPPacket.Tag.signature:
                throw OpenPGPError.unsupported("signed messages are not supported yet")
            default:
                throw OpenPGPError.malformed("unexpected packet \(tag) inside the encrypted data")
            }
        case .body(let bytes):
            try body(bytes, into: &output)
        case .end:
            switch packet {
            case .literalHeader:
                throw OpenPGPError.malformed("a literal data packet shorter than its header")
            case .compressedStart:
                throw OpenPGPError.malformed("an empty compressed data packet")
            case .compressed(let inflater, let nested):
                try inflater?.finish()
                try nested.finish(into: &output)
            case .literalData, .skipped, .none:
                break
            }
            packet = .none
        }
    }

    private func body(_ bytes: UnsafeRawBufferPointer, into output: inout [UInt8]) throws {
        switch packet {
        case .literalData:
            output.append(contentsOf: bytes)
        case .literalHeader(var header):
            // format(1) name length(1) name date(4)
            var rest = bytes[...]
            while !rest.isEmpty {
                let needed = header.count < 2 ? 2 : 2 + Int(header[1]) + 4
                if header.count >= needed {
                    break
                }
                let take = min(needed - header.count, rest.count)
                header += rest.prefix(take)
                rest = rest.dropFirst(take)
            }
            if header.count >= 2, header.count == 2 + Int(header[1]) + 4 {
                packet = .literalData
                if !rest.isEmpty { output.append(contentsOf: UnsafeRawBufferPointer(rebasing: rest)) }
            } else {
                packet = .literalHeader(header)
            }
        case .compressedStart:
            guard let algorithm = bytes.first else { return }
            let inflater = algorithm == 0 ? nil : try OpenPGPInflater(algorithm: algorithm)
            packet = .compressed(inflater, PlaintextLayer(depth: depth + 1))
            try body(UnsafeRawBufferPointer(rebasing: bytes.dropFirst()), into: &output)
        case .compressed(let inflater, let nested):
            if let inflater {
                try inflater.inflate(bytes) { try nested.feed($0, into: &output) }
            } else {
                try nested.feed(bytes, into: &output)
            }
        case .skipped, .none:
            break
        }
    }
}
