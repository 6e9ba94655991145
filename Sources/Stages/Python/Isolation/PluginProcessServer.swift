import BareosFD
import CLinux
import Pipeline

#if canImport(Glibc)
import Glibc
#endif

/// The plugin process's side (`optionhost plugin-process`, started by `PluginProcess`): one Python plugin string
/// of one backup job, run by the same `PythonPluginStage` and embedded CPython as in-process, answering the host's
/// requests on the socket at descriptor 3. Before every plugin call the crash note (the plugin, the entry point,
/// the file) is copied into the memory at descriptor 4, which the host reads if this process dies.
public enum PluginProcessServer {
    /// The socket to the host.
    static let socketDescriptor: Int32 = 3
    /// The memfd holding the crash note the host reads.
    static let noteDescriptor: Int32 = 4
    static let noteSize = 4096

    /// Serves requests until the host sends `end` or closes the socket; the process's exit status.
    public static func run() -> Int32 {
        MallocTuning.applyForPluginProcess()
        // No PR_SET_PDEATHSIG: it fires when the host *thread* that started this process ends, which a worker
        // thread may do mid-job. A host that dies closes the socket instead, and the next read here ends this loop.
        if let region = mmap(nil, noteSize, PROT_READ | PROT_WRITE, MAP_SHARED, noteDescriptor, 0), region != MAP_FAILED {
            opfd_crash_note_share(region, noteSize, 1)
        }
        close(noteDescriptor)
        let channel = PluginChannel(descriptor: socketDescriptor)
        let fatal = Locked<[String]>([])
        var session: (stage: PythonPluginStage, context: StageContext)?
        while true {
            let frame: (type: UInt8, payload: [UInt8])?
            do {
                frame = try channel.receive()
            } catch {
                return 2
            }
            guard let frame else { return 0 }  // the host closed the socket: nothing more to do
            do {
                switch frame.type {
                case PluginProtocol.start:
                    let (string, settings, context) = try PluginProtocol.decodeStart(frame.payload) { reason in
                        fatal.withLock { $0.append(reason) }
                    }
                    let stage = try PythonPluginStage(string: string, settings: settings)
                    session = (stage, context)
                    do {
                        try stage.handle(.jobStarted, context: context)
                    } catch {
                        try reply(failed: error, channel: channel, context: context, fatal: fatal)
                        continue
                    }
                    try reply(channel: channel, context: context, fatal: fatal, body: WireWriter())
                case PluginProtocol.decide:
                    guard let (stage, context) = session else { throw WireReader.Malformed() }
                    try decide(frame.payload, stage: stage, context: context, channel: channel, fatal: fatal)
                case PluginProtocol.claims:
                    guard let (stage, context) = session else { throw WireReader.Malformed() }
                    var reader = WireReader(frame.payload)
                    var paths: [[UInt8]] = []
                    for _ in 0..<Int(try reader.u32()) { paths.append(try reader.data()) }
                    var body = WireWriter()
                    for claimed in stage.claimsUnseen(paths, context: context) { body.bool(claimed) }
                    try reply(channel: channel, context: context, fatal: fatal, body: body)
                case PluginProtocol.end:
                    guard let (stage, context) = session else { throw WireReader.Malformed() }
                    var reader = WireReader(frame.payload)
                    let succeeded = try reader.bool()
                    do {
                        try stage.handle(.jobEnded(succeeded: succeeded), context: context)
                        try reply(channel: channel, context: context, fatal: fatal, body: WireWriter())
                    } catch let error as PluginChannel.Failure {
                        throw error
                    } catch {
                        try reply(failed: error, channel: channel, context: context, fatal: fatal)
                    }
                    return 0
                default:
                    throw WireReader.Malformed()
                }
            } catch is PluginChannel.Failure {
                return 2  // the host has gone
            } catch {
                // A request this process cannot read: say so and stop (the host fails the job).
                try? channel.send(PluginProtocol.failed, Array("\(error)".utf8))
                return 2
            }
        }
    }

