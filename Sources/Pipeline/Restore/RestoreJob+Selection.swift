/// Selection: which catalog rows a restore writes, and in which order (see ``RestoreJob``'s documentation).
extension RestoreJob {
    /// The records the restore writes, in restore order (see the type's documentation): the chain state of the job
    /// filtered by `select`, or the one version asked for.
    public func selectedRecords() throws -> [FileRecord] {
        if let number = settings.version {
            guard settings.select.count == 1, let path = settings.select.first else {
                throw RestoreError("--version needs exactly one --select PATH (the path itself, not a pattern)")
            }
            let version = try FileVersions.storedVersion(
                number, of: Array(path.utf8), jobName: settings.versionJobName, in: catalog)
            jobID = version.job.id
            chain = [version.job]
            return try ordered([version.record], state: nil)
        }
        if let exact = settings.exactVersions {
            var records: [FileRecord] = []
            chain = []
            for (job, indexes) in exact.sorted(by: { $0.key < $1.key }) {
                guard let record = try catalog.job(job) else { continue }
                chain.append(record)
                let wanted = Set(indexes)
                try catalog.forEachFile(job: job) { file in
                    if file.status == .stored && wanted.contains(file.fileIndex) { records.append(file) }
                }
            }
            jobID = chain.last?.id ?? jobID
            return try ordered(records, state: nil)
        }
        chain = try JobChain.jobs(asOf: jobID, in: catalog)
        let patterns = settings.select.map { Wildcard(Array($0.utf8)) }
        // The state is kept only while hard links need it (memory stays at about one copy of the selection).
        var state: [[UInt8]: FileRecord]? = try JobChain.state(asOf: jobID, in: catalog)
        let selected = state!.values.filter { record in
            patterns.isEmpty || patterns.contains { $0.matches(record.path) }
        }
        if !selected.contains(where: { $0.kind == .hardLink }) { state = nil }
        return try ordered(selected, state: state)
    }

    /// Sorted by (JobId, file index), stably. Sorts the keys, not the records: moving a record retains and
    /// releases every array and string in it, which made this sort a tenth of a 20,000-file restore.
    static func inRestoreOrder(_ records: [FileRecord], where include: (FileRecord) -> Bool) -> [FileRecord] {
        var keys: [(job: Int64, index: Int64, at: Int)] = []
        for (at, record) in records.enumerated() where include(record) {
            keys.append((record.jobID.rawValue, record.fileIndex, at))
        }
        keys.sort { ($0.job, $0.index, $0.at) < ($1.job, $1.index, $1.at) }
        return keys.map { records[$0.at] }
    }

    /// Everything but hard links by (JobId, file index), then the hard links; a link whose first name is not
    /// restored as the same inode becomes a copy of that name's data (see the type's documentation).
    func ordered(_ records: [FileRecord], state: [[UInt8]: FileRecord]?) throws -> [FileRecord] {
        var result = RestoreJob.inRestoreOrder(records) { $0.kind != .hardLink }
        let pendingLinks = RestoreJob.inRestoreOrder(records) { $0.kind == .hardLink }
        if pendingLinks.isEmpty { return result }
        var files: [[UInt8]: (device: UInt64, inode: UInt64)] = [:]
        for record in result where record.kind == .file { files[record.path] = (record.device, record.inode) }
        var links: [FileRecord] = []
        for link in pendingLinks {
            guard let target = link.linkTarget else {
                links.append(link)  // restoreSpecial reports it
                continue
            }
            if let file = files[target], file.device == link.device, file.inode == link.inode {
                links.append(link)
                continue
            }
            guard let data = try dataRecord(forLink: link, target: target, state: state) else {
                links.append(link)  // fails in restoreSpecial: the first name is not there
                continue
            }
            var copy = data
            copy.path = link.path
            copy.fileIndex = link.fileIndex
            result.append(copy)
            problem(
                link.path,
                "hard link restored as a copy of \(String(decoding: target, as: UTF8.self)) (JobId "
                    + "\(data.jobID.rawValue)): its first name is not restored as the same file by this run",
                severity: "info")
        }
        return result + links
    }

    /// The stored data of a hard link's inode: the first name's entry in the state when it is still that inode
    /// (its newest content), else its row in the newest chain job at or before the link's job with the same device
    /// and inode.
    func dataRecord(forLink link: FileRecord, target: [UInt8], state: [[UInt8]: FileRecord]?) throws
        -> FileRecord?
    {
        if let current = state?[target], current.kind == .file, current.device == link.device,
            current.inode == link.inode
        {
            return current
        }
        let chainIDs = Set(chain.map(\.id))
        return try catalog.versions(of: target).last { row in
            row.status == .stored && row.kind == .file && row.device == link.device && row.inode == link.inode
                && row.jobID <= link.jobID && chainIDs.contains(row.jobID)
        }
    }
}
