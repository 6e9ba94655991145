import ArgumentParser
import Pipeline

#if canImport(Glibc)
import Glibc
#endif

extension OptionHost {
    /// `optionhost demo`: the main job on the embedded default configuration, over `examples/data`.
    struct Demo: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the demo job on the embedded default configuration (the examples/data tree).",
            discussion: """
                Checks the embedded configuration and estimates its job with a full listing. Run it from the
                repository root, or name the examples directory with --examples.
                """
        )

        @Option(help: "The examples directory (default: ./examples).")
        var examples = "examples"

        /// The embedded default configuration; `@EXAMPLES@` becomes the absolute examples path.
        static let embedded = """
            # Embedded default configuration of `optionhost demo`.
            FileSet {
              Name = "Demo"
              Include {
                Exclude Dir Containing = .nobackup
                Options { WildFile = "*.o"; Exclude = yes }
                Options { Signature = SHA256; Wild = "*/documents/*" }
                Options { Signature = SHA256 }
                File = "@EXAMPLES@/data"
              }
              Exclude { File = "*.swp" }
            }
            Job {
              Name = "demo"
              Type = Backup
              Level = Full
              FileSet = "Demo"
            }
            """

        func run() throws {
            guard let resolved = realpath(examples, nil) else {
                ByteWriter.standardError.line(
                    "optionhost: examples directory \"\(examples)\" not found; run from the repository root or pass --examples DIR")
                ByteWriter.standardError.flush()
                throw ExitStatus.usage
            }
            let path = String(cString: resolved)
            free(resolved)
            let text = Demo.embedded.replacing("@EXAMPLES@", with: path)
            let configuration: Configuration
            do {
                configuration = try Configuration.parse(text: text, fileName: "<embedded demo config>")
            } catch {
                ByteWriter.standardError.line(error.description)
                ByteWriter.standardError.flush()
                throw ExitStatus.usage
            }
            let out = ByteWriter.standardOutput
            out.line("== optionhost demo: embedded configuration over \(path)/data")
            out.line("")
            out.line(text)
            out.line("")
            out.line("== estimate --job demo --listing")
            out.flush()
            try Estimate.estimate(configuration: configuration, jobName: "demo", listing: true, json: false)
        }
    }
}
