import Benchmark
import Foundation
import Pipeline
import Stages

// The building blocks of a backup, each alone and in-process (issue 13, part 2). Names end with the unit of one
// scaled iteration: "-per-file" (one 4 KiB file; scaled by 1,000, so the time columns are per file), "-per-path",
// "-per-row", "-per-message", or "-1MiB" (one 1 MiB buffer per iteration: MiB/s = 1,000,000 / wall µs). Names are
// file names too (Benchmarks/Thresholds), hence plain words and dashes. The end-to-end comparison with
// other tools is Benchmarks/compare.sh; this package is for finding which part regressed.
//
// Thresholds: the p90 of each metric of a run is stored in Benchmarks/Thresholds (see Benchmarks/README.md);
// `thresholds check` fails when a later run is worse by more than the tolerances below. Time tolerances are wide
// because this VM's timings drift by tens of percent between runs (engineering notes); allocation counts do not
// drift, so their tolerance is tight. CPU time is not among the metrics: package-benchmark reads it with the
// kernel's 10 ms tick, coarser than one iteration here; these benchmarks run on one thread (the Python one hands
// each batch to the interpreter's thread and waits), so wall time is their CPU time on a quiet machine. Nor is
// throughput: it is wall time inverted, and its recorded p90 tripped `thresholds check` in every benchmark while
// wall time, from the same run, stayed within its tolerance.
let benchmarks: @Sendable () -> Void = {
    let timeTolerance = BenchmarkThresholds(relative: [.p50: 35.0, .p90: 50.0])
    let countTolerance = BenchmarkThresholds(relative: [.p90: 5.0], absolute: [.p90: 2])
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal],
        warmupIterations: 2,
        scalingFactor: .one,
        maxDuration: .milliseconds(Int64(ProcessInfo.processInfo.environment["BENCH_MAX_MS"] ?? "") ?? 1500),
        maxIterations: 10_000,
        thresholds: [
            .wallClock: timeTolerance, .mallocCountTotal: countTolerance,
        ]
    )
    let fixtures = BenchFixtures.shared
    var perFile = Benchmark.defaultConfiguration
    perFile.scalingFactor = .kilo

    // Configuration: lexing, parsing and resolving whole files, as `check` and every job start do.
    Benchmark("config-load-example-conf") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try Configuration.load(path: fixtures.repositoryRoot + "/examples/optionhost.conf"))
        }
    }
    let bareosDefault = fixtures.repositoryRoot + "/../shared/fixtures/bareos-default-config"
    if FileManager.default.fileExists(atPath: bareosDefault) {
        Benchmark("config-load-bareos-default-tree") { benchmark in
            for _ in benchmark.scaledIterations { blackHole(try Configuration.load(path: bareosDefault)) }
        }
    }

    // FileSet matching: Bareos' per-entry decision (Options blocks with wildcards and regexes, then Exclude).
    Benchmark("fileset-match-per-path", configuration: perFile) { benchmark in
        let matcher = try FileSetMatcher()
        benchmark.startMeasurement()
        for index in benchmark.scaledIterations { blackHole(matcher.match(index)) }
    }

    // Catalog: file rows inserted in one transaction, as the catalog thread does with each batch.
    Benchmark("catalog-insert-per-row", configuration: perFile) { benchmark in
        let inserter = try CatalogInserter(path: fixtures.path("catalog-\(UUID().uuidString).db"))
        defer { inserter.close() }
        benchmark.startMeasurement()
        try inserter.insertBatch(count: benchmark.scaledIterations.count)
        benchmark.stopMeasurement()
    }

    // Native stages, per 4 KiB file, on top of the host's SHA-256 of the bytes (the "none" row).
    let stageStrings: [(label: String, string: @Sendable () throws -> String?)] = [
        ("none", { nil }),  // the host's SHA-256 of the bytes alone
        ("checksum-sha256", { "checksum:log=\(fixtures.path("sums-\(UUID())"))" }),  // reuses the host's digest
        ("checksum-sha512", { "checksum:algorithm=sha512:log=\(fixtures.path("sums-\(UUID())"))" }),
        ("owner", { "owner:exclude_user=65534" }),  // a rule that keeps every file: the decision alone
        ("index", { "index" }),  // a text file: MIME sniffing, text extraction
        ("gpg-file-key", { "gpg:recipient=\(try fixtures.gpgRecipient())" }),
        ("gpg-job-key", { "gpg:recipient=\(try fixtures.gpgRecipient()):session_key=per-job" }),
    ]
    for (label, string) in stageStrings {
        stageBenchmark("stage-\(label)-per-file", configuration: perFile, bytes: fixtures.smallFile) {
            try StageRunner(try string(), bytes: $0)
        }
    }
    for (label, compression) in [("gzip", OptionsBlock.Compression.gzip(level: 6)), ("lz4", .lz4)] {
        stageBenchmark("stage-\(label)-per-file", configuration: perFile, bytes: fixtures.smallFile) {
            try StageRunner(stage: CompressionStage(compression), bytes: $0)
        }
    }

    // The same stages on 1 MiB of random bytes: one iteration is one MiB (MiB/s = 1,000,000 / wall µs).
    let streamStrings: [(label: String, string: @Sendable () throws -> String?)] = [
        ("none", { nil }),
        ("checksum-sha512", { "checksum:algorithm=sha512:log=\(fixtures.path("sums-\(UUID())"))" }),
        ("gpg", { "gpg:recipient=\(try fixtures.gpgRecipient())" }),
    ]
    for (label, string) in streamStrings {
        stageBenchmark("stage-\(label)-1MiB", bytes: fixtures.megabyte) {
            try StageRunner(try string(), bytes: $0)
        }
    }
    for (label, compression) in [("gzip", OptionsBlock.Compression.gzip(level: 6)), ("lz4", .lz4)] {
        stageBenchmark("stage-\(label)-1MiB", bytes: fixtures.megabyte) {
            try StageRunner(stage: CompressionStage(compression), bytes: $0)
        }
    }

    // The OpenPGP writer alone, in memory (what `optionhost bench openpgp` prints, as a regression guard).
    for (label, perJob) in [("fresh-key", false), ("reused-key", true)] {
        Benchmark("openpgp-encrypt-4KiB-\(label)-per-message", configuration: perFile) { benchmark in
            let key = try GPGKeyring(homeDirectory: nil).recipient(try fixtures.gpgRecipient())
            let encryptor =
                perJob
                ? try OpenPGPEncryptor(sessionKeys: try SessionKeySet(recipients: [key]))
                : try OpenPGPEncryptor(recipients: [key])
            var output: [UInt8] = []
            output.reserveCapacity(8192)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                encryptor.reset()
                output.removeAll(keepingCapacity: true)
                try fixtures.smallFile.withUnsafeBytes { try encryptor.process($0, into: &output) }
                try encryptor.finish(into: &output)
            }
        }
    }

    // One Python hook call: a handle_backup_file that returns bRC_Core, offered in the backup's batches.
    Benchmark("python-hook-per-file", configuration: perFile) { benchmark in
        let caller = try PythonHookCaller(plugin: fixtures.trivialPlugin)
        defer { caller.end() }
        benchmark.startMeasurement()
        try caller.offer(count: benchmark.scaledIterations.count)
        benchmark.stopMeasurement()
    }
}

/// Registers a benchmark that runs one file through a stage per scaled iteration (`StageRunner.file`).
func stageBenchmark(
    _ name: String, configuration: Benchmark.Configuration = Benchmark.defaultConfiguration, bytes: [UInt8],
    runner makeRunner: @escaping @Sendable ([UInt8]) throws -> StageRunner
) {
    Benchmark(name, configuration: configuration) { benchmark in
        let runner = try makeRunner(bytes)
        defer { runner.end() }
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { try runner.file() }
        benchmark.stopMeasurement()
    }
}
