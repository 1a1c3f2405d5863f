import EventStream

/// The sending side of event messages for one sensor: numbers messages in sequence and splits recordings
/// (native events or raw EVT words) into messages. Used by `bisnn replay` and by tests.
public struct EventPacketWriter: Sendable {
    /// The sensor the messages come from.
    public let sensor: SensorName
    /// The sequence number the next message gets.
    public var nextSequence: UInt64

    /// Native messages carry at most this many events unless told otherwise.
    public static let defaultMaximumEvents = 8192

    /// A writer whose first message gets sequence number `firstSequence`.
    public init(sensor: SensorName, firstSequence: UInt64 = 0) {
        self.sensor = sensor
        nextSequence = firstSequence
    }

    /// One message: `payload` holds whole units of `encoding` (a programming error otherwise).
    public mutating func message(
        encoding: EventEncoding, geometry: SensorGeometry, flags: EventPacketHeader.Flags = [], timeBase: Int64 = 0,
        payload: [UInt8]
    ) -> [[UInt8]] {
        precondition(payload.count % encoding.unitSize == 0, "payload is not whole \(encoding) units")
        let header = EventPacketHeader(
            encoding: encoding, flags: flags, width: Self.dimension(geometry.width),
            height: Self.dimension(geometry.height), count: UInt32(payload.count / encoding.unitSize),
            sequence: nextSequence, timeBase: timeBase)
        nextSequence &+= 1
        return EventPacket.encode(sensor: sensor, header: header, payload: payload)
    }

    /// A recording as native messages of at most `maximumEvents` events (see
    /// ``NativeEventCodec/chunks(of:maximumEvents:)``). With `start`, the first message has START; with
    /// `end`, the last has END: replaying a labelled recording with both gives exactly one prediction. An
    /// empty recording still gives one (empty) message when `start` or `end` is asked for.
    ///
    /// Throws if an event cannot be encoded (negative time, y past 15 bits); nothing is numbered then.
    public mutating func nativeMessages(
        _ events: EventBuffer, geometry: SensorGeometry, start: Bool = true, end: Bool = true,
        maximumEvents: Int = defaultMaximumEvents
    ) throws(EventEncodingError) -> [[[UInt8]]] {
        var chunks = NativeEventCodec.chunks(of: events, maximumEvents: maximumEvents)
        if chunks.isEmpty, start || end { chunks = [NativeEventCodec.Chunk(range: 0..<0, timeBase: 0)] }
        var payloads: [[UInt8]] = []
        for chunk in chunks {
            guard chunk.timeBase >= 0, chunk.timeBase < EventPacketHeader.timeBaseLimit else {
                throw EventEncodingError(
                    eventIndex: chunk.range.lowerBound, "timestamp \(chunk.timeBase) µs is outside 0..<2^62")
            }
            var payload: [UInt8] = []
            try NativeEventCodec.encode(events, range: chunk.range, timeBase: chunk.timeBase, into: &payload)
            payloads.append(payload)
        }
        return payloads.indices.map { i in
            message(
                encoding: .native, geometry: geometry, flags: Self.flags(i, of: payloads.count, start: start, end: end),
                timeBase: chunks[i].timeBase, payload: payloads[i])
        }
    }

    /// A raw EVT 2.0 / 3.0 word stream (no `%` header: strip it first) as messages of at most
    /// `maximumWords` words, split wherever that falls: the service keeps the decoding state across
    /// messages. `start` / `end` as in ``nativeMessages(_:geometry:start:end:maximumEvents:)``.
    public mutating func wordMessages(
        _ words: [UInt8], encoding: EventEncoding, geometry: SensorGeometry, start: Bool = true, end: Bool = true,
        maximumWords: Int
    ) -> [[[UInt8]]] {
        precondition(encoding != .native, "wordMessages sends EVT 2.0 / 3.0 words")
        precondition(maximumWords > 0, "maximumWords must be > 0")
        let step = maximumWords * encoding.unitSize
        var payloads = stride(from: 0, to: words.count, by: step).map { Array(words[$0..<min(words.count, $0 + step)]) }
        if payloads.isEmpty, start || end { payloads = [[]] }
        return payloads.indices.map { i in
            message(
                encoding: encoding, geometry: geometry, flags: Self.flags(i, of: payloads.count, start: start, end: end),
                payload: payloads[i])
        }
    }

    private static func flags(_ i: Int, of n: Int, start: Bool, end: Bool) -> EventPacketHeader.Flags {
        var flags: EventPacketHeader.Flags = []
        if start, i == 0 { flags.insert(.start) }
        if end, i == n - 1 { flags.insert(.end) }
        return flags
    }

    private static func dimension(_ n: Int) -> UInt16 {
        precondition(n > 0 && n <= Int(UInt16.max), "sensor dimension \(n) is not in 1...65535")
        return UInt16(n)
    }
}
