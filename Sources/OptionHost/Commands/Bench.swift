import ArgumentParser
import Pipeline

extension OptionHost {
    /// `optionhost bench ...`: in-process measurements used by `Benchmarks/` (never by timed unit tests).
    struct Bench: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Measure building blocks in-process (see Benchmarks/README.md).",
            subcommands: [Parse.self, Plugin.self, OpenPGP.self]
        )

        /// `optionhost bench parse CONFIG`: load a configuration repeatedly and report the time per load.
        struct Parse: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Time loading (lexing, parsing, resolving) a configuration.")

            @Argument(help: "A config file or directory, as for check.")
            var config: String

            @Option(help: "How many timed loads (after one warm-up).")
            var iterations = 50

            func run() throws {
                _ = try Configuration.load(path: config)
                var samples: [Double] = []
                for _ in 0..<max(1, iterations) {
                    let start = Estimate.now()
                    _ = try Configuration.load(path: config)
                    samples.append((Estimate.now() - start) * 1000)
                }
                samples.sort()
                let median = samples[samples.count / 2]
                ByteWriter.standardOutput.line(
                    "parse \(config): \(samples.count) loads, min \(format(samples[0])) ms, median \(format(median)) ms, "
                        + "max \(format(samples[samples.count - 1])) ms")
                ByteWriter.standardOutput.flush()
            }

            private func format(_ value: Double) -> String {
                let hundredths = Int((value * 100).rounded())
                return "\(hundredths / 100).\(hundredths % 100 < 10 ? "0" : "")\(hundredths % 100)"
            }
        }
    }
}
