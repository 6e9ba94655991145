import Foundation
import PipelineTestSupport
import XCTest

@testable import Pipeline
@testable import Stages

/// Keys for the `gpg` stage tests, made once per class: each person has a GnuPG home with their secret key, and
/// the backup keyring holds every public key (plus an expired, a revoked, a sign-only and a NIST P-256 key).
final class GPGStageKeys: @unchecked Sendable {
    let root: TemporaryDirectory
    /// Public keys of everyone, secret keys of nobody: what a backup host holds.
    let backup: String
    /// cv25519.
    let alice: String
    /// ed25519 primary with an RSA-3072 encryption subkey.
    let bob: String
    /// cv25519.
    let carol: String
    /// cv25519, secret key protected by ``masterPassphrase``.
    let master: String
    static let masterPassphrase = "master secret"
    var fingerprints: [String: String] = [:]

    init() throws {
        root = try TemporaryDirectory(prefix: "gpgstage")
        backup = root.path + "/backup"
        alice = root.path + "/alice"
        bob = root.path + "/bob"
        carol = root.path + "/carol"
        master = root.path + "/master"
        let gen = "gpg --batch --passphrase '' --quick-gen-key"
        try GnuPGKeys.run(alice, "\(gen) 'Alice <alice@example.org>' future-default default never")
        try GnuPGKeys.run(bob, "\(gen) 'Bob <bob@example.org>' ed25519 cert never")
        try GnuPGKeys.run(
            bob, "gpg --batch --passphrase '' --quick-add-key $(\(GnuPGKeys.fingerprintCommand("bob@example.org"))) rsa3072 encr never")
        try GnuPGKeys.run(carol, "\(gen) 'Carol <carol@example.org>' future-default default never")
        try GnuPGKeys.run(
            master,
            "gpg --batch --pinentry-mode loopback --passphrase '\(Self.masterPassphrase)' --quick-gen-key "
                + "'Master <master@example.org>' future-default default never")
        for (name, home) in [("alice", alice), ("bob", bob), ("carol", carol), ("master", master)] {
            let email = "\(name)@example.org"
            try GnuPGKeys.run(home, "gpg --export \(email) > '\(root.path)/\(name).pub'")
            try GnuPGKeys.run(backup, "gpg --batch --import '\(root.path)/\(name).pub'")
            fingerprints[name] = try GnuPGKeys.run(home, "(\(GnuPGKeys.fingerprintCommand(email))) 2>/dev/null")
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        try GnuPGKeys.run(
            backup, "gpg --faked-system-time 20200101T000000 --batch --passphrase '' --quick-gen-key "
                + "'Expired <expired@example.org>' future-default default 1d")
        try GnuPGKeys.run(backup, "\(gen) 'Revoked <revoked@example.org>' future-default default never")
        try GnuPGKeys.run(
            backup, "sed 's/^:-----BEGIN/-----BEGIN/' openpgp-revocs.d/$(\(GnuPGKeys.fingerprintCommand("revoked@example.org"))).rev "
                + "| gpg --batch --import")
        try GnuPGKeys.run(backup, "\(gen) 'SignOnly <signonly@example.org>' ed25519 sign never")
        try GnuPGKeys.run(backup, "\(gen) 'P256 <p256@example.org>' nistp256 cert never")
        try GnuPGKeys.run(
            backup, "gpg --batch --passphrase '' --quick-add-key $(\(GnuPGKeys.fingerprintCommand("p256@example.org"))) nistp256 encr never")
        try "\(Self.masterPassphrase)\n".write(toFile: root.path + "/master.pass", atomically: true, encoding: .utf8)
        try "wrong\n".write(toFile: root.path + "/wrong.pass", atomically: true, encoding: .utf8)
    }

    func remove() {
        for home in [backup, alice, bob, carol, master] {
            _ = try? Shell.run("GNUPGHOME='\(home)' gpgconf --kill gpg-agent")
        }
        root.remove()
    }
}

final class GPGStageTests: XCTestCase {
    /// The keys, made by the first test that needs them and removed (agents killed) when the class ends; a
    /// failure to make them fails every test with its reason.
    nonisolated(unsafe) static var made: Result<GPGStageKeys, any Error>?
    var keys: GPGStageKeys!
    var work: TemporaryDirectory!

