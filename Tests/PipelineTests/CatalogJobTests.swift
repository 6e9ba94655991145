import Foundation
import PipelineTestSupport
import XCTest

@testable import Pipeline

class CatalogJobTests: CatalogTestCase {
    func testJobLifeCycleRoundTripsEveryField() throws {
        let catalog = try openCatalog()
        var job = sampleJob()
        job.fileSetText = "FileSet { Name = root; Include { File = / } }"
        job.clientName = "host-1"
        job.level = .incremental
        job.sinceTime = time(1_699_000_000, 5)
        job.id = try catalog.beginJob(job)
        XCTAssertEqual(job.id, JobID(rawValue: 1))
        XCTAssertEqual(try catalog.job(job.id), job, "a running job reads back as written")

        let volumeID = try catalog.addVolume(
            VolumeRecord(jobID: job.id, name: "nightly-1-0001.tar", path: "/archive/nightly-1-0001.tar", sequence: 1))
        let second = try catalog.addVolume(
            VolumeRecord(jobID: job.id, name: "nightly-1-0002.tar", path: "/archive/nightly-1-0002.tar", sequence: 2))

        // Out of order on purpose: reads come back in fileIndex order.
        let files = [
            fullFile(job: job.id, index: 3, volume: second),
            bareFile(job: job.id, index: 1, path: "/gone"),
            fullFile(job: job.id, index: 2, volume: volumeID),
            FileRecord(
                jobID: job.id, fileIndex: 4, path: [0x2F, 0x80, 0x00, 0x01], kind: .symlink, status: .failed,
                linkTarget: [0xC3, 0x28], chain: [""], stageMetadata: ["k": ""], block: 0, error: ""),
        ]
        let message = JobMessage(
            jobID: job.id, time: time(1_700_000_001, 2), severity: "error", stage: "gpg",
            path: [0x2F, 0xFF], text: "cannot encrypt: \"key expired\"\n")
        try catalog.insert(files: files, messages: [message])
        try catalog.updateVolume(id: volumeID, bytes: 1 << 40, status: "full")
        try catalog.updateVolume(id: second, bytes: 10_240, status: "closed")

        job.status = .warnings
        job.endTime = time(1_700_000_100, 999_999_999)
        job.filesExamined = 10
        job.filesStored = 7
        job.filesSkipped = 1
        job.filesFailed = 2
        job.entriesStored = 12
        job.bytesRead = 1 << 33
        job.bytesStored = (1 << 33) + 17
        job.errors = 2
        job.warnings = 1
        try catalog.finishJob(job)

        XCTAssertEqual(try catalog.job(job.id), job)
        let expected = files.sorted { $0.fileIndex < $1.fileIndex }
        let stored = try catalog.files(job: job.id)
        XCTAssertEqual(stored.count, expected.count)
        for (got, want) in zip(stored, expected) {
            XCTAssertEqual(got, want, "file \(want.fileIndex)")
        }
        XCTAssertEqual(stored[0].linkTarget, nil)
        XCTAssertEqual(stored[1].linkTarget, [], "an empty blob is not NULL")
        var streamed: [FileRecord] = []
        try catalog.forEachFile(job: job.id) { streamed.append($0) }
        XCTAssertEqual(streamed, expected)

        XCTAssertEqual(try catalog.messages(job: job.id), [message])
        XCTAssertEqual(
            try catalog.volumes(job: job.id),
            [
                VolumeRecord(
                    id: volumeID, jobID: job.id, name: "nightly-1-0001.tar", path: "/archive/nightly-1-0001.tar",
                    sequence: 1, bytes: 1 << 40, status: "full"),
                VolumeRecord(
                    id: second, jobID: job.id, name: "nightly-1-0002.tar", path: "/archive/nightly-1-0002.tar",
                    sequence: 2, bytes: 10_240, status: "closed"),
            ])
        try catalog.close()

        // The same from a fresh connection.
        let reopened = try openCatalog(create: false)
        XCTAssertEqual(try reopened.job(job.id), job)
        XCTAssertEqual(try reopened.files(job: job.id), expected)
        XCTAssertNil(try reopened.job(JobID(rawValue: 99)))
        XCTAssertEqual(try reopened.files(job: JobID(rawValue: 99)), [])
        try reopened.close()
    }

