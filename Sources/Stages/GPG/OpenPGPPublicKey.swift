import Pipeline

#if canImport(Glibc)
import Glibc
#endif

/// An OpenPGP key ID: the low 64 bits of a v4 fingerprint (RFC 4880 12.2).
public struct OpenPGPKeyID: Hashable, Sendable, CustomStringConvertible {
    public var value: UInt64

    public init(_ value: UInt64) {
        self.value = value
    }

    /// The key ID of a v4 fingerprint (its last eight octets).
    public init(fingerprint: [UInt8]) {
        value = fingerprint.suffix(8).reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// Sixteen upper-case hex digits, as gpg prints key IDs.
    public var description: String {
        let text = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: 16 - text.count) + text
    }

    /// The eight big-endian octets.
    var bytes: [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * $0)) } }
}

/// One transferable public key as `gpg --export` writes it (RFC 4880 11.1): a primary key, its user IDs and its
/// subkeys, with the facts from their self-signatures that choosing an encryption key needs.
///
/// Signatures are **not verified** here: the key comes from the user's keyring through GPGME, which has checked
/// the self-signatures, and ``GPGKeyring`` refuses keys gpg considers invalid, revoked, expired or disabled.
/// What this parser reads from signatures (key flags, expiry, subkey revocation) only chooses among the subkeys.
public struct OpenPGPPublicKey: Sendable {
    /// The primary key or one subkey.
    public struct Key: Sendable {
        /// The v4 fingerprint: SHA-1 of `0x99 ‖ two-octet length ‖ key packet body` (RFC 4880 12.2).
        public var fingerprint: [UInt8]
        public var keyID: OpenPGPKeyID { OpenPGPKeyID(fingerprint: fingerprint) }
        /// The public-key algorithm ID (1 RSA, 18 ECDH, 22 EdDSA, …).
        public var algorithm: Int
        /// Seconds since 1970 when the key was made.
        public var creationTime: UInt32
        /// Key flags (subpacket 27) from the newest self-signature or binding signature, if any.
        public var keyFlags: UInt8?
        /// Seconds after ``creationTime`` when the key expires (subpacket 9), if it does.
        public var expirationSeconds: UInt32?
        /// A revocation signature for this key was present (not verified).
        public var isRevoked = false
        /// The key packet body (for the public key material).
        var body: [UInt8]
        /// Creation time of the signature that gave ``keyFlags`` and ``expirationSeconds``.
        var signatureTime: UInt32 = 0

        /// Upper-case hex fingerprint, as gpg prints it.
        public var fingerprintHex: String { Hex.encode(fingerprint).uppercased() }

        /// Whether the key may encrypt: its key flags say "encrypt communications" or "encrypt storage"
        /// (0x04, 0x08); without flags, whether the algorithm can encrypt at all (RSA, ElGamal, ECDH).
        public var canEncrypt: Bool {
            if let keyFlags { return keyFlags & 0x0C != 0 }
            return [1, 2, 16, 18, 25, 26].contains(algorithm)
        }

        /// Whether the key has expired at `now` (seconds since 1970).
        public func isExpired(at now: UInt32) -> Bool {
            guard let expirationSeconds, expirationSeconds > 0 else { return false }
            return UInt64(creationTime) + UInt64(expirationSeconds) <= UInt64(now)
        }
    }

    public var primary: Key
    public var subkeys: [Key]
    /// The user IDs, decoded as UTF-8.
    public var userIDs: [String]

    private init(primary: Key, subkeys: [Key], userIDs: [String]) {
        self.primary = primary
        self.subkeys = subkeys
        self.userIDs = userIDs
    }

    /// Parses the first transferable public key of `exported` (binary `gpg --export` output).
    public init(exported: [UInt8]) throws {
        guard let first = try Self.parseAll(exported: exported).first else {
            throw OpenPGPError.malformed("no public key packet in the exported key")
        }
        self = first
    }

    /// Parses every transferable public key of `exported`.
    public static func parseAll(exported: [UInt8]) throws -> [OpenPGPPublicKey] {
        var keys: [OpenPGPPublicKey] = []
        // Which key the next signatures belong to: nil before any key, else the primary (-1) or a subkey index.
        var current: Int?
        for (tag, body) in try OpenPGPPacket.packets(in: exported) {
            switch tag {
            case OpenPGPPacket.Tag.publicKey:
                keys.append(OpenPGPPublicKey(primary: try parseKey(body), subkeys: [], userIDs: []))
                current = -1
            case OpenPGPPacket.Tag.publicSubkey:
                guard !keys.isEmpty else { throw OpenPGPError.malformed("a subkey before any primary key") }
                keys[keys.count - 1].subkeys.append(try parseKey(body))
                current = keys[keys.count - 1].subkeys.count - 1
            case OpenPGPPacket.Tag.userID:
                guard !keys.isEmpty else { throw OpenPGPError.malformed("a user ID before any primary key") }
                keys[keys.count - 1].userIDs.append(String(decoding: body, as: UTF8.self))
                current = -1
            case OpenPGPPacket.Tag.userAttribute:
                current = -1
            case OpenPGPPacket.Tag.signature:
                guard let index = current, !keys.isEmpty else { continue }
                try keys[keys.count - 1].apply(signature: body, to: index)
            case OpenPGPPacket.Tag.secretKey, OpenPGPPacket.Tag.secretSubkey:
                throw OpenPGPError.unsupported("secret key packets: give the public key (gpg --export)")
            default:
                continue  // trust, marker and unknown packets carry nothing needed here
            }
        }
        return keys
    }

