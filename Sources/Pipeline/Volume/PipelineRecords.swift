/// The volume record format: every `OPTIONPIPELINE.*` pax record a volume carries, encoded and decoded in this one
/// place. Backup writes them, `scan` reads them back into catalog rows; other tar readers ignore them.
///
/// - **Member records**, in the extended header of a stored entry: the catalog fields the ustar/pax header has no
///   room for (job, file index, original path, source size, inode identity, digests, signature, hard-link target,
///   chain, stage metadata, Options block, compression).
/// - **Label**, a global header at the start of every volume: `OPTIONPIPELINE.label.*` (job, name, client, level,
///   FileSet, start and since times, volume sequence, restore chain) and the job data of stages
///   (`OPTIONPIPELINE.jobdata.KEY`).
/// - **Late metadata**, a global header right after a streamed member whose stage metadata changed after its header
///   was written: `OPTIONPIPELINE.late.index` and `OPTIONPIPELINE.late.metadata`.
/// - **Trailer**, a global header at the end of a job's last volume: `OPTIONPIPELINE.trailer.*` (end time and
///   counts) and one `OPTIONPIPELINE.deleted` record per path an Accurate job found gone.
///
/// Numbers are decimal text, digests lower-case hex, times `SECONDS.NANOSECONDS`, paths and link targets raw bytes
/// (names that are not UTF-8 survive), chain and metadata the catalog's JSON.
enum PipelineRecords {
    typealias Record = VolumeMember.Record

    /// The keys, each with the `OPTIONPIPELINE.` prefix every record carries.
    enum Key {
        static let job = "OPTIONPIPELINE.job"
        static let index = "OPTIONPIPELINE.index"
        static let path = "OPTIONPIPELINE.path"
        static let size = "OPTIONPIPELINE.size"
        static let inode = "OPTIONPIPELINE.inode"
        static let link = "OPTIONPIPELINE.link"
        static let chain = "OPTIONPIPELINE.chain"
        static let metadata = "OPTIONPIPELINE.metadata"
        static let block = "OPTIONPIPELINE.block"
        static let compression = "OPTIONPIPELINE.compression"
        static let sourceSHA256 = "OPTIONPIPELINE.source_sha256"
        static let storedSHA256 = "OPTIONPIPELINE.stored_sha256"
        static let signature = "OPTIONPIPELINE.signature"
        static let lateIndex = "OPTIONPIPELINE.late.index"
        static let lateMetadata = "OPTIONPIPELINE.late.metadata"
        static let deleted = "OPTIONPIPELINE.deleted"
        static let labelPrefix = "OPTIONPIPELINE.label."
        static let trailerPrefix = "OPTIONPIPELINE.trailer."
        static let jobDataPrefix = "OPTIONPIPELINE.jobdata."
    }

    /// A record whose value cannot be read.
    struct DecodeError: Error, Sendable, CustomStringConvertible {
        var description: String

        init(_ description: String) { self.description = description }

        static func bad(_ key: String, _ value: [UInt8]) -> DecodeError {
            DecodeError("bad \(key) record \"\(String(decoding: value.prefix(80), as: UTF8.self))\"")
        }
    }

    // MARK: - Member records

    /// The member records of a stored entry (all but compression, which `compression(_:)` adds with the member's
    /// transforms, and the digests of a streamed member, which start as `digestPlaceholders`).
    static func member(_ record: FileRecord, jobID: JobID) -> [Record] {
        var records = [
            Record(key: Key.job, value: Array(String(jobID.rawValue).utf8)),
            Record(key: Key.index, value: Array(String(record.fileIndex).utf8)),
            Record(key: Key.path, value: record.path),
            Record(key: Key.size, value: Array(String(record.size).utf8)),
            // Identity of the inode, so a scanned catalog can tell hard links and replaced files apart.
            Record(key: Key.inode, value: Array("\(record.device):\(record.inode):\(record.nlink)".utf8)),
        ]
        records += digests(record)
        if record.kind == .hardLink, let link = record.linkTarget {
            records.append(Record(key: Key.link, value: link))
        }
        if !record.chain.isEmpty {
            records.append(Record(key: Key.chain, value: CatalogJSON.encode(record.chain)))
        }
        if !record.stageMetadata.isEmpty {
            records.append(Record(key: Key.metadata, value: CatalogJSON.encode(record.stageMetadata)))
        }
        if let block = record.block {
            records.append(Record(key: Key.block, value: Array(String(block).utf8)))
        }
        return records
    }

