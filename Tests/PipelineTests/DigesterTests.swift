import Dispatch
import XCTest

@testable import Pipeline

/// Known-answer, streaming, reuse and large-buffer tests for `Digester` and `Hex`.
/// Expected values were computed with `openssl dgst`, Python's `hashlib` (BLAKE2b-512 too) and `xxhsum -H2` (xxHash 0.8.1).
final class DigesterTests: XCTestCase {
    private static let emptyVectors: [DigestAlgorithm: String] = [
        .md5: "d41d8cd98f00b204e9800998ecf8427e",
        .sha1: "da39a3ee5e6b4b0d3255bfef95601890afd80709",
        .sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        .sha512: "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
            + "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
        .xxh128: "99aa06d3014798d86001c324468d497f",
        .blake2b512: "786a02f742015903c6c6fd852552d272912f4740e15847618a86e217f71f5419"
            + "d25e1031afee585313896444934eb04b903a685b1448b755d56f701afe9be2ce",
    ]

    private static let abcVectors: [DigestAlgorithm: String] = [
        .md5: "900150983cd24fb0d6963f7d28e17f72",
        .sha1: "a9993e364706816aba3e25717850c26c9cd0d89d",
        .sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        .sha512: "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
            + "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
        .xxh128: "06b05ab6733a618578af5f94892f3950",
        .blake2b512: "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1"
            + "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923",
    ]

    /// Digests of `pattern(count: 10 MiB)`.
    private static let patternVectors: [DigestAlgorithm: String] = [
        .md5: "01ed4db2ad1f5fd7176a6b1dd78a34ce",
        .sha1: "904ab43e89e87d4e6faa884ead6487a80d82c485",
        .sha256: "3058e27e13b0b775c468d47f9a7b4b68c68e7841077527bf79a0faeb5e679742",
        .sha512: "536a476a84b7e88b585ecde5f5d38f71a0168b996aa789d9d766ca39703cf705"
            + "38de7b7eea6e457f90b0438b5575f57a663e39ca59f4bb1b48e2e1593d5e8057",
        .xxh128: "fc78546fa5d71884592166dae4138c55",
        .blake2b512: "36e31bd77aacef14c92cdda0dc5cbfae3a9bb52b80503236e68f7e022bda306e"
            + "b514ed057098e8235184ad8378b87c2be2a2e710b7d0bb873633b9532cd8d599",
    ]

