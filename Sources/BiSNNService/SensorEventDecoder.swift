import EventStream

/// One sensor's stream state on the receiving side: turns the payloads of its successive accepted
/// messages into events (docs/protocol.md, "Payload" and "Rejections").
///
/// - Native payloads decode with ``NativeEventCodec``: absolute time = the message's time base + offset.
/// - EVT 2.0 / 3.0 payloads are the camera's raw words, decoded by EventStream's streaming ``EVT2Decoder``
///   / ``EVT3Decoder`` with the header's geometry. Their state (time high bits, current y and base x, ...)
///   carries across messages, so a word stream may be split between messages at any word boundary. The
///   words carry their own time, so the header's time base is ignored. Payloads are words only: a `%`
///   text header is not allowed (its bytes would be decoded as words).
///
/// The stream (decoder state, encoding, geometry, latest timestamp) starts with the first accepted
/// message and is reset by START, by a sequence restart (the `restart` argument of
/// ``decode(_:restart:into:)``), or by ``reset()``. Without one of these, a message whose encoding or
/// geometry differs from the stream's is rejected; so is, always, a geometry other than the expected one
/// when the service expects one.
///
/// Events earlier than the latest timestamp already accepted from the stream are *late*: dropped and
/// counted, the rest of the message kept. An event outside the declared geometry rejects the message, and so
/// does a payload that could decode to more than ``maximumEvents`` events (checked before decoding).
/// A rejected message changes nothing: not the stream state, not `events`.
///
/// **Resynchronising.** When input of the stream was lost (a sequence gap, a rejected message: the
/// `resync` argument), an EVT decoder's state (time high bits, current y, base x) may be stale, and the
/// words that follow would decode to wrong times or rows. So the word decoder starts afresh, keeping the
/// stream's encoding, geometry and latest timestamp: events are dropped (counted in
/// ``DecodedPayload/eventsBeforeTimeBase``) until the next time word.
public struct SensorEventDecoder: Sendable {
    /// What one accepted message yielded.
    public struct DecodedPayload: Sendable, Hashable {
        /// Events appended (late ones excluded).
        public var events: Int
        /// Events dropped for being earlier than an event already accepted.
        public var lateEvents: Int
        /// EVT 2.0 / 3.0 events dropped because no time word had been seen yet in the stream (the camera's
        /// stream was picked up mid-way, or after START); 0 for native payloads.
        public var eventsBeforeTimeBase: Int
    }

    /// The current stream's encoding, nil before its first accepted message.
    public private(set) var encoding: EventEncoding?
    /// The current stream's geometry, nil before its first accepted message.
    public private(set) var geometry: SensorGeometry?
    /// The latest event time accepted from the current stream (`.min` before any event).
    public private(set) var latestTimestamp: Int64 = .min
    /// Late events dropped since this decoder was made (all streams).
    public private(set) var lateEvents = 0
    /// The only geometry accepted, when the service is configured for one sensor size (nil: any).
    public let expectedGeometry: SensorGeometry?
    /// The most events one message may decode to (`input.max_message_events`).
    public let maximumEvents: Int
    private var words: WordDecoder?

    /// The streaming EVT decoder of the current stream.
    private enum WordDecoder: Sendable {
        case evt2(EVT2Decoder)
        case evt3(EVT3Decoder)
    }

    /// A decoder with no stream yet, accepting only `expectedGeometry` when it is given and messages of at
    /// most `maximumEvents` events.
    public init(expectedGeometry: SensorGeometry? = nil, maximumEvents: Int = Self.defaultMaximumEvents) {
        precondition(maximumEvents > 0, "maximumEvents must be > 0")
        self.expectedGeometry = expectedGeometry
        self.maximumEvents = maximumEvents
    }

    /// The default of `input.max_message_events`: 2 Mi events (about 27 MB decoded).
    public static let defaultMaximumEvents = 1 << 21

    /// Ends the current stream: the next message starts a new one, as if it had START.
    public mutating func reset() {
        encoding = nil
        geometry = nil
        latestTimestamp = .min
        words = nil
    }

    /// Decodes the payload of `packet` (from this decoder's sensor) and appends its events to `events`.
    ///
    /// START in the packet's flags, or `restart` (the sequence number went back, see
    /// ``SequenceTracker``), resets the stream first; `resync` (input was lost since the previous message)
    /// restarts an EVT word decoder (see "Resynchronising" above). Throws, changing nothing (no reset
    /// either), in this order: on an encoding or geometry change without a reset, on a geometry other than
    /// ``expectedGeometry``, on a payload of more than ``maximumEvents`` events, on an event outside the
    /// geometry, or when the EVT decoder fails.
    public mutating func decode(
        _ packet: EventPacket, restart: Bool = false, resync: Bool = false, into events: inout EventBuffer
    ) throws(WireRejection) -> DecodedPayload {
        var next = self
        let header = packet.header
        if restart || header.flags.contains(.start) {
            next.reset()
        } else if resync {
            next.words = nil
        }
        let geometry = header.geometry
        if let current = next.encoding, current != header.encoding {
            throw WireRejection(
                .encodingChange, "encoding changed from \(current) to \(header.encoding) without START",
                sensor: packet.sensor)
        }
        if let current = next.geometry, current != geometry {
            throw WireRejection(
                .geometryChange, "geometry changed from \(current) to \(geometry) without START", sensor: packet.sensor)
        }
        if let expectedGeometry, expectedGeometry != geometry {
            throw WireRejection(
                .unexpectedGeometry, "a \(geometry) sensor; this service expects \(expectedGeometry)",
                sensor: packet.sensor)
        }
        if let bound = PayloadEventCount.over(
            maximumEvents, payload: packet.payload, encoding: header.encoding, count: header.count)
        {
            throw WireRejection(
                .tooManyEvents,
                "the payload holds \(header.encoding == .native ? "" : "up to ")\(bound) events; at most "
                    + "\(maximumEvents) are accepted in one message (input.max_message_events)",
                sensor: packet.sensor)
        }
        next.encoding = header.encoding
        next.geometry = geometry
        let start = events.count
        let decoded: DecodedPayload
        do {
            decoded = try next.decodePayload(packet, into: &events)
        } catch {
            events.truncate(to: start)
            throw WireRejection(error.reason, error.detail, sensor: packet.sensor)
        }
        next.lateEvents += decoded.lateEvents
        self = next
        return decoded
    }

