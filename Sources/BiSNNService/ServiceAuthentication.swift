import Logging
import Synchronization
import ZeroMQ

/// The running service's side of CURVE (`security.curve.*`): the ZAP handler ``ServiceSockets`` started, the keys
/// in use, refusals logged (``ConnectionRefusalLog``) and counted for the status message.
///
/// ``InferenceService`` makes one per run and hands it to ``PipelineRunner``, whose status messages report
/// `refused_connections` (the `bisnnd_refused_connections_total` metric follows from them). Without CURVE it
/// holds nothing and reports 0.
final class ServiceAuthentication: Sendable {
    /// How often refusals are taken from the authenticator to be logged.
    static let logPeriod: Duration = .seconds(1)

    private struct State {
        var authenticator: ZMQAuthenticator?
        var keys: ServiceCurveKeys?
    }

    private let state = Mutex(State())

    /// Nothing attached yet.
    init() {}

    /// Attaches the ZAP handler the sockets were opened with, and their keys; returns the line to log at start,
    /// nil without CURVE.
    func attach(_ authenticator: ZMQAuthenticator?, keys: ServiceCurveKeys?, endpoints: [String]) -> String? {
        state.withLock { $0 = State(authenticator: authenticator, keys: keys) }
        guard authenticator != nil, let keys else { return nil }
        let count = keys.allowedClients.count
        return "CURVE on: \(endpoints.joined(separator: ", ")) accept only CURVE clients with one of the \(count) "
            + "allowed key\(count == 1 ? "" : "s") of \(keys.allowedClientsFile); server public key "
            + "\(keys.serverPublicKeyText) (clients need it)"
    }

    /// Connections refused so far.
    var refusedConnections: Int { state.withLock { $0.authenticator?.refusedCount ?? 0 } }

    /// Connections let in so far.
    var acceptedConnections: Int { state.withLock { $0.authenticator?.acceptedCount ?? 0 } }

    /// Logs refusals, rate-limited, every ``logPeriod`` until the task is cancelled (then once more).
    func logRefusals(to logger: Logger) async {
        guard let authenticator = state.withLock({ $0.authenticator }) else { return }
        var log = ConnectionRefusalLog()
        while true {
            let cancelled = (try? await Task.sleep(for: Self.logPeriod)) == nil
            let (refusals, dropped) = authenticator.takeRefusals()
            for line in log.lines(for: refusals, dropped: dropped, now: .now) {
                logger.log(level: line.level, "\(line.text)")
            }
            if cancelled { return }
        }
    }

    /// Applies the keys of a reloaded configuration: the allow-list at once. A changed server key or CURVE
    /// turned on or off takes a restart (``ServiceReloadDifference`` names those settings); the lines to log.
    func reload(_ reloaded: ServiceCurveKeys?) -> [(level: Logger.Level, text: String)] {
        state.withLock { state in
            guard let authenticator = state.authenticator, let running = state.keys, let reloaded else { return [] }
            var lines: [(level: Logger.Level, text: String)] = []
            if reloaded.serverPublicKey != running.serverPublicKey {
                lines.append((.warning, "reload: the key in security.curve.secret_key_file changed and takes effect at "
                    + "the next restart; the sockets keep server key \(running.serverPublicKeyText)"))
            }
            do {
                try authenticator.setAllowedKeys(reloaded.allowedClients)
            } catch {
                return lines + [(.error, "reload: the CURVE allow-list was not applied: \(error)")]
            }
            state.keys = ServiceCurveKeys(
                serverPublicKey: running.serverPublicKey, serverSecretKey: running.serverSecretKey,
                allowedClients: reloaded.allowedClients, allowedClientsFile: reloaded.allowedClientsFile)
            let count = reloaded.allowedClients.count
            lines.append((.info, "reload: CURVE allow-list applied: \(count) allowed client key\(count == 1 ? "" : "s") "
                + "of \(reloaded.allowedClientsFile) (was \(running.allowedClients.count))"))
            return lines
        }
    }
}
