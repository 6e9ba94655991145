import Pipeline

/// Streams one OpenPGP message after another that `gpg --decrypt` reads: PKESKs, then a Symmetrically Encrypted
/// Integrity Protected Data packet (SEIPD v1, RFC 4880 5.13) holding a literal data packet and the MDC.
///
/// Layout of one message (all headers new-format):
///
///     PKESK v3 per recipient                                   (from the SessionKeySet)
///     D2 <lengths> 01 AES-256-CFB(IV 0, no resync) of:
///         prefix(16 random) ‖ prefix[14..15]                   quick check (RFC 4880 5.7, 5.13)
///         CB <lengths> 'b' 00 00000000 data                    literal data, binary, no name, date 0 (5.9)
///         D3 14 SHA-1(all of the above ‖ D3 14)                MDC (5.14)
///
/// Both the SEIPD packet and the literal packet use partial body lengths of 2^`chunkExponent` octets while more
/// data follows, and a definite length for their last part (never empty), so memory stays bounded whatever the
/// size; a message that fits one chunk has plain definite lengths. No compression (decide it in an earlier stage).
///
/// Keys: either a fresh session key and PKESKs per message (``init(recipients:chunkExponent:)``), or one
/// ``SessionKeySet`` reused by every message (``init(sessionKeys:chunkExponent:)``, see its warning). Every
/// message gets a fresh random prefix.
///
/// Use: ``process(_:into:)`` any number of times, then ``finish(into:)``; ``reset()`` starts the next message
/// and keeps the OpenSSL contexts. The session key of the message in progress or just finished is
/// ``sessionKeys`` (the catalog wraps it for restore). Not thread-safe: one encryptor per worker. Errors are
/// ``OpenPGPError`` values (``ByteTransform``'s methods are untyped `throws`), not ``CodecError``.
///
/// ```swift
/// let keyring = try GPGKeyring(homeDirectory: home)                 // job start: ~10 ms per gpg call
/// let recipients = try names.map { try keyring.recipient($0) }      // validated, parsed from the export
/// let keys = try SessionKeySet(recipients: recipients)              // shareable by all workers
/// let encryptor = try OpenPGPEncryptor(sessionKeys: keys)           // one per worker
/// // per file: encryptor.reset(), process(_:into:)…, finish(into:);
/// // catalog: jobKey.wrap(encryptor.sessionKeys!.sessionKey)
/// ```
///
/// RFC 9580: SEIPD v1 with PKESK v3 remains the format for v4 keys, which is what GnuPG 2.2 makes and reads.
/// v6 keys need PKESK v6 and SEIPD v2 (AEAD); they are not implemented, and ``OpenPGPPublicKey`` refuses v5 and
/// v6 keys, so this writer never meets them.
public final class OpenPGPEncryptor: ByteTransform {
    private enum State {
        /// Nothing written yet: the PKESKs and the prefix are written by the first process or finish.
        case idle
        case open
        case finished
        case failed
    }

    private let recipients: [OpenPGPRecipient]
    private let reusedKeys: SessionKeySet?
    /// The keys of the current (or just finished) message; nil before the first message starts in per-message
    /// mode.
    public private(set) var sessionKeys: SessionKeySet?

    private let chunkExponent: Int
    private let chunkSize: Int
    private let cipher: OpenSSL.CFB
    private let mdc: Digester
    private var state = State.idle
    /// Literal packet body not yet framed: starts with the 6-octet literal header, then data. At most one chunk.
    private var literal: [UInt8] = []
    private var literalFramed = false
    /// SEIPD body (version octet, then ciphertext) not yet framed. At most one chunk.
    private var pending: [UInt8] = []
    private var seipdFramed = false

    /// An encryptor that makes a new session key and PKESKs (one per recipient) for every message.
    public convenience init(recipients: [OpenPGPRecipient], chunkExponent: Int = 16) throws {
        guard !recipients.isEmpty else { throw OpenPGPError(.misuse, "a message needs at least one recipient") }
        try self.init(recipients: recipients, reusedKeys: nil, chunkExponent: chunkExponent)
    }

    /// An encryptor that uses `sessionKeys` for every message.
    public convenience init(sessionKeys: SessionKeySet, chunkExponent: Int = 16) throws {
        try self.init(recipients: [], reusedKeys: sessionKeys, chunkExponent: chunkExponent)
    }

    /// `chunkExponent` sets the partial-length chunk, 2^9 (512, the smallest first chunk RFC 4880 4.2.2.4
    /// allows) to 2^30.
    private init(recipients: [OpenPGPRecipient], reusedKeys: SessionKeySet?, chunkExponent: Int) throws {
        guard (9...30).contains(chunkExponent) else {
            throw OpenPGPError(.misuse, "chunk exponent \(chunkExponent) is outside 9...30")
        }
        self.recipients = recipients
        self.reusedKeys = reusedKeys
        mdc = try Digester(.sha1)
        sessionKeys = reusedKeys
        self.chunkExponent = chunkExponent
        chunkSize = 1 << chunkExponent
        cipher = try OpenSSL.CFB(encrypt: true)
    }

