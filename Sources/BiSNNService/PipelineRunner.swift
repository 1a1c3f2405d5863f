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

    init(
        pipelines: SensorPipelines, sender: ZMQSenderThread, metrics: ServiceMetrics, heartbeat: PipelineHeartbeat,
        logger: Logger, startedAt: ContinuousClock.Instant
    ) {
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
    /// from when the reader thread received it. With `abandonAfter` (a stop under way), messages left when that
    /// instant passes are dropped and counted.
    func process(_ batch: [ZMQReaderThread.Message], abandonAfter: ContinuousClock.Instant? = nil) {
        for (index, message) in batch.enumerated() {
            if let abandonAfter, ContinuousClock.now >= abandonAfter {
                abandonedMessages += batch.count - index
                return
            }
            if let rejection = pipelines.accept(message.parts, receivedAt: message.receivedAt, into: &predictions) {
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
        pipelines.status(
            service: pipelines.configuration.service.name, version: BisnnVersion.current,
            time: Date().timeIntervalSince1970, uptimeSeconds: SensorPipelines.seconds(now - startedAt), now: now)
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