    /// Byte `i` is `(7 i + i >> 11) mod 256`; the Python generator used for the vectors is the same expression.
    private static func pattern(count: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ ($0 >> 11)) }
    }

    func testLengths() {
        XCTAssertEqual(DigestAlgorithm.allCases.map(\.length), [16, 20, 32, 64, 16, 64])
        for algorithm in DigestAlgorithm.allCases {
            XCTAssertEqual(try Digester.digest(algorithm, of: []).count, algorithm.length, "\(algorithm)")
            XCTAssertEqual(DigestAlgorithm(rawValue: algorithm.rawValue), algorithm)
        }
    }

    /// Every algorithm is available with Debian's libcrypto; a refusal (FIPS mode) names the algorithm.
    func testAvailabilityAndRefusalText() {
        for algorithm in DigestAlgorithm.allCases {
            XCTAssertNoThrow(try Digester.checkAvailable(algorithm), "\(algorithm)")
        }
        let refusal = DigestError(algorithm: .md5, reason: "OpenSSL: EVP_MD_fetch(MD5) failed")
        XCTAssertEqual("\(refusal)", "cannot compute MD5 digests here: OpenSSL: EVP_MD_fetch(MD5) failed")
    }

    func testKnownVectorsForEmptyAndABC() throws {
        for algorithm in DigestAlgorithm.allCases {
            XCTAssertEqual(Hex.encode(try Digester.digest(algorithm, of: [])), Self.emptyVectors[algorithm], "\(algorithm)")
            XCTAssertEqual(Hex.encode(try Digester.digest(algorithm, of: Array("abc".utf8))), Self.abcVectors[algorithm],
                           "\(algorithm)")
            // The same through a streaming digester, byte by byte, and through the raw-buffer entry point.
            let digester = try Digester(algorithm)
            XCTAssertEqual(digester.algorithm, algorithm)
            for byte in "abc".utf8 { digester.update([byte]) }
            XCTAssertEqual(Hex.encode(try digester.finalize()), Self.abcVectors[algorithm], "\(algorithm) bytewise")
            Array("abc".utf8).withUnsafeBytes { digester.update($0) }
            XCTAssertEqual(Hex.encode(try digester.finalize()), Self.abcVectors[algorithm], "\(algorithm) raw buffer")
        }
    }

    func testMD5IsAvailableFromDefaultProvider() {
        // OpenSSL 3 serves MD5 from the default provider; a FIPS-only setup would stop the process here.
        XCTAssertEqual(Hex.encode(try Digester.digest(.md5, of: Array("abc".utf8))), "900150983cd24fb0d6963f7d28e17f72")
    }

    func testStreamingInOddChunksEqualsOneShot() throws {
        // Lengths around the XXH3 short-input thresholds (16, 128, 240 bytes) and the SHA block sizes.
        let data = Self.pattern(count: 300_007)
        let lengths = [0, 1, 3, 16, 17, 63, 64, 65, 127, 128, 129, 240, 241, 1_000, 65_537, data.count]
        let chunkSizes = [1, 2, 3, 7, 13, 64, 127, 1_021, 4_093, 65_537]
        for algorithm in DigestAlgorithm.allCases {
            let digester = try Digester(algorithm)
            for length in lengths {
                let message = Array(data[0..<length])
                let expected = try Digester.digest(algorithm, of: message)
                for chunk in chunkSizes where chunk <= max(length, 1) || chunk == 1 {
                    message.withUnsafeBytes { bytes in
                        var offset = 0
                        while offset < bytes.count {
                            let end = min(offset + chunk, bytes.count)
                            digester.update(UnsafeRawBufferPointer(rebasing: bytes[offset..<end]))
                            offset = end
                        }
                    }
                    XCTAssertEqual(try digester.finalize(), expected, "\(algorithm) length \(length) chunk \(chunk)")
                }
            }
        }
    }

    func testResetAndReuse() throws {
        let abc = Array("abc".utf8)
        for algorithm in DigestAlgorithm.allCases {
            let digester = try Digester(algorithm)
            // reset() discards a message in progress.
            digester.update(Array(repeating: 0x55, count: 10_000))
            digester.reset()
            digester.update(abc)
            XCTAssertEqual(Hex.encode(try digester.finalize()), Self.abcVectors[algorithm], "\(algorithm) after reset")
            // finalize() leaves the digester empty: a second finalize gives the empty digest.
            XCTAssertEqual(Hex.encode(try digester.finalize()), Self.emptyVectors[algorithm], "\(algorithm) empty")
            // Repeated reset() calls and reuse many times, as a worker does per file.
            digester.reset()
            digester.reset()
            for _ in 0..<100 {
                digester.update(abc)
                XCTAssertEqual(Hex.encode(try digester.finalize()), Self.abcVectors[algorithm], "\(algorithm) reuse")
            }
            // An empty update changes nothing.
            [UInt8]().withUnsafeBytes { digester.update($0) }
            digester.update([])
            digester.update(abc)
            XCTAssertEqual(Hex.encode(try digester.finalize()), Self.abcVectors[algorithm], "\(algorithm) empty updates")
        }
    }

    func testTenMebibyteBuffer() throws {
        let data = Self.pattern(count: 10 << 20)
        for algorithm in DigestAlgorithm.allCases {
            XCTAssertEqual(Hex.encode(try Digester.digest(algorithm, of: data)), Self.patternVectors[algorithm],
                           "\(algorithm) one shot")
            // The same in odd-sized updates.
            let digester = try Digester(algorithm)
            data.withUnsafeBytes { bytes in
                var offset = 0
                var chunk = 1
                while offset < bytes.count {
                    let end = min(offset + chunk, bytes.count)
                    digester.update(UnsafeRawBufferPointer(rebasing: bytes[offset..<end]))
                    offset = end
                    chunk = chunk * 3 % 1_048_573 + 1
                }
            }
            XCTAssertEqual(Hex.encode(try digester.finalize()), Self.patternVectors[algorithm], "\(algorithm) streamed")
        }
    }

    func testIndependentDigestersOnConcurrentThreads() {
        // The fetched EVP_MD objects are created once and shared; first use may race between threads.
        let expected = DigestAlgorithm.allCases.map { Self.abcVectors[$0]! }
        let results = ResultBox(count: 8)
        DispatchQueue.concurrentPerform(iterations: 8) { index in
            var ok = true
            for _ in 0..<200 {
                for (position, algorithm) in DigestAlgorithm.allCases.enumerated() {
                    guard let digester = try? Digester(algorithm) else {
                        ok = false
                        continue
                    }
                    digester.update(Array("abc".utf8))
                    ok = ok && ((try? digester.finalize()).map { Hex.encode($0) }) == expected[position]
                }
            }
            results.set(index, ok)
        }
        XCTAssertEqual(results.values, Array(repeating: true, count: 8))
    }

    func testHexEncode() {
        XCTAssertEqual(Hex.encode([]), "")
        XCTAssertEqual(Hex.encode([0x00]), "00")
        XCTAssertEqual(Hex.encode([0x00, 0x0F, 0x10, 0x9A, 0xA5, 0xFF]), "000f109aa5ff")
        XCTAssertEqual(Hex.encode(Array(0...255)).count, 512)
        XCTAssertEqual(Hex.encode(Array(0...255)), (0...255).map { String(format: "%02x", $0) }.joined())
    }
}

