import Foundation
import PipelineTestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

@testable import Pipeline

/// Hostile volumes (issue 14, suite item 4): mutated copies of a real volume through `PaxReader` (`next()`,
/// `member(at:)` and the data of every member) and through `VolumeScanner.scan` into a fresh catalog. Every input
/// must end in a result or a thrown error, never a crash or a hang. Deterministic (fixed seeds); the iteration
/// counts are multiplied by `OPTIONHOST_FUZZ_SCALE` (default 1) for longer runs on demand (`Tests/fuzz.sh`).
final class VolumeFuzzTests: XCTestCase {
    var work: TemporaryDirectory!

    static var scale: Int {
        max(1, ProcessInfo.processInfo.environment["OPTIONHOST_FUZZ_SCALE"].flatMap { Int($0) } ?? 1)
    }

    override func setUpWithError() throws {
        work = try TemporaryDirectory(prefix: "volumefuzz")
    }

    override func tearDownWithError() throws {
        work.remove()
    }

    /// One real volume of a backup of a small tree with every kind of member the pax reader meets in our
    /// volumes: plain and GZIP files, a 150 KB file, a long name, a non-UTF-8 name, a symlink, a hard link, an
    /// empty directory; the job label and trailer records. Returns its bytes and its members' header offsets.
    func makeVolume() throws -> (bytes: [UInt8], offsets: [UInt64]) {
        let source = work.path + "/src"
        var random = SplitMix64(state: 3)
        XCTAssertTrue(try Shell.writeFile(source, "plain.txt", Array("hello\n".utf8)))
        XCTAssertTrue(try Shell.writeFile(source, "text.gz-me", Array(String(repeating: "squeeze ", count: 500).utf8)))
        XCTAssertTrue(try Shell.writeFile(source, "big.bin", random.bytes(150_000)))
        XCTAssertTrue(try Shell.writeFile(source, String(repeating: "long-name-", count: 15) + ".txt", random.bytes(700)))
        XCTAssertTrue(try Shell.writeFile(source, "sub/empty", []))
        let raw = Array(source.utf8) + Array("/raw-".utf8) + [0xFF, 0xFE]
        let fd = open(raw.map { CChar(bitPattern: $0) } + [0], O_CREAT | O_WRONLY, 0o600)
        XCTAssertGreaterThanOrEqual(fd, 0)
        close(fd)
        XCTAssertEqual(symlink("plain.txt", source + "/link"), 0)
        XCTAssertEqual(link(source + "/plain.txt", source + "/hard.txt"), 0)
        XCTAssertEqual(mkdir(source + "/emptydir", 0o750), 0)

        let text = """
            FileSet {
              Name = fs
              Include {
                Options { WildFile = "*.gz-me"; Compression = GZIP; Hard Links = yes }
                Options { Hard Links = yes }
                File = "\(source)"
              }
            }
            Job { Name = j; Type = Backup; Level = Full; FileSet = fs }

            """
        let configuration = try Configuration.parse(text: text, fileName: "fuzz.conf")
        let fileSet = try XCTUnwrap(configuration.fileSets["fs"])
        let catalogPath = work.path + "/catalog.db"
        _ = try SQLiteCatalog.open(path: catalogPath, create: true)
        try FileManager.default.createDirectory(atPath: work.path + "/volumes", withIntermediateDirectories: true)
        let job = BackupJob(
            job: try XCTUnwrap(configuration.job(named: "j")), fileSet: fileSet,
            chains: configuration.chains(for: fileSet), catalog: try SQLiteCatalog.open(path: catalogPath, create: false),
            settings: BackupSettings(archiveDirectory: work.path + "/volumes", workers: 1),
            stageFactory: TestStageFactory().factory)
        let summary = try job.runClosingCatalog()
        XCTAssertEqual(summary.status, .ok, "\(summary)")
        let volume = try XCTUnwrap(summary.volumes.first)
        let bytes = try XCTUnwrap(FileManager.default.contents(atPath: volume))

        var offsets: [UInt64] = []
        let reader = try PaxReader(path: volume)
        while let (_, location) = try reader.next() { offsets.append(location.headerOffset) }
        XCTAssertGreaterThan(offsets.count, 10)
        return (Array(bytes), offsets)
    }

