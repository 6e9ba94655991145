#if canImport(Glibc)
import Glibc
#endif

/// What a worker hands the volume writer for one entry, in walk order.
enum PreparedEntry {
    /// A member whose bytes are ready in memory (small files, and every non-regular entry with no data).
    case member(PreparedMember)
    /// A regular file the writer streams itself (large, sparse, or taken over by a stage).
    case stream(StreamRequest)
    /// Not stored: skipped by a stage, failed, or a walk problem; goes straight to the catalog.
    case record(FileRecord)
}

struct PreparedMember {
    var record: FileRecord
    var member: VolumeMember
    var data: [UInt8]
    var sourceBytes: UInt64
}

struct StreamRequest {
    var item: FileItem
    var record: FileRecord
    var member: VolumeMember
    /// The file's data chain (decision stages plus the block's compression).
    var chain: StageChain
    /// The stage that took the file over (its byte source), nil when the host reads the file.
    var sourceStage: Int?
    var compression: OptionsBlock.Compression?
    var signature: DigestAlgorithm?
    var noAtime: Bool
    var readHook: BackupSettings.ReadHook?
    /// With statistics: per stage of `chain`, its decision hook's time per entry of the file's batch.
    var decisionShares: [UInt64] = []
}

struct PreparedBatch {
    var sequence: Int
    var entries: [PreparedEntry]
    var messages: [JobMessage]
}

/// One worker thread's state: runs the decision hooks of a batch and prepares each entry (small files are
/// read, hashed and transformed here). Never shared between threads: it counts what it did in its own `summary`,
/// which the job merges when the thread ends.
final class BackupWorker {
    private let coordinator: JobCoordinator
    private let builder: StageChainBuilder
    private let options: [[OptionsBlock]]
    private let context: StageContext
    private let jobID: JobID
    private let sha256: Digester
    private let storedSHA256: Digester
    private var signatureDigesters = SignatureDigesters()
    private var buffer: [UInt8] = []
    private let names = OwnerNames()
    /// What this worker counted (examined, skipped, failed, warnings, deletions).
    private(set) var summary = JobSummary(jobID: 0, jobName: "", level: "", status: .running)
    /// This thread's statistics (`backup --stats`), nil when the job collects none.
    private(set) var statistics: JobStatistics?

    /// - Throws: `DigestError` when libcrypto cannot give this thread its SHA-256 states.
    init(
        coordinator: JobCoordinator, builder: StageChainBuilder, options: [[OptionsBlock]], context: StageContext,
        jobID: JobID
    ) throws(DigestError) {
        sha256 = try Digester(.sha256)
        storedSHA256 = try Digester(.sha256)
        self.coordinator = coordinator
        self.builder = builder
        self.options = options
        self.context = context
        self.jobID = jobID
        if coordinator.settings.collectStatistics { statistics = JobStatistics() }
    }