    /// The codec of a compressed member (`gzip`, `lz4`).
    static func compression(_ name: String) -> Record {
        Record(key: Key.compression, value: Array(name.utf8))
    }

    /// The compression a member's records name, if any.
    static func compressionName(_ records: [Record]) -> String? {
        records.first { $0.key == Key.compression }.map { String(decoding: $0.value, as: UTF8.self) }
    }

    /// Fixed-width placeholders for the digest records of a streamed member (its header is written before the
    /// digests are known); `digests` has the same keys and lengths and is patched in at the end.
    static func digestPlaceholders(signature: DigestAlgorithm?) -> [Record] {
        let zeros = UInt8(ascii: "0")
        var records = [
            Record(key: Key.sourceSHA256, value: [UInt8](repeating: zeros, count: 64)),
            Record(key: Key.storedSHA256, value: [UInt8](repeating: zeros, count: 64)),
        ]
        if let signature {
            records.append(
                Record(
                    key: Key.signature,
                    value: Array("\(signature.rawValue):".utf8) + [UInt8](repeating: zeros, count: signature.length * 2)))
        }
        return records
    }

    /// The digest records of a finished member (same keys and lengths as `digestPlaceholders`).
    static func digests(_ record: FileRecord) -> [Record] {
        var records: [Record] = []
        if let digest = record.sourceSHA256 {
            records.append(Record(key: Key.sourceSHA256, value: Array(Hex.encode(digest).utf8)))
        }
        if let digest = record.storedSHA256 {
            records.append(Record(key: Key.storedSHA256, value: Array(Hex.encode(digest).utf8)))
        }
        if let algorithm = record.signatureAlgorithm, let signature = record.signature {
            records.append(Record(key: Key.signature, value: Array("\(algorithm):\(Hex.encode(signature))".utf8)))
        }
        return records
    }

    /// What a member's records say; nil where the member has no such record (volumes written before a record
    /// existed, and members of directories, links and specials of older volumes, carry fewer).
    struct Member: Equatable {
        var jobID: Int64?
        var fileIndex: Int64?
        var path: [UInt8]?
        var size: UInt64?
        /// `device:inode:nlink`.
        var device: UInt64?
        var inode: UInt64?
        var nlink: UInt64?
        /// The original path of a hard link's first name.
        var link: [UInt8]?
        var sourceSHA256: [UInt8]?
        var storedSHA256: [UInt8]?
        var signatureAlgorithm: String?
        var signature: [UInt8]?
        var chain: [String] = []
        var stageMetadata: [String: String] = [:]
        var block: Int?
        var compression: String?
    }

    /// Decodes member records. Consecutive members mostly carry the same chain and metadata: `memo` keeps the last
    /// decoded ones so their JSON is parsed once.
    struct MemberDecoder {
        private var chainMemo: ([UInt8], [String]) = ([], [])
        private var metadataMemo: ([UInt8], [String: String]) = ([], [:])

        init() {}

