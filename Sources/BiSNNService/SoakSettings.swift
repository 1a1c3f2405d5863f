import Foundation

/// What a soak run does (`bisnn soak`): which daemon and model, which recordings, for how long, how fast, how
/// often a fault.
public struct SoakSettings: Sendable, Hashable {
    /// The `bisnnd` executable to start.
    public var daemon: String
    /// The model file it serves (absolute: the daemon's working directory is not the caller's concern).
    public var model: String
    /// A recording or folder of recordings (``ReplayPlaylist``), replayed over and over.
    public var data: String
    /// How long to send traffic.
    public var duration: Duration = .seconds(600)
    /// Sensors sending at once (`soak-0`, `soak-1`, ...), each its own PUSH socket.
    public var sensors = 4
    /// Events per second of wall time, all sensors together (overload bursts aside).
    public var eventsPerSecond: Double = 500_000
    /// Time between faults (the first comes after one interval).
    public var faultInterval: Duration = .seconds(60)
    /// Seeds the recordings' order per sensor, the sensors faults pick and the sizes of malformed bursts.
    public var seed: UInt64 = 1
    /// How many times the rate an overload burst sends.
    public var overloadFactor: Double = 5
    /// `service.status_interval_s` of the daemon.
    public var statusInterval: Duration = .milliseconds(500)
    /// Bound on resident-memory growth: the end sample may exceed the larger of the middle sample and the
    /// high-water mark then (VmHWM) by at most the larger of this many bytes and ``memoryGrowthFraction`` of it.
    public var memoryGrowthBytes = 16 << 20
    /// The fraction of ``memoryGrowthBytes``'s description.
    public var memoryGrowthFraction = 0.10

    /// Settings for `daemon` serving `model` with the recordings of `data`; the rest at their defaults.
    public init(daemon: String, model: String, data: String) {
        self.daemon = daemon
        self.model = model
        self.data = data
    }

    /// How long an overload burst lasts: a quarter of the fault interval, 0.5 to 5 s.
    public var overloadLength: Duration { Self.clamp(faultInterval / 4, .milliseconds(500), .seconds(5)) }
    /// How long the subscriber stays away: a quarter of the fault interval, 0.5 to 3 s.
    public var subscriberGapLength: Duration { Self.clamp(faultInterval / 4, .milliseconds(500), .seconds(3)) }

    /// The sensor names: `soak-0` ... `soak-<n-1>`.
    public var sensorNames: [SensorName] { (0..<sensors).map { SensorName("soak-\($0)")! } }
    /// The sensor the EVT 3.0 cut fault streams on.
    public static let evt3Sensor = SensorName("soak-evt3")!

    static func clamp(_ value: Duration, _ low: Duration, _ high: Duration) -> Duration { min(high, max(low, value)) }

    /// Parses a length of time: seconds as a plain number (`600`, `2.5`), or a number with a unit `ms`, `s`,
    /// `m` or `h` (`250ms`, `30s`, `10m`, `1h`). Nil for anything else, zero or negative.
    public static func parseDuration(_ text: String) -> Duration? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        let units: [(suffix: String, seconds: Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        var number = Substring(trimmed), scale = 1.0
        for unit in units where trimmed.hasSuffix(unit.suffix) {
            number = trimmed.dropLast(unit.suffix.count)
            scale = unit.seconds
            break
        }
        guard let value = Double(number), value.isFinite, value > 0, value * scale <= 1e9 else { return nil }
        return .milliseconds(Int64((value * scale * 1000).rounded()))
    }

    /// `600 s`, `2.5 s`: a duration in seconds for reports.
    static func text(_ duration: Duration) -> String {
        let seconds = SensorPipelines.seconds(duration)
        return seconds == seconds.rounded() ? "\(Int(seconds)) s" : String(format: "%.1f s", seconds)
    }
}
