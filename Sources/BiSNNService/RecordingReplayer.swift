import EventStream

/// Turns recordings into the event messages of one sensor (docs/protocol.md, section 3), as `bisnn replay`
/// sends them: numbered +1 per message from ``EventPacketWriter/nextSequence``, split into messages of at
/// most ``Settings/maximumEvents`` events spanning at most ``Settings/maximumSpan`` µs of sensor time.
///
/// **Segments** (``Settings/segments``): each recording is one segment, START on its first message and END
/// on its last (an empty recording is one empty message with both), so a service in segment mode publishes
/// one prediction per recording. Each recording keeps its own timestamps, and a native segment's first
/// message has time base 0 (offsets are then the recording's own times) whenever its first event is below
/// 2^32 µs: the service aligns its spike-frame bins to the START message's time base, so its decision is
/// the one `bisnn eval` makes from the file.
///
/// **Continuous stream** (no segments): START on the stream's very first message only, no END; one time
/// line. The first recording keeps its own timestamps; each later one is shifted so that its earliest event
/// comes 1 µs after the latest event sent before it: recordings follow each other without a pause and
/// without going back in time. All recordings must have the same sensor size (a change needs START).
///
/// Timestamps an encoding cannot carry (negative, or past EVT's ``EVT3Encoder/maximumTimestamp``) are
/// shifted so that the recording's earliest event is at 0.
///
/// **Native** messages carry time base 0 while their events are below 2^32 µs, else their first event's
/// time. **EVT 2.0 / 3.0**: a Prophesee file of that very encoding (``ReplayRecording/words``) is forwarded
/// word for word, split at word boundaries into messages of at most ``Settings/maximumEvents`` words; other
/// recordings are encoded (``EVT2Encoder``, ``EVT3Encoder``; a fresh encoder after every START). A
/// continuous stream of several recordings encodes even EVT files: their own words cannot continue one time
/// line. EVT messages have time base 0 (the words carry their own time).
public struct RecordingReplayer: Sendable {
    /// How recordings become messages.
    public struct Settings: Sendable, Hashable {
        /// The sensor the messages come from (topic `events/<sensor>`).
        public var sensor: SensorName
        /// The payload encoding.
        public var encoding: EventEncoding
        /// One START ... END segment per recording; otherwise one continuous stream.
        public var segments: Bool
        /// Most events (native, encoded EVT) or words (forwarded EVT) in one message.
        public var maximumEvents: Int
        /// Most sensor time, in µs, from a message's first event to its last (nil: no limit).
        public var maximumSpan: Int64?

        /// Settings; see the properties.
        public init(
            sensor: SensorName, encoding: EventEncoding = .native, segments: Bool = true,
            maximumEvents: Int = RecordingReplayer.defaultMaximumEvents, maximumSpan: Int64? = 1_000
        ) {
            self.sensor = sensor
            self.encoding = encoding
            self.segments = segments
            self.maximumEvents = maximumEvents
            self.maximumSpan = maximumSpan
        }
    }

    /// Events (or words) a message carries at most unless told otherwise.
    public static let defaultMaximumEvents = 4096
    /// Events below this time (2^32 µs) go with time base 0.
    static let zeroTimeBaseLimit = NativeEventCodec.maximumOffset + 1
    /// Words decoded at a time when splitting forwarded EVT words: the finest split.
    static let forwardingBlockWords = 64

    /// The settings.
    public let settings: Settings
    /// How many recordings the stream will have (a continuous stream forwards EVT words only when it has one).
    public let recordingCount: Int
    /// Numbers the messages.
    public private(set) var writer: EventPacketWriter
    /// Continuous stream: whether its first message (with START) is still to come.
    private var startPending = true
    /// Continuous stream: the latest event time sent.
    private var timeLineEnd: Int64?
    /// Continuous stream: the sensor size of its first recording.
    private var streamGeometry: SensorGeometry?
    /// Continuous stream: the EVT encoder, whose state goes on from recording to recording.
    private var streamEncoder: EVTWordEncoder?

