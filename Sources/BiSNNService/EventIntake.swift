import EventStream

/// The receiving side of the protocol for all sensors, steps 1 to 4 of docs/protocol.md section 4.4:
/// parse a message (``EventPacket``), find or start its sensor's ``SensorIntake`` (at most
/// ``maximumSensors``), and let it take the message in. Rejections are counted under the sensor when the
/// service tracks it, otherwise in ``unattributedRejections``.
public struct EventIntake: Sendable {
    /// An accepted message: its sensor and what it asks of that sensor's pipeline.
    public struct Accepted: Sendable {
        /// The sensor.
        public var sensor: SensorName
        /// See ``SensorIntake/AcceptedPacket``.
        public var packet: SensorIntake.AcceptedPacket
    }

    /// Largest number of sensors tracked at once (`input.max_sensors`).
    public let maximumSensors: Int
    /// Largest payload accepted (`input.max_message_bytes`).
    public let maximumPayloadBytes: Int
    /// The only sensor geometry accepted, if the service is configured for one.
    public let expectedGeometry: SensorGeometry?
    /// The most events one message may decode to (`input.max_message_events`).
    public let maximumEvents: Int
    /// The tracked sensors.
    public private(set) var sensors: [SensorName: SensorIntake] = [:]
    /// Rejected messages no tracked sensor can be charged with, by reason.
    public private(set) var unattributedRejections: [WireRejection.Reason: Int] = [:]

    /// An intake tracking no sensor yet.
    public init(
        maximumSensors: Int = 64, maximumPayloadBytes: Int = EventPacket.defaultMaximumPayloadBytes,
        expectedGeometry: SensorGeometry? = nil, maximumEvents: Int = SensorEventDecoder.defaultMaximumEvents
    ) {
        precondition(maximumSensors > 0, "maximumSensors must be > 0")
        self.maximumSensors = maximumSensors
        self.maximumPayloadBytes = maximumPayloadBytes
        self.expectedGeometry = expectedGeometry
        self.maximumEvents = maximumEvents
    }

    /// Takes in one received message; appends its accepted events to `events`. Throws (after counting it)
    /// the rejection of a refused message.
    public mutating func accept(
        frames: [[UInt8]], into events: inout EventBuffer
    ) throws(WireRejection) -> Accepted {
        let packet: EventPacket
        do {
            packet = try EventPacket.parse(frames: frames, maximumPayloadBytes: maximumPayloadBytes)
        } catch {
            if let sensor = error.sensor, sensors[sensor] != nil {
                sensors[sensor]?.countParseRejection(error)
            } else {
                unattributedRejections[error.reason, default: 0] += 1
            }
            throw error
        }
        let sensor = packet.sensor
        if sensors[sensor] == nil {
            guard sensors.count < maximumSensors else {
                unattributedRejections[.tooManySensors, default: 0] += 1
                throw WireRejection(
                    .tooManySensors, "already tracking \(sensors.count) sensors, the most allowed", sensor: sensor)
            }
            sensors[sensor] = SensorIntake(
                sensor: sensor, expectedGeometry: expectedGeometry, maximumEvents: maximumEvents)
        }
        let accepted = try sensors[sensor]!.accept(packet, into: &events)
        return Accepted(sensor: sensor, packet: accepted)
    }

    /// Stops tracking a sensor (idle for long, say); its next message starts it afresh, if there is room.
    public mutating func forget(_ sensor: SensorName) {
        sensors[sensor] = nil
    }

    /// Gives `body` the intake of a tracked sensor to change (to take its dropped-message count when
    /// publishing, or to reset it after an idle gap); nil if the sensor is not tracked.
    public mutating func withSensor<R>(_ sensor: SensorName, _ body: (inout SensorIntake) -> R) -> R? {
        guard sensors[sensor] != nil else { return nil }
        return body(&sensors[sensor]!)
    }
}
