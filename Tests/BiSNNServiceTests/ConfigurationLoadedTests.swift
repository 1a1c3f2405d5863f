import BiSNN
import EventStream
import Foundation
import Testing

@testable import BiSNNService

/// `LoadedServiceConfiguration.load`: configuration plus model, as at start, `--check-config` and SIGHUP.
struct ConfigurationLoadedTests {
    typealias F = ConfigurationFixtures

    /// A directory with a model (`model.safetensors`) and `yaml` naming it (`MODEL` in `yaml` is replaced by
    /// the model's path); `body` gets the configuration's path.
    static func withConfiguration<T>(
        _ yaml: String, weightKind: WeightKind = .bernoulli, _ body: (String, URL) throws -> T
    ) throws -> T {
        let dir = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try F.model(in: dir, weightKind: weightKind)
        let file = try F.write(yaml.replacingOccurrences(of: "MODEL", with: model), in: dir)
        return try body(file, dir)
    }

    static func failure(_ body: () throws -> Void) throws -> ConfigurationError {
        let error = F.error(body)
        return try #require(error)
    }

    @Test func shippedConfigurationLoadsWithAModel() throws {
        let dir = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try F.model(in: dir)
        let loaded = try LoadedServiceConfiguration.load(
            file: F.shippedConfiguration, environment: ["BISNND_MODEL_PATH": model])
        #expect(loaded.configuration.model.path == model)
        #expect(loaded.modelPath == model)
        #expect(loaded.predictor.size == 10)
        #expect(loaded.network.input == .nmnist)
        #expect(loaded.frames.sensor == SensorGeometry(width: 34, height: 34))
        #expect(loaded.frames.crop == nil && loaded.frames.downsample == 1)
        #expect(loaded.warnings.isEmpty)
        let summary = loaded.summary
        #expect(summary.hasPrefix(F.shippedConfiguration + ": model \(model) (2x34x34 -> 3 classes"))
        #expect(summary.contains("ensemble of 10 draws (seed 1)"))
        #expect(summary.contains("input pull tcp://127.0.0.1:5555"))
        #expect(!summary.contains("\n"))
    }

    @Test func relativeModelPathIsFromTheWorkingDirectory() throws {
        try Self.withConfiguration("model:\n  path: MODEL\n") { file, dir in
            // The same file, named relative to the working directory (not changed: tests run in parallel).
            let cwd = FileManager.default.currentDirectoryPath
            let up = String(repeating: "../", count: cwd.split(separator: "/").count)
            let relative = up + dir.appendingPathComponent("model.safetensors").path.dropFirst()
            let loaded = try LoadedServiceConfiguration.load(file: file, environment: ["BISNND_MODEL_PATH": relative])
            #expect(loaded.configuration.model.path == relative)
            #expect(loaded.modelPath == dir.appendingPathComponent("model.safetensors").standardizedFileURL.path)
        }
    }

    @Test func missingModelNamesModelPath() throws {
        try Self.withConfiguration("model:\n  path: /nonexistent/model.safetensors\n") { file, _ in
            let error = try Self.failure {
                _ = try LoadedServiceConfiguration.load(file: file, environment: [:])
            }
            #expect(error.code == .invalidModel)
            #expect(error.key == "model.path")
            #expect(error.source == file)
            #expect(error.message.contains("/nonexistent/model.safetensors"))
        }
    }

    @Test func corruptModelNamesModelPathAndItsSource() throws {
        try Self.withConfiguration("model:\n  path: MODEL\n") { file, dir in
            let junk = try F.write("not a model", in: dir, name: "junk.safetensors")
            let error = try Self.failure {
                _ = try LoadedServiceConfiguration.load(file: file, environment: ["BISNND_MODEL_PATH": junk])
            }
            #expect(error.key == "model.path")
            #expect(error.source == "environment BISNND_MODEL_PATH")
        }
    }