    func testStoredValuesAreReadableWithPlainSQL() throws {
        let catalog = try openCatalog()
        let id = try catalog.beginJob(sampleJob())
        try catalog.insert(files: [fullFile(job: id, index: 1, volume: nil)], messages: [])
        do {
            // The same questions in each dialect: digests as hex, JSON fields, the type of `path`, a time.
            let row = try catalog.connection.prepare(
                driver == .sqlite
                    ? """
                    SELECT hex(source_sha256), length(stored_sha256), type, status, json_extract(chain, '$[1]'),
                        json_extract(stage_metadata, '$.gpg'), json_valid(chain), json_valid(stage_metadata), mode,
                        typeof(path), datetime(mtime, 'unixepoch')
                    FROM files
                    """
                    : """
                    SELECT upper(encode(source_sha256, 'hex')), length(stored_sha256), type, status,
                        chain::jsonb->>1, stage_metadata::jsonb->>'gpg', chain::jsonb IS NOT NULL,
                        stage_metadata::jsonb IS NOT NULL, mode,
                        CASE pg_typeof(path) WHEN 'bytea'::regtype THEN 'blob' END,
                        to_char(to_timestamp(mtime) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')
                    FROM files
                    """)
            XCTAssertTrue(try row.step())
            XCTAssertEqual(row.text(0), "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F")
            XCTAssertEqual(row.int64(1), 32)
            XCTAssertEqual(row.text(2), "file")
            XCTAssertEqual(row.text(3), "stored")
            XCTAssertEqual(row.text(4), "gpg:recipient=\"a b\"")
            XCTAssertEqual(row.text(5), "fpr=ABCD")
            XCTAssertEqual(row.int64(6), 1)
            XCTAssertEqual(row.int64(7), 1)
            XCTAssertEqual(row.int64(8), 0o100644)
            XCTAssertEqual(row.text(9), "blob")
            XCTAssertEqual(row.text(10), "2023-11-14 22:13:20")
            let job = try catalog.connection.prepare("SELECT status, level, type FROM jobs")
            XCTAssertTrue(try job.step())
            XCTAssertEqual([job.text(0), job.text(1), job.text(2)], ["R", "F", "B"])
        }
        try catalog.close()
    }

    func testMessagesKeepInsertionOrder() throws {
        let catalog = try openCatalog()
        let id = try catalog.beginJob(sampleJob())
        let other = try catalog.beginJob(sampleJob(name: "other"))
        var written: [JobMessage] = []
        for batch in 0..<3 {
            var messages: [JobMessage] = []
            for n in 0..<5 {
                // Same time for all, and severities that would sort differently: order is insertion order.
                messages.append(
                    JobMessage(
                        jobID: id, time: time(1_700_000_000), severity: ["warning", "error", "info", "debug"][n % 4],
                        text: "message \(batch).\(n)"))
            }
            written += messages
            try catalog.insert(
                files: [],
                messages: messages + [JobMessage(jobID: other, time: time(0), severity: "info", text: "other job")])
        }
        XCTAssertEqual(try catalog.messages(job: id), written)
        XCTAssertEqual(try catalog.messages(job: other).count, 3)
        try catalog.close()
    }

    func testJobsNewestFirst() throws {
        let catalog = try openCatalog()
        let a1 = try catalog.beginJob(sampleJob(name: "A", start: 100))
        let b1 = try catalog.beginJob(sampleJob(name: "B", start: 150))
        let a3 = try catalog.beginJob(sampleJob(name: "A", start: 300))
        let a2 = try catalog.beginJob(sampleJob(name: "A", start: 200))  // recorded later, started earlier
        let a3bis = try catalog.beginJob(sampleJob(name: "A", start: 300))  // same start: higher id first
        XCTAssertEqual(try catalog.jobs(name: "A").map(\.id), [a3bis, a3, a2, a1])
        XCTAssertEqual(try catalog.jobs(name: "B").map(\.id), [b1])
        XCTAssertEqual(try catalog.jobs(name: "C").map(\.id), [])
        XCTAssertEqual(try catalog.jobs(name: nil).map(\.id), [a3bis, a3, a2, b1, a1])
        try catalog.close()
    }

