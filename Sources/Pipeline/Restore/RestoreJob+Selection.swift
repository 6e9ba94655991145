/// Selection: which catalog rows a restore writes, and in which order (see ``RestoreJob``'s documentation), held
/// as a ``RestorePlan`` of compact keys; the full rows are read in batches while the restore runs.
extension RestoreJob {
    /// The number of regular files the restore writes (hard links restored as copies included).
    public func selectedFileCount() throws -> Int {
        try selection().fileCount
    }

    /// The plan of the restore, in restore order (see the type's documentation): the chain state of the job
    /// filtered by `select`, or the one version asked for, or the exact versions. Streams the selection from the
    /// catalog; only hard links (and, a second time when there are any, the files they name) keep paths.
    func selection() throws -> RestorePlan {
        var plan = RestorePlan()
        var pendingLinks: [StateEntry] = []
        try forEachSelected { entry in
            if entry.kind == .hardLink {
                pendingLinks.append(entry)
            } else {
                plan.append(entry)
            }
        }
        if pendingLinks.isEmpty { return plan }
        // The (device, inode) of the selected regular files that a hard link names, from a second pass.
        let targets = Set(pendingLinks.compactMap(\.linkTarget))
        var files: [[UInt8]: (device: UInt64, inode: UInt64)] = [:]
        try forEachSelected { entry in
            if entry.kind == .file && targets.contains(entry.path) { files[entry.path] = (entry.device, entry.inode) }
        }
        for link in pendingLinks {
            guard let target = link.linkTarget else {
                plan.appendLink(link)  // restoreSpecial reports it
                continue
            }
            if let file = files[target], file.device == link.device, file.inode == link.inode {
                plan.appendLink(link)
                continue
            }
            guard let data = try dataRecord(forLink: link, target: target) else {
                plan.appendLink(link)  // fails in restoreSpecial: the first name is not there
                continue
            }
            plan.appendCopy(of: StateEntry(data), as: link)
            problem(
                link.path,
                "hard link restored as a copy of \(String(decoding: target, as: UTF8.self)) (JobId "
                    + "\(data.jobID.rawValue)): its first name is not restored as the same file by this run",
                severity: "info")
        }
        return plan
    }

    /// Calls `body` with every selected entry in (JobId, file index) order, setting `chain` and `jobID`.
    private func forEachSelected(_ body: (StateEntry) throws -> Void) throws {
        if let number = settings.version {
            guard settings.select.count == 1, let path = settings.select.first else {
                throw RestoreError("--version needs exactly one --select PATH (the path itself, not a pattern)")
            }
            let version = try FileVersions.storedVersion(
                number, of: Array(path.utf8), jobName: settings.versionJobName, in: catalog)
            jobID = version.job.id
            chain = [version.job]
            try body(StateEntry(version.record))
            return
        }
        if let exact = settings.exactVersions {
            chain = []
            for (job, indexes) in exact.sorted(by: { $0.key < $1.key }) {
                guard let record = try catalog.job(job) else { continue }
                chain.append(record)
                let wanted = Set(indexes)
                try catalog.forEachFile(job: job) { file in
                    if file.status == .stored && wanted.contains(file.fileIndex) { try body(StateEntry(file)) }
                }
            }
            jobID = chain.last?.id ?? jobID
            return
        }
        chain = try JobChain.jobs(asOf: jobID, in: catalog)
        let selection = RestoreSelection(settings.select)
        try catalog.forEachStateEntry(jobs: chain.map(\.id)) { entry in
            if selection.selects(entry.path) { try body(entry) }
        }
    }

    /// The stored data of a hard link's inode: the first name's entry in the chain state (only when restoring a
    /// chain's state) when it is still that inode (its newest content), else its row in the newest chain job at
    /// or before the link's job with the same device and inode.
    func dataRecord(forLink link: StateEntry, target: [UInt8]) throws -> FileRecord? {
        let chainIDs = Set(chain.map(\.id))
        let rows = try catalog.versions(of: target).filter { chainIDs.contains($0.jobID) }
        let inState = settings.version == nil && settings.exactVersions == nil
        // `versions(of:)` is in (JobId, file index) order: the last stored or deleted row is the state's.
        if inState, let current = rows.last(where: { $0.status == .stored || $0.status == .deleted }),
            current.status == .stored, current.kind == .file, current.device == link.device,
            current.inode == link.inode
        {
            return current
        }
        return rows.last { row in
            row.status == .stored && row.kind == .file && row.device == link.device && row.inode == link.inode
                && row.jobID <= link.jobID
        }
    }

    // MARK: - Full rows