    /// A replayer of `recordingCount` recordings whose first message gets sequence number `firstSequence`.
    public init(settings: Settings, recordingCount: Int, firstSequence: UInt64 = 0) {
        precondition(settings.maximumEvents > 0, "maximumEvents must be > 0")
        precondition(settings.maximumSpan.map { $0 >= 0 } ?? true, "maximumSpan must be >= 0")
        self.settings = settings
        self.recordingCount = recordingCount
        writer = EventPacketWriter(sensor: settings.sensor, firstSequence: firstSequence)
    }

    /// The messages of the next recording. Throws, naming the file and changing nothing, when its events
    /// cannot be encoded (coordinates or times out of the encoding's range, EVT times going backwards) or,
    /// in a continuous stream, when its sensor size differs from the stream's.
    public mutating func messages(for recording: ReplayRecording) throws(ReplayError) -> RecordingMessages {
        var next = self
        let result = try next.makeMessages(for: recording)
        self = next
        return result
    }

    private mutating func makeMessages(for recording: ReplayRecording) throws(ReplayError) -> RecordingMessages {
        let segments = settings.segments
        if !segments, let geometry = streamGeometry, geometry != recording.geometry {
            throw ReplayError(
                "a \(recording.geometry) sensor in a continuous \(geometry) stream (a size change needs START: "
                    + "use --segments, or --width and --height)",
                file: recording.path)
        }
        let start = segments || startPending
        let result: RecordingMessages
        if let words = recording.words, recording.wordEncoding == settings.encoding, segments || recordingCount == 1 {
            result = try forwardedMessages(of: recording, words: words, start: start, end: segments)
        } else {
            result = try encodedMessages(of: recording, start: start, end: segments)
        }
        if !segments, !result.messages.isEmpty {
            startPending = false
            streamGeometry = recording.geometry
        }
        return result
    }

    // MARK: Events

    private mutating func encodedMessages(
        of recording: ReplayRecording, start: Bool, end: Bool
    ) throws(ReplayError) -> RecordingMessages {
        let encoding = settings.encoding
        let events = try placedOnTimeLine(recording)
        let chunks = chunks(of: events)
        var payloads: [[UInt8]] = []
        payloads.reserveCapacity(chunks.count)
        do throws(EventEncodingError) {
            if encoding == .native {
                for chunk in chunks {
                    var payload: [UInt8] = []
                    try NativeEventCodec.encode(events, range: chunk.range, timeBase: chunk.timeBase, into: &payload)
                    payloads.append(payload)
                }
            } else {
                var encoder = settings.segments
                    ? EVTWordEncoder(encoding, geometry: recording.geometry)
                    : streamEncoder ?? EVTWordEncoder(encoding, geometry: recording.geometry)
                for chunk in chunks {
                    payloads.append(try encoder.words(Self.slice(events, chunk.range)))
                }
                if !settings.segments { streamEncoder = encoder }
            }
        } catch {
            throw ReplayError(
                "cannot encode the events as \(Self.encodingName(encoding)): \(error)"
                    + (encoding == .native ? "" : "; --encoding native carries any event order"),
                file: recording.path)
        }
        var messages: [ReplayMessage] = []
        var latest = Int64.min
        events.withColumns { t, _, _, _ in
            for (i, chunk) in chunks.enumerated() {
                for j in chunk.range { latest = max(latest, t[j]) }
                let frames = writer.message(
                    encoding: encoding, geometry: recording.geometry,
                    flags: Self.flags(i, of: chunks.count, start: start, end: end),
                    timeBase: encoding == .native ? chunk.timeBase : 0, payload: payloads[i])
                messages.append(ReplayMessage(frames: frames, sensorTime: latest, events: chunk.range.count))
            }
        }
        let startTime = events.isEmpty ? 0 : events[0].t
        if events.isEmpty, start || end {
            let frames = writer.message(
                encoding: encoding, geometry: recording.geometry, flags: Self.flags(0, of: 1, start: start, end: end),
                payload: [])
            messages.append(ReplayMessage(frames: frames, sensorTime: 0, events: 0))
        }
        if !settings.segments, !events.isEmpty { timeLineEnd = max(timeLineEnd ?? .min, latest) }
        return RecordingMessages(messages: messages, startTime: startTime, forwardedWords: false)
    }

