// swift-tools-version:6.1
import PackageDescription

// Floors, every arrow pointing down (see ../shared/ARCHITECTURE.md):
//   4  bisnn, bisnnd                 thin executables
//   3  BiSNNService, BiSNNTraining   (later issues)
//   2  BiSNN                         network, binary engine, ensembles, model files (later issue)
//   1  EventStream                   events, decoders/writers, spike-frame binner, simulator
let package = Package(
    name: "bisnn",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "EventStream", targets: ["EventStream"]),
        .executable(name: "bisnn", targets: ["bisnn"]),
        .executable(name: "bisnnd", targets: ["bisnnd"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "CLZ4", path: "Sources/CLZ4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"])]),
        .systemLibrary(name: "CZstd", path: "Sources/CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .target(name: "EventStream", dependencies: ["CLZ4", "CZstd", "CZlib"]),
        .executableTarget(
            name: "bisnn",
            dependencies: ["EventStream", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(name: "bisnnd", dependencies: ["EventStream"]),
        .testTarget(name: "EventStreamTests", dependencies: ["EventStream"]),
    ],
    swiftLanguageModes: [.v6]
)