    /// Parses a v4 key packet body: version, creation time, algorithm (the material is read later, for the one
    /// key that is used).
    private static func parseKey(_ body: [UInt8]) throws -> Key {
        var reader = ByteReader(body[...])
        let version = try reader.byte()
        guard version == 4 else {
            throw OpenPGPError.unsupported("version \(version) keys are not supported yet (only v4)")
        }
        let created = try reader.uint32()
        let algorithm = Int(try reader.byte())
        guard body.count <= 0xFFFF else { throw OpenPGPError.malformed("a v4 key packet longer than 65535 bytes") }
        var hashed: [UInt8] = [0x99, UInt8(body.count >> 8), UInt8(body.count & 0xFF)]
        hashed += body
        return Key(
            fingerprint: try Digester.digest(.sha1, of: hashed), algorithm: algorithm, creationTime: created, body: body)
    }

    /// Applies what a signature packet says about the primary key (`index` -1) or a subkey. Only self-signatures
    /// count: those naming the primary key as issuer, or naming no issuer.
    private mutating func apply(signature body: [UInt8], to index: Int) throws {
        guard let signature = try Self.SignatureFacts(body) else { return }
        if let issuer = signature.issuer, issuer != primary.keyID { return }
        func update(_ key: inout Key) {
            guard signature.created >= key.signatureTime else { return }
            key.signatureTime = signature.created
            key.keyFlags = signature.keyFlags ?? key.keyFlags
            key.expirationSeconds = signature.keyExpiration
        }
        switch (signature.type, index) {
        case (0x10...0x13, -1), (0x1F, -1): update(&primary)
        case (0x18, 0...): update(&subkeys[index])
        case (0x20, _): primary.isRevoked = true
        case (0x28, 0...): subkeys[index].isRevoked = true
        default: break
        }
    }

    /// The fields of a v4 signature packet this parser uses.
    private struct SignatureFacts {
        var type: UInt8
        var created: UInt32 = 0
        var issuer: OpenPGPKeyID?
        var keyFlags: UInt8?
        var keyExpiration: UInt32?

        /// Nil for signature versions other than 4 (they are ignored).
        init?(_ body: [UInt8]) throws {
            var reader = ByteReader(body[...])
            guard try reader.byte() == 4 else { return nil }
            type = try reader.byte()
            _ = try reader.byte()  // public-key algorithm
            _ = try reader.byte()  // hash algorithm
            let hashed = try reader.take(Int(try reader.uint16()))
            let unhashed = try reader.take(Int(try reader.uint16()))
            // Hashed subpackets are the ones a signature vouches for; the issuer is often unhashed.
            try read(hashed, trusted: true)
            try read(unhashed, trusted: false)
        }

        private mutating func read(_ area: ArraySlice<UInt8>, trusted: Bool) throws {
            var reader = ByteReader(area)
            while !reader.isAtEnd {
                let first = Int(try reader.byte())
                let length: Int
                switch first {
                case ..<192: length = first
                case ..<255: length = (first - 192) << 8 + Int(try reader.byte()) + 192
                default: length = Int(try reader.uint32())
                }
                guard length >= 1 else { throw OpenPGPError.malformed("an empty signature subpacket") }
                let type = try reader.byte() & 0x7F
                var data = ByteReader(try reader.take(length - 1))
                switch type {
                case 2 where trusted: created = try data.uint32()
                case 9 where trusted: keyExpiration = try data.uint32()
                case 27 where trusted: keyFlags = data.isAtEnd ? 0 : try data.byte()
                case 16: issuer = OpenPGPKeyID(fingerprint: Array(try data.take(8)))
                case 33:
                    if try data.byte() == 4 { issuer = OpenPGPKeyID(fingerprint: Array(try data.take(20))) }
                default: break
                }
            }
        }
    }

    /// The encryption key of this certificate, ready to encrypt session keys.
    ///
    /// With `subkeyFingerprint` (hex, any case) that key is used; otherwise the newest key (subkeys before the
    /// primary) that may encrypt and is neither revoked nor expired at `now`. Throws a clear error when there is
    /// none, or when its algorithm is not supported yet.
    public func encryptionRecipient(subkeyFingerprint: String? = nil, now: UInt32? = nil) throws
        -> OpenPGPRecipient
    {
        let time = now ?? UInt32(truncatingIfNeeded: time(nil))
        let name = userIDs.first.map { "\(primary.fingerprintHex) (\($0))" } ?? primary.fingerprintHex
        let chosen: Key
        if let wanted = subkeyFingerprint?.uppercased() {
            guard let key = ([primary] + subkeys).first(where: { $0.fingerprintHex == wanted }) else {
                throw OpenPGPError.malformed("key \(name) has no key with fingerprint \(wanted)")
            }
            chosen = key
        } else {
            let usable = (subkeys + [primary]).filter { $0.canEncrypt && !$0.isRevoked && !$0.isExpired(at: time) }
            guard let newest = usable.max(by: { $0.creationTime < $1.creationTime }) else {
                throw OpenPGPError(.unsupported, "key \(name) has no usable encryption subkey")
            }
            chosen = newest
        }
        return try OpenPGPRecipient(key: chosen, primaryFingerprint: primary.fingerprint, name: name)
    }
}
