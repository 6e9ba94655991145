internal import CLibcrypto

/// Every libcrypto call of the OpenPGP code: random bytes, AES-CFB, AES key wrap, RSA PKCS#1 v1.5 encryption and
/// X25519. The rest of the folder sees only Swift types and never a C pointer.
///
/// OpenSSL failures become an ``OpenPGPError`` in one place, ``OpenSSL/failure(_:)``, which empties OpenSSL's
/// per-thread error queue into the message.
enum OpenSSL {
    /// An `EVP_CIPHER *` fetched once per process and never freed; immutable, so it may be shared by all threads.
    struct Cipher: @unchecked Sendable {
        let pointer: OpaquePointer
        let name: String
    }

    // Static stored properties are initialised lazily, exactly once, thread-safely. A cipher this OpenSSL does
    // not provide (a FIPS configuration without AES-CFB, say) is an error of every operation that needs it, not a
    // crash.
    static let aes256CFB = fetchCipher("AES-256-CFB")
    static let aes128Wrap = fetchCipher("AES-128-WRAP")
    static let aes192Wrap = fetchCipher("AES-192-WRAP")
    static let aes256Wrap = fetchCipher("AES-256-WRAP")

    private static func fetchCipher(_ name: String) -> Result<Cipher, OpenPGPError> {
        guard let pointer = EVP_CIPHER_fetch(nil, name, nil) else {
            return .failure(failure("EVP_CIPHER_fetch(\(name))"))
        }
        return .success(Cipher(pointer: pointer, name: name))
    }

