import Logging
import Metrics
import Prometheus
import ServiceLifecycle

/// What `bisnnd` runs once its configuration is loaded: the ``InferenceService`` in a swift-service-lifecycle
/// `ServiceGroup` that shuts down gracefully on SIGTERM and SIGINT (SIGHUP is the service's own: reload), and
/// the process's exit status.
///
/// | status | meaning |
/// |---|---|
/// | 0 | stopped by SIGTERM or SIGINT after draining |
/// | 69 (`EX_UNAVAILABLE`) | a socket could not be bound or connected (``ServiceStartError``): systemd retries |
/// | 78 (`EX_CONFIG`) | a configuration error (at start, before this runs: ``ConfigurationError``) |
/// | 1 | the service failed while running (its input thread ended) |
public enum ServiceDaemon {
    /// Bootstraps swift-metrics with a Prometheus factory over a new registry and returns the registry, for the
    /// `/metrics` endpoint (`metrics.enabled`). Call once, before ``run(loaded:environment:logger:notifier:additionalServices:)``.
    public static func bootstrapPrometheusMetrics() -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        // Decision latencies are a few hundred µs to a few ms: buckets from 100 µs (the default starts at 5 ms).
        factory.durationHistogramBuckets["bisnnd_decision_latency_seconds"] = [
            .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
            .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
            .milliseconds(250), .seconds(1),
        ]
        MetricsSystem.bootstrap(factory)
        return registry
    }

    /// Runs the service until it is stopped; returns the exit status (see the table above). A graceful stop
    /// that outlasts `service.stop_timeout_s` by two seconds is escalated to cancellation.
    public static func run(
        loaded: LoadedServiceConfiguration, environment: [String: String], logger: Logger,
        notifier: SystemdNotifier = SystemdNotifier(), additionalServices: [any Service] = []
    ) async -> Int32 {
        let service = InferenceService(loaded: loaded, environment: environment, logger: logger, notifier: notifier)
        var configuration = ServiceGroupConfiguration(
            services: [
                .init(service: service, successTerminationBehavior: .gracefullyShutdownGroup,
                      failureTerminationBehavior: .cancelGroup, serviceName: "bisnnd")
            ] + additionalServices.map { .init(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        configuration.maximumGracefulShutdownDuration = loaded.configuration.service.stopTimeout + .seconds(2)
        let group = ServiceGroup(configuration: configuration)
        do {
            try await group.run()
            return 0
        } catch let error as ServiceStartError {
            logger.critical("\(error)")
            return ServiceStartError.exitCode
        } catch {
            logger.critical("\(error)")
            return 1
        }
    }
}
