import PipelineTestSupport
import XCTest

@testable import Pipeline

/// Random and mutated inputs through the lexer, parser and builder: every input must end in a result or a
/// `ConfigError`, never a crash or a hang. 100,000 cases, deterministic (fixed seeds), times
/// `OPTIONHOST_FUZZ_SCALE` (`Tests/fuzz.sh` runs more on demand).
final class ConfigFuzzTests: XCTestCase {
    typealias Generator = SplitMix64

    /// Bytes that matter to the lexer, weighted towards syntax.
    static let alphabet: [UInt8] = Array("{}=;,#\"\\\n\n  \tabcXYZ019_-./*?<|:".utf8) + [0xEF, 0xBB, 0xBF, 0xFF, 0x80, 0x0D]

    static let seeds: [String] = [
        "FileSet { Name = a\n Include { Options { Signature = MD5; Wild = \"*.c\" } File = /x } }",
        "Job { Name = j; Type = Backup; FileSet = a; JobDefs = d }\nJobDefs { Name = d; Level = Full }",
        "Pipeline { Name = p; Stage = \"checksum\" }\nArchive { Name = x; Directory = /v; Volume Mode = 0600 }",
        "Director {\n  Name = d\n  Messages = Daemon\n  RunScript {\n    Command = \"x\"\n  }\n}",
        "FileSet {\n Name = \"q\"\n Include {\n  Plugin = \"python3\"\n   \":module_name=x\"\n  File = \"\\\\<list\"\n }\n"
            + " Exclude { File = \"*.swp\" }\n}",
    ]

    /// Fixture files when `../shared/fixtures` is present (more realistic seeds), else the built-in seeds.
    static func corpus() -> [[UInt8]] {
        var inputs = seeds.map { Array($0.utf8) }
        if let fixtures = FixtureTests.fixtures {
            let directory = fixtures + "/bareos-filesets"
            for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
                if let data = FileManager.default.contents(atPath: directory + "/" + name) { inputs.append(Array(data)) }
            }
        }
        return inputs
    }

    /// Includes are disabled in fuzzing: `@` could name real files or commands.
    static func sanitized(_ bytes: [UInt8]) -> String {
        String(decoding: bytes.map { $0 == UInt8(ascii: "@") ? UInt8(ascii: "a") : $0 }, as: UTF8.self)
    }

    private func run(_ input: String, slowest: inout Double) {
        let start = DispatchTime.now().uptimeNanoseconds
        do {
            _ = try Configuration.parse(text: input, fileName: "fuzz.conf")
        } catch {
            XCTAssertFalse(error.message.isEmpty)
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        slowest = max(slowest, seconds)
        if seconds > 2 { XCTFail("one input took \(seconds) s: \(input.prefix(200))") }
    }

    func testRandomInputs() {
        var generator = Generator(state: 42)
        var slowest = 0.0
        for _ in 0..<(40_000 * VolumeFuzzTests.scale) {
            let length = generator.below(200)
            var bytes: [UInt8] = []
            bytes.reserveCapacity(length)
            for _ in 0..<length { bytes.append(ConfigFuzzTests.alphabet[generator.below(ConfigFuzzTests.alphabet.count)]) }
            run(ConfigFuzzTests.sanitized(bytes), slowest: &slowest)
        }
        XCTAssertLessThan(slowest, 2)
    }

    func testMutatedInputs() {
        let corpus = ConfigFuzzTests.corpus()
        var generator = Generator(state: 7)
        var slowest = 0.0
        for _ in 0..<(60_000 * VolumeFuzzTests.scale) {
            var bytes = corpus[generator.below(corpus.count)]
            for _ in 0..<(1 + generator.below(4)) {
                guard !bytes.isEmpty else { break }
                let at = generator.below(bytes.count)
                switch generator.below(6) {
                case 0: bytes[at] = ConfigFuzzTests.alphabet[generator.below(ConfigFuzzTests.alphabet.count)]
                case 1: bytes.remove(at: at)
                case 2: bytes.insert(ConfigFuzzTests.alphabet[generator.below(ConfigFuzzTests.alphabet.count)], at: at)
                case 3: bytes = Array(bytes[..<at])
                case 4:
                    let end = min(bytes.count, at + generator.below(64))
                    bytes.insert(contentsOf: bytes[at..<end], at: at)
                default: bytes[at] = UInt8(truncatingIfNeeded: generator.next())
                }
            }
            run(ConfigFuzzTests.sanitized(bytes), slowest: &slowest)
        }
        XCTAssertLessThan(slowest, 2)
    }

    func testDeepNestingIsRefusedNotRecursed() {
        let text = "Director {\n" + String(repeating: "RunScript {\n", count: 10_000) + "\n}"
        XCTAssertThrowsError(try Configuration.parse(text: text, fileName: "deep.conf")) { error in
            XCTAssertEqual((error as? ConfigError)?.message, "blocks nested more than 16 deep")
        }
    }
}
