// Placeholder until the real decoder lands.
public struct EVT2Decoder: EventDecoder {
    public let geometry: SensorGeometry?
    public private(set) var counters = DecoderCounters()
    public private(set) var offset: Int64 = 0
    public init(geometry: SensorGeometry? = nil) { self.geometry = geometry }
    public mutating func decode(_ chunk: UnsafeRawBufferPointer, into events: inout EventBuffer) throws {
        throw EventDecodingError(.unknownFormat, offset: 0, "not implemented yet")
    }
    public mutating func finish(into events: inout EventBuffer) throws {}
}
