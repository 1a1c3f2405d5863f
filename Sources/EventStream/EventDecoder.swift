/// Counters of input a decoder skipped or repaired instead of failing. Every skip policy of every decoder
/// lands in one of these, so nothing is dropped silently.
public struct DecoderCounters: Sendable, Hashable {
    /// Events dropped because their coordinates lie outside the sensor geometry.
    public var outOfBounds: Int = 0
    /// Words or records of an unknown or reserved type, skipped.
    public var unknownWords: Int = 0
    /// Events whose timestamp is earlier than the previous event's (kept, in stream order).
    public var timestampRegressions: Int = 0
    /// Wrap-arounds of a sensor's time counter that were unrolled into the 64-bit time line.
    public var timeWraps: Int = 0
    /// Whole packets skipped because they carry no events (frames, IMU, triggers, ...).
    public var skippedPackets: Int = 0
    /// Events seen before the first time reference of the stream (EVT 2.0/3.0), dropped.
    public var eventsBeforeTimeBase: Int = 0
    /// Times a stream's time base jumped back by less than a wrap-around (a counter reset), kept going
    /// with the new value (EVT 2.0/3.0 TIME_HIGH).
    public var timeBaseResets: Int = 0
    /// Events the recording itself marks invalid (AEDAT 3.1 valid bit clear), skipped.
    public var invalidEvents: Int = 0

    public init() {}
}

/// A streaming decoder of one event format.
///
/// Feed it byte chunks of any size, split anywhere (a file read in blocks, network packets); it keeps
/// partial words, headers and packets across chunks and appends decoded events to an ``EventBuffer``.
/// Call ``finish(into:)`` at the end of the stream: it reports bytes left over as ``EventDecodingError/Code/truncated``.
public protocol EventDecoder {
    /// Sensor geometry from the stream's header, or the explicit override; nil while unknown.
    var geometry: SensorGeometry? { get }
    /// What was skipped or repaired so far.
    var counters: DecoderCounters { get }
    /// Bytes of the stream consumed so far (the offset of the next byte).
    var offset: Int64 { get }

    /// Decodes the next chunk of the stream.
    mutating func decode(_ chunk: UnsafeRawBufferPointer, into events: inout EventBuffer) throws
    /// Ends the stream; throws if it stopped in the middle of a record.
    mutating func finish(into events: inout EventBuffer) throws
}

extension EventDecoder {
    /// Decodes a chunk held in an array.
    public mutating func decode(_ chunk: [UInt8], into events: inout EventBuffer) throws {
        try chunk.withUnsafeBytes { try decode($0, into: &events) }
    }
}
