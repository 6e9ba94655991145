import Pipeline

#if canImport(Glibc)
import Glibc
#endif

/// One recipient's encryption key, ready to encrypt session keys into PKESK packets (RFC 4880 5.1).
///
/// Supported: RSA (algorithms 1 and 2, RSAES-PKCS1-v1_5) and ECDH on Curve25519 (algorithm 18, RFC 6637 with
/// the cv25519 OID of RFC 4880bis / RFC 9580 11.5). Immutable and shareable between threads.
public final class OpenPGPRecipient: Sendable {
    /// The public-key algorithm of a recipient key.
    public enum Algorithm: Sendable, Equatable {
        /// RSA with a modulus of `bits` bits.
        case rsa(bits: Int)
        /// ECDH on Curve25519; `kdfHash` and `kekCipher` are the OpenPGP IDs from the key's KDF parameters
        /// (8 SHA-256, 10 SHA-512; 7, 8, 9 AES-128/192/256).
        case ecdhCurve25519(kdfHash: UInt8, kekCipher: UInt8)
    }

    /// The OID of Curve25519 for ECDH, 1.3.6.1.4.1.3029.1.5.1, as stored in key packets (without tag and length).
    static let curve25519OID: [UInt8] = [0x2B, 0x06, 0x01, 0x04, 0x01, 0x97, 0x55, 0x01, 0x05, 0x01]

    /// The fingerprint of the encryption key itself (usually a subkey).
    public let fingerprint: [UInt8]
    /// The key ID written into PKESKs: the low 64 bits of ``fingerprint``.
    public let keyID: OpenPGPKeyID
    /// The fingerprint of the certificate's primary key.
    public let primaryFingerprint: [UInt8]
    /// The fingerprint and first user ID, for messages.
    public let name: String
    public let algorithm: Algorithm
    /// The OpenPGP algorithm ID written into PKESKs (1, 2 or 18).
    private let algorithmID: UInt8
    private let publicKey: OpenSSL.PublicKey
    /// ECDH only: the KDF parameter block of RFC 6637 section 8 (everything after `Z`).
    private let kdfParameters: [UInt8]

    init(key: OpenPGPPublicKey.Key, primaryFingerprint: [UInt8], name: String) throws {
        fingerprint = key.fingerprint
        keyID = key.keyID
        self.primaryFingerprint = primaryFingerprint
        self.name = name
        algorithmID = UInt8(key.algorithm)
        var reader = ByteReader(key.body[...])
        _ = try reader.take(6)  // version, creation time, algorithm
        switch key.algorithm {
        case 1, 2:
            let modulus = try reader.mpi()
            let exponent = try reader.mpi()
            guard modulus.count >= 128 else {
                throw OpenPGPError.unsupported("RSA keys below 1024 bits (\(name))")
            }
            algorithm = .rsa(bits: modulus.count * 8 - (modulus.first ?? 0).leadingZeroBitCount)
            publicKey = try OpenSSL.PublicKey.rsa(modulus: modulus, exponent: exponent)
            kdfParameters = []
        case 18:
            let oidLength = Int(try reader.byte())
            guard oidLength != 0, oidLength != 0xFF else { throw OpenPGPError.malformed("ECDH key with a reserved OID length") }
            let oid = Array(try reader.take(oidLength))
            guard oid == Self.curve25519OID else {
                throw OpenPGPError.unsupported("ECDH on curve \(Self.curveName(oid)) is not supported yet (\(name))")
            }
            let point = try reader.mpi()
            guard point.count == 33, point[0] == 0x40 else {
                throw OpenPGPError.malformed("Curve25519 point is not 0x40 followed by 32 bytes (\(name))")
            }
            let kdfLength = try reader.byte()
            let reserved = try reader.byte()
            let hash = try reader.byte()
            let cipher = try reader.byte()
            guard kdfLength == 3, reserved == 1 else {
                throw OpenPGPError.unsupported("ECDH KDF parameters of version \(reserved) (\(name))")
            }
            guard hash == 8 || hash == 10 else {
                throw OpenPGPError.unsupported("ECDH KDF hash algorithm \(hash) is not supported yet (\(name))")
            }
            guard (7...9).contains(cipher) else {
                throw OpenPGPError.unsupported("ECDH key wrap algorithm \(cipher) is not supported yet (\(name))")
            }
            algorithm = .ecdhCurve25519(kdfHash: hash, kekCipher: cipher)
            publicKey = try OpenSSL.PublicKey.x25519(Array(point.dropFirst()))
            // RFC 6637 8: curve OID (with its length), algorithm ID, the KDF parameters as stored in the key,
            // "Anonymous Sender    ", and the recipient key's 20-octet fingerprint.
            var parameters = [UInt8(oidLength)] + oid + [18, 3, 1, hash, cipher]
            parameters += Array("Anonymous Sender    ".utf8)
            parameters += key.fingerprint
            kdfParameters = parameters
        default:
            throw OpenPGPError.unsupported(
                "public-key algorithm \(Self.algorithmName(key.algorithm)) is not supported yet for encryption (\(name))")
        }
    }

