/// `verify --jobid ID`: re-reads every stored member of a job from its volume and checks it against the catalog
/// (header present at the recorded offset, same name and kind, stored length and SHA-256 of the stored bytes).
/// Needs no private keys: it checks what was written, not what it decrypts to.
public final class VerifyJob {
    /// One disagreement between volume and catalog.
    public struct Mismatch: Sendable {
        public var path: [UInt8]
        public var message: String
    }

    let catalog: any CatalogStore
    let jobID: JobID
    public let progress: ProgressCounters

    public init(catalog: any CatalogStore, jobID: JobID, progress: ProgressCounters = ProgressCounters()) {
        self.catalog = catalog
        self.jobID = jobID
        self.progress = progress
    }

    public func run() throws -> (summary: JobSummary, mismatches: [Mismatch]) {
        let started = Clock.monotonic()
        let cpuStarted = Clock.cpuSeconds()
        guard let job = try catalog.job(jobID) else { throw BackupError("no job with JobId \(jobID.rawValue) in the catalog") }
        var summary = JobSummary(jobID: jobID.rawValue, jobName: job.name, level: job.level.name, status: .running)
        var mismatches: [Mismatch] = []
        var paths: [Int64: String] = [:]
        for volume in try catalog.volumes(job: jobID) { paths[volume.id] = volume.path }
        var volumes = VolumeReaders(paths: paths)
        let digester = try Digester(.sha256)
        let records = try catalog.files(job: jobID).filter { $0.status == .stored }
        // The totals are the stored lengths this loop reads: the ETA's estimate, exact and free.
        let files = records.filter { $0.kind == .file }
        progress.totalFiles.store(files.count, ordering: .relaxed)
        progress.totalBytes.store(files.reduce(0) { $0 &+ UInt64(max(0, $1.storedLength ?? 0)) }, ordering: .relaxed)
        progress.totalsKnown.store(true, ordering: .relaxed)
        for record in records {
            progress.currentPath = record.path
            guard let volumeID = record.volumeID, let headerOffset = record.headerOffset, headerOffset >= 0 else {
                mismatches.append(Mismatch(path: record.path, message: "no volume location in the catalog"))
                continue
            }
            do {
                let reader = try volumes.reader(volume: volumeID, job: jobID)
                let (member, location) = try reader.member(at: UInt64(headerOffset), ourRecords: false)
                var expectedName = VolumeMember.memberName(record.path)
                if let suffix = VolumeMember.memberSuffix(of: record), member.name == expectedName + suffix {
                    expectedName = member.name
                }
                if member.name != expectedName {
                    mismatches.append(
                        Mismatch(path: record.path, message: "the volume has \"\(String(decoding: member.name, as: UTF8.self))\" at this offset"))
                    continue
                }
                if !member.metadataMatches(record) {
                    mismatches.append(
                        Mismatch(path: record.path, message: "extended attributes or ACLs differ from the catalog's"))
                    continue
                }
                if member.kind != record.kind {
                    mismatches.append(
                        Mismatch(path: record.path, message: "kind \(member.kind.rawValue) in the volume, \(record.kind.rawValue) in the catalog"))
                    continue
                }
                if record.kind == .file {
                    digester.reset()
                    var length: Int64 = 0
                    try reader.readData(of: member, at: location) { bytes in
                        digester.update(bytes)
                        length += Int64(bytes.count)
                        progress.bytes.add(UInt64(bytes.count), ordering: .relaxed)
                    }
                    let digest = try digester.finalize()
                    if let expected = record.storedLength, expected != length {
                        mismatches.append(Mismatch(path: record.path, message: "stored length \(length), catalog says \(expected)"))
                    } else if digest != record.storedSHA256 {
                        mismatches.append(
                            Mismatch(
                                path: record.path,
                                message: "SHA-256 of the stored bytes is \(Hex.encode(digest)), catalog says "
                                    + (record.storedSHA256.map(Hex.encode) ?? "none")))
                    } else {
                        summary.filesStored += 1
                        summary.bytesStored += UInt64(length)
                        progress.files.add(1, ordering: .relaxed)
                    }
                }
                summary.entriesStored += 1
            } catch {
                mismatches.append(Mismatch(path: record.path, message: "\(error)"))
            }
        }
        summary.errors = mismatches.count
        summary.status = mismatches.isEmpty ? .ok : .failed
        summary.wallSeconds = Clock.monotonic() - started
        summary.cpuSeconds = Clock.cpuSeconds() - cpuStarted
        summary.peakRSSBytes = Clock.peakRSSBytes()
        summary.volumes = paths.keys.sorted().compactMap { paths[$0] }
        return (summary, mismatches)
    }
}