    override func setUpWithError() throws {
        if Self.made == nil { Self.made = Result { try GPGStageKeys() } }
        keys = try Self.made!.get()
        work = try TemporaryDirectory(prefix: "gpgstage-work")
    }

    override func tearDownWithError() throws {
        work?.remove()
    }

    override class func tearDown() {
        if case .success(let keys) = made { keys.remove() }
        made = nil
        super.tearDown()
    }

    // MARK: - Helpers

    static let sizes = [0, 1, 15, 16, 17, 8191, 8192, 8193, 1 << 20]

    func data(_ count: Int, seed: UInt64 = 7) -> [UInt8] {
        var random = SplitMix64(state: seed &+ UInt64(count))
        return random.bytes(count)
    }

    func fingerprint(_ name: String) -> String { keys.fingerprints[name]! }

    /// Job data by job id and key, as the catalog keeps it.
    typealias JobData = [Int64: [String: [UInt8]]]

    /// A backup stage on the backup keyring.
    func backupStage(_ options: String) throws -> GPGStage {
        try GPGStage(string: "gpg:\(options):keyring=\(keys.backup)")
    }

    /// What a backup harness's stage recorded with its job.
    func jobData(of harness: StageHarness) -> JobData {
        [harness.context.jobID: Dictionary(harness.recordedJobData.map { ($0.key, $0.value) }) { _, new in new }]
    }

    /// A restore stage on `home` (the secret keys of the person restoring).
    func restoreHarness(home: String, jobData: JobData, passphraseFile: String? = nil) throws -> StageHarness {
        let stage = try GPGStage(
            string: "gpg:recipient=unused@example.org:keyring=\(home)",
            environment: StageEnvironment(passphraseFile: passphraseFile))
        return try StageHarness(stage: stage, mode: .restore, jobData: jobData)
    }

    /// Decrypts each message with stock `gpg --decrypt` in `home`; returns the names whose output is not `plain`.
    func gpgFailures(_ messages: [(name: String, stored: [UInt8], plain: [UInt8])], home: String) throws -> [String] {
        let passphrase =
            home == keys.master ? "--pinentry-mode loopback --passphrase-file '\(keys.root.path)/master.pass'" : ""
        return try GnuPGKeys.decryptionFailures(
            messages.map { ($0.name, $0.stored, $0.plain) }, home: home, directory: work.path, gpgOptions: passphrase)
    }

    typealias File = (name: String, stored: [UInt8], plain: [UInt8], metadata: [String: String])

    /// Backs up one file of every size through `options`; returns name, stored bytes, plaintext and metadata of
    /// each, and the job data the stage recorded.
    func backUpAllSizes(_ options: String, uid: UInt32 = 0) throws -> (files: [File], jobData: JobData) {
        let harness = try StageHarness(stage: try backupStage(options))
        var files: [(String, [UInt8], [UInt8], [String: String])] = []
        for size in Self.sizes {
            let plain = data(size)
            let result = try harness.feed(path: "/srv/f\(size)", contents: plain, uid: uid, chunkSize: 5000)
            files.append(("f\(size)", result.output, plain, result.metadata))
        }
        try harness.finish()
        XCTAssertTrue(harness.isClean, "\(harness.leftovers) \(harness.messages)")
        return (files, jobData(of: harness))
    }

    // MARK: - Round trips

