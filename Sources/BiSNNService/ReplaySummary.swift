/// What a replay sent, for the line `bisnn replay` prints at the end.
public struct ReplaySummary: Sendable, Hashable {
    /// Recordings replayed.
    public var recordings = 0
    /// Messages sent.
    public var messages = 0
    /// Events the messages carried.
    public var events = 0
    /// Wall-clock seconds the replay took, loading the recordings included.
    public var seconds = 0.0

    /// An empty summary.
    public init() {}

    /// Counts one recording's messages.
    public mutating func add(_ recording: RecordingMessages) {
        recordings += 1
        messages += recording.messages.count
        events += recording.events
    }

    /// Events per wall-clock second (0 when no time passed).
    public var eventsPerSecond: Double { seconds > 0 ? Double(events) / seconds : 0 }

    /// `3 recordings, 912 messages, 13524 events in 0.950 s (14236 events/s)`.
    public var text: String {
        let plural = recordings == 1 ? "recording" : "recordings"
        let rate = Int(eventsPerSecond.rounded())
        return "\(recordings) \(plural), \(messages) messages, \(events) events in "
            + "\(Self.fixed(seconds, digits: 3)) s (\(rate) events/s)"
    }

    private static func fixed(_ value: Double, digits: Int) -> String {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = Int((value * scale).rounded())
        let whole = scaled / Int(scale), fraction = scaled % Int(scale)
        let text = String(fraction)
        return "\(whole)." + String(repeating: "0", count: digits - text.count) + text
    }
}
