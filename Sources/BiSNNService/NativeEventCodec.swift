import EventStream

/// The native payload layout (encoding 1): 8 bytes an event, little-endian:
///
/// | bytes | field |
/// |---|---|
/// | 0-3 | u32 microseconds after the message's time base |
/// | 4-5 | u16 x |
/// | 6-7 | u16: y in bits 0-14, polarity in bit 15 (1 = ON) |
///
/// An event's absolute time is the header's time base plus its offset.
public enum NativeEventCodec {
    /// Bytes per event.
    public static let eventSize = 8
    /// Largest offset from the time base an event can carry.
    public static let maximumOffset = Int64(UInt32.max)
    /// Largest y the layout can carry (15 bits).
    public static let maximumY: UInt16 = 0x7fff
    /// The bit of the third field that holds the polarity.
    public static let polarityBit: UInt16 = 0x8000

    // MARK: Encoding (senders)

    /// Appends the native encoding of `events[range]`, timed relative to `timeBase`, to `payload`.
    ///
    /// Every event needs `0 <= t - timeBase <= maximumOffset` and `y <= maximumY`; otherwise nothing is
    /// appended and the error names the first offending event (its index in `events`). Split recordings
    /// into messages with ``chunks(of:maximumEvents:)``, which picks time bases that fit.
    public static func encode(
        _ events: EventBuffer, range: Range<Int>? = nil, timeBase: Int64, into payload: inout [UInt8]
    ) throws(EventEncodingError) {
        let range = range ?? 0..<events.count
        precondition(range.lowerBound >= 0 && range.upperBound <= events.count, "event range out of bounds")
        let first = payload.count
        payload.append(contentsOf: repeatElement(0, count: range.count * eventSize))
        let failure: EventEncodingError? = payload.withUnsafeMutableBytes { out in
            events.withColumns { t, x, y, p in
                for i in range {
                    let offset = t[i] &- timeBase
                    guard t[i] >= timeBase, offset <= maximumOffset else {
                        return EventEncodingError(
                            eventIndex: i,
                            "timestamp \(t[i]) µs is not within 0...\(maximumOffset) µs after the time base \(timeBase)")
                    }
                    guard y[i] <= maximumY else {
                        return EventEncodingError(eventIndex: i, "y = \(y[i]) does not fit 15 bits")
                    }
                    let third = y[i] | (p[i] != 0 ? polarityBit : 0)
                    let word = UInt64(offset) | UInt64(x[i]) << 32 | UInt64(third) << 48
                    out.storeBytes(of: word.littleEndian, toByteOffset: first + (i - range.lowerBound) * eventSize, as: UInt64.self)
                }
                return nil
            }
        }
        if let failure {
            payload.removeSubrange(first...)
            throw failure
        }
    }

    /// The native payload of `events` relative to `timeBase` (see ``encode(_:range:timeBase:into:)``).
    public static func encode(_ events: [Event], timeBase: Int64) throws(EventEncodingError) -> [UInt8] {
        var payload: [UInt8] = []
        try encode(EventBuffer(events), timeBase: timeBase, into: &payload)
        return payload
    }

    /// One message's share of a recording: the events `range`, sent with time base `timeBase`.
    public struct Chunk: Sendable, Hashable {
        /// Indices of the events this message carries.
        public var range: Range<Int>
        /// The time base to send them with: the first event's timestamp.
        public var timeBase: Int64
    }

    /// Splits a recording into messages of at most `maximumEvents` events each, every message's events
    /// within ``maximumOffset`` µs of its time base (the first event's time). A new message also starts at
    /// an event earlier than the current message's time base; events that go back in time are sent as they
    /// are (the service counts them as late). An empty recording gives no chunk.
    public static func chunks(of events: EventBuffer, maximumEvents: Int) -> [Chunk] {
        precondition(maximumEvents > 0, "maximumEvents must be > 0")
        var chunks: [Chunk] = []
        events.withColumns { t, _, _, _ in
            var start = 0
            while start < t.count {
                let base = t[start]
                var end = start + 1
                let limit = min(t.count, start + maximumEvents)
                while end < limit, t[end] >= base, t[end] - base <= maximumOffset { end += 1 }
                chunks.append(Chunk(range: start..<end, timeBase: base))
                start = end
            }
        }
        return chunks
    }

    // MARK: Decoding (the service)

