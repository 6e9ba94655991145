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
    static let md5 = fetch("MD5")
    static let sha1 = fetch("SHA1")
    static let sha256 = fetch("SHA256")
    static let sha512 = fetch("SHA512")
    static let blake2b512 = fetch("BLAKE2B-512")

    /// The fetched digest for `algorithm`, or nil for algorithms that OpenSSL does not provide here.
    static func handle(for algorithm: DigestAlgorithm) -> Handle? {
        switch algorithm {
        case .md5: return md5
        case .sha1: return sha1
        case .sha256: return sha256
        case .sha512: return sha512
        case .blake2b512: return blake2b512
        case .xxh128: return nil
        }
    }

    private static func fetch(_ name: String) -> Handle {
        guard let pointer = EVP_MD_fetch(nil, name, nil) else {
            fatalError(failure("EVP_MD_fetch(\(name))"))
        }
        return Handle(pointer: pointer)
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
