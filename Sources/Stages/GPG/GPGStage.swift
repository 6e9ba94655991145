import Pipeline

/// The `gpg` stage: every regular file of its chain becomes one standard OpenPGP message (PKESKs + SEIPD v1,
/// AES-256) that stock `gpg --decrypt` reads alone, and restore decrypts it again with one private-key operation
/// per job and recipient set (the job key). The format and the options are in `docs/encryption.md`.
///
/// ```
/// Plugin = "gpg:recipient=FPR_OR_EMAIL[:recipient=...][:master=FPR][:owner_keys=FILE][:keyring=GNUPGHOME]
///              [:session_key=per-file|per-job]"
/// ```
///
/// Life of a job:
/// - creation parses the options (and reads `owner_keys=FILE`), nothing else: restore and `check` create stages;
/// - ``validateKeys()`` looks every key up through GPGME (at backup job start; `optionhost check` calls it too);
/// - backup job start: per recipient set, a random job key, stored encrypted to the set with the job
///   (`gpg.jobkey.<setid>`), and with `session_key=per-job` one ``SessionKeySet`` for every file of the set;
/// - per file, a transform (``makeTransform(for:context:)``) whose metadata, available before any byte, holds
///   the file's session key wrapped under the job key;
/// - restore: the job key is decrypted once per (job, set), through gpg-agent or `--passphrase-file`, then each
///   file's session key is unwrapped and its message decrypted natively.
///
/// Only wrapped or encrypted key material leaves this type: never a plain session key or job key.
public final class GPGStage: Stage {
    public let name: String
    public var isEncrypting: Bool { true }
    /// The stage makes no decision: `estimate` may run it (it does nothing there).
    public var hasSideEffects: Bool { false }
    /// Restore makes one decryptor per file; the job keys are decrypted once, under the `jobKeys` lock.
    public var restoresConcurrently: Bool { true }
    /// Members of files this stage encrypted end in `.gpg`: `tar -xf` gives files `gpg --decrypt` reads.
    public var memberSuffix: String? { ".gpg" }

    let options: GPGStageOptions
    private let passphraseFile: String?
    /// The keyring restore decrypts job keys with: `restore --keyring`, else the string's `keyring=`.
    private let restoreKeyring: String?
    /// The keys of the running backup job (from job start to job end).
    private let backup = Locked<BackupKeys?>(nil)
    /// Restore: job keys by "job/setid", decrypted once; a failure is kept so it is reported once, not per file.
    private let jobKeys = Locked<[String: Result<JobKey, GPGStageError>]>([:])

    /// Parses the stage string, and reads `owner_keys=FILE` (a problem of the map is thrown by ``validateKeys()``
    /// and at backup job start, not here: restore creates this stage too and needs no map). Reads no keyring.
    public init(string: String, environment: StageEnvironment = StageEnvironment()) throws {
        name = string
        options = try GPGStageOptions(string: string)
        passphraseFile = environment.passphraseFile
        restoreKeyring = environment.keyring ?? options.keyring
    }

    // MARK: - Keys

    /// Looks up every key of the options in the keyring: each `recipient=`, `master=` and owner key must exist,
    /// be unambiguous, not expired, revoked or disabled, have a usable encryption subkey of an algorithm this
    /// build writes (RSA, Curve25519 ECDH). Throws one error listing every problem, each naming its recipient.
    public func validateKeys() throws {
        _ = try resolveKeys()
    }

    /// The recipient sets of this configuration, looked up in the keyring.
    func resolveKeys() throws -> ResolvedKeys {
        let ownerKeys = try options.ownerMap()
        let keyring = try GPGKeyring(homeDirectory: options.keyring)
        var found: [String: OpenPGPRecipient] = [:]
        var problems: [String] = []
        var names = options.recipients
        if let master = options.master { names.append(master) }
        for (_, keys) in ownerKeys.sorted(by: { $0.key < $1.key }) { names += keys }
        var tried: Set<String> = []
        for name in names where tried.insert(name).inserted {
            do {
                let key = try keyring.lookUpRecipient(name)
                do {
                    found[name] = try key.recipient()
                } catch let error as OpenPGPError {
                    problems.append("gpg recipient \(name): key \(key.fingerprint): \(error.message)")
                }
            } catch let error as GPGError {
                problems.append(error.recipient == nil ? "gpg recipient \(name): \(error.message)" : error.description)
            }
        }
        guard problems.isEmpty else { throw GPGStageError(problems.joined(separator: "; ")) }
        func set(_ keyNames: [String]) throws -> RecipientSet {
            var recipients: [OpenPGPRecipient] = []
            for name in keyNames {
                let recipient = found[name]!
                if !recipients.contains(where: { $0.primaryFingerprint == recipient.primaryFingerprint }) {
                    recipients.append(recipient)
                }
            }
            return try RecipientSet(recipients: recipients)
        }
        let master = options.master.map { [$0] } ?? []
        var resolved = ResolvedKeys()
        if !options.recipients.isEmpty {
            let defaultSet = try set(options.recipients + master)
            resolved.sets[defaultSet.id] = defaultSet
            resolved.defaultSet = defaultSet.id
        }
        for (uid, keys) in ownerKeys {
            let ownerSet = try set(keys + master)
            resolved.sets[ownerSet.id] = ownerSet
            resolved.ownerSets[uid] = ownerSet.id
        }
        return resolved
    }

