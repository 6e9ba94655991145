import Foundation
import PipelineTestSupport
import XCTest

@testable import Pipeline
import Stages

/// Throwaway GnuPG homes with keys made once per test class (key generation is the slow part).
final class GnuPGKeys: @unchecked Sendable {
    let root: TemporaryDirectory
    /// cv25519 key A, plus the keys the lookup tests need (expired, revoked, sign-only, NIST P-256, job key).
    let homeA: String
    /// ed25519 primary with an RSA-3072 encryption subkey.
    let homeB: String
    /// A second cv25519 key.
    let homeC: String
    static let jobPassphrase = "job secret"

    init() throws {
        root = try TemporaryDirectory(prefix: "gpg")
        homeA = root.path + "/a"
        homeB = root.path + "/b"
        homeC = root.path + "/c"
        let gen = "gpg --batch --passphrase '' --quick-gen-key"
        try Self.run(homeA, "\(gen) 'A <a@example.org>' future-default default never")
        try Self.run(homeB, "\(gen) 'B <b@example.org>' ed25519 cert never")
        try Self.run(homeB, "gpg --batch --passphrase '' --quick-add-key $(\(Self.fingerprintCommand("b@example.org"))) rsa3072 encr never")
        try Self.run(homeC, "\(gen) 'C <c@example.org>' future-default default never")
        // Made in 2020, valid for one day.
        try Self.run(homeA, "gpg --faked-system-time 20200101T000000 \(gen.dropFirst(4)) 'Expired <expired@example.org>' future-default default 1d")
        try Self.run(homeA, "\(gen) 'Revoked <revoked@example.org>' future-default default never")
        // gpg stores a revocation certificate with its armour line disabled by a leading colon.
        try Self.run(homeA, "sed 's/^:-----BEGIN/-----BEGIN/' openpgp-revocs.d/$(\(Self.fingerprintCommand("revoked@example.org"))).rev | gpg --batch --import")
        try Self.run(homeA, "\(gen) 'SignOnly <signonly@example.org>' ed25519 sign never")
        try Self.run(homeA, "\(gen) 'P256 <p256@example.org>' nistp256 cert never")
        try Self.run(homeA, "gpg --batch --passphrase '' --quick-add-key $(\(Self.fingerprintCommand("p256@example.org"))) nistp256 encr never")
        try Self.run(homeA, "\(gen) 'Disabled <disabled@example.org>' future-default default never")
        try Self.run(homeA, "gpg --batch --command-fd 0 --edit-key disabled@example.org disable save < /dev/null")
        try Self.run(homeA, "\(gen) 'Twin <twin@example.org>' future-default default never")
        try Self.run(homeA, "\(gen) 'Twin again <twin@example.org>' future-default default never")
        try Self.run(homeA, "gpg --batch --pinentry-mode loopback --passphrase '\(Self.jobPassphrase)' --quick-gen-key 'Job <job@example.org>' future-default default never")
    }

    static func fingerprintCommand(_ email: String) -> String {
        "gpg --with-colons --list-keys \(email) | awk -F: '/^fpr/ { print $10; exit }'"
    }

    /// Runs `command` in `home` with GNUPGHOME set (creating the home); returns its output, failing on error.
    @discardableResult
    static func run(_ home: String, _ command: String) throws -> String {
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let (status, output) = try Shell.run("cd '\(home)' && export GNUPGHOME='\(home)' && \(command)")
        guard status == 0 else { throw OpenPGPError(.misuse, "`\(command)` failed (\(status)): \(output)") }
        return output
    }

