#if canImport(Glibc)
import Glibc
#endif

/// What every restore thread reads and no thread changes.
struct RestoreEnvironment: Sendable {
    let jobID: JobID
    let settings: RestoreSettings
    let builder: StageChainBuilder
    let context: StageContext
    /// Every volume the restored entries name, looked up in the catalog before any thread starts.
    let volumePaths: [Int64: String]
    let progress: ProgressCounters
    let cancellation: CancellationFlag
    /// The first names the selection's hard links name: only these written paths are remembered (hashing every
    /// path costs, and remembering every path grows with the selection).
    let linkTargets: Set<[UInt8]>
    let isRoot = geteuid() == 0
    /// Read once: temporary names carry it (a per-file `getpid` was 20,000 system calls per 20,000 files).
    let processID = getpid()
}

/// A directory whose metadata is applied after everything inside it was restored.
struct PendingDirectory: Sendable {
    var components: [[UInt8]]
    var record: FileRecord
    var member: VolumeMember?
}

/// What one restore thread did; the job merges the threads' outcomes when it has joined them.
struct RestoreOutcome: Sendable {
    var messages: [JobMessage] = []
    /// What this thread counted (errors, warnings, files stored/skipped/failed, entries, bytes), added to the
    /// job's summary when the threads are joined.
    var counts = JobSummary(jobID: 0, jobName: "", level: "", status: .running)
    /// Regular files this run verified and gave their final name that a hard link names: the only ones a hard
    /// link may join.
    var writtenFiles: Set<[UInt8]> = []
    var directories: [PendingDirectory] = []

    mutating func merge(_ other: RestoreOutcome) {
        messages += other.messages
        counts.add(other.counts)
        writtenFiles.formUnion(other.writtenFiles)
        directories += other.directories
    }
}

/// Restores entries on one thread: it owns its volume readers, digester, directory cache and outcome, and shares
/// only the ``RestoreEnvironment`` (Sendable) with the other threads. Not Sendable: it lives and dies on its thread.
final class RestoreWorker {
    let environment: RestoreEnvironment
    let target: RestoreTarget
    /// Tells this thread's temporary names from another's.
    let index: Int
    var volumes: VolumeReaders
    let decoder: MemberDecoder
    var outcome = RestoreOutcome()
    /// The directory (components) where `O_TMPFILE` was refused last: its other files go the temporary-name way
    /// without asking again.
    var unnamedRefusedIn: ArraySlice<[UInt8]>?
    /// Directories this thread already cleared of temporary names left by killed restores.
    var sweptDirectories: Set<ArraySlice<[UInt8]>> = []

    var settings: RestoreSettings { environment.settings }

    /// - Throws: `DigestError` when libcrypto cannot give this thread a SHA-256 state.
    init(environment: RestoreEnvironment, target: RestoreTarget, index: Int) throws(DigestError) {
        self.environment = environment
        self.target = target
        self.index = index
        self.volumes = VolumeReaders(paths: environment.volumePaths)
        self.decoder = try MemberDecoder(
            builder: environment.builder, chunkSize: environment.settings.chunkSize,
            cancellation: environment.cancellation)
    }

    func problem(_ path: [UInt8], _ text: String, severity: String = "error") {
        outcome.messages.append(
            JobMessage(jobID: environment.jobID, time: Clock.realtime(), severity: severity, path: path, text: text))
        if severity == "error" {
            outcome.counts.errors += 1
            environment.progress.errors.add(1, ordering: .relaxed)
        } else if severity == "warning" {
            outcome.counts.warnings += 1
        }
    }

    /// Restores one entry; a problem with it becomes a job message and the restore goes on.
    func restore(_ record: FileRecord) {
        environment.progress.currentPath = record.path
        let components: [[UInt8]]
        do {
            // The root directory itself (`File = /`) is the --where directory.
            let name = VolumeMember.memberName(record.path)
            components =
                record.kind == .directory && name == [UInt8(ascii: ".")] ? [] : try MemberName.safeComponents(name)
        } catch {
            problem(record.path, "refusing to restore: \(error.message)")
            if record.kind == .file { outcome.counts.filesFailed += 1 }
            return
        }
        do {
            var written = true
            switch record.kind {
            case .directory:
                try restoreDirectory(record, components: components)
            case .file:
                written = try restoreFile(record, components: components)
            case .symlink, .hardLink, .fifo, .charDevice, .blockDevice:
                written = try restoreSpecial(record, components: components)
            case .socket:
                return
            }
            if written {
                outcome.counts.entriesStored += 1
                environment.progress.entries.add(1, ordering: .relaxed)
            } else if record.kind == .file {
                // Kept by --replace: counted as skipped, not as stored.
                outcome.counts.filesSkipped += 1
            }
        } catch let failure as StageFailure {
            problem(record.path, "stage \(failure.stage): \(failure.message)")
            if record.kind == .file { outcome.counts.filesFailed += 1 }
        } catch {
            problem(record.path, "\(error)")
            if record.kind == .file { outcome.counts.filesFailed += 1 }
        }
    }

