import Foundation
import Logging

extension ServiceConfiguration {
    /// Every setting, as spelled in the YAML file (`decisions.window_ms`), in the order of the shipped file.
    public static var keys: [String] { keySpecs.map(\.name) }

    /// The prefix of the environment variables that override settings.
    public static let environmentPrefix = "BISNND_"

    /// The environment variable that overrides `key`: ``environmentPrefix``, then the key uppercased with dots
    /// as underscores (`model.path` is `BISNND_MODEL_PATH`). A list is written comma-separated.
    public static func environmentVariable(for key: String) -> String {
        environmentPrefix + key.uppercased().replacingOccurrences(of: ".", with: "_")
    }

    /// The value of `key` in this configuration, written as in YAML (`300`, `"bisnnd"`,
    /// `["tcp://127.0.0.1:5555"]`); nil for an unknown key.
    public func value(ofKey key: String) -> String? {
        Self.keySpecs.first { $0.name == key }?.render(self)
    }

    /// The keys whose values differ between `other` and this configuration, in ``keys`` order (for logging
    /// what a reload changed).
    public func changedKeys(comparedTo other: ServiceConfiguration) -> [String] {
        Self.keySpecs.filter { $0.render(self) != $0.render(other) }.map(\.name)
    }

    /// The settings: name, shape, how a value is checked and stored, how it is written back.
    static let keySpecs: [ConfigurationKeySpec] = [
        .string("service.name", \.service.name, check: checkServiceName),
        .number("service.status_interval_s", \.service.statusIntervalSeconds, 0.1...3600),
        .number("service.stop_timeout_s", \.service.stopTimeoutSeconds, 0.1...3600),

        .string("model.path", \.model.path, check: checkPath),
        .choice("model.predictor", \.model.predictor),
        .integer("model.ensemble_size", \.model.ensembleSize, 1...64),
        .unsigned("model.seed", \.model.seed),
        .number("model.abstain.min_confidence", \.model.abstain.minConfidence, 0...1),
        .number("model.abstain.max_mutual_information", \.model.abstain.maxMutualInformation, 0...1000),

        .endpoints("input.pull_bind", \.input.pullBind, forBinding: true),
        .endpoints("input.sub_connect", \.input.subConnect, forBinding: false),
        .integer("input.receive_hwm", \.input.receiveHighWaterMark, 1...Int(Int32.max)),
        .integer("input.max_message_bytes", \.input.maxMessageBytes, 1024...(1 << 30)),
        .integer("input.max_sensors", \.input.maxSensors, 1...4096),
        .integer("input.max_message_events", \.input.maxMessageEvents, 1024...(1 << 28)),
        .integer("input.queue_bytes", \.input.queueBytes, 1 << 20...(1 << 40)),

        .endpoint("output.pub_bind", \.output.pubBind, forBinding: true),
        .integer("output.send_hwm", \.output.sendHighWaterMark, 1...Int(Int32.max)),

        .choice("decisions.mode", \.decisions.mode),
        .integer("decisions.window_ms", \.decisions.windowMilliseconds, 1...Int(Int32.max)),
        .integer("decisions.interval_ms", \.decisions.intervalMilliseconds, 1...Int(Int32.max)),
        .integer("decisions.idle_reset_ms", \.decisions.idleResetMilliseconds, 1...Int(Int32.max)),

        .integer("sensor.width", \.sensor.width, 0...65536),
        .integer("sensor.height", \.sensor.height, 0...65536),
        .integer("sensor.crop_x", \.sensor.cropX, 0...65535),
        .integer("sensor.crop_y", \.sensor.cropY, 0...65535),
        .integer("sensor.crop_width", \.sensor.cropWidth, 0...65536),
        .integer("sensor.crop_height", \.sensor.cropHeight, 0...65536),
        .integer("sensor.downsample", \.sensor.downsample, 0...65536),
        .integer("sensor.queue_frames", \.sensor.queueFrames, 1...10_000_000),
        .integer("sensor.max_lag_ms", \.sensor.maxLagMilliseconds, 0...3_600_000),

        .bool("metrics.enabled", \.metrics.enabled),
        .listenAddress("metrics.listen", \.metrics.listen),

        .choice("log.level", \.log.level),
        .choice("log.format", \.log.format),

        .bool("security.curve.enabled", \.security.curve.enabled),
        .string("security.curve.secret_key_file", \.security.curve.secretKeyFile, check: checkKeyFilePath),
        .string("security.curve.allowed_clients_file", \.security.curve.allowedClientsFile, check: checkKeyFilePath),
    ]