    /// Writes `messages` (name, message, plaintext) into `directory`, decrypts each with stock `gpg --decrypt` in
    /// `home` (with `gpgOptions`, e.g. a loopback passphrase) and compares byte for byte; returns the names that
    /// failed.
    static func decryptionFailures(
        _ messages: [(String, [UInt8], [UInt8])], home: String, directory: String, gpgOptions: String = ""
    ) throws -> [String] {
        for (name, message, plain) in messages {
            try Data(message).write(to: URL(fileURLWithPath: directory + "/" + name + ".gpg"))
            try Data(plain).write(to: URL(fileURLWithPath: directory + "/" + name + ".plain"))
        }
        let names = messages.map(\.0).joined(separator: " ")
        let script = """
            for n in \(names); do rm -f '\(directory)'/$n.out; \\
            gpg --batch --quiet --yes \(gpgOptions) -o '\(directory)'/$n.out --decrypt '\(directory)'/$n.gpg 2>/dev/null \\
            && cmp -s '\(directory)'/$n.out '\(directory)'/$n.plain || echo FAIL:$n; done; true
            """
        let output = try run(home, script)
        return output.split(separator: "\n").filter { $0.hasPrefix("FAIL:") }.map { String($0.dropFirst(5)) }
    }

    func remove() {
        for home in [homeA, homeB, homeC] {
            _ = try? Shell.run("GNUPGHOME='\(home)' gpgconf --kill gpg-agent")
        }
        root.remove()
    }
}

final class OpenPGPTests: XCTestCase {
    nonisolated(unsafe) static var keys: GnuPGKeys?
    var keys: GnuPGKeys { Self.keys! }
    var work: TemporaryDirectory!

    override class func setUp() {
        super.setUp()
        do {
            keys = try GnuPGKeys()
        } catch {
            XCTFail("cannot make test keys: \(error)")
        }
    }

    override class func tearDown() {
        keys?.remove()
        keys = nil
        super.tearDown()
    }

    override func setUpWithError() throws {
        try XCTSkipIf(Self.keys == nil, "no test keys")
        work = try TemporaryDirectory(prefix: "pgp")
    }

    override func tearDownWithError() throws {
        work?.remove()
    }

    // MARK: - Helpers

    func recipient(_ home: String, _ email: String) throws -> OpenPGPRecipient {
        try GPGKeyring(homeDirectory: home).recipient(email)
    }

    lazy var recipientA: OpenPGPRecipient = try! recipient(keys.homeA, "a@example.org")
    lazy var recipientB: OpenPGPRecipient = try! recipient(keys.homeB, "b@example.org")
    lazy var recipientC: OpenPGPRecipient = try! recipient(keys.homeC, "c@example.org")

    static let sizes = [0, 1, 15, 16, 17, 8191, 8192, 8193, 1 << 20]

    func data(_ count: Int, seed: UInt64 = 1) -> [UInt8] {
        var random = SplitMix64(state: seed &+ UInt64(count))
        return random.bytes(count)
    }

    /// Encrypts `plain` in pieces of irregular sizes.
    func encrypt(_ plain: [UInt8], _ encryptor: OpenPGPEncryptor) throws -> [UInt8] {
        var output: [UInt8] = []
        var random = SplitMix64(state: UInt64(plain.count))
        var offset = 0
        while offset < plain.count {
            let piece = min(plain.count - offset, 1 + random.below(70_000))
            try plain[offset..<offset + piece].withUnsafeBytes { try encryptor.process($0, into: &output) }
            offset += piece
        }
        try encryptor.finish(into: &output)
        return output
    }

    /// Decrypts with our decryptor, feeding pieces of irregular sizes.
    func decrypt(_ message: [UInt8], _ key: OpenPGPSessionKey) throws -> ([UInt8], OpenPGPDecryptor) {
        let decryptor = try OpenPGPDecryptor(sessionKey: key)
        var output: [UInt8] = []
        var random = SplitMix64(state: UInt64(message.count) ^ 0x55)
        var offset = 0
        while offset < message.count {
            let piece = min(message.count - offset, 1 + random.below(random.below(2) == 0 ? 40 : 100_000))
            try message[offset..<offset + piece].withUnsafeBytes { try decryptor.process($0, into: &output) }
            offset += piece
        }
        try decryptor.finish(into: &output)
        return (output, decryptor)
    }

    /// Decrypts each of `messages` with `gpg --decrypt` in `home`; returns the names that failed.
    func gpgDecryptAll(_ messages: [(String, [UInt8], [UInt8])], home: String) throws -> [String] {
        try GnuPGKeys.decryptionFailures(messages, home: home, directory: work.path)
    }

    // MARK: - Public keys

