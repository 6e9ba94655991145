// swift-tools-version:6.1
// Micro-benchmarks of the building blocks (issue 13, part 2), a package of their own so that the product does not
// depend on package-benchmark. Run from the repository root (see Benchmarks/README.md):
//   swift package --package-path Benchmarks --scratch-path Benchmarks/.build benchmark
import PackageDescription

let package = Package(
    name: "OptionPipelineBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        // Named, because the identity of a path dependency is its folder name (the checkout's, which varies).
        .package(name: "OptionPipeline", path: ".."),
        // The malloc interposer gives the allocation counts; 1.38.1 needs tools 6.1 for traits.
        .package(url: "https://github.com/ordo-one/benchmark", exact: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "PipelineBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "Pipeline", package: "OptionPipeline"),
                .product(name: "Stages", package: "OptionPipeline"),
            ],
            path: "Benchmarks/PipelineBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    ],
    swiftLanguageModes: [.v6]
)
