import Pipeline

/// The frames between the host and a plugin process (`Plugin Isolation = process`) and how each value is laid
/// out. Requests go one at a time; the process answers each with message and data frames, then `done` or
/// `failed`:
///
/// ```
///   host ──► start (job, settings, plugin string) │ decide (a batch of entries) │ claims (paths) │ end (outcome)
///   host ◄── message* · data*/dataEnd per taken file · done (answers, fatal reasons, job data) │ failed (error)
/// ```
enum PluginProtocol {
    // Requests.
    static let start: UInt8 = 1
    static let decide: UInt8 = 2
    static let claims: UInt8 = 3
    static let end: UInt8 = 4
    // Replies.
    static let message: UInt8 = 10
    static let data: UInt8 = 11
    static let dataEnd: UInt8 = 12
    static let done: UInt8 = 13
    static let failed: UInt8 = 14

    /// Bytes of a taken file per data frame.
    static let dataChunk = 256 << 10

    // MARK: - Job

    static func encodeStart(stage: String, settings: PythonPluginSettings, context: StageContext) -> [UInt8] {
        var writer = WireWriter()
        writer.string(stage)
        writer.i64(context.jobID)
        writer.string(context.jobName)
        writer.string(context.level)
        writer.string(context.fileSetName)
        writer.bool(context.since != nil)
        if let since = context.since { timestamp(since, &writer) }
        writer.string(context.clientName)
        writer.string(context.workingDirectory)
        writer.i64(Int64(context.debugLevel))
        timestamp(context.startTime, &writer)
        writer.optionalString(settings.pluginDirectory)
        writer.f64(settings.callTimeout)
        writer.bool(settings.accurate)
        writer.strings(settings.overrides)
        writer.optionalString(settings.configurationPath)
        writer.optionalString(settings.clientName)
        writer.string(settings.fdName)
        return writer.bytes
    }

    /// The plugin string, its settings and the child's own context (its fatal reasons go to `onFatal`).
    static func decodeStart(
        _ payload: [UInt8], onFatal: @escaping @Sendable (String) -> Void
    ) throws -> (stage: String, settings: PythonPluginSettings, context: StageContext) {
        var reader = WireReader(payload)
        let stage = try reader.string()
        let jobID = try reader.i64()
        let jobName = try reader.string()
        let level = try reader.string()
        let fileSetName = try reader.string()
        let since = try reader.bool() ? try timestamp(&reader) : nil
        let clientName = try reader.string()
        let workingDirectory = try reader.string()
        let debugLevel = Int(try reader.i64())
        let startTime = try timestamp(&reader)
        var settings = PythonPluginSettings()
        settings.pluginDirectory = try reader.optionalString()
        settings.callTimeout = try reader.f64()
        settings.accurate = try reader.bool()
        settings.overrides = try reader.strings()
        settings.configurationPath = try reader.optionalString()
        settings.clientName = try reader.optionalString()
        settings.fdName = try reader.string()
        let context = StageContext(
            mode: .backup, jobID: jobID, jobName: jobName, level: level, fileSetName: fileSetName, since: since,
            clientName: clientName, workingDirectory: workingDirectory, debugLevel: debugLevel,
            startTime: startTime, onFatal: onFatal)
        return (stage, settings, context)
    }

    // MARK: - Entries

    private static let kinds: [EntryKind] = [.file, .directory, .symlink, .hardLink, .fifo, .socket, .charDevice, .blockDevice]

    static func encode(_ item: FileItem, facts: PythonPluginStage.BlockFacts, into writer: inout WireWriter) {
        let entry = item.entry
        writer.data(entry.path)
        writer.u8(UInt8(kinds.firstIndex(of: entry.kind) ?? 0))
        let stat = entry.stat
        for value in [stat.dev, stat.ino, UInt64(stat.mode), stat.nlink, UInt64(stat.uid), UInt64(stat.gid), stat.rdev, stat.size, stat.blocks] {
            writer.u64(value)
        }
        timestamp(stat.atime, &writer)
        timestamp(stat.mtime, &writer)
        timestamp(stat.ctime, &writer)
        writer.optionalData(entry.linkTarget)
        writer.i64(Int64(entry.includeIndex))
        writer.i64(Int64(entry.effectiveBlockIndex))
        writer.i64(item.fileIndex)
        metadata(item.metadata, &writer)
        writer.data(facts.flags)
        writer.bool(facts.noAtime)
    }

