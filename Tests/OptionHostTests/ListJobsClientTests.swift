import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Every job records its client (issue 15 item 3, decision D4): the Job's `Client`, else the host name; `list jobs`
/// shows it, filters on it with `--client` and gives it as `client` in JSON.
final class ListJobsClientTests: CommandLineTestCase {
    func testJobsRecordTheirClientAndListJobsFiltersOnIt() throws {
        try makeFile("data/a.txt", "hello\n")
        let config = try write(
            "clients.conf",
            """
            Catalog { Name = cat; DB Driver = sqlite3; DB Name = "\(work.path)/catalog.db" }
            Archive { Name = arc; Directory = "\(work.path)/archive" }
            FileSet { Name = fs; Include { File = "\(work.path)/data" } }
            Job { Name = Alpha; Type = Backup; Level = Full; FileSet = fs; Catalog = cat; Archive = arc; Client = alpha-fd }
            Job { Name = Here; Type = Backup; Level = Full; FileSet = fs; Catalog = cat; Archive = arc }

            """)
        for job in ["Alpha", "Here"] {
            let backup = try optionhost(["backup", config, "--job", job])
            XCTAssertEqual(backup.status, 0, backup.stderr)
        }

        let all = try optionhost(["list", "jobs", config, "--json"])
        XCTAssertEqual(all.status, 0, all.stderr)
        let records = try all.lines.map {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        XCTAssertEqual(records.map { $0["job"] as? String }, ["Here", "Alpha", nil])
        XCTAssertEqual(records.prefix(2).map { $0["client"] as? String }, [Self.hostName(), "alpha-fd"])

        let alpha = try optionhost(["list", "jobs", config, "--client", "alpha-fd"])
        XCTAssertEqual(alpha.status, 0, alpha.stderr)
        XCTAssertEqual(alpha.lines.count, 1, alpha.output)
        XCTAssertTrue(alpha.output.hasPrefix("1\tAlpha\talpha-fd\tBackup\tFull\tT\t"), alpha.output)

        let none = try optionhost(["list", "jobs", config, "--client", "nobody-fd", "--json"])
        XCTAssertEqual(none.status, 0, none.stderr)
        XCTAssertEqual(none.output, "{\"type\":\"summary\",\"jobs\":0}\n")
    }
}