    /// `handle_backup_file` for a batch; the bytes of every file the plugin took go back before the answers.
    private static func decide(
        _ payload: [UInt8], stage: PythonPluginStage, context: StageContext, channel: PluginChannel,
        fatal: Locked<[String]>
    ) throws {
        var reader = WireReader(payload)
        let count = Int(try reader.u32())
        var items: [FileItem] = []
        items.reserveCapacity(min(count, 1 << 16))
        var facts: [Int64: PythonPluginStage.BlockFacts] = [:]
        for _ in 0..<count {
            let (item, fact) = try PluginProtocol.decodeItem(&reader)
            items.append(item)
            facts[item.fileIndex] = fact
        }
        stage.presetFacts.withLock { $0 = facts }
        let results = stage.decide(batch: &items, context: context)
        stage.presetFacts.withLock { $0.removeAll() }
        for (index, result) in results.enumerated() where index < items.count {
            guard case .success(.takeOver) = result, items[index].kind == .file, items[index].stat.size > 0 else { continue }
            try sendBytes(of: items[index], stage: stage, context: context, channel: channel)
        }
        var body = WireWriter(capacity: 16 * items.count)
        body.u32(UInt32(results.count))
        for (index, result) in results.enumerated() {
            PluginProtocol.encode(result, item: items[index], stage: stage.name, into: &body)
        }
        try reply(channel: channel, context: context, fatal: fatal, body: body)
    }

    /// The bytes `plugin_io` gave for a taken file, in data frames, then `dataEnd` (with the error, if reading them
    /// back failed).
    private static func sendBytes(
        of item: FileItem, stage: PythonPluginStage, context: StageContext, channel: PluginChannel
    ) throws(PluginChannel.Failure) {
        var problem: String?
        do {
            let source = try stage.openSource(for: item, context: context)
            defer { try? source.close() }
            var chunk = [UInt8](repeating: 0, count: PluginProtocol.dataChunk)
            while true {
                let count = try chunk.withUnsafeMutableBytes { try source.read(into: $0) }
                if count == 0 { break }
                var frame = WireWriter(capacity: count + 16)
                frame.i64(item.fileIndex)
                frame.data(chunk[0..<count])
                try channel.send(PluginProtocol.data, frame.bytes)
            }
        } catch let error as PluginChannel.Failure {
            throw error
        } catch {
            problem = (error as? StageFailure)?.message ?? "\(error)"
        }
        var end = WireWriter()
        end.i64(item.fileIndex)
        end.optionalString(problem)
        try channel.send(PluginProtocol.dataEnd, end.bytes)
    }

    /// The messages recorded so far, then `done` with `body`, the fatal reasons and the job data recorded so far.
    private static func reply(
        channel: PluginChannel, context: StageContext, fatal: Locked<[String]>, body: WireWriter
    ) throws(PluginChannel.Failure) {
        try sendMessages(channel: channel, context: context)
        var writer = body
        writer.strings(fatal.withLock { reasons in
            defer { reasons.removeAll() }
            return reasons
        })
        let data = context.takeRecordedJobData()
        writer.u32(UInt32(data.count))
        for datum in data {
            writer.string(datum.key)
            writer.data(datum.value)
        }
        try channel.send(PluginProtocol.done, writer.bytes)
    }

    private static func reply(
        failed error: any Error, channel: PluginChannel, context: StageContext, fatal: Locked<[String]>
    ) throws(PluginChannel.Failure) {
        try sendMessages(channel: channel, context: context)
        var writer = WireWriter()
        writer.string("\(error)")
        writer.strings(fatal.withLock { reasons in
            defer { reasons.removeAll() }
            return reasons
        })
        try channel.send(PluginProtocol.failed, writer.bytes)
    }

    private static func sendMessages(channel: PluginChannel, context: StageContext) throws(PluginChannel.Failure) {
        for message in context.drainMessages() {
            try channel.send(PluginProtocol.message, PluginProtocol.encode(message))
        }
    }
}
