import Foundation
import PipelineTestSupport
import XCTest

@testable import Pipeline
@testable import Stages

/// The `tar` + `sha256sum -c` recipe of docs/volumes.md and docs/catalog.md stays honest about files a plugin took
/// over: their catalog digest is of the plugin's stream (what `tar` extracts), so the recipe's list leaves them out.
final class TarRecipeTests: PythonPluginTestCase {
    /// The query of docs/catalog.md ("A `sha256sum -c` list of what job N stored").
    static func recipeQuery(job: Int64) -> String {
        "SELECT lower(hex(source_sha256)) || '  ' || substr(CAST(path AS TEXT), 2) FROM files "
            + "WHERE job_id = \(job) AND type = 'file' AND status = 'stored' "
            + "AND json_extract(stage_metadata, '$.\"host.source_stage\"') IS NULL ORDER BY file_index;"
    }

    func testTheRecipeLeavesOutFilesAPluginTookOverAndChecksTheRest() throws {
        try write("a.txt", String(repeating: "compressible\n", count: 100))
        try write("b.bin", (0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        let body = """
              Include {
                Options {
                  Wild = "*.txt"
                  Plugin = "\(plugin("gzip_io", examples: true))"
                }
                Options { Signature = SHA256 }
                File = "\(source)"
              }
            """
        let (summary, catalog) = try backup([], fileSetBody: body)
        XCTAssertEqual(summary.status, .ok, summary.failure ?? "")
        try catalog.close()
        let list = work.path + "/job.sha256"
        var (status, output) = try shell(
            "sqlite3 -readonly \(catalogPath) \".mode list\" \".headers off\" \"\(Self.recipeQuery(job: summary.jobID).replacingOccurrences(of: "$", with: "\\$").replacingOccurrences(of: "\"", with: "\\\""))\" > \(list)")
        XCTAssertEqual(status, 0, output)
        XCTAssertEqual(try String(contentsOfFile: list, encoding: .utf8).split(separator: "\n").map { String($0.suffix(5)) }, ["b.bin"])
        let out = work.path + "/out"
        (status, output) = try shell("mkdir -p \(out) && cd \(out) && tar -xf \(archive)/j-\(summary.jobID)-0001.tar && sha256sum -c --strict \(list)")
        XCTAssertEqual(status, 0, output)
        XCTAssertEqual(output, "\(String(source.dropFirst()))/b.bin: OK\n")
        // What tar gives for a.txt is the plugin's gzip stream, whose digest is the one the catalog holds.
        (status, output) = try shell("gzip -dc \(out)\(source)/a.txt | cmp - \(source)/a.txt")
        XCTAssertEqual(status, 0, output)
    }
}