    /// The recording's events on the stream's time line (see the type's description).
    private func placedOnTimeLine(_ recording: ReplayRecording) throws(ReplayError) -> EventBuffer {
        let events = recording.events
        guard !events.isEmpty else { return events }
        let (earliest, latest) = events.withColumns { t, _, _, _ in (t.min()!, t.max()!) }
        let limit = settings.encoding == .native
            ? EventPacketHeader.timeBaseLimit - 1 : EVTWordEncoder.maximumTimestamp(settings.encoding)
        let shift: Int64
        if !settings.segments, let end = timeLineEnd {
            shift = end + 1 - earliest
        } else if earliest >= 0, latest <= limit {
            shift = 0
        } else {
            shift = -earliest
        }
        let (shiftedLatest, overflow) = latest.addingReportingOverflow(shift)
        guard !overflow, shiftedLatest <= limit else {
            throw ReplayError(
                "its events reach \(shiftedLatest) µs on the stream's time line, past the "
                    + "\(Self.encodingName(settings.encoding)) limit of \(limit) µs",
                file: recording.path)
        }
        guard shift != 0 else { return events }
        var shifted = EventBuffer(capacity: events.count)
        events.withColumns { t, x, y, p in
            shifted.withWriter(reservingCapacity: t.count) { w in
                for i in 0..<t.count { w.append(t: t[i] + shift, x: x[i], y: y[i], polarity: p[i]) }
            }
        }
        return shifted
    }

    /// One message's share of the events, and its native time base.
    struct Chunk: Sendable, Hashable {
        var range: Range<Int>
        var timeBase: Int64
    }

    /// Splits `events` into messages: at most ``Settings/maximumEvents`` each, spanning at most
    /// ``Settings/maximumSpan`` from their first event, and (native) every event within 0 ... 2^32 - 1 µs
    /// of the message's time base: 0 when the first event is below 2^32 µs, else the first event's time.
    func chunks(of events: EventBuffer) -> [Chunk] {
        let maximumEvents = settings.maximumEvents, span = settings.maximumSpan
        let native = settings.encoding == .native
        var chunks: [Chunk] = []
        events.withColumns { t, _, _, _ in
            var s = 0
            while s < t.count {
                let first = t[s]
                let base = native && (first < 0 || first >= Self.zeroTimeBaseLimit) ? first : 0
                let limit = min(t.count, s + maximumEvents)
                var e = s + 1
                while e < limit {
                    let ti = t[e]
                    if native, ti < base || ti - base > NativeEventCodec.maximumOffset { break }
                    if let span, ti > first, ti - first > span { break }
                    e += 1
                }
                chunks.append(Chunk(range: s..<e, timeBase: base))
                s = e
            }
        }
        return chunks
    }

    // MARK: EVT words