    func testStockGpgAndRestoreGiveTheBytes() throws {
        let configurations: [(options: String, readers: [String])] = [
            ("recipient=\(fingerprint("alice"))", ["alice"]),
            ("recipient=bob@example.org", ["bob"]),
            ("recipient=alice@example.org:recipient=bob@example.org:recipient=\(fingerprint("carol"))", ["alice", "bob", "carol"]),
            ("recipient=bob@example.org:master=\(fingerprint("master"))", ["bob", "master"]),
        ]
        let homes = ["alice": keys.alice, "bob": keys.bob, "carol": keys.carol, "master": keys.master]
        for (options, readers) in configurations {
            for mode in ["per-file", "per-job"] {
                let label = "\(options) session_key=\(mode)"
                let (files, jobData) = try backUpAllSizes("\(options):session_key=\(mode)")
                for file in files {
                    XCTAssertEqual(file.metadata["gpg.cipher"], "AES256")
                    XCTAssertEqual(file.metadata["gpg.session_key"], mode)
                    XCTAssertEqual(
                        file.metadata["gpg.recipients"]?.split(separator: ",").count, readers.count, label)
                    XCTAssertEqual(file.metadata["gpg.wrapped_key"]?.count, 80, label)
                    XCTAssertFalse(file.stored.isEmpty)
                }
                let wrapped = Set(files.compactMap { $0.metadata["gpg.wrapped_key"] })
                XCTAssertEqual(wrapped.count, mode == "per-job" ? 1 : files.count, label)
                for reader in readers {
                    let failures = try gpgFailures(files.map { ($0.name, $0.stored, $0.plain) }, home: homes[reader]!)
                    XCTAssertEqual(failures, [], "\(label): gpg --decrypt as \(reader)")
                }
                // Restore through the job key, as the last reader (master needs its passphrase file).
                let reader = readers.last!
                let restore = try restoreHarness(
                    home: homes[reader]!, jobData: jobData,
                    passphraseFile: reader == "master" ? keys.root.path + "/master.pass" : nil)
                for file in files {
                    XCTAssertEqual(
                        try restore.restore(file.stored, path: "/srv/\(file.name)", metadata: file.metadata), file.plain,
                        "\(label): restore of \(file.name) as \(reader)")
                }
                try restore.finish()
                XCTAssertTrue(restore.isClean, "\(restore.messages)")
            }
        }
    }

    func testMetadataIsReadyBeforeTheFirstByteAndHoldsNoPlainKey() throws {
        let stage = try backupStage("recipient=alice@example.org:master=master@example.org")
        let harness = try StageHarness(stage: stage)
        let (_, item) = try harness.decide(path: "/srv/a", size: 5)
        let transform = try XCTUnwrap(try stage.makeTransform(for: item, context: harness.context))
        let metadata = try XCTUnwrap(transform as? any StageMetadataProducer).metadata
        XCTAssertEqual(
            Set(metadata.keys), ["gpg.recipients", "gpg.cipher", "gpg.session_key", "gpg.keyset", "gpg.wrapped_key"])
        XCTAssertEqual(
            metadata["gpg.keyset"], try RecipientSet.id(of: [fingerprint("master"), fingerprint("alice")]))
        XCTAssertEqual(metadata["gpg.recipients"], "\(fingerprint("alice")),\(fingerprint("master"))")
        var output: [UInt8] = []
        try Array("hello".utf8).withUnsafeBytes { try transform.process($0, into: &output) }
        try transform.finish(into: &output)
        // The session key gpg reports is not in the metadata (only its wrapped form).
        try Data(output).write(to: work.url.appendingPathComponent("a.gpg"))
        let shown = try GnuPGKeys.run(
            keys.alice, "gpg --batch --show-session-key --decrypt '\(work.path)/a.gpg' 2>&1 >/dev/null | grep 'session key'")
        let sessionHex = try XCTUnwrap(shown.split(separator: ":").last).filter(\.isHexDigit).lowercased()
        XCTAssertEqual(sessionHex.count, 64, shown)
        XCTAssertFalse(metadata.values.contains { $0.lowercased().contains(sessionHex) })
        // The stored job key is an OpenPGP message to the set (alice decrypts it), not the key.
        XCTAssertEqual(harness.recordedJobData.map(\.key), ["gpg.jobkey.\(metadata["gpg.keyset"]!)"])
        let jobKeyMessage = try XCTUnwrap(harness.recordedJobData.first).value
        XCTAssertEqual(try GPGKeyring(homeDirectory: keys.alice).decrypt(jobKeyMessage).count, 32)
        try harness.finish()
        XCTAssertEqual(harness.messages.filter { $0.severity == .info }.count, 1, "\(harness.messages)")
    }

