#if canImport(Glibc)
import Glibc
#endif

/// Rebuilding one job: its `jobs` row from label and trailer, its `volumes` rows, and the `files` rows of its
/// members (see `VolumeScanner+Member.swift`), hard links last and Accurate deletions after them.
extension VolumeScanner {
    // MARK: - One job

    /// The members' running state while a job's volumes are read.
    struct JobState {
        var lastIndex: Int64 = -1
        var entries = 0
        var files = 0
        var inferred = 0
        var bytesRead: Int64 = 0
        var bytesStored: Int64 = 0
        var batch: [FileRecord] = []
        /// Hard links wait until their targets are in the catalog (their size and file type come from there).
        var hardLinks: [FileRecord] = []
        var decoder = PipelineRecords.MemberDecoder()
    }

    /// Rebuilds one job from its volumes. `replacing` is the catalog's row of the same job that did not finish,
    /// already removed (`removed` says what it held). The client is the label's; volumes written before labels
    /// named it leave the replaced row's (NULL for a job added).
    func scanJob(
        _ volumes: [Volume], replacing: JobRecord? = nil, removed: DatabaseCatalog.RemovedRows? = nil
    ) throws -> JobResult {
        let label = volumes[0].label
        var job = JobRecord(
            id: label.jobID, name: label.name, type: "B", level: label.jobLevel, status: .running,
            fileSetName: label.fileSetName, fileSetDigest: label.fileSetDigest, startTime: label.start,
            sinceTime: label.since)
        job.clientName = label.clientName ?? replacing?.clientName
        // A Full needs no other job; volumes of older builds do not say what an Incremental or Differential needed.
        job.chainJobs = label.jobLevel == .full ? [] : label.chainJobs
        do {
            _ = try catalog.beginJob(job)
        } catch {
            if let error = error as? CatalogError, error.code == .constraint {
                throw ScanError("JobId \(label.jobID) (\(label.name)) is already in the catalog")
            }
            throw error
        }
        try catalog.insertJobData(job: label.jobID, label.jobData)
        var state = JobState()
        var volumeRecords: [VolumeRecord] = []
        var trailer: [VolumeMember.Record] = []
        for (position, volume) in volumes.enumerated() {
            let isLast = position == volumes.count - 1
            var record = VolumeRecord(
                jobID: label.jobID, name: VolumeScanner.baseName(volume.path), path: volume.path,
                sequence: volume.label.sequence, bytes: volume.bytes, status: isLast ? "closed" : "full")
            record.id = try catalog.addVolume(record)
            volumeRecords.append(record)
            let extra = try scanVolume(volume, volumeID: record.id, jobID: label.jobID, state: &state)
            if !extra.isEmpty && !isLast {
                throw ScanError(
                    "\(volume.path): holds the trailer of JobId \(label.jobID) but is not its last volume (volume "
                        + "\(volumes[position + 1].label.sequence) follows)")
            }
            trailer += extra
        }
        try catalog.insert(files: state.batch, messages: [])
        state.batch.removeAll()
        try insertHardLinks(&state, jobID: label.jobID)

        let decoded: PipelineRecords.Trailer
        do {
            decoded = try PipelineRecords.Trailer(decoding: trailer)
        } catch {
            throw ScanError("\(volumes.last!.path): \(error)")
        }

        // Deleted rows (Accurate) after the last member's index.
        var deleted: [FileRecord] = []
        for path in decoded.deleted {
            guard state.lastIndex < Int64.max else { throw ScanError("JobId \(label.jobID): file index out of range") }
            state.lastIndex += 1
            // The kind the path had in the previous state: its newest stored row in an earlier job (scanned before
            // this one, as jobs go in JobId order).
            let kind = try catalog.versions(of: path).last {
                $0.jobID < label.jobID && $0.status == .stored
            }?.kind ?? .file
            deleted.append(
                FileRecord(jobID: label.jobID, fileIndex: state.lastIndex, path: path, kind: kind, status: .deleted))
            if deleted.count >= batchSize {
                try catalog.insert(files: deleted, messages: [])
                deleted.removeAll(keepingCapacity: true)
            }
        }
        try catalog.insert(files: deleted, messages: [])

        let hadTrailer = decoded.present
        let now = Clock.realtime()
        var note = "rebuilt by scan from \(volumes.count) volume\(volumes.count == 1 ? "" : "s"): "
            + "\(state.entries) stored entries"
        if hadTrailer {
            try VolumeScanner.apply(decoded, to: &job, volume: volumes.last!.path)
        } else {
            job.status = .failed
            job.filesExamined = Int64(state.files)
            job.filesStored = Int64(state.files)
            job.entriesStored = Int64(state.entries)
            job.bytesRead = state.bytesRead
            job.bytesStored = state.bytesStored
            note += "; the last volume has no job trailer (the job did not finish, or its last volume is missing): "
                + "status set to f, counts recomputed from the members"
        }
        note += "; not in volumes: entries that were not stored and the original job messages"
        if let replacing, let removed {
            note += "; replaced what the catalog held of this unfinished job (status \(replacing.status.rawValue): "
                + "\(removed.files) files rows, \(removed.messages) message\(removed.messages == 1 ? "" : "s"), "
                + "\(removed.volumes) volume\(removed.volumes == 1 ? "" : "s"))"
        }
        try catalog.insert(
            files: [], messages: [JobMessage(jobID: label.jobID, time: now, severity: "info", stage: nil, text: note)])
        try catalog.finishJob(job)
        return JobResult(
            job: job, volumes: volumeRecords, entries: state.entries, files: state.files, deleted: decoded.deleted.count,
            inferredIndexes: state.inferred, hadTrailer: hadTrailer, replaced: replacing)
    }

