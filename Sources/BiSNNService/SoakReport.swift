import Foundation

/// What a soak (`bisnn soak`) found: traffic sent against what bisnnd counted, per sensor and in all;
/// decisions published against received; every loss by reason and what is left unaccounted (0 for a pass);
/// the faults as they ran; bisnnd's resident memory at start, middle and end; decision latency percentiles;
/// and the checks that decide pass or fail. Encodes as the `--json` report (snake_case keys).
public struct SoakReport: Sendable, Codable {
    /// The run as configured and as it went.
    public struct Run: Sendable, Codable {
        /// When sending began, ISO 8601 UTC.
        public var started: String
        /// The machine's load average (1, 5, 15 minutes) just before the daemon started.
        public var loadAverage: [Double]
        /// The `--duration` asked for, in seconds.
        public var durationSeconds: Double
        /// How long traffic was actually sent, in seconds (a fault under way at the end may stretch it).
        public var sentSeconds: Double
        /// Sensors sending (not counting the EVT 3.0 fault's own sensor).
        public var sensors: Int
        /// Events per second asked for, all sensors together.
        public var targetEventsPerSecond: Double
        /// Events per second sent on average (less when bisnnd held the senders back).
        public var sentEventsPerSecond: Double
        /// Each sensor's replay speed, times real time.
        public var speed: Double
        /// `--fault-interval`, in seconds.
        public var faultIntervalSeconds: Double
        /// `--overload-factor`.
        public var overloadFactor: Double
        /// `--seed`.
        public var seed: UInt64
        /// The daemon executable.
        public var daemon: String
        /// Its version, from its status messages.
        public var daemonVersion: String
        /// The model file.
        public var model: String
        /// The model's identifier, from bisnnd's status (`name@digest`).
        public var modelIdentifier: String
        /// The recordings replayed (`--data`).
        public var data: String
        /// How many recordings that is.
        public var recordings: Int
    }

    /// One sensor's traffic, what bisnnd counted of it, and its decisions.
    public struct SensorAccount: Sendable, Codable {
        /// The sensor (`total` for the sum).
        public var sensor: String
        /// Messages sent on its topic, injected malformed ones included.
        public var sentMessages = 0
        /// Messages bisnnd counted (`messages`, rejected ones included).
        public var countedMessages = 0
        /// bisnnd's `lost_messages`: messages missing in sequence gaps.
        public var lostMessages = 0
        /// bisnnd's `sequence_gaps`.
        public var sequenceGaps = 0
        /// Restarts bisnnd saw (`restarts`).
        public var restarts = 0
        /// Publisher restarts the soak made.
        public var expectedRestarts = 0
        /// Rejected messages bisnnd counted (its `malformed` map, all reasons).
        public var rejectedMessages = 0
        /// Messages the soak injected to be rejected on this sensor.
        public var injectedRejections = 0
        /// Events in the valid messages sent.
        public var sentEvents = 0
        /// Events bisnnd accepted (`events`).
        public var acceptedEvents = 0
        /// Events bisnnd dropped for going back in time (`late_events`).
        public var lateEvents = 0
        /// Events bisnnd dropped while resynchronising an EVT stream after lost input (`unsynced_events`: those
        /// before the next time word after a rejected or lost message).
        public var unsyncedEvents = 0
        /// Events missing from valid messages that were lost or rejected (by difference: which events such a
        /// message held is not known to bisnnd).
        public var eventsInLostMessages = 0
        /// Spike frames binned (`frames`).
        public var frames = 0
        /// Spike frames shed unprocessed because bisnnd fell behind (`shed_frames`).
        public var shedFrames = 0
        /// Predictions bisnnd published (`decisions`).
        public var decisionsPublished = 0
        /// Predictions the soak received.
        public var decisionsReceived = 0
        /// Predictions published while the soak's subscriber was away (``SoakFault/subscriberGap``).
        public var decisionsLostInGaps = 0
        /// Predictions lost otherwise: published − received − lost in gaps (output queue, high-water marks).
        public var decisionsLostOtherwise = 0
        /// Messages no reason explains: sent − counted − lost (0 for a pass).
        public var unaccountedMessages = 0
        /// Events no reason explains (0 for a pass).
        public var unaccountedEvents = 0

        /// An account for `sensor`, all zero.
        public init(sensor: String) {
            self.sensor = sensor
        }
    }

    /// Rejections of one reason in one place (a sensor's `malformed` map, or `(top level)`).
    public struct Rejection: Sendable, Codable, Hashable {
        /// A sensor's name, or `(top level)`.
        public var place: String
        /// The rejection reason (docs/protocol.md 4.5).
        public var reason: String
        /// Messages the soak injected to be rejected so.
        public var injected: Int
        /// Messages bisnnd counted as rejected so.
        public var counted: Int
    }

