// swift-tools-version:6.1
import PackageDescription

// Floors, every arrow pointing down (see ../shared/ARCHITECTURE.md):
//   4  bisnn, bisnnd                 thin executables
//   3  BiSNNTraining                 datasets, learning rules, calibration metrics
//      BiSNNService                  (later issue)
//   2  BiSNN                         network, binary engine, ensembles, model files
//   1  EventStream                   events, decoders/writers, spike-frame binner, simulator

// The binary engine counts bits: on x86-64 ask for POPCNT and AVX2 (x86-64-v3, every x86 server CPU since
// 2013), without which `nonzeroBitCount` is a slow software routine and SIMD is 128 bits wide.
#if arch(x86_64)
let hotPathSettings: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"])]
#else
let hotPathSettings: [SwiftSetting] = []
#endif

let package = Package(
    name: "bisnn",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "EventStream", targets: ["EventStream"]),
        .library(name: "BiSNN", targets: ["BiSNN"]),
        .library(name: "BiSNNTraining", targets: ["BiSNNTraining"]),
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
        .systemLibrary(
            name: "COpenBLAS", path: "Sources/COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .target(name: "EventStream", dependencies: ["CLZ4", "CZstd", "CZlib"]),
        .target(name: "BiSNN", dependencies: ["EventStream"], swiftSettings: hotPathSettings),
        .target(
            name: "BiSNNTraining", dependencies: ["BiSNN", "EventStream", "COpenBLAS"], swiftSettings: hotPathSettings),
        .executableTarget(
            name: "bisnn",
            dependencies: ["EventStream", "BiSNN", "BiSNNTraining", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(name: "bisnnd", dependencies: ["EventStream"]),
        .testTarget(name: "EventStreamTests", dependencies: ["EventStream"]),
        .testTarget(name: "BiSNNTests", dependencies: ["BiSNN", "EventStream"]),
        .testTarget(name: "BiSNNTrainingTests", dependencies: ["BiSNNTraining", "BiSNN", "EventStream"]),
    ],
    swiftLanguageModes: [.v6]
)
