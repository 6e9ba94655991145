import XCTest

@testable import Pipeline

/// `bareos-python-fd-api.md` sections 1.2 and 1.3.
final class PluginStringTests: XCTestCase {
    func testNames() {
        XCTAssertEqual(PluginString.name("python3:module_name=x"), "python3")
        XCTAssertEqual(PluginString.name("checksum"), "checksum")
        XCTAssertTrue(PluginString.isPython("python:module_name=x"))
        XCTAssertTrue(PluginString.isPython("python3:module_name=x"))
        XCTAssertFalse(PluginString.isPython("python2:module_name=x"))
        XCTAssertEqual(PluginString.pipelineName("pipeline:audit"), "audit")
        XCTAssertNil(PluginString.pipelineName("pipelines:audit"))
        XCTAssertThrowsError(try PluginString.validateName("bad plugin"))
        XCTAssertNoThrow(try PluginString.validateName("python3:a b=c"))
    }

    func testSplittingTableOfTheSpecification() throws {
        func split(_ string: String) throws -> PluginString.PythonDefinition? {
            try PluginString.pythonDefinition(string)
        }
        XCTAssertEqual(try split("python3:module_path=/p:module_name=m")?.options, "")
        XCTAssertEqual(try split("python3:module_path=/p:module_name=m")?.modulePath, "/p")
        XCTAssertEqual(try split("python3:module_path=/p:module_name=m")?.moduleName, "m")
        XCTAssertEqual(try split("python3:module_path=/p:module_name=m:option=value")?.options, "option=value:")
        XCTAssertEqual(try split("python:module_name=m:a=1:b=x\\:y")?.options, "a=1:b=x\\:y:")
        XCTAssertEqual(try split("python3:module_name=m::k=v")?.options, ":k=v:")
    }

    /// python-dir's rules for `Dir Plugin Options`: whole keys (any case) for module_path, module_name and
    /// instance, values unchanged, the rest passed on with a trailing `:`.
    func testSplittingADirectorPluginString() throws {
        let full = try PluginString.directorDefinition(
            "python3:instance=1:Module_Path=/p\\:q:MODULE_NAME=m:module=x:output=/run/cmd\\:1")
        XCTAssertEqual(full.modulePath, "/p\\:q")
        XCTAssertEqual(full.moduleName, "m")
        XCTAssertEqual(full.options, "module=x:output=/run/cmd\\:1:")
        XCTAssertEqual(try PluginString.directorDefinition("python:module_name=m").options, "")
        func problem(_ string: String) -> String? {
            do {
                _ = try PluginString.directorDefinition(string)
                return nil
            } catch {
                return error.message
            }
        }
        XCTAssertEqual(
            problem("bpipe:module_name=m"),
            "Director plugin \"bpipe\" is not one this host runs: Dir Plugin Options takes python3: (or python:) strings")
        XCTAssertEqual(problem("python3"), "illegal plugin definition \"python3\": no ':' after the plugin name")
        XCTAssertEqual(
            problem("python3:module_name=m:flag"),
            "illegal argument \"flag\" without value in plugin definition \"python3:module_name=m:flag\"")
        // A key prefix is not module_name here (python-fd would take it): no module is named.
        XCTAssertEqual(
            problem("python3:module=m"), "plugin definition \"python3:module=m\" names no module_name")
    }

    func testSplittingQuirks() throws {
        // An item without '=' merges into the next key.
        XCTAssertEqual(try PluginString.pythonDefinition("python3:module_name=m:flag:b=1")?.options, "flag:b=1:")
        // Key prefixes (and the empty key) are consumed as module_path / module_name.
        XCTAssertEqual(try PluginString.pythonDefinition("python3:module=/x:module_name=m")?.modulePath, "/x")
        XCTAssertEqual(try PluginString.pythonDefinition("python3:=/e:module_name=m")?.modulePath, "/e")
        XCTAssertEqual(try PluginString.pythonDefinition("python3:MODULE_NAME=Big")?.moduleName, "Big")
        // Backslash removal leaves one stale trailing character per removed backslash.
        XCTAssertEqual(try PluginString.pythonDefinition("python3:module_path=x\\:y:module_name=m")?.modulePath, "x:yy")
        XCTAssertEqual(try PluginString.pythonDefinition("python3:module_path=a\\b\\c")?.modulePath, "abc\\c")
        XCTAssertNil(try PluginString.pythonDefinition("*all*"))
        XCTAssertThrowsError(try PluginString.pythonDefinition("python3"))
        XCTAssertThrowsError(try PluginString.pythonDefinition("python3:module_name=m:novalue")) { error in
            XCTAssertEqual(
                "\(error)",
                "illegal argument \"novalue\" without value in plugin definition \"python3:module_name=m:novalue\"")
        }
    }

    func testNativeStageOptions() {
        let options = PluginString.options("checksum:log=/var/x\\:y:algo=sha256:flag")
        XCTAssertEqual(options.map(\.key), ["log", "algo", "flag"])
        XCTAssertEqual(options.map(\.value), ["/var/x:y", "sha256", ""])
    }
}
