#if canImport(Glibc)
import Glibc
#endif

/// One catalog row of a path, numbered as `list versions` shows it.
public struct FileVersion: Sendable {
    /// 1 for the oldest row, then 2, 3, … (what `restore --version N` takes).
    public var number: Int
    public var record: FileRecord
    /// The job that wrote the row.
    public var job: JobRecord
}

/// `list versions PATH` and `restore --select PATH --version N`: every row of one path in the catalog — stored,
/// deleted (Accurate), failed or skipped — oldest job first, numbered from 1. Both commands number through this
/// type, so a number means the same row in both.
public enum FileVersions {
    /// Every row of `path`, oldest job first (then file index); only rows of jobs named `jobName` when given.
    public static func list(_ path: [UInt8], jobName: String? = nil, in catalog: any CatalogStore) throws
        -> [FileVersion]
    {
        var jobs: [JobID: JobRecord?] = [:]
        var result: [FileVersion] = []
        for record in try catalog.versions(of: path) {
            let job: JobRecord?
            if let known = jobs[record.jobID] {
                job = known
            } else {
                job = try catalog.job(record.jobID)
                jobs[record.jobID] = job
            }
            guard let job, jobName == nil || job.name == jobName else { continue }
            result.append(FileVersion(number: result.count + 1, record: record, job: job))
        }
        return result
    }

    /// Version `number` (1-based) of `path`, or an error that says how many there are.
    public static func version(_ number: Int, of path: [UInt8], jobName: String? = nil, in catalog: any CatalogStore)
        throws -> FileVersion
    {
        let versions = try list(path, jobName: jobName, in: catalog)
        let shown = String(decoding: path, as: UTF8.self)
        let scope = jobName.map { " of Job \"\($0)\"" } ?? ""
        if versions.isEmpty {
            let pattern = path.contains { $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "[") }
            throw BackupError(
                "\(shown) has no version in the catalog\(scope)"
                    + (pattern ? " (--version takes the exact path, not a wildcard pattern)" : ""))
        }
        guard number >= 1 && number <= versions.count else {
            throw BackupError(
                "\(shown) has \(versions.count) version\(versions.count == 1 ? "" : "s")\(scope); "
                    + "--version \(number) is not one of 1–\(versions.count) (see list versions)")
        }
        return versions[number - 1]
    }

    /// Version `number` of `path` when it is a stored entry (what `restore --version` restores), else an error.
    public static func storedVersion(
        _ number: Int, of path: [UInt8], jobName: String? = nil, in catalog: any CatalogStore
    ) throws -> FileVersion {
        let version = try version(number, of: path, jobName: jobName, in: catalog)
        guard version.record.status == .stored else {
            throw BackupError(
                "version \(number) of \(String(decoding: path, as: UTF8.self)) is a \(version.record.status.rawValue) "
                    + "row of JobId \(version.job.id.rawValue): nothing to restore")
        }
        return version
    }

    /// A path as the catalog spells it: absolute (a relative one is taken from `directory`, by default the working
    /// directory), without `.` components, repeated or trailing slashes; `..` removes the previous component.
    public static func absolutePath(_ text: String, from directory: String? = nil) -> [UInt8] {
        var bytes = Array(text.utf8)
        if bytes.first != UInt8(ascii: "/") {
            var base: [UInt8]
            if let directory {
                base = Array(directory.utf8)
            } else if let cwd = getcwd(nil, 0) {
                base = Array(String(cString: cwd).utf8)
                free(cwd)
            } else {
                base = [UInt8(ascii: "/")]
            }
            bytes = base + [UInt8(ascii: "/")] + bytes
        }
        var components: [ArraySlice<UInt8>] = []
        for component in bytes.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true) {
            if component.elementsEqual([UInt8(ascii: ".")]) { continue }
            if component.elementsEqual([UInt8(ascii: "."), UInt8(ascii: ".")]) {
                _ = components.popLast()
                continue
            }
            components.append(component)
        }
        if components.isEmpty { return [UInt8(ascii: "/")] }
        var result: [UInt8] = []
        for component in components {
            result.append(UInt8(ascii: "/"))
            result += component
        }
        return result
    }
}