    func testParsedKeysMatchGpg() throws {
        for (home, email) in [(keys.homeA, "a@example.org"), (keys.homeB, "b@example.org")] {
            let keyring = try GPGKeyring(homeDirectory: home)
            let found = try keyring.lookUpRecipient(email)
            let key = try OpenPGPPublicKey(exported: found.exported)
            let listing = try GnuPGKeys.run(home, "gpg --with-colons --list-keys \(email)")
            let fingerprints = listing.split(separator: "\n").filter { $0.hasPrefix("fpr:") }
                .map { String($0.split(separator: ":", omittingEmptySubsequences: false)[9]) }
            XCTAssertEqual([key.primary.fingerprintHex] + key.subkeys.map(\.fingerprintHex), fingerprints)
            XCTAssertEqual(found.fingerprint, key.primary.fingerprintHex)
            XCTAssertEqual(key.userIDs, [email == "a@example.org" ? "A <a@example.org>" : "B <b@example.org>"])
            XCTAssertFalse(key.primary.canEncrypt)
            XCTAssertEqual(key.subkeys.count, 1)
            XCTAssertTrue(key.subkeys[0].canEncrypt)
            let recipient = try key.encryptionRecipient()
            XCTAssertEqual(recipient.fingerprint, key.subkeys[0].fingerprint)
            XCTAssertEqual(recipient.keyID.description, String(fingerprints[1].suffix(16)))
            XCTAssertEqual(found.encryptionSubkeys, [fingerprints[1]])
        }
        XCTAssertEqual(recipientA.algorithm, .ecdhCurve25519(kdfHash: 8, kekCipher: 7))
        XCTAssertEqual(recipientB.algorithm, .rsa(bits: 3072))
    }

    func testUnsupportedAlgorithmIsNamed() throws {
        let found = try GPGKeyring(homeDirectory: keys.homeA).lookUpRecipient("p256@example.org")
        XCTAssertThrowsError(try found.recipient()) { error in
            XCTAssertEqual((error as? OpenPGPError)?.kind, .unsupported)
            XCTAssertTrue("\(error)".contains("NIST P-256"), "\(error)")
            XCTAssertTrue("\(error)".contains("not supported yet"), "\(error)")
        }
    }

    /// A one-packet export: old-format public key packet (0x99, two-octet length) holding a v`version` key.
    func syntheticKey(version: UInt8 = 4, algorithm: UInt8, material: [UInt8]) -> [UInt8] {
        let body = [version, 0x5F, 0x00, 0x00, 0x00, algorithm] + material
        return [0x99, UInt8(body.count >> 8), UInt8(body.count & 0xFF)] + body
    }

    func testOtherAlgorithmsAndVersionsAreNamed() throws {
        // ElGamal: p, g, y as small MPIs (never used: the algorithm is refused first).
        let elgamal = syntheticKey(algorithm: 16, material: [0, 8, 0xFB, 0, 2, 2, 0, 8, 0x55])
        XCTAssertThrowsError(try OpenPGPPublicKey(exported: elgamal).encryptionRecipient()) { error in
            XCTAssertEqual((error as? OpenPGPError)?.kind, .unsupported)
            XCTAssertTrue("\(error)".contains("ElGamal (16) is not supported yet"), "\(error)")
        }
        XCTAssertThrowsError(try OpenPGPPublicKey(exported: syntheticKey(version: 6, algorithm: 25, material: []))) { error in
            XCTAssertEqual((error as? OpenPGPError)?.kind, .unsupported)
            XCTAssertTrue("\(error)".contains("version 6 keys are not supported yet"), "\(error)")
        }
        // A DSA key cannot encrypt at all.
        let dsa = syntheticKey(algorithm: 17, material: [])
        XCTAssertThrowsError(try OpenPGPPublicKey(exported: dsa).encryptionRecipient()) { error in
            XCTAssertTrue("\(error)".contains("no usable encryption subkey"), "\(error)")
        }
        XCTAssertThrowsError(try OpenPGPPublicKey(exported: Array(elgamal.dropLast(3)))) { error in
            XCTAssertEqual((error as? OpenPGPError)?.kind, .malformed)
        }
    }

