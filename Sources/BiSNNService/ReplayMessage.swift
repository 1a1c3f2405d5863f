/// One event message of a replay, ready to send, with when to send it.
public struct ReplayMessage: Sendable {
    /// The three frames: topic, header, payload (docs/protocol.md, section 3).
    public var frames: [[UInt8]]
    /// When a camera would have delivered the message: the latest event time (µs on the stream's time
    /// line) of the recording up to and including this message's events. Pacing sends it then.
    public var sensorTime: Int64
    /// Events the message carries (for EVT words, the events they decode to).
    public var events: Int

    /// A message; see the properties.
    public init(frames: [[UInt8]], sensorTime: Int64, events: Int) {
        self.frames = frames
        self.sensorTime = sensorTime
        self.events = events
    }
}

/// What one recording of a replay becomes: its messages in order, and where its time line starts.
public struct RecordingMessages: Sendable {
    /// The messages, in sending order (none for an empty recording in the middle of a continuous stream).
    public var messages: [ReplayMessage]
    /// The recording's first event time on the stream's time line (µs; 0 when it has no event): pacing
    /// sends a message `(sensorTime - startTime) / speed` after the recording starts.
    public var startTime: Int64
    /// Whether the recording's own EVT words were forwarded (rather than its events encoded).
    public var forwardedWords: Bool

    /// Messages of one recording; see the properties.
    public init(messages: [ReplayMessage], startTime: Int64, forwardedWords: Bool) {
        self.messages = messages
        self.startTime = startTime
        self.forwardedWords = forwardedWords
    }

    /// Events in all the messages.
    public var events: Int { messages.reduce(0) { $0 + $1.events } }
}
