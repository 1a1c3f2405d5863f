// swift-tools-version:6.1
import PackageDescription

// libFuzzer targets for the decoders, the wire packet parser and the model-file loader. Not part of the
// main build: run `scripts/fuzz` (which builds this package with `-sanitize=fuzzer`).
let decoderTargets = ["FuzzEVT2", "FuzzEVT3", "FuzzDAT", "FuzzAEDAT4", "FuzzAEDAT3", "FuzzNMNIST"]

let package = Package(
    name: "bisnn-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "bisnn", path: "..")],
    targets: [
        .target(name: "FuzzSupport", dependencies: [.product(name: "EventStream", package: "bisnn")]),
    ] + decoderTargets.map {
        .executableTarget(name: $0, dependencies: ["FuzzSupport", .product(name: "EventStream", package: "bisnn")])
    } + [
        .executableTarget(
            name: "FuzzPacket",
            dependencies: [
                "FuzzSupport", .product(name: "EventStream", package: "bisnn"),
                .product(name: "BiSNNService", package: "bisnn"),
            ]),
        .executableTarget(name: "FuzzModel", dependencies: ["FuzzSupport", .product(name: "BiSNN", package: "bisnn")]),
    ],
    swiftLanguageModes: [.v6]
)