    // MARK: - Job events

    public func handle(_ event: JobEvent, context: StageContext) throws {
        switch event {
        case .jobStarted where context.mode == .backup:
            let resolved = try resolveKeys()
            var sets: [String: BackupKeys.Set] = [:]
            for (id, set) in resolved.sets.sorted(by: { $0.key < $1.key }) {
                let jobKey = try JobKey.random()
                let message = try OpenPGPEncryptor.encrypt(
                    jobKey.bytes, sessionKeys: SessionKeySet(recipients: set.recipients))
                context.recordJobData(key: "gpg.jobkey.\(id)", value: message)
                var shared: (keys: SessionKeySet, wrapped: String)?
                if options.sessionKeyMode == .perJob {
                    let keys = try SessionKeySet(recipients: set.recipients)
                    shared = (keys, Hex.encode(try jobKey.wrap(keys.sessionKey)))
                }
                sets[id] = BackupKeys.Set(
                    recipients: set, jobKey: jobKey, shared: shared?.keys, sharedWrapped: shared?.wrapped)
                context.message(
                    .info,
                    "gpg: key set \(id) encrypts to \(set.fingerprints.joined(separator: ", ")) "
                        + "(\(options.sessionKeyMode.rawValue) session keys)",
                    stage: name)
            }
            let keys = BackupKeys(sets: sets, defaultSet: resolved.defaultSet, ownerSets: resolved.ownerSets)
            backup.withLock { $0 = keys }
        case .jobEnded:
            backup.withLock { $0 = nil }
            jobKeys.withLock { $0.removeAll() }
        default:
            break
        }
    }

    // MARK: - Backup

    public func makeTransform(for item: FileItem, context: StageContext) throws -> (any ByteTransform)? {
        guard item.kind == .file else { return nil }
        guard let keys = backup.withLock({ $0 }) else {
            throw StageFailure(stage: name, path: item.path, message: "no keys: the job start did not load them")
        }
        let uid = item.stat.uid
        guard let id = keys.ownerSets[uid] ?? keys.defaultSet, let set = keys.sets[id] else {
            let user = GPGStageOptions.userName(of: uid).map { " (\($0))" } ?? ""
            throw StageFailure(
                stage: name, path: item.path,
                message: "owner uid \(uid)\(user) has no keys in owner_keys=\(options.ownerKeysFile ?? "") and "
                    + "no recipient= is set: the file is not stored")
        }
        let sessionKeys = try set.shared ?? SessionKeySet(recipients: set.recipients.recipients)
        let wrapped = try set.sharedWrapped ?? Hex.encode(set.jobKey.wrap(sessionKeys.sessionKey))
        let metadata = [
            "gpg.recipients": set.recipients.fingerprints.joined(separator: ","),
            "gpg.cipher": "AES256",
            "gpg.session_key": options.sessionKeyMode.rawValue,
            "gpg.keyset": id,
            "gpg.wrapped_key": wrapped,
        ]
        return GPGFileEncryptor(encryptor: try OpenPGPEncryptor(sessionKeys: sessionKeys), metadata: metadata)
    }

    // MARK: - Restore

    public func makeInverseTransform(for item: RestoreItem, context: StageContext) throws -> (any ByteTransform)? {
        guard item.kind == .file else { return nil }
        func failure(_ message: String) -> StageFailure { StageFailure(stage: name, path: item.path, message: message) }
        guard let setID = item.metadata["gpg.keyset"], let wrappedHex = item.metadata["gpg.wrapped_key"] else {
            throw failure(
                "the catalog has no gpg.keyset and gpg.wrapped_key for this file: decrypt its member with "
                    + "gpg --decrypt (docs/encryption.md)")
        }
        guard setID.count == 16, setID.allSatisfy(\.isHexDigit), let wrapped = Hex.decode(wrappedHex) else {
            throw failure("gpg.keyset or gpg.wrapped_key in the catalog is not hex: the catalog was changed")
        }
        let jobKey: JobKey
        let recipients = item.metadata["gpg.recipients"]
        switch self.jobKey(job: item.jobID, setID: setID, recipients: recipients, context: context) {
        case .success(let key): jobKey = key
        case .failure(let error): throw failure(error.message)
        }
        let sessionKey: OpenPGPSessionKey
        do {
            sessionKey = try jobKey.unwrap(wrapped)
        } catch {
            throw failure(
                "the file's wrapped session key does not unwrap under the job key of key set \(setID): "
                    + "the catalog's wrapped key or the job's key record was changed")
        }
        return try OpenPGPDecryptor(sessionKey: sessionKey)
    }

