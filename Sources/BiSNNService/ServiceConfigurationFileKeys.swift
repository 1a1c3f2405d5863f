import Foundation
import Yams

/// The keys a YAML configuration file sets, with their lines, so that unknown keys (operators' typos) are
/// refused by name. swift-configuration's YAML provider only answers lookups of keys one already knows, so the
/// file's own key set comes from walking the YAML tree here (Yams itself refuses a key set twice in one
/// mapping).
struct ConfigurationFileKeys: Sendable {
    /// A key with a value (not a mapping), dotted, and its line (1-based).
    struct Entry: Sendable, Hashable {
        /// The dotted key, as `decisions.window_ms`.
        var key: String
        /// The line of the key in the file.
        var line: Int
        /// Whether the value is empty (YAML null: nothing, `~` or `null`).
        var isNull: Bool
    }

    /// Every key that holds a value, in file order.
    var entries: [Entry]

    /// The keys of `yaml`, or an error naming the problem. An empty document (nothing or only comments) has
    /// no keys.
    init(parsing yaml: String, file: String) throws(ConfigurationError) {
        func malformed(_ key: String?, _ why: String) -> ConfigurationError {
            ConfigurationError(.malformedFile, key: key, why, source: file)
        }
        let root: Node?
        do {
            root = try Parser(yaml: yaml).singleRoot()
        } catch {
            let text = "\(error)".split(separator: "\n").first.map(String.init) ?? "\(error)"
            throw malformed(nil, "not valid YAML: \(text)")
        }
        entries = []
        guard let root else { return }
        guard let mapping = root.mapping else {
            if let scalar = root.scalar, Self.isNull(scalar) { return }
            throw malformed(nil, "must be a mapping of sections (service:, model:, ...) to settings")
        }
        var found: [Entry] = []
        // Depth first, so keys come in file order.
        func walk(_ mapping: Node.Mapping, prefix: [String]) throws(ConfigurationError) {
            for (keyNode, value) in mapping {
                let line = keyNode.mark?.line ?? 0
                guard let name = keyNode.scalar?.string else {
                    throw malformed(prefix.isEmpty ? nil : prefix.joined(separator: "."),
                                    "line \(line): a key must be a plain name, not a list or a mapping")
                }
                let key = (prefix + [name]).joined(separator: ".")
                if let inner = value.mapping {
                    try walk(inner, prefix: prefix + [name])
                } else {
                    found.append(Entry(key: key, line: line, isNull: value.scalar.map(Self.isNull) ?? false))
                }
            }
        }
        try walk(mapping, prefix: [])
        entries = found
    }

    /// Whether a scalar is YAML's null: empty, `~` or `null`, unquoted.
    static func isNull(_ scalar: Node.Scalar) -> Bool {
        (scalar.style == .plain || scalar.style == .any) && ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }
}
