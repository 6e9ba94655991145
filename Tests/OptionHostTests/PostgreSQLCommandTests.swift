import Foundation
import PipelineTestSupport
import XCTest

/// One PostgreSQL catalog for two hosts (issue 15), through the `optionhost` binary: two backups started at the
/// same moment from two configurations with different `Client` names, `list jobs` showing both clients, and each
/// job restored from the other host's configuration, byte for byte.
final class PostgreSQLCommandTests: CommandLineTestCase {
    func testTwoClientsShareOneCatalogAndRestoreEachOthersJobs() throws {
        let configs = try twoClients(files: 20, archive: { "\(self.work.path)/\($0)/volumes" })

        // Both at the same moment: two processes, one catalog (the schema is created by whichever comes first).
        let both = try run(
            "/bin/bash",
            [
                "-c",
                "'\(Self.binary)' backup '\(configs[0])' --job Nightly --json >a.out 2>&1 & first=$!; "
                    + "'\(Self.binary)' backup '\(configs[1])' --job Nightly --json >b.out 2>&1 & second=$!; "
                    + "wait $first; a=$?; wait $second; b=$?; cat a.out b.out; echo \"exit $a $b\"",
            ], directory: work)
        XCTAssertTrue(both.output.hasSuffix("exit 0 0\n"), both.output)
        XCTAssertFalse(both.output.contains("unused-Pa55"), "the password is never printed")

        let jobs = try optionhost(["list", "jobs", configs[0], "--json"])
        XCTAssertEqual(jobs.status, 0, jobs.stderr)
        let records = try jobs.lines.dropLast().map {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        XCTAssertEqual(Set(records.compactMap { $0["client"] as? String }), ["alpha-fd", "beta-fd"])
        XCTAssertEqual(Set(records.compactMap { $0["job_id"] as? Int }), [1, 2])
        let alpha = try optionhost(["list", "jobs", configs[1], "--client", "alpha-fd"])
        XCTAssertEqual(alpha.lines.count, 1, alpha.output)
        XCTAssertTrue(alpha.output.contains("\tNightly\talpha-fd\tBackup\tFull\tT\t"), alpha.output)

        // Each job restored from the other client's configuration, by JobId.
        for record in records {
            let client = try XCTUnwrap(record["client"] as? String)
            let id = try XCTUnwrap(record["job_id"] as? Int)
            let from = client == "alpha-fd" ? configs[1] : configs[0]
            let target = work.path + "/restored-\(client)"
            let restore = try optionhost(["restore", from, "--jobid", String(id), "--where", target])
            XCTAssertEqual(restore.status, 0, restore.stderr)
            let diff = try run(
                "/usr/bin/diff", ["-r", work.path + "/\(client)/data", target + work.path + "/\(client)/data"])
            XCTAssertEqual(diff.status, 0, diff.output)
        }

        // --latest takes the newest job of the config's own client (the other host's job is newer or older by
        // chance), or of --client; a client without a job is told which clients have one.
        for (index, client) in ["alpha-fd", "beta-fd"].enumerated() {
            let own = try optionhost(["list", "files", configs[index], "--latest", "--job", "Nightly", "--json"])
            XCTAssertEqual(own.status, 0, own.stderr)
            XCTAssertTrue(own.output.contains("/\(client)/data/f0.bin"), own.output)
            XCTAssertFalse(own.output.contains(client == "alpha-fd" ? "/beta-fd/" : "/alpha-fd/"), own.output)
            let other = client == "alpha-fd" ? "beta-fd" : "alpha-fd"
            let chosen = try optionhost(
                ["list", "files", configs[index], "--latest", "--job", "Nightly", "--client", other, "--json"])
            XCTAssertEqual(chosen.status, 0, chosen.stderr)
            XCTAssertTrue(chosen.output.contains("/\(other)/data/f0.bin"), chosen.output)
        }
        let nobody = try optionhost(
            ["restore", configs[0], "--latest", "--job", "Nightly", "--client", "gamma-fd", "--where", work.path + "/g"])
        XCTAssertEqual(nobody.status, 2, nobody.output)
        XCTAssertTrue(
            nobody.stderr.contains(
                "no successful job named \"Nightly\" of client gamma-fd in catalog PostgreSQL catalog database "),
            nobody.stderr)
        XCTAssertTrue(
            nobody.stderr.contains("; jobs of other clients: alpha-fd, beta-fd (pass --client NAME)"), nobody.stderr)
    }

    /// One archive directory for both hosts (a shared mount): while alpha's job holds in its Before RunScript
    /// (its JobId taken, its locks held), beta's whole job runs into the same directory (no archive lock on
    /// PostgreSQL); the volume names differ, and each job restores from the other client's configuration.
    func testTwoClientsBackUpAtOnceIntoOneSharedArchiveDirectory() throws {
        let hold = """
            RunScript {
                RunsWhen = Before
                Command = "sh -c 'touch \(work.path)/alpha-holds; while [ ! -e \(work.path)/go ]; do sleep 0.05; done'"
              }
            """
        let configs = try twoClients(
            files: 200, archive: { _ in "\(self.work.path)/shared-volumes" }, jobExtra: { $0 == "alpha-fd" ? hold : "" })
        let both = try run(
            "/bin/bash",
            [
                "-c",
                "'\(Self.binary)' backup '\(configs[0])' --job Nightly >a.out 2>&1 & first=$!; "
                    + "for i in $(seq 400); do [ -e alpha-holds ] && break; sleep 0.05; done; "
                    + "'\(Self.binary)' backup '\(configs[1])' --job Nightly >b.out 2>&1; b=$?; "
                    + "[ -e alpha-holds ] && [ ! -e go ] && echo 'beta ended while alpha held'; touch go; "
                    + "wait $first; a=$?; cat a.out b.out; echo \"exit $a $b\"",
            ], directory: work)
        XCTAssertTrue(both.output.hasPrefix("beta ended while alpha held\n"), both.output)
        XCTAssertTrue(both.output.hasSuffix("exit 0 0\n"), both.output)
        XCTAssertFalse(both.output.contains("is in use by"), both.output)
        let volumes = try FileManager.default.contentsOfDirectory(atPath: work.path + "/shared-volumes")
            .filter { $0.hasSuffix(".tar") }.sorted()
        XCTAssertEqual(volumes, ["Nightly-1-0001.tar", "Nightly-2-0001.tar"])
        for (index, client) in ["alpha-fd", "beta-fd"].enumerated() {
            let target = work.path + "/restored-\(client)"
            let restore = try optionhost(
                ["restore", configs[1 - index], "--latest", "--job", "Nightly", "--client", client, "--where", target])
            XCTAssertEqual(restore.status, 0, restore.stderr)
            let diff = try run(
                "/usr/bin/diff", ["-r", work.path + "/\(client)/data", target + work.path + "/\(client)/data"])
            XCTAssertEqual(diff.status, 0, diff.output)
        }
    }

    /// `catalog copy`: a SQLite catalog (two jobs, the search index) into an empty PostgreSQL one, compared at the
    /// end; then the copy serves `list jobs`, `search` and `restore`, and a second copy into it is refused.
    func testCatalogCopyRoundTrip() throws {
        let server = try PostgreSQLTestServer.shared()
        let database = try server.createDatabase()
        try makeFile("data/notes.txt", "the quick brown fox\n")
        try makeFile("data/other.txt", "nothing to see\n")
        let sqliteConfig = try write(
            "local.conf",
            """
            Catalog { Name = local; DB Driver = sqlite3; DB Name = "\(work.path)/catalog.db" }
            Archive { Name = arc; Directory = "\(work.path)/volumes" }
            FileSet { Name = fs; Include { Options { Plugin = "index" } File = "\(work.path)/data" } }
            Job { Name = Nightly; Type = Backup; Level = Incremental; FileSet = fs; Catalog = local; Archive = arc }

            """)
        let sharedConfig = try write(
            "shared.conf",
            """
            Catalog {
              Name = shared; DB Driver = postgresql; DB Name = \(database)
              DB Address = "\(server.socketDirectory)"; DB User = \(server.superuser)
            }

            """)
        XCTAssertEqual(try optionhost(["backup", sqliteConfig, "--job", "Nightly"]).status, 0)
        try makeFile("data/later.txt", "a later brown file\n")
        XCTAssertEqual(try optionhost(["backup", sqliteConfig, "--job", "Nightly"]).status, 0)

        let copy = try optionhost(["catalog", "copy", "--from", work.path + "/catalog.db", sharedConfig])
        XCTAssertEqual(copy.status, 0, copy.stderr)
        XCTAssertEqual(copy.lines.count, 3, copy.output)
        XCTAssertEqual(
            copy.lines.first,
            "Copied \(work.path)/catalog.db into PostgreSQL catalog database \"\(database)\" on "
                + "\(server.socketDirectory) as optionhost:")
        XCTAssertEqual(
            copy.lines.dropFirst().first,
            "  filesets 1, jobs 2, volumes 2, files 5, job_messages 2, job_data 0, search_content 3, search_files 3 rows")
        XCTAssertTrue(copy.lines.last?.hasSuffix(" on both sides") ?? false, copy.output)

        let jobs = try optionhost(["list", "jobs", sharedConfig])
        XCTAssertEqual(jobs.status, 0, jobs.stderr)
        XCTAssertEqual(jobs.lines.map { $0.split(separator: "\t").prefix(4).joined(separator: " ") }.count, 2)
        let search = try optionhost(["search", "brown", sharedConfig, "--json"])
        XCTAssertEqual(search.status, 0, search.stderr)
        XCTAssertEqual(
            search.lines.last, "{\"type\":\"summary\",\"query\":\"brown\",\"hits\":2,\"limit\":20}", search.output)
        let restore = try optionhost(["restore", sharedConfig, "--jobid", "2", "--where", work.path + "/restored"])
        XCTAssertEqual(restore.status, 0, restore.stderr)
        let diff = try run("/usr/bin/diff", ["-r", work.path + "/data", work.path + "/restored" + work.path + "/data"])
        XCTAssertEqual(diff.status, 0, diff.output)

        let again = try optionhost(["catalog", "copy", "--from", work.path + "/catalog.db", sharedConfig])
        XCTAssertEqual(again.status, 3)
        XCTAssertTrue(again.stderr.contains("already has jobs: copy into an empty one"), again.stderr)
    }

    /// `scan VOLUME... --config CONFIG`: the volumes' jobs go into the PostgreSQL catalog the configuration names. A
    /// finished job is refused (or skipped), a job that did not finish is replaced and keeps its client; a new
    /// catalog file stays `--catalog`'s.
    func testScanIntoThePostgreSQLCatalogOfAConfig() throws {
        let server = try PostgreSQLTestServer.shared()
        let database = try server.createDatabase()
        for index in 0..<10 { try makeFile("data/f\(index).txt", String(repeating: "line \(index)\n", count: 500)) }
        let config = try write(
            "shared.conf",
            """
            Catalog { Name = shared; DB Driver = postgresql; DB Name = \(database); DB Address = "\(server.socketDirectory)"; DB User = \(server.superuser) }
            Archive { Name = arc; Directory = "\(work.path)/volumes" }
            FileSet { Name = fs; Include { File = "\(work.path)/data" } }
            Job { Name = Nightly; Type = Backup; Level = Full; FileSet = fs; Catalog = shared; Archive = arc; Client = web1 }

            """)
        XCTAssertEqual(try optionhost(["backup", config, "--job", "Nightly"]).status, 0)
        let volume = work.path + "/volumes/Nightly-1-0001.tar"
        let catalogName =
            "PostgreSQL catalog database \"\(database)\" on \(server.socketDirectory) as \(server.superuser)"

        let neither = try optionhost(["scan", volume])
        XCTAssertEqual(neither.status, 2)
        XCTAssertTrue(neither.stderr.contains("say where to scan to: --catalog NEWFILE"), neither.stderr)
        let forced = try optionhost(["scan", volume, "--config", config, "--force"])
        XCTAssertEqual(forced.status, 2)
        XCTAssertTrue(forced.stderr.contains("--force goes with --catalog"), forced.stderr)

        let refused = try optionhost(["scan", volume, "--config", config])
        XCTAssertEqual(refused.status, 3, refused.stderr)
        XCTAssertTrue(
            refused.stderr.hasPrefix("optionhost: scan: JobId 1 (Nightly, started "), refused.stderr)
        XCTAssertTrue(
            refused.stderr.contains(
                "is already in the catalog database \"\(database)\" on \(server.socketDirectory) as "
                    + "\(server.superuser) and finished (status T): scan adds jobs the catalog lacks and replaces "
                    + "jobs that did not finish; skip finished ones with --skip-finished; nothing was scanned\n"),
            refused.stderr)
        let skipped = try optionhost(["scan", volume, "--config", config, "--skip-finished"])
        XCTAssertEqual(skipped.status, 0, skipped.stderr)
        XCTAssertEqual(skipped.lines.first, "Scan of 0 volumes into \(catalogName): ok")
        XCTAssertEqual(skipped.lines.dropFirst().first, "  JobId 1 (Nightly, Full): skipped, already in the catalog (status T)")

        // The job as a lost connection leaves it: marked running, half of its rows.
        let psql = try run(
            server.binaries + "/psql",
            [
                "-h", server.socketDirectory, "-U", server.superuser, "-d", database, "-v", "ON_ERROR_STOP=1", "-c",
                "DELETE FROM files WHERE job_id = 1 AND file_index > 5; UPDATE jobs SET status = 'R' WHERE id = 1",
            ])
        XCTAssertEqual(psql.status, 0, psql.stderr)
        let replaced = try optionhost(["scan", volume, "--config", config, "--json"])
        XCTAssertEqual(replaced.status, 0, replaced.stderr)
        let job = try XCTUnwrap(
            JSONSerialization.jsonObject(with: Data(try XCTUnwrap(replaced.lines.first).utf8)) as? [String: Any])
        XCTAssertEqual(job["action"] as? String, "replaced")
        XCTAssertEqual(job["replaced_status"] as? String, "R")
        XCTAssertEqual(job["status"] as? String, "T")
        XCTAssertEqual(job["entries"] as? Int, 11)
        let jobs = try optionhost(["list", "jobs", config])
        XCTAssertTrue(jobs.output.contains("\tNightly\tweb1\tBackup\tFull\tT\t"), jobs.output)
        let restore = try optionhost(["restore", config, "--jobid", "1", "--where", work.path + "/restored"])
        XCTAssertEqual(restore.status, 0, restore.stderr)
        let diff = try run("/usr/bin/diff", ["-r", work.path + "/data", work.path + "/restored" + work.path + "/data"])
        XCTAssertEqual(diff.status, 0, diff.output)
    }

    /// Clients `alpha-fd` and `beta-fd`: `files` files each under `<client>/data`, and a configuration each
    /// (`<client>.conf`) with one PostgreSQL catalog (a fresh database), the client's Archive directory and Job
    /// `Nightly` (plus `jobExtra` lines); returns the two configuration paths.
    private func twoClients(
        files: Int, archive: (String) -> String, jobExtra: (String) -> String = { _ in "" }
    ) throws -> [String] {
        let server = try PostgreSQLTestServer.shared()
        let database = try server.createDatabase()
        var configs: [String] = []
        for (number, client) in ["alpha-fd", "beta-fd"].enumerated() {
            for index in 0..<files {
                try makeFile(
                    "\(client)/data/f\(index).bin",
                    bytes: Array("\(client) \(index)\n".utf8)
                        + [UInt8](repeating: UInt8(number + 1), count: index * 100 % 10_000))
            }
            configs.append(
                try write(
                    "\(client).conf",
                    """
                    Catalog {
                      Name = shared; DB Driver = postgresql; DB Name = \(database)
                      DB Address = "\(server.socketDirectory)"; DB User = \(server.superuser); DB Password = "unused-Pa55"
                    }
                    Archive { Name = arc; Directory = "\(archive(client))" }
                    FileSet { Name = fs; Include { File = "\(work.path)/\(client)/data" } }
                    Job {
                      Name = Nightly; Type = Backup; Level = Full; FileSet = fs; Catalog = shared; Archive = arc
                      Client = \(client)
                    \(jobExtra(client))
                    }

                    """))
        }
        return configs
    }
}
