import Configuration
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension ServiceConfiguration {
    /// The largest configuration file read: 1 MiB.
    public static let maxFileBytes = 1 << 20

    /// Reads the YAML configuration file at `file`, applies the environment's `BISNND_*` overrides (they win
    /// over the file), checks every value and then the whole (``validate()``).
    ///
    /// Keys the file leaves out keep their defaults; an empty file is the default configuration. Unknown keys
    /// in the file and unknown `BISNND_*` variables are errors naming them, as is a key set twice. The model
    /// is not loaded here: ``LoadedServiceConfiguration/load(file:environment:)`` does that.
    public static func load(
        file: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigurationError) -> ServiceConfiguration {
        try parse(file: file, environment: environment).configuration
    }

    /// ``load(file:environment:)``, also returning where each value came from.
    static func parse(
        file: String, environment: [String: String]
    ) throws(ConfigurationError) -> (configuration: ServiceConfiguration, provenance: ConfigurationProvenance) {
        let bytes = try readFile(file)
        return try parse(yaml: bytes, file: file, environment: environment)
    }

    /// Reads a configuration from the bytes of a YAML file; `file` names it in errors.
    static func parse(
        yaml bytes: [UInt8], file: String, environment: [String: String]
    ) throws(ConfigurationError) -> (configuration: ServiceConfiguration, provenance: ConfigurationProvenance) {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ConfigurationError(.malformedFile, key: nil, "is not UTF-8 text", source: file)
        }
        let fileKeys = try ConfigurationFileKeys(parsing: text, file: file)
        let overrides = environment.filter { $0.key.hasPrefix(environmentPrefix) }
        let provenance = ConfigurationProvenance(
            file: file, environmentKeys: Set(keySpecs.map(\.name).filter {
                overrides[environmentVariable(for: $0)] != nil
            }))
        try checkKeys(fileKeys, overrides: overrides, file: file)

        var providers: [any ConfigProvider] = [
            EnvironmentVariablesProvider(environmentVariables: overrides).prefixKeys(with: "bisnnd")
        ]
        if !fileKeys.entries.isEmpty {
            do {
                let snapshot = try YAMLSnapshot(
                    data: bytes.span.bytes, providerName: file, parsingOptions: .default)
                providers.append(ConfigurationSnapshotProvider(fixed: snapshot))
            } catch {
                throw ConfigurationError(.malformedFile, key: nil, "\(error)", source: file)
            }
        }
        let reader = ConfigReader(providers: providers)
        let setInFile = Set(fileKeys.entries.map(\.key))

        var configuration = ServiceConfiguration()
        for spec in keySpecs {
            let fromEnvironment = provenance.environmentKeys.contains(spec.name)
            guard fromEnvironment || setInFile.contains(spec.name) else { continue }
            let key = ConfigKey(spec.name)
            let raw: ConfigurationRawValue
            if spec.isList {
                if let list = reader.stringArray(forKey: key) {
                    // An empty variable is an empty list, not a list of one empty string.
                    raw = .list(fromEnvironment && list == [""] ? [] : list)
                } else {
                    raw = .scalar(reader.string(forKey: key) ?? "")
                }
            } else {
                raw = reader.string(forKey: key).map(ConfigurationRawValue.scalar) ?? .list([])
            }
            do {
                try spec.apply(&configuration, raw)
            } catch {
                var error = error
                error.key = error.key ?? spec.name
                error.source = provenance.source(of: spec.name)
                throw error
            }
        }
        do {
            try configuration.validate()
        } catch {
            var error = error
            error.source = provenance.source(of: error.key)
            throw error
        }
        return (configuration, provenance)
    }

    /// Refuses keys in the file and `BISNND_*` variables that are no setting, naming the closest setting.
    static func checkKeys(
        _ fileKeys: ConfigurationFileKeys, overrides: [String: String], file: String
    ) throws(ConfigurationError) {
        let known = Set(keys)
        var sections: [String: String] = [:]  // section -> its first key
        for key in keys {
            var parts = key.split(separator: ".").map(String.init)
            while parts.count > 1 {
                parts.removeLast()
                let section = parts.joined(separator: ".")
                if sections[section] == nil { sections[section] = key }
            }
        }
        for entry in fileKeys.entries where !known.contains(entry.key) {
            if let first = sections[entry.key] {
                if entry.isNull { continue }  // a section with every setting commented out
                throw ConfigurationError(
                    .unknownKey, key: entry.key,
                    "line \(entry.line): is a section, not a setting; its settings go under it (as \(first))",
                    source: file)
            }
            throw ConfigurationError(
                .unknownKey, key: entry.key,
                "line \(entry.line): unknown key\(suggestion(for: entry.key, among: keys))", source: file)
        }
        let variables = Dictionary(keys.map { (environmentVariable(for: $0), $0) }, uniquingKeysWith: { a, _ in a })
        for name in overrides.keys.sorted() where variables[name] == nil {
            let closest = suggestion(for: name, among: Array(variables.keys))
            throw ConfigurationError(
                .unknownKey, key: nil, "not a bisnnd setting\(closest)", source: "environment \(name)")
        }
    }

    /// ` (did you mean x?)` for the candidate within edit distance 3 of `key`, or nothing.
    static func suggestion(for key: String, among candidates: [String]) -> String {
        let scored = candidates.map { ($0, editDistance(key, $0)) }.filter { $0.1 <= 3 }
        guard let best = scored.min(by: { $0.1 < $1.1 }) else { return "" }
        return " (did you mean \(best.0)?)"
    }

    /// Levenshtein distance between two strings, by characters.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var previous = Array(0...b.count)
        for i in a.indices {
            var current = [i + 1]
            for j in b.indices {
                current.append(min(previous[j + 1] + 1, current[j] + 1, previous[j] + (a[i] == b[j] ? 0 : 1)))
            }
            previous = current
        }
        return previous[b.count]
    }

    /// The bytes of a configuration file: a regular file of at most ``maxFileBytes``.
    static func readFile(_ path: String) throws(ConfigurationError) -> [UInt8] {
        func unreadable(_ why: String) -> ConfigurationError {
            ConfigurationError(.unreadableFile, key: nil, why, source: path)
        }
        func errnoText() -> String { String(cString: strerror(errno)) }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw unreadable("cannot open: \(errnoText())") }
        defer { _ = close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw unreadable("cannot stat: \(errnoText())") }
        guard (status.st_mode & S_IFMT) == S_IFREG else { throw unreadable("not a regular file") }
        guard status.st_size <= maxFileBytes else {
            throw unreadable("\(status.st_size) bytes; configuration files up to \(maxFileBytes) bytes are read")
        }
        var bytes = [UInt8](repeating: 0, count: Int(status.st_size))
        var filled = 0
        while filled < bytes.count {
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + filled, $0.count - filled) }
            if n < 0 {
                if errno == EINTR { continue }
                throw unreadable("read failed: \(errnoText())")
            }
            if n == 0 { break }
            filled += n
        }
        return Array(bytes[..<filled])
    }
}

/// Where the values of a configuration came from: the file, or an environment variable.
struct ConfigurationProvenance: Sendable, Hashable {
    /// The configuration file's path.
    var file: String
    /// Keys whose value came from a `BISNND_*` variable.
    var environmentKeys: Set<String>

    /// `environment BISNND_...` for a key set by a variable, else the file.
    func source(of key: String?) -> String {
        guard let key, environmentKeys.contains(key) else { return file }
        return "environment \(ServiceConfiguration.environmentVariable(for: key))"
    }
}