    private mutating func decodePayload(
        _ packet: EventPacket, into events: inout EventBuffer
    ) throws(WireRejection) -> DecodedPayload {
        let header = packet.header
        let start = events.count
        switch header.encoding {
        case .native:
            var latest = latestTimestamp
            let timeBase = header.timeBase, geometry = header.geometry
            let late = try Self.withBytes(packet.payload) { bytes throws(WireRejection) in
                try NativeEventCodec.decode(
                    bytes, timeBase: timeBase, geometry: geometry, watermark: &latest, into: &events)
            }
            latestTimestamp = latest
            return DecodedPayload(events: events.count - start, lateEvents: late, eventsBeforeTimeBase: 0)
        case .evt2, .evt3:
            var decoder = words ?? Self.makeWordDecoder(header.encoding, geometry: header.geometry)
            let dropped: (outOfBounds: Int, beforeTimeBase: Int)
            switch decoder {
            case .evt2(var d):
                dropped = try Self.run(&d, on: packet.payload, into: &events)
                decoder = .evt2(d)
            case .evt3(var d):
                dropped = try Self.run(&d, on: packet.payload, into: &events)
                decoder = .evt3(d)
            }
            if dropped.outOfBounds > 0 {
                throw WireRejection(
                    .coordinates, "\(dropped.outOfBounds) event(s) lie outside the \(header.geometry) sensor")
            }
            words = decoder
            let late = Self.dropLateEvents(in: &events, from: start, latest: &latestTimestamp)
            return DecodedPayload(
                events: events.count - start, lateEvents: late, eventsBeforeTimeBase: dropped.beforeTimeBase)
        }
    }

    /// A fresh EVT decoder for a headerless word stream on `geometry`.
    ///
    /// EventStream's decoders look for a `%` text header at the start of a stream; a raw word stream whose
    /// first bytes happen to read `% ` would be mistaken for one. Feeding the decoder an empty header
    /// (`% end`) first makes every later byte data.
    private static func makeWordDecoder(_ encoding: EventEncoding, geometry: SensorGeometry) -> WordDecoder {
        let emptyHeader = Array("% end\n".utf8)
        var none = EventBuffer()
        switch encoding {
        case .evt2:
            var d = EVT2Decoder(geometry: geometry)
            try? d.decode(emptyHeader, into: &none)
            return .evt2(d)
        case .evt3, .native:
            var d = EVT3Decoder(geometry: geometry)
            try? d.decode(emptyHeader, into: &none)
            return .evt3(d)
        }
    }

    /// Runs an EVT decoder over whole words; returns how many events it dropped as outside the geometry
    /// and as coming before the first time word.
    private static func run<D: EventDecoder>(
        _ decoder: inout D, on payload: [UInt8], into events: inout EventBuffer
    ) throws(WireRejection) -> (outOfBounds: Int, beforeTimeBase: Int) {
        let before = decoder.counters
        do {
            try decoder.decode(payload, into: &events)
        } catch {
            throw WireRejection(.decode, "\(error)")
        }
        let after = decoder.counters
        return (after.outOfBounds - before.outOfBounds, after.eventsBeforeTimeBase - before.eventsBeforeTimeBase)
    }

    /// Drops the events from index `start` on that are earlier than the latest kept time (`latest`, which
    /// each kept event raises); returns how many were dropped. One pass over the timestamps when nothing is
    /// late; rebuilding the tail only when something is.
    static func dropLateEvents(in events: inout EventBuffer, from start: Int, latest: inout Int64) -> Int {
        var running = latest
        let firstLate: Int? = events.withColumns { t, _, _, _ in
            for i in start..<t.count {
                if t[i] < running { return i }
                running = t[i]
            }
            return nil
        }
        guard let firstLate else {
            latest = running
            return 0
        }
        var kept: [Event] = []
        var late = 0
        for i in firstLate..<events.count {
            let e = events[i]
            if e.t < running {
                late += 1
            } else {
                running = e.t
                kept.append(e)
            }
        }
        events.truncate(to: firstLate)
        events.withWriter(reservingCapacity: kept.count) { w in
            for e in kept { w.append(t: e.t, x: e.x, y: e.y, polarity: e.polarity) }
        }
        latest = running
        return late
    }

    /// Calls `body` with the bytes of `array`, keeping its typed error.
    private static func withBytes<R>(
        _ array: [UInt8], _ body: (UnsafeRawBufferPointer) throws(WireRejection) -> R
    ) throws(WireRejection) -> R {
        try array.withUnsafeBytes { raw in Result { () throws(WireRejection) in try body(raw) } }.get()
    }
}
