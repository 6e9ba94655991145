import Pipeline

#if canImport(Glibc)
import Glibc
#endif

/// A Python plugin string of a backup with `Plugin Isolation = process`: the plugin runs in a plugin process of
/// its own (`PluginProcess`, the same `PythonPluginStage` and embedded CPython there), and this stage forwards each
/// batch of entries to it over its socket and takes back the answers, the metadata, the plugin's messages and the
/// bytes of the files it took over (`plugin_io`). A batch is one request, so the hand-off costs a few system
/// calls per batch, not per file.
///
/// If the process dies (any exit, any signal, SIGKILL included) the job fails with the plugin string, how the
/// process ended and the call and file it was in (its crash note), and the files of that batch fail; the host
/// itself goes on to finish the job, the catalog and the summary. Restore and command plugins (Include-level
/// strings) run in-process: `inner` serves them.
final class IsolatedPythonStage: Stage {
    let name: String
    let settings: PythonPluginSettings
    /// The same plugin string in-process: restore, and the checks made when the stage is created.
    let inner: PythonPluginStage
    /// The plugin process and how it ended; held for a whole request so requests never interleave.
    private let session = Locked<Session>(Session())
    /// The bytes of files the plugin took, received with the batch's answers, until the writer asks for them.
    private let taken = Locked<[Int64: Result<PythonByteSource, StageFailure>]>([:])

    private struct Session: Sendable {
        var process: PluginProcess?
        /// Why the process is gone (the job's failure); every later request fails with it.
        var death: String?
    }

    /// The stage for a python plugin string: in a plugin process when the Job says `Plugin Isolation = process`.
    static func make(string: String, settings: PythonPluginSettings) throws -> any Stage {
        let stage = try PythonPluginStage(string: string, settings: settings)
        guard settings.isolation == .process else { return stage }
        return IsolatedPythonStage(inner: stage)
    }

    private init(inner: PythonPluginStage) {
        self.name = inner.name
        self.settings = inner.settings
        self.inner = inner
    }

    var needsWalkOrder: Bool { true }

    /// A request's outcome the process could not give: it died, or answered with an error.
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    // MARK: - Job events

    func handle(_ event: JobEvent, context: StageContext) throws {
        guard context.mode == .backup else { return try inner.handle(event, context: context) }
        switch event {
        case .jobStarted:
            let process: PluginProcess
            do {
                process = try PluginProcess()
            } catch {
                throw Failure(description: "\(error)")
            }
            session.withLock { $0.process = process }
            _ = try exchange(
                PluginProtocol.start, PluginProtocol.encodeStart(stage: name, settings: settings, context: context),
                call: "loading the plugin", context: context)
        case .fileSetEnded:
            return
        case .jobEnded(let succeeded):
            taken.withLock { $0.removeAll() }
            defer { session.withLock { $0.process = nil } }
            guard session.withLock({ $0.process != nil && $0.death == nil }) else { return }
            var payload = WireWriter()
            payload.bool(succeeded)
            _ = try exchange(PluginProtocol.end, payload.bytes, call: "the end of the job", context: context)
            session.withLock { state in
                if let process = state.process { _ = process.end(deadline: 10) }
            }
        }
    }

    // MARK: - Backup

