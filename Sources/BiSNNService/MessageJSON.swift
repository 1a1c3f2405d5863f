import Foundation

/// The JSON form of the service's outgoing messages: compact (no spaces or newlines), keys sorted, `/`
/// not escaped, so equal messages are equal bytes.
enum MessageJSON {
    /// The compact, key-sorted UTF-8 JSON of `value`. Throws on a non-finite number (JSON has none).
    static func encode(_ value: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(value))
    }

    /// Decodes a message from UTF-8 JSON.
    static func decode<T: Decodable>(_ type: T.Type, from json: [UInt8]) throws -> T {
        try JSONDecoder().decode(type, from: Data(json))
    }
}