    /// Creates (or opens) the directory now; its metadata waits for ``applyDirectoryMetadata()``.
    private func restoreDirectory(_ record: FileRecord, components: [[UInt8]]) throws {
        let fd = try target.parent(of: components)
        if let name = components.last {
            close(try target.openDirectory(name, in: fd, create: true))
        }
        let member = try record.headerOffset.flatMap { $0 >= 0 ? UInt64($0) : nil }.map {
            try volumes.reader(for: record).member(at: $0, ourRecords: false).0
        }
        outcome.directories.append(PendingDirectory(components: components, record: record, member: member))
    }

    /// Directory metadata last (restoring their contents changed their times), deepest first.
    func applyDirectoryMetadata() {
        target.invalidate()
        for directory in outcome.directories.sorted(by: { $0.components.count > $1.components.count }) {
            do {
                let fd: Int32
                if directory.components.isEmpty {
                    fd = dup(target.rootFD)
                } else {
                    let parent = try target.parent(of: directory.components)
                    fd = try target.openDirectory(directory.components.last!, in: parent, create: false)
                }
                defer { close(fd) }
                applyMetadata(fd: fd, record: directory.record, member: directory.member, path: directory.record.path)
            } catch {
                problem(directory.record.path, "\(error)")
            }
        }
    }

    /// Whether an existing entry may be replaced, per `--replace`.
    func mayReplace(_ existing: stat, with record: FileRecord) -> Bool {
        switch settings.replace {
        case .always: return true
        case .never: return false
        case .ifnewer: return record.mtime.seconds > Int64(existing.st_mtim.tv_sec)
        case .ifolder: return record.mtime.seconds < Int64(existing.st_mtim.tv_sec)
        }
    }

    func notReplaced(_ record: FileRecord) -> Bool {
        problem(record.path, "not replaced (--replace \(settings.replace.rawValue))", severity: "info")
        return false
    }

    static let temporaryPrefix = Array(".optionhost-restore-".utf8)

    /// A name no other entry or thread of this restore uses, hidden (leading dot) and recognisable: it starts with
    /// ``temporaryPrefix`` and this process's id, which is how a later restore knows it as a leftover (see
    /// ``removeStaleTemporaries(in:of:)``).
    func temporaryName(_ record: FileRecord) -> [UInt8] {
        RestoreWorker.temporaryPrefix
            + Array("\(environment.processID)-\(index)-\(record.jobID.rawValue)-\(record.fileIndex)".utf8)
    }

    /// ``temporaryName(_:)`` for an entry of the directory `parent` (`directory`, its components): the first time
    /// this thread uses a temporary name there, it first removes the ones killed restores left
    /// (``removeStaleTemporaries(in:of:)``). Only directories where a temporary name is needed are looked through:
    /// those are the ones where a killed restore can have left one (file systems without `O_TMPFILE`, replaced
    /// entries, links and special files), and a restore onto `O_TMPFILE` pays nothing for new files.
    func temporaryName(_ record: FileRecord, in parent: FileDescriptor, directory: ArraySlice<[UInt8]>) -> [UInt8] {
        if sweptDirectories.insert(directory).inserted { removeStaleTemporaries(in: parent, of: record) }
        return temporaryName(record)
    }

    /// Removes, from the directory that is about to get a temporary name, the temporary names a restore killed
    /// before it could clean up left behind (SIGKILL, power loss): only names of ours (``temporaryPrefix``, a process
    /// id, then the rest of ``temporaryName(_:)``), never a directory, only when that process is gone. A live
    /// restore's names (this one's, or a concurrent one's) stay. Reported as `info` messages.
    func removeStaleTemporaries(in parent: FileDescriptor, of record: FileRecord) {
        guard let names = try? parent.names(startingWith: RestoreWorker.temporaryPrefix) else { return }
        let directory = record.path[..<(record.path.lastIndex(of: UInt8(ascii: "/")) ?? 0)]
        for name in names {
            let digits = name[RestoreWorker.temporaryPrefix.count...].prefix { $0 >= 0x30 && $0 <= 0x39 }
            guard !digits.isEmpty, digits.count < 10, digits.endIndex < name.endIndex,
                name[digits.endIndex] == UInt8(ascii: "-"),
                let pid = pid_t(String(decoding: digits, as: UTF8.self)),
                pid != environment.processID, !SystemCall.processExists(pid),
                let info = try? parent.status(of: name), info.st_mode & S_IFMT != S_IFDIR
            else { continue }
            if (try? parent.unlink(name)) != nil {
                problem(
                    Array(directory) + [UInt8(ascii: "/")] + name,
                    "removed a temporary file left by restore process \(pid), which is gone", severity: "info")
            }
        }
    }
}