    func testKeyringFromGNUPGHOME() throws {
        setenv("GNUPGHOME", keys.homeB, 1)
        defer { unsetenv("GNUPGHOME") }
        let keyring = try GPGKeyring()
        XCTAssertEqual(try keyring.recipient("b@example.org").keyID, recipientB.keyID)
    }

    // MARK: - gpg decrypts what we write

    func testGpgDecryptsOneRecipient() throws {
        for (home, recipient, label) in [(keys.homeA, recipientA, "cv"), (keys.homeB, recipientB, "rsa")] {
            var messages: [(String, [UInt8], [UInt8])] = []
            let perMessage = try OpenPGPEncryptor(recipients: [recipient])
            let reused = try OpenPGPEncryptor(sessionKeys: SessionKeySet(recipients: [recipient]))
            for size in Self.sizes {
                let plain = data(size)
                perMessage.reset()
                reused.reset()
                messages.append(("\(label)-fresh-\(size)", try encrypt(plain, perMessage), plain))
                messages.append(("\(label)-reused-\(size)", try encrypt(plain, reused), plain))
            }
            XCTAssertEqual(try gpgDecryptAll(messages, home: home), [], label)
        }
    }

    func testGpgDecryptsThreeRecipientsWithEachKey() throws {
        let recipients = [recipientA, recipientB, recipientC]
        var messages: [(String, [UInt8], [UInt8])] = []
        let perMessage = try OpenPGPEncryptor(recipients: recipients)
        let reused = try OpenPGPEncryptor(sessionKeys: SessionKeySet(recipients: recipients))
        for size in Self.sizes {
            let plain = data(size, seed: 7)
            perMessage.reset()
            reused.reset()
            messages.append(("fresh-\(size)", try encrypt(plain, perMessage), plain))
            messages.append(("reused-\(size)", try encrypt(plain, reused), plain))
            XCTAssertEqual(try OpenPGPDecryptor.recipientKeyIDs(in: messages.last!.1), recipients.map(\.keyID))
        }
        for home in [keys.homeA, keys.homeB, keys.homeC] {
            XCTAssertEqual(try gpgDecryptAll(messages, home: home), [], home)
        }
    }

    func testGpgDecryptsSmallPartialChunks() throws {
        // 512-byte chunks: many partial lengths in both the SEIPD and the literal packet.
        let encryptor = try OpenPGPEncryptor(sessionKeys: SessionKeySet(recipients: [recipientA]), chunkExponent: 9)
        var messages: [(String, [UInt8], [UInt8])] = []
        for size in Self.sizes + [487, 488, 489, 493, 494, 495, 512, 1024, 1025] {
            let plain = data(size, seed: 3)
            encryptor.reset()
            messages.append(("small-\(size)", try encrypt(plain, encryptor), plain))
        }
        XCTAssertEqual(try gpgDecryptAll(messages, home: keys.homeA), [])
    }

    func testPacketLayoutAsGpgListsIt() throws {
        let set = try SessionKeySet(recipients: [recipientA, recipientB])
        for (size, partial) in [(100, false), (200_000, true)] {
            let path = work.path + "/layout-\(size).gpg"
            try Data(try OpenPGPEncryptor.encrypt(data(size), sessionKeys: set)).write(to: URL(fileURLWithPath: path))
            let listing = try GnuPGKeys.run(keys.homeA, "gpg --batch --list-packets '\(path)' 2>&1")
            XCTAssertTrue(listing.contains(":pubkey enc packet: version 3, algo 18, keyid \(recipientA.keyID)"), listing)
            XCTAssertTrue(listing.contains(":pubkey enc packet: version 3, algo 1, keyid \(recipientB.keyID)"), listing)
            XCTAssertTrue(listing.contains("mdc_method: 2"), listing)
            XCTAssertTrue(listing.contains("mode b (62), created 0, name=\"\""), listing)
            XCTAssertEqual(listing.contains("length: unknown"), partial, listing)
            XCTAssertTrue(listing.contains("raw data: \(partial ? "unknown length" : "\(size) bytes")"), listing)
        }
    }

