/// The name of an event source: 1 to 64 characters from `A-Z a-z 0-9 . _ -`, as it appears in the
/// topics `events/<sensor>` and `predictions/<sensor>`. The same rule applies to the service name in
/// `status/<service>`.
public struct SensorName: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The name as text.
    public let rawValue: String

    /// Longest name accepted, in characters.
    public static let maximumLength = 64

    /// The name `text`, or nil when it breaks the rule.
    public init?(_ text: String) {
        guard Self.isValid(text.utf8) else { return nil }
        rawValue = text
    }

    /// The name spelled by `bytes` (ASCII), or nil when they break the rule.
    public init?(bytes: some Collection<UInt8>) {
        guard Self.isValid(bytes) else { return nil }
        rawValue = String(decoding: bytes, as: UTF8.self)
    }

    /// Whether `bytes` spell a valid name: 1-64 bytes, each one of `A-Z a-z 0-9 . _ -` (so any non-ASCII
    /// byte fails).
    public static func isValid(_ bytes: some Collection<UInt8>) -> Bool {
        guard !bytes.isEmpty, bytes.count <= maximumLength else { return false }
        return bytes.allSatisfy(isNameByte)
    }

    /// Whether `b` may appear in a name.
    @inlinable
    public static func isNameByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
            true
        default:
            false
        }
    }

    public var description: String { rawValue }
    public static func < (a: SensorName, b: SensorName) -> Bool { a.rawValue < b.rawValue }
}
