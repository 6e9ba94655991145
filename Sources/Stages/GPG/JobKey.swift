/// A random 32-byte key of one backup job under which the job's session keys are stored in the catalog, so a
/// restore needs one private-key operation (decrypting the job key, see ``GPGKeyring/decrypt(_:passphraseFile:)``)
/// instead of one per file.
///
/// Wrapping is AES-256 key wrap, RFC 3394 (the variant without padding: a session key is 32 octets, a multiple of
/// 8). Chosen over AES-256-GCM because it is deterministic and needs no nonce (no nonce reuse can happen however
/// many keys a job wraps), it is the construction OpenPGP itself uses for ECDH (RFC 6637), and its 64-bit
/// integrity check makes a wrong job key or a changed catalog value an error instead of a wrong session key. A
/// wrapped session key is 40 octets. The same session key wrapped twice gives the same bytes, which shows only
/// what the catalog shows anyway (which files share a reused ``SessionKeySet``).
public struct JobKey: Sendable, CustomStringConvertible {
    /// The 32 key octets. Store them only encrypted (as an OpenPGP message to the job's recipients).
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) throws {
        guard bytes.count == 32 else { throw OpenPGPError(.malformed, "a job key has 32 bytes, not \(bytes.count)") }
        self.bytes = bytes
    }

    /// A fresh key from OpenSSL's CSPRNG.
    public static func random() throws -> JobKey {
        try JobKey(bytes: OpenSSL.randomBytes(32))
    }

    /// `sessionKey` wrapped under this key: 40 octets.
    public func wrap(_ sessionKey: OpenPGPSessionKey) throws -> [UInt8] {
        try OpenSSL.keyWrap(kek: bytes, sessionKey.bytes)
    }

    /// The session key in `wrapped`; throws ``OpenPGPError/Kind/integrity`` when the job key is wrong or the
    /// bytes were changed.
    public func unwrap(_ wrapped: [UInt8]) throws -> OpenPGPSessionKey {
        guard wrapped.count == 40 else {
            throw OpenPGPError(.malformed, "a wrapped session key has 40 bytes, not \(wrapped.count)")
        }
        guard let key = try OpenSSL.keyUnwrap(kek: bytes, wrapped) else {
            throw OpenPGPError(.integrity, "the wrapped session key does not unwrap: wrong job key or changed bytes")
        }
        return try OpenPGPSessionKey(bytes: key)
    }

    public var description: String { "JobKey(hidden)" }
}