    func decide(batch: inout [FileItem], context: StageContext) -> [Result<StageDecision, any Error>] {
        guard context.mode == .backup else { return inner.decide(batch: &batch, context: context) }
        var payload = WireWriter(capacity: 160 * batch.count)
        payload.u32(UInt32(batch.count))
        var cache: [Int: PythonPluginStage.BlockFacts] = [:]
        for item in batch {
            let key = item.entry.includeIndex << 16 | item.entry.effectiveBlockIndex
            let facts =
                cache[key]
                ?? PythonPluginStage.BlockFacts(
                    flags: BareosFileType.flags(for: item, context: context),
                    noAtime: BareosFileType.block(of: item, context: context)?.noAtime ?? false)
            cache[key] = facts
            PluginProtocol.encode(item, facts: facts, into: &payload)
        }
        let paths = Dictionary(batch.map { ($0.fileIndex, $0.path) }) { first, _ in first }
        var collecting: [Int64: PythonByteSource.Collector] = [:]
        var memoryLeft = PythonPluginStage.batchMemory
        do {
            var reader = try exchange(
                PluginProtocol.decide, payload.bytes, call: "handle_backup_file", context: context
            ) { type, frame in
                var reader = WireReader(frame)
                let fileIndex = try reader.i64()
                let path = paths[fileIndex] ?? []
                if type == PluginProtocol.data {
                    let collector =
                        collecting[fileIndex]
                        ?? PythonByteSource.Collector(
                            memoryLimit: min(memoryLeft, PythonPluginStage.fileMemory),
                            spillDirectory: context.workingDirectory,
                            fail: { [name] in StageFailure(stage: name, path: path, message: $0) })
                    collecting[fileIndex] = collector
                    try collector.append(try reader.data()[...])
                } else {
                    let problem = try reader.optionalString()
                    let collector = collecting.removeValue(forKey: fileIndex)
                    let outcome: Result<PythonByteSource, StageFailure>
                    if let problem {
                        outcome = .failure(StageFailure(stage: name, path: path, message: problem))
                    } else {
                        memoryLeft = max(0, memoryLeft - (collector?.memoryBytes ?? 0))
                        outcome = Result { () throws(StageFailure) in
                            do {
                                return try collector?.finish() ?? PythonByteSource.empty()
                            } catch {
                                throw (error as? StageFailure) ?? StageFailure(stage: name, path: path, underlying: error)
                            }
                        }
                    }
                    taken.withLock { $0[fileIndex] = outcome }
                }
            }
            let count = Int(try reader.u32())
            guard count == batch.count else { throw WireReader.Malformed() }
            var results: [Result<StageDecision, any Error>] = []
            results.reserveCapacity(count)
            for index in batch.indices {
                let (result, metadata) = try PluginProtocol.decodeResult(&reader, path: batch[index].path)
                batch[index].metadata = metadata
                results.append(result)
            }
            try finishReply(&reader, context: context)
            return results
        } catch {
            let message = (error as? Failure)?.description ?? "\(error)"
            return batch.map { .failure(StageFailure(stage: name, path: $0.path, message: message)) }
        }
    }

    func discardTakeOver(of item: FileItem, context: StageContext) {
        guard context.mode == .backup else { return inner.discardTakeOver(of: item, context: context) }
        if case .success(let source) = taken.withLock({ $0.removeValue(forKey: item.fileIndex) }) { try? source.close() }
    }

    func openSource(for item: FileItem, context: StageContext) throws -> any ByteSource {
        guard context.mode == .backup else { return try inner.openSource(for: item, context: context) }
        if let outcome = taken.withLock({ $0.removeValue(forKey: item.fileIndex) }) { return try outcome.get() }
        if item.stat.size == 0 { return PythonByteSource.empty() }
        throw StageFailure(stage: name, path: item.path, message: "no bytes were read through plugin_io for this file")
    }

    func claimsUnseen(_ paths: [[UInt8]], context: StageContext) -> [Bool] {
        guard context.mode == .backup else { return inner.claimsUnseen(paths, context: context) }
        var payload = WireWriter()
        payload.u32(UInt32(paths.count))
        for path in paths { payload.data(path) }
        do {
            var reader = try exchange(PluginProtocol.claims, payload.bytes, call: "check_file", context: context)
            var claimed: [Bool] = []
            for _ in paths { claimed.append(try reader.bool()) }
            try finishReply(&reader, context: context)
            return claimed
        } catch {
            context.message(.warning, "check_file: \(error)", stage: name)
            return paths.map { _ in false }
        }
    }