    func testFileSetIdentityIsNameAndDigest() throws {
        let catalog = try openCatalog()
        var first = sampleJob(digest: "11")
        _ = try catalog.beginJob(first)
        first.fileSetText = "text kept once known"
        _ = try catalog.beginJob(first)
        _ = try catalog.beginJob(sampleJob(digest: "11"))
        _ = try catalog.beginJob(sampleJob(digest: "22"))
        XCTAssertEqual(try catalog.connection.scalar("SELECT count(*) FROM filesets"), 2)
        XCTAssertEqual(try catalog.connection.scalar("SELECT count(DISTINCT fileset_id) FROM jobs"), 2)
        let jobs = try catalog.jobs(name: nil).sorted { $0.id < $1.id }
        XCTAssertEqual(jobs.map(\.fileSetDigest), ["11", "11", "11", "22"])
        let known = "text kept once known"
        XCTAssertEqual(jobs.map(\.fileSetText), [known, known, known, nil])
        try catalog.close()
    }

    func testInsertIsOneTransaction() throws {
        let catalog = try openCatalog()
        let id = try catalog.beginJob(sampleJob())
        try catalog.insert(files: [bareFile(job: id, index: 1, path: "/a")], messages: [])
        let batch =
            (2...50).map { bareFile(job: id, index: Int64($0), path: "/b\($0)") } + [
                bareFile(job: id, index: 1, path: "/duplicate index")
            ]
        let message = JobMessage(jobID: id, time: time(1), severity: "info", text: "lost with its batch")
        XCTAssertThrowsError(try catalog.insert(files: batch, messages: [message])) { error in
            XCTAssertTrue(ResultCode.constraint ~= error)
            XCTAssertTrue(ResultCode.constraintUnique ~= error)
            // SQLite inserts row by row and names the row; PostgreSQL copies the batch in one COPY, names its rows
            // and, from the server's detail, the key.
            let message =
                switch driver {
                case .sqlite:
                    "cannot insert file 1 of job 1 (/duplicate index): UNIQUE constraint failed: files.job_id, "
                        + "files.file_index (SQLITE_CONSTRAINT (extended 2067))"
                case .postgreSQL:
                    "cannot insert files 1-50 of job 1 (50 rows in one COPY): duplicate key value violates "
                        + "unique constraint \"files_job_id_file_index_key\" (Key (job_id, file_index)=(1, 1) "
                        + "already exists.) (SQLSTATE 23505)"
                }
            let statement = driver == .sqlite ? "INSERT INTO files (job_id, " : "COPY files (job_id, "
            XCTAssertTrue("\(error)".hasPrefix("\(message) — SQL: \(statement)"), "\(error)")
            XCTAssertEqual(
                (error as? CatalogError)?.sql,
                driver == .sqlite ? SQLiteCatalog.insertFileSQL : SQLiteCatalog.copyFileSQL)
        }
        XCTAssertEqual(try catalog.files(job: id).map(\.fileIndex), [1])
        XCTAssertEqual(try catalog.messages(job: id), [])
        // The connection is usable afterwards.
        try catalog.insert(files: [bareFile(job: id, index: 2, path: "/b")], messages: [message])
        XCTAssertEqual(try catalog.files(job: id).map(\.fileIndex), [1, 2])
        try catalog.close()
    }

    func testUnknownJobsAndVolumes() throws {
        let catalog = try openCatalog()
        let ghost = JobID(rawValue: 42)
        XCTAssertThrowsError(try catalog.insert(files: [bareFile(job: ghost, index: 1, path: "/a")], messages: [])) {
            XCTAssertTrue(ResultCode.constraintForeignKey ~= $0, "\($0)")
        }
        var job = sampleJob()
        job.id = ghost
        XCTAssertThrowsError(try catalog.finishJob(job)) {
            XCTAssertEqual("\($0)", "job 42 is not in the catalog (SQLITE_NOTFOUND)")
        }
        XCTAssertThrowsError(try catalog.finishJob(sampleJob())) { XCTAssertTrue(ResultCode.misuse ~= $0) }
        XCTAssertThrowsError(try catalog.updateVolume(id: 5, bytes: 0, status: "closed")) {
            XCTAssertTrue(ResultCode.notFound ~= $0)
        }
        XCTAssertThrowsError(
            try catalog.addVolume(VolumeRecord(jobID: ghost, name: "v", path: "/v", sequence: 1))
        ) { XCTAssertTrue(ResultCode.constraintForeignKey ~= $0) }
        try catalog.close()
    }