    /// Every loss, by reason, over the whole run.
    public struct Losses: Sendable, Codable {
        /// Messages rejected (all reasons, injected ones included).
        public var rejectedMessages = 0
        /// Rejected messages that were not injected (valid traffic refused).
        public var rejectedValidMessages = 0
        /// Events dropped late (going back in time).
        public var lateEvents = 0
        /// Events dropped while an EVT stream resynchronised after lost input (`unsynced_events`).
        public var unsyncedEvents = 0
        /// Sequence gaps.
        public var sequenceGaps = 0
        /// Messages missing in those gaps.
        public var lostMessages = 0
        /// Events of lost or rejected valid messages (by difference).
        public var eventsInLostMessages = 0
        /// Spike frames shed (their events were accepted; the frames were not stepped).
        public var shedFrames = 0
        /// Predictions lost while the soak's subscriber was away.
        public var predictionsLostInGaps = 0
        /// Predictions and status messages dropped by bisnnd's output queue (`bisnnd_published_dropped_total`;
        /// nil when the metrics could not be read).
        public var outputQueueDropped: Int?
        /// Messages no reason explains.
        public var unaccountedMessages = 0
        /// Events no reason explains.
        public var unaccountedEvents = 0
        /// Predictions no reason explains (lost outside subscriber gaps beyond the output queue's drops).
        public var unaccountedDecisions = 0
        /// Rejections counted but not injected, or injected but not counted (summed differences).
        public var unaccountedRejections = 0
        /// Everything unaccounted (`unaccounted` in JSON); 0 for a pass.
        public var total: Int { unaccountedMessages + unaccountedEvents + unaccountedDecisions + unaccountedRejections }

        enum CodingKeys: String, CodingKey {
            case rejectedMessages, rejectedValidMessages, lateEvents, unsyncedEvents, sequenceGaps, lostMessages, eventsInLostMessages
            case shedFrames, predictionsLostInGaps, outputQueueDropped, unaccountedMessages, unaccountedEvents
            case unaccountedDecisions, unaccountedRejections, unaccounted
        }

        /// No loss yet.
        public init() {}

        /// Reads the JSON form (``total`` is written as `unaccounted` and recomputed when read).
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            rejectedMessages = try c.decode(Int.self, forKey: .rejectedMessages)
            rejectedValidMessages = try c.decode(Int.self, forKey: .rejectedValidMessages)
            lateEvents = try c.decode(Int.self, forKey: .lateEvents)
            unsyncedEvents = try c.decode(Int.self, forKey: .unsyncedEvents)
            sequenceGaps = try c.decode(Int.self, forKey: .sequenceGaps)
            lostMessages = try c.decode(Int.self, forKey: .lostMessages)
            eventsInLostMessages = try c.decode(Int.self, forKey: .eventsInLostMessages)
            shedFrames = try c.decode(Int.self, forKey: .shedFrames)
            predictionsLostInGaps = try c.decode(Int.self, forKey: .predictionsLostInGaps)
            outputQueueDropped = try c.decodeIfPresent(Int.self, forKey: .outputQueueDropped)
            unaccountedMessages = try c.decode(Int.self, forKey: .unaccountedMessages)
            unaccountedEvents = try c.decode(Int.self, forKey: .unaccountedEvents)
            unaccountedDecisions = try c.decode(Int.self, forKey: .unaccountedDecisions)
            unaccountedRejections = try c.decode(Int.self, forKey: .unaccountedRejections)
        }