    static func checkServiceName(_ name: String) throws(ConfigurationError) {
        let allowed = name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }
        guard (1...64).contains(name.count), allowed else {
            throw ConfigurationError(
                .invalidValue, key: nil,
                "must be 1 to 64 letters, digits, '.', '_' or '-' (it names the topic status/<name>; got \"\(name)\")")
        }
    }

    static func checkPath(_ path: String) throws(ConfigurationError) {
        guard !path.isEmpty, !path.contains("\0") else {
            throw ConfigurationError(.invalidValue, key: nil, "must be a file path (got \"\(path)\")")
        }
    }
}

/// A value as read from the file or the environment, before it is checked.
enum ConfigurationRawValue: Sendable, Hashable {
    /// A single value's text.
    case scalar(String)
    /// A list's elements.
    case list([String])
}

/// One setting: its key, whether it is a list, how a raw value is checked and stored, and how the stored value
/// is written back (as YAML).
struct ConfigurationKeySpec: Sendable {
    /// The key, as in the YAML file.
    let name: String
    /// Whether the value is a list.
    let isList: Bool
    /// Checks `value` and stores it. Errors may leave the key nil; the reader adds it and the source.
    let apply: @Sendable (inout ServiceConfiguration, ConfigurationRawValue) throws(ConfigurationError) -> Void
    /// The current value, written as in YAML.
    let render: @Sendable (ServiceConfiguration) -> String

    typealias Path<Value> = WritableKeyPath<ServiceConfiguration, Value> & Sendable

    static func invalid(_ message: String) -> ConfigurationError {
        ConfigurationError(.invalidValue, key: nil, message)
    }

    static func scalar(_ value: ConfigurationRawValue) throws(ConfigurationError) -> String {
        switch value {
        case .scalar(let text): return text
        case .list: throw invalid("must be a single value, not a list")
        }
    }

    static func quoted(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    /// An integer in `range`; "a positive integer" when the range has no practical upper bound.
    static func integer(_ name: String, _ path: Path<Int>, _ range: ClosedRange<Int>) -> ConfigurationKeySpec {
        let kind: String
        if range.upperBound >= Int(Int32.max), range.lowerBound == 1 {
            kind = "a positive integer"
        } else if range.upperBound >= Int(Int32.max), range.lowerBound == 0 {
            kind = "a non-negative integer"
        } else {
            kind = "an integer in \(range.lowerBound)...\(range.upperBound)"
        }
        return ConfigurationKeySpec(name: name, isList: false, apply: { configuration, raw throws(ConfigurationError) in
            let text = try scalar(raw)
            guard let value = Int(text.trimmingCharacters(in: .whitespaces)) else {
                throw invalid("must be \(kind) (got \(quoted(text)))")
            }
            guard value >= range.lowerBound else { throw invalid("must be \(kind) (got \(value))") }
            guard value <= range.upperBound else { throw invalid("must be at most \(range.upperBound) (got \(value))") }
            configuration[keyPath: path] = value
        }, render: { "\($0[keyPath: path])" })
    }

    /// An unsigned 64-bit integer.
    static func unsigned(_ name: String, _ path: Path<UInt64>) -> ConfigurationKeySpec {
        ConfigurationKeySpec(name: name, isList: false, apply: { configuration, raw throws(ConfigurationError) in
            let text = try scalar(raw)
            guard let value = UInt64(text.trimmingCharacters(in: .whitespaces)) else {
                throw invalid("must be an integer in 0...\(UInt64.max) (got \(quoted(text)))")
            }
            configuration[keyPath: path] = value
        }, render: { "\($0[keyPath: path])" })
    }

    /// A finite number in `range`.
    static func number(_ name: String, _ path: Path<Double>, _ range: ClosedRange<Double>) -> ConfigurationKeySpec {
        let kind = "a number in \(format(range.lowerBound))...\(format(range.upperBound))"
        return ConfigurationKeySpec(name: name, isList: false, apply: { configuration, raw throws(ConfigurationError) in
            let text = try scalar(raw)
            guard let value = Double(text.trimmingCharacters(in: .whitespaces)), value.isFinite else {
                throw invalid("must be \(kind) (got \(quoted(text)))")
            }
            guard range.contains(value) else { throw invalid("must be \(kind) (got \(format(value)))") }
            configuration[keyPath: path] = value
        }, render: { format($0[keyPath: path]) })
    }

    /// A number without a trailing `.0`.
    static func format(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return "\(Int64(value))" }
        return "\(value)"
    }

