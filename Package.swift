// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "OptionPipeline",
    platforms: [.macOS(.v15)],
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
        // C libraries from Debian, each behind a module map and a small shim header.
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CLibcrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CXXHash", pkgConfig: "libxxhash", providers: [.apt(["libxxhash-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CLZ4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"])]),
        .systemLibrary(name: "CACL", pkgConfig: "libacl", providers: [.apt(["libacl1-dev"])]),
        .systemLibrary(name: "CLinux"),
        .systemLibrary(name: "CPython", pkgConfig: "python3-embed", providers: [.apt(["libpython3-dev"])]),
        .systemLibrary(name: "CMagic", pkgConfig: "libmagic", providers: [.apt(["libmagic-dev"])]),
        .systemLibrary(name: "CGPGME", pkgConfig: "gpgme", providers: [.apt(["libgpgme-dev"])]),
        // The `bareosfd` and `bareos_fd_consts` modules and the calls into plugin entry points, in C.
        .target(name: "BareosFD", dependencies: ["CPython"]),
        .target(
            name: "Pipeline",
            dependencies: [
                "CSQLite", "CPQ", "CLibcrypto", "CXXHash", "CZlib", "CLZ4", "CACL", "CLinux",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "Stages", dependencies: ["Pipeline", "BareosFD", "CLinux", "CMagic", "CLibcrypto", "CGPGME", "CZlib"]),
        .executableTarget(
            name: "OptionHost",
            dependencies: [
                "Pipeline", "Stages",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(name: "PipelineTestSupport", dependencies: ["Pipeline"], path: "Tests/PipelineTestSupport"),
        .testTarget(name: "PipelineTests", dependencies: ["Pipeline", "PipelineTestSupport"]),
        .testTarget(name: "OptionHostTests", dependencies: ["Pipeline", "PipelineTestSupport"]),
        .testTarget(name: "StagesTests", dependencies: ["Stages", "Pipeline", "PipelineTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
