import XCTest

@testable import Pipeline

/// Real Bareos configuration from `../shared/fixtures/` (read in place, never copied into the repository).
final class FixtureTests: XCTestCase {
    static var fixtures: String? {
        if let path = ProcessInfo.processInfo.environment["OPTIONPIPELINE_FIXTURES"] { return path }
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        let path = url.deletingLastPathComponent().appendingPathComponent("shared/fixtures").path
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    private func fixturesOrSkip() throws -> String {
        guard let path = FixtureTests.fixtures else {
            throw XCTSkip("../shared/fixtures is not present next to this checkout")
        }
        return path
    }

    func testEveryFixtureFileSetLoads() throws {
        let directory = try fixturesOrSkip() + "/bareos-filesets"
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".conf") }
            .sorted()
        XCTAssertGreaterThan(files.count, 10)
        for file in files {
            do {
                let configuration = try Configuration.load(path: directory + "/" + file)
                XCTAssertFalse(configuration.fileSets.isEmpty, "\(file) has no FileSet")
            } catch {
                XCTFail("\(file): \(error)")
            }
        }
    }

    func testDefaultConfigLoadsAndJobResolvesThroughJobDefs() throws {
        let directory = try fixturesOrSkip() + "/bareos-default-config"
        let configuration = try Configuration.load(path: directory)
        let job = try XCTUnwrap(configuration.job(named: "backup-bareos-fd"))
        XCTAssertEqual(job.jobDefs, "DefaultJob")
        XCTAssertEqual(job.fileSet, "SelfTest")
        XCTAssertEqual(job.type, .backup)
        let fileSet = try XCTUnwrap(configuration.fileSets["SelfTest"])
        XCTAssertEqual(fileSet.includes.first?.files.first?.text, "/usr/sbin")
        XCTAssertEqual(Set(configuration.resources.map(\.type)).count, 12)
    }
}
