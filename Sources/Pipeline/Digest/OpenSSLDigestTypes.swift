internal import CLibcrypto

/// The OpenSSL `EVP_MD` objects, each fetched once per process on first use.
///
/// OpenSSL 3 performs an implicit provider fetch on every `EVP_DigestInit_ex` that is given a legacy
/// `EVP_sha256()`-style object (about 0.7 µs per call on the reference machine); an explicitly fetched
/// object skips that. Fetched objects are immutable and may be shared by all threads.
enum OpenSSLDigestTypes {
    /// An `EVP_MD *` that is never freed.
    struct Handle: @unchecked Sendable {
        let pointer: OpaquePointer
    }

    // Static stored properties are initialised lazily and exactly once (thread-safe).
    static let md5 = fetch("MD5", .md5)
    static let sha1 = fetch("SHA1", .sha1)
    static let sha256 = fetch("SHA256", .sha256)
    static let sha512 = fetch("SHA512", .sha512)
    static let blake2b512 = fetch("BLAKE2B-512", .blake2b512)

    /// The fetched digest for `algorithm` or why OpenSSL refused it (the refusal is kept too: it does not change
    /// while the process runs); nil for algorithms that are not OpenSSL's.
    static func handle(for algorithm: DigestAlgorithm) -> Result<Handle, DigestError>? {
        switch algorithm {
        case .md5: return md5
        case .sha1: return sha1
        case .sha256: return sha256
        case .sha512: return sha512
        case .blake2b512: return blake2b512
        case .xxh128: return nil
        }
    }

    /// `EVP_MD_fetch` fails when no loaded provider offers the digest: MD5 in FIPS mode, anything in a libcrypto
    /// configured without the default provider.
    private static func fetch(_ name: String, _ algorithm: DigestAlgorithm) -> Result<Handle, DigestError> {
        guard let pointer = EVP_MD_fetch(nil, name, nil) else {
            return .failure(DigestError(algorithm: algorithm, reason: failure("EVP_MD_fetch(\(name))")))
        }
        return .success(Handle(pointer: pointer))
    }

    /// The one place that turns OpenSSL's error queue into text: `operation` followed by every queued error
    /// (the queue is emptied).
    static func failure(_ operation: String) -> String {
        var message = "OpenSSL: \(operation) failed"
        while case let code = ERR_get_error(), code != 0 {
            message += withUnsafeTemporaryAllocation(of: CChar.self, capacity: 256) { buffer in
                ERR_error_string_n(code, buffer.baseAddress, buffer.count)
                return ": " + String(cString: buffer.baseAddress!)
            }
        }
        return message
    }
}
