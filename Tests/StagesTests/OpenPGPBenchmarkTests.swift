import Foundation
import XCTest

import Pipeline
@testable import Stages

/// Throughput of the native OpenPGP writer, on demand only: `OPENPGP_BENCH=1 swift test -c release --filter
/// OpenPGPBenchmarkTests`. Prints `BENCH` lines; asserts nothing about speed.
final class OpenPGPBenchmarkTests: XCTestCase {
    func testThroughput() throws {
        let selection = ProcessInfo.processInfo.environment["OPENPGP_BENCH"] ?? ""
        try XCTSkipIf(selection.isEmpty, "set OPENPGP_BENCH=1 (or small, fresh, bulk)")
        func wanted(_ part: String) -> Bool { selection == "1" || selection == part }
        let keys = try GnuPGKeys()
        defer { keys.remove() }
        let cv = try GPGKeyring(homeDirectory: keys.homeA).recipient("a@example.org")
        let rsa = try GPGKeyring(homeDirectory: keys.homeB).recipient("b@example.org")
        let small = [UInt8](repeating: 0x5A, count: 4096)

        func messagesPerSecond(_ encryptor: OpenPGPEncryptor, count: Int) throws -> Double {
            var output: [UInt8] = []
            output.reserveCapacity(8192)
            let start = ContinuousClock.now
            for _ in 0..<count {
                encryptor.reset()
                output.removeAll(keepingCapacity: true)
                try small.withUnsafeBytes { try encryptor.process($0, into: &output) }
                try encryptor.finish(into: &output)
            }
            return Double(count) / seconds(ContinuousClock.now - start)
        }

        for (label, recipient) in [("cv25519", cv), ("rsa3072", rsa)] where wanted("small") || wanted("fresh") {
            let fresh = try messagesPerSecond(OpenPGPEncryptor(recipients: [recipient]), count: 5_000)
            print("BENCH 4KiB \(label) per-message keys: \(Int(fresh)) messages/s")
            guard wanted("small") else { continue }
            let reused = try messagesPerSecond(
                OpenPGPEncryptor(sessionKeys: SessionKeySet(recipients: [recipient])), count: 50_000)
            print("BENCH 4KiB \(label) reused SessionKeySet: \(Int(reused)) messages/s")
        }
        // A new encryptor object per message (what a stage that does not keep one per worker pays).
        if wanted("small") {
            let set = try SessionKeySet(recipients: [cv])
            let count = 50_000
            let start = ContinuousClock.now
            for _ in 0..<count { _ = try OpenPGPEncryptor.encrypt(small, sessionKeys: set) }
            print("BENCH 4KiB reused SessionKeySet, new encryptor each: \(Int(Double(count) / seconds(ContinuousClock.now - start))) messages/s")
        }

        guard wanted("bulk") else { return }
        // One 256 MiB stream in 1 MiB pieces, output emptied between pieces.
        let piece = [UInt8]((0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) })
        let set = try SessionKeySet(recipients: [cv])
        let encryptor = try OpenPGPEncryptor(sessionKeys: set)
        var output: [UInt8] = []
        var message: [UInt8] = []
        let start = ContinuousClock.now
        for index in 0..<256 {
            output.removeAll(keepingCapacity: true)
            try piece.withUnsafeBytes { try encryptor.process($0, into: &output) }
            if index < 2 { message += output }
        }
        output.removeAll(keepingCapacity: true)
        try encryptor.finish(into: &output)
        let encryptSeconds = seconds(ContinuousClock.now - start)
        print("BENCH 256MiB encrypt: \(Int(256 / encryptSeconds)) MiB/s")

        // The ceiling: AES-256-CFB and SHA-1 over the same bytes, without any framing or copies.
        let cfb = try OpenSSL.CFB(encrypt: true)
        try cfb.start(key: set.sessionKey.bytes)
        let sha1 = Digester(.sha1)
        var scratch = [UInt8](repeating: 0, count: piece.count)
        let rawStart = ContinuousClock.now
        for _ in 0..<256 {
            sha1.update(piece)
            try piece.withUnsafeBufferPointer { input in
                try scratch.withUnsafeMutableBufferPointer { output in
                    try cfb.update(input.baseAddress!, output.baseAddress!, count: input.count)
                }
            }
        }
        _ = sha1.finalize()
        print("BENCH 256MiB raw AES-256-CFB + SHA-1 (ceiling): \(Int(256 / seconds(ContinuousClock.now - rawStart))) MiB/s")

        // Decrypt the same amount (a fresh 256 MiB message, fed in 1 MiB pieces).
        let producer = try OpenPGPEncryptor(sessionKeys: set)
        let decryptor = try OpenPGPDecryptor(sessionKey: set.sessionKey)
        var plain: [UInt8] = []
        var decryptSeconds = 0.0
        for index in 0...256 {
            output.removeAll(keepingCapacity: true)
            if index < 256 {
                try piece.withUnsafeBytes { try producer.process($0, into: &output) }
            } else {
                try producer.finish(into: &output)
            }
            let begin = ContinuousClock.now
            plain.removeAll(keepingCapacity: true)
            try output.withUnsafeBytes { try decryptor.process($0, into: &plain) }
            if index == 256 { try decryptor.finish(into: &plain) }
            decryptSeconds += seconds(ContinuousClock.now - begin)
        }
        print("BENCH 256MiB decrypt: \(Int(256 / decryptSeconds)) MiB/s")
    }

    private func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