    func prepare(_ batch: BackupJob.WalkBatch) -> PreparedBatch {
        var prepared = PreparedBatch(sequence: batch.sequence, entries: [], messages: [])
        var items: [FileItem] = []
        var order: [PreparedEntry?] = []
        var itemSlots: [Int] = []
        for (offset, event) in batch.events.enumerated() {
            let fileIndex = batch.firstIndex + Int64(offset)
            switch event {
            case .entry(let entry):
                items.append(FileItem(entry: entry, fileIndex: fileIndex))
                itemSlots.append(order.count)
                order.append(nil)
            case .problem(let problem):
                prepared.messages.append(
                    JobMessage(
                        jobID: jobID, time: Clock.realtime(), severity: problem.severity.rawValue, stage: nil,
                        path: problem.path, text: problem.message))
                switch problem.severity {
                case .error:
                    // Counted in the summary's errors where messages reach the catalog (BackupJob.writeCatalog).
                    coordinator.progress.errors.add(1, ordering: .relaxed)
                    var record = FileRecord(
                        jobID: jobID, fileIndex: fileIndex, path: problem.path, kind: .file, status: .failed)
                    record.error = problem.message
                    order.append(.record(record))
                case .warning:
                    order.append(nil)
                case .info:
                    order.append(nil)
                }
            }
        }
        // Decision hooks run per chain over the entries of this batch that share it, chains in the order of their
        // first entry; batches take turns here when a stage needs walk order.
        var outcomes = [StageChain.Outcome](repeating: .store(source: nil), count: items.count)
        var chainOf = [StageChain?](repeating: nil, count: items.count)
        // With statistics, each item's chain's decision time per entry (one array per chain group, shared).
        var sharesOf = [[UInt64]](repeating: [], count: statistics == nil ? 0 : items.count)
        // With walk order, only consecutive entries of one chain share a call: a stage that sits in two chains then
        // still sees the batch's entries in walk order.
        var groups: [(strings: [String], indices: [Int])] = []
        var groupOf: [[String]: Int] = [:]
        for index in items.indices where !items[index].entry.chain.isEmpty {
            let strings = items[index].entry.chain
            if coordinator.orderedDecisions {
                if groups.last?.strings == strings {
                    groups[groups.count - 1].indices.append(index)
                } else {
                    groups.append((strings, [index]))
                }
            } else if let group = groupOf[strings] {
                groups[group].indices.append(index)
            } else {
                groupOf[strings] = groups.count
                groups.append((strings, [index]))
            }
        }
        coordinator.awaitDecisionTurn(batch.sequence)
        if coordinator.cancellation.isCancelled {
            // The writer drops what is in flight: no hooks (a plugin may read whole files in them), no reading.
            coordinator.endDecisionTurn(batch.sequence)
            prepared.messages += context.drainMessages().map { JobMessage(jobID: jobID, $0) }
            return prepared
        }
        for (strings, indices) in groups {
            do {
                let chain = try builder.chain(for: strings)
                var subset = indices.map { items[$0] }
                let (results, shares) = chain.decide(batch: &subset, context: context, statistics: &statistics)
                for (position, index) in indices.enumerated() {
                    items[index] = subset[position]
                    outcomes[index] = results[position]
                    chainOf[index] = chain
                    if statistics != nil { sharesOf[index] = shares }
                }
            } catch {
                for index in indices {
                    outcomes[index] = .failed(StageFailure(stage: strings.first ?? "", path: items[index].path, underlying: error))
                }
            }
        }
        // The turn ends with the decisions: reading and hashing the files goes on in parallel with the next batch.
        coordinator.endDecisionTurn(batch.sequence)
        for index in items.indices {
            order[itemSlots[index]] = prepare(
                items[index], outcome: outcomes[index], chain: chainOf[index],
                shares: statistics == nil ? [] : sharesOf[index])
        }
        prepared.entries = order.compactMap { $0 }
        for (offset, deletion) in batch.deletions.enumerated() {
            let fileIndex = batch.firstIndex + Int64(batch.events.count + offset)
            prepared.entries.append(
                .record(FileRecord(jobID: jobID, fileIndex: fileIndex, path: deletion.path, kind: deletion.kind, status: .deleted)))
        }
        summary.entriesDeleted += batch.deletions.count
        prepared.messages += context.drainMessages().map { JobMessage(jobID: jobID, $0) }
        return prepared
    }

    private func baseRecord(_ item: FileItem, status: FileStatus) -> FileRecord {
        let stat = item.stat
        var record = FileRecord(jobID: jobID, fileIndex: item.fileIndex, path: item.path, kind: item.kind, status: status)
        record.mode = stat.mode
        record.uid = stat.uid
        record.gid = stat.gid
        record.userName = names.user(stat.uid)
        record.groupName = names.group(stat.gid)
        record.size = stat.size
        record.atime = stat.atime
        record.mtime = stat.mtime
        record.ctime = stat.ctime
        record.inode = stat.ino
        record.device = stat.dev
        record.rdev = stat.rdev
        record.nlink = stat.nlink
        record.linkTarget = item.entry.linkTarget
        record.chain = item.entry.chain
        record.block = item.entry.blockIndex
        record.stageMetadata = item.metadata
        return record
    }

    private func failed(_ item: FileItem, _ message: String, stage: String?) -> PreparedEntry {
        var record = baseRecord(item, status: .failed)
        record.error = stage.map { "stage \($0): \(message)" } ?? message
        // Its error message is counted in the summary's errors where messages reach the catalog.
        if item.kind == .file { summary.filesFailed += 1 }
        let message = JobMessage(
            jobID: jobID, time: Clock.realtime(), severity: "error", stage: stage, path: item.path, text: record.error!)
        // With `Stage Error Policy = fail` the job stops here and drops what is in flight; the funnel keeps this
        // row and message for the catalog (D6).
        if coordinator.fileFailed(record, message) { context.message(.error, record.error!, stage: stage, path: item.path) }
        return .record(record)
    }

