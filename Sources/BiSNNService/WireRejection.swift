/// Why the service refused an event message. A refused message is counted under its ``Reason`` and
/// dropped whole: none of its events, flags or state changes take effect (docs/protocol.md, "Rejections").
public struct WireRejection: Error, Sendable, Hashable, CustomStringConvertible {
    /// An opaque, stable reason code. Its ``name`` is the snake_case key used in counters, in the status
    /// message's `malformed` maps and in docs/protocol.md; names never change within a protocol version.
    public struct Reason: Sendable, Hashable, Comparable, CustomStringConvertible {
        /// The stable snake_case name.
        public let name: String

        private init(_ name: String) { self.name = name }

        /// The reason with this name, if it is one of ``all``.
        public init?(name: String) {
            guard let known = Self.all.first(where: { $0.name == name }) else { return nil }
            self = known
        }

        public var description: String { name }
        public static func < (a: Reason, b: Reason) -> Bool { a.name < b.name }

        /// The message does not have exactly three frames (topic, header, payload).
        public static let frameCount = Reason("frame_count")
        /// The topic frame does not start with `events/`.
        public static let topic = Reason("topic")
        /// The sensor name after `events/` is not 1-64 characters of `A-Z a-z 0-9 . _ -`.
        public static let sensorName = Reason("sensor_name")
        /// The header frame is not exactly 32 bytes.
        public static let headerSize = Reason("header_size")
        /// The header does not start with `BSEV`.
        public static let magic = Reason("magic")
        /// The header's protocol version is not 1.
        public static let version = Reason("version")
        /// The header's encoding is not 1, 2 or 3.
        public static let encoding = Reason("encoding")
        /// A flag bit other than START (bit 0) and END (bit 1) is set.
        public static let reservedFlags = Reason("reserved_flags")
        /// The header declares a sensor width or height of 0.
        public static let geometry = Reason("geometry")
        /// The header's time base is 2^62 µs or more.
        public static let timeBase = Reason("time_base")
        /// The payload (declared or actual) is larger than the service accepts.
        public static let messageTooLarge = Reason("message_too_large")
        /// The payload length is not the header's count times the encoding's unit size.
        public static let countMismatch = Reason("count_mismatch")
        /// The message names a new sensor while the service already tracks as many as it may.
        public static let tooManySensors = Reason("too_many_sensors")
        /// The sequence number equals the previous message's, and START is not set.
        public static let duplicateSequence = Reason("duplicate_sequence")
        /// The encoding differs from the stream's, and START is not set.
        public static let encodingChange = Reason("encoding_change")
        /// The sensor geometry differs from the stream's, and START is not set.
        public static let geometryChange = Reason("geometry_change")
        /// The geometry is not the one the service is configured for.
        public static let unexpectedGeometry = Reason("unexpected_geometry")
        /// An event lies outside the declared geometry.
        public static let coordinates = Reason("coordinates")
        /// The EVT 2.0 / 3.0 decoder failed on the payload.
        public static let decode = Reason("decode")
        /// The payload holds more events than the service accepts in one message (`input.max_message_events`).
        public static let tooManyEvents = Reason("too_many_events")

        /// Every reason of protocol version 1, in the order docs/protocol.md lists them.
        public static let all: [Reason] = [
            .frameCount, .topic, .sensorName, .headerSize, .magic, .version, .encoding, .reservedFlags, .geometry,
            .timeBase, .messageTooLarge, .countMismatch, .tooManySensors, .duplicateSequence, .encodingChange,
            .geometryChange, .unexpectedGeometry, .tooManyEvents, .coordinates, .decode,
        ]
    }

    /// Why the message was refused.
    public var reason: Reason
    /// What exactly was wrong, for logs.
    public var detail: String
    /// The sensor the message came from, when its topic named one validly (nil otherwise).
    public var sensor: SensorName?

    /// A rejection for `reason`, with a human-readable `detail`.
    public init(_ reason: Reason, _ detail: String, sensor: SensorName? = nil) {
        self.reason = reason
        self.detail = detail
        self.sensor = sensor
    }

    /// The reason's stable snake_case name, for counters.
    public var name: String { reason.name }

    public var description: String {
        if let sensor { return "message from sensor \(sensor) rejected (\(reason)): \(detail)" }
        return "message rejected (\(reason)): \(detail)"
    }
}
