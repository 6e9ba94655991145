internal import CLibcrypto
internal import CXXHash

/// A streaming message digest.
///
/// MD5, SHA-1, SHA-256, SHA-512 and BLAKE2b-512 are computed by OpenSSL's EVP interface with a digest object that is fetched
/// once per process; XXH128 by libxxhash's streaming XXH3 128-bit interface.
///
/// A digester is not thread-safe: give each worker its own. It is reusable: ``finalize()`` returns the digest and
/// leaves the digester ready for a new message, and ``reset()`` discards a message in progress. The C state is
/// re-initialised lazily by the next `update` or `finalize()`, so a digester that is finalised and then dropped
/// does no extra work.
public final class Digester {
    private enum State {
        /// An `EVP_MD_CTX *` and the fetched `EVP_MD *` it is initialised with.
        case evp(context: OpaquePointer, type: OpaquePointer)
        /// An `XXH3_state_t *`.
        case xxh3(OpaquePointer)
    }

    /// The algorithm this digester computes.
    public let algorithm: DigestAlgorithm
    private let state: State
    /// True when the C state must be initialised before it is used (after creation, `finalize()` or `reset()`).
    private var needsInitialization = true
    /// The first failure of the C library in the message in progress (a FIPS module that failed its self-test
    /// refuses every operation): `update` keeps going quietly, and ``finalize()`` throws it rather than return
    /// a digest of bytes that were not all hashed.
    private var failure: DigestError?

    /// Creates a digester for `algorithm`.
    ///
    /// - Throws: `DigestError` when OpenSSL does not provide the algorithm (MD5 in FIPS mode, or a libcrypto
    ///   without the default provider) or the C library cannot allocate its state.
    public init(_ algorithm: DigestAlgorithm) throws(DigestError) {
        self.algorithm = algorithm
        switch OpenSSLDigestTypes.handle(for: algorithm) {
        case .some(.success(let type)):
            guard let context = EVP_MD_CTX_new() else {
                throw DigestError(algorithm: algorithm, reason: OpenSSLDigestTypes.failure("EVP_MD_CTX_new"))
            }
            state = .evp(context: context, type: type.pointer)
        case .some(.failure(let error)):
            throw error
        case .none:
            guard let xxh = XXH3_createState() else {
                throw DigestError(algorithm: algorithm, reason: "libxxhash: XXH3_createState failed: out of memory")
            }
            state = .xxh3(xxh)
        }
    }

    /// Whether this process can compute `algorithm`, without allocating a digester: configurations check the
    /// `Signature =` they name up front, so a job never starts with a digest it cannot compute.
    /// - Throws: `DigestError` when OpenSSL does not provide it (MD5 in FIPS mode).
    static func checkAvailable(_ algorithm: DigestAlgorithm) throws(DigestError) {
        if case .failure(let error) = OpenSSLDigestTypes.handle(for: algorithm) { throw error }
    }

    deinit {
        switch state {
        case .evp(let context, _): EVP_MD_CTX_free(context)
        case .xxh3(let xxh): XXH3_freeState(xxh)
        }
    }

    /// Adds `bytes` to the message.
    public func update(_ bytes: UnsafeRawBufferPointer) {
        if needsInitialization { initialize() }
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        switch state {
        case .evp(let context, _):
            if failure == nil && EVP_DigestUpdate(context, base, bytes.count) != 1 {
                fail(OpenSSLDigestTypes.failure("EVP_DigestUpdate"))
            }
        case .xxh3(let xxh):
            check(XXH3_128bits_update(xxh, base, bytes.count), "XXH3_128bits_update")
        }
    }

    /// Adds `bytes` to the message.
    public func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// Returns the digest of the message (``DigestAlgorithm/length`` bytes) and starts a new, empty message.
    ///
    /// XXH128 is returned in its canonical form (`XXH128_canonicalFromHash`): the high 64 bits then the low
    /// 64 bits, each big-endian. That is the byte order `xxhsum -H2` prints.
    /// - Throws: `DigestError` when the C library failed at any step of this message.
    public func finalize() throws(DigestError) -> [UInt8] {
        if needsInitialization { initialize() }
        needsInitialization = true
        defer { failure = nil }
        if let failure { throw failure }
        let length = algorithm.length
        switch state {
        case .evp(let context, _):
            var written: UInt32 = 0
            let digest = [UInt8](unsafeUninitializedCapacity: length) { buffer, count in
                if EVP_DigestFinal_ex(context, buffer.baseAddress, &written) == 1 && Int(written) == length {
                    count = length
                }
            }
            guard digest.count == length else {
                throw DigestError(algorithm: algorithm, reason: OpenSSLDigestTypes.failure("EVP_DigestFinal_ex"))
            }
            return digest
        case .xxh3(let xxh):
            var canonical = XXH128_canonical_t()
            XXH128_canonicalFromHash(&canonical, XXH3_128bits_digest(xxh))
            return withUnsafeBytes(of: &canonical.digest) { [UInt8]($0) }
        }
    }

    /// Discards the message in progress; the next update starts a new message.
    public func reset() {
        needsInitialization = true
        failure = nil
    }

    /// The digest of `bytes` computed by a temporary digester.
    public static func digest(_ algorithm: DigestAlgorithm, of bytes: [UInt8]) throws(DigestError) -> [UInt8] {
        let digester = try Digester(algorithm)
        digester.update(bytes)
        return try digester.finalize()
    }

    private func initialize() {
        switch state {
        case .evp(let context, let type):
            // With the same EVP_MD as before, OpenSSL 3 re-initialises the provider context in place.
            if EVP_DigestInit_ex2(context, type, nil) != 1 {
                fail(OpenSSLDigestTypes.failure("EVP_DigestInit_ex2"))
            }
        case .xxh3(let xxh):
            check(XXH3_128bits_reset(xxh), "XXH3_128bits_reset")
        }
        needsInitialization = false
    }

    /// The one place that keeps a C library failure for ``finalize()`` (the first of the message wins).
    private func fail(_ reason: String) {
        if failure == nil { failure = DigestError(algorithm: algorithm, reason: reason) }
    }

    private func check(_ code: XXH_errorcode, _ operation: StaticString) {
        if code != XXH_OK { fail("libxxhash: \(operation) failed") }
    }
}

/// A digest the process cannot compute here: OpenSSL does not provide it (FIPS mode refuses MD5) or its state
/// could not be allocated. Jobs report it as a job error naming the algorithm.
public struct DigestError: Error, Sendable, CustomStringConvertible {
    public var algorithm: DigestAlgorithm
    /// What the C library said.
    public var reason: String

    public init(algorithm: DigestAlgorithm, reason: String) {
        self.algorithm = algorithm
        self.reason = reason
    }

    public var description: String { "cannot compute \(algorithm.rawValue) digests here: \(reason)" }
}
