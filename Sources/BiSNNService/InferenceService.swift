import Logging
import Metrics
import ServiceLifecycle
import Synchronization
import UnixSignals
import ZeroMQ

#if canImport(Glibc)
/// glibc's `malloc_trim(3)` (declared in `<malloc.h>`, which the Glibc module does not bring in).
@_silgen_name("malloc_trim")
private func glibcMallocTrim(_ pad: Int) -> Int32
#endif

/// `bisnnd` as a swift-service-lifecycle `Service`: receives event messages, runs the sensors' pipelines and
/// publishes predictions and status (docs/protocol.md), until a graceful shutdown.
///
/// **Threads and tasks.** Socket work stays on ZeroMQ's dedicated threads: the input thread
/// (``ZMQReaderThread``) owns every PULL and SUB socket and hands over batches of messages; the output thread
/// (``ZMQSenderThread``) owns the PUB socket. Inside `run()`, child tasks:
/// - the **pipeline loop** takes each batch and processes it on the ``PipelineRunner`` actor (decode, bin, step
///   every ensemble draw, publish), one batch at a time: while it works, batches wait (at most two), then the
///   input thread stops reading and messages wait in libzmq;
/// - the **ticker** closes idle sensors (`decisions.idle_reset_ms` of wall time), publishes status every
///   `service.status_interval_s` (and systemd's STATUS=), and updates the metrics;
/// - the **reloader** waits for SIGHUP;
/// - with CURVE (`security.curve.enabled`), the **refusal logger** logs refused connections, rate-limited
///   (``ServiceAuthentication``);
/// - the **watchdog** pings systemd (`WATCHDOG=1`) every ``SystemdNotifier/watchdogPingInterval`` while the
///   pipeline is waiting for input or making progress (``PipelineHeartbeat``); a stuck pipeline stops the
///   pings.
///
/// **Overload** (docs/protocol.md 4.6). A message processed more than `sensor.max_lag_ms` after the input
/// thread received it is decoded and binned but its frames are shed (``PipelineRunner``), so the pipeline
/// catches up; the decisions they touch are published incomplete. Memory stays bounded: two batches of at
/// most 64 messages and `input.queue_bytes` bytes wait (then the input thread stops reading and messages
/// queue in libzmq up to `input.receive_hwm` per socket: PUSH senders block, PUB publishers drop, seen as
/// sequence gaps), and at most `sensor.queue_frames` frames per sensor wait between binner and networks
/// (``SensorPipeline``).
///
/// **Reload (SIGHUP).** RELOADING=1, then ``LoadedServiceConfiguration/load(file:environment:)``. A bad
/// configuration or model is logged as an error and refused: the running one keeps serving. A good one is
/// swapped in whole: open segments are first decided with the old model, then every sensor gets fresh
/// networks. `service.*`, `model.*`, `decisions.*`, `sensor.*` and `input.max_sensors` apply at once; socket
/// settings (`input.pull_bind`, `input.sub_connect`, `input.receive_hwm`, `input.max_message_bytes`,
/// `output.*`), `metrics.*` and `log.*` keep their running values, and a warning names those that changed
/// and need a restart. READY=1 ends the reload either way.
///
/// **Stop (SIGTERM, SIGINT).** STOPPING=1; the input sockets are closed (unread input is dropped); the
/// batches already received are processed, so every segment whose END was received is decided and published;
/// open segments without END are then decided and published as they stand (as an idle timeout would), a last
/// status message is sent, and the output thread gets half a second to deliver. Work still left when
/// `service.stop_timeout_s` runs out is abandoned (logged).
public struct InferenceService: Service {
    private let loaded: LoadedServiceConfiguration
    private let environment: [String: String]
    private let logger: Logger
    private let notifier: SystemdNotifier
    private let metricsFactory: any MetricsFactory
    private let startedAt: ContinuousClock.Instant

    /// A service for a loaded configuration. `environment` is what reloads read the configuration with (the
    /// process's, at start); `metrics` makes the metrics (the global bootstrap unless told otherwise).
    public init(
        loaded: LoadedServiceConfiguration, environment: [String: String], logger: Logger,
        notifier: SystemdNotifier = SystemdNotifier(), metrics: any MetricsFactory = MetricsSystem.factory,
        startedAt: ContinuousClock.Instant = .now
    ) {
        self.loaded = loaded
        self.environment = environment
        self.logger = logger
        self.notifier = notifier
        metricsFactory = metrics
        self.startedAt = startedAt
    }

