/// One event message, sensor to service: three ZeroMQ frames, topic `events/<sensor>`, the 32-byte
/// ``EventPacketHeader``, and the payload (docs/protocol.md).
///
/// Parsing checks the framing only and does no per-event work: the payload is kept as the received bytes
/// (the same array, not a copy) and decoded later by the sensor's ``SensorEventDecoder``.
public struct EventPacket: Sendable {
    /// The sensor named by the topic.
    public var sensor: SensorName
    /// The validated header.
    public var header: EventPacketHeader
    /// The payload bytes: exactly `header.count × header.encoding.unitSize` of them.
    public var payload: [UInt8]

    /// The topic prefix of event messages.
    public static let topicPrefix: [UInt8] = Array("events/".utf8)
    /// The payload size accepted unless the caller says otherwise: 16 MiB (2 Mi native events).
    public static let defaultMaximumPayloadBytes = 16 << 20

    /// A packet from parts already known to agree (as ``parse(frames:maximumPayloadBytes:)`` returns).
    public init(sensor: SensorName, header: EventPacketHeader, payload: [UInt8]) {
        self.sensor = sensor
        self.header = header
        self.payload = payload
    }

    /// Parses a received message. The first failed check names the rejection, in this order: frame count,
    /// topic prefix, sensor name, the header's own checks (see ``EventPacketHeader/init(parsing:)-(UnsafeRawBufferPointer)``),
    /// payload size against `maximumPayloadBytes` (declared or actual), payload size against the header's
    /// count. Rejections after the topic carry the sensor's name.
    public static func parse(
        frames: [[UInt8]], maximumPayloadBytes: Int = defaultMaximumPayloadBytes
    ) throws(WireRejection) -> EventPacket {
        guard frames.count == 3 else {
            throw WireRejection(.frameCount, "the message has \(frames.count) frame(s), not 3 (topic, header, payload)")
        }
        let topic = frames[0]
        guard topic.starts(with: topicPrefix) else {
            let shown = String(decoding: topic.prefix(80), as: UTF8.self)
            throw WireRejection(.topic, "topic \"\(shown)\" does not start with \"events/\"")
        }
        guard let sensor = SensorName(bytes: topic[topicPrefix.count...]) else {
            let name = topic[topicPrefix.count...]
            throw WireRejection(
                .sensorName,
                "sensor name \"\(String(decoding: name.prefix(80), as: UTF8.self))\" (\(name.count) bytes) is not "
                    + "1-64 characters of A-Z a-z 0-9 . _ -")
        }
        let header: EventPacketHeader
        do {
            header = try EventPacketHeader(parsing: frames[1])
        } catch {
            throw WireRejection(error.reason, error.detail, sensor: sensor)
        }
        let payload = frames[2]
        let declared = Int(header.count) * header.encoding.unitSize
        guard declared <= maximumPayloadBytes, payload.count <= maximumPayloadBytes else {
            throw WireRejection(
                .messageTooLarge,
                "the payload (\(max(declared, payload.count)) bytes) is over the \(maximumPayloadBytes)-byte limit",
                sensor: sensor)
        }
        guard payload.count == declared else {
            throw WireRejection(
                .countMismatch,
                "the payload has \(payload.count) bytes; \(header.count) \(header.encoding) unit(s) of "
                    + "\(header.encoding.unitSize) bytes make \(declared)",
                sensor: sensor)
        }
        return EventPacket(sensor: sensor, header: header, payload: payload)
    }

    /// The three frames of a message, for senders. `payload` must hold exactly `header.count` units of
    /// `header.encoding` (a programming error otherwise).
    public static func encode(sensor: SensorName, header: EventPacketHeader, payload: [UInt8]) -> [[UInt8]] {
        precondition(
            payload.count == header.payloadByteCount,
            "payload of \(payload.count) bytes does not hold \(header.count) \(header.encoding) unit(s)")
        return [topic(for: sensor), header.encoded(), payload]
    }

    /// The frames of this packet.
    public func encoded() -> [[UInt8]] { Self.encode(sensor: sensor, header: header, payload: payload) }

    /// The topic frame `events/<sensor>`.
    public static func topic(for sensor: SensorName) -> [UInt8] { topicPrefix + Array(sensor.rawValue.utf8) }
}
