import BiSNN

/// A decision about one sensor's events, service to subscribers: two frames, topic
/// `predictions/<sensor>` and this object as compact JSON (docs/protocol.md, "Predictions";
/// docs/prediction.schema.json). Every key is always present.
public struct PredictionMessage: Sendable, Hashable, Codable {
    /// `sensor`: the sensor's name.
    public var sensor: String
    /// `seq`: the sequence number of the message that closed the decision (END, or the message whose
    /// events completed the window).
    public var sequence: UInt64
    /// `t_start_us`: start of the sensor time the decision covers, absolute µs (0 if no event since reset).
    public var startTimeMicroseconds: Int64
    /// `t_end_us`: end of the sensor time the decision covers, absolute µs (0 if no event since reset).
    public var endTimeMicroseconds: Int64
    /// `events`: events that went into the decision.
    public var eventCount: Int
    /// `class`: index of the most probable class.
    public var classIndex: Int
    /// `label`: that class's name.
    public var label: String
    /// `confidence`: probability of `class`, in [0, 1].
    public var confidence: Double
    /// `probabilities`: the ensemble's mean class probabilities, one per class, summing to 1.
    public var probabilities: [Double]
    /// `entropy`: predictive entropy of `probabilities`, in nats.
    public var entropy: Double
    /// `mutual_information`: predictive entropy minus the members' mean entropy, in nats (≥ 0): how much
    /// the ensemble members disagree.
    public var mutualInformation: Double
    /// `agreement`: fraction of ensemble members whose own most probable class is `class`.
    public var agreement: Double
    /// `abstained`: whether this is "unknown": the abstention rule says so, or the input is not complete
    /// (the other fields are still given).
    public var abstained: Bool
    /// `ensemble_size`: members that voted.
    public var ensembleSize: Int
    /// `model`: identifier of the model (file name, `@`, short content hash).
    public var model: String
    /// `dropped_messages`: this sensor's messages lost (sequence gaps) or rejected since its previous
    /// decision; when > 0 the decision may be missing events.
    public var droppedMessages: UInt64
    /// `shed_frames`: spike frames of the decision's span (in window mode: since the previous decision) that
    /// were not stepped because the service fell behind (docs/protocol.md 4.6).
    public var shedFrames: Int
    /// `complete`: whether the decision saw all its input: no message of its span lost or rejected, no
    /// publisher restart cutting it, no frame shed. An incomplete decision always abstains.
    public var complete: Bool
    /// `latency_us`: microseconds from receipt of the closing message to publication.
    public var latencyMicroseconds: Int64

    enum CodingKeys: String, CodingKey, CaseIterable {
        case sensor
        case sequence = "seq"
        case startTimeMicroseconds = "t_start_us"
        case endTimeMicroseconds = "t_end_us"
        case eventCount = "events"
        case classIndex = "class"
        case label
        case confidence
        case probabilities
        case entropy
        case mutualInformation = "mutual_information"
        case agreement
        case abstained
        case ensembleSize = "ensemble_size"
        case model
        case droppedMessages = "dropped_messages"
        case shedFrames = "shed_frames"
        case complete
        case latencyMicroseconds = "latency_us"
    }

    /// The JSON keys of a prediction, in the order docs/protocol.md lists them.
    public static let keys: [String] = CodingKeys.allCases.map(\.rawValue)

    /// A message with every field given.
    public init(
        sensor: String, sequence: UInt64, startTimeMicroseconds: Int64, endTimeMicroseconds: Int64,
        eventCount: Int, classIndex: Int, label: String, confidence: Double, probabilities: [Double],
        entropy: Double, mutualInformation: Double, agreement: Double, abstained: Bool, ensembleSize: Int,
        model: String, droppedMessages: UInt64, shedFrames: Int = 0, complete: Bool = true,
        latencyMicroseconds: Int64
    ) {
        self.sensor = sensor
        self.sequence = sequence
        self.startTimeMicroseconds = startTimeMicroseconds
        self.endTimeMicroseconds = endTimeMicroseconds
        self.eventCount = eventCount
        self.classIndex = classIndex
        self.label = label
        self.confidence = confidence
        self.probabilities = probabilities
        self.entropy = entropy
        self.mutualInformation = mutualInformation
        self.agreement = agreement
        self.abstained = abstained
        self.ensembleSize = ensembleSize
        self.model = model
        self.droppedMessages = droppedMessages
        self.shedFrames = shedFrames
        self.complete = complete
        self.latencyMicroseconds = latencyMicroseconds
    }

    /// The message for an ensemble ``Decision``: class, probabilities, uncertainty and abstention come
    /// from it; `labels` names the classes (a class without a name is labelled by its index).
    public init(
        sensor: SensorName, sequence: UInt64, startTimeMicroseconds: Int64, endTimeMicroseconds: Int64,
        eventCount: Int, decision: Decision, labels: [String], model: String, droppedMessages: UInt64,
        shedFrames: Int = 0, complete: Bool = true, latencyMicroseconds: Int64
    ) {
        let c = decision.predictedClass
        self.init(
            sensor: sensor.rawValue, sequence: sequence, startTimeMicroseconds: startTimeMicroseconds,
            endTimeMicroseconds: endTimeMicroseconds, eventCount: eventCount, classIndex: c,
            label: labels.indices.contains(c) ? labels[c] : String(c), confidence: decision.confidence,
            probabilities: decision.probabilities, entropy: decision.predictiveEntropy,
            mutualInformation: decision.mutualInformation, agreement: decision.agreement,
            abstained: decision.abstained, ensembleSize: decision.drawCount, model: model,
            droppedMessages: droppedMessages, shedFrames: shedFrames, complete: complete,
            latencyMicroseconds: latencyMicroseconds)
    }

    /// The topic prefix of predictions.
    public static let topicPrefix = "predictions/"

    /// The topic frame `predictions/<sensor>`.
    public static func topic(for sensor: SensorName) -> [UInt8] { Array((topicPrefix + sensor.rawValue).utf8) }

    /// The compact, key-sorted JSON object (frame 2). Throws if a number is not finite.
    public func json() throws -> [UInt8] { try MessageJSON.encode(self) }

    /// Both frames: topic and JSON. Throws if a number is not finite or the sensor name is invalid.
    public func frames() throws -> [[UInt8]] {
        guard let name = SensorName(sensor) else {
            throw WireRejection(.sensorName, "\"\(sensor)\" is not a valid sensor name")
        }
        return [Self.topic(for: name), try json()]
    }

    /// Decodes a prediction from its JSON frame (for subscribers and tests).
    public static func decode(json: [UInt8]) throws -> PredictionMessage {
        try MessageJSON.decode(PredictionMessage.self, from: json)
    }
}
