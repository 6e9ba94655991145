internal import CGPGME
import Pipeline

#if canImport(Glibc)
import Glibc
#endif

/// A failure of keyring work through GPGME: a recipient that cannot be used (missing, ambiguous, expired,
/// revoked, disabled, invalid, without an encryption subkey), or a GPGME/gpg error (``Reason/gpgme(code:source:)``).
///
/// GPGME error values become a `GPGError` in one place, ``GPGKeyring/check(_:_:)``.
public struct GPGError: Error, Sendable, CustomStringConvertible {
    public enum Reason: Sendable, Equatable {
        /// No key in the keyring matches the recipient.
        case notFound
        /// Several usable keys match an e-mail address: name the key by fingerprint.
        case ambiguous
        case expired
        case revoked
        case disabled
        /// gpg marks the key invalid (e.g. a broken self-signature).
        case invalid
        /// The key has no subkey that may encrypt and is usable.
        case noEncryptionKey
        /// A GPGME or gpg failure: gpg-error code and source.
        case gpgme(code: UInt32, source: UInt32)
    }

    public var reason: Reason
    /// The recipient as configured (fingerprint or e-mail), when the error is about one.
    public var recipient: String?
    public var message: String

    public init(_ reason: Reason, recipient: String? = nil, _ message: String) {
        self.reason = reason
        self.recipient = recipient
        self.message = message
    }

    public var description: String {
        if let recipient { return "gpg recipient \(recipient): \(message)" }
        return "gpg: \(message)"
    }
}

/// A recipient's certificate found and validated in a keyring.
public struct GPGRecipientKey: Sendable {
    /// The name it was looked up by.
    public var query: String
    /// Upper-case hex fingerprint of the primary key.
    public var fingerprint: String
    /// The first user ID.
    public var userID: String
    /// The fingerprints of the subkeys gpg considers usable for encryption, newest first.
    public var encryptionSubkeys: [String]
    /// The public key as `gpg --export` writes it (binary).
    public var exported: [UInt8]

    /// The encryption key to put into messages: the newest subkey that gpg considers usable, parsed from
    /// ``exported``.
    public func recipient() throws -> OpenPGPRecipient {
        let key = try OpenPGPPublicKey(exported: exported)
        guard let subkey = encryptionSubkeys.first else {
            throw GPGError(.noEncryptionKey, recipient: query, "key \(fingerprint) has no usable encryption subkey")
        }
        return try key.encryptionRecipient(subkeyFingerprint: subkey)
    }
}

/// A GnuPG keyring reached through GPGME: finds and validates recipients, exports public keys, and decrypts
/// small messages (a job key) with the user's secret key.
///
/// Every GPGME operation runs a gpg process (about 10 ms), so this is for job start and restore start, never per
/// file. One context per keyring object; not thread-safe.
///
/// Trust: recipients are named explicitly in the configuration (fingerprint or e-mail), so, like
/// `gpg --trust-model always`, the web-of-trust validity of user IDs is not required; keys gpg marks revoked,
/// expired, disabled or invalid are refused.
public final class GPGKeyring {
    private let context: gpgme_ctx_t
    /// The GnuPG home directory, or nil for `GNUPGHOME` / `~/.gnupg`.
    public let homeDirectory: String?

    /// `gpgme_check_version` must run once before the first context.
    private static let version: String = {
        guard let text = gpgme_check_version(nil) else { return "unknown" }
        return String(cString: text)
    }()

    /// Opens the keyring in `homeDirectory` (nil: `GNUPGHOME` or the default).
    public init(homeDirectory: String? = nil) throws {
        _ = Self.version
        var context: gpgme_ctx_t?
        try Self.check(gpgme_new(&context), "gpgme_new")
        guard let context else { throw GPGError(.gpgme(code: 0, source: 0), "gpgme_new gave no context") }
        self.context = context
        self.homeDirectory = homeDirectory
        try Self.check(gpgme_set_protocol(context, GPGME_PROTOCOL_OpenPGP), "gpgme_set_protocol")
        if let homeDirectory {
            try Self.check(
                gpgme_ctx_set_engine_info(context, GPGME_PROTOCOL_OpenPGP, nil, homeDirectory),
                "gpgme_ctx_set_engine_info(\(homeDirectory))")
        }
        gpgme_set_armor(context, 0)
    }

    deinit {
        gpgme_release(context)
    }

    // MARK: - The one conversion of GPGME errors

    /// Throws a ``GPGError`` unless `error` is 0; `operation` says what was done.
    static func check(_ error: gpgme_error_t, _ operation: String, recipient: String? = nil) throws {
        guard error != 0 else { return }
        var buffer = [CChar](repeating: 0, count: 256)
        _ = gpgme_strerror_r(error, &buffer, buffer.count)
        let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        throw GPGError(
            .gpgme(code: cgpgme_err_code(error), source: cgpgme_err_source(error)), recipient: recipient,
            "\(operation) failed: \(text)")
    }

    // MARK: - Recipients