    /// The file's own words, split at word boundaries into messages of at most ``Settings/maximumEvents``
    /// words whose decoded events span at most ``Settings/maximumSpan``.
    private mutating func forwardedMessages(
        of recording: ReplayRecording, words: [UInt8], start: Bool, end: Bool
    ) throws(ReplayError) -> RecordingMessages {
        let encoding = settings.encoding
        let unit = encoding.unitSize
        let maximumWords = settings.maximumEvents
        let block = min(Self.forwardingBlockWords, maximumWords)
        let wordCount = words.count / unit
        var decoder = (encoding == .evt2 ? EventFormat.evt2 : EventFormat.evt3).makeDecoder(geometry: recording.geometry)
        var decoded = EventBuffer()
        // Payloads are words only: an empty `%` header first makes every later byte data.
        do { try decoder.decode(Array("% end\n".utf8), into: &decoded) } catch {
            preconditionFailure("an empty header failed to decode: \(error)")
        }

        /// One message's words, the events they decode to, and its pacing time.
        struct Piece {
            var words: Range<Int>
            var events = 0
            var firstTime: Int64?
            var sensorTime: Int64 = 0
        }
        var pieces: [Piece] = []
        var current = Piece(words: 0..<0)
        var latest: Int64?  // the latest event time so far
        var startTime: Int64?  // the first event's time
        var blockStart = 0
        while blockStart < wordCount {
            let n = min(block, wordCount - blockStart)
            decoded.removeAll()
            do {
                try words.withUnsafeBytes { raw in
                    try decoder.decode(
                        UnsafeRawBufferPointer(rebasing: raw[(blockStart * unit)..<((blockStart + n) * unit)]),
                        into: &decoded)
                }
            } catch {
                throw ReplayError("cannot decode its \(Self.encodingName(encoding)) words: \(error)", file: recording.path)
            }
            let (blockFirst, blockLatest) = decoded.withColumns { t, _, _, _ in (t.first, t.max()) }
            // The block goes into the next message when it would take this one past the word limit or the span.
            var tooLong = false
            if let span = settings.maximumSpan, let first = current.firstTime, let last = blockLatest {
                tooLong = last > first && last - first > span
            }
            if !current.words.isEmpty, tooLong || current.words.count + n > maximumWords {
                pieces.append(current)
                current = Piece(words: blockStart..<blockStart)
            }
            current.words = current.words.lowerBound..<(blockStart + n)
            current.events += decoded.count
            current.firstTime = current.firstTime ?? blockFirst
            if let blockLatest { latest = max(latest ?? blockLatest, blockLatest) }
            startTime = startTime ?? blockFirst
            current.sensorTime = latest ?? 0
            blockStart += n
        }
        if !current.words.isEmpty || (pieces.isEmpty && (start || end)) { pieces.append(current) }
        var messages: [ReplayMessage] = []
        messages.reserveCapacity(pieces.count)
        for (i, piece) in pieces.enumerated() {
            let frames = writer.message(
                encoding: encoding, geometry: recording.geometry,
                flags: Self.flags(i, of: pieces.count, start: start, end: end),
                payload: Array(words[(piece.words.lowerBound * unit)..<(piece.words.upperBound * unit)]))
            messages.append(ReplayMessage(frames: frames, sensorTime: piece.sensorTime, events: piece.events))
        }
        if let latest { timeLineEnd = max(timeLineEnd ?? latest, latest) }
        return RecordingMessages(messages: messages, startTime: startTime ?? 0, forwardedWords: true)
    }

    // MARK: Helpers

    private static func flags(_ i: Int, of n: Int, start: Bool, end: Bool) -> EventPacketHeader.Flags {
        var flags: EventPacketHeader.Flags = []
        if start, i == 0 { flags.insert(.start) }
        if end, i == n - 1 { flags.insert(.end) }
        return flags
    }

    /// The events `range` of `events`, as a buffer of their own.
    private static func slice(_ events: EventBuffer, _ range: Range<Int>) -> EventBuffer {
        var part = EventBuffer(capacity: range.count)
        events.withColumns { t, x, y, p in
            part.withWriter(reservingCapacity: range.count) { w in
                for i in range { w.append(t: t[i], x: x[i], y: y[i], polarity: p[i]) }
            }
        }
        return part
    }

    static func encodingName(_ encoding: EventEncoding) -> String {
        switch encoding {
        case .native: "native events"
        case .evt2: "EVT 2.0"
        case .evt3: "EVT 3.0"
        }
    }
}
