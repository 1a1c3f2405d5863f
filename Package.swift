// swift-tools-version:6.1
import PackageDescription

// Floors, every arrow pointing down (see ../shared/ARCHITECTURE.md):
//   4  bisnn, bisnnd                 thin executables
//   3  BiSNNTraining                 datasets, learning rules, calibration metrics
//      BiSNNService                  wire protocol, config, per-sensor pipelines, publisher, systemd
//   2  BiSNN                         network, binary engine, ensembles, model files
//   1  EventStream                   events, decoders/writers, spike-frame binner, simulator
//      ZeroMQ                        CZeroMQ shim + a small safe wrapper (sockets on their own threads)

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
        .library(name: "ZeroMQ", targets: ["ZeroMQ"]),
        .library(name: "BiSNNService", targets: ["BiSNNService"]),
        .executable(name: "bisnn", targets: ["bisnn"]),
        .executable(name: "bisnnd", targets: ["bisnnd"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.1.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.0.0", traits: ["YAML", "Reloading"]),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
    ],
    targets: [
        .systemLibrary(name: "CLZ4", path: "Sources/CLZ4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"])]),
        .systemLibrary(name: "CZstd", path: "Sources/CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(
            name: "COpenBLAS", path: "Sources/COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        // No pkgConfig: Debian's libzmq.pc adds -isystem flags SwiftPM refuses; zmq.h is in /usr/include.
        .systemLibrary(name: "CZeroMQ", path: "Sources/CZeroMQ", providers: [.apt(["libzmq3-dev"])]),
        .target(name: "EventStream", dependencies: ["CLZ4", "CZstd", "CZlib"]),
        .target(name: "ZeroMQ", dependencies: ["CZeroMQ"]),
        .target(name: "BiSNN", dependencies: ["EventStream"], swiftSettings: hotPathSettings),
        .target(
            name: "BiSNNTraining", dependencies: ["BiSNN", "EventStream", "COpenBLAS"], swiftSettings: hotPathSettings),
        .target(
            name: "BiSNNService",
            dependencies: [
                "BiSNN", "EventStream", "ZeroMQ",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .executableTarget(
            name: "bisnn",
            dependencies: ["EventStream", "BiSNN", "BiSNNTraining", "BiSNNService", "ZeroMQ", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(name: "bisnnd", dependencies: ["BiSNNService", "BiSNN", "EventStream", .product(name: "ArgumentParser", package: "swift-argument-parser"), .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "EventStreamTests", dependencies: ["EventStream"]),
        .testTarget(name: "BiSNNTests", dependencies: ["BiSNN", "EventStream"]),
        .testTarget(name: "BiSNNTrainingTests", dependencies: ["BiSNNTraining", "BiSNN", "EventStream"]),
        .testTarget(name: "ZeroMQTests", dependencies: ["ZeroMQ"]),
        .testTarget(
            name: "BiSNNServiceTests",
            dependencies: [
                "BiSNNService", "BiSNN", "BiSNNTraining", "EventStream", "ZeroMQ",
                .product(name: "Logging", package: "swift-log"),
            ]),
    ],
    swiftLanguageModes: [.v6]
)
