import ArgumentParser
import Pipeline
import Stages

#if canImport(Glibc)
import Glibc
#endif

extension OptionHost.Bench {
    /// `optionhost bench openpgp RECIPIENT [--keyring DIR]`: the native OpenPGP writer and reader alone, in
    /// memory: 4 KiB messages with a fresh session key each and with one reused `SessionKeySet`, then one stream
    /// encrypted and decrypted. Prints CPU rates (this thread's CPU time: stable on a busy machine) and wall rates.
    struct OpenPGP: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "openpgp", abstract: "Time the native OpenPGP encryptor and decryptor in memory.")

        @Argument(help: "The recipient: fingerprint or e-mail of a key in the keyring.")
        var recipient: String

        @Option(help: "GnuPG home with the key (default: GNUPGHOME).")
        var keyring: String?

        @Option(help: "4 KiB messages with a fresh session key each.")
        var fresh = 5_000

        @Option(help: "4 KiB messages under one reused session key.")
        var reused = 50_000

        @Option(help: "MiB of the stream encrypted and then decrypted.")
        var streamMib = 256

        func run() throws {
            let key = try GPGKeyring(homeDirectory: keyring).recipient(recipient)
            let out = ByteWriter.standardOutput
            let message = [UInt8](repeating: 0x5A, count: 4096)
            var output: [UInt8] = []
            output.reserveCapacity(8192)
            func messages(_ encryptor: OpenPGPEncryptor, _ count: Int) throws -> String {
                let timer = Timer()
                for _ in 0..<count {
                    encryptor.reset()
                    output.removeAll(keepingCapacity: true)
                    try message.withUnsafeBytes { try encryptor.process($0, into: &output) }
                    try encryptor.finish(into: &output)
                }
                return timer.rates(Double(count), unit: "messages")
            }
            out.line("4 KiB messages, fresh session key each: " + (try messages(OpenPGPEncryptor(recipients: [key]), fresh)))
            let set = try SessionKeySet(recipients: [key])
            out.line("4 KiB messages, one reused session key: " + (try messages(OpenPGPEncryptor(sessionKeys: set), reused)))
            out.flush()

            // One stream in 1 MiB pieces; the ciphertext is kept to be decrypted after.
            let piece = [UInt8]((0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) })
            let encryptor = try OpenPGPEncryptor(sessionKeys: set)
            var pieces: [[UInt8]] = []
            var timer = Timer()
            for index in 0...max(1, streamMib) {
                output.removeAll(keepingCapacity: true)
                if index < max(1, streamMib) {
                    try piece.withUnsafeBytes { try encryptor.process($0, into: &output) }
                } else {
                    try encryptor.finish(into: &output)
                }
                pieces.append(output)
            }
            out.line("\(streamMib) MiB stream, encrypt: " + timer.rates(Double(streamMib), unit: "MiB"))
            let decryptor = try OpenPGPDecryptor(sessionKey: set.sessionKey)
            var plain: [UInt8] = []
            timer = Timer()
            for part in pieces {
                plain.removeAll(keepingCapacity: true)
                try part.withUnsafeBytes { try decryptor.process($0, into: &plain) }
            }
            try decryptor.finish(into: &plain)
            out.line("\(streamMib) MiB stream, decrypt: " + timer.rates(Double(streamMib), unit: "MiB"))
            out.flush()
        }

        /// Wall time and this thread's CPU time since creation.
        private struct Timer {
            let wall = Clock.monotonic()
            let cpu = Timer.threadCPU()

            static func threadCPU() -> Double {
                var time = timespec()
                clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
                return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
            }

            /// "N UNIT/s per CPU-second, M UNIT/s wall".
            func rates(_ amount: Double, unit: String) -> String {
                let wallSeconds = Clock.monotonic() - wall
                let cpuSeconds = Timer.threadCPU() - cpu
                return "\(Int(amount / cpuSeconds)) \(unit)/s per CPU-second, \(Int(amount / wallSeconds)) \(unit)/s wall"
            }
        }
    }
}