    /// Encrypts a session key for this recipient: a complete v3 PKESK packet (header included).
    ///
    /// The encrypted value is `cipher algorithm ‖ key ‖ two-octet sum of the key octets` (RFC 4880 5.1).
    func sessionKeyPacket(cipherAlgorithm: UInt8, sessionKey: [UInt8]) throws -> [UInt8] {
        let checksum = sessionKey.reduce(0) { ($0 + Int($1)) & 0xFFFF }
        var message = [cipherAlgorithm] + sessionKey + [UInt8(checksum >> 8), UInt8(checksum & 0xFF)]
        defer { zeroize(&message) }
        var body: [UInt8] = [3] + keyID.bytes + [algorithmID]
        switch algorithm {
        case .rsa:
            OpenPGPPacket.appendMPI(try publicKey.rsaEncryptPKCS1(message), to: &body)
        case .ecdhCurve25519(let hash, let cipher):
            // RFC 6637 8 and 13: Z = X25519(ephemeral, recipient); KEK = leftmost bytes of
            // Hash(00 00 00 01 ‖ Z ‖ parameters); the message is padded PKCS#5-style to a multiple of 8 octets
            // and AES-key-wrapped (RFC 3394) under the KEK.
            var (ephemeral, shared) = try publicKey.x25519Agreement()
            defer { zeroize(&shared) }
            var kdfInput: [UInt8] = [0, 0, 0, 1] + shared + kdfParameters
            defer { zeroize(&kdfInput) }
            var kek = try Digester.digest(hash == 8 ? .sha256 : .sha512, of: kdfInput)
            kek.removeLast(kek.count - (16 + 8 * Int(cipher - 7)))
            defer { zeroize(&kek) }
            let padding = 8 - message.count % 8
            message += [UInt8](repeating: UInt8(padding), count: padding)
            let wrapped = try OpenSSL.keyWrap(kek: kek, message)
            OpenPGPPacket.appendMPI([0x40] + ephemeral, to: &body)
            body.append(UInt8(wrapped.count))
            body += wrapped
        }
        var packet: [UInt8] = []
        packet.reserveCapacity(body.count + 3)
        OpenPGPPacket.appendHeader(tag: OpenPGPPacket.Tag.publicKeyEncryptedSessionKey, length: body.count, to: &packet)
        packet += body
        return packet
    }

    /// A readable name for a public-key algorithm ID (RFC 9580 9.1).
    static func algorithmName(_ id: Int) -> String {
        let names = [
            1: "RSA", 2: "RSA (encrypt only)", 3: "RSA (sign only)", 16: "ElGamal", 17: "DSA", 18: "ECDH",
            19: "ECDSA", 22: "EdDSA (legacy)", 25: "X25519 (v6)", 26: "X448", 27: "Ed25519", 28: "Ed448",
        ]
        return names[id].map { "\($0) (\(id))" } ?? "ID \(id)"
    }

    /// A readable name for an ECC curve OID.
    static func curveName(_ oid: [UInt8]) -> String {
        let names: [[UInt8]: String] = [
            [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07]: "NIST P-256",
            [0x2B, 0x81, 0x04, 0x00, 0x22]: "NIST P-384",
            [0x2B, 0x81, 0x04, 0x00, 0x23]: "NIST P-521",
            [0x2B, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x07]: "brainpoolP256r1",
            [0x2B, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x0B]: "brainpoolP384r1",
            [0x2B, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x0D]: "brainpoolP512r1",
            [0x2B, 0x65, 0x6F]: "X448",
        ]
        return names[oid] ?? "OID " + Hex.encode(oid)
    }
}

/// Overwrites secret bytes before their memory is released (best effort: Swift may have made copies).
func zeroize(_ bytes: inout [UInt8]) {
    bytes.withUnsafeMutableBytes { buffer in
        guard let base = buffer.baseAddress else { return }
        explicit_bzero(base, buffer.count)  // glibc: a memset the compiler may not remove
    }
}