        /// Writes the JSON form, ``total`` as `unaccounted`.
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(rejectedMessages, forKey: .rejectedMessages)
            try c.encode(rejectedValidMessages, forKey: .rejectedValidMessages)
            try c.encode(lateEvents, forKey: .lateEvents)
            try c.encode(unsyncedEvents, forKey: .unsyncedEvents)
            try c.encode(sequenceGaps, forKey: .sequenceGaps)
            try c.encode(lostMessages, forKey: .lostMessages)
            try c.encode(eventsInLostMessages, forKey: .eventsInLostMessages)
            try c.encode(shedFrames, forKey: .shedFrames)
            try c.encode(predictionsLostInGaps, forKey: .predictionsLostInGaps)
            try c.encode(outputQueueDropped, forKey: .outputQueueDropped)
            try c.encode(unaccountedMessages, forKey: .unaccountedMessages)
            try c.encode(unaccountedEvents, forKey: .unaccountedEvents)
            try c.encode(unaccountedDecisions, forKey: .unaccountedDecisions)
            try c.encode(unaccountedRejections, forKey: .unaccountedRejections)
            try c.encode(total, forKey: .unaccounted)
        }
    }

    /// bisnnd's resident memory (VmRSS), in bytes.
    public struct Memory: Sendable, Codable {
        /// After its first status message, before any traffic.
        public var startBytes = 0
        /// Halfway through the sending, or later once every kind of fault has run (``middleAtSeconds``).
        public var middleBytes = 0
        /// When the middle sample was taken, seconds since sending began: at half the duration, or later once
        /// every kind of fault has run (at the end of the sending when that never happened).
        public var middleAtSeconds = 0.0
        /// The kernel's high-water mark (VmHWM) when the middle sample was taken: the most bisnnd had needed by
        /// then, transient peaks (a reload, an overload) included.
        public var middlePeakBytes = 0
        /// After the last decisions, before SIGTERM.
        public var endBytes = 0
        /// The largest of the samples taken every second.
        public var maxBytes = 0
        /// The kernel's high-water mark (VmHWM) at the end.
        public var peakBytes = 0
        /// Samples taken.
        public var samples = 0
        /// The most the end sample may be: the larger of the middle sample and ``middlePeakBytes``, plus the
        /// larger of 16 MiB and 10 % of that. Memory a transient peak of the first half leaves resident later
        /// (the allocator keeps what a second reload or overload reuses) stays within it; a leak does not.
        public var limitBytes = 0
        /// Whether the end sample stayed within ``limitBytes``.
        public var ok: Bool { endBytes <= limitBytes }

        /// Nothing sampled yet.
        public init() {}
    }

    /// Decision latency percentiles (`latency_us` of the predictions received), in µs.
    public struct Latency: Sendable, Codable, Hashable {
        /// Predictions measured.
        public var count = 0
        /// Median.
        public var p50: Int64 = 0
        /// 90th percentile.
        public var p90: Int64 = 0
        /// 99th percentile.
        public var p99: Int64 = 0
        /// 99.9th percentile.
        public var p999: Int64 = 0
        /// The largest.
        public var max: Int64 = 0
        /// When the slowest prediction arrived, seconds since sending began.
        public var maxAtSeconds: Double?

        /// No prediction.
        public init() {}

        /// The percentiles of `samples` (nearest rank); `arrivals` (seconds, one per sample) say when the slowest
        /// arrived.
        public init(_ samples: [Int64], arrivals: [Double]? = nil) {
            let sorted = samples.sorted()
            count = sorted.count
            guard !sorted.isEmpty else { return }
            if let arrivals, arrivals.count == samples.count, let slowest = samples.indices.max(by: { samples[$0] < samples[$1] }) {
                maxAtSeconds = arrivals[slowest]
            }
            func rank(_ q: Double) -> Int64 {
                sorted[Swift.min(sorted.count - 1, Swift.max(0, Int((q * Double(sorted.count)).rounded(.up)) - 1))]
            }
            p50 = rank(0.5)
            p90 = rank(0.9)
            p99 = rank(0.99)
            p999 = rank(0.999)
            max = sorted.last!
        }
    }

    /// One pass/fail check.
    public struct Check: Sendable, Codable, Hashable {
        /// What is checked: `messages`, `events`, `rejections`, `decisions`, `restarts`, `faults`, `memory`,
        /// `bisnnd` (and `run` when the run stopped early).
        public var name: String
        /// Whether it passed.
        public var ok: Bool
        /// The figures behind it.
        public var detail: String
    }

    /// How bisnnd ended.
    public struct Daemon: Sendable, Codable {
        /// Its exit status (or the signal that killed it), nil if it never ended.
        public var exitStatus: Int32?
        /// Whether ``exitStatus`` is a signal.
        public var signalled = false
        /// Whether it ended before the soak stopped it.
        public var diedEarly = false
        /// When the soak found it gone, seconds since sending began.
        public var diedAtSeconds: Double?
        /// Whether it outlasted SIGTERM by 30 s and was killed.
        public var killed = false
        /// Log lines at warning level or worse.
        public var warnings = 0
        /// Its last log lines, when something failed.
        public var logTail: [String] = []
    }

    /// The run.
    public var run: Run
    /// Per sensor, in name order.
    public var sensors: [SensorAccount]
    /// The sum over the sensors.
    public var total: SensorAccount
    /// Every (place, reason) that was injected or counted.
    public var rejections: [Rejection]
    /// Every loss by reason, and what is unaccounted.
    public var losses: Losses
    /// The faults, in the order they ran.
    public var faults: [SoakFaultRecord]
    /// bisnnd's resident memory.
    public var memory: Memory
    /// Latency of all predictions received.
    public var latency: Latency
    /// Latency of the predictions that arrived outside the faults (from each fault's start to a second after its
    /// end).
    public var steadyLatency: Latency
    /// Predictions received with `complete: false`.
    public var incompleteDecisions: Int
    /// Status messages received.
    public var statusMessages: Int
    /// How bisnnd ended.
    public var daemon: Daemon
    /// The pass/fail checks.
    public var checks: [Check]
    /// Whether every check passed.
    public var passed: Bool

    /// The JSON report (keys snake_case and sorted, pretty-printed).
    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted]
        return try encoder.encode(self)
    }

    /// Reads a report written by ``json()``.
    public static func decode(json: Data) throws -> SoakReport {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(SoakReport.self, from: json)
    }
}