    func testRestoreFindsEachFilesJobKeyByItsJob() throws {
        // Two jobs (a Full and an Incremental) with the same recipients: same key set, different job keys.
        let plain = data(5000)
        var stored: [Int64: StageHarness.Result] = [:]
        var jobData: JobData = [:]
        for job: Int64 in [1, 2] {
            let harness = try StageHarness(stage: try backupStage("recipient=alice@example.org"), jobID: job)
            stored[job] = try harness.feed(path: "/srv/a", contents: plain)
            try harness.finish()
            jobData.merge(self.jobData(of: harness)) { _, new in new }
        }
        XCTAssertEqual(stored[1]?.metadata["gpg.keyset"], stored[2]?.metadata["gpg.keyset"])
        XCTAssertNotEqual(jobData[1], jobData[2])
        let restore = try restoreHarness(home: keys.alice, jobData: jobData)
        for job: Int64 in [2, 1] {
            let result = try XCTUnwrap(stored[job])
            let item = RestoreItem(path: result.item.path, kind: .file, size: 5000, metadata: result.metadata, jobID: job)
            let inverse = try XCTUnwrap(try restore.stage.makeInverseTransform(for: item, context: restore.context))
            var output: [UInt8] = []
            try result.output.withUnsafeBytes { try inverse.process($0, into: &output) }
            try inverse.finish(into: &output)
            XCTAssertEqual(output, plain, "job \(job)")
        }
        // A file whose job stored no job key fails, the others are unaffected.
        let orphan = RestoreItem(path: [0x2F], kind: .file, size: 5000, metadata: stored[1]!.metadata, jobID: 3)
        XCTAssertThrowsError(try restore.stage.makeInverseTransform(for: orphan, context: restore.context))
        try restore.finish()
    }

    func testDirectoriesAreNotTransformed() throws {
        let stage = try backupStage("recipient=alice@example.org")
        let harness = try StageHarness(stage: stage)
        let (_, item) = try harness.decide(path: "/srv", kind: .directory)
        XCTAssertNil(try stage.makeTransform(for: item, context: harness.context))
        try harness.finish()
    }

    // MARK: - Owner keys

    func testOwnerKeysRouteFilesToTheirOwnersAndMaster() throws {
        let map = work.path + "/owners"
        try """
            # owner map
            1000: alice@example.org
            root: \(fingerprint("carol"))   # by name

            """.write(toFile: map, atomically: true, encoding: .utf8)
        let harness = try StageHarness(stage: try backupStage("owner_keys=\(map):master=\(fingerprint("master"))"))
        let plain = data(3000)
        let alices = try harness.feed(path: "/home/alice/a", contents: plain, uid: 1000)
        let roots = try harness.feed(path: "/root/r", contents: plain, uid: 0)
        XCTAssertThrowsError(try harness.feed(path: "/home/x/x", contents: plain, uid: 4242)) { error in
            XCTAssertTrue("\(error)".contains("owner uid 4242"), "\(error)")
            XCTAssertTrue("\(error)".contains("no recipient="), "\(error)")
        }
        try harness.finish()
        XCTAssertEqual(alices.metadata["gpg.recipients"], "\(fingerprint("alice")),\(fingerprint("master"))")
        XCTAssertEqual(roots.metadata["gpg.recipients"], "\(fingerprint("carol")),\(fingerprint("master"))")
        let messages = [("alice", alices.output, plain), ("root", roots.output, plain)]
        XCTAssertEqual(try gpgFailures(messages, home: keys.alice), ["root"])
        XCTAssertEqual(try gpgFailures(messages, home: keys.carol), ["alice"])
        XCTAssertEqual(try gpgFailures(messages, home: keys.master), [])
        XCTAssertEqual(try gpgFailures(messages, home: keys.bob), ["alice", "root"])

        // Restore as bob: neither job key opens; one error message per key set, every file fails.
        let asBob = try restoreHarness(home: keys.bob, jobData: jobData(of: harness))
        for _ in 0..<2 {
            XCTAssertThrowsError(try asBob.restore(alices.output, path: "/home/alice/a", metadata: alices.metadata)) {
                XCTAssertTrue("\($0)".contains("could not be decrypted"), "\($0)")
            }
        }
        XCTAssertThrowsError(try asBob.restore(roots.output, path: "/root/r", metadata: roots.metadata))
        try asBob.finish()
        let errors = asBob.messages.filter { $0.severity == .error }
        XCTAssertEqual(errors.count, 2, "\(errors)")
        XCTAssertTrue(errors.allSatisfy { $0.text.contains("cannot decrypt the job key") }, "\(errors)")
        // As alice: her file restores.
        let asAlice = try restoreHarness(home: keys.alice, jobData: jobData(of: harness))
        XCTAssertEqual(try asAlice.restore(alices.output, path: "/home/alice/a", metadata: alices.metadata), plain)
        try asAlice.finish()
    }