    /// Finds `name` (a fingerprint, with or without `0x`, or an e-mail address) and checks that it can be
    /// encrypted to; exports its public key.
    ///
    /// - Throws: ``GPGError`` naming the recipient: not found, ambiguous, expired, revoked, disabled, invalid,
    ///   or without a usable encryption subkey.
    public func lookUpRecipient(_ name: String) throws -> GPGRecipientKey {
        let hex = name.hasPrefix("0x") || name.hasPrefix("0X") ? String(name.dropFirst(2)) : name
        let isFingerprint = hex.count == 40 && hex.allSatisfy(\.isHexDigit)
        let wanted = isFingerprint ? hex.uppercased() : name.lowercased()
        let candidates = try listKeys(pattern: isFingerprint ? wanted : name)
        defer { candidates.forEach { gpgme_key_unref($0) } }
        let matching = candidates.filter { key in
            isFingerprint
                ? subkeys(of: key).contains { string($0.pointee.fpr).uppercased() == wanted }
                : userIDs(of: key).contains { string($0.pointee.email).lowercased() == wanted }
        }
        guard !matching.isEmpty else {
            throw GPGError(.notFound, recipient: name, "no public key in the keyring \(homeDirectory ?? "(default)")")
        }
        var problems: [GPGError] = []
        var usable: [(key: gpgme_key_t, subkeys: [String])] = []
        for key in matching {
            do {
                usable.append((key, try validate(key, name: name)))
            } catch let error as GPGError {
                problems.append(error)
            }
        }
        guard let chosen = usable.first else { throw problems[0] }
        guard usable.count == 1 else {
            let fingerprints = usable.map { string($0.key.pointee.fpr) }.joined(separator: ", ")
            throw GPGError(.ambiguous, recipient: name, "several usable keys match (\(fingerprints)): name one by fingerprint")
        }
        let fingerprint = string(chosen.key.pointee.fpr).uppercased()
        return GPGRecipientKey(
            query: name, fingerprint: fingerprint,
            userID: userIDs(of: chosen.key).first.map { string($0.pointee.uid) } ?? "",
            encryptionSubkeys: chosen.subkeys, exported: try export(chosen.key, name: name))
    }

    /// ``lookUpRecipient(_:)`` then ``GPGRecipientKey/recipient()``.
    public func recipient(_ name: String) throws -> OpenPGPRecipient {
        try lookUpRecipient(name).recipient()
    }

    /// The binary export of the public key with `fingerprint`.
    public func exportPublicKey(fingerprint: String) throws -> [UInt8] {
        let keys = try listKeys(pattern: fingerprint)
        defer { keys.forEach { gpgme_key_unref($0) } }
        guard let key = keys.first else {
            throw GPGError(.notFound, recipient: fingerprint, "no public key in the keyring")
        }
        return try export(key, name: fingerprint)
    }

    /// The usable encryption subkeys' fingerprints (newest first), or the reason the key cannot be used.
    private func validate(_ key: gpgme_key_t, name: String) throws -> [String] {
        let k = key.pointee
        let id = string(k.fpr)
        if k.revoked != 0 { throw GPGError(.revoked, recipient: name, "key \(id) is revoked") }
        if k.expired != 0 { throw GPGError(.expired, recipient: name, "key \(id) has expired") }
        if k.disabled != 0 { throw GPGError(.disabled, recipient: name, "key \(id) is disabled") }
        if k.invalid != 0 { throw GPGError(.invalid, recipient: name, "key \(id) is invalid") }
        let usable = subkeys(of: key).filter {
            let s = $0.pointee
            return s.can_encrypt != 0 && s.revoked == 0 && s.expired == 0 && s.disabled == 0 && s.invalid == 0
        }
        guard !usable.isEmpty else {
            throw GPGError(
                .noEncryptionKey, recipient: name,
                "key \(id) has no usable encryption subkey (none, or all revoked or expired)")
        }
        return usable.sorted { $0.pointee.timestamp > $1.pointee.timestamp }.map { string($0.pointee.fpr).uppercased() }
    }

    private func listKeys(pattern: String) throws -> [gpgme_key_t] {
        try Self.check(gpgme_op_keylist_start(context, pattern, 0), "listing keys for \(pattern)")
        var keys: [gpgme_key_t] = []
        while true {
            var key: gpgme_key_t?
            let error = gpgme_op_keylist_next(context, &key)
            if cgpgme_err_code(error) == GPG_ERR_EOF.rawValue { break }
            do {
                try Self.check(error, "listing keys for \(pattern)")
            } catch {
                keys.forEach { gpgme_key_unref($0) }
                gpgme_op_keylist_end(context)
                throw error
            }
            if let key { keys.append(key) }
        }
        try Self.check(gpgme_op_keylist_end(context), "listing keys for \(pattern)")
        return keys
    }

