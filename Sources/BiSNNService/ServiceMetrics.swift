import Metrics

/// The service's metrics (swift-metrics), made through the `MetricsFactory` given at start, so whatever backend
/// the executable bootstraps (Prometheus for `metrics.enabled`) exports them.
///
/// Totals that the status message also reports (messages, events, frames, decisions, rejections, ...) are not
/// counted on the hot path: ``sync(_:)`` adds what changed since the previous call, and the service calls it
/// with every status or idle tick. Latency is recorded per prediction.
///
/// | metric | type | labels |
/// |---|---|---|
/// | `bisnnd_messages_total` | counter | `sensor` |
/// | `bisnnd_events_total` | counter | `sensor` |
/// | `bisnnd_late_events_total` | counter | `sensor` |
/// | `bisnnd_frames_total` | counter | `sensor` |
/// | `bisnnd_shed_frames_total` | counter | `sensor` |
/// | `bisnnd_decisions_total` | counter | `sensor` |
/// | `bisnnd_lost_messages_total` | counter | `sensor` |
/// | `bisnnd_rejected_messages_total` | counter | `sensor` (empty when untracked), `reason` |
/// | `bisnnd_decision_latency_seconds` | timer | |
/// | `bisnnd_published_dropped_total` | counter | | (predictions and status dropped by the output queue)
/// | `bisnnd_sensors` | gauge | |
/// | `bisnnd_reloads_total` | counter | `result` (`ok`, `refused`) |
/// | `bisnnd_refused_connections_total` | counter | | (CURVE: the status's `refused_connections`)
struct ServiceMetrics {
    private let factory: any MetricsFactory
    private let latency: Metrics.Timer
    private let publishDropped: Counter
    private let sensors: Gauge
    private let reloadsOK: Counter
    private let reloadsRefused: Counter
    private var perSensor: [String: SensorCounters] = [:]
    private var rejections: [String: Counter] = [:]
    private var reported = Totals()
    private var reportedPublishDropped = 0
    private let refusedConnections: Counter
    private var reportedRefusedConnections = 0

    /// The totals last reported, by sensor and for rejections.
    private struct Totals {
        var sensors: [String: StatusMessage.SensorStatus] = [:]
        var unattributed: [String: Int] = [:]
    }

    private struct SensorCounters {
        var messages: Counter
        var events: Counter
        var lateEvents: Counter
        var frames: Counter
        var shedFrames: Counter
        var decisions: Counter
        var lostMessages: Counter
    }

    init(factory: any MetricsFactory) {
        self.factory = factory
        latency = Metrics.Timer(label: "bisnnd_decision_latency_seconds", dimensions: [], factory: factory)
        publishDropped = Counter(label: "bisnnd_published_dropped_total", dimensions: [], factory: factory)
        sensors = Gauge(label: "bisnnd_sensors", dimensions: [], factory: factory)
        reloadsOK = Counter(label: "bisnnd_reloads_total", dimensions: [("result", "ok")], factory: factory)
        reloadsRefused = Counter(label: "bisnnd_reloads_total", dimensions: [("result", "refused")], factory: factory)
        refusedConnections = Counter(label: "bisnnd_refused_connections_total", dimensions: [], factory: factory)
    }

    /// Records one prediction's latency.
    func recordLatency(microseconds: Int64) {
        latency.recordMicroseconds(microseconds)
    }

    /// Counts a reload, applied or refused.
    func countReload(applied: Bool) {
        (applied ? reloadsOK : reloadsRefused).increment()
    }

    /// Adds what changed in `status` (and in the output queue's drop count) since the previous call.
    mutating func sync(_ status: StatusMessage, publishDropped dropped: Int) {
        sensors.record(status.sensors.count)
        if dropped > reportedPublishDropped {
            publishDropped.increment(by: Int64(dropped - reportedPublishDropped))
        }
        reportedPublishDropped = dropped
        Self.add(refusedConnections, status.refusedConnections, reportedRefusedConnections)
        reportedRefusedConnections = max(reportedRefusedConnections, status.refusedConnections)
        for (name, entry) in status.sensors {
            let before = reported.sensors[name] ?? StatusMessage.SensorStatus()
            let counters = sensorCounters(name)
            Self.add(counters.messages, entry.messages, before.messages)
            Self.add(counters.events, entry.events, before.events)
            Self.add(counters.lateEvents, entry.lateEvents, before.lateEvents)
            Self.add(counters.frames, entry.frames, before.frames)
            Self.add(counters.shedFrames, entry.shedFrames, before.shedFrames)
            Self.add(counters.decisions, entry.decisions, before.decisions)
            Self.add(counters.lostMessages, Int(clamping: entry.lostMessages), Int(clamping: before.lostMessages))
            for (reason, count) in entry.malformed {
                Self.add(rejectionCounter(sensor: name, reason: reason), count, before.malformed[reason] ?? 0)
            }
        }
        for (reason, count) in status.malformed {
            Self.add(rejectionCounter(sensor: "", reason: reason), count, reported.unattributed[reason] ?? 0)
        }
        reported = Totals(sensors: status.sensors, unattributed: status.malformed)
    }

    /// Adds `now - before` when positive (totals restart when a reload re-tracks the sensors).
    private static func add(_ counter: Counter, _ now: Int, _ before: Int) {
        if now > before { counter.increment(by: Int64(now - before)) }
    }

    private mutating func sensorCounters(_ name: String) -> SensorCounters {
        if let existing = perSensor[name] { return existing }
        let labels = [("sensor", name)]
        let made = SensorCounters(
            messages: Counter(label: "bisnnd_messages_total", dimensions: labels, factory: factory),
            events: Counter(label: "bisnnd_events_total", dimensions: labels, factory: factory),
            lateEvents: Counter(label: "bisnnd_late_events_total", dimensions: labels, factory: factory),
            frames: Counter(label: "bisnnd_frames_total", dimensions: labels, factory: factory),
            shedFrames: Counter(label: "bisnnd_shed_frames_total", dimensions: labels, factory: factory),
            decisions: Counter(label: "bisnnd_decisions_total", dimensions: labels, factory: factory),
            lostMessages: Counter(label: "bisnnd_lost_messages_total", dimensions: labels, factory: factory))
        perSensor[name] = made
        return made
    }

    private mutating func rejectionCounter(sensor: String, reason: String) -> Counter {
        let key = sensor + "\u{0}" + reason
        if let existing = rejections[key] { return existing }
        let made = Counter(
            label: "bisnnd_rejected_messages_total", dimensions: [("sensor", sensor), ("reason", reason)],
            factory: factory)
        rejections[key] = made
        return made
    }
}
