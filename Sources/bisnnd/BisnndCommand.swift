import ArgumentParser
import BiSNNService
import EventStream
import Foundation
import Logging

/// `bisnnd [--config PATH] [--check-config] [--version]`: loads and checks the configuration and the model;
/// any configuration error ends the process with status 78 (EX_CONFIG), which the systemd units do not restart.
struct BisnndCommand: ParsableCommand {
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

    func run() throws {
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
        logger.notice("service not yet implemented; exiting")
    }
}