/// Per-thread results written under a lock.
private final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [Bool]

    init(count: Int) {
        storage = Array(repeating: false, count: count)
    }

    func set(_ index: Int, _ value: Bool) {
        lock.lock()
        storage[index] = value
        lock.unlock()
    }

    var values: [Bool] {
        lock.lock()
        defer { lock.unlock() }
        return storage
    }
}

/// The Swift MD5 that stands in for OpenSSL's when a FIPS-mode OpenSSL refuses MD5 (the FileSet identity).
final class PortableMD5Tests: XCTestCase {
    private func md5(_ bytes: [UInt8], pieces: Int = 1) -> String {
        var md5 = PortableMD5()
        let size = max(1, bytes.count / pieces)
        var start = 0
        while start < bytes.count {
            md5.update(bytes[start..<min(bytes.count, start + size)])
            start += size
        }
        return Hex.encode(md5.finalize())
    }

    func testKnownAnswersFromRFC1321() {
        XCTAssertEqual(md5([]), "d41d8cd98f00b204e9800998ecf8427e")
        XCTAssertEqual(md5(Array("abc".utf8)), "900150983cd24fb0d6963f7d28e17f72")
        XCTAssertEqual(md5(Array("message digest".utf8)), "f96b697d7cb7938d525a2f31aaf161d0")
        XCTAssertEqual(
            md5(Array("12345678901234567890123456789012345678901234567890123456789012345678901234567890".utf8)),
            "57edf4a22be3c955ac49da2e2107b67a")
    }

    func testAgreesWithOpenSSLAtEveryLengthAroundABlock() throws {
        for count in [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000, 100_003] {
            let bytes = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ count) }
            let openssl = try Digester(.md5)
            openssl.update(bytes)
            XCTAssertEqual(md5(bytes, pieces: 3), Hex.encode(try openssl.finalize()), "length \(count)")
        }
    }
}