    /// Decodes a native payload into `events` with absolute timestamps (`timeBase` + offset).
    ///
    /// - Events earlier than `watermark` (the latest timestamp this sensor's stream has accepted, `.min`
    ///   at its start) are late: dropped and counted in the return value. Each kept event raises
    ///   `watermark`, so kept events never go backwards.
    /// - An event outside `geometry` rejects the whole payload (``WireRejection/Reason/coordinates``):
    ///   then `events` and `watermark` are left as they were.
    ///
    /// `payload.count` must be a multiple of ``eventSize`` (``EventPacket`` checks it). Returns the number
    /// of late events dropped.
    public static func decode(
        _ payload: UnsafeRawBufferPointer, timeBase: Int64, geometry: SensorGeometry, watermark: inout Int64,
        into events: inout EventBuffer
    ) throws(WireRejection) -> Int {
        precondition(payload.count % eventSize == 0, "a native payload is whole 8-byte events")
        let n = payload.count / eventSize
        guard n > 0, let base = payload.baseAddress else { return 0 }
        let width = UInt32(clamping: geometry.width), height = UInt32(clamping: geometry.height)
        let start = events.count
        var latest = watermark
        var late = 0
        var outside: UInt32 = 0
        events.withWriter(reservingCapacity: n) { w in
            for i in 0..<n {
                let word = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i &* eventSize, as: UInt64.self))
                let x = UInt32(truncatingIfNeeded: word >> 32) & 0xffff
                let y = UInt32(truncatingIfNeeded: word >> 48) & 0x7fff
                outside |= (x >= width ? 1 : 0) | (y >= height ? 1 : 0)
                let t = timeBase &+ Int64(word & 0xffff_ffff)
                if _fastPath(t >= latest) {
                    latest = t
                    w.append(
                        t: t, x: UInt16(truncatingIfNeeded: x), y: UInt16(truncatingIfNeeded: y),
                        polarity: UInt8(truncatingIfNeeded: word >> 63))
                } else {
                    late &+= 1
                }
            }
        }
        if outside != 0 {
            events.truncate(to: start)
            throw firstOutside(payload, geometry: geometry)
        }
        watermark = latest
        return late
    }

    /// The rejection naming the first event of `payload` outside `geometry` (the slow path of a rejection).
    private static func firstOutside(_ payload: UnsafeRawBufferPointer, geometry: SensorGeometry) -> WireRejection {
        for i in 0..<payload.count / eventSize {
            let x = UInt16(littleEndian: payload.loadUnaligned(fromByteOffset: i * eventSize + 4, as: UInt16.self))
            let y = UInt16(littleEndian: payload.loadUnaligned(fromByteOffset: i * eventSize + 6, as: UInt16.self))
                & maximumY
            if !geometry.contains(x: x, y: y) {
                return WireRejection(.coordinates, "event \(i) at (\(x), \(y)) is outside the \(geometry) sensor")
            }
        }
        return WireRejection(.coordinates, "an event is outside the \(geometry) sensor")
    }

    /// The plain, obviously correct decoder that tests hold ``decode(_:timeBase:geometry:watermark:into:)``
    /// against: byte by byte, one event at a time, same results and same rejections.
    static func referenceDecode(
        _ payload: [UInt8], timeBase: Int64, geometry: SensorGeometry, watermark: inout Int64
    ) throws(WireRejection) -> (events: [Event], late: Int) {
        var kept: [Event] = []
        var late = 0
        var latest = watermark
        var index = 0
        while index * eventSize < payload.count {
            let b = Array(payload[(index * eventSize)..<((index + 1) * eventSize)])
            let offset = Int64(b[0]) | Int64(b[1]) << 8 | Int64(b[2]) << 16 | Int64(b[3]) << 24
            let x = UInt16(b[4]) | UInt16(b[5]) << 8
            let third = UInt16(b[6]) | UInt16(b[7]) << 8
            let y = third & 0x7fff
            let polarity: UInt8 = third & 0x8000 != 0 ? 1 : 0
            guard Int(x) < geometry.width, Int(y) < geometry.height else {
                throw WireRejection(.coordinates, "event \(index) at (\(x), \(y)) is outside the \(geometry) sensor")
            }
            let t = timeBase + offset
            if t < latest {
                late += 1
            } else {
                latest = t
                kept.append(Event(t: t, x: x, y: y, polarity: polarity))
            }
            index += 1
        }
        watermark = latest
        return (kept, late)
    }
}
