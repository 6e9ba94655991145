import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// `list volumes` and the volume bytes beside the data bytes in a backup's summary and in `list jobs` (issue 16
/// item 3).
final class ListVolumesCommandTests: CommandLineTestCase {
    /// A 1.5 MB file and a small one, backed up into volumes of at most 1,000,000 bytes: two volumes.
    func backUp() throws -> (config: String, summary: Result) {
        try makeFile("data/big.bin", bytes: BackupCommandTests.pseudoRandom(1_500_000, seed: 7))
        try makeFile("data/a.txt", "hello\n")
        let config = try write(
            "volumes.conf",
            """
            Catalog { Name = cat; DB Driver = sqlite3; DB Name = "\(work.path)/catalog.db" }
            Archive { Name = arc; Directory = "\(work.path)/archive"; Maximum Volume Bytes = 1000000 }
            FileSet { Name = fs; Include { File = "\(work.path)/data" } }
            Job { Name = Nightly; Type = Backup; Level = Full; FileSet = fs; Catalog = cat; Archive = arc }

            """)
        let backup = try optionhost(["backup", config, "--job", "Nightly"])
        XCTAssertEqual(backup.status, 0, backup.stderr)
        return (config, backup)
    }

    func size(_ path: String) throws -> Int {
        try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
    }

    func testListVolumesShowsSizeMembersIndexesAndState() throws {
        let (config, backup) = try backUp()
        let first = work.appendingPathComponent("archive/Nightly-1-0001.tar").path
        let second = work.appendingPathComponent("archive/Nightly-1-0002.tar").path
        let onDisk = try size(first) + size(second)

        let json = try optionhost(["list", "volumes", config, "--json"])
        XCTAssertEqual(json.status, 0, json.stderr)
        let objects = try json.lines.map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        XCTAssertEqual(objects.count, 3, json.output)
        let volumes = Array(objects.prefix(2))
        XCTAssertEqual(volumes.map { $0["name"] as? String }, ["Nightly-1-0001.tar", "Nightly-1-0002.tar"])
        XCTAssertEqual(volumes.map { $0["path"] as? String }, [first, second])
        XCTAssertEqual(volumes.map { $0["job_id"] as? Int }, [1, 1])
        XCTAssertEqual(volumes.map { $0["job"] as? String }, ["Nightly", "Nightly"])
        XCTAssertEqual(volumes.map { $0["state"] as? String }, ["full", "closed"])
        XCTAssertEqual(volumes.map { $0["size_on_disk"] as? Int }, [try size(first), try size(second)])
        XCTAssertEqual(volumes.map { $0["bytes"] as? Int }, [try size(first), try size(second)])
        // Three entries (the directory and two files), each in exactly one volume, file indexes 0...2.
        let members = volumes.compactMap { $0["members"] as? Int }
        XCTAssertEqual(members.reduce(0, +), 3, json.output)
        XCTAssertTrue(members.allSatisfy { $0 > 0 }, json.output)
        var indexes: [Int] = []
        for volume in volumes {
            let low = try XCTUnwrap(volume["first_file_index"] as? Int)
            let high = try XCTUnwrap(volume["last_file_index"] as? Int)
            XCTAssertEqual(high - low + 1, volume["members"] as? Int, json.output)
            indexes += Array(low...high)
        }
        XCTAssertEqual(indexes.sorted(), [0, 1, 2])
        XCTAssertEqual((volumes.compactMap { $0["data_bytes"] as? Int }).reduce(0, +), 1_500_006)
        XCTAssertEqual(objects[2]["type"] as? String, "summary")
        XCTAssertEqual(objects[2]["volumes"] as? Int, 2)
        XCTAssertEqual(objects[2]["size_on_disk"] as? Int, onDisk)

        let text = try optionhost(["list", "volumes", config])
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertEqual(text.lines.count, 3, text.output)
        XCTAssertTrue(text.lines[0].hasPrefix("VOLUME") && text.lines[0].hasSuffix("  STATE"), text.output)
        for (line, volume) in zip(text.lines.dropFirst(), volumes) {
            let fields = line.split(separator: " ").map(String.init)
            XCTAssertEqual(
                fields,
                [
                    volume["name"] as! String, "1", "Nightly", grouped(volume["size_on_disk"] as! Int),
                    String(volume["members"] as! Int), String(volume["first_file_index"] as! Int),
                    String(volume["last_file_index"] as! Int), volume["state"] as! String,
                ], text.output)
        }

        // Beside the data bytes: the backup's summary and `list jobs`.
        XCTAssertTrue(
            backup.output.contains("  bytes: 1,500,006 read, 1,500,006 stored, \(grouped(onDisk)) in volumes; "),
            backup.output)
        let jobs = try optionhost(["list", "jobs", config])
        XCTAssertTrue(
            jobs.lines.first?.hasSuffix("\t2 files\t1,500,006 bytes\t\(grouped(onDisk)) in volumes\t0 failed") == true,
            jobs.output)
        let jobsJSON = try optionhost(["list", "jobs", config, "--json"])
        XCTAssertTrue(jobsJSON.lines.first?.contains("\"bytes_stored\":1500006,\"volume_bytes\":\(onDisk),") == true, jobsJSON.output)

        // A volume file that is gone says so.
        XCTAssertEqual(unlink(first), 0)
        let missing = try optionhost(["list", "volumes", config, "--job", "Nightly"])
        XCTAssertEqual(missing.lines.count, 3, missing.output)
        XCTAssertTrue(missing.lines[1].contains(" missing "), missing.output)
        let missingJSON = try optionhost(["list", "volumes", config, "--json"])
        XCTAssertTrue(missingJSON.lines[0].contains("\"size_on_disk\":null"), missingJSON.output)
        let none = try optionhost(["list", "volumes", config, "--job", "Weekly"])
        XCTAssertEqual(none.status, 0)
        XCTAssertEqual(none.output, "")
        XCTAssertEqual(none.stderr, "no volumes in the catalog for Job \"Weekly\"\n")
    }

    /// `1,234,567`, as the text output groups digits.
    func grouped(_ value: Int) -> String {
        let formatter = NumberFormatter()
        formatter.numberStyle = .decimal
        formatter.groupingSeparator = ","
        formatter.usesGroupingSeparator = true
        return formatter.string(from: NSNumber(value: value)) ?? String(value)
    }
}