    static func decodeItem(_ reader: inout WireReader) throws -> (FileItem, PythonPluginStage.BlockFacts) {
        let path = try reader.data()
        let kindIndex = Int(try reader.u8())
        guard kinds.indices.contains(kindIndex) else { throw WireReader.Malformed() }
        var numbers: [UInt64] = []
        for _ in 0..<9 { numbers.append(try reader.u64()) }
        let atime = try timestamp(&reader)
        let mtime = try timestamp(&reader)
        let ctime = try timestamp(&reader)
        let stat = FileStat(
            dev: numbers[0], ino: numbers[1], mode: UInt32(truncatingIfNeeded: numbers[2]), nlink: numbers[3],
            uid: UInt32(truncatingIfNeeded: numbers[4]), gid: UInt32(truncatingIfNeeded: numbers[5]), rdev: numbers[6],
            size: numbers[7], blocks: numbers[8], atime: atime, mtime: mtime, ctime: ctime)
        let linkTarget = try reader.optionalData()
        let includeIndex = Int(try reader.i64())
        let blockIndex = Int(try reader.i64())
        let fileIndex = try reader.i64()
        let metadata = try metadata(&reader)
        let facts = PythonPluginStage.BlockFacts(flags: try reader.data(), noAtime: try reader.bool())
        guard facts.flags.count == 5 else { throw WireReader.Malformed() }
        let entry = SelectedEntry(
            path: path, kind: kinds[kindIndex], stat: stat, linkTarget: linkTarget, includeIndex: includeIndex,
            blockIndex: blockIndex, effectiveBlockIndex: blockIndex, isTopLevel: false, chain: [])
        return (FileItem(entry: entry, fileIndex: fileIndex, metadata: metadata), facts)
    }

    // MARK: - Answers

    /// One entry's answer and the metadata the plugin attached to it.
    static func encode(_ result: Result<StageDecision, any Error>, item: FileItem, stage: String, into writer: inout WireWriter) {
        switch result {
        case .success(.core): writer.u8(0)
        case .success(.skip(let reason)):
            writer.u8(1)
            writer.optionalString(reason)
        case .success(.takeOver): writer.u8(2)
        case .failure(let error):
            let failure = (error as? StageFailure) ?? StageFailure(stage: stage, path: item.path, underlying: error)
            writer.u8(3)
            writer.string(failure.stage)
            writer.string(failure.message)
        }
        metadata(item.metadata, &writer)
    }

    static func decodeResult(
        _ reader: inout WireReader, path: [UInt8]
    ) throws -> (Result<StageDecision, any Error>, [String: String]) {
        let result: Result<StageDecision, any Error>
        switch try reader.u8() {
        case 0: result = .success(.core)
        case 1: result = .success(.skip(reason: try reader.optionalString()))
        case 2: result = .success(.takeOver)
        case 3: result = .failure(StageFailure(stage: try reader.string(), path: path, message: try reader.string()))
        default: throw WireReader.Malformed()
        }
        return (result, try metadata(&reader))
    }

    // MARK: - Messages

    private static let severities: [MessageSeverity] = [.debug, .info, .warning, .error]

    static func encode(_ message: StageMessage) -> [UInt8] {
        var writer = WireWriter()
        writer.u8(UInt8(severities.firstIndex(of: message.severity) ?? 3))
        writer.string(message.text)
        writer.optionalString(message.stage)
        writer.optionalData(message.path)
        timestamp(message.time, &writer)
        return writer.bytes
    }

    static func decodeMessage(_ payload: [UInt8]) throws -> StageMessage {
        var reader = WireReader(payload)
        let index = Int(try reader.u8())
        guard severities.indices.contains(index) else { throw WireReader.Malformed() }
        return StageMessage(
            severity: severities[index], text: try reader.string(), stage: try reader.optionalString(),
            path: try reader.optionalData(), time: try timestamp(&reader))
    }

    // MARK: - Pieces

    static func metadata(_ values: [String: String], _ writer: inout WireWriter) {
        writer.u32(UInt32(values.count))
        for (key, value) in values.sorted(by: { $0.key < $1.key }) {
            writer.string(key)
            writer.string(value)
        }
    }

    static func metadata(_ reader: inout WireReader) throws -> [String: String] {
        var values: [String: String] = [:]
        for _ in 0..<Int(try reader.u32()) {
            let key = try reader.string()
            values[key] = try reader.string()
        }
        return values
    }

    static func timestamp(_ value: FileStat.Timestamp, _ writer: inout WireWriter) {
        writer.i64(value.seconds)
        writer.u32(UInt32(bitPattern: value.nanoseconds))
    }

    static func timestamp(_ reader: inout WireReader) throws -> FileStat.Timestamp {
        FileStat.Timestamp(seconds: try reader.i64(), nanoseconds: Int32(bitPattern: try reader.u32()))
    }
}