    /// A string that passes `check`.
    static func string(
        _ name: String, _ path: Path<String>, check: @escaping @Sendable (String) throws(ConfigurationError) -> Void
    ) -> ConfigurationKeySpec {
        ConfigurationKeySpec(name: name, isList: false, apply: { configuration, raw throws(ConfigurationError) in
            let text = try scalar(raw)
            try check(text)
            configuration[keyPath: path] = text
        }, render: { quoted($0[keyPath: path]) })
    }

    /// One of the cases of `Value`, by raw value.
    static func choice<Value: RawRepresentable & CaseIterable & Sendable>(
        _ name: String, _ path: Path<Value>
    ) -> ConfigurationKeySpec where Value.RawValue == String {
        let names = Value.allCases.map(\.rawValue).joined(separator: ", ")
        return ConfigurationKeySpec(name: name, isList: false, apply: { configuration, raw throws(ConfigurationError) in
            let text = try scalar(raw)
            guard let value = Value(rawValue: text.trimmingCharacters(in: .whitespaces)) else {
                throw invalid("must be one of \(names) (got \(quoted(text)))")
            }
            configuration[keyPath: path] = value
        }, render: { $0[keyPath: path].rawValue })
    }

    /// true or false (also yes/no, on/off, 1/0).
    static func bool(_ name: String, _ path: Path<Bool>) -> ConfigurationKeySpec {
        ConfigurationKeySpec(name: name, isList: false, apply: { configuration, raw throws(ConfigurationError) in
            let text = try scalar(raw)
            switch text.trimmingCharacters(in: .whitespaces).lowercased() {
            case "true", "yes", "on", "1": configuration[keyPath: path] = true
            case "false", "no", "off", "0": configuration[keyPath: path] = false
            default: throw invalid("must be true or false (got \(quoted(text)))")
            }
        }, render: { $0[keyPath: path] ? "true" : "false" })
    }

    /// One endpoint.
    static func endpoint(
        _ name: String, _ path: Path<ServiceConfiguration.Endpoint>, forBinding: Bool
    ) -> ConfigurationKeySpec {
        ConfigurationKeySpec(name: name, isList: false, apply: { configuration, raw throws(ConfigurationError) in
            let text = try scalar(raw)
            configuration[keyPath: path] = try ServiceConfiguration.Endpoint(parsing: text, forBinding: forBinding)
        }, render: { quoted($0[keyPath: path].description) })
    }

    /// A list of endpoints, without repeats.
    static func endpoints(
        _ name: String, _ path: Path<[ServiceConfiguration.Endpoint]>, forBinding: Bool
    ) -> ConfigurationKeySpec {
        ConfigurationKeySpec(name: name, isList: true, apply: { configuration, raw throws(ConfigurationError) in
            guard case .list(let texts) = raw else {
                throw invalid("must be a list of endpoints, as [\"tcp://127.0.0.1:5555\"] ([] for none)")
            }
            var endpoints: [ServiceConfiguration.Endpoint] = []
            for (index, text) in texts.enumerated() {
                let endpoint: ServiceConfiguration.Endpoint
                do throws(ConfigurationError) {
                    endpoint = try ServiceConfiguration.Endpoint(parsing: text, forBinding: forBinding)
                } catch {
                    throw invalid("element \(index + 1): \(error.message)")
                }
                guard !endpoints.contains(endpoint) else { throw invalid("\(endpoint) appears twice") }
                endpoints.append(endpoint)
            }
            configuration[keyPath: path] = endpoints
        }, render: { "[" + $0[keyPath: path].map { quoted($0.description) }.joined(separator: ", ") + "]" })
    }

    /// A `host:port` to listen on.
    static func listenAddress(
        _ name: String, _ path: Path<ServiceConfiguration.ListenAddress>
    ) -> ConfigurationKeySpec {
        ConfigurationKeySpec(name: name, isList: false, apply: { configuration, raw throws(ConfigurationError) in
            let text = try scalar(raw)
            configuration[keyPath: path] = try ServiceConfiguration.ListenAddress(parsing: text)
        }, render: { quoted($0[keyPath: path].description) })
    }
}