    func testBothDirectionsStreamWithBoundedLag() throws {
        // Whatever the size, neither side holds more than about one chunk: memory stays constant.
        let set = try SessionKeySet(recipients: [recipientA])
        let chunk = 1 << 12
        let encryptor = try OpenPGPEncryptor(sessionKeys: set, chunkExponent: 12)
        let decryptor = try OpenPGPDecryptor(sessionKey: set.sessionKey)
        let piece = data(3000)
        var sent = 0, encrypted = 0
        var cipher: [UInt8] = [], plain: [UInt8] = []
        for _ in 0..<400 {
            cipher.removeAll(keepingCapacity: true)
            try piece.withUnsafeBytes { try encryptor.process($0, into: &cipher) }
            sent += piece.count
            encrypted += cipher.count
            XCTAssertGreaterThan(encrypted, sent - 2 * chunk)
            try cipher.withUnsafeBytes { try decryptor.process($0, into: &plain) }
            XCTAssertGreaterThan(plain.count, sent - 3 * chunk)
        }
        cipher.removeAll()
        try encryptor.finish(into: &cipher)
        try cipher.withUnsafeBytes { try decryptor.process($0, into: &plain) }
        try decryptor.finish(into: &plain)
        XCTAssertEqual(plain, Array([[UInt8]](repeating: piece, count: 400).joined()))
    }

    func testReusedKeysGiveDistinctCiphertexts() throws {
        let keys = try SessionKeySet(recipients: [recipientA])
        let first = try OpenPGPEncryptor.encrypt(Array(repeating: 7, count: 100), sessionKeys: keys)
        let second = try OpenPGPEncryptor.encrypt(Array(repeating: 7, count: 100), sessionKeys: keys)
        XCTAssertEqual(first.prefix(keys.keyPackets.count), second.prefix(keys.keyPackets.count))
        XCTAssertNotEqual(first, second, "each message needs its own random prefix")
    }

    // MARK: - Our decryptor

    func testDecryptorReadsOurMessages() throws {
        for exponent in [9, 16] {
            let set = try SessionKeySet(recipients: [recipientA, recipientB])
            let encryptor = try OpenPGPEncryptor(sessionKeys: set, chunkExponent: exponent)
            for size in Self.sizes + [100_000, 65_530, 65_536, 65_537] {
                let plain = data(size, seed: 11)
                encryptor.reset()
                let message = try encrypt(plain, encryptor)
                let (output, decryptor) = try decrypt(message, set.sessionKey)
                XCTAssertEqual(output, plain, "size \(size), chunk 2^\(exponent)")
                XCTAssertEqual(decryptor.recipientKeyIDs, [recipientA.keyID, recipientB.keyID])
            }
        }
    }

    func testDecryptorReadsGpgMessages() throws {
        let variants = [
            ("none", "--compress-algo none"), ("zlib", "--compress-algo zlib"), ("zip", "--compress-algo zip"),
            ("default", ""),
        ]
        for size in [0, 1, 8193, 1 << 20] {
            let plain = data(size, seed: 5)
            let plainPath = work.path + "/plain-\(size)"
            try Data(plain).write(to: URL(fileURLWithPath: plainPath))
            for (label, option) in variants {
                for (source, input) in [("file", "'\(plainPath)'"), ("pipe", "- < '\(plainPath)'")] {
                    let messagePath = work.path + "/gpg-\(size)-\(label)-\(source).gpg"
                    try GnuPGKeys.run(
                        keys.homeA,
                        "cat \(input.hasPrefix("-") ? "'\(plainPath)'" : input) | gpg --batch --yes --trust-model always "
                            + "-r a@example.org --cipher-algo AES256 \(option) -o '\(messagePath)' --encrypt")
                    let shown = try GnuPGKeys.run(
                        keys.homeA, "gpg --batch --show-session-key -o /dev/null --decrypt '\(messagePath)' 2>&1")
                    let text = try XCTUnwrap(
                        shown.split(separator: "\n").first { $0.contains("session key:") }, shown)
                    let keyText = text.split(separator: "'")[1]
                    let message = Array(try Data(contentsOf: URL(fileURLWithPath: messagePath)))
                    let (output, decryptor) = try decrypt(message, try OpenPGPSessionKey(gpgText: String(keyText)))
                    XCTAssertEqual(output, plain, "\(size) \(label) \(source)")
                    XCTAssertEqual(decryptor.recipientKeyIDs, [recipientA.keyID])
                }
            }
        }
    }

