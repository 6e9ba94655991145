import Foundation
import PipelineTestSupport
import XCTest

@testable import Pipeline

/// Round trips, interoperability with the system `gzip`/`gunzip`/`lz4`, and failure on corrupt or truncated input
/// for the gzip and LZ4 `ByteTransform`s. Deterministic (fixed seeds).
final class CodecTests: XCTestCase {
    private typealias Generator = SplitMix64

    /// Every compressor/decompressor pair under test.
    private static var codecs: [(name: String, compressor: () throws -> ByteTransform,
                                 decompressor: () throws -> ByteTransform)] { [
        ("gzip-1", { try GzipCompressor(level: 1) }, { try GzipDecompressor() }),
        ("gzip-6", { try GzipCompressor(level: 6) }, { try GzipDecompressor() }),
        ("gzip-9", { try GzipCompressor(level: 9) }, { try GzipDecompressor() }),
        ("lz4", { try LZ4Compressor() }, { try LZ4Decompressor() }),
        ("lz4hc", { try LZ4Compressor(highCompression: true) }, { try LZ4Decompressor() }),
    ] }

    /// English-like text with repetition, as in configuration files and documentation.
    private static func text(count: Int, seed: UInt64) -> [UInt8] {
        let words = ["the", "backup", "file", "set", "include", "options", "signature", "compression", "volume",
                     "job", "catalog", "storage", "director", "client", "pool", "schedule", "level", "full",
                     "incremental", "differential", "=", "{", "}", "\n", "  ", "/usr/lib/", "README", ".conf"]
        var generator = Generator(state: seed)
        var result = [UInt8]()
        result.reserveCapacity(count + 32)
        while result.count < count {
            result.append(contentsOf: words[generator.below(words.count)].utf8)
            result.append(0x20)
        }
        return Array(result.prefix(count))
    }

    /// Alternating 64 KiB-ish runs of text and random bytes.
    private static func mixed(count: Int, seed: UInt64) -> [UInt8] {
        var generator = Generator(state: seed)
        var result = [UInt8]()
        result.reserveCapacity(count)
        var useText = true
        while result.count < count {
            let run = min(count - result.count, 16_384 + generator.below(100_000))
            result += useText ? text(count: run, seed: generator.next()) : generator.bytes(run)
            useText.toggle()
        }
        return result
    }

