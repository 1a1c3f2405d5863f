import EventStream

/// One sensor's receiving side of the protocol, steps 3 and 4 of docs/protocol.md section 4.4: sequence
/// numbers (``SequenceTracker``), then the payload (``SensorEventDecoder``), with the sensor's wire counters.
///
/// Feed it the sensor's parsed packets in arrival order with ``accept(_:into:)``; charge it with the sensor's
/// messages that failed parsing with ``countParseRejection(_:)``. What happens to the accepted events
/// (binning, segments, decisions) is the caller's business, guided by ``AcceptedPacket``.
public struct SensorIntake: Sendable {
    /// What an accepted message asks of the sensor's pipeline.
    public struct AcceptedPacket: Sendable {
        /// The message's header.
        public var header: EventPacketHeader
        /// What its sequence number said.
        public var sequence: SequenceTracker.Classification
        /// Whether the stream was reset before its events (START, or a sequence restart): close an open
        /// segment, then reset the network state.
        public var resetsStream: Bool
        /// Whether END is set: publish the decision after its events, then reset the network state.
        public var endsSegment: Bool
        /// Events appended, late and dropped counts.
        public var payload: SensorEventDecoder.DecodedPayload
    }

    /// The sensor.
    public let sensor: SensorName
    /// Its sequence numbers and their totals (gaps, lost messages, restarts).
    public private(set) var sequence = SequenceTracker()
    /// Its payload decoder and stream state.
    public private(set) var decoder: SensorEventDecoder
    /// Messages received, rejected ones included.
    public private(set) var messages = 0
    /// Events accepted.
    public private(set) var events = 0
    /// Events dropped as late.
    public private(set) var lateEvents = 0
    /// EVT events dropped while the word decoder waited for a time word (at a stream's start, or after lost
    /// input; see ``SensorEventDecoder``).
    public private(set) var unsyncedEvents = 0
    /// Whether input was lost since the last accepted message (a rejected message of this sensor): the next
    /// one resynchronises the EVT decoder.
    private var lostInput = false
    /// Rejected messages by reason.
    public private(set) var rejections: [WireRejection.Reason: Int] = [:]
    /// Messages lost or rejected for their content since the last ``takeDroppedMessages()``: the
    /// `dropped_messages` of the next prediction.
    public private(set) var droppedMessages: UInt64 = 0

    /// The state of a sensor not heard from yet; `expectedGeometry` and `maximumEvents` as in
    /// ``SensorEventDecoder``.
    public init(
        sensor: SensorName, expectedGeometry: SensorGeometry? = nil,
        maximumEvents: Int = SensorEventDecoder.defaultMaximumEvents
    ) {
        self.sensor = sensor
        decoder = SensorEventDecoder(expectedGeometry: expectedGeometry, maximumEvents: maximumEvents)
    }

    /// Takes in one parsed message of this sensor: classifies its sequence number, rejects a duplicate,
    /// decodes its payload into `events` (resetting the stream first on START or a restart, resynchronising
    /// it after a gap or a rejected message). A rejection is counted and thrown; only the sequence number of
    /// a rejected message is kept.
    public mutating func accept(
        _ packet: EventPacket, into events: inout EventBuffer
    ) throws(WireRejection) -> AcceptedPacket {
        precondition(packet.sensor == sensor, "packet of sensor \(packet.sensor) given to \(sensor)")
        messages += 1
        let header = packet.header
        let start = header.flags.contains(.start)
        let classification = sequence.observe(header.sequence, start: start)
        switch classification {
        case .duplicate:
            let rejection = WireRejection(
                .duplicateSequence, "sequence number \(header.sequence) again, without START", sensor: sensor)
            rejections[rejection.reason, default: 0] += 1
            throw rejection
        case .gap(let lost):
            droppedMessages = droppedMessages.addingReportingOverflow(lost).overflow ? .max : droppedMessages + lost
            lostInput = true
        case .first, .inOrder, .restart:
            break
        }
        let restart = classification == .restart
        let decoded: SensorEventDecoder.DecodedPayload
        do {
            decoded = try decoder.decode(packet, restart: restart, resync: lostInput, into: &events)
        } catch {
            rejections[error.reason, default: 0] += 1
            droppedMessages &+= 1
            lostInput = true
            throw error
        }
        lostInput = false
        self.events += decoded.events
        lateEvents += decoded.lateEvents
        unsyncedEvents += decoded.eventsBeforeTimeBase
        return AcceptedPacket(
            header: header, sequence: classification, resetsStream: start || restart,
            endsSegment: header.flags.contains(.end), payload: decoded)
    }

    /// Counts a message of this sensor rejected while being parsed (its sequence number is unknown, so
    /// it will show up as a gap).
    public mutating func countParseRejection(_ rejection: WireRejection) {
        messages += 1
        rejections[rejection.reason, default: 0] += 1
        lostInput = true
    }

    /// Returns ``droppedMessages`` and starts counting again from 0 (call when publishing a decision).
    public mutating func takeDroppedMessages() -> UInt64 {
        defer { droppedMessages = 0 }
        return droppedMessages
    }

    /// The wire counters in a status entry: `messages`, `events`, `late_events`, `sequence_gaps`,
    /// `lost_messages`, `restarts`, `malformed`. The pipeline's own counters (frames, decisions, ...) are
    /// left as they are.
    public func fill(_ status: inout StatusMessage.SensorStatus) {
        status.messages = messages
        status.events = events
        status.lateEvents = lateEvents
        status.unsyncedEvents = unsyncedEvents
        status.sequenceGaps = sequence.gaps
        status.lostMessages = sequence.lostMessages
        status.restarts = sequence.restarts
        status.malformed = Dictionary(uniqueKeysWithValues: rejections.map { ($0.key.name, $0.value) })
    }
}