    public func run() async throws {
        let authentication = ServiceAuthentication()
        // Trap SIGHUP before anything else: its default action would end the process.
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        let model = ModelIdentifier(file: loaded.modelPath)
            ?? ModelIdentifier(fileName: loaded.modelPath.split(separator: "/").last.map(String.init) ?? "model", bytes: [])
        let pipelines = try SensorPipelines(loaded: loaded, model: model)
        let context: ZMQContext
        do {
            context = try ZMQContext()
        } catch {
            throw ServiceStartError(.socket, key: "input.pull_bind", endpoint: "", "cannot create a ZeroMQ context: \(error)")
        }
        let sockets: ServiceSockets
        do {
            sockets = try ServiceSockets.open(loaded.configuration, curve: loaded.curve, context: context)
        } catch {
            context.close()
            throw error
        }
        let heartbeat = PipelineHeartbeat()
        let runner = PipelineRunner(
            pipelines: pipelines, sender: sockets.sender,
            metrics: ServiceMetrics(factory: metricsFactory), heartbeat: heartbeat, authentication: authentication,
            logger: logger, startedAt: startedAt)
        let stop = StopState()
        let serving = "serving: input \(sockets.boundInputs.joined(separator: ", ")), output \(sockets.boundOutput), "
            + "model \(model), decisions \(loaded.configuration.decisions.mode.rawValue)"
        logger.info("\(serving)")
        if let curve = authentication.attach(
            sockets.authenticator, keys: loaded.curve, endpoints: sockets.boundInputs + [sockets.boundOutput])
        {
            logger.info("\(curve)")
        }
        notify { try notifier.ready(status: "serving; model \(model)") }

        let stopTimeout = loaded.configuration.service.stopTimeout
        let reader = sockets.reader
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Bool.self) { group in
                group.addTask {
                    await Self.pipelineLoop(reader.messages, runner: runner, heartbeat: heartbeat, stop: stop)
                    return true
                }
                group.addTask {
                    await self.tickerLoop(runner: runner, heartbeat: heartbeat)
                    return false
                }
                group.addTask {
                    await self.reloadLoop(hangups, runner: runner, heartbeat: heartbeat, authentication: authentication)
                    return false
                }
                group.addTask {
                    await authentication.logRefusals(to: self.logger)
                    return false
                }
                group.addTask {
                    await self.watchdogLoop(heartbeat: heartbeat)
                    return false
                }
                // Until the pipeline loop ends (its input ended: a stop, or a failed input thread).
                while let isPipelineLoop = await group.next(), !isPipelineLoop {}
                group.cancelAll()
            }
        } onGracefulShutdown: {
            // Keep half a second of the stop timeout for the last decisions and the output thread.
            stop.begin(deadline: .now + max(.zero, stopTimeout - .milliseconds(500)))
            notify { try notifier.stopping(status: "draining") }
            reader.stop()
        }

        // Asked to stop: a graceful shutdown, or the task's cancellation (the group's escalation, another
        // service's failure).
        let stopping = stop.isStopping || Task.isCancelled
        let failure = reader.error
        if let failure, !stopping {
            logger.error("the input thread failed: \(failure)")
        }
        await runner.shutdown()
        let abandoned = await runner.abandonedMessages
        if abandoned > 0 {
            logger.warning("stop timeout: \(abandoned) received message(s) were dropped unprocessed")
        }
        sockets.stop()
        context.close()
        if !stopping {
            notify { try notifier.stopping(status: "input failed") }
            throw ServiceRunError("the input thread ended: \(failure.map { "\($0)" } ?? "its sockets closed")")
        }
        logger.info("stopped")
    }

    // MARK: - Child tasks

    private static func pipelineLoop(
        _ batches: ZMQReaderThread.Batches, runner: PipelineRunner, heartbeat: PipelineHeartbeat, stop: StopState
    ) async {
        for await batch in batches {
            heartbeat.beginWork()
            await runner.process(batch, abandonAfter: stop.deadline)
            heartbeat.endWork()
        }
    }

    private func tickerLoop(runner: PipelineRunner, heartbeat: PipelineHeartbeat) async {
        var nextStatus = ContinuousClock.now + loaded.configuration.service.statusInterval
        while !Task.isCancelled {
            let configuration = await runner.configuration
            let idleCheck = max(.milliseconds(5), configuration.decisions.idleReset / 20)
            let period = min(idleCheck, configuration.service.statusInterval)
            do { try await Task.sleep(for: period) } catch { return }
            let now = ContinuousClock.now
            heartbeat.beginWork()
            await runner.tick(now: now)
            if now >= nextStatus {
                let summary = await runner.publishStatus(now: now)
                notify { try notifier.status(summary) }
                nextStatus = now + configuration.service.statusInterval
            }
            heartbeat.endWork()
        }
    }

    private func reloadLoop(
        _ hangups: UnixSignalsSequence, runner: PipelineRunner, heartbeat: PipelineHeartbeat,
        authentication: ServiceAuthentication
    ) async {
        for await _ in hangups {
            if Task.isCancelled { return }
            await reload(runner: runner, heartbeat: heartbeat, authentication: authentication)
        }
    }

    /// One SIGHUP: reload, apply or refuse. Either way, the memory the old or refused model took goes back to
    /// the system afterwards (``returnFreedMemory()``).
    private func reload(runner: PipelineRunner, heartbeat: PipelineHeartbeat, authentication: ServiceAuthentication) async {
        defer { Self.returnFreedMemory() }
        let file = loaded.file
        notify { try notifier.reloading(status: "reloading \(file)") }
        logger.info("SIGHUP: reloading \(file)")
        let result = Result { () throws(ConfigurationError) in
            try LoadedServiceConfiguration.load(file: file, environment: environment)
        }
        switch result {
        case .failure(let error):
            await runner.countRefusedReload()
            logger.error("reload refused, the running configuration keeps serving: \(error)")
            notify { try notifier.ready(status: "reload refused: \(error)") }
        case .success(let next):
            guard let model = ModelIdentifier(file: next.modelPath) else {
                await runner.countRefusedReload()
                logger.error("reload refused, the running configuration keeps serving: cannot read \(next.modelPath)")
                notify { try notifier.ready(status: "reload refused: cannot read \(next.modelPath)") }
                return
            }
            let running = await runner.configuration
            heartbeat.beginWork()
            defer { heartbeat.endWork() }
            do {
                try await runner.reload(next, model: model)
            } catch {
                await runner.countRefusedReload()
                logger.error("reload refused, the running configuration keeps serving: \(error)")
                notify { try notifier.ready(status: "reload refused: \(error)") }
                return
            }
            for warning in next.warnings { logger.warning("\(warning)") }
            for line in authentication.reload(next.curve) { logger.log(level: line.level, "\(line.text)") }
            let pending = ServiceReloadDifference(running: running, reloaded: next.configuration).restartKeys
            if !pending.isEmpty {
                let keys = pending.joined(separator: ", ")
                logger.warning("reload: \(keys) changed and take effect at the next restart; the running values stay")
            }
            logger.info("reloaded: \(next.summary); model \(model)")
            notify { try notifier.ready(status: "serving; model \(model)") }
        }
    }

    /// Hands memory freed by a reload back to the system. A reload briefly holds two models and their ensemble
    /// draws (tens of MB); glibc keeps what is freed in the arena of whichever thread freed it, so without a
    /// trim every reload on another thread would leave resident memory higher (the soak saw about 15 to 27 MiB a
    /// reload).
    private static func returnFreedMemory() {
        #if canImport(Glibc)
        _ = glibcMallocTrim(0)
        #endif
    }

    private func watchdogLoop(heartbeat: PipelineHeartbeat) async {
        guard let interval = notifier.watchdogPingInterval else { return }
        var seen = heartbeat.count
        while !Task.isCancelled {
            do { try await Task.sleep(for: interval) } catch { return }
            if heartbeat.isHealthy(since: seen) {
                notify { try notifier.watchdog() }
            } else {
                logger.warning("the pipeline made no progress for \(interval): watchdog ping withheld")
            }
            seen = heartbeat.count
        }
    }

    /// Sends a notification, logging (not throwing) a failure.
    private func notify(_ send: () throws -> Void) {
        do { try send() } catch { logger.warning("\(error)") }
    }
}

/// A stop under way: when it began and by when the remaining work is abandoned.
private final class StopState: Sendable {
    private let state = Mutex<ContinuousClock.Instant?>(nil)

    func begin(deadline: ContinuousClock.Instant) {
        state.withLock { $0 = $0 ?? deadline }
    }

    var isStopping: Bool { state.withLock { $0 != nil } }

    var deadline: ContinuousClock.Instant? { state.withLock { $0 } }
}

/// The service stopped serving without being asked to (its input thread failed).
public struct ServiceRunError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What happened.
    public var message: String

    /// An error saying `message`.
    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