    /// - Parameter shares: with statistics, per stage of `chain`, its decision time per entry of the batch.
    private func prepare(
        _ item: FileItem, outcome: StageChain.Outcome, chain: StageChain?, shares: [UInt64]
    ) -> PreparedEntry {
        if item.kind == .file { summary.filesExamined += 1 }
        switch outcome {
        case .skip(let stage, let reason):
            var record = baseRecord(item, status: .skipped)
            record.error = "skipped by stage \(stage)" + (reason.map { ": \($0)" } ?? "")
            context.message(.info, record.error!, stage: stage, path: item.path)
            if item.kind == .file {
                summary.filesSkipped += 1
                summary.skippedByStage[stage, default: 0] += 1
                if statistics != nil, let chain { chain.record(skippedBy: stage, shares: shares, into: &statistics!) }
            }
            return .record(record)
        case .failed(let failure):
            return failed(item, failure.message, stage: failure.stage)
        case .store(let source):
            let block = options[item.entry.includeIndex][item.entry.effectiveBlockIndex]
            var member = VolumeMember.forEntry(item, names: names, block: block)
            var record = baseRecord(item, status: .stored)
            if let digest = member.metadataDigest { record.stageMetadata[VolumeMember.metadataDigestKey] = digest }
            if let source, let chain { record.stageMetadata[VolumeMember.sourceStageKey] = chain.strings[source] }
            guard item.kind == .file else {
                // Directories, links and specials carry our records too, so `scan` rebuilds their rows exactly.
                member.records += VolumeMember.catalogRecords(record, jobID: jobID)
                return .member(PreparedMember(record: record, member: member, data: [], sourceBytes: 0))
            }
            let signature = block.effectiveSignature.map(DigestAlgorithm.init)
            // The data chain: the decision chain's stages with the block's compression placed among them.
            let dataChain: StageChain
            do {
                dataChain = try builder.chain(for: item.entry.chain, compression: block.compression)
            } catch {
                return failed(item, "\(error)", stage: nil)
            }
            let streamed =
                source != nil || item.stat.size > coordinator.settings.smallFileLimit
                || (item.stat.blocks * 512 < item.stat.size)
            if streamed {
                return .stream(
                    StreamRequest(
                        item: item, record: record, member: member, chain: dataChain, sourceStage: source,
                        compression: block.compression, signature: signature, noAtime: block.noAtime,
                        readHook: coordinator.settings.readHook, decisionShares: shares))
            }
            // The data path first, so that observers hear of a file that cannot be read (a checksum log records
            // it as failed).
            var path: DataPath
            do {
                path = try dataChain.dataPath(for: item, context: context, timed: statistics != nil)
            } catch let failure as StageFailure {
                return failed(item, failure.message, stage: failure.stage)
            } catch {
                return failed(item, "\(error)", stage: nil)
            }
            let signatureDigester: Digester?
            do {
                signatureDigester = try signatureDigesters.digester(for: signature)
            } catch {
                path.abandon(reason: "\(error)")
                return failed(item, "\(error)", stage: nil)
            }
            // A small file that changed while it was read is read once more: what the second read finds, if the file
            // holds still meanwhile, is a version that existed; the first read may be a mix of two.
            let hook = coordinator.settings.readHook
            var reread: String?
            let readStarted = statistics == nil ? 0 : Clock.nanoseconds()
            do {
                do {
                    try FileReader.readWhole(
                        item.path, expectedSize: item.stat.size, noAtime: block.noAtime, into: &buffer, hook: hook)
                } catch where error.changedWhileRead {
                    reread = error.message
                    let stamp = try FileReader.readWhole(
                        item.path, expectedSize: item.stat.size, noAtime: block.noAtime, into: &buffer, attempt: 2,
                        sizeLimit: coordinator.settings.smallFileLimit, hook: hook)
                    // The size and times of the version stored, not of the one the walk saw.
                    record.size = UInt64(buffer.count)
                    (record.mtime, record.ctime) = (stamp.mtime, stamp.ctime)
                    (member.mtime, member.ctime) = (stamp.mtime, stamp.ctime)
                }
            } catch {
                path.abandon(reason: error.message)
                return failed(item, error.message, stage: nil)
            }
            if statistics != nil { statistics!.readNanoseconds &+= Clock.nanoseconds() &- readStarted }
            if let reread {
                summary.filesReread += 1
                context.message(
                    .warning, "\(reread); stored as read a second time, during which it did not change",
                    path: item.path)
            }
            // The host's digests are the `digest` row of the statistics; the source observers are their stages' time.
            var digestNanoseconds: UInt64 = 0
            var digestStarted = statistics == nil ? 0 : Clock.nanoseconds()
            buffer.withUnsafeBytes { bytes in
                sha256.update(bytes)
                if statistics != nil {
                    digestNanoseconds &+= Clock.nanoseconds() &- digestStarted
                }
                path.observeSource(bytes)
            }
            do {
                if statistics != nil { digestStarted = Clock.nanoseconds() }
                record.sourceSHA256 = try sha256.finalize()
                if let signature {
                    record.signatureAlgorithm = signature.rawValue
                    if signature == .sha256 {
                        record.signature = record.sourceSHA256  // the same digest, computed once
                    } else if let digester = signatureDigester {
                        buffer.withUnsafeBytes { digester.update($0) }
                        record.signature = try digester.finalize()
                    }
                }
                if statistics != nil { digestNanoseconds &+= Clock.nanoseconds() &- digestStarted }
            } catch {
                path.abandon(reason: "\(error)")
                return failed(item, "\(error)", stage: nil)
            }
            var stored: [UInt8]
            do {
                if path.isEmpty {
                    stored = buffer
                } else {
                    stored = []
                    try buffer.withUnsafeBytes { chunk in
                        try path.push(chunk) { stored.append(contentsOf: $0) }
                    }
                    try path.finish { stored.append(contentsOf: $0) }
                }
                if path.hasTransforms {
                    let started = statistics == nil ? 0 : Clock.nanoseconds()
                    stored.withUnsafeBytes { storedSHA256.update($0) }
                    record.storedSHA256 = try storedSHA256.finalize()
                    if statistics != nil { digestNanoseconds &+= Clock.nanoseconds() &- started }
                    member.applyTransforms(suffix: path.memberSuffix, compression: path.compression, record: &record)
                } else {
                    record.storedSHA256 = record.sourceSHA256
                }
                let observed = try path.finishObservers(sourceSHA256: record.sourceSHA256)
                record.stageMetadata.merge(observed.metadata) { _, new in new }
                record.searchDocument = observed.searchDocument
            } catch let failure as StageFailure {
                path.abandon(reason: "stage \(failure.stage): \(failure.message)")
                return failed(item, failure.message, stage: failure.stage)
            } catch {
                path.abandon(reason: "\(error)")
                return failed(item, "\(error)", stage: nil)
            }
            record.compression = member.compressionName
            member.size = UInt64(stored.count)
            member.records += VolumeMember.catalogRecords(record, jobID: jobID)
            if statistics != nil {
                let hashed = UInt64(buffer.count) + (path.hasTransforms ? UInt64(stored.count) : 0)
                statistics!.digested(bytes: hashed, nanoseconds: digestNanoseconds)
                dataChain.record(stored: path, shares: shares, into: &statistics!)
            }
            return .member(PreparedMember(record: record, member: member, data: stored, sourceBytes: record.size))
        }
    }
}

