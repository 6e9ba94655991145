import Pipeline

/// `checksum`: a per-file checksum log written during the backup from the bytes the host reads (never a second
/// read), in a format the standard tools check: `sha256sum -c` (and `sha512sum`, `sha1sum`, `md5sum`, `b2sum`),
/// `hashdeep -a -k`, or JSON Lines.
///
/// ```
/// checksum:log=/var/log/optionhost/%j.sha256
/// checksum:algorithm=sha512:format=sha256sum:log=/var/log/%j-%i.sha512
/// checksum:algorithm=md5:format=hashdeep:log=/var/log/%j.hashdeep
/// ```
///
/// The stage observes regular files at its place in the chain (D2): before any transform it sees the source
/// bytes, and with `algorithm=sha256` it reuses the SHA-256 the host computes anyway (no byte is hashed twice);
/// after a transform (e.g. `gpg`) it logs the digest of the transformed bytes. A file that is not stored is
/// logged as failed, never with a digest. The log is opened at job start and fsync'd (and, for the `sha256sum`
/// and `hashdeep` formats, compacted: the newest line of each name wins) at job end; see `ChecksumLogFile`.
public final class ChecksumStage: Stage {
    public static let optionNames = ["algorithm", "format", "log"]
    static let algorithms: [String: DigestAlgorithm] = [
        "sha256": .sha256, "sha512": .sha512, "sha1": .sha1, "md5": .md5, "blake2b-512": .blake2b512,
    ]

    public let name: String
    let algorithm: DigestAlgorithm
    let format: ChecksumLogFormat
    /// `log=` before substitutions.
    let template: String
    /// The log of the running backup job (nil outside a backup).
    private let log = Locked<ChecksumLogFile?>(nil)
    /// No restore role (no inverse transform, no sink).
    public var restoresConcurrently: Bool { true }

    public init(string: String, environment: StageEnvironment = StageEnvironment()) throws(StageOptions.Problem) {
        let options = try StageOptions(string, valid: Self.optionNames)
        name = string
        let algorithmName = try options.choice(
            "algorithm", ["sha256", "sha512", "sha1", "md5", "blake2b-512"], default: "sha256")
        algorithm = Self.algorithms[algorithmName]!
        format = ChecksumLogFormat(
            rawValue: try options.choice("format", ChecksumLogFormat.allCases.map(\.rawValue), default: "sha256sum"))!
        template = try options.required("log", purpose: "the checksum log file, e.g. log=/var/log/optionhost/%j.sha256")
        if let problem = ChecksumLogName.problem(in: template) {
            throw StageOptions.Problem(stage: options.stage, message: problem)
        }
        if !template.hasPrefix("/") {
            throw StageOptions.Problem(stage: options.stage, message: "log=\(template) must be an absolute path")
        }
        if format == .hashdeep && ChecksumLogFormat.hashdeepNames[algorithm] == nil {
            throw StageOptions.Problem(
                stage: options.stage,
                message: "format=hashdeep takes algorithm=md5, sha1 or sha256 (what hashdeep computes), "
                    + "not \(algorithmName)")
        }
    }

    public func handle(_ event: JobEvent, context: StageContext) throws {
        guard context.mode == .backup else { return }
        switch event {
        case .jobStarted:
            let path = ChecksumLogName.expand(
                template, jobName: context.jobName, jobID: context.jobID, level: context.level,
                start: context.startTime)
            let opened = try ChecksumLogFile(path: path, format: format, algorithm: algorithm)
            let previous = log.withLock { current in
                defer { current = opened }
                return current
            }
            try previous?.close(compact: true)
        case .fileSetEnded:
            break
        case .jobEnded:
            let current = log.withLock { current in
                defer { current = nil }
                return current
            }
            if let current {
                let lines = try current.close(compact: true)
                context.message(.info, "checksum log \(current.path): \(lines) files logged", stage: name)
            }
        }
    }

    public func makeObserver(
        for item: FileItem, placement: ObserverPlacement, context: StageContext
    ) throws -> (any ByteObserver)? {
        guard item.kind == .file, let log = log.withLock({ $0 }) else { return nil }
        let reuse = algorithm == .sha256 && placement.seesSourceBytes
        return ChecksumObserver(
            stage: name, log: log, digester: reuse ? nil : try Digester(algorithm), path: item.path, stat: item.stat,
            job: ChecksumJob(id: context.jobID, name: context.jobName))
    }
}

/// The checksum stage's view of one file: hashes what goes by (or takes the host's SHA-256) and logs one line.
final class ChecksumObserver: ByteObserver {
    private let stage: String
    private let log: ChecksumLogFile
    /// Nil when the host's SHA-256 of the source is the digest to log.
    private let digester: Digester?
    private let path: [UInt8]
    private let stat: FileStat
    private let job: ChecksumJob

    init(stage: String, log: ChecksumLogFile, digester: Digester?, path: [UInt8], stat: FileStat, job: ChecksumJob) {
        self.stage = stage
        self.log = log
        self.digester = digester
        self.path = path
        self.stat = stat
        self.job = job
    }

    var needsBytes: Bool { digester != nil }

    func observe(_ bytes: UnsafeRawBufferPointer) {
        digester?.update(bytes)
    }

    func finish(_ file: ObservedFile) throws -> ObserverResult {
        let digest: [UInt8]
        if let digester {
            digest = try digester.finalize()
        } else if let source = file.sourceSHA256 {
            digest = source
        } else {
            throw StageFailure(stage: stage, path: path, message: "the host gave no SHA-256 of the source bytes")
        }
        try write(.digest(digest), size: file.bytesObserved)
        return ObserverResult()
    }

    func abandon(reason: String) {
        // A failed line only goes to memory; a write error surfaces at the next batch or at job end.
        try? write(.failed(reason), size: stat.size)
    }

    private func write(_ outcome: ChecksumRecord.Outcome, size: UInt64) throws {
        let record = ChecksumRecord(path: path, stat: stat, size: size, outcome: outcome)
        try log.append(log.format.line(record, algorithm: log.algorithm, job: job))
    }
}
