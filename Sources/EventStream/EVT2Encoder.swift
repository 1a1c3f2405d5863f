// Placeholder until the real encoder lands.
public struct EVT2Encoder: EventEncoder {
    public init(geometry: SensorGeometry?) {}
    public mutating func encode(_ events: EventBuffer, into output: inout [UInt8]) throws {
        throw EventEncodingError(eventIndex: 0, "not implemented yet")
    }
    public mutating func finish(into output: inout [UInt8]) throws {}
}
