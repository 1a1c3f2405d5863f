import BiSNN
import EventStream
import Foundation
import Testing

@testable import BiSNNService

/// Temporary directories, configuration files and tiny model files for the configuration, systemd and
/// command tests.
enum ConfigurationFixtures {
    /// The package's root directory.
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// The shipped configuration file.
    static var shippedConfiguration: String { repositoryRoot.appendingPathComponent("config/bisnnd.yaml").path }

    /// A new empty directory; remove it when done.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("bisnnd-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Writes `text` to `name` in `directory`, returning the path.
    @discardableResult
    static func write(_ text: String, in directory: URL, name: String = "bisnnd.yaml") throws -> String {
        let path = directory.appendingPathComponent(name).path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// A tiny random model (one hidden layer of 8, 3 classes) written to `name` in `directory`.
    @discardableResult
    static func model(
        in directory: URL, name: String = "model.safetensors", input: InputGeometry = .nmnist,
        weightKind: WeightKind = .bernoulli, binWidthMicroseconds: Int = 1_000, burnInSteps: Int = 30
    ) throws -> String {
        let network = NetworkDescription.mlp(
            input: input, hiddenSizes: [8], classNames: ["left", "right", "up"],
            binWidthMicroseconds: binWidthMicroseconds, burnInSteps: burnInSteps, weightKind: weightKind)
        let path = directory.appendingPathComponent(name).path
        try NetworkModel.random(network: network, seed: 7).write(to: path)
        return path
    }

    /// The ConfigurationError `body` throws; records an issue and returns nil when it throws none or another
    /// error. (Typed-throws closures here crash swift-frontend 6.3.1's IRGen, hence the untyped `body`.)
    static func error(
        _ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation
    ) -> ConfigurationError? {
        do {
            try body()
        } catch let error as ConfigurationError {
            return error
        } catch {
            Issue.record("expected a ConfigurationError, got \(error)", sourceLocation: sourceLocation)
            return nil
        }
        Issue.record("expected a ConfigurationError", sourceLocation: sourceLocation)
        return nil
    }
}

struct ConfigurationTests {
    typealias F = ConfigurationFixtures

    /// Loads `yaml` written to a temporary file.
    static func load(_ yaml: String, environment: [String: String] = [:]) throws -> ServiceConfiguration {
        let dir = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        return try ServiceConfiguration.load(file: try F.write(yaml, in: dir), environment: environment)
    }

    /// The error loading `yaml` gives, with the file's path.
    static func failure(
        _ yaml: String, environment: [String: String] = [:], sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> (error: ConfigurationError, file: String)? {
        let dir = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = try F.write(yaml, in: dir)
        guard let error = F.error({
            _ = try ServiceConfiguration.load(file: file, environment: environment)
        }, sourceLocation: sourceLocation) else { return nil }
        return (error, file)
    }

    // MARK: - The shipped file

    @Test func shippedFileHoldsTheDefaults() throws {
        let loaded = try ServiceConfiguration.load(file: F.shippedConfiguration, environment: [:])
        #expect(loaded == ServiceConfiguration())
        #expect(loaded.warnings.isEmpty)
    }

    @Test func shippedFileDocumentsEveryKey() throws {
        let text = try String(contentsOfFile: F.shippedConfiguration, encoding: .utf8)
        let entries = try ConfigurationFileKeys(parsing: text, file: F.shippedConfiguration).entries
        #expect(entries.map(\.key) == ServiceConfiguration.keys)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        for entry in entries {
            var comment: [Substring] = []
            var index = entry.line - 2
            while index >= 0, lines[index].trimmingCharacters(in: .whitespaces).hasPrefix("#") {
                comment.insert(lines[index], at: 0)
                index -= 1
            }
            #expect(!comment.isEmpty, "\(entry.key) (line \(entry.line)) has no comment above it")
            #expect(comment.joined().contains("Default"), "\(entry.key)'s comment does not give its default")
        }
    }

    @Test func emptyFileIsTheDefaults() throws {
        #expect(try Self.load("") == ServiceConfiguration())
        #expect(try Self.load("# nothing set\n") == ServiceConfiguration())
        #expect(try Self.load("model:\nlog:\n") == ServiceConfiguration())  // sections with everything commented out
    }