    func testTamperingIsCaughtByGpgAndUs() throws {
        let set = try SessionKeySet(recipients: [recipientA])
        let plain = data(10_000, seed: 9)
        let message = try OpenPGPEncryptor.encrypt(plain, sessionKeys: set)
        var cases: [(String, [UInt8])] = []
        for position in [set.keyPackets.count + 30, message.count / 2, message.count - 30, message.count - 1] {
            var changed = message
            changed[position] ^= 0x01
            cases.append(("flip-\(position)", changed))
        }
        cases.append(("cut", Array(message.dropLast(5))))
        for (name, changed) in cases {
            // Changed ciphertext is always an integrity error, whatever garbage it decrypts to (no early hints).
            XCTAssertThrowsError(try decrypt(changed, set.sessionKey), name) { error in
                XCTAssertEqual((error as? OpenPGPError)?.kind, .integrity, "\(name): \(error)")
            }
        }
        // gpg fails on each (it writes the changed plaintext, and says so with a non-zero status).
        try Data(message).write(to: work.url.appendingPathComponent("good.gpg"))
        for (name, changed) in cases {
            try Data(changed).write(to: work.url.appendingPathComponent(name + ".gpg"))
            let (status, output) = try Shell.run(
                "GNUPGHOME='\(keys.homeA)' gpg --batch -o /dev/null --decrypt '\(work.path)/\(name).gpg'")
            XCTAssertNotEqual(status, 0, "\(name): \(output)")
        }
        let (status, output) = try Shell.run(
            "GNUPGHOME='\(keys.homeA)' gpg --batch -o /dev/null --decrypt '\(work.path)/good.gpg'")
        XCTAssertEqual(status, 0, output)
    }

    func testDamagedMessagesNeverPassOrCrash() throws {
        let set = try SessionKeySet(recipients: [recipientA, recipientB])
        var random = SplitMix64(state: 99)
        for size in [0, 3, 700, 5000] {
            let plain = data(size, seed: 13)
            let encryptor = try OpenPGPEncryptor(sessionKeys: set, chunkExponent: 9)
            let message = try encrypt(plain, encryptor)
            for round in 0..<150 {
                var damaged = message
                switch round % 3 {
                case 0: damaged[random.below(damaged.count)] ^= UInt8(1 + random.below(255))
                case 1: damaged.removeLast(1 + random.below(damaged.count - 1))
                default: damaged.insert(UInt8(random.below(256)), at: random.below(damaged.count))
                }
                if let (output, _) = try? decrypt(damaged, set.sessionKey) {
                    // Only a change outside what is authenticated may pass (a PKESK byte): the data must be intact.
                    XCTAssertEqual(output, plain, "size \(size) round \(round)")
                }
            }
        }
    }

    func testWrongSessionKeyIsRefused() throws {
        let set = try SessionKeySet(recipients: [recipientA])
        let message = try OpenPGPEncryptor.encrypt(data(1000), sessionKeys: set)
        // By default only after the MDC, with the same error as a changed message (no quick-check oracle).
        XCTAssertThrowsError(try decrypt(message, try .random())) { error in
            XCTAssertEqual((error as? OpenPGPError)?.kind, .integrity, "\(error)")
        }
        // On request at once. (A random key passes the 16-bit quick check once in 65,536 tries: then the MDC fails.)
        XCTAssertThrowsError(try OpenPGPDecryptor.decrypt(message, sessionKey: try .random(), quickCheck: true)) { error in
            let kind = (error as? OpenPGPError)?.kind
            XCTAssertTrue(kind == .wrongKey || kind == .integrity, "\(error)")
        }
    }

    func testMisuseAfterFinish() throws {
        let encryptor = try OpenPGPEncryptor(recipients: [recipientA])
        var output: [UInt8] = []
        try encryptor.finish(into: &output)
        XCTAssertThrowsError(try encryptor.finish(into: &output))
        encryptor.reset()
        output.removeAll()
        try encryptor.finish(into: &output)
        let key = try XCTUnwrap(encryptor.sessionKeys).sessionKey
        XCTAssertEqual(try OpenPGPDecryptor.decrypt(output, sessionKey: key), [])
    }

