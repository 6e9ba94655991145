import Pipeline

/// What the checksum stage logs for one regular file: its digest, or that it was not stored.
struct ChecksumRecord: Sendable {
    enum Outcome: Sendable, Equatable {
        case digest([UInt8])
        case failed(String)
    }

    /// Absolute path (bytes, D7).
    var path: [UInt8]
    var stat: FileStat
    /// Bytes the digest covers: the file's size, or what reached the stage after a transform.
    var size: UInt64
    var outcome: Outcome
}

/// The job a log line belongs to (jsonl names it on every line).
struct ChecksumJob: Sendable {
    var id: Int64
    var name: String
}

/// The three log formats and how their lines are written and read back for compaction.
///
/// - `sha256sum`: GNU coreutils' `sha256sum` output (`sha512sum`, `sha1sum`, `md5sum`, `b2sum` for the other
///   algorithms): `DIGEST  NAME`. A name holding `\`, newline or carriage return is escaped (`\\`, `\n`, `\r`) and
///   its line starts with `\`, exactly as coreutils 9.1 writes and `-c` reads it. A failed file is
///   `FAILED (reason)  NAME`, which `-c` counts as an improperly formatted line (a warning; `--strict` fails).
/// - `hashdeep`: the `%%%% HASHDEEP-1.0` file with `size,ALGORITHM,filename` columns (md5, sha1, sha256 only).
///   `##` lines are comments for `hashdeep -k`: a failed file is `## FAILED (reason)  NAME`, a name with a
///   newline or carriage return (which the format cannot hold) is `## UNREPRESENTABLE  NAME` (escaped as above).
/// - `jsonl`: one JSON object per file, append-only history (never compacted).
///
/// Names are relative to `/` (D8): `cd / && sha256sum -c LOG` checks the live tree.
enum ChecksumLogFormat: String, Sendable, CaseIterable {
    case sha256sum, hashdeep, jsonl

    /// The algorithms `hashdeep` computes and reads (its `-c` names).
    static let hashdeepNames: [DigestAlgorithm: String] = [.md5: "md5", .sha1: "sha1", .sha256: "sha256"]

    /// True when the log keeps only the newest line of each path (rewritten at job end).
    var compacts: Bool { self != .jsonl }

    /// What a new (empty) log starts with.
    func header(algorithm: DigestAlgorithm) -> [UInt8] {
        guard self == .hashdeep, let name = Self.hashdeepNames[algorithm] else { return [] }
        let lines = [
            "%%%% HASHDEEP-1.0",
            "%%%% size,\(name),filename",
            "## Invoked from: /",
            "## optionhost checksum log: names are relative to /; audit: cd / && hashdeep -o f -l -r -a -k LOG DIR",
            "## ",
        ]
        return Array(lines.map { $0 + "\n" }.joined().utf8)
    }

    /// The log line of `record` (newline included).
    func line(_ record: ChecksumRecord, algorithm: DigestAlgorithm, job: ChecksumJob) -> [UInt8] {
        let name = Self.relativeName(record.path)
        switch self {
        case .sha256sum:
            let (escaped, text) = Self.coreutilsEscape(name)
            var line: [UInt8] = []
            line.reserveCapacity(1 + algorithm.length * 2 + 2 + text.count + 1)
            if escaped { line.append(UInt8(ascii: "\\")) }
            switch record.outcome {
            case .digest(let digest): Self.appendHex(digest, to: &line)
            case .failed(let reason): line += "FAILED (\(Self.oneLine(reason)))".utf8
            }
            line += [0x20, 0x20]
            line += text
            line.append(0x0A)
            return line
        case .hashdeep:
            let representable = !name.contains(UInt8(ascii: "\n")) && !name.contains(UInt8(ascii: "\r"))
            switch record.outcome {
            case .digest(let digest) where representable:
                return Array("\(record.size),\(Hex.encode(digest)),".utf8) + name + [UInt8(ascii: "\n")]
            case .digest:
                return Array("## UNREPRESENTABLE  ".utf8) + Self.coreutilsEscape(name).text + [UInt8(ascii: "\n")]
            case .failed(let reason):
                return Array("## FAILED (\(Self.oneLine(reason)))  ".utf8) + Self.coreutilsEscape(name).text
                    + [UInt8(ascii: "\n")]
            }
        case .jsonl:
            var object = JSONObject()
            object.add("time", ChecksumLogName.isoTime(Clock.realtime()))
            object.add("job_id", job.id)
            object.add("job", job.name)
            object.addPath(name)
            object.add("size", record.size)
            object.add("mtime", record.stat.mtime.seconds)
            object.add("mode", record.stat.mode & 0o7777)
            object.add("uid", record.stat.uid)
            object.add("gid", record.stat.gid)
            object.add("algorithm", algorithm.checksumName)
            switch record.outcome {
            case .digest(let digest):
                object.add("status", "ok")
                object.add("digest", Hex.encode(digest))
            case .failed(let reason):
                object.add("status", "failed")
                object.add("error", reason)
            }
            return object.line
        }
    }

