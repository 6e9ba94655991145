/// A message digest algorithm accepted by a FileSet's `Signature =` option.
///
/// The raw values are the spellings used in Bareos configuration files and in listings.
public enum DigestAlgorithm: String, Sendable, CaseIterable {
    case md5 = "MD5"
    case sha1 = "SHA1"
    case sha256 = "SHA256"
    case sha512 = "SHA512"
    /// XXH3 128-bit (xxHash 0.8), not a cryptographic hash.
    case xxh128 = "XXH128"
    /// BLAKE2b with a 512-bit digest (OpenSSL's `BLAKE2B-512`, `b2sum`'s default). Not a Bareos `Signature =`
    /// value: stages such as `checksum` offer it.
    case blake2b512 = "BLAKE2B-512"

    /// Length of the digest in bytes: 16, 20, 32, 64, 16 and 64.
    public var length: Int {
        switch self {
        case .md5: return 16
        case .sha1: return 20
        case .sha256: return 32
        case .sha512: return 64
        case .xxh128: return 16
        case .blake2b512: return 64
        }
    }
}
