import BiSNN
import EventStream
import Foundation

/// A configuration ready to serve: every value checked, the model loaded, its predictor built and the
/// configured sensor mapped onto the model's input.
///
/// ``load(file:environment:)`` is what the daemon runs at start, for `--check-config`, and on SIGHUP: it returns
/// all of it or throws, touching nothing shared, so a reload whose configuration or model is bad is refused
/// and the running one keeps serving; a good one is swapped in whole.
public struct LoadedServiceConfiguration: Sendable {
    /// The checked configuration.
    public let configuration: ServiceConfiguration
    /// The configuration file it was read from.
    public let file: String
    /// The model file, made absolute against the working directory at load time.
    public let modelPath: String
    /// The model's description (input geometry, classes, time base).
    public let network: NetworkDescription
    /// The model's training metadata.
    public let modelMetadata: ModelMetadata
    /// The predictor the configuration asks for (`model.predictor`, `model.ensemble_size`, `model.seed`,
    /// `model.abstain.*`), its draws made.
    public let predictor: EnsemblePredictor
    /// How events of the configured sensor become the model's input frames (`sensor.*`).
    public let frames: SpikeFrameConfiguration
    /// Explicit choices to log at start (``ServiceConfiguration/warnings``).
    public let warnings: [ConfigurationWarning]
    /// The CURVE keys `security.curve.*` names, read and checked; nil while CURVE is off.
    public let curve: ServiceCurveKeys?

    /// Reads and checks the configuration (``ServiceConfiguration/load(file:environment:)``), loads the model,
    /// builds the predictor and maps the sensor onto the model. Errors name the key: `model.path` for a model
    /// that cannot be loaded, `model.predictor` for an ensemble of a model without a posterior, `sensor.*` for
    /// a geometry that cannot feed the model, `decisions.*` for a window shorter than the model's burn-in,
    /// `security.curve.*` for a key file that cannot be used (``ServiceCurveKeys``). The model must be a regular
    /// file; key files are checked as ``ConfiguredFile`` says.
    public static func load(
        file: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigurationError) -> LoadedServiceConfiguration {
        let (configuration, provenance) = try ServiceConfiguration.parse(file: file, environment: environment)
        func fail(_ code: ConfigurationError.Code, _ key: String, _ why: String) -> ConfigurationError {
            ConfigurationError(code, key: key, why, source: provenance.source(of: key))
        }
        let path = configuration.model.path
        let modelPath = path.hasPrefix("/")
            ? path
            : URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath,
                                                         isDirectory: true)).standardizedFileURL.path
        let model: NetworkModel
        do {
            // A FIFO or device would hang or feed the loader forever: only a regular file is opened.
            try ConfiguredFile.checkRegularFile(modelPath, maxBytes: NetworkModel.maxFileSize, environment: environment)
        } catch {
            throw fail(.invalidModel, "model.path", "\(error)")
        }
        do {
            model = try NetworkModel.load(from: modelPath)
        } catch {
            throw fail(.invalidModel, "model.path", "\(error)")
        }
        let network = model.network
        if configuration.model.predictor == .ensemble && network.weightKind != .bernoulli {
            throw fail(.invalidModel, "model.predictor",
                       "an ensemble draws from a Bernoulli posterior, and \(path) holds \(network.weightKind.rawValue) "
                           + "weights (use mode)")
        }
        let predictor: EnsemblePredictor
        do {
            predictor = try EnsemblePredictor(
                model: model, kind: configuration.model.predictorKind,
                abstention: configuration.model.abstentionRule)
        } catch {
            throw fail(.invalidModel, "model.predictor", "\(error)")
        }
        let frames: SpikeFrameConfiguration
        do {
            frames = try configuration.sensor.frameConfiguration(for: network)
        } catch {
            var error = error
            error.source = provenance.source(of: error.key)
            throw error
        }
        try checkDecisions(configuration.decisions, network: network, fail: fail)
        let curve = try ServiceCurveKeys.load(
            configuration.security.curve, environment: environment, source: { provenance.source(of: $0) })
        return LoadedServiceConfiguration(
            configuration: configuration, file: file, modelPath: modelPath, network: network,
            modelMetadata: model.metadata, predictor: predictor, frames: frames, warnings: configuration.warnings,
            curve: curve)
    }

    /// Decision timing against the model's time base: a window must outlast the burn-in, an idle reset must be
    /// at least one time step.
    static func checkDecisions(
        _ decisions: ServiceConfiguration.Decisions, network: NetworkDescription,
        fail: (ConfigurationError.Code, String, String) -> ConfigurationError
    ) throws(ConfigurationError) {
        let bin = network.binWidthMicroseconds
        if decisions.mode == .window {
            let steps = decisions.windowMilliseconds * 1000 / bin
            guard steps > network.burnInSteps else {
                throw fail(.invalidValue, "decisions.window_ms",
                           "a \(decisions.windowMilliseconds) ms window is \(steps) steps of \(bin) µs, not more than "
                               + "the model's burn-in of \(network.burnInSteps) steps: every decision would be empty")
            }
        }
        guard decisions.idleResetMilliseconds * 1000 >= bin else {
            throw fail(.invalidValue, "decisions.idle_reset_ms",
                       "\(decisions.idleResetMilliseconds) ms is shorter than one \(bin) µs time step of the model")
        }
    }

    /// One line for `--check-config` and the start log: file, model, predictor, sensor mapping, endpoints.
    public var summary: String {
        let c = configuration
        let predictorText = switch c.model.predictor {
        case .ensemble: "ensemble of \(c.model.ensembleSize) draws (seed \(c.model.seed))"
        case .mode: "mode network"
        }
        let crop = frames.crop.map { "crop \($0)" } ?? "whole sensor"
        let inputs = (c.input.pullBind.map { "pull \($0)" } + c.input.subConnect.map { "sub \($0)" })
            .joined(separator: ", ")
        let clients = curve?.allowedClients.count ?? 0
        let curveText = curve == nil ? "" : "; CURVE, \(clients) allowed client key\(clients == 1 ? "" : "s")"
        return "\(file): model \(c.model.path) (\(network.input) -> \(network.classCount) classes, "
            + "\(network.weightKind.rawValue) weights), \(predictorText); sensor \(frames.sensor) (\(crop), "
            + "downsample \(frames.downsample)); decisions \(c.decisions.mode.rawValue); input \(inputs); "
            + "output \(c.output.pubBind)"
            + (c.metrics.enabled ? "; metrics \(c.metrics.listen)" : "")
            + curveText
            + (warnings.isEmpty ? "" : "; \(warnings.count) warning\(warnings.count == 1 ? "" : "s")")
    }
}