    /// A copy of `bytes` with 1-4 mutations, most of them in the header blocks (`offsets`): a flipped or random
    /// byte, a digit of a size or a pax record length, a cut, a block removed, duplicated or zeroed.
    static func mutate(_ original: [UInt8], offsets: [UInt64], random: inout SplitMix64) -> [UInt8] {
        var bytes = original
        for _ in 0..<(1 + random.below(4)) {
            guard !bytes.isEmpty else { break }
            let header = Int(offsets[random.below(offsets.count)])
            let inHeader = min(bytes.count - 1, header + random.below(1_024))
            let anywhere = random.below(bytes.count)
            let at = random.below(4) == 0 ? anywhere : inHeader
            let block = at / 512 * 512
            switch random.below(9) {
            case 0: bytes[at] ^= UInt8(1 << random.below(8))
            case 1: bytes[at] = UInt8(truncatingIfNeeded: random.next())
            case 2: bytes[at] = Array("0123456789 =\n7".utf8)[random.below(14)]
            case 3: bytes.removeSubrange(at...)
            case 4 where block + 512 <= bytes.count: bytes.removeSubrange(block..<(block + 512))
            case 5 where block + 512 <= bytes.count: bytes.insert(contentsOf: bytes[block..<(block + 512)], at: block)
            case 6 where block + 512 <= bytes.count: bytes.replaceSubrange(block..<(block + 512), with: [UInt8](repeating: 0, count: 512))
            case 7:
                // A size field (ustar offset 124, 12 octal digits) or the start of a pax record of the header.
                let field = min(bytes.count - 12, header + (random.below(2) == 0 ? 124 : 512))
                if field >= 0 { for index in field..<(field + random.below(12) + 1) { bytes[index] = Array("7777777777 9".utf8)[random.below(12)] } }
            default: bytes[at] = 0xFF
            }
        }
        return bytes
    }

    /// Runs `body` and fails when it took longer than `limit` seconds (a hang would stop the loop anyway).
    func timed(_ what: String, limit: Double = 5, _ body: () -> Void) {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        if seconds > limit { XCTFail("\(what) took \(seconds) s") }
    }

    /// Reads a mutated volume with `next()` to its end, then every known and a few random offsets with
    /// `member(at:)`, reading each member's data. Returns the number of members read.
    func readAll(_ path: String, offsets: [UInt64], random: inout SplitMix64) -> Int {
        var members = 0
        do {
            let reader = try PaxReader(path: path)
            do {
                while let (member, location) = try reader.next() {
                    members += 1
                    if members > 100_000 { XCTFail("no end of \(path)"); break }
                    try reader.readData(of: member, at: location, chunkSize: 64 * 1024) { _ in }
                }
            } catch is VolumeError {}
            let extra = (0..<4).map { _ in UInt64(random.below(offsets.last.map { Int($0) + 4_096 } ?? 4_096)) }
            for offset in offsets + extra {
                do {
                    let (member, location) = try reader.member(at: offset)
                    members += 1
                    try reader.readData(of: member, at: location, chunkSize: 64 * 1024) { _ in }
                } catch is VolumeError {}
            }
        } catch is VolumeError {
        } catch {
            XCTFail("not a VolumeError: \(error)")
        }
        return members
    }

    func testMutatedVolumesThroughThePaxReader() throws {
        let (original, offsets) = try makeVolume()
        var random = SplitMix64(state: 1_414)
        let path = work.path + "/mutant.tar"
        var members = 0
        for iteration in 0..<(500 * VolumeFuzzTests.scale) {
            let bytes = VolumeFuzzTests.mutate(original, offsets: offsets, random: &random)
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            timed("mutant \(iteration)") { members += readAll(path, offsets: offsets, random: &random) }
        }
        // Most mutants still hold readable members: the loop reached past the first header.
        XCTAssertGreaterThan(members, 500 * VolumeFuzzTests.scale * offsets.count / 2)
    }

    func testMutatedVolumesThroughTheScanner() throws {
        let (original, offsets) = try makeVolume()
        var random = SplitMix64(state: 1_415)
        let path = work.path + "/mutant.tar"
        let catalog = work.path + "/scanned.db"
        var scanned = 0
        var refused = 0
        for iteration in 0..<(60 * VolumeFuzzTests.scale) {
            let bytes = VolumeFuzzTests.mutate(original, offsets: offsets, random: &random)
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            unlink(catalog)
            timed("scan of mutant \(iteration)") {
                do {
                    _ = try VolumeScanner.scan(volumes: [path], intoNewCatalog: catalog)
                    scanned += 1
                } catch {
                    XCTAssertFalse("\(error)".isEmpty)
                    refused += 1
                }
            }
        }
        XCTAssertEqual(scanned + refused, 60 * VolumeFuzzTests.scale)
        XCTAssertGreaterThan(scanned, 0)
        XCTAssertGreaterThan(refused, 0)
    }
}