    func nextCommandItem(includeIndex: Int, fileIndex: Int64, context: StageContext) throws -> CommandPluginItem? {
        // `backup` refuses such a FileSet before the job starts; this is for other hosts of the stage.
        throw Failure(
            description: "a command plugin (an Include-level Plugin =) does not run with Plugin Isolation = process "
                + "yet; set Plugin Isolation = inprocess in this Job")
    }

    // MARK: - Restore (in-process)

    var restoresConcurrently: Bool { inner.restoresConcurrently }

    func openRestoreSink(for item: RestoreItem, outputPath: [UInt8], context: StageContext) throws -> (any ByteSink)? {
        try inner.openRestoreSink(for: item, outputPath: outputPath, context: context)
    }

    func isRestoreObject(_ item: RestoreItem) -> Bool { inner.isRestoreObject(item) }

    func restoreObject(_ item: RestoreItem, data: [UInt8], context: StageContext) throws {
        try inner.restoreObject(item, data: data, context: context)
    }

    // MARK: - Requests

    /// Sends one request and reads the reply: messages go to the job as they come, data frames to `onData`; the
    /// result is the `done` frame's body (the caller reads its part, then `finishReply`). A process that dies
    /// meanwhile fails the job (`died`); an error the plugin raised comes back as `Failure`.
    private func exchange(
        _ type: UInt8, _ payload: [UInt8], call: String, context: StageContext,
        onData: (UInt8, [UInt8]) throws -> Void = { _, _ in }
    ) throws -> WireReader {
        try session.withLock { state in
            if let death = state.death { throw Failure(description: death) }
            guard let process = state.process else { throw Failure(description: "\(name): the plugin process is not running") }
            do {
                try process.channel.send(type, payload)
                while true {
                    guard let frame = try process.channel.receive() else { throw PluginChannel.Failure.closed }
                    switch frame.type {
                    case PluginProtocol.message:
                        let message = try PluginProtocol.decodeMessage(frame.payload)
                        context.message(message.severity, message.text, stage: message.stage, path: message.path)
                    case PluginProtocol.data, PluginProtocol.dataEnd:
                        try onData(frame.type, frame.payload)
                    case PluginProtocol.done:
                        return WireReader(frame.payload)
                    case PluginProtocol.failed:
                        var reader = WireReader(frame.payload)
                        let text = try reader.string()
                        if !reader.isAtEnd { stop(try reader.strings(), context: context) }
                        throw Failure(description: text)
                    default:
                        throw WireReader.Malformed()
                    }
                }
            } catch let error as Failure {
                throw error
            } catch let error as StageFailure {
                throw error
            } catch {
                let death = died(process, during: call, context: context, error: error)
                state.death = death
                throw Failure(description: death)
            }
        }
    }

    /// The end of a `done` body: the fatal reasons (a plugin's M_FATAL, a call timeout, a refused `os._exit`) and
    /// the job data the plugin recorded.
    private func finishReply(_ reader: inout WireReader, context: StageContext) throws {
        stop(try reader.strings(), context: context)
        for _ in 0..<Int(try reader.u32()) {
            let key = try reader.string()
            context.recordJobData(key: key, value: try reader.data())
        }
    }

    /// Fatal reasons the process reported; their messages came with its other messages.
    private func stop(_ reasons: [String], context: StageContext) {
        for reason in reasons { context.stopJob(reason) }
    }

    /// The process is gone (or talks nonsense): how it ended and the call and file it was in, as the job's failure.
    private func died(_ process: PluginProcess, during call: String, context: StageContext, error: any Error) -> String {
        let how: String
        if case PluginChannel.Failure.closed = error {
            how = process.end(deadline: 2)
        } else {
            kill(process.pid, SIGKILL)
            how = "was ended by the host after \(error) (\(process.end(deadline: 2)))"
        }
        let place: String
        if let note = process.lastCall {
            place = note.hasPrefix(name + ": ") ? String(note.dropFirst(name.count + 2)) : note
        } else {
            place = call
        }
        let reason = "\(name): the plugin process \(how) during \(place); the job fails (Plugin Isolation = process)"
        context.failJob(reason, stage: name)
        return reason
    }
}