    /// The name a line of this format is about (as written, escaped), for compaction; nil for lines that are not
    /// about a file (headers, comments, anything unknown), which compaction keeps.
    func key(ofLine line: ArraySlice<UInt8>) -> ArraySlice<UInt8>? {
        switch self {
        case .sha256sum:
            var body = line
            if body.first == UInt8(ascii: "\\") { body = body.dropFirst() }
            guard let separator = Self.firstDoubleSpace(body) else { return nil }
            return line[(separator + 2)...]
        case .hashdeep:
            if line.starts(with: "## FAILED (".utf8) || line.starts(with: "## UNREPRESENTABLE  ".utf8) {
                guard let separator = Self.firstDoubleSpace(line.dropFirst(3)) else { return nil }
                return line[(separator + 2)...]
            }
            guard let first = line.first, (0x30...0x39).contains(first) else { return nil }
            guard let comma = line.firstIndex(of: UInt8(ascii: ",")),
                let second = line[(comma + 1)...].firstIndex(of: UInt8(ascii: ","))
            else { return nil }
            return line[(second + 1)...]
        case .jsonl:
            return nil
        }
    }

    // MARK: - Names

    /// `path` relative to `/`: leading slashes removed (D8).
    static func relativeName(_ path: [UInt8]) -> ArraySlice<UInt8> {
        guard let start = path.firstIndex(where: { $0 != UInt8(ascii: "/") }) else { return ArraySlice(".".utf8) }
        return path[start...]
    }

    /// Lower-case hex digits of `bytes` appended to `line` (`Hex.encode` without the String).
    private static func appendHex(_ bytes: [UInt8], to line: inout [UInt8]) {
        for byte in bytes {
            line.append(hexDigits[Int(byte >> 4)])
            line.append(hexDigits[Int(byte & 0x0F)])
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// coreutils' escaping of a file name in checksum lines: `\` → `\\`, newline → `\n`, carriage return → `\r`;
    /// `escaped` is true when anything changed (the line then starts with `\`).
    static func coreutilsEscape(_ name: ArraySlice<UInt8>) -> (escaped: Bool, text: ArraySlice<UInt8>) {
        let special: (UInt8) -> Bool = { $0 == UInt8(ascii: "\\") || $0 == 0x0A || $0 == 0x0D }
        guard name.contains(where: special) else { return (false, name) }
        var text: [UInt8] = []
        text.reserveCapacity(name.count + 8)
        for byte in name {
            switch byte {
            case UInt8(ascii: "\\"): text += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case 0x0A: text += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case 0x0D: text += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            default: text.append(byte)
            }
        }
        return (true, text[...])
    }

    /// A reason on one line, without runs of blanks or parentheses (so the first double space of a line ends it).
    static func oneLine(_ text: String) -> String {
        var out = ""
        for char in text {
            let replaced: Character = char.isNewline || char == "\t" || char == "(" || char == ")" ? " " : char
            if replaced == " " && out.last == " " { continue }
            out.append(replaced)
        }
        while out.last == " " { out.removeLast() }
        return out
    }

    private static func firstDoubleSpace(_ bytes: ArraySlice<UInt8>) -> Int? {
        var index = bytes.startIndex
        while index + 1 < bytes.endIndex {
            if bytes[index] == 0x20 && bytes[index + 1] == 0x20 { return index }
            index += 1
        }
        return nil
    }
}

extension DigestAlgorithm {
    /// The spelling of the checksum stage's `algorithm=` option and of jsonl logs.
    var checksumName: String {
        switch self {
        case .md5: return "md5"
        case .sha1: return "sha1"
        case .sha256: return "sha256"
        case .sha512: return "sha512"
        case .blake2b512: return "blake2b-512"
        case .xxh128: return "xxh128"
        }
    }
}