    // MARK: - Bad values, one per key

    /// A bad value for every key: as YAML, and as an environment variable's text.
    static let badValues: [(key: String, yaml: String, environment: String)] = [
        ("service.name", "has space", "has space"),
        ("service.status_interval_s", "0", "0"),
        ("service.stop_timeout_s", "-1", "-1"),
        ("model.path", "\"\"", ""),
        ("model.predictor", "bogus", "bogus"),
        ("model.ensemble_size", "65", "65"),
        ("model.seed", "-1", "-1"),
        ("model.abstain.min_confidence", "1.5", "1.5"),
        ("model.abstain.max_mutual_information", "-0.1", "nan"),
        ("input.pull_bind", "[\"udp://127.0.0.1:5555\"]", "udp://127.0.0.1:5555"),
        ("input.sub_connect", "[\"tcp://*:5557\"]", "tcp://*:5557"),
        ("input.receive_hwm", "0", "0"),
        ("input.max_message_bytes", "10", "10"),
        ("input.max_sensors", "0", "0"),
        ("input.max_message_events", "10", "10"),
        ("input.queue_bytes", "1000", "1000"),
        ("output.pub_bind", "tcp://127.0.0.1:70000", "tcp://127.0.0.1:70000"),
        ("output.send_hwm", "abc", "abc"),
        ("decisions.mode", "sometimes", "sometimes"),
        ("decisions.window_ms", "-5", "-5"),
        ("decisions.interval_ms", "0", "0"),
        ("decisions.idle_reset_ms", "1.5", "1.5"),
        ("sensor.width", "-1", "-1"),
        ("sensor.height", "70000", "70000"),
        ("sensor.crop_x", "-1", "-1"),
        ("sensor.crop_y", "x", "x"),
        ("sensor.crop_width", "-3", "-3"),
        ("sensor.crop_height", "1e3", "1e3"),
        ("sensor.downsample", "-2", "-2"),
        ("sensor.queue_frames", "0", "0"),
        ("sensor.max_lag_ms", "-1", "-1"),
        ("metrics.enabled", "maybe", "maybe"),
        ("metrics.listen", "\"*:9464\"", "*:9464"),
        ("log.level", "loud", "loud"),
        ("log.format", "json", "json"),
        ("security.curve.enabled", "maybe", "maybe"),
        ("security.curve.secret_key_file", "keys/server.key", "keys/server.key"),
        ("security.curve.allowed_clients_file", "clients.txt", "clients.txt"),
    ]

    @Test func everyKeyHasABadValueCase() {
        #expect(Self.badValues.map(\.key) == ServiceConfiguration.keys)
    }

    /// YAML setting `key` (dotted) to `value`.
    static func yaml(_ key: String, _ value: String) -> String {
        let parts = key.split(separator: ".")
        var text = ""
        for (depth, part) in parts.enumerated() {
            text += String(repeating: "  ", count: depth) + part + ":"
            text += depth == parts.count - 1 ? " \(value)\n" : "\n"
        }
        return text
    }

    @Test(arguments: badValues.map { [$0.key, $0.yaml, $0.environment] })
    func badValueNamesItsKey(_ bad: [String]) throws {
        let (key, yamlValue, environmentValue) = (bad[0], bad[1], bad[2])
        let fromFile = try #require(try Self.failure(Self.yaml(key, yamlValue)))
        #expect(fromFile.error.code == .invalidValue)
        #expect(fromFile.error.key == key)
        #expect(fromFile.error.source == fromFile.file)
        #expect(fromFile.error.description.hasPrefix("\(fromFile.file): \(key): "))

        let variable = ServiceConfiguration.environmentVariable(for: key)
        let fromEnvironment = try #require(try Self.failure("", environment: [variable: environmentValue]))
        #expect(fromEnvironment.error.code == .invalidValue)
        #expect(fromEnvironment.error.key == key)
        #expect(fromEnvironment.error.description.hasPrefix("environment \(variable): \(key): "))
    }

    @Test func errorReadsLikeTheIssueSays() throws {
        let (error, file) = try #require(try Self.failure("decisions:\n  window_ms: -5\n"))
        #expect(error.description == "\(file): decisions.window_ms: must be a positive integer (got -5)")
        #expect(ConfigurationError.exitCode == 78)
    }