/// User and group names by id, cached per worker (getpwuid_r/getgrgid_r are slow enough to matter per file).
final class OwnerNames {
    private var users: [UInt32: String?] = [:]
    private var groups: [UInt32: String?] = [:]

    func user(_ uid: UInt32) -> String? {
        if let cached = users[uid] { return cached }
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var storage = [CChar](repeating: 0, count: 4096)
        let name: String? =
            getpwuid_r(uid, &entry, &storage, storage.count, &result) == 0 && result != nil
            ? String(cString: entry.pw_name) : nil
        users[uid] = name
        return name
    }

    func group(_ gid: UInt32) -> String? {
        if let cached = groups[gid] { return cached }
        var entry = Glibc.group()
        var result: UnsafeMutablePointer<group>?
        var storage = [CChar](repeating: 0, count: 4096)
        let name: String? =
            getgrgid_r(gid, &entry, &storage, storage.count, &result) == 0 && result != nil
            ? String(cString: entry.gr_name) : nil
        groups[gid] = name
        return name
    }
}

extension DigestAlgorithm {
    init(_ signature: OptionsBlock.Signature) {
        switch signature {
        case .md5: self = .md5
        case .sha1: self = .sha1
        case .sha256: self = .sha256
        case .sha512: self = .sha512
        case .xxh128: self = .xxh128
        }
    }
}
