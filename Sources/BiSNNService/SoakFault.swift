/// A fault `bisnn soak` injects into a running `bisnnd`, one every `--fault-interval`, cycling through
/// ``allCases`` in this order. The two that raise bisnnd's resident memory come first (an overload fills its
/// input queues, a reload builds a new ensemble), so that a 10-minute soak with a fault a minute runs
/// both once before the middle memory sample and again after it: memory that grows with every repetition shows.
/// Each fault is logged in the report with when it ran and what it did; what it costs is accounted for under a
/// reason of its own (see ``SoakReport``).
public enum SoakFault: String, Sendable, Hashable, Codable, CaseIterable {
    /// For a few seconds every sensor sends at several times its rate. The service may fall behind (PUSH
    /// senders are held back) and, past its `sensor.max_lag_ms`, shed frames, which it counts.
    case overload
    /// SIGHUP: bisnnd rereads its (unchanged) configuration and model. Open segments are decided with the old
    /// model; the reload must succeed (`bisnnd_reloads_total{result="ok"}` goes up).
    case reload
    /// A sensor's sender goes away and comes back: once the service has counted every message sent so far,
    /// its PUSH socket is closed (linger 0) and a new one connected, and its sequence numbers start again at
    /// 0 without START, in the middle of a recording's segment. The service must count a restart (which
    /// closes the open segment, as START would) and lose nothing.
    case publisherRestart = "publisher_restart"
    /// The soak's own SUB socket is closed for a few seconds while traffic goes on, then reopened. The
    /// predictions published meanwhile are lost to the soak; how many is measured from the first status
    /// message after the reconnection (its per-sensor `decisions` against the predictions received).
    case subscriberGap = "subscriber_gap"
    /// A burst of malformed messages, a seeded few of each: bad magic and a coordinate off the sensor on a
    /// tracked sensor (its `malformed` map: `magic`, `coordinates`), a message of two frames and one with an
    /// invalid sensor name (the top-level `malformed` map: `frame_count`, `sensor_name`). The status must show
    /// exactly these counts.
    case malformedBurst = "malformed_burst"
    /// An EVT 3.0 stream cut mid-word: a recording sent as EVT 3.0 words on a sensor of its own, one message
    /// of it first sent with its last byte cut off (rejected whole, `count_mismatch`, not numbered), then
    /// resent whole. After the rejection bisnnd resynchronises the stream: the events before the resent
    /// message's first time word are dropped and counted (`unsynced_events`); every other event is accepted.
    case evt3Cut = "evt3_cut"

    /// A short name for tables: `publisher restart`, `subscriber gap`, ...
    public var title: String {
        switch self {
        case .publisherRestart: "publisher restart"
        case .subscriberGap: "subscriber gap"
        case .reload: "SIGHUP reload"
        case .malformedBurst: "malformed burst"
        case .overload: "overload burst"
        case .evt3Cut: "EVT3 cut mid-word"
        }
    }

    /// One sentence on what the fault does, for the report.
    public var summary: String {
        switch self {
        case .publisherRestart:
            "a sensor's PUSH socket closed and reopened mid-segment, sequence numbers restarting at 0 without START"
        case .subscriberGap:
            "the soak's SUB socket closed for a while and reopened; predictions published meanwhile are lost"
        case .reload:
            "SIGHUP: configuration and model reread; open segments decided with the old model"
        case .malformedBurst:
            "bad magic, wrong frame count, coordinates off the sensor, invalid sensor name: counted exactly"
        case .overload:
            "every sensor at several times its rate for a few seconds"
        case .evt3Cut:
            "an EVT 3.0 message cut mid-word (count_mismatch), then resent whole; events before its next time word unsynced"
        }
    }

    /// The fault run `index` (0-based) of a soak: the kinds in order, over and over.
    public static func scheduled(_ index: Int) -> SoakFault { allCases[index % allCases.count] }
}

/// One fault as it ran: when, how long, what it did and whether it did what it should.
public struct SoakFaultRecord: Sendable, Hashable, Codable {
    /// The fault.
    public var kind: SoakFault
    /// When it started, seconds since sending began.
    public var atSeconds: Double
    /// How long it lasted (the gap, the burst, the barrier before a restart, the reload), in seconds.
    public var seconds: Double
    /// The sensor it touched, if one.
    public var sensor: String?
    /// What happened, in words.
    public var detail: String
    /// Whether it did what it should (a refused reload, a restart whose barrier timed out, a gap never closed:
    /// false).
    public var ok: Bool
    /// bisnnd's resident memory (VmRSS) when the fault ended, in bytes.
    public var residentBytes: Int

    /// A record; see the properties.
    public init(
        kind: SoakFault, atSeconds: Double, seconds: Double = 0, sensor: String? = nil, detail: String, ok: Bool,
        residentBytes: Int = 0
    ) {
        self.kind = kind
        self.atSeconds = atSeconds
        self.seconds = seconds
        self.sensor = sensor
        self.detail = detail
        self.ok = ok
        self.residentBytes = residentBytes
    }
}
