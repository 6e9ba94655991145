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

        func messageRates(_ encryptor: OpenPGPEncryptor, count: Int) throws -> String {
            var output: [UInt8] = []
            output.reserveCapacity(8192)
            let timer = Timer()
            for _ in 0..<count {
                encryptor.reset()
                output.removeAll(keepingCapacity: true)
                try small.withUnsafeBytes { try encryptor.process($0, into: &output) }
                try encryptor.finish(into: &output)
            }
            return timer.rates(Double(count), unit: "messages")
        }

        for (label, recipient) in [("cv25519", cv), ("rsa3072", rsa)] where wanted("small") || wanted("fresh") {
            print("BENCH 4KiB \(label) per-message keys: " + (try messageRates(OpenPGPEncryptor(recipients: [recipient]), count: 5_000)))
            guard wanted("small") else { continue }
            let reused = try OpenPGPEncryptor(sessionKeys: SessionKeySet(recipients: [recipient]))
            print("BENCH 4KiB \(label) reused SessionKeySet: " + (try messageRates(reused, count: 50_000)))
        }
        // A new encryptor object per message (what a stage that does not keep one per worker pays).
        if wanted("small") {
            let set = try SessionKeySet(recipients: [cv])
            let count = 50_000
            let timer = Timer()
            for _ in 0..<count { _ = try OpenPGPEncryptor.encrypt(small, sessionKeys: set) }
            print("BENCH 4KiB reused SessionKeySet, new encryptor each: " + timer.rates(Double(count), unit: "messages"))
        }

        guard wanted("bulk") else { return }
        // One 256 MiB stream in 1 MiB pieces, output emptied between pieces.
        let piece = [UInt8]((0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) })
        let set = try SessionKeySet(recipients: [cv])
        let encryptor = try OpenPGPEncryptor(sessionKeys: set)
        var output: [UInt8] = []
        var timer = Timer()
        for _ in 0..<256 {
            output.removeAll(keepingCapacity: true)
            try piece.withUnsafeBytes { try encryptor.process($0, into: &output) }
        }
        output.removeAll(keepingCapacity: true)
        try encryptor.finish(into: &output)
        print("BENCH 256MiB encrypt: " + timer.rates(256, unit: "MiB"))

        // Reference: SHA-1 and AES-256-CFB over the same bytes, without framing or copies.
        let cfb = try OpenSSL.CFB(encrypt: true)
        try cfb.start(key: set.sessionKey.bytes)
        let sha1 = Digester(.sha1)
        var scratch = [UInt8](repeating: 0, count: piece.count)
        timer = Timer()
        for _ in 0..<256 {
            sha1.update(piece)
            try piece.withUnsafeBufferPointer { input in
                try scratch.withUnsafeMutableBufferPointer { output in
                    try cfb.update(input.baseAddress!, output.baseAddress!, count: input.count)
                }
            }
        }
        _ = sha1.finalize()
        print("BENCH 256MiB reference, SHA-1 + AES-256-CFB without framing: " + timer.rates(256, unit: "MiB"))

        // Decrypt a 256 MiB message made beforehand in 1 MiB pieces (kept in memory: 256 MiB).
        let producer = try OpenPGPEncryptor(sessionKeys: set)
        var pieces: [[UInt8]] = []
        for index in 0...256 {
            output.removeAll(keepingCapacity: true)
            if index < 256 {
                try piece.withUnsafeBytes { try producer.process($0, into: &output) }
            } else {
                try producer.finish(into: &output)
            }
            pieces.append(output)
        }
        let decryptor = try OpenPGPDecryptor(sessionKey: set.sessionKey)
        var plain: [UInt8] = []
        timer = Timer()
        for part in pieces {
            plain.removeAll(keepingCapacity: true)
            try part.withUnsafeBytes { try decryptor.process($0, into: &plain) }
        }
        try decryptor.finish(into: &plain)
        print("BENCH 256MiB decrypt: " + timer.rates(256, unit: "MiB"))
    }

    /// Wall time and this thread's CPU time since creation. Other builds share this machine's two cores, so the
    /// CPU rate (work per CPU-second of this thread) is the stable number; the wall rate shows the load.
    private struct Timer {
        let wall = ContinuousClock.now
        let cpu = Timer.threadCPU()

        static func threadCPU() -> Double {
            var time = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
            return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
        }

        /// "N/s (CPU), M/s (wall)" for `amount` units.
        func rates(_ amount: Double, unit: String) -> String {
            let elapsed = ContinuousClock.now - wall
            let wallSeconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            let cpuSeconds = Timer.threadCPU() - cpu
            return "\(Int(amount / cpuSeconds)) \(unit)/s per CPU-second, \(Int(amount / wallSeconds)) \(unit)/s wall"
        }
    }
}
