import ArgumentParser
import BiSNNService
import EventStream
import Foundation
import Logging

/// bisnnd, the inference daemon (the service itself lives in BiSNNService).
///
/// `bisnnd [--config PATH] [--check-config] [--version]`: loads and checks the configuration and the model, then
/// serves (``ServiceDaemon``) until SIGTERM or SIGINT. Exit status: 0 after a graceful stop, 78 (EX_CONFIG) for
/// any configuration error (the systemd units do not restart it), 69 (EX_UNAVAILABLE) when a socket cannot be
/// bound, 1 when the service fails while running.
@main
struct BisnndCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bisnnd",
        abstract: "Event-camera inference service: binary spiking network ensembles over ZeroMQ.",
        discussion: """
            Settings come from the YAML file given with --config; BISNND_<SECTION>_<KEY> environment variables \
            override them (BISNND_MODEL_PATH, BISNND_INPUT_PULL_BIND as a comma-separated list). A bad \
            configuration or model exits with status 78 (EX_CONFIG), naming the key.
            """,
        version: BisnnVersion.current)

    @Option(name: .long, help: "The configuration file (YAML).")
    var config = "/etc/bisnnd/bisnnd.yaml"

    @Flag(name: .customLong("check-config"), help: "Check the configuration and load the model, print a one-line summary or the error, and exit 0 or 78.")
    var checkConfig = false

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let loaded: LoadedServiceConfiguration
        do {
            loaded = try LoadedServiceConfiguration.load(file: config, environment: environment)
        } catch {
            if checkConfig {
                FileHandle.standardError.write(Data("bisnnd: \(error)\n".utf8))
            } else {
                // The configuration's log settings are unknown: write as the environment suggests.
                let format = JournalLogHandler.Format.detect(environment: environment)
                let logger = Logger(label: "bisnnd") { JournalLogHandler(label: $0, format: format) }
                logger.error("configuration error: \(error)")
            }
            throw ExitCode(ConfigurationError.exitCode)
        }
        if checkConfig {
            for warning in loaded.warnings {
                FileHandle.standardError.write(Data("bisnnd: warning: \(warning)\n".utf8))
            }
            print("bisnnd: configuration OK: \(loaded.summary)")
            return
        }

        let log = loaded.configuration.log
        let format = JournalLogHandler.Format.resolve(log.format, environment: environment)
        LoggingSystem.bootstrap { label in
            JournalLogHandler(label: label, format: format, logLevel: log.level)
        }
        let logger = Logger(label: "bisnnd")
        logger.info("configuration loaded: \(loaded.summary)")
        for warning in loaded.warnings {
            logger.warning("\(warning)")
        }

        // Metrics: swift-metrics goes to a Prometheus registry served at /metrics when metrics.enabled (else to
        // no backend). An address that cannot be bound stops the daemon like an input endpoint would (69).
        var metricsEndpoints: [MetricsEndpoint] = []
        if loaded.configuration.metrics.enabled {
            let registry = ServiceDaemon.bootstrapPrometheusMetrics()
            do {
                metricsEndpoints.append(try MetricsEndpoint(listen: loaded.configuration.metrics.listen, registry: registry))
            } catch {
                logger.error("\(error)")
                throw ExitCode(69)
            }
            logger.info("metrics at http://\(metricsEndpoints[0].address)/metrics")
        }

        let status = await ServiceDaemon.run(
            loaded: loaded, environment: environment, logger: logger, additionalServices: metricsEndpoints)
        if status != 0 { throw ExitCode(status) }
    }
}