    func testGivenJobIDIsKeptAndIDsAreNeverReused() throws {
        let catalog = try openCatalog()
        var rebuilt = sampleJob()
        rebuilt.id = JobID(rawValue: 100)
        XCTAssertEqual(try catalog.beginJob(rebuilt), JobID(rawValue: 100))
        XCTAssertThrowsError(try catalog.beginJob(rebuilt)) { XCTAssertTrue(ResultCode.constraint ~= $0) }
        let next = try catalog.beginJob(sampleJob())
        XCTAssertEqual(next, JobID(rawValue: 101))
        try catalog.connection.execute("DELETE FROM jobs WHERE id = 101")
        XCTAssertEqual(try catalog.beginJob(sampleJob()), JobID(rawValue: 102), "a pruned id is not reused")
        try catalog.close()
    }

    func testManyRowsInBatches() throws {
        let catalog = try openCatalog()
        let id = try catalog.beginJob(sampleJob())
        var index: Int64 = 0
        for _ in 0..<5 {
            let batch = (0..<1_000).map { _ -> FileRecord in
                index += 1
                return fullFile(job: id, index: index, volume: nil)
            }
            try catalog.insert(files: batch, messages: [])
        }
        var count: Int64 = 0
        try catalog.forEachFile(job: id) { record in
            count += 1
            XCTAssertEqual(record.fileIndex, count)
        }
        XCTAssertEqual(count, 5_000)
        try catalog.close()
    }

    /// Rows by file index: a dense run is read as one range and filtered, a sparse set with `IN`; both give
    /// exactly the rows asked for that exist, in file index order.
    func testFilesByIndexDenseAndSparse() throws {
        let catalog = try openCatalog()
        let id = try catalog.beginJob(sampleJob())
        let other = try catalog.beginJob(sampleJob())
        let present = (1...1_200).filter { $0 % 7 != 0 }.map(Int64.init)
        try catalog.insert(files: present.map { fullFile(job: id, index: $0, volume: nil) }, messages: [])
        try catalog.insert(files: (1...50).map { fullFile(job: other, index: Int64($0), volume: nil) }, messages: [])
        let cases: [[Int64]] = [
            Array(1...256),  // dense, with holes (multiples of 7 are missing)
            Array(stride(from: 3, through: 1_200, by: 5)),  // sparse: more than 500 indexes
            [5, 6, 7, 8, 1_000],  // neither: one far index
            [42],
            [],
            [1_199, 1_200, 1_201],  // past the last row
        ]
        for indexes in cases {
            let rows = try catalog.files(job: id, indexes: indexes)
            XCTAssertEqual(rows.map(\.fileIndex), indexes.filter { $0 <= 1_200 && $0 % 7 != 0 }, "\(indexes.prefix(5))")
            XCTAssertEqual(rows, rows.map { fullFile(job: id, index: $0.fileIndex, volume: nil) })
        }
        try catalog.close()
    }

    func testReaderConnectionSeesCommittedBatchesOnly() throws {
        let writer = try openCatalog()
        let id = try writer.beginJob(sampleJob())
        try writer.insert(files: (1...10).map { bareFile(job: id, index: $0, path: "/f\($0)") }, messages: [])

        let reader = try openCatalog(create: false)
        XCTAssertEqual(try reader.files(job: id).count, 10)

        // While the reader is inside a read (its snapshot), the writer commits another batch.
        var seen = 0
        try reader.forEachFile(job: id) { _ in
            if seen == 0 {
                try writer.insert(
                    files: (11...20).map { bareFile(job: id, index: $0, path: "/f\($0)") }, messages: [])
            }
            seen += 1
        }
        XCTAssertEqual(seen, 10, "a read sees one snapshot")
        XCTAssertEqual(try reader.files(job: id).count, 20, "the next read sees the new batch")

        var job = try XCTUnwrap(try reader.job(id))
        XCTAssertEqual(job.status, .running)
        job.status = .ok
        job.endTime = time(2_000_000_000)
        try writer.finishJob(job)
        XCTAssertEqual(try reader.job(id)?.status, .ok)
        try reader.close()
        try writer.close()
    }