    private func export(_ key: gpgme_key_t, name: String) throws -> [UInt8] {
        let data = try newData()
        var keys: [gpgme_key_t?] = [key, nil]
        do {
            try Self.check(gpgme_op_export_keys(context, &keys, 0, data), "exporting the public key", recipient: name)
        } catch {
            gpgme_data_release(data)
            throw error
        }
        let exported = take(data)
        guard !exported.isEmpty else {
            throw GPGError(.notFound, recipient: name, "exporting the public key gave nothing")
        }
        return exported
    }

    // MARK: - Decryption

    /// Decrypts a small OpenPGP message (a job key) with a secret key of this keyring.
    ///
    /// With `passphraseFile`, the passphrase is its first line, given to gpg-agent through loopback pinentry;
    /// without it, gpg-agent asks as usual (or uses its cache). Not for file data: the whole message and its
    /// plaintext are in memory, and gpg runs once per call.
    public func decrypt(_ message: [UInt8], passphraseFile: String? = nil) throws -> [UInt8] {
        let passphrase = try passphraseFile.map { try Self.readPassphrase($0) }
        let box = PassphraseBox(passphrase ?? [])
        if passphrase != nil {
            try Self.check(gpgme_set_pinentry_mode(context, GPGME_PINENTRY_MODE_LOOPBACK), "gpgme_set_pinentry_mode")
            gpgme_set_passphrase_cb(context, passphraseCallback, Unmanaged.passUnretained(box).toOpaque())
        }
        defer {
            gpgme_set_passphrase_cb(context, nil, nil)
            gpgme_set_pinentry_mode(context, GPGME_PINENTRY_MODE_DEFAULT)
            withExtendedLifetime(box) {}
        }
        var cipher: gpgme_data_t?
        try Self.check(gpgme_data_new_from_mem(&cipher, message, message.count, 1), "gpgme_data_new_from_mem")
        defer { gpgme_data_release(cipher) }
        let plain = try newData()
        do {
            try Self.check(gpgme_op_decrypt(context, cipher, plain), "decrypting")
        } catch {
            gpgme_data_release(plain)
            throw error
        }
        return take(plain)
    }

    private static func readPassphrase(_ path: String) throws -> [UInt8] {
        let file: FileDescriptor
        do {
            file = try FileDescriptor.open(path, O_RDONLY)
        } catch {
            throw GPGError(.gpgme(code: 0, source: 0), error.message("cannot open passphrase file \(path)"))
        }
        let bytes: [UInt8]
        do {
            bytes = try file.closeAfter { () throws(Errno) in try file.read(upTo: 65536) }
        } catch {
            throw GPGError(.gpgme(code: 0, source: 0), error.message("cannot read passphrase file \(path)"))
        }
        // The first line, without its line end (as gpg's --passphrase-file).
        let line = bytes.prefix { $0 != 0x0A }
        return Array(line.last == 0x0D ? line.dropLast() : line)
    }

    // MARK: - Helpers

    private func newData() throws -> gpgme_data_t {
        var data: gpgme_data_t?
        try Self.check(gpgme_data_new(&data), "gpgme_data_new")
        return data!
    }

    /// The bytes of a memory data object; releases it.
    private func take(_ data: gpgme_data_t) -> [UInt8] {
        var length = 0
        guard let memory = gpgme_data_release_and_get_mem(data, &length) else { return [] }
        defer { gpgme_free(memory) }
        return Array(UnsafeRawBufferPointer(start: memory, count: length))
    }

    private func subkeys(of key: gpgme_key_t) -> [gpgme_subkey_t] {
        Self.list(from: key.pointee.subkeys) { $0.pointee.next }
    }

    private func userIDs(of key: gpgme_key_t) -> [gpgme_user_id_t] {
        Self.list(from: key.pointee.uids) { $0.pointee.next }
    }

    /// The elements of a GPGME linked list.
    private static func list<Element>(from first: Element?, next: (Element) -> Element?) -> [Element] {
        var elements: [Element] = []
        var current = first
        while let element = current {
            elements.append(element)
            current = next(element)
        }
        return elements
    }

    private func string(_ text: UnsafeMutablePointer<CChar>?) -> String {
        text.map { String(cString: $0) } ?? ""
    }
}

@available(*, unavailable)
extension GPGKeyring: Sendable {}

/// The passphrase handed to the C callback through its hook pointer.
private final class PassphraseBox {
    let bytes: [UInt8]
    init(_ bytes: [UInt8]) { self.bytes = bytes }
}

/// GPGME's passphrase callback for loopback pinentry: writes the passphrase and a newline to `fd`. Gives up
/// (instead of repeating a wrong passphrase forever) when gpg says the previous one was bad.
private let passphraseCallback: gpgme_passphrase_cb_t = { hook, _, _, previousWasBad, fd in
    guard let hook, previousWasBad == 0 else { return cgpgme_error_canceled() }
    let box = Unmanaged<PassphraseBox>.fromOpaque(hook).takeUnretainedValue()
    let line = box.bytes + [0x0A]
    let written = line.withUnsafeBytes { gpgme_io_writen(fd, $0.baseAddress, $0.count) }
    return written == 0 ? 0 : cgpgme_error_canceled()
}
