import Pipeline

#if canImport(Glibc)
import Glibc
#endif

/// The options of a `gpg` stage string:
/// `gpg:recipient=FPR_OR_EMAIL[:recipient=...][:master=FPR][:owner_keys=FILE][:keyring=GNUPGHOME]`
/// `[:session_key=per-file|per-job]`.
///
/// `recipient=` may be repeated (every one is a recipient of the default set); every other option at most once.
/// Parsing reads no keyring (restore and `check` create stages too); only `owner_keys=FILE` is read, because its
/// user names become uids here. Keys are looked up by ``GPGStage/validateKeys()``.
struct GPGStageOptions: Sendable, Equatable {
    enum SessionKeyMode: String, Sendable, Equatable {
        case perFile = "per-file"
        case perJob = "per-job"
    }

    typealias Problem = StageOptions.Problem

    /// `recipient=` values, in the order written (duplicates dropped).
    var recipients: [String] = []
    /// `master=`: a key added to every recipient set.
    var master: String?
    /// `owner_keys=`: the file the owner map came from.
    var ownerKeysFile: String?
    /// Owner uid → the names of that owner's keys (from `owner_keys=`), or why the map cannot be used. A
    /// problem of the map (file missing, a bad line, a user unknown on this host) is kept, not thrown: restore
    /// creates the stage from the catalog's chain and needs no map, so a map missing on the restoring host must
    /// not stop it. ``GPGStage/validateKeys()`` and the backup job start throw it.
    var ownerKeys: Result<[UInt32: [String]], Problem> = .success([:])
    /// `keyring=`: the GnuPG home directory (nil: `GNUPGHOME` or `~/.gnupg`).
    var keyring: String?
    var sessionKeyMode = SessionKeyMode.perFile

    static let known = ["recipient", "master", "owner_keys", "keyring", "session_key"]

    init(string: String, ownerLookup: (String) -> UInt32? = GPGStageOptions.uid(ofUser:)) throws(Problem) {
        let options = try StageOptions(string, valid: Self.known, repeatable: ["recipient"])
        for recipient in options.all("recipient") where !recipients.contains(recipient) { recipients.append(recipient) }
        master = options["master"]
        keyring = options["keyring"]
        ownerKeysFile = options["owner_keys"]
        let mode = try options.choice("session_key", ["per-file", "per-job"], default: "per-file")
        sessionKeyMode = SessionKeyMode(rawValue: mode) ?? .perFile
        if let file = ownerKeysFile {
            ownerKeys = Result { () throws(Problem) in
                try Self.parseOwnerKeys(Self.readSmallFile(file), file: file, ownerLookup: ownerLookup)
            }
        }
        guard !recipients.isEmpty || ownerKeysFile != nil else {
            throw Problem(stage: options.stage, message: "give at least one recipient= (or owner_keys=FILE)")
        }
    }

    /// A problem of the owner map, naming the stage as ``StageOptions`` does.
    private static func problem(_ message: String) -> Problem { Problem(stage: "gpg", message: message) }

    /// The owner map; throws its problem, or that nobody can read the files (no `recipient=`, empty map).
    func ownerMap() throws(Problem) -> [UInt32: [String]] {
        let map = try ownerKeys.get()
        guard !recipients.isEmpty || !map.isEmpty else {
            throw Self.problem("owner_keys=\(ownerKeysFile ?? "") names no owner and there is no recipient=")
        }
        return map
    }

    /// Parses an owner map: one owner per line, `OWNER: KEY[, KEY...]`, where OWNER is a user name or a numeric
    /// uid and each KEY a fingerprint or e-mail address; blank lines and `#` comments are ignored. An owner
    /// given twice gets the keys of both lines.
    static func parseOwnerKeys(
        _ text: String, file: String, ownerLookup: (String) -> UInt32?
    ) throws(Problem) -> [UInt32: [String]] {
        var map: [UInt32: [String]] = [:]
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let place = "\(file):\(index + 1)"
            var line = Substring(rawLine)
            if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
            let trimmed = line.trimmed(of: " \t\r")
            guard !trimmed.isEmpty else { continue }
            guard let colon = trimmed.firstIndex(of: ":") else {
                throw Self.problem("\(place): expected \"OWNER: KEY[, KEY...]\", got \"\(trimmed)\"")
            }
            let owner = trimmed[..<colon].trimmed(of: " \t")
            let keys = trimmed[trimmed.index(after: colon)...].split(separator: ",")
                .map { $0.trimmed(of: " \t") }.filter { !$0.isEmpty }
            guard !owner.isEmpty else { throw Self.problem("\(place): no owner before the colon") }
            guard !keys.isEmpty else { throw Self.problem("\(place): owner \(owner) has no key after the colon") }
            let uid: UInt32
            if let number = UInt32(owner) {
                uid = number
            } else if let found = ownerLookup(owner) {
                uid = found
            } else {
                throw Self.problem("\(place): no user \"\(owner)\" on this host")
            }
            for key in keys where !(map[uid]?.contains(key) ?? false) { map[uid, default: []].append(key) }
        }
        return map
    }

    /// The uid of a user name from the system's user database, nil when there is none.
    static func uid(ofUser name: String) -> UInt32? {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16384)
        let status = getpwnam_r(name, &entry, &buffer, buffer.count, &result)
        guard status == 0, let result else { return nil }
        return result.pointee.pw_uid
    }

    /// The user name of a uid, nil when the user database has none.
    static func userName(of uid: UInt32) -> String? {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16384)
        let status = getpwuid_r(uid, &entry, &buffer, buffer.count, &result)
        guard status == 0, let result, let name = result.pointee.pw_name else { return nil }
        return String(cString: name)
    }

    /// Reads a configuration file of at most 1 MiB as UTF-8.
    private static func readSmallFile(_ path: String) throws(Problem) -> String {
        let file: FileDescriptor
        do {
            file = try FileDescriptor.open(path, O_RDONLY)
        } catch {
            throw Self.problem(error.message("owner_keys=\(path): cannot open"))
        }
        let bytes: [UInt8]
        do {
            bytes = try file.closeAfter { () throws(Errno) in try file.read(upTo: (1 << 20) + 1) }
        } catch {
            throw Self.problem(error.message("owner_keys=\(path): cannot read"))
        }
        guard bytes.count <= 1 << 20 else {
            throw Self.problem("owner_keys=\(path): larger than 1 MiB: not an owner map")
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension StringProtocol {
    fileprivate func trimmed(of set: String) -> String {
        let isBlank: (Character) -> Bool = { set.contains($0) }
        guard let first = firstIndex(where: { !isBlank($0) }), let last = lastIndex(where: { !isBlank($0) }) else {
            return ""
        }
        return String(self[first...last])
    }
}