    // MARK: - Failures

    func testFlippedBytesFailRestore() throws {
        let (files, jobData) = try backUpAllSizes("recipient=alice@example.org")
        let restore = try restoreHarness(home: keys.alice, jobData: jobData)
        for file in files where file.plain.count >= 16 {
            // In the literal data and in the MDC (the PKESKs are not read by a restore through the job key).
            for position in [file.stored.count - 30, file.stored.count - 1] {
                var changed = file.stored
                changed[position] ^= 0x01
                XCTAssertThrowsError(try restore.restore(changed, path: "/srv/x", metadata: file.metadata), file.name)
            }
        }
        var metadata = files[3].metadata
        var wrapped = Array(metadata["gpg.wrapped_key"]!)
        wrapped[10] = wrapped[10] == "0" ? "1" : "0"
        metadata["gpg.wrapped_key"] = String(wrapped)
        XCTAssertThrowsError(try restore.restore(files[3].stored, path: "/srv/x", metadata: metadata)) {
            XCTAssertTrue("\($0)".contains("does not unwrap"), "\($0)")
        }
        metadata["gpg.wrapped_key"] = nil
        XCTAssertThrowsError(try restore.restore(files[3].stored, path: "/srv/x", metadata: metadata)) {
            XCTAssertTrue("\($0)".contains("gpg --decrypt"), "\($0)")
        }
        try restore.finish()
    }

    func testWrongPassphraseFailsOnceAndRightOneRestores() throws {
        let (files, jobData) = try backUpAllSizes("recipient=bob@example.org:master=master@example.org")
        // gpg-agent caches the passphrase of earlier tests: start without it.
        _ = try Shell.run("GNUPGHOME='\(keys.master)' gpgconf --kill gpg-agent")
        let wrong = try restoreHarness(home: keys.master, jobData: jobData, passphraseFile: keys.root.path + "/wrong.pass")
        for file in files {
            XCTAssertThrowsError(try wrong.restore(file.stored, path: "/srv/x", metadata: file.metadata))
        }
        try wrong.finish()
        XCTAssertEqual(wrong.messages.filter { $0.severity == .error }.count, 1, "\(wrong.messages)")
        let right = try restoreHarness(home: keys.master, jobData: jobData, passphraseFile: keys.root.path + "/master.pass")
        XCTAssertEqual(try right.restore(files[5].stored, path: "/srv/x", metadata: files[5].metadata), files[5].plain)
        try right.finish()
    }

    func testMissingJobKeyIsOneClearError() throws {
        let (files, _) = try backUpAllSizes("recipient=alice@example.org")
        let restore = try restoreHarness(home: keys.alice, jobData: [:])
        for file in files.prefix(3) {
            XCTAssertThrowsError(try restore.restore(file.stored, path: "/srv/x", metadata: file.metadata))
        }
        try restore.finish()
        let errors = restore.messages.filter { $0.severity == .error }
        XCTAssertEqual(errors.count, 1)
        XCTAssertTrue(errors[0].text.contains("has no gpg.jobkey."), "\(errors)")
    }

