import Pipeline

/// File rows into a new SQLite catalog, one transaction per batch, through the catalog API the backup's catalog
/// thread uses (`insert(files:messages:)`); each batch belongs to a job begun for it.
final class CatalogInserter {
    private let catalog: SQLiteCatalog
    private var nextIndex: Int64 = 0

    init(path: String) throws {
        catalog = try SQLiteCatalog.open(path: path, create: true)
    }

    /// Begins a job and inserts `count` rows of regular files with digests, as a Full backup records them.
    func insertBatch(count: Int) throws {
        let job = try catalog.beginJob(
            JobRecord(
                name: "bench", level: .full, fileSetName: "bench", fileSetDigest: "0",
                startTime: FileStat.Timestamp(seconds: 1_765_000_000, nanoseconds: 0)))
        var rows: [FileRecord] = []
        rows.reserveCapacity(count)
        let digest = [UInt8](repeating: 0xAB, count: 32)
        for _ in 0..<count {
            nextIndex += 1
            var row = FileRecord(
                jobID: job, fileIndex: nextIndex, path: Array("/srv/data/d\(nextIndex % 400)/f\(nextIndex).txt".utf8),
                kind: .file, stat: BenchFixtures.item(path: "/", size: 8192, index: nextIndex).stat)
            row.sourceSHA256 = digest
            row.signature = digest
            row.chain = ["checksum:log=/var/log/sums"]
            rows.append(row)
        }
        try catalog.insert(files: rows, messages: [])
    }

    func close() {
        try? catalog.close()
    }
}