    /// Encrypts a whole buffer into one message.
    public static func encrypt(_ data: [UInt8], sessionKeys: SessionKeySet) throws -> [UInt8] {
        let encryptor = try OpenPGPEncryptor(sessionKeys: sessionKeys)
        var output: [UInt8] = []
        try data.withUnsafeBytes { try encryptor.process($0, into: &output) }
        try encryptor.finish(into: &output)
        return output
    }

    /// Forgets the message in progress (if any) and prepares the next one.
    public func reset() {
        state = .idle
    }

    public func process(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) throws {
        try begin(into: &output)
        do {
            var rest = input
            // Frame a full chunk only when more octets follow it, so the last part is never empty.
            while literal.count + rest.count > chunkSize {
                if !literalFramed {
                    try emit([0xC0 | UInt8(OpenPGPPacket.Tag.literalData)], into: &output)
                    literalFramed = true
                }
                try emit([OpenPGPPacket.partialLengthOctet(exponent: chunkExponent)], into: &output)
                let fromInput = chunkSize - literal.count
                try emit(literal, into: &output)
                literal.removeAll(keepingCapacity: true)
                try emit(UnsafeRawBufferPointer(rebasing: rest.prefix(fromInput)), into: &output)
                rest = UnsafeRawBufferPointer(rebasing: rest.dropFirst(fromInput))
            }
            literal.append(contentsOf: rest)
        } catch {
            state = .failed
            throw error
        }
    }

    public func finish(into output: inout [UInt8]) throws {
        try begin(into: &output)
        do {
            var header: [UInt8] = []
            if !literalFramed { header.append(0xC0 | UInt8(OpenPGPPacket.Tag.literalData)) }
            OpenPGPPacket.appendLength(literal.count, to: &header)
            try emit(header, into: &output)
            try emit(literal, into: &output)
            try emit([0xC0 | UInt8(OpenPGPPacket.Tag.modificationDetectionCode), 20], into: &output)
            try emit(mdc.finalize(), hashed: false, into: &output)
            if !seipdFramed { output.append(0xC0 | UInt8(OpenPGPPacket.Tag.symmetricallyEncryptedIntegrityProtectedData)) }
            OpenPGPPacket.appendLength(pending.count, to: &output)
            output += pending
            pending.removeAll(keepingCapacity: true)
            literal.removeAll(keepingCapacity: true)
            state = .finished
        } catch {
            state = .failed
            throw error
        }
    }

    /// Starts a message on first use: keys, PKESKs, cipher, and the encrypted random prefix.
    private func begin(into output: inout [UInt8]) throws {
        switch state {
        case .open: return
        case .finished: throw OpenPGPError(.misuse, "encryptor used after finish (call reset() for a new message)")
        case .failed: throw OpenPGPError(.misuse, "encryptor used after an earlier error")
        case .idle: break
        }
        do {
            let keys = try reusedKeys ?? SessionKeySet(recipients: recipients)
            sessionKeys = keys
            output += keys.keyPackets
            try cipher.start(key: keys.sessionKey.bytes)
            mdc.reset()
            literal.removeAll(keepingCapacity: true)
            literal.reserveCapacity(min(chunkSize, 1 << 16))
            literal += [0x62, 0, 0, 0, 0, 0]  // 'b', no file name, date 0
            literalFramed = false
            pending.removeAll(keepingCapacity: true)
            pending.reserveCapacity(min(chunkSize, 1 << 16))
            pending.append(1)  // SEIPD version 1
            seipdFramed = false
            state = .open
            var prefix = [UInt8](repeating: 0, count: 18)
            try prefix.withUnsafeMutableBytes { try OpenSSL.fillRandom(UnsafeMutableRawBufferPointer(rebasing: $0[..<16])) }
            prefix[16] = prefix[14]
            prefix[17] = prefix[15]
            try emit(prefix, into: &output)
        } catch {
            state = .failed
            throw error
        }
    }

    private func emit(_ bytes: [UInt8], hashed: Bool = true, into output: inout [UInt8]) throws {
        try bytes.withUnsafeBytes { try emit($0, hashed: hashed, into: &output) }
    }

    /// Adds plaintext of the SEIPD body: into the MDC (when `hashed`), encrypted into ``pending``; a full chunk
    /// of ``pending`` goes out as a partial body as soon as more octets arrive.
    private func emit(_ bytes: UnsafeRawBufferPointer, hashed: Bool = true, into output: inout [UInt8]) throws {
        if hashed { mdc.update(bytes) }
        var rest = bytes
        while !rest.isEmpty {
            if pending.count == chunkSize {
                if !seipdFramed {
                    output.append(0xC0 | UInt8(OpenPGPPacket.Tag.symmetricallyEncryptedIntegrityProtectedData))
                    seipdFramed = true
                }
                output.append(OpenPGPPacket.partialLengthOctet(exponent: chunkExponent))
                output += pending
                pending.removeAll(keepingCapacity: true)
            }
            let take = min(chunkSize - pending.count, rest.count)
            try cipher.update(UnsafeRawBufferPointer(rebasing: rest.prefix(take)), appendingTo: &pending)
            rest = UnsafeRawBufferPointer(rebasing: rest.dropFirst(take))
        }
    }
}

@available(*, unavailable)
extension OpenPGPEncryptor: Sendable {}