    /// The one conversion of OpenSSL's error queue: `operation` and every queued error, as a ``OpenPGPError``.
    static func failure(_ operation: String) -> OpenPGPError {
        var text = "OpenSSL \(operation) failed"
        while case let code = ERR_get_error(), code != 0 {
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            text += ": " + String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        return OpenPGPError(.crypto, text)
    }

    // MARK: - Random bytes

    /// Fills `buffer` from OpenSSL's CSPRNG (seeded from the OS, `getrandom`).
    static func fillRandom(_ buffer: UnsafeMutableRawBufferPointer) throws {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        guard RAND_bytes(base.assumingMemoryBound(to: UInt8.self), Int32(buffer.count)) == 1 else {
            throw failure("RAND_bytes")
        }
    }

    /// `count` bytes from OpenSSL's CSPRNG.
    static func randomBytes(_ count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        try bytes.withUnsafeMutableBytes { try fillRandom($0) }
        return bytes
    }

    // MARK: - AES key wrap (RFC 3394)

    private static func wrapCipher(keyLength: Int) throws -> Cipher {
        switch keyLength {
        case 16: return try aes128Wrap.get()
        case 24: return try aes192Wrap.get()
        case 32: return try aes256Wrap.get()
        default: throw OpenPGPError(.misuse, "AES key wrap needs a 16, 24 or 32 byte key, not \(keyLength)")
        }
    }

    /// RFC 3394 AES key wrap of `plaintext` (a multiple of 8 bytes, at least 16) under `kek`, with the default IV
    /// A6A6A6A6A6A6A6A6; the result is 8 bytes longer.
    static func keyWrap(kek: [UInt8], _ plaintext: [UInt8]) throws -> [UInt8] {
        try keyWrapOperation(kek: kek, plaintext, encrypt: true)
    }

    /// The inverse of ``keyWrap(kek:_:)``; nil when the integrity check fails (wrong key or changed bytes).
    static func keyUnwrap(kek: [UInt8], _ wrapped: [UInt8]) throws -> [UInt8]? {
        do {
            return try keyWrapOperation(kek: kek, wrapped, encrypt: false)
        } catch let error as OpenPGPError where error.kind == .crypto {
            return nil
        }
    }

    private static func keyWrapOperation(kek: [UInt8], _ input: [UInt8], encrypt: Bool) throws
        -> [UInt8]
    {
        let cipher = try wrapCipher(keyLength: kek.count)
        guard input.count % 8 == 0, input.count >= (encrypt ? 16 : 24) else {
            throw OpenPGPError(.malformed, "AES key wrap input of \(input.count) bytes is not a whole number of 8-byte blocks")
        }
        guard let context = EVP_CIPHER_CTX_new() else { throw failure("EVP_CIPHER_CTX_new") }
        defer { EVP_CIPHER_CTX_free(context) }
        EVP_CIPHER_CTX_set_flags(context, clibcrypto_cipher_wrap_allow())
        guard EVP_CipherInit_ex2(context, cipher.pointer, kek, nil, encrypt ? 1 : 0, nil) == 1 else {
            throw failure("EVP_CipherInit_ex2(\(cipher.name))")
        }
        var output = [UInt8](repeating: 0, count: input.count + 16)
        var written: Int32 = 0
        var final: Int32 = 0
        guard EVP_CipherUpdate(context, &output, &written, input, Int32(input.count)) == 1,
            output.withUnsafeMutableBufferPointer({
                EVP_CipherFinal_ex(context, $0.baseAddress! + Int(written), &final)
            }) == 1
        else {
            throw failure(encrypt ? "AES key wrap" : "AES key unwrap")
        }
        output.removeLast(output.count - Int(written + final))
        return output
    }

    // MARK: - Public keys

    /// An `EVP_PKEY *` holding a public key, owned. OpenSSL allows concurrent use of one key by several
    /// `EVP_PKEY_CTX`s, and the key is never changed after creation, hence `@unchecked Sendable`.
    final class PublicKey: @unchecked Sendable {
        fileprivate let pointer: OpaquePointer

        fileprivate init(_ pointer: OpaquePointer) {
            self.pointer = pointer
        }

        deinit {
            EVP_PKEY_free(pointer)
        }

        /// An RSA public key from its big-endian modulus and exponent.
        static func rsa(modulus: [UInt8], exponent: [UInt8]) throws -> PublicKey {
            guard let builder = OSSL_PARAM_BLD_new() else { throw failure("OSSL_PARAM_BLD_new") }
            defer { OSSL_PARAM_BLD_free(builder) }
            let n = BN_bin2bn(modulus, Int32(modulus.count), nil)
            let e = BN_bin2bn(exponent, Int32(exponent.count), nil)
            defer {
                BN_free(n)
                BN_free(e)
            }
            guard n != nil, e != nil,
                OSSL_PARAM_BLD_push_BN(builder, clibcrypto_param_rsa_n(), n) == 1,
                OSSL_PARAM_BLD_push_BN(builder, clibcrypto_param_rsa_e(), e) == 1,
                let parameters = OSSL_PARAM_BLD_to_param(builder)
            else { throw failure("building RSA key parameters") }
            defer { OSSL_PARAM_free(parameters) }
            guard let context = EVP_PKEY_CTX_new_from_name(nil, "RSA", nil) else {
                throw failure("EVP_PKEY_CTX_new_from_name(RSA)")
            }
            defer { EVP_PKEY_CTX_free(context) }
            var key: OpaquePointer?
            guard EVP_PKEY_fromdata_init(context) == 1,
                EVP_PKEY_fromdata(context, &key, clibcrypto_pkey_public_key_selection(), parameters) == 1,
                let key
            else { throw failure("EVP_PKEY_fromdata(RSA)") }
            return PublicKey(key)
        }

        /// An X25519 public key from its 32-byte u-coordinate (RFC 7748 byte order, as OpenPGP stores it).
        static func x25519(_ u: [UInt8]) throws -> PublicKey {
            guard let key = EVP_PKEY_new_raw_public_key(clibcrypto_pkey_x25519(), nil, u, u.count) else {
                throw failure("EVP_PKEY_new_raw_public_key(X25519)")
            }
            return PublicKey(key)
        }

        /// RSAES-PKCS1-v1_5 encryption of `message` (RFC 8017 7.2); the result has the modulus' length.
        func rsaEncryptPKCS1(_ message: [UInt8]) throws -> [UInt8] {
            guard let context = EVP_PKEY_CTX_new(pointer, nil) else { throw failure("EVP_PKEY_CTX_new") }
            defer { EVP_PKEY_CTX_free(context) }
            guard EVP_PKEY_encrypt_init(context) == 1,
                EVP_PKEY_CTX_set_rsa_padding(context, clibcrypto_rsa_pkcs1_padding()) == 1
            else { throw failure("EVP_PKEY_encrypt_init(RSA)") }
            var length = 0
            guard EVP_PKEY_encrypt(context, nil, &length, message, message.count) == 1 else {
                throw failure("EVP_PKEY_encrypt(RSA) size")
            }
            var output = [UInt8](repeating: 0, count: length)
            guard EVP_PKEY_encrypt(context, &output, &length, message, message.count) == 1 else {
                throw failure("EVP_PKEY_encrypt(RSA)")
            }
            output.removeLast(output.count - length)
            return output
        }

        /// One X25519 key agreement with a fresh ephemeral key: returns the ephemeral public u-coordinate and
        /// the 32-byte shared secret (RFC 7748 byte order). OpenSSL refuses an all-zero shared secret (a
        /// low-order recipient point).
        ///
        /// The ephemeral private key is 32 CSPRNG octets (X25519 clamps them, RFC 7748 5), which is what
        /// `EVP_PKEY_keygen` does, without a key-generation context per call. The recipient's key is not
        /// re-validated per call (`EVP_PKEY_derive_set_peer_ex(…, 0)`): it is our own parsed, fixed public key,
        /// and the all-zero check above still applies.
        func x25519Agreement() throws -> (ephemeral: [UInt8], shared: [UInt8]) {
            var secret = [UInt8](repeating: 0, count: 32)
            defer { zeroize(&secret) }
            try secret.withUnsafeMutableBytes { try OpenSSL.fillRandom($0) }
            guard let ephemeral = EVP_PKEY_new_raw_private_key(clibcrypto_pkey_x25519(), nil, secret, 32) else {
                throw failure("EVP_PKEY_new_raw_private_key(X25519)")
            }
            defer { EVP_PKEY_free(ephemeral) }
            var publicU = [UInt8](repeating: 0, count: 32)
            var publicLength = 32
            guard EVP_PKEY_get_raw_public_key(ephemeral, &publicU, &publicLength) == 1, publicLength == 32 else {
                throw failure("EVP_PKEY_get_raw_public_key(X25519)")
            }
            guard let deriver = EVP_PKEY_CTX_new(ephemeral, nil) else { throw failure("EVP_PKEY_CTX_new") }
            defer { EVP_PKEY_CTX_free(deriver) }
            var shared = [UInt8](repeating: 0, count: 32)
            var sharedLength = 32
            guard EVP_PKEY_derive_init(deriver) == 1, EVP_PKEY_derive_set_peer_ex(deriver, pointer, 0) == 1,
                EVP_PKEY_derive(deriver, &shared, &sharedLength) == 1, sharedLength == 32
            else { throw failure("EVP_PKEY_derive(X25519)") }
            return (publicU, shared)
        }
    }

    // MARK: - AES-256 in OpenPGP's CFB mode

    /// AES-256-CFB128 with a zero IV, one direction, as SEIPD v1 uses it (RFC 4880 5.13: no resynchronisation,
    /// so OpenPGP's CFB variant is exactly standard CFB over prefix ‖ data). Streams: any split of the input
    /// gives the same output. ``start(key:)`` begins a new message and may be called again to reuse the context.
    final class CFB {
        private let context: OpaquePointer
        private let encrypting: Int32

        init(encrypt: Bool) throws {
            guard let context = EVP_CIPHER_CTX_new() else { throw OpenSSL.failure("EVP_CIPHER_CTX_new") }
            self.context = context
            encrypting = encrypt ? 1 : 0
        }

        deinit {
            EVP_CIPHER_CTX_free(context)
        }

        /// Starts a new stream under the 32-byte `key` with a zero IV.
        func start(key: [UInt8]) throws {
            precondition(key.count == 32, "AES-256 needs a 32-byte key")
            let zeroIV = [UInt8](repeating: 0, count: 16)
            guard EVP_CipherInit_ex2(context, try OpenSSL.aes256CFB.get().pointer, key, zeroIV, encrypting, nil) == 1
            else {
                throw OpenSSL.failure("EVP_CipherInit_ex2(AES-256-CFB)")
            }
        }

        /// Transforms `count` bytes at `input` into `output` (room for `count` bytes; may equal `input`).
        func update(_ input: UnsafePointer<UInt8>, _ output: UnsafeMutablePointer<UInt8>, count: Int)
            throws
        {
            var done = 0
            while done < count {
                // EVP lengths are `int`: cut very large slices.
                let slice = Int32(min(count - done, 1 << 30))
                var written: Int32 = 0
                guard EVP_CipherUpdate(context, output + done, &written, input + done, slice) == 1,
                    written == slice
                else { throw OpenSSL.failure("EVP_CipherUpdate(AES-256-CFB)") }
                done += Int(slice)
            }
        }

        /// Transforms `input`, appending the result to `output`.
        func update(_ input: UnsafeRawBufferPointer, appendingTo output: inout [UInt8]) throws {
            guard let base = input.baseAddress, input.count > 0 else { return }
            let count = input.count
            var failure: (any Error)?
            output.append(addingCapacity: count) { span in
                span.withUnsafeMutableBufferPointer { buffer, initialized in
                    do {
                        try update(base.assumingMemoryBound(to: UInt8.self), buffer.baseAddress!, count: count)
                        initialized = count
                    } catch {
                        failure = error
                    }
                }
            }
            if let failure { throw failure }
        }
    }
}