    /// Runs `input` through `transform` in chunks of `chunkSize()` bytes and finishes it.
    private func run(_ transform: ByteTransform, _ input: [UInt8],
                     chunkSize: () -> Int = { 1 << 20 }) throws -> [UInt8] {
        var output = [UInt8]()
        try input.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let end = min(offset + chunkSize(), bytes.count)
                try transform.process(UnsafeRawBufferPointer(rebasing: bytes[offset..<end]), into: &output)
                offset = end
            }
        }
        try transform.finish(into: &output)
        return output
    }

    /// Expects `input` to fail to decode with a `CodecError`, whether fed at once or in small chunks.
    private func assertRejected(_ makeDecompressor: () throws -> ByteTransform, _ input: [UInt8],
                                _ label: String, file: StaticString = #filePath, line: UInt = #line) throws {
        for chunk in [input.count, 7] {
            do {
                let output = try run(try makeDecompressor(), input, chunkSize: { max(chunk, 1) })
                XCTFail("\(label): decoded \(output.count) bytes instead of failing (chunk \(chunk))", file: file,
                        line: line)
            } catch let error as CodecError {
                XCTAssertFalse(error.message.isEmpty, file: file, line: line)
            }
        }
    }

    // MARK: Round trips

    func testRoundTrips() throws {
        var generator = Generator(state: 0xC0DEC)
        let inputs: [(String, [UInt8])] = [
            ("empty", []),
            ("one byte", [0x42]),
            ("text", Self.text(count: 300_000, seed: 1)),
            ("random 5 MiB", generator.bytes(5 << 20)),
            ("zeros", Array(repeating: 0, count: 3 << 20)),
        ]
        for codec in Self.codecs {
            for (label, input) in inputs {
                var chunks = Generator(state: 99)
                let compressed = try run(try codec.compressor(), input, chunkSize: { chunks.chunkSize() })
                let restored = try run(try codec.decompressor(), compressed, chunkSize: { chunks.chunkSize() })
                XCTAssertEqual(restored.count, input.count, "\(codec.name) \(label)")
                XCTAssertTrue(restored == input, "\(codec.name) \(label)")
                // Decoding in one call and byte by byte (small inputs) gives the same.
                XCTAssertTrue(try run(try codec.decompressor(), compressed) == input, "\(codec.name) \(label) whole")
                if compressed.count < 100_000 {
                    XCTAssertTrue(try run(try codec.decompressor(), compressed, chunkSize: { 1 }) == input,
                                  "\(codec.name) \(label) bytewise")
                }
            }
        }
    }

    func testTinyChunksAndHighRatio() throws {
        // 1-byte input chunks, and 16 MiB of zeros that compress 1000:1 and expand through many output rounds.
        let text = Self.text(count: 20_000, seed: 7)
        let zeros = [UInt8](repeating: 0, count: 16 << 20)
        for codec in Self.codecs {
            let compressed = try run(try codec.compressor(), text, chunkSize: { 1 })
            XCTAssertTrue(try run(try codec.decompressor(), compressed) == text, codec.name)
            let packed = try run(try codec.compressor(), zeros)
            XCTAssertLessThan(packed.count, zeros.count / 200, codec.name)
            XCTAssertTrue(try run(try codec.decompressor(), packed) == zeros, codec.name)
        }
    }

    func testCompressionActuallyCompresses() throws {
        let text = Self.text(count: 1 << 20, seed: 3)
        var sizes: [String: Int] = [:]
        for codec in Self.codecs {
            sizes[codec.name] = try run(try codec.compressor(), text).count
        }
        XCTAssertLessThan(sizes["gzip-6"]!, text.count / 3)
        XCTAssertLessThan(sizes["lz4"]!, text.count / 2)
        XCTAssertLessThanOrEqual(sizes["gzip-9"]!, sizes["gzip-1"]!)
        XCTAssertLessThan(sizes["lz4hc"]!, sizes["lz4"]!)
    }

    func testOutputIsAppended() throws {
        // Produced bytes are appended to what the caller's array already holds.
        let input = Self.text(count: 100_000, seed: 5)
        for codec in Self.codecs {
            let compressor = try codec.compressor()
            var output: [UInt8] = [1, 2, 3]
            try input.withUnsafeBytes { try compressor.process($0, into: &output) }
            try compressor.finish(into: &output)
            XCTAssertEqual(Array(output.prefix(3)), [1, 2, 3], codec.name)
            let decompressor = try codec.decompressor()
            var restored: [UInt8] = [9]
            try output.dropFirst(3).withUnsafeBytes { try decompressor.process($0, into: &restored) }
            try decompressor.finish(into: &restored)
            XCTAssertTrue(restored == [9] + input, codec.name)
        }
    }

    // MARK: Interoperability with the system tools

    func testSystemToolsDecodeOurOutput() throws {
        let input = Self.mixed(count: 3 << 20, seed: 11)
        for (label, compressor, tool) in [
            ("gzip-6", try GzipCompressor(level: 6) as ByteTransform, ["gunzip", "-c"]),
            ("gzip-1", try GzipCompressor(level: 1) as ByteTransform, ["gunzip", "-c"]),
            ("lz4", try LZ4Compressor() as ByteTransform, ["lz4", "-dc"]),
            ("lz4hc", try LZ4Compressor(highCompression: true) as ByteTransform, ["lz4", "-dc"]),
        ] {
            var chunks = Generator(state: 17)
            let compressed = try run(compressor, input, chunkSize: { chunks.chunkSize() })
            let decoded = try Self.tool(tool, input: compressed)
            XCTAssertEqual(decoded.count, input.count, label)
            XCTAssertTrue(decoded == input, "\(label): \(tool.joined(separator: " ")) output differs")
        }
        // The empty stream too.
        XCTAssertEqual(try Self.tool(["gunzip", "-c"], input: run(try GzipCompressor(level: 6), [])), [])
        XCTAssertEqual(try Self.tool(["lz4", "-dc"], input: run(try LZ4Compressor(), [])), [])
    }

    func testWeDecodeSystemToolOutput() throws {
        let input = Self.mixed(count: 3 << 20, seed: 13)
        for tool in [["gzip", "-c"], ["gzip", "-c", "-9"], ["gzip", "-c", "-1"], ["lz4", "-c"], ["lz4", "-c", "-9"],
                     ["lz4", "-c", "-BD"], ["lz4", "-c", "--content-size", "-B4"]] {
            let compressed = try Self.tool(tool, input: input)
            let decompressor: ByteTransform = tool[0] == "gzip" ? try GzipDecompressor() : try LZ4Decompressor()
            var chunks = Generator(state: 23)
            let decoded = try run(decompressor, compressed, chunkSize: { chunks.chunkSize() })
            XCTAssertTrue(decoded == input, "\(tool.joined(separator: " ")) output not decoded")
        }
        XCTAssertEqual(try run(try GzipDecompressor(), Self.tool(["gzip", "-c"], input: [])), [])
        XCTAssertEqual(try run(try LZ4Decompressor(), Self.tool(["lz4", "-c"], input: [])), [])
    }

    func testConcatenatedMembersAndFrames() throws {
        // gunzip and lz4 -d output the concatenation of consecutive members/frames; so do we.
        let first = Self.text(count: 70_000, seed: 31)
        let second = Self.mixed(count: 200_000, seed: 37)
        let gzipped = try Self.tool(["gzip", "-c"], input: first) + run(try GzipCompressor(level: 6), second)
            + run(try GzipCompressor(level: 1), [])
        let lz4ed = try Self.tool(["lz4", "-c"], input: first) + run(try LZ4Compressor(), second)
            + run(try LZ4Compressor(), [])
        XCTAssertTrue(try Self.tool(["gunzip", "-c"], input: gzipped) == first + second)
        XCTAssertTrue(try Self.tool(["lz4", "-dc"], input: lz4ed) == first + second)
        for (label, data, make) in [("gzip", gzipped, { try GzipDecompressor() as ByteTransform }),
                                    ("lz4", lz4ed, { try LZ4Decompressor() as ByteTransform })] {
            XCTAssertTrue(try run(try make(), data) == first + second, "\(label) whole")
            XCTAssertTrue(try run(try make(), data, chunkSize: { 1 }) == first + second, "\(label) bytewise")
            var chunks = Generator(state: 41)
            XCTAssertTrue(try run(try make(), data, chunkSize: { chunks.below(5_000) + 1 }) == first + second,
                          "\(label) random chunks")
            // A member/frame boundary exactly at a chunk boundary.
            let boundary = label == "gzip" ? try Self.tool(["gzip", "-c"], input: first).count
                                           : try Self.tool(["lz4", "-c"], input: first).count
            let decompressor = try make()
            var output = [UInt8]()
            try data[..<boundary].withUnsafeBytes { try decompressor.process($0, into: &output) }
            XCTAssertTrue(output == first, "\(label) first part")
            try data[boundary...].withUnsafeBytes { try decompressor.process($0, into: &output) }
            try decompressor.finish(into: &output)
            XCTAssertTrue(output == first + second, "\(label) split at boundary")
        }
    }

    // MARK: Failures

    func testTruncatedInputIsRejected() throws {
        let input = Self.mixed(count: 400_000, seed: 43)
        for codec in Self.codecs {
            let compressed = try run(try codec.compressor(), input)
            var generator = Generator(state: 47)
            var cuts = [0, 1, 2, 4, 10, compressed.count / 2, compressed.count - 5, compressed.count - 4,
                        compressed.count - 1]
            for _ in 0..<20 { cuts.append(generator.below(compressed.count)) }
            for cut in cuts {
                try assertRejected(codec.decompressor, Array(compressed[..<cut]), "\(codec.name) cut at \(cut)")
            }
        }
    }

    func testCorruptInputIsRejected() throws {
        let input = Self.mixed(count: 400_000, seed: 53)
        for codec in Self.codecs {
            let compressed = try run(try codec.compressor(), input)
            // The magic number, the middle of the data, and the trailing checksum.
            for position in [0, 1, compressed.count / 3, compressed.count / 2, compressed.count - 6,
                             compressed.count - 2] {
                var damaged = compressed
                damaged[position] ^= 0x5A
                try assertRejected(codec.decompressor, damaged, "\(codec.name) damaged at \(position)")
            }
            // Garbage after a complete stream.
            try assertRejected(codec.decompressor, compressed + Array("trailing junk".utf8), "\(codec.name) junk")
        }
        var generator = Generator(state: 59)
        for _ in 0..<50 {
            let garbage = generator.bytes(generator.below(5_000) + 1)
            try assertRejected({ try GzipDecompressor() }, garbage, "gzip garbage")
            try assertRejected({ try LZ4Decompressor() }, garbage, "lz4 garbage")
        }
        try assertRejected({ try GzipDecompressor() }, [], "gzip empty input")
        try assertRejected({ try LZ4Decompressor() }, [], "lz4 empty input")
    }

    func testMisuseThrows() throws {
        XCTAssertThrowsError(try GzipCompressor(level: 0)) { XCTAssertTrue($0 is CodecError) }
        XCTAssertThrowsError(try GzipCompressor(level: 10)) { XCTAssertTrue($0 is CodecError) }
        for codec in Self.codecs {
            let compressor = try codec.compressor()
            var output = [UInt8]()
            try compressor.finish(into: &output)
            XCTAssertThrowsError(try [UInt8(1)].withUnsafeBytes { try compressor.process($0, into: &output) },
                                 codec.name) { XCTAssertTrue($0 is CodecError) }
            XCTAssertThrowsError(try compressor.finish(into: &output), codec.name)
            let decompressor = try codec.decompressor()
            var restored = [UInt8]()
            try output.withUnsafeBytes { try decompressor.process($0, into: &restored) }
            try decompressor.finish(into: &restored)
            XCTAssertEqual(restored, [], codec.name)
            XCTAssertThrowsError(try output.withUnsafeBytes { try decompressor.process($0, into: &restored) },
                                 codec.name) { XCTAssertTrue($0 is CodecError) }
            // After a decoding error, the decompressor stays failed.
            let failed = try codec.decompressor()
            XCTAssertThrowsError(try [UInt8](repeating: 0xEE, count: 64).withUnsafeBytes {
                try failed.process($0, into: &restored)
            })
            XCTAssertThrowsError(try output.withUnsafeBytes { try failed.process($0, into: &restored) }, codec.name)
            XCTAssertThrowsError(try failed.finish(into: &restored), codec.name)
        }
        XCTAssertTrue(String(describing: CodecError(message: "gzip: x")) == "gzip: x")
    }

    // MARK: System tools

    /// Runs `/usr/bin/<arguments[0]>` with `input` on standard input and returns its standard output.
    /// Files rather than pipes, so large data cannot dead-lock.
    private static func tool(_ arguments: [String], input: [UInt8]) throws -> [UInt8] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("codec-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let inputURL = directory.appendingPathComponent("in")
        let outputURL = directory.appendingPathComponent("out")
        try Data(input).write(to: inputURL)
        _ = FileManager.default.createFile(atPath: outputURL.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/" + arguments[0])
        process.arguments = Array(arguments.dropFirst())
        let stdin = try FileHandle(forReadingFrom: inputURL)
        let stdout = try FileHandle(forWritingTo: outputURL)
        defer {
            try? stdin.close()
            try? stdout.close()
        }
        process.standardInput = stdin
        process.standardOutput = stdout
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CodecError(message: "\(arguments.joined(separator: " ")) exited with \(process.terminationStatus)")
        }
        return [UInt8](try Data(contentsOf: outputURL))
    }
}

extension SplitMix64 {
    /// A chunk size from 1 byte to 1 MiB, spread evenly over the powers of two.
    fileprivate mutating func chunkSize() -> Int {
        let power = below(21)
        return (1 << power) + below(1 << power)
    }
}
