import BiSNN
import EventStream

/// Every sensor the service serves: the receiving rules (``EventIntake``) and one ``SensorPipeline`` per tracked
/// sensor, with what the status message reports. Pure and synchronous: messages in, predictions out; the
/// caller owns the sockets and the clock (instants are passed in), which makes the whole of docs/protocol.md
/// section 4 testable without a socket.
public struct SensorPipelines: Sendable {
    /// A prediction ready to publish: its message (`latency_us` still 0) and the instant its latency counts
    /// from (the receipt of the message that closed it, or the idle timeout).
    public struct Prediction: Sendable {
        /// The sensor.
        public var sensor: SensorName
        /// The prediction, `latencyMicroseconds` 0 until published.
        public var message: PredictionMessage
        /// What closed the decision.
        public var cause: SensorPipeline.ClosedDecision.Cause
        /// When the closing message was received (or the idle timeout passed).
        public var receivedAt: ContinuousClock.Instant
    }

    /// The model in use and how it decides.
    public private(set) var model: ModelIdentifier
    /// The configuration in use.
    public private(set) var configuration: ServiceConfiguration
    /// The receiving side: sequence numbers, decoding, rejections.
    public private(set) var intake: EventIntake

    private var prototype: SensorPipeline
    private var labels: [String]
    private var sensors: [SensorName: SensorRecord] = [:]
    private var events = EventBuffer()
    private var closed: [SensorPipeline.ClosedDecision] = []

    /// One tracked sensor's pipeline and service-side totals.
    private struct SensorRecord: Sendable {
        var pipeline: SensorPipeline
        var lastMessage: ContinuousClock.Instant
        /// Whether the idle timeout already reset the sensor since its last message.
        var idle = false
        /// Frames, and shed frames, of pipelines replaced by reloads.
        var earlierFrames = 0
        var earlierShedFrames = 0
        /// Predictions handed out.
        var decisions = 0
    }

    /// Pipelines for a loaded configuration, whose model file `loaded.modelPath` is identified by `model`.
    public init(loaded: LoadedServiceConfiguration, model: ModelIdentifier) throws(ConfigurationError) {
        configuration = loaded.configuration
        self.model = model
        labels = loaded.network.classNames
        prototype = try Self.makePrototype(loaded)
        intake = Self.makeIntake(loaded)
    }

    private static func makePrototype(_ loaded: LoadedServiceConfiguration) throws(ConfigurationError) -> SensorPipeline {
        do {
            return try SensorPipeline(
                predictor: loaded.predictor, frames: loaded.frames, settings: SensorPipeline.Settings(loaded.configuration))
        } catch {
            throw ConfigurationError(.invalidValue, key: "sensor.width", "\(error)", source: loaded.file)
        }
    }

    private static func makeIntake(_ loaded: LoadedServiceConfiguration) -> EventIntake {
        EventIntake(
            maximumSensors: loaded.configuration.input.maxSensors,
            maximumPayloadBytes: loaded.configuration.input.maxMessageBytes, expectedGeometry: loaded.frames.sensor,
            maximumEvents: loaded.configuration.input.maxMessageEvents)
    }

    /// Sensors tracked.
    public var sensorCount: Int { intake.sensors.count }

    /// The ensemble size decisions report.
    public var ensembleSize: Int { prototype.predictor.size }

    /// Takes in one received message (its frames) at `now`: the receiving rules, then the sensor's pipeline.
    /// Predictions it closes are appended to `predictions`; a rejection is returned (it is already counted,
    /// and makes the sensor's open decision incomplete, unless it only repeated a sequence number). With
    /// `shed`, the message's frames are binned but not stepped (docs/protocol.md 4.6).
    public mutating func accept(
        _ frames: [[UInt8]], receivedAt now: ContinuousClock.Instant, shed: Bool = false,
        into predictions: inout [Prediction]
    ) -> WireRejection? {
        events.removeAll()
        let accepted: EventIntake.Accepted
        do {
            accepted = try intake.accept(frames: frames, into: &events)
        } catch {
            if let sensor = error.sensor, intake.sensors[sensor] != nil {
                touch(sensor, at: now)
                if error.reason != .duplicateSequence { sensors[sensor]!.pipeline.markIncomplete() }
            }
            return error
        }
        let sensor = accepted.sensor
        touch(sensor, at: now)
        closed.removeAll(keepingCapacity: true)
        sensors[sensor]!.pipeline.apply(accepted.packet, events: events, shed: shed, into: &closed)
        emit(sensor, at: now, into: &predictions)
        return nil
    }

    /// Resets the sensors silent for `decisions.idle_reset_ms` by `now` (each once per silence): in segment
    /// mode an open segment is decided, its latency counting from the timeout.
    public mutating func closeIdleSensors(now: ContinuousClock.Instant, into predictions: inout [Prediction]) {
        let timeout = configuration.decisions.idleReset
        for sensor in Array(sensors.keys) where !sensors[sensor]!.idle {
            let deadline = sensors[sensor]!.lastMessage + timeout
            guard deadline <= now else { continue }
            sensors[sensor]!.idle = true
            closed.removeAll(keepingCapacity: true)
            sensors[sensor]!.pipeline.closeIdle(into: &closed)
            emit(sensor, at: deadline, into: &predictions)
        }
    }