    @Test func wrongShapeIsAnError() throws {
        let list = try #require(try Self.failure("decisions:\n  window_ms: [1, 2]\n")).error
        #expect(list.key == "decisions.window_ms")
        #expect(list.message.contains("not a list"))
        let scalar = try #require(try Self.failure("input:\n  pull_bind: tcp://127.0.0.1:5555\n")).error
        #expect(scalar.key == "input.pull_bind")
        #expect(scalar.message.contains("must be a list"))
    }

    // MARK: - Unknown keys

    @Test func unknownKeyIsAnErrorNamingIt() throws {
        let error = try #require(try Self.failure("decisions:\n  mode: window\n  windw_ms: 200\n")).error
        #expect(error.code == .unknownKey)
        #expect(error.key == "decisions.windw_ms")
        #expect(error.message.contains("line 3"))
        #expect(error.message.contains("did you mean decisions.window_ms?"))
        let section = try #require(try Self.failure("modle:\n  path: x\n")).error
        #expect(section.key == "modle.path")
        let top = try #require(try Self.failure("verbose: true\n")).error
        #expect(top.key == "verbose")
    }

    @Test func sectionGivenAValueIsAnError() throws {
        let error = try #require(try Self.failure("model: m.safetensors\n")).error
        #expect(error.code == .unknownKey)
        #expect(error.key == "model")
        #expect(error.message.contains("section"))
    }

    @Test func settingGivenAMappingIsAnError() throws {
        let error = try #require(try Self.failure("log:\n  level:\n    min: info\n")).error
        #expect(error.code == .unknownKey)
        #expect(error.key == "log.level.min")
    }

    @Test func unknownEnvironmentVariableIsAnError() throws {
        let error = try #require(try Self.failure("", environment: ["BISNND_MODEL_PAHT": "x"])).error
        #expect(error.code == .unknownKey)
        #expect(error.source == "environment BISNND_MODEL_PAHT")
        #expect(error.message.contains("did you mean BISNND_MODEL_PATH?"))
        // Variables without the prefix are none of bisnnd's business.
        #expect(try Self.load("", environment: ["HOME": "/root", "BISNN_X": "1"]) == ServiceConfiguration())
    }

    // MARK: - Environment overrides

    @Test func environmentWinsOverFile() throws {
        let yaml = "decisions:\n  window_ms: 200\nmodel:\n  path: from-file.safetensors\n"
        let loaded = try Self.load(yaml, environment: [
            "BISNND_DECISIONS_WINDOW_MS": "400", "BISNND_MODEL_ABSTAIN_MIN_CONFIDENCE": "0.25",
            "BISNND_LOG_LEVEL": "debug",
        ])
        #expect(loaded.decisions.windowMilliseconds == 400)
        #expect(loaded.model.path == "from-file.safetensors")
        #expect(loaded.model.abstain.minConfidence == 0.25)
        #expect(loaded.log.level == .debug)
        #expect(try Self.load(yaml).decisions.windowMilliseconds == 200)
    }

    @Test func environmentListsAreCommaSeparated() throws {
        let loaded = try Self.load("", environment: [
            "BISNND_INPUT_PULL_BIND": "tcp://127.0.0.1:6000, ipc:///run/bisnnd/in.sock",
            "BISNND_INPUT_SUB_CONNECT": "",
        ])
        #expect(loaded.input.pullBind.map(\.description) == ["tcp://127.0.0.1:6000", "ipc:///run/bisnnd/in.sock"])
        #expect(loaded.input.subConnect.isEmpty)
    }

    @Test func environmentVariableNames() {
        #expect(ServiceConfiguration.environmentVariable(for: "model.path") == "BISNND_MODEL_PATH")
        #expect(ServiceConfiguration.environmentVariable(for: "input.pull_bind") == "BISNND_INPUT_PULL_BIND")
        #expect(ServiceConfiguration.environmentVariable(for: "model.abstain.min_confidence")
                == "BISNND_MODEL_ABSTAIN_MIN_CONFIDENCE")
    }

    // MARK: - The file itself

