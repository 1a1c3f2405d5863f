/// How the payload of an event message (protocol version 1) encodes its events: header byte 5.
public enum EventEncoding: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// bisnn's own layout: 8 bytes an event (u32 µs after the time base, u16 x, u16 y | polarity << 15).
    case native = 1
    /// Prophesee EVT 2.0: the camera's 32-bit little-endian words, forwarded untouched.
    case evt2 = 2
    /// Prophesee EVT 3.0: the camera's 16-bit little-endian words, forwarded untouched.
    case evt3 = 3

    /// Size in bytes of one payload unit: an event (native) or a word (EVT 2.0 / 3.0).
    public var unitSize: Int {
        switch self {
        case .native: 8
        case .evt2: 4
        case .evt3: 2
        }
    }

    /// The stable lowercase name used in documents and logs: `native`, `evt2`, `evt3`.
    public var name: String {
        switch self {
        case .native: "native"
        case .evt2: "evt2"
        case .evt3: "evt3"
        }
    }

    public var description: String { name }
}
