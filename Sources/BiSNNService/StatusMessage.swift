/// The service's periodic health report: two frames, topic `status/<service name>` and this object as
/// compact JSON (docs/protocol.md, "Status"; docs/status.schema.json). Every key is always present.
public struct StatusMessage: Sendable, Hashable, Codable {
    /// One sensor's running totals, since the service started tracking it.
    public struct SensorStatus: Sendable, Hashable, Codable {
        /// `messages`: messages received from the sensor, rejected ones included.
        public var messages: Int
        /// `events`: events accepted (late events excluded).
        public var events: Int
        /// `late_events`: events dropped for going back in time.
        public var lateEvents: Int
        /// `unsynced_events`: EVT events dropped while the decoder waited for a time word (a stream's start,
        /// or after lost input).
        public var unsyncedEvents: Int
        /// `frames`: spike frames binned.
        public var frames: Int
        /// `shed_frames`: spike frames dropped unprocessed because the sensor's pipeline fell behind.
        public var shedFrames: Int
        /// `decisions`: predictions published.
        public var decisions: Int
        /// `sequence_gaps`: gaps in the sequence numbers (each one or more lost messages).
        public var sequenceGaps: Int
        /// `lost_messages`: messages missing in those gaps.
        public var lostMessages: UInt64
        /// `restarts`: sequence numbers going back (sensor restarts).
        public var restarts: Int
        /// `malformed`: rejected messages by reason name (docs/protocol.md, "Rejections"); only reasons
        /// that occurred appear.
        public var malformed: [String: Int]
        /// `last_message_age_s`: seconds since the sensor's last message arrived.
        public var lastMessageAgeSeconds: Double

        enum CodingKeys: String, CodingKey, CaseIterable {
            case messages
            case events
            case lateEvents = "late_events"
            case unsyncedEvents = "unsynced_events"
            case frames
            case shedFrames = "shed_frames"
            case decisions
            case sequenceGaps = "sequence_gaps"
            case lostMessages = "lost_messages"
            case restarts
            case malformed
            case lastMessageAgeSeconds = "last_message_age_s"
        }

        /// The JSON keys of a sensor's entry, in the order docs/protocol.md lists them.
        public static let keys: [String] = CodingKeys.allCases.map(\.rawValue)

        /// Totals, all zero unless given.
        public init(
            messages: Int = 0, events: Int = 0, lateEvents: Int = 0, unsyncedEvents: Int = 0, frames: Int = 0,
            shedFrames: Int = 0,
            decisions: Int = 0, sequenceGaps: Int = 0, lostMessages: UInt64 = 0, restarts: Int = 0,
            malformed: [String: Int] = [:], lastMessageAgeSeconds: Double = 0
        ) {
            self.messages = messages
            self.events = events
            self.lateEvents = lateEvents
            self.unsyncedEvents = unsyncedEvents
            self.frames = frames
            self.shedFrames = shedFrames
            self.decisions = decisions
            self.sequenceGaps = sequenceGaps
            self.lostMessages = lostMessages
            self.restarts = restarts
            self.malformed = malformed
            self.lastMessageAgeSeconds = lastMessageAgeSeconds
        }

        /// Counts one message rejected for `reason`.
        public mutating func countRejection(_ reason: WireRejection.Reason) {
            malformed[reason.name, default: 0] += 1
        }
    }

    /// `service`: the service's name (as in the topic).
    public var service: String
    /// `protocol_version`: the wire protocol version, 1.
    public var protocolVersion: Int
    /// `version`: the bisnn software version.
    public var version: String
    /// `time`: when the report was made, Unix time in seconds (fractional).
    public var time: Double
    /// `uptime_s`: seconds since the service started.
    public var uptimeSeconds: Double
    /// `model`: identifier of the model in use (as in predictions).
    public var model: String
    /// `sensors`: every sensor the service tracks, by name.
    public var sensors: [String: SensorStatus]
    /// `malformed`: rejected messages that no tracked sensor can be charged with (bad framing or topic,
    /// invalid sensor name, a new sensor over the limit), by reason name; only reasons that occurred appear.
    public var malformed: [String: Int]
    /// `refused_connections`: connections refused by CURVE authentication since the service started (an unknown
    /// client key, a client without CURVE or with the wrong server key); 0 while `security.curve.enabled` is off.
    public var refusedConnections: Int

    enum CodingKeys: String, CodingKey, CaseIterable {
        case service
        case protocolVersion = "protocol_version"
        case version
        case time
        case uptimeSeconds = "uptime_s"
        case model
        case sensors
        case malformed
        case refusedConnections = "refused_connections"
    }

    /// The top-level JSON keys of a status message, in the order docs/protocol.md lists them.
    public static let keys: [String] = CodingKeys.allCases.map(\.rawValue)

    /// A status message; `protocolVersion` defaults to the version this code speaks.
    public init(
        service: String, protocolVersion: Int = Int(EventPacketHeader.protocolVersion), version: String,
        time: Double, uptimeSeconds: Double, model: String, sensors: [String: SensorStatus],
        malformed: [String: Int] = [:], refusedConnections: Int = 0
    ) {
        self.service = service
        self.protocolVersion = protocolVersion
        self.version = version
        self.time = time
        self.uptimeSeconds = uptimeSeconds
        self.model = model
        self.sensors = sensors
        self.malformed = malformed
        self.refusedConnections = refusedConnections
    }

    /// Counts one rejected message that no tracked sensor can be charged with.
    public mutating func countUnattributedRejection(_ reason: WireRejection.Reason) {
        malformed[reason.name, default: 0] += 1
    }

    /// The topic prefix of status messages.
    public static let topicPrefix = "status/"

    /// The topic frame `status/<service>`; the service name follows the sensor-name rule.
    public static func topic(service: SensorName) -> [UInt8] { Array((topicPrefix + service.rawValue).utf8) }

    /// The compact, key-sorted JSON object (frame 2). Throws if a number is not finite.
    public func json() throws -> [UInt8] { try MessageJSON.encode(self) }

    /// Both frames: topic and JSON. Throws if a number is not finite or the service name is invalid.
    public func frames() throws -> [[UInt8]] {
        guard let name = SensorName(service) else {
            throw WireRejection(.sensorName, "\"\(service)\" is not a valid service name")
        }
        return [Self.topic(service: name), try json()]
    }

    /// Decodes a status message from its JSON frame (for subscribers and tests).
    public static func decode(json: [UInt8]) throws -> StatusMessage {
        try MessageJSON.decode(StatusMessage.self, from: json)
    }
}