    /// The end time and counts of a job trailer.
    static func apply(_ trailer: PipelineRecords.Trailer, to job: inout JobRecord, volume: String) throws(ScanError) {
        if let id = trailer.jobID, id != job.id.rawValue {
            throw ScanError("\(volume): the trailer is for JobId \(id), the label for JobId \(job.id)")
        }
        if let end = trailer.end { job.endTime = end }
        job.filesExamined = trailer.count("files_examined")
        job.filesStored = trailer.count("files_stored")
        job.filesSkipped = trailer.count("files_skipped")
        job.filesFailed = trailer.count("files_failed")
        job.entriesStored = trailer.count("entries_stored")
        job.bytesRead = trailer.count("bytes_read")
        job.bytesStored = trailer.count("bytes_stored")
        job.errors = trailer.count("errors")
        job.warnings = trailer.count("warnings")
        // The writer's rule (BackupJob): a job that wrote its trailer ended OK, with warnings when files failed.
        if let text = trailer.status, let status = JobStatus(rawValue: text) {
            job.status = status
        } else {
            job.status = job.filesFailed > 0 || job.errors > 0 ? .warnings : .ok
        }
    }

    static func baseName(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    // MARK: - One volume

    /// Reads every member of a volume into file rows; returns the records of its global headers after the job
    /// label (the trailer, if this volume has it).
    func scanVolume(
        _ volume: Volume, volumeID: Int64, jobID: JobID, state: inout JobState
    ) throws -> [VolumeMember.Record] {
        let reader = try PaxReader(path: volume.path)
        let scannedBefore = progress.bytes.load(ordering: .relaxed)
        defer { progress.bytes.store(scannedBefore &+ UInt64(max(0, volume.bytes)), ordering: .relaxed) }
        // Global headers after the label: late metadata of the member before them, or the job trailer.
        var absorbed = 1
        var trailer: [VolumeMember.Record] = []
        func absorbHeaders() throws {
            while absorbed < reader.labels.count {
                try absorb(reader.labels[absorbed], into: &state, trailer: &trailer, volume: volume.path)
                absorbed += 1
            }
        }
        while let (member, location) = try reader.next() {
            try absorbHeaders()
            if !trailer.isEmpty {
                throw ScanError(
                    "\(volume.path) at offset \(location.headerOffset): a member follows the job trailer (the volume "
                        + "is damaged)")
            }
            // Rows wait in the batch until the next member is read: a late-metadata header may still amend the last.
            if state.batch.count >= batchSize {
                try catalog.insert(files: state.batch, messages: [])
                state.batch.removeAll(keepingCapacity: true)
            }
            let record = try fileRecord(member, location: location, volumeID: volumeID, jobID: jobID, state: &state,
                volume: volume.path)
            state.entries += 1
            progress.entries.add(1, ordering: .relaxed)
            progress.currentPath = record.path
            // How far into the volume this member ends: the bytes scanned (member data is skipped, not read).
            progress.bytes.store(
                scannedBefore &+ location.dataOffset &+ UInt64(max(0, record.storedLength ?? 0)), ordering: .relaxed)
            if record.kind == .file {
                state.files += 1
                // Saturating: crafted sizes must not trap.
                let (sum, overflow) = state.bytesRead.addingReportingOverflow(Int64(clamping: record.size))
                state.bytesRead = overflow ? Int64.max : sum
                progress.files.add(1, ordering: .relaxed)
            }
            let (storedSum, storedOverflow) = state.bytesStored.addingReportingOverflow(record.storedLength ?? 0)
            state.bytesStored = storedOverflow ? Int64.max : storedSum
            if record.kind == .hardLink {
                state.hardLinks.append(record)
            } else {
                state.batch.append(record)
            }
        }
        try absorbHeaders()
        guard let labelRecords = reader.labels.first,
            try VolumeScanner.label(labelRecords, volume: volume.path) == volume.label
        else {
            throw ScanError("\(volume.path): changed while it was scanned (its job label differs)")
        }
        try checkEnd(volume)
        return trailer
    }

    /// One global header after a volume's label: the late metadata of the member just before it (a streamed file
    /// whose stages produced metadata with or after its data), else part of the job trailer.
    func absorb(
        _ records: [VolumeMember.Record], into state: inout JobState, trailer: inout [VolumeMember.Record],
        volume: String
    ) throws {
        let late: (fileIndex: Int64, metadata: [String: String])?
        do {
            late = try PipelineRecords.decodeLateMetadata(records)
        } catch {
            throw ScanError("\(volume): \(error)")
        }
        guard let late else {
            trailer += records
            return
        }
        guard let position = state.batch.lastIndex(where: { $0.fileIndex == late.fileIndex }) else {
            throw ScanError(
                "\(volume): late metadata for file index \(late.fileIndex) does not follow that member (the volume is "
                    + "damaged)")
        }
        state.batch[position].stageMetadata = late.metadata
    }

    /// A complete volume ends with the two zero blocks of a tar archive; without them it was cut short.
    func checkEnd(_ volume: Volume) throws {
        var tail = [UInt8](repeating: 1, count: 1024)
        var count = 0
        if volume.bytes >= 1024 {
            do {
                let file = try FileDescriptor.open(volume.path, O_RDONLY)
                count = try file.closeAfter { () throws(Errno) in
                    try tail.withUnsafeMutableBytes { raw in
                        Swift.Result { () throws(Errno) in try file.read(at: UInt64(volume.bytes - 1024), into: raw) }
                    }.get()
                }
            } catch {
                throw ScanError(error.message("\(volume.path): cannot read its end"))
            }
        }
        guard count == 1024, tail.allSatisfy({ $0 == 0 }) else {
            throw ScanError(
                "\(volume.path): the volume does not end with the end-of-archive blocks: it is truncated (or was "
                    + "still being written)")
        }
    }

    func insertHardLinks(_ state: inout JobState, jobID: JobID) throws {
        guard !state.hardLinks.isEmpty else { return }
        for index in state.hardLinks.indices {
            guard let target = state.hardLinks[index].linkTarget else { continue }
            // The first name of the inode, stored earlier in this job: same size and file type.
            if let first = try catalog.versions(of: target).last(where: { $0.jobID == jobID && $0.kind != .hardLink }) {
                state.hardLinks[index].size = first.size
                state.hardLinks[index].mode = (first.mode & FileMode.typeMask) | (state.hardLinks[index].mode & 0o7777)
            }
        }
        var start = 0
        while start < state.hardLinks.count {
            let end = min(start + batchSize, state.hardLinks.count)
            try catalog.insert(files: Array(state.hardLinks[start..<end]), messages: [])
            start = end
        }
        state.hardLinks.removeAll()
    }
}