        mutating func decode(_ records: [Record]) throws(DecodeError) -> Member {
            var member = Member()
            for item in records {
                switch item.key {
                case Key.job:
                    member.jobID = try PipelineRecords.decimal(item)
                case Key.index:
                    member.fileIndex = try PipelineRecords.decimal(item)
                case Key.path:
                    member.path = item.value
                case Key.link:
                    member.link = item.value
                case Key.inode:
                    // device:inode:nlink (anything else is ignored, as volumes before this record leave them 0).
                    let parts = item.value.split(separator: UInt8(ascii: ":"))
                        .map { UInt64(String(decoding: $0, as: UTF8.self)) }
                    if parts.count == 3, let device = parts[0], let inode = parts[1], let nlink = parts[2] {
                        (member.device, member.inode, member.nlink) = (device, inode, nlink)
                    }
                case Key.size:
                    member.size = UInt64(try PipelineRecords.decimal(item))
                case Key.sourceSHA256:
                    member.sourceSHA256 = try PipelineRecords.sha256(item)
                case Key.storedSHA256:
                    member.storedSHA256 = try PipelineRecords.sha256(item)
                case Key.signature:
                    guard let colon = item.value.firstIndex(of: UInt8(ascii: ":")), colon > 0,
                        let digest = Hex.decode(item.value[(colon + 1)...])
                    else { throw .bad(item.key, item.value) }
                    member.signatureAlgorithm = String(decoding: item.value[..<colon], as: UTF8.self)
                    member.signature = digest
                case Key.chain:
                    if item.value != chainMemo.0 { chainMemo = (item.value, try PipelineRecords.jsonArray(item)) }
                    member.chain = chainMemo.1
                case Key.metadata:
                    if item.value != metadataMemo.0 {
                        metadataMemo = (item.value, try PipelineRecords.jsonObject(item))
                    }
                    member.stageMetadata = metadataMemo.1
                case Key.block:
                    member.block = Int(try PipelineRecords.decimal(item))
                case Key.compression:
                    member.compression = String(decoding: item.value, as: UTF8.self)
                default:
                    break
                }
            }
            return member
        }
    }

    // MARK: - Late metadata

    /// The global header that follows a streamed member whose stage metadata changed after its header was written
    /// (a transform's figures known at its end): the member's file index and its whole final metadata.
    static func lateMetadata(_ record: FileRecord) -> [Record] {
        [
            Record(key: Key.lateIndex, value: Array(String(record.fileIndex).utf8)),
            Record(key: Key.lateMetadata, value: CatalogJSON.encode(record.stageMetadata)),
        ]
    }

    /// The late metadata a global header holds: nil when it is not a late-metadata header (then it is part of the
    /// trailer).
    static func decodeLateMetadata(
        _ records: [Record]
    ) throws(DecodeError) -> (fileIndex: Int64, metadata: [String: String])? {
        guard let index = records.first(where: { $0.key == Key.lateIndex }) else { return nil }
        guard let json = records.first(where: { $0.key == Key.lateMetadata }) else {
            throw DecodeError("\(Key.lateIndex) without \(Key.lateMetadata)")
        }
        return (try decimal(index), try jsonObject(json))
    }

    // MARK: - Label

    /// One label record: `OPTIONPIPELINE.label.KEY`.
    static func label(_ key: String, _ value: String) -> Record {
        Record(key: Key.labelPrefix + key, value: Array(value.utf8))
    }

    /// One job datum of a stage in the label: `OPTIONPIPELINE.jobdata.KEY`, the value as raw bytes.
    static func jobDatum(_ datum: JobDatum) -> Record {
        Record(key: Key.jobDataPrefix + datum.key, value: datum.value)
    }

    /// Whether a global header is a job label.
    static func isLabel(_ records: [Record]) -> Bool {
        records.contains { $0.key == Key.labelPrefix + "job" }
    }

    /// A job label: the first global header of every volume.
    struct Label: Equatable {
        var jobID: JobID
        var name: String
        /// `OPTIONPIPELINE.label.client`: the job's client (`jobs.client_name`), so `scan` rebuilds it; nil for
        /// volumes written before the record existed.
        var clientName: String?
        /// As the label spells it: `Full`, `Incremental`, `Differential` (or the one-letter code).
        var level: String
        var fileSetName: String
        var fileSetDigest: String
        var start: FileStat.Timestamp
        var since: FileStat.Timestamp?
        var sequence: Int64
        /// `OPTIONPIPELINE.label.chain`: the JobIds the job's restore chain needed when it started (written since
        /// schema 4 for Differential and Incremental jobs; nil when the label has none).
        var chainJobs: [JobID]?
        /// What stages recorded with the job, in label order.
        var jobData: [JobDatum] = []