    func testReentrantReadInsideForEachFile() throws {
        let catalog = try openCatalog()
        let id = try catalog.beginJob(sampleJob())
        try catalog.insert(files: (1...3).map { bareFile(job: id, index: $0, path: "/f\($0)") }, messages: [])
        var inner: [Int] = []
        try catalog.forEachFile(job: id) { _ in inner.append(try catalog.files(job: id).count) }
        XCTAssertEqual(inner, [3, 3, 3])
        try catalog.close()
    }

    func testUsableThroughTheProtocol() throws {
        let store: any CatalogStore = try openCatalog()
        var job = sampleJob()
        job.id = try store.beginJob(job)
        let volume = try store.addVolume(VolumeRecord(jobID: job.id, name: "v1", path: "/v1", sequence: 1))
        try store.insert(
            files: [fullFile(job: job.id, index: 1, volume: volume)],
            messages: [JobMessage(jobID: job.id, time: time(5), severity: "info", text: "hello")])
        try store.updateVolume(id: volume, bytes: 3, status: "closed")
        job.status = .ok
        try store.finishJob(job)
        XCTAssertEqual(try store.job(job.id), job)
        XCTAssertEqual(try store.jobs(name: "nightly"), [job])
        XCTAssertEqual(try store.files(job: job.id), [fullFile(job: job.id, index: 1, volume: volume)])
        XCTAssertEqual(try store.messages(job: job.id).map(\.text), ["hello"])
        XCTAssertEqual(try store.volumes(job: job.id).map(\.bytes), [3])
        try store.close()
    }

    func testUndecodableStoredValueIsAClearError() throws {
        let catalog = try openCatalog()
        let id = try catalog.beginJob(sampleJob())
        try catalog.insert(files: [bareFile(job: id, index: 1, path: "/a")], messages: [])
        try catalog.connection.execute("UPDATE files SET status = 'lost'")
        XCTAssertThrowsError(try catalog.files(job: id)) {
            XCTAssertEqual("\($0)", "invalid status of file 1 of job 1 in the catalog: lost (SQLITE_MISMATCH)")
        }
        try catalog.connection.execute("UPDATE files SET status = 'stored', chain = '[\"a\",'")
        XCTAssertThrowsError(try catalog.files(job: id)) {
            XCTAssertEqual(
                "\($0)",
                "invalid chain of file 1 of job 1 in the catalog: expected '\"' at byte 5 of [\"a\", (SQLITE_MISMATCH)")
        }
        try catalog.close()
    }
}

/// Every test of ``CatalogJobTests`` against a PostgreSQL catalog.
/// (Declared again here: test discovery on Linux finds only the methods a class declares itself.)
final class PostgreSQLCatalogJobTests: CatalogJobTests {
    override var driver: TestCatalogs.Driver { .postgreSQL }

    override func testJobLifeCycleRoundTripsEveryField() throws { try super.testJobLifeCycleRoundTripsEveryField() }
    override func testStoredValuesAreReadableWithPlainSQL() throws { try super.testStoredValuesAreReadableWithPlainSQL() }
    override func testMessagesKeepInsertionOrder() throws { try super.testMessagesKeepInsertionOrder() }
    override func testJobsNewestFirst() throws { try super.testJobsNewestFirst() }
    override func testFileSetIdentityIsNameAndDigest() throws { try super.testFileSetIdentityIsNameAndDigest() }
    override func testInsertIsOneTransaction() throws { try super.testInsertIsOneTransaction() }
    override func testUnknownJobsAndVolumes() throws { try super.testUnknownJobsAndVolumes() }
    override func testGivenJobIDIsKeptAndIDsAreNeverReused() throws { try super.testGivenJobIDIsKeptAndIDsAreNeverReused() }
    override func testManyRowsInBatches() throws { try super.testManyRowsInBatches() }
    override func testFilesByIndexDenseAndSparse() throws { try super.testFilesByIndexDenseAndSparse() }
    override func testReaderConnectionSeesCommittedBatchesOnly() throws { try super.testReaderConnectionSeesCommittedBatchesOnly() }
    override func testReentrantReadInsideForEachFile() throws { try super.testReentrantReadInsideForEachFile() }
    override func testUsableThroughTheProtocol() throws { try super.testUsableThroughTheProtocol() }
    override func testUndecodableStoredValueIsAClearError() throws { try super.testUndecodableStoredValueIsAClearError() }
}