    // MARK: - Keyring

    func testLookupErrorsNameTheRecipient() throws {
        let keyring = try GPGKeyring(homeDirectory: keys.homeA)
        let expectations: [(String, GPGError.Reason)] = [
            ("nobody@example.org", .notFound), ("expired@example.org", .expired), ("revoked@example.org", .revoked),
            ("signonly@example.org", .noEncryptionKey), ("disabled@example.org", .disabled),
            ("twin@example.org", .ambiguous),
            ("0123456789ABCDEF0123456789ABCDEF01234567", .notFound),
        ]
        for (name, reason) in expectations {
            XCTAssertThrowsError(try keyring.lookUpRecipient(name), name) { error in
                let failure = error as? GPGError
                XCTAssertEqual(failure?.reason, reason, "\(error)")
                XCTAssertEqual(failure?.recipient, name)
                XCTAssertTrue("\(error)".contains(name), "\(error)")
            }
        }
        // By fingerprint, with and without 0x.
        let byMail = try keyring.lookUpRecipient("a@example.org")
        XCTAssertEqual(try keyring.lookUpRecipient(byMail.fingerprint).fingerprint, byMail.fingerprint)
        XCTAssertEqual(try keyring.lookUpRecipient("0x" + byMail.fingerprint.lowercased()).fingerprint, byMail.fingerprint)
        XCTAssertEqual(try keyring.exportPublicKey(fingerprint: byMail.fingerprint), byMail.exported)
    }

    // MARK: - Job key

    func testJobKeyWrapRoundTrip() throws {
        let jobKey = try JobKey.random()
        let sessionKey = try OpenPGPSessionKey.random()
        let wrapped = try jobKey.wrap(sessionKey)
        XCTAssertEqual(wrapped.count, 40)
        XCTAssertEqual(try jobKey.unwrap(wrapped), sessionKey)
        XCTAssertThrowsError(try JobKey.random().unwrap(wrapped)) { error in
            XCTAssertEqual((error as? OpenPGPError)?.kind, .integrity)
        }
        var changed = wrapped
        changed[20] ^= 0x80
        XCTAssertThrowsError(try jobKey.unwrap(changed)) { error in
            XCTAssertEqual((error as? OpenPGPError)?.kind, .integrity)
        }
        // RFC 3394 4.6: 256 bits of key data with a 256-bit KEK.
        let kek = try JobKey(bytes: Array(0...31))
        let key = try OpenPGPSessionKey(bytes: Hex.decode("00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F")!)
        XCTAssertEqual(
            Hex.encode(try kek.wrap(key)),
            "28c9f404c4b810f4cbccb35cfb87f8263f5786e2d80ed326cbc7f0e71a99f43bfb988b9b7a02dd21")
    }

    func testJobKeyDecryptsThroughGPGME() throws {
        let keyring = try GPGKeyring(homeDirectory: keys.homeA)
        let jobRecipient = try keyring.recipient("job@example.org")
        let jobKey = try JobKey.random()
        let message = try OpenPGPEncryptor.encrypt(jobKey.bytes, sessionKeys: SessionKeySet(recipients: [jobRecipient]))
        let right = work.path + "/right", wrong = work.path + "/wrong"
        try (GnuPGKeys.jobPassphrase + "\n").write(toFile: right, atomically: true, encoding: .utf8)
        try "not it\n".write(toFile: wrong, atomically: true, encoding: .utf8)
        // Forget passphrases cached while the key was made.
        try GnuPGKeys.run(keys.homeA, "gpgconf --reload gpg-agent")
        XCTAssertThrowsError(try keyring.decrypt(message, passphraseFile: wrong)) { error in
            guard case .gpgme = (error as? GPGError)?.reason else { return XCTFail("\(error)") }
        }
        try GnuPGKeys.run(keys.homeA, "gpgconf --reload gpg-agent")
        XCTAssertEqual(try keyring.decrypt(message, passphraseFile: right), jobKey.bytes)
    }
}