        /// The level as the catalog keeps it.
        var jobLevel: JobLevel {
            switch level.lowercased() {
            case "full", "f": return .full
            case "incremental", "i": return .incremental
            case "differential", "d": return .differential
            default: return JobLevel(rawValue: level)
            }
        }

        var records: [Record] {
            var records = [
                label("job", String(jobID.rawValue)), label("name", name), label("level", level),
                label("fileset", fileSetName), label("fileset_digest", fileSetDigest),
                label("start", PipelineRecords.decimalTime(start)), label("volume", String(sequence)),
            ]
            if let clientName { records.append(label("client", clientName)) }
            if let since { records.append(label("since", PipelineRecords.decimalTime(since))) }
            if let chainJobs, !chainJobs.isEmpty { records.append(label("chain", JobRecord.encodeChainJobs(chainJobs))) }
            return records + jobData.map(jobDatum)
        }

        init(
            jobID: JobID, name: String, clientName: String? = nil, level: String, fileSetName: String,
            fileSetDigest: String, start: FileStat.Timestamp, since: FileStat.Timestamp?, sequence: Int64,
            jobData: [JobDatum] = []
        ) {
            self.jobID = jobID
            self.name = name
            self.clientName = clientName
            self.level = level
            self.fileSetName = fileSetName
            self.fileSetDigest = fileSetDigest
            self.start = start
            self.since = since
            self.sequence = sequence
            self.jobData = jobData
        }

        init(decoding records: [Record]) throws(DecodeError) {
            for record in records where record.key.hasPrefix(Key.jobDataPrefix) {
                jobData.append(JobDatum(key: String(record.key.dropFirst(Key.jobDataPrefix.count)), value: record.value))
            }
            let values = PipelineRecords.values(records, prefix: Key.labelPrefix)
            func required(_ key: String) throws(DecodeError) -> String {
                guard let value = values[key] else {
                    throw DecodeError("the job label has no \(Key.labelPrefix)\(key) record")
                }
                return value
            }
            func bad(_ key: String) -> DecodeError {
                DecodeError("bad \(Key.labelPrefix)\(key) value \"\(values[key] ?? "")\"")
            }
            guard let id = Int64(try required("job")), id > 0 else { throw bad("job") }
            guard let sequence = Int64(try required("volume")), sequence > 0 else { throw bad("volume") }
            jobID = JobID(rawValue: id)
            name = try required("name")
            clientName = values["client"]
            level = try required("level")
            fileSetName = try required("fileset")
            fileSetDigest = try required("fileset_digest")
            guard let start = PipelineRecords.timestamp(try required("start")) else { throw bad("start") }
            self.start = start
            chainJobs = values["chain"].map(JobRecord.decodeChainJobs)
            if let text = values["since"] {
                guard let since = PipelineRecords.timestamp(text) else { throw bad("since") }
                self.since = since
            }
            self.sequence = sequence
        }

        /// The same job (everything but the volume sequence; the client too, as every volume of a job names it).
        func sameJob(as other: Label) -> Bool {
            var copy = other
            copy.sequence = sequence
            return copy == self
        }
    }

    // MARK: - Trailer

    /// One trailer record: `OPTIONPIPELINE.trailer.KEY`.
    static func trailer(_ key: String, _ value: String) -> Record {
        Record(key: Key.trailerPrefix + key, value: Array(value.utf8))
    }

    /// One path an Accurate job found gone (raw bytes).
    static func deleted(_ path: [UInt8]) -> Record {
        Record(key: Key.deleted, value: path)
    }

    /// A job trailer: the records of the global headers after the last member of the job's last volume.
    struct Trailer: Equatable {
        /// Whether any `OPTIONPIPELINE.trailer.*` record was there (a job that did not finish has none).
        var present: Bool
        var jobID: Int64?
        var end: FileStat.Timestamp?
        /// The counts by name (`files_examined`, `bytes_stored`, ...), 0 when absent.
        var counts: [String: Int64]
        /// `status`, when the trailer names one.
        var status: String?
        /// The `deleted` paths, in record order.
        var deleted: [[UInt8]]

