import XCTest

@testable import Pipeline

/// Reading Bareos' `RunScript { }` and its short forms in a Job: defaults, order, and the mistakes refused.
final class RunScriptConfigTests: XCTestCase {
    private func job(_ directives: String) throws -> Job {
        let configuration = try Configuration.parse(
            text: "FileSet { Name = fs; Include { File = /x } }\nJob {\n  Name = j; Type = Backup; FileSet = fs\n"
                + directives + "}\n",
            fileName: "r.conf")
        return try XCTUnwrap(configuration.job(named: "j"))
    }

    private func location(_ line: Int, _ column: Int) -> SourceLocation {
        SourceLocation(file: "r.conf", line: line, column: column)
    }

    func testBlocksAndShortFormsInOrderWithBareosDefaults() throws {
        let parsed = try job(
            """
              Run Before Job = "/bin/prepare %n"
              RunScript {
                RunsWhen = After
                RunsOnFailure = yes
                FailJobOnError = no
                RunsOnClient = no
                Command = "/bin/notify %e"
                Command = "/bin/second"
              }
              Run After Job = "/bin/ok"
              Run After Failed Job = "/bin/failed %i"
              Run Script Timeout = 2min

            """)
        XCTAssertEqual(
            parsed.runScripts,
            [
                RunScript(when: .before, commands: ["/bin/prepare %n"], location: location(4, 3)),
                RunScript(
                    when: .after, runsOnSuccess: true, runsOnFailure: true, failJobOnError: false,
                    commands: ["/bin/notify %e", "/bin/second"], location: location(5, 3)),
                RunScript(when: .after, commands: ["/bin/ok"], location: location(13, 3)),
                RunScript(
                    when: .after, runsOnSuccess: false, runsOnFailure: true, commands: ["/bin/failed %i"],
                    location: location(14, 3)),
            ])
        XCTAssertEqual(parsed.runScriptTimeout, 120)
        XCTAssertTrue(parsed.runScripts[1].runs(at: .after, succeeded: false))
        XCTAssertFalse(parsed.runScripts[2].runs(at: .after, succeeded: false))
        XCTAssertFalse(parsed.runScripts[0].runs(at: .after, succeeded: true))
    }

    func testARunScriptWithoutRunsWhenNeverRunsAndIsWarnedAbout() throws {
        let configuration = try Configuration.parse(
            text: "FileSet { Name = fs; Include { File = /x } }\n"
                + "Job {\n  Name = j; Type = Backup; FileSet = fs\n  RunScript {\n    Command = \"/bin/x\"\n  }\n}\n",
            fileName: "r.conf")
        XCTAssertEqual(configuration.job(named: "j")?.runScripts.first?.when, .never)
        XCTAssertEqual(
            configuration.warnings.map(\.description),
            ["r.conf:4:3: warning: RunScript without RunsWhen never runs (Bareos' default is Never)"])
    }

    func testMistakesAreErrorsWithTheirLocation() {
        let cases: [(String, String)] = [
            ("  RunScript {\n    RunsWhen = Later\n    Command = x\n  }\n",
             "r.conf:5:16: invalid RunsWhen \"Later\": expected Before, After, Always or Never"),
            ("  RunScript {\n    RunsWhen = Before\n  }\n", "r.conf:4:3: RunScript has no Command"),
            ("  RunScript {\n    RunsWhen = Before\n    Console = \"status dir\"\n  }\n",
             "r.conf:6:5: RunScript Console (a bconsole command) is not supported by this host; use Command"),
            ("  RunScript {\n    RunsWhen = Before\n    Comand = x\n  }\n",
             "r.conf:6:5: unknown RunScript directive Comand (known: RunsWhen, RunsOnSuccess, RunsOnFailure, "
                + "FailJobOnError, RunsOnClient, Command)"),
            ("  RunScript {\n    RunsWhen = Before\n    FailJobOnError = maybe\n    Command = x\n  }\n",
             "r.conf:6:22: expected yes or no for FailJobOnError, got \"maybe\""),
            ("  Run Script Timeout = never\n",
             "r.conf:4:24: invalid Run Script Timeout \"never\": expected a time such as 30s or \"5 min\""),
        ]
        for (directives, expected) in cases {
            XCTAssertThrowsError(try job(directives), directives) { error in
                XCTAssertEqual((error as? ConfigError)?.headline, expected)
            }
        }
    }
}
