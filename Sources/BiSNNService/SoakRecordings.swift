import EventStream

/// The recordings a soak replays, loaded once and cut into native messages the way `bisnn replay --segments`
/// cuts them (``RecordingReplayer``): START on a recording's first message, END on its last, each message
/// spanning at most 1 ms of wall time at the soak's speed. Messages are kept as header and payload; the
/// sender puts in the topic and the sequence number of the sensor that sends them.
struct SoakRecordings: Sendable {
    /// One message of a recording.
    struct Message: Sendable {
        /// The 32-byte header (sequence number to be filled in).
        var header: [UInt8]
        /// The native events.
        var payload: [UInt8]
        /// When a camera would have delivered it, µs on the recording's time line (see ``ReplayMessage``).
        var sensorTime: Int64
        /// Events it carries.
        var events: Int
    }

    /// One recording's messages.
    struct Recording: Sendable {
        var path: String
        var messages: [Message]
        /// The first event's time, µs.
        var startTime: Int64
        /// The last message's sensor time, µs.
        var endTime: Int64
        var events: Int
    }

    /// The recordings, in playlist order.
    var recordings: [Recording]
    /// Events per second of sensor time over all recordings played back to back.
    var eventsPerSensorSecond: Double
    /// The replay speed (times real time) at which one sensor sends its share of the soak's rate.
    var speed: Double

    /// Loads every recording of `path` (a file or a folder, as ``ReplayPlaylist`` resolves it) and cuts them
    /// for `sensors` sensors sharing `eventsPerSecond`.
    static func load(_ path: String, eventsPerSecond: Double, sensors: Int) throws -> SoakRecordings {
        let playlist = try ReplayPlaylist.resolve(path)
        var loaded: [ReplayRecording] = []
        var events = 0, span: Int64 = 0
        for file in playlist.files {
            let recording = try ReplayRecording.load(file)
            guard !recording.events.isEmpty else { continue }
            let (first, last) = recording.events.withColumns { t, _, _, _ in (t.min()!, t.max()!) }
            events += recording.events.count
            span += last - first
            loaded.append(recording)
        }
        guard events > 0, span > 0 else {
            throw SoakError("\(path): no recording with events spanning any time")
        }
        let density = Double(events) / (Double(span) / 1e6)
        let speed = eventsPerSecond / Double(max(1, sensors)) / density
        let maximumSpan = ReplaySpeed.times(speed).sensorMicroseconds(inWallMicroseconds: 1_000)
        var recordings: [Recording] = []
        recordings.reserveCapacity(loaded.count)
        for recording in loaded {
            var replayer = RecordingReplayer(
                settings: .init(sensor: SensorName("soak")!, segments: true, maximumSpan: maximumSpan),
                recordingCount: 1)
            let cut = try replayer.messages(for: recording)
            let messages = cut.messages.map {
                Message(header: $0.frames[1], payload: $0.frames[2], sensorTime: $0.sensorTime, events: $0.events)
            }
            guard let last = messages.last else { continue }
            recordings.append(Recording(
                path: recording.path, messages: messages, startTime: cut.startTime, endTime: last.sensorTime,
                events: cut.events))
        }
        return SoakRecordings(recordings: recordings, eventsPerSensorSecond: density, speed: speed)
    }

    /// Writes `sequence` into a header's bytes 16-23.
    static func header(_ header: [UInt8], sequence: UInt64) -> [UInt8] {
        var bytes = header
        bytes.withUnsafeMutableBytes { $0.storeBytes(of: sequence.littleEndian, toByteOffset: 16, as: UInt64.self) }
        return bytes
    }
}

/// Why a soak could not run (a missing executable, bad recordings, a daemon that never served).
public struct SoakError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public var description: String

    /// An error saying `description`.
    public init(_ description: String) {
        self.description = description
    }
}