    @Test func missingFileIsUnreadable() throws {
        let errorResult = F.error {
            _ = try ServiceConfiguration.load(file: "/nonexistent/bisnnd.yaml", environment: [:])
        }
        let error = try #require(errorResult)
        #expect(error.code == .unreadableFile)
        #expect(error.description.hasPrefix("/nonexistent/bisnnd.yaml: cannot open"))
    }

    @Test func malformedFilesAreRefused() throws {
        for yaml in ["service: [1\n", "- a\n- b\n", "just text\n", "service:\n  name: a\n  name: b\n"] {
            let error = try #require(try Self.failure(yaml)).error
            #expect(error.code == .malformedFile, "\(yaml)")
        }
        let dir = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("latin1.yaml").path
        try Data([0x6C, 0x6F, 0x67, 0x3A, 0x20, 0xE9, 0x0A]).write(to: URL(fileURLWithPath: file))
        let errorResult = F.error {
            _ = try ServiceConfiguration.load(file: file, environment: [:])
        }
        let error = try #require(errorResult)
        #expect(error.code == .malformedFile)
        #expect(error.message.contains("UTF-8"))
    }

    @Test func valuesAreRead() throws {
        let yaml = """
            service: {name: dock-1, status_interval_s: 2.5}
            model:
              predictor: mode
              seed: 18446744073709551615
              abstain: {max_mutual_information: 0.3}
            input:
              pull_bind: []
              sub_connect: ["tcp://[::1]:7000", "tcp://sensor-3.lan:7001"]
            output: {pub_bind: "ipc:///run/bisnnd/out.sock"}
            decisions: {mode: window, window_ms: 250, interval_ms: 50}
            sensor: {width: 346, height: 260, downsample: 4}
            metrics: {enabled: yes, listen: "[::1]:9500"}
            log: {level: warning, format: journald}
            """
        let c = try Self.load(yaml)
        #expect(c.service.name == "dock-1")
        #expect(c.service.statusInterval == .milliseconds(2500))
        #expect(c.model.predictorKind == .mode)
        #expect(c.model.seed == UInt64.max)
        #expect(c.model.abstentionRule == AbstentionRule(minimumConfidence: 0, maximumMutualInformation: 0.3))
        #expect(c.input.pullBind.isEmpty)
        #expect(c.input.subConnect.map(\.description) == ["tcp://[::1]:7000", "tcp://sensor-3.lan:7001"])
        #expect(c.output.pubBind.description == "ipc:///run/bisnnd/out.sock")
        #expect(c.decisions.mode == .window)
        #expect(c.decisions.window == .milliseconds(250))
        #expect(c.sensor.width == 346 && c.sensor.height == 260 && c.sensor.downsample == 4)
        #expect(c.metrics.enabled && c.metrics.listen == .init(host: "::1", port: 9500))
        #expect(c.log.level == .warning && c.log.format == .journald)
        #expect(c.warnings.map(\.key) == ["input.sub_connect"])  // sensor-3.lan is another machine
        #expect(ServiceConfiguration().model.abstentionRule == .never)
    }

    // MARK: - Whole-configuration checks

    @Test func anInputIsRequired() throws {
        let error = try #require(try Self.failure("input:\n  pull_bind: []\n")).error
        #expect(error.key == "input.pull_bind")
        #expect(error.message.contains("no input"))
    }

