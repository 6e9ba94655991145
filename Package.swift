// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "OptionPipeline",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "Pipeline", targets: ["Pipeline"]),
        .library(name: "Stages", targets: ["Stages"]),
        .executable(name: "optionhost", targets: ["OptionHost"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .target(
            name: "Pipeline",
            dependencies: [.product(name: "Logging", package: "swift-log")]
        ),
        .target(name: "Stages", dependencies: ["Pipeline"]),
        .executableTarget(
            name: "OptionHost",
            dependencies: [
                "Pipeline", "Stages",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "PipelineTests", dependencies: ["Pipeline"]),
        .testTarget(name: "OptionHostTests", dependencies: ["Pipeline"]),
    ],
    swiftLanguageModes: [.v6]
)
