import Pipeline

/// An AES-256 session key (OpenPGP symmetric algorithm 9). Its description never shows the key.
public struct OpenPGPSessionKey: Sendable, Equatable, CustomStringConvertible {
    /// The OpenPGP ID of AES-256, the only message cipher used and accepted here.
    public static let aes256: UInt8 = 9

    /// The 32 key octets.
    public let bytes: [UInt8]

    /// A session key from 32 octets; throws for other lengths.
    public init(bytes: [UInt8]) throws {
        guard bytes.count == 32 else {
            throw OpenPGPError(.unsupported, "session keys of \(bytes.count) bytes: only AES-256 (32 bytes) is supported")
        }
        self.bytes = bytes
    }

    /// A fresh random key from OpenSSL's CSPRNG.
    public static func random() throws -> OpenPGPSessionKey {
        try OpenPGPSessionKey(bytes: OpenSSL.randomBytes(32))
    }

    /// Parses gpg's `--show-session-key` form, `9:HEX` (AES-256 only).
    public init(gpgText: String) throws {
        let parts = gpgText.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, parts[0] == "9", let bytes = Hex.decode(String(parts[1])) else {
            throw OpenPGPError(.unsupported, "session key \"\(gpgText.prefix(2))…\" is not an AES-256 key (9:HEX)")
        }
        try self.init(bytes: bytes)
    }

    public var description: String { "OpenPGPSessionKey(AES-256, hidden)" }
}

/// A session key together with its PKESK packets for a list of recipients, computed once.
///
/// Reusing a set for many messages skips the public-key operation per message (about 80 µs for RSA-3072 and
/// 160 µs for Curve25519 on the reference machine); each message is still complete on its own and gets its own
/// random CFB prefix. The price: whoever learns this session key (`gpg --show-session-key` on any one message)
/// can read every message of the set, and the identical PKESK bytes show which messages share it. Rotate sets
/// per job or per bounded number of messages or bytes.
public struct SessionKeySet: Sendable {
    public let sessionKey: OpenPGPSessionKey
    /// The PKESK packets, one per recipient, concatenated in recipient order: the head of every message.
    public let keyPackets: [UInt8]
    /// The recipients' key IDs, in order.
    public let recipientKeyIDs: [OpenPGPKeyID]

    /// A new random session key encrypted to each of `recipients`.
    public init(recipients: [OpenPGPRecipient]) throws {
        try self.init(sessionKey: .random(), recipients: recipients)
    }

    /// `sessionKey` encrypted to each of `recipients`.
    public init(sessionKey: OpenPGPSessionKey, recipients: [OpenPGPRecipient]) throws {
        guard !recipients.isEmpty else { throw OpenPGPError(.misuse, "a message needs at least one recipient") }
        self.sessionKey = sessionKey
        var packets: [UInt8] = []
        for recipient in recipients {
            packets += try recipient.sessionKeyPacket(
                cipherAlgorithm: OpenPGPSessionKey.aes256, sessionKey: sessionKey.bytes)
        }
        keyPackets = packets
        recipientKeyIDs = recipients.map(\.keyID)
    }
}