    /// The full rows of `entries` (in their order), read from the catalog on the calling thread; a row that is
    /// no longer there (pruned meanwhile) is reported and left out.
    func records(_ entries: [RestorePlan.Entry], in plan: RestorePlan) throws -> [FileRecord] {
        var result: [FileRecord] = []
        result.reserveCapacity(entries.count)
        var start = 0
        while start < entries.count {
            let job = entries[start].job
            var end = start + 1
            while end < entries.count && entries[end].job == job && entries[end].fileIndex > entries[end - 1].fileIndex {
                end += 1
            }
            let jobID = plan.jobs[Int(job)]
            let rows = try catalog.files(job: jobID, indexes: entries[start..<end].map(\.fileIndex))
            var row = 0
            for entry in entries[start..<end] {
                if row < rows.count && rows[row].fileIndex == entry.fileIndex {
                    result.append(rows[row])
                    row += 1
                } else {
                    problem(
                        [], "file \(entry.fileIndex) of JobId \(jobID.rawValue) is no longer in the catalog; not restored")
                }
            }
            start = end
        }
        return result
    }

    /// Calls `body` with the full rows of the plan's entries that `include` accepts, then (when `copies`) of
    /// its copies, then (when `links`) of its hard links, in restore order, at most
    /// ``RestorePlan/batchLimit`` at a time; stops early once the job is cancelled.
    func forEachBatch(
        of plan: RestorePlan, including include: (RestorePlan.Entry) -> Bool = { _ in true }, copies: Bool,
        links: Bool = false, _ body: ([FileRecord]) throws -> Void
    ) throws {
        var pending: [RestorePlan.Entry] = []
        pending.reserveCapacity(RestorePlan.batchLimit)
        func flush() throws {
            if pending.isEmpty || cancellation.isCancelled { return }
            let batch = try records(pending, in: plan)
            pending.removeAll(keepingCapacity: true)
            try body(batch)
        }
        for entry in plan.entries where include(entry) {
            if cancellation.isCancelled { return }
            pending.append(entry)
            if pending.count == RestorePlan.batchLimit { try flush() }
        }
        try flush()
        if copies {
            var start = 0
            while start < plan.copies.count && !cancellation.isCancelled {
                let part = plan.copies[start..<min(start + RestorePlan.batchLimit, plan.copies.count)]
                start = part.endIndex
                // One row at a time: copies are few, and one inode's data may be copied for several links.
                var batch: [FileRecord] = []
                for copy in part {
                    guard var record = try records([copy.data], in: plan).first else { continue }
                    record.path = copy.path
                    record.fileIndex = copy.fileIndex
                    batch.append(record)
                }
                try body(batch)
            }
        }
        if links {
            for entry in plan.links {
                if cancellation.isCancelled { return }
                pending.append(entry)
                if pending.count == RestorePlan.batchLimit { try flush() }
            }
            try flush()
        }
    }
}

/// What a restore writes, in restore order, as compact keys (16 bytes an entry): the full rows are read from the
/// catalog in batches as the restore goes, so memory does not grow with the selection's paths, digests and
/// stage data.
struct RestorePlan {
    /// Entries read from the catalog at a time (and the most a worker thread's batch holds).
    static let batchLimit = 256

    /// One row: its job (an index into ``jobs``) and file index, and what decides where it is restored.
    struct Entry {
        var fileIndex: Int64
        var job: UInt32
        var kind: EntryKind
        /// A stage chain processed it (see ``RestoreThreads/isThreaded(_:builder:)``).
        var chained: Bool
    }

    /// A hard link restored as a copy of its inode's data: the data's row, under the link's path and index.
    struct Copy {
        var data: Entry
        var path: [UInt8]
        var fileIndex: Int64
    }

    /// The jobs entries name, in the order first seen.
    private(set) var jobs: [JobID] = []
    private var jobNumbers: [JobID: UInt32] = [:]
    /// Everything but hard links, by (JobId, file index).
    private(set) var entries: [Entry] = []
    /// Restored after ``entries``, in the order of their links.
    private(set) var copies: [Copy] = []
    /// Hard links linked to their first name, last, by (JobId, file index).
    private(set) var links: [Entry] = []
    /// The first names the links name: only these restored files are remembered.
    private(set) var linkTargets: Set<[UInt8]> = []
    /// Regular files, copies included.
    private(set) var fileCount = 0

    var isEmpty: Bool { entries.isEmpty && copies.isEmpty && links.isEmpty }

    private mutating func entry(_ file: StateEntry) -> Entry {
        let number: UInt32
        if let known = jobNumbers[file.jobID] {
            number = known
        } else {
            number = UInt32(jobs.count)
            jobs.append(file.jobID)
            jobNumbers[file.jobID] = number
        }
        return Entry(fileIndex: file.fileIndex, job: number, kind: file.kind, chained: file.chained)
    }

    mutating func append(_ file: StateEntry) {
        entries.append(entry(file))
        if file.kind == .file { fileCount += 1 }
    }

    mutating func appendLink(_ link: StateEntry) {
        links.append(entry(link))
        if let target = link.linkTarget { linkTargets.insert(target) }
    }

    mutating func appendCopy(of data: StateEntry, as link: StateEntry) {
        copies.append(Copy(data: entry(data), path: link.path, fileIndex: link.fileIndex))
        fileCount += 1
    }
}
