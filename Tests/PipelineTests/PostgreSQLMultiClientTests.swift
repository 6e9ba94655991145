import Foundation
import PipelineTestSupport
import XCTest

@testable import Pipeline

/// Several hosts, one PostgreSQL catalog (issue 15 item 3), through the real engine: jobs of different clients
/// started at the same moment get distinct JobIds, lose no row, record their client, and each one restores
/// byte for byte from a connection of its own.
final class PostgreSQLMultiClientTests: XCTestCase {
    var work: TemporaryDirectory!

    override func setUpWithError() throws {
        work = try TemporaryDirectory(prefix: "pg-clients")
    }

    override func tearDownWithError() throws {
        work.remove()
    }

    func testConcurrentJobsOfFourClientsKeepEveryRowAndRestore() throws {
        let server = try PostgreSQLTestServer.shared()
        let settings = server.settings(database: try server.createDatabase())
        try DatabaseCatalog.open(postgreSQL: settings, create: true).close()
        let clients = ["alpha", "beta", "gamma", "delta"]
        let filesPerClient = 100
        for (number, client) in clients.enumerated() {
            for index in 0..<filesPerClient {
                let bytes = Array("\(client) file \(index)\n".utf8) + [UInt8](repeating: UInt8(number), count: index)
                XCTAssertTrue(try Shell.writeFile(work.path + "/\(client)/src", "f\(index).txt", bytes))
            }
        }

        let failures = Locked<[String]>([])
        let jobIDs = Locked<[String: JobID]>([:])
        let root = work.path
        DispatchQueue.concurrentPerform(iterations: clients.count) { number in
            let client = clients[number]
            do {
                let text = """
                    FileSet { Name = fs; Include { File = "\(root)/\(client)/src" } }
                    Job { Name = nightly; Type = Backup; Level = Full; FileSet = fs; Client = \(client) }
                    """
                let configuration = try Configuration.parse(text: text, fileName: "\(client).conf")
                guard let fileSet = configuration.fileSets["fs"], let job = configuration.job(named: "nightly") else {
                    throw CatalogError.misuse("\(client).conf has no FileSet fs or Job nightly")
                }
                let archive = root + "/\(client)/volumes"
                try FileManager.default.createDirectory(atPath: archive, withIntermediateDirectories: true)
                var backupSettings = BackupSettings(archiveDirectory: archive, workers: 2)
                backupSettings.batchEntries = 64
                let summary = try BackupJob(
                    job: job, fileSet: fileSet,
                    chains: configuration.chains(for: fileSet),
                    catalog: try DatabaseCatalog.open(postgreSQL: settings, create: false), settings: backupSettings,
                    stageFactory: TestStageFactory().factory
                ).runClosingCatalog()
                if summary.status != .ok { throw CatalogError.misuse("\(client): \(summary.failure ?? "failed")") }
                jobIDs.withLock { $0[client] = JobID(rawValue: summary.jobID) }
            } catch {
                failures.withLock { $0.append("\(client): \(error)") }
            }
        }
        XCTAssertEqual(failures.withLock { $0 }, [])

        let catalog = try DatabaseCatalog.open(postgreSQL: settings, create: false)
        defer { try? catalog.close() }
        let ids = jobIDs.withLock { $0 }
        XCTAssertEqual(Set(ids.values).count, clients.count, "\(ids)")
        let jobs = try catalog.jobs(name: "nightly")
        XCTAssertEqual(Set(jobs.map(\.clientName)), Set(clients.map { Optional($0) }))
        XCTAssertEqual(
            try catalog.connection.scalar("SELECT count(*) FROM files"), Int64(clients.count * (filesPerClient + 1)))
        for client in clients {
            let id = try XCTUnwrap(ids[client])
            XCTAssertEqual(try catalog.job(id)?.clientName, client)
            XCTAssertEqual(try catalog.fileCounts(job: id).filesStored, Int64(filesPerClient))
            // Restored from a connection of its own ("another host"), byte for byte.
            let target = work.path + "/restored-\(client)"
            let summary = try RestoreJob(
                catalog: try DatabaseCatalog.open(postgreSQL: settings, create: false), jobID: id,
                settings: RestoreSettings(whereDirectory: target), stageFactory: TestStageFactory().factory
            ).run()
            XCTAssertEqual(summary.status, .ok, summary.failure ?? "")
            let compare = try Shell.run("diff -r '\(work.path)/\(client)/src' '\(target)\(work.path)/\(client)/src'")
            XCTAssertEqual(compare.status, 0, compare.output)
        }
    }
}
