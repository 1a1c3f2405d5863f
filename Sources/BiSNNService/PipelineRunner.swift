import EventStream
import Foundation
import Logging
import ZeroMQ

/// The one place the sensors' pipelines change: batches from the input thread, idle and status ticks, reloads
/// and the final drain are all calls on this actor, so they never overlap. Each closed decision is published
/// as soon as the message that closed it has been processed (not at the end of its batch), its `latency_us`
/// measured just before it is handed to the output thread.
actor PipelineRunner {
    private var pipelines: SensorPipelines
    private let sender: ZMQSenderThread
    private var metrics: ServiceMetrics
    private let heartbeat: PipelineHeartbeat
    /// CURVE's ZAP side, for `refused_connections` in status.
    private let authentication: ServiceAuthentication
    private let logger: Logger
    private let startedAt: ContinuousClock.Instant
    private var predictions: [SensorPipelines.Prediction] = []
    /// Rejection logging, rate-limited per reason (a bounded set): when each reason was last logged at notice level,
    /// and how many of it went to debug level since.
    private var rejectionLog: [WireRejection.Reason: (last: ContinuousClock.Instant, suppressed: Int)] = [:]
    /// At most one notice line per rejection reason in this interval, whatever the senders invent.
    static let rejectionLogInterval: Duration = .seconds(10)
    private var lastMetricsSync: ContinuousClock.Instant
    /// Messages dropped unprocessed because a stop ran out of time.
    private(set) var abandonedMessages = 0
    /// The current shedding episode (docs/protocol.md 4.6): since when messages are shed, how many, the
    /// largest lag seen; nil while the pipeline keeps up.
    private var shedding: (since: ContinuousClock.Instant, messages: Int, maxLag: Duration)?
    /// When a shedding episode was last logged at notice level, and episodes since then not logged.
    private var lastSheddingLog: ContinuousClock.Instant?
    private var unloggedEpisodes = 0

    init(
        pipelines: SensorPipelines, sender: ZMQSenderThread, metrics: ServiceMetrics, heartbeat: PipelineHeartbeat,
        authentication: ServiceAuthentication, logger: Logger, startedAt: ContinuousClock.Instant
    ) {
        self.authentication = authentication
        self.pipelines = pipelines
        self.sender = sender
        self.metrics = metrics
        self.heartbeat = heartbeat
        self.logger = logger
        self.startedAt = startedAt
        lastMetricsSync = startedAt
    }

    /// The configuration in use.
    var configuration: ServiceConfiguration { pipelines.configuration }

    /// Processes a batch, message by message, publishing decisions as they close; each message's latency counts
    /// from when the reader thread received it. A message whose lag (now − receipt) is over `sensor.max_lag_ms`
    /// is shed: decoded and binned, its frames not stepped. With `abandonAfter` (a stop under way), messages
    /// left when that instant passes are dropped and counted.
    func process(_ batch: [ZMQReaderThread.Message], abandonAfter: ContinuousClock.Instant? = nil) {
        let maxLag = pipelines.configuration.sensor.maxLag
        for (index, message) in batch.enumerated() {
            let now = ContinuousClock.now
            if let abandonAfter, now >= abandonAfter {
                abandonedMessages += batch.count - index
                return
            }
            var shed = false
            if let maxLag {
                let lag = now - message.receivedAt
                shed = lag > maxLag
                noteLag(lag, shed: shed, limit: maxLag, now: now)
            }
            if let rejection = pipelines.accept(
                message.parts, receivedAt: message.receivedAt, shed: shed, into: &predictions
            ) {
                log(rejection)
            }
            publishPredictions()
            heartbeat.progress()
        }
    }

    /// Idle resets due by `now`, and a metrics update at most once a second.
    func tick(now: ContinuousClock.Instant) {
        pipelines.closeIdleSensors(now: now, into: &predictions)
        publishPredictions()
        if now - lastMetricsSync >= .seconds(1) {
            syncMetrics(now: now)
        }
    }

    /// Publishes a status message; returns a one-line summary for systemd's STATUS=.
    @discardableResult
    func publishStatus(now: ContinuousClock.Instant) -> String {
        let status = makeStatus(now: now)
        metrics.sync(status, publishDropped: sender.droppedCount)
        lastMetricsSync = now
        do {
            sender.send(try status.frames())
        } catch {
            logger.error("cannot encode the status message: \(error)")
        }
        let decisions = status.sensors.values.reduce(0) { $0 + $1.decisions }
        let events = status.sensors.values.reduce(0) { $0 + $1.events }
        return "serving \(status.sensors.count) sensor\(status.sensors.count == 1 ? "" : "s"), \(decisions) "
            + "decisions, \(events) events; model \(status.model)"
    }

    /// Swaps in a reloaded configuration and model (open segments are first decided with the old model).
    func reload(_ loaded: LoadedServiceConfiguration, model: ModelIdentifier) throws(ConfigurationError) {
        try pipelines.reload(loaded, model: model, now: .now, into: &predictions)
        publishPredictions()
        metrics.countReload(applied: true)
    }

    /// Counts a refused reload.
    func countRefusedReload() {
        metrics.countReload(applied: false)
    }

    /// The drain's last step: open segments are decided and published, then a last status message.
    func shutdown() {
        pipelines.closeAll(cause: .shutdown, now: .now, into: &predictions)
        publishPredictions()
        publishStatus(now: .now)
    }

    private func makeStatus(now: ContinuousClock.Instant) -> StatusMessage {
        var status = pipelines.status(
            service: pipelines.configuration.service.name, version: BisnnVersion.current,
            time: Date().timeIntervalSince1970, uptimeSeconds: SensorPipelines.seconds(now - startedAt), now: now)
        status.refusedConnections = authentication.refusedConnections
        return status
    }

    private func syncMetrics(now: ContinuousClock.Instant) {
        metrics.sync(makeStatus(now: now), publishDropped: sender.droppedCount)
        lastMetricsSync = now
    }

    private func publishPredictions() {
        guard !predictions.isEmpty else { return }
        for prediction in predictions {
            var message = prediction.message
            let latency = ContinuousClock.now - prediction.receivedAt
            let (seconds, attoseconds) = latency.components
            message.latencyMicroseconds = max(0, seconds * 1_000_000 + attoseconds / 1_000_000_000_000)
            do {
                let frames = try message.frames()
                if !sender.send(frames) {
                    logger.debug("prediction for \(prediction.sensor) dropped: the output queue is full")
                }
                metrics.recordLatency(microseconds: message.latencyMicroseconds)
            } catch {
                logger.error("cannot encode a prediction for \(prediction.sensor): \(error)")
            }
        }
        predictions.removeAll(keepingCapacity: true)
    }

    /// Follows shedding episodes: the first shed message starts one, the first message within the limit ends
    /// it. Each end is logged at notice level (at most one line every ``rejectionLogInterval``; episodes in
    /// between are summed into the next line).
    private func noteLag(_ lag: Duration, shed: Bool, limit: Duration, now: ContinuousClock.Instant) {
        if shed {
            if var episode = shedding {
                episode.messages += 1
                episode.maxLag = max(episode.maxLag, lag)
                shedding = episode
            } else {
                shedding = (now, 1, lag)
                logger.debug("falling behind: a message waited \(lag) (sensor.max_lag_ms \(limit)); shedding frames")
            }
            return
        }
        guard let episode = shedding else { return }
        shedding = nil
        if let last = lastSheddingLog, now - last < Self.rejectionLogInterval {
            unloggedEpisodes += 1
            logger.debug("caught up after shedding the frames of \(episode.messages) message(s)")
            return
        }
        let more = unloggedEpisodes > 0 ? " (\(unloggedEpisodes) shorter episode(s) since the last such line)" : ""
        unloggedEpisodes = 0
        lastSheddingLog = now
        let line = "overload: shed the spike frames of \(episode.messages) message(s) over \(now - episode.since), "
            + "lag up to \(episode.maxLag) (sensor.max_lag_ms \(limit)); caught up\(more). Decisions touched are "
            + "published with complete: false; per-sensor totals in status shed_frames"
        logger.notice("\(line)")
    }

    private func log(_ rejection: WireRejection) {
        let now = ContinuousClock.now
        if let entry = rejectionLog[rejection.reason], now - entry.last < Self.rejectionLogInterval {
            rejectionLog[rejection.reason] = (entry.last, entry.suppressed + 1)
            logger.debug("\(rejection)")
            return
        }
        let suppressed = rejectionLog[rejection.reason]?.suppressed ?? 0
        rejectionLog[rejection.reason] = (now, 0)
        let more = suppressed > 0 ? " (and \(suppressed) more \(rejection.reason.name) since the last such line)" : ""
        logger.notice("\(rejection)\(more) (at most one line a reason every \(Self.rejectionLogInterval); the rest at debug level)")
    }
}