    @Test func ensembleNeedsABernoulliModel() throws {
        try Self.withConfiguration("model:\n  path: MODEL\n", weightKind: .sign) { file, _ in
            let error = try Self.failure {
                _ = try LoadedServiceConfiguration.load(file: file, environment: [:])
            }
            #expect(error.key == "model.predictor")
            #expect(error.code == .invalidModel)
            let mode = try LoadedServiceConfiguration.load(file: file, environment: ["BISNND_MODEL_PREDICTOR": "mode"])
            #expect(mode.predictor.size == 1)
        }
    }

    @Test func windowMustOutlastTheBurnIn() throws {
        // The model burns in 30 steps of 1 ms.
        try Self.withConfiguration("model: {path: MODEL}\ndecisions: {mode: window, window_ms: 30}\n") { file, _ in
            let error = try Self.failure {
                _ = try LoadedServiceConfiguration.load(file: file, environment: [:])
            }
            #expect(error.key == "decisions.window_ms")
            #expect(error.source == file)
            _ = try LoadedServiceConfiguration.load(file: file, environment: ["BISNND_DECISIONS_WINDOW_MS": "31"])
            // In segment mode the window is not used.
            _ = try LoadedServiceConfiguration.load(file: file, environment: ["BISNND_DECISIONS_MODE": "segment"])
        }
    }

    @Test func geometryErrorsComeFromTheirSource() throws {
        try Self.withConfiguration("model: {path: MODEL}\nsensor: {width: 20}\n") { file, _ in
            let error = try Self.failure {
                _ = try LoadedServiceConfiguration.load(file: file, environment: [:])
            }
            #expect(error.description.hasPrefix("\(file): sensor.width: "))
            let fromEnvironment = try Self.failure {
                _ = try LoadedServiceConfiguration.load(file: file, environment: ["BISNND_SENSOR_DOWNSAMPLE": "2"])
            }
            #expect(fromEnvironment.key == "sensor.width")  // 20 columns, however downsampled
            let crop = try Self.failure {
                _ = try LoadedServiceConfiguration.load(
                    file: file, environment: ["BISNND_SENSOR_WIDTH": "128", "BISNND_SENSOR_CROP_WIDTH": "50"])
            }
            #expect(crop.description.hasPrefix("environment BISNND_SENSOR_CROP_WIDTH: sensor.crop_width: "))
        }
    }

    /// SIGHUP: each reload is a fresh load; a bad file or model throws and leaves the running value as it was,
    /// a good one comes back whole, and `changedKeys` says what differs.
    @Test func reloadIsAllOrNothing() throws {
        try Self.withConfiguration("model:\n  path: MODEL\n") { file, dir in
            let running = try LoadedServiceConfiguration.load(file: file, environment: [:])
            let model = running.configuration.model.path

            try F.write("model:\n  path: \(model)\ndecisions:\n  window_ms: oops\n", in: dir)
            #expect(throws: ConfigurationError.self) { try LoadedServiceConfiguration.load(file: file, environment: [:]) }

            let other = try F.model(in: dir, name: "other.safetensors", input: InputGeometry(channels: 2, height: 20, width: 20))
            try F.write("model:\n  path: \(other)\nsensor:\n  width: 34\n  height: 34\n", in: dir)
            let reloaded = try LoadedServiceConfiguration.load(file: file, environment: [:])
            #expect(reloaded.configuration.changedKeys(comparedTo: running.configuration)
                    == ["model.path", "sensor.width", "sensor.height"])
            #expect(reloaded.network.input.width == 20)
            #expect(reloaded.frames.crop == PixelRectangle(x: 7, y: 7, width: 20, height: 20))
            #expect(running.network.input.width == 34)

            try FileManager.default.removeItem(atPath: other)
            #expect(throws: ConfigurationError.self) { try LoadedServiceConfiguration.load(file: file, environment: [:]) }
        }
    }
}