    func testValidateKeysNamesEveryBadRecipient() throws {
        let cases: [(String, String)] = [
            ("nobody@example.org", "no public key"),
            ("expired@example.org", "expired"),
            ("revoked@example.org", "revoked"),
            ("signonly@example.org", "no usable encryption subkey"),
            ("p256@example.org", "NIST P-256 is not supported yet"),
        ]
        for (name, words) in cases {
            let stage = try backupStage("recipient=alice@example.org:recipient=\(name)")
            XCTAssertThrowsError(try stage.validateKeys(), name) { error in
                XCTAssertTrue("\(error)".contains(name), "\(error)")
                XCTAssertTrue("\(error)".contains(words), "\(error)")
            }
            // A backup job does not start.
            XCTAssertThrowsError(try StageHarness(stage: stage), name)
        }
        let both = try backupStage("recipient=expired@example.org:master=nobody@example.org")
        XCTAssertThrowsError(try both.validateKeys()) { error in
            XCTAssertTrue("\(error)".contains("expired@example.org") && "\(error)".contains("nobody@example.org"), "\(error)")
        }
        XCTAssertNoThrow(try backupStage("recipient=alice@example.org:master=master@example.org").validateKeys())
    }

    // MARK: - Options

    func testOptions() throws {
        let stage = try GPGStage(string: "gpg:recipient=a@x:recipient=b@x:recipient=a@x:keyring=/nonexistent")
        XCTAssertEqual(stage.options.recipients, ["a@x", "b@x"])
        XCTAssertEqual(stage.options.sessionKeyMode, .perFile)
        XCTAssertTrue(stage.isEncrypting)
        XCTAssertFalse(stage.hasSideEffects)
        XCTAssertEqual(stage.memberSuffix, ".gpg")
        XCTAssertEqual(try GPGStage(string: "gpg:recipient=a@x:session_key=per-job").options.sessionKeyMode, .perJob)
        // Creating a stage reads no keyring: restore and check create stages with keys they cannot see.
        XCTAssertNoThrow(try StageRegistry.makeStage("gpg:recipient=nobody@nowhere:keyring=/nonexistent"))
        XCTAssertEqual(StageRegistry.availability(of: "gpg:recipient=x"), .available)

        let owners = work.path + "/owners"
        try "1000: a@x, b@x\n".write(toFile: owners, atomically: true, encoding: .utf8)
        XCTAssertEqual(try GPGStage(string: "gpg:owner_keys=\(owners)").options.ownerMap(), [1000: ["a@x", "b@x"]])

        let bad: [(String, String)] = [
            ("gpg", "at least one recipient="),
            ("gpg:recipient=a@x:colour=red", "unknown option \"colour\""),
            ("gpg:recipient=a@x:session_key=sometimes", "session_key=sometimes is not one of per-file, per-job"),
            ("gpg:recipient=a@x:master=b@x:master=c@x", "master= is given twice"),
            ("gpg:recipient=", "recipient needs a value"),
        ]
        for (string, words) in bad {
            XCTAssertThrowsError(try GPGStage(string: string), string) {
                XCTAssertTrue("\($0)".contains(words), "\(string): \($0)")
            }
        }
        // Problems of the owner map wait for validateKeys() (restore creates the stage without needing the map).
        let lines: [(String, String)] = [
            ("", "names no owner and there is no recipient="),
            ("alice a@x\n", ":1: expected"),
            ("# c\n: a@x\n", ":2: no owner"),
            ("1000:\n", "owner 1000 has no key"),
            ("no-such-user-here: a@x\n", "no user \"no-such-user-here\""),
        ]
        for (text, words) in lines {
            try text.write(toFile: owners, atomically: true, encoding: .utf8)
            let stage = try GPGStage(string: "gpg:owner_keys=\(owners)")
            XCTAssertThrowsError(try stage.validateKeys(), text) {
                XCTAssertTrue("\($0)".contains(words), "\(text): \($0)")
            }
        }
        let missing = try GPGStage(string: "gpg:recipient=a@x:owner_keys=\(work.path)/none")
        XCTAssertThrowsError(try missing.validateKeys()) { XCTAssertTrue("\($0)".contains("cannot open"), "\($0)") }
        XCTAssertThrowsError(try StageHarness(stage: missing)) { XCTAssertTrue("\($0)".contains("cannot open"), "\($0)") }
    }
}
