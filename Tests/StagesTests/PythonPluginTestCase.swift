import Foundation
import PipelineTestSupport
import XCTest

@testable import Pipeline
@testable import Stages

/// Backups and restores through real Python plugins: the embedded CPython, real files, real volumes and a real
/// SQLite catalog. Plugins are the examples of `examples/plugins` or small modules a test writes.
class PythonPluginTestCase: XCTestCase {
    var work: TemporaryDirectory!
    var source: String { work.path + "/src" }
    var plugins: String { work.path + "/plugins" }
    var catalogPath: String { work.path + "/catalog.db" }
    var archive: String { work.path + "/volumes" }
    var target: String { work.path + "/restore" }

    /// `examples/plugins` of this checkout.
    static let examples: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path + "/examples/plugins"
    }()

    override func setUpWithError() throws {
        work = try TemporaryDirectory(prefix: "python")
        for directory in [source, plugins, archive] {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
    }

    override func tearDownWithError() throws {
        work.remove()
    }

    // MARK: - Files

    func write(_ relative: String, _ text: String, mode: Int = 0o644) throws {
        try write(relative, Array(text.utf8), mode: mode)
    }

    func write(_ relative: String, _ bytes: [UInt8], mode: Int = 0o644) throws {
        XCTAssertTrue(try Shell.writeFile(source, relative, bytes, mode: mode), relative)
    }

    /// Writes a plugin module into the test's plugin directory.
    func writePlugin(_ name: String, _ code: String) throws {
        try code.write(toFile: plugins + "/" + name + ".py", atomically: true, encoding: .utf8)
    }

    func read(_ path: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    func restored(_ relative: String) -> String { target + source + "/" + relative }

    // MARK: - Jobs

    /// A plugin string for a module of the examples or of the test's plugin directory.
    func plugin(_ module: String, _ options: String = "", examples: Bool = false) -> String {
        "python3:module_path=\(examples ? PythonPluginTestCase.examples : plugins):module_name=\(module)"
            + (options.isEmpty ? "" : ":" + options)
    }

    /// Runs a Full backup of `source` whose one Options block has `plugins` as its chain.
    @discardableResult
    func backup(
        _ plugins: [String], optionsBlock: String = "Signature = SHA256", jobDirectives: String = "",
        fileSetBody: String? = nil, workers: Int = 1, debugLevel: Int = 0, level: Job.Level? = nil,
        configurationPath: String? = nil
    ) throws -> (JobSummary, SQLiteCatalog) {
        let lines = plugins.map { "      Plugin = \"\($0)\"" }.joined(separator: "\n")
        let body =
            fileSetBody
            ?? "  Include {\n    Options {\n      \(optionsBlock)\n\(lines)\n    }\n    File = \"\(source)\"\n  }"
        let text = """
            FileSet {
              Name = fs
            \(body)
            }
            Job {
              Name = j
              Type = Backup
              Level = Full
              FileSet = fs
              \(jobDirectives)
            }

            """
        let configuration = try Configuration.parse(text: text, fileName: "t.conf")
        let job = try XCTUnwrap(configuration.job(named: "j"))
        let fileSet = try XCTUnwrap(configuration.fileSets["fs"])
        var settings = BackupSettings(archiveDirectory: archive, workers: workers)
        settings.batchEntries = 16
        settings.debugLevel = debugLevel
        settings.stageErrorPolicy = job.stageErrorPolicy
        let backup = BackupJob(
            job: job, fileSet: fileSet, chains: configuration.chains(for: fileSet),
            catalog: try SQLiteCatalog.open(path: catalogPath, create: true), settings: settings,
            stageFactory: Self.factory(job, configurationPath: configurationPath), level: level)
        let summary = try backup.run()
        return (summary, try XCTUnwrap(backup.releaseCatalog(as: SQLiteCatalog.self)))
    }

    /// The stage factory as the commands make it (`CommandSupport.stageFactory`): the Job's plugin settings, and
    /// the CONFIG path the command was given (nil: none, as a restore without CONFIG).
    static func factory(_ job: Job?, configurationPath: String? = nil) -> StageChainBuilder.Factory {
        var python = PythonPluginSettings()
        if let job {
            python.pluginDirectory = job.pluginDirectory
            python.callTimeout = Double(job.pluginCallTimeout)
            python.accurate = job.accurate
            python.overrides = job.fdPluginOptions
            python.clientName = job.client
        }
        python.configurationPath = configurationPath
        return StageRegistry.factory(python: python)
    }

    /// Restores job `jobID` under `target`; returns the summary and the restore's messages.
    func restore(_ catalog: SQLiteCatalog, jobID: Int64, debugLevel: Int = 0) throws -> (JobSummary, [JobMessage]) {
        var settings = RestoreSettings(whereDirectory: target)
        settings.debugLevel = debugLevel
        let job = RestoreJob(
            catalog: catalog, jobID: JobID(rawValue: jobID), settings: settings, stageFactory: Self.factory(nil))
        let summary = try job.run()
        return (summary, job.problems)
    }

    /// The job's messages raised by stages, in order, without the trailing newline plugins add.
    func stageMessages(_ catalog: SQLiteCatalog, jobID: Int64) throws -> [JobMessage] {
        try catalog.messages(job: JobID(rawValue: jobID)).filter { $0.stage != nil }
    }

    /// `callorder: ...` lines of a list of messages.
    func callOrder(_ messages: [JobMessage]) -> [String] {
        messages.compactMap { message in
            message.text.hasPrefix("callorder: ") ? String(message.text.dropFirst("callorder: ".count)) : nil
        }
    }

    func file(_ catalog: SQLiteCatalog, jobID: Int64, _ relative: String) throws -> FileRecord {
        let path = Array((source + (relative.isEmpty ? "" : "/" + relative)).utf8)
        return try XCTUnwrap(try catalog.files(job: JobID(rawValue: jobID)).first { $0.path == path }, relative)
    }

    func shell(_ command: String) throws -> (Int32, String) {
        let result = try Shell.run(command)
        return (result.status, result.output)
    }
}
