import EventStream

/// One sensor of a soak: the recordings it plays (all of them, in an order of its own, over and over, each a
/// START ... END segment), where it is, its sequence numbers, what it sent, and the clock that paces it.
///
/// Pacing: a message at sensor time `t` is due at `anchorWall + (t - anchorSensor) / speed`; a recording
/// starts when the one before it ends, so the sensor plays a continuous sequence of segments. Changing the
/// speed (an overload burst) or pausing (a restart's barrier) re-anchors the clock at the current message, so
/// no catch-up burst follows.
struct SoakStream {
    /// The sensor.
    let name: SensorName
    /// `events/<name>`.
    let topic: [UInt8]
    /// Indices into the recordings, in this sensor's playing order.
    let order: [Int]
    /// Position in ``order``.
    private(set) var orderIndex = 0
    /// The next message of the current recording.
    private(set) var messageIndex = 0
    /// The sequence number of the next message.
    var sequence: UInt64 = 0
    private var anchorWall: ContinuousClock.Instant
    private var anchorSensor: Int64

    /// Messages sent on this sensor's topic, injected malformed ones included.
    var sentMessages = 0
    /// Valid (not injected) messages sent.
    var sentValidMessages = 0
    /// Events in the valid messages sent.
    var sentEvents = 0
    /// Recordings sent whole.
    var completedRecordings = 0
    /// Publisher restarts done on this sensor.
    var restarts = 0

    /// A stream of `recordings`, shuffled with `seed`, clocked from `now`.
    init(name: SensorName, recordings: SoakRecordings, seed: UInt64, now: ContinuousClock.Instant) {
        self.name = name
        topic = EventPacket.topic(for: name)
        var random = Xoshiro256StarStar(seed: seed)
        order = Array(recordings.recordings.indices).shuffled(using: &random)
        anchorWall = now
        anchorSensor = recordings.recordings[order[0]].startTime
    }

    /// The current recording.
    func recording(_ recordings: SoakRecordings) -> SoakRecordings.Recording { recordings.recordings[order[orderIndex]] }

    /// Whether the current recording's segment is open: its first message was sent and not yet its last.
    var midSegment: Bool { messageIndex > 0 }

    /// When the next message is due at `speed` times real time.
    func due(_ recordings: SoakRecordings, speed: Double) -> ContinuousClock.Instant {
        let message = recording(recordings).messages[messageIndex]
        return anchorWall + .microseconds(Double(message.sensorTime - anchorSensor) / speed)
    }

    /// The next message's frames, numbered, and its events; moves on (to the next recording after an END).
    mutating func next(_ recordings: SoakRecordings, speed: Double) -> (frames: [[UInt8]], events: Int) {
        let current = recording(recordings)
        let message = current.messages[messageIndex]
        let frames = [topic, SoakRecordings.header(message.header, sequence: sequence), message.payload]
        sequence &+= 1
        sentMessages += 1
        sentValidMessages += 1
        sentEvents += message.events
        messageIndex += 1
        if messageIndex == current.messages.count {
            // The next recording starts when this one ends.
            anchorWall = anchorWall + .microseconds(Double(current.endTime - anchorSensor) / speed)
            orderIndex = (orderIndex + 1) % order.count
            messageIndex = 0
            anchorSensor = recording(recordings).startTime
            completedRecordings += 1
        }
        return (frames, message.events)
    }

    /// Restarts the clock at `now` from where the stream is.
    mutating func reanchor(at now: ContinuousClock.Instant, _ recordings: SoakRecordings) {
        let current = recording(recordings)
        anchorWall = now
        anchorSensor = messageIndex > 0 ? current.messages[messageIndex - 1].sensorTime : current.startTime
    }

    /// The sensor time of the stream's position (for an injected message's timestamp).
    func sensorTime(_ recordings: SoakRecordings) -> Int64 {
        let current = recording(recordings)
        return messageIndex > 0 ? current.messages[messageIndex - 1].sensorTime : current.startTime
    }
}
