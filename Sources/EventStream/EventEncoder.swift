/// A streaming writer of one event format: events in, bytes out. The first call emits the header.
public protocol EventEncoder {
    /// Appends the encoding of `events` to `output`. Throws when an event cannot be represented
    /// (coordinates or times out of the format's range), naming the event.
    mutating func encode(_ events: EventBuffer, into output: inout [UInt8]) throws
    /// Appends whatever closes the stream (nothing for most formats).
    mutating func finish(into output: inout [UInt8]) throws
}

/// Why events could not be written in a format.
public struct EventEncodingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Index of the offending event in the stream written so far.
    public var eventIndex: Int
    public var message: String

    public init(eventIndex: Int, _ message: String) {
        self.eventIndex = eventIndex
        self.message = message
    }

    public var description: String { "event \(eventIndex): \(message)" }
}

extension EventFormat {
    /// Formats bisnn can write.
    public static var writable: [EventFormat] { [.nmnist, .evt2] }

    /// A fresh encoder for this format, or nil when the format is read-only.
    public func makeEncoder(geometry: SensorGeometry?) -> (any EventEncoder)? {
        switch self {
        case .nmnist: NMNISTEncoder()
        case .evt2: EVT2Encoder(geometry: geometry)
        default: nil
        }
    }
}