    /// The job key of (`job`, `setID`): decrypted on first use, then cached, failures included (the first
    /// failure is one job message; every file of the set then fails with a short reference to it).
    private func jobKey(
        job: Int64, setID: String, recipients: String?, context: StageContext
    ) -> Result<JobKey, GPGStageError> {
        jobKeys.withLock { cache in
            let id = "\(job)/\(setID)"
            if let known = cache[id] { return known }
            let result: Result<JobKey, GPGStageError>
            do {
                result = .success(try loadJobKey(job: job, setID: setID, context: context))
            } catch {
                let holders =
                    recipients.map { " (a secret key of \($0.split(separator: ",").joined(separator: ", ")))" } ?? ""
                let detail =
                    "cannot decrypt the job key of key set \(setID) of job \(job) with the keyring "
                    + "\(restoreKeyring ?? "of GNUPGHOME")\(holders): \(error). No file of this job and key set is restored; "
                    + "each can still be decrypted alone with gpg --decrypt by a holder of one of its keys"
                context.message(.error, detail, stage: name)
                result = .failure(
                    GPGStageError(
                        "the job key of key set \(setID) could not be decrypted (see the job's error message)"))
            }
            cache[id] = result
            return result
        }
    }

    private func loadJobKey(job: Int64, setID: String, context: StageContext) throws -> JobKey {
        guard let message = context.jobData(job: job, key: "gpg.jobkey.\(setID)") else {
            throw GPGStageError("job \(job) has no gpg.jobkey.\(setID)")
        }
        let keyring = try GPGKeyring(homeDirectory: restoreKeyring)
        return try JobKey(bytes: keyring.decrypt(message, passphraseFile: passphraseFile))
    }
}

// MARK: - Key sets

/// The keys of one recipient set: the default set (every `recipient=` plus `master=`) or one owner's keys plus
/// `master=`.
struct RecipientSet: Sendable {
    let recipients: [OpenPGPRecipient]
    /// Upper-case hex primary fingerprints, in the order of the recipients.
    let fingerprints: [String]
    /// The set id: the first 16 hex digits of SHA-256 over the sorted fingerprints, one per line.
    let id: String

    /// - Throws: `DigestError` when libcrypto cannot compute SHA-256 (the job then fails at its start).
    init(recipients: [OpenPGPRecipient]) throws {
        self.recipients = recipients
        fingerprints = recipients.map { Hex.encode($0.primaryFingerprint).uppercased() }
        id = try Self.id(of: fingerprints)
    }

    static func id(of fingerprints: [String]) throws -> String {
        let text = fingerprints.map { $0.uppercased() }.sorted().map { $0 + "\n" }.joined()
        return String(Hex.encode(try Digester.digest(.sha256, of: Array(text.utf8))).prefix(16))
    }
}

/// Every recipient set of a configuration, and which files go to which.
struct ResolvedKeys: Sendable {
    var sets: [String: RecipientSet] = [:]
    /// The set of files whose owner has no keys of their own (nil without `recipient=`).
    var defaultSet: String?
    var ownerSets: [UInt32: String] = [:]
}

/// What a running backup job encrypts with.
private final class BackupKeys: Sendable {
    struct Set: Sendable {
        let recipients: RecipientSet
        let jobKey: JobKey
        /// `session_key=per-job`: the set's one session key and PKESKs, and the key wrapped (hex).
        let shared: SessionKeySet?
        let sharedWrapped: String?
    }

    let sets: [String: Set]
    let defaultSet: String?
    let ownerSets: [UInt32: String]

    init(sets: [String: Set], defaultSet: String?, ownerSets: [UInt32: String]) {
        self.sets = sets
        self.defaultSet = defaultSet
        self.ownerSets = ownerSets
    }
}

// MARK: - The per-file transform

/// One file's encryption: an ``OpenPGPEncryptor`` whose metadata (recipients, key set, wrapped session key) is
/// ready before the first byte, so the engine can write it into the member's header.
final class GPGFileEncryptor: ByteTransform, StageMetadataProducer {
    private let encryptor: OpenPGPEncryptor
    let metadata: [String: String]

    init(encryptor: OpenPGPEncryptor, metadata: [String: String]) {
        self.encryptor = encryptor
        self.metadata = metadata
    }

    func process(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) throws {
        try encryptor.process(input, into: &output)
    }

    func finish(into output: inout [UInt8]) throws {
        try encryptor.finish(into: &output)
    }
}

// MARK: - check

extension GPGStage: StageValidation {
    /// What `optionhost check` runs after creating the stage: ``validateKeys()`` against this host's keyring.
    public func validate() throws {
        try validateKeys()
    }
}