    @Test func boundAddressesMayNotOverlap() throws {
        let wildcard = try #require(try Self.failure("input:\n  pull_bind: [\"tcp://*:5556\"]\n")).error
        #expect(wildcard.key == "output.pub_bind")
        let twice = try #require(try Self.failure(
            "input:\n  pull_bind: [\"tcp://127.0.0.1:5555\", \"tcp://127.0.0.1:5555\"]\n")).error
        #expect(twice.key == "input.pull_bind")
        #expect(twice.message.contains("twice"))
        let metrics = try #require(try Self.failure(
            "metrics:\n  enabled: true\n  listen: 0.0.0.0:5555\n")).error
        #expect(metrics.key == "metrics.listen")
        // Disabled metrics bind nothing.
        _ = try Self.load("metrics:\n  listen: 127.0.0.1:5555\n")
    }

    @Test func cropOffsetNeedsACropSize() throws {
        let error = try #require(try Self.failure("sensor:\n  crop_x: 10\n")).error
        #expect(error.key == "sensor.crop_x")
        let outside = try #require(try Self.failure(
            "sensor:\n  width: 128\n  height: 128\n  crop_y: 100\n  crop_height: 64\n")).error
        #expect(outside.key == "sensor.crop_y")
    }

    @Test func exposedAddressesAreWarnedAbout() throws {
        let c = try Self.load("""
            input: {pull_bind: ["tcp://0.0.0.0:5555", "tcp://localhost:5557"], sub_connect: ["tcp://192.0.2.7:7000"]}
            output: {pub_bind: "tcp://*:5556"}
            metrics: {enabled: true, listen: "0.0.0.0:9464"}
            """)
        #expect(c.warnings.map(\.key) == ["input.pull_bind", "input.sub_connect", "output.pub_bind", "metrics.listen"])
        #expect(c.warnings[0].message.contains("tcp://0.0.0.0:5555"))
        #expect(try Self.load("metrics:\n  listen: 0.0.0.0:9464\n").warnings.isEmpty)  // not enabled
    }

    @Test func changedKeysListWhatAReloadChanges() throws {
        let before = ServiceConfiguration()
        var after = before
        after.decisions.windowMilliseconds = 500
        after.input.subConnect = [try .init(parsing: "tcp://127.0.0.1:7000", forBinding: false)]
        #expect(after.changedKeys(comparedTo: before) == ["input.sub_connect", "decisions.window_ms"])
        #expect(before.changedKeys(comparedTo: before).isEmpty)
        #expect(after.value(ofKey: "input.sub_connect") == "[\"tcp://127.0.0.1:7000\"]")
        #expect(after.value(ofKey: "nope") == nil)
    }

    // MARK: - Endpoints

    @Test func endpointsParse() throws {
        let valid: [(String, Bool, String, Bool)] = [  // text, binding, description, local
            ("tcp://127.0.0.1:5555", true, "tcp://127.0.0.1:5555", true),
            ("tcp://*:5555", true, "tcp://*:5555", false),
            ("tcp://[::1]:5555", false, "tcp://[::1]:5555", true),
            ("tcp://[fe80::1]:5555", false, "tcp://[fe80::1]:5555", false),
            ("tcp://localhost:5555", false, "tcp://localhost:5555", true),
            ("tcp://eth0:5555", true, "tcp://eth0:5555", false),
            ("ipc:///run/bisnnd/in.sock", true, "ipc:///run/bisnnd/in.sock", true),
            ("ipc://@bisnnd-in", true, "ipc://@bisnnd-in", true),
            ("inproc://events", true, "inproc://events", true),
        ]
        for (text, binding, description, local) in valid {
            let endpoint = try ServiceConfiguration.Endpoint(parsing: text, forBinding: binding)
            #expect(endpoint.description == description)
            #expect(endpoint.isLocal == local, "\(text)")
        }
        let invalid: [(String, Bool)] = [
            ("127.0.0.1:5555", true), ("udp://127.0.0.1:5555", true), ("tcp://127.0.0.1", true),
            ("tcp://127.0.0.1:0", true), ("tcp://127.0.0.1:65536", true), ("tcp://::1:5555", true),
            ("tcp://300.1.1.1:5555", true), ("tcp://*:5555", false), ("tcp://a b:5555", true),
            ("tcp://10.0.0.1;127.0.0.1:5555", false), ("tcp://127.0.0.1:*", true), ("ipc://", true),
            ("ipc://" + String(repeating: "x", count: 200), true), ("inproc://", true),
        ]
        for (text, binding) in invalid {
            #expect(throws: ConfigurationError.self, "\(text)") {
                try ServiceConfiguration.Endpoint(parsing: text, forBinding: binding)
            }
        }
        #expect(try ServiceConfiguration.ListenAddress(parsing: "[::1]:9464").description == "[::1]:9464")
        #expect(try ServiceConfiguration.ListenAddress(parsing: "[::1]:9464").isLoopback)
        #expect(!(try ServiceConfiguration.ListenAddress(parsing: "0.0.0.0:9464").isLoopback))
    }
}