        static let countNames = [
            "files_examined", "files_stored", "files_skipped", "files_failed", "entries_stored", "bytes_read",
            "bytes_stored", "errors", "warnings",
        ]

        init(decoding records: [Record]) throws(DecodeError) {
            deleted = records.filter { $0.key == Key.deleted }.map(\.value)
            present = records.contains { $0.key.hasPrefix(Key.trailerPrefix) }
            let values = PipelineRecords.values(records, prefix: Key.trailerPrefix)
            func bad(_ key: String) -> DecodeError {
                DecodeError("bad \(Key.trailerPrefix)\(key) value \"\(values[key] ?? "")\"")
            }
            if let text = values["job"] {
                guard let id = Int64(text) else { throw bad("job") }
                jobID = id
            }
            if let text = values["end"] {
                guard let end = PipelineRecords.timestamp(text) else { throw bad("end") }
                self.end = end
            }
            counts = [:]
            for name in Trailer.countNames {
                guard let text = values[name] else { continue }
                guard let value = Int64(text), value >= 0 else { throw bad(name) }
                counts[name] = value
            }
            status = values["status"]
        }

        func count(_ name: String) -> Int64 { counts[name] ?? 0 }
    }

    // MARK: - Values

    /// `seconds.nnnnnnnnn`, the way pax writes times (nine digits of nanoseconds).
    static func decimalTime(_ time: FileStat.Timestamp) -> String {
        let nanos = String(time.nanoseconds)
        return "\(time.seconds)." + String(repeating: "0", count: max(0, 9 - nanos.count)) + nanos
    }

    /// `SECONDS.NANOSECONDS` as labels and trailers hold it: the part after the dot is the nanosecond count, read
    /// as an integer (older writers did not pad it to 9 digits; a padded value reads the same).
    static func timestamp(_ text: String) -> FileStat.Timestamp? {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let seconds = Int64(parts[0]) else { return nil }
        var nanoseconds: Int32 = 0
        if parts.count == 2 {
            guard let value = Int32(parts[1]), value >= 0, value < 1_000_000_000 else { return nil }
            nanoseconds = value
        }
        return FileStat.Timestamp(seconds: seconds, nanoseconds: nanoseconds)
    }

    /// The records under `prefix`, keyed by what follows it, values as UTF-8 text.
    private static func values(_ records: [Record], prefix: String) -> [String: String] {
        var values: [String: String] = [:]
        for record in records where record.key.hasPrefix(prefix) {
            values[String(record.key.dropFirst(prefix.count))] = String(decoding: record.value, as: UTF8.self)
        }
        return values
    }

    private static func decimal(_ record: Record) throws(DecodeError) -> Int64 {
        guard let value = PaxFormat.parseDecimal(record.value), value <= UInt64(Int64.max) else {
            throw .bad(record.key, record.value)
        }
        return Int64(value)
    }

    private static func sha256(_ record: Record) throws(DecodeError) -> [UInt8] {
        guard let digest = Hex.decode(record.value), digest.count == 32 else { throw .bad(record.key, record.value) }
        return digest
    }

    private static func jsonArray(_ record: Record) throws(DecodeError) -> [String] {
        do {
            return try record.value.withUnsafeBufferPointer { (bytes) throws(CatalogError) in
                try CatalogJSON.decodeArray(bytes, what: "\(record.key) record")
            }
        } catch {
            throw DecodeError("\(error)")
        }
    }

    private static func jsonObject(_ record: Record) throws(DecodeError) -> [String: String] {
        do {
            return try record.value.withUnsafeBufferPointer { (bytes) throws(CatalogError) in
                try CatalogJSON.decodeObject(bytes, what: "\(record.key) record")
            }
        } catch {
            throw DecodeError("\(error)")
        }
    }
}