    /// Closes every open segment because the service stops (`.shutdown`): they are decided, not dropped.
    public mutating func closeAll(
        cause: SensorPipeline.ClosedDecision.Cause, now: ContinuousClock.Instant, into predictions: inout [Prediction]
    ) {
        for sensor in sensors.keys.sorted(by: { $0.rawValue < $1.rawValue }) {
            closed.removeAll(keepingCapacity: true)
            sensors[sensor]!.pipeline.close(cause: cause, into: &closed)
            emit(sensor, at: now, into: &predictions)
        }
    }

    /// Swaps in a reloaded configuration and model: open segments are first decided with the old model
    /// (cause `.reload`), then every sensor gets a fresh pipeline. The receiving state (sequence numbers,
    /// decoders, wire totals) carries on, unless the expected sensor geometry or `input.max_sensors` changed:
    /// then every sensor is tracked afresh. Socket settings (`input.*` endpoints and sizes, `output.*`) are not
    /// the pipelines' business; the caller decides what to do about them.
    public mutating func reload(
        _ loaded: LoadedServiceConfiguration, model: ModelIdentifier, now: ContinuousClock.Instant,
        into predictions: inout [Prediction]
    ) throws(ConfigurationError) {
        let newPrototype = try Self.makePrototype(loaded)
        let cut = sensors.filter { $0.value.pipeline.hasOpenSegment }.map(\.key)
        closeAll(cause: .reload, now: now, into: &predictions)
        let geometryChanged = loaded.frames.sensor != intake.expectedGeometry
            || loaded.configuration.input.maxSensors != intake.maximumSensors
            || loaded.configuration.input.maxMessageEvents != intake.maximumEvents
        prototype = newPrototype
        labels = loaded.network.classNames
        self.model = model
        configuration = loaded.configuration
        if geometryChanged {
            intake = EventIntake(
                maximumSensors: loaded.configuration.input.maxSensors, maximumPayloadBytes: intake.maximumPayloadBytes,
                expectedGeometry: loaded.frames.sensor, maximumEvents: loaded.configuration.input.maxMessageEvents)
            sensors = [:]
        } else {
            for sensor in Array(sensors.keys) {
                sensors[sensor]!.earlierFrames += sensors[sensor]!.pipeline.counters.frames
                sensors[sensor]!.earlierShedFrames += sensors[sensor]!.pipeline.counters.shedFrames
                sensors[sensor]!.pipeline = prototype
            }
            // The rest of a segment the reload cut lacks its beginning.
            for sensor in cut { sensors[sensor]!.pipeline.markIncomplete() }
        }
    }

    /// The status message: wire totals from the intake, pipeline totals from here.
    public func status(
        service: String, version: String, time: Double, uptimeSeconds: Double, now: ContinuousClock.Instant
    ) -> StatusMessage {
        var entries: [String: StatusMessage.SensorStatus] = [:]
        for (name, sensorIntake) in intake.sensors {
            var entry = StatusMessage.SensorStatus()
            sensorIntake.fill(&entry)
            if let record = sensors[name] {
                entry.frames = record.earlierFrames + record.pipeline.counters.frames
                entry.shedFrames = record.earlierShedFrames + record.pipeline.counters.shedFrames
                entry.decisions = record.decisions
                entry.lastMessageAgeSeconds = Self.seconds(now - record.lastMessage)
            }
            entries[name.rawValue] = entry
        }
        var malformed: [String: Int] = [:]
        for (reason, count) in intake.unattributedRejections { malformed[reason.name] = count }
        return StatusMessage(
            service: service, version: version, time: time, uptimeSeconds: uptimeSeconds, model: model.text,
            sensors: entries, malformed: malformed)
    }

    /// Records that `sensor` (tracked by the intake) sent a message at `now`, making its pipeline if new.
    private mutating func touch(_ sensor: SensorName, at now: ContinuousClock.Instant) {
        if sensors[sensor] == nil {
            sensors[sensor] = SensorRecord(pipeline: prototype, lastMessage: now)
        } else {
            sensors[sensor]!.lastMessage = now
            sensors[sensor]!.idle = false
        }
    }

    /// Turns the decisions in `closed` into predictions of `sensor`, taking its dropped-message count.
    private mutating func emit(_ sensor: SensorName, at instant: ContinuousClock.Instant, into predictions: inout [Prediction]) {
        for decision in closed {
            let dropped = intake.withSensor(sensor) { $0.takeDroppedMessages() } ?? 0
            let message = PredictionMessage(
                sensor: sensor, sequence: decision.sequence, startTimeMicroseconds: decision.startTime,
                endTimeMicroseconds: decision.endTime, eventCount: decision.eventCount, decision: decision.decision,
                labels: labels, model: model.text, droppedMessages: dropped, shedFrames: decision.shedFrames,
                complete: decision.complete, latencyMicroseconds: 0)
            sensors[sensor]!.decisions += 1
            predictions.append(Prediction(sensor: sensor, message: message, cause: decision.cause, receivedAt: instant))
        }
        closed.removeAll(keepingCapacity: true)
    }

    static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) * 1e-18
    }
}
