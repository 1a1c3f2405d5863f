import Logging
import ZeroMQ

/// Rate-limited logging of refused connections (CURVE): an unknown key retrying, or a flood of plaintext
/// clients, must not flood the journal. At most one warning line every ``interval``, which says how many
/// refusals went unlogged since the previous one; every other refusal is logged at debug level (the
/// authenticator's queue bounds how many of those a drain can bring).
struct ConnectionRefusalLog {
    /// At most one warning line in this interval.
    static let interval: Duration = .seconds(10)

    private var lastWarning: ContinuousClock.Instant?
    private var suppressed = 0

    /// The lines to log for `refusals` taken from the authenticator at `now`, and `dropped`, refusals that did not
    /// fit its queue.
    mutating func lines(
        for refusals: [ZMQAuthenticator.Refusal], dropped: Int, now: ContinuousClock.Instant
    ) -> [(level: Logger.Level, text: String)] {
        var lines: [(level: Logger.Level, text: String)] = []
        for refusal in refusals {
            if let lastWarning, now - lastWarning < Self.interval {
                suppressed += 1
                lines.append((.debug, "refused a connection \(refusal)"))
                continue
            }
            let more = suppressed > 0 ? " (and \(suppressed) more since the last such line)" : ""
            lines.append(
                (.warning, "refused a connection \(refusal)\(more) (at most one line every \(Self.interval); the rest at "
                    + "debug level, all counted in refused_connections)"))
            lastWarning = now
            suppressed = 0
        }
        if dropped > 0 {
            suppressed += dropped
            lines.append((.debug, "\(dropped) more refused connection(s), not itemised"))
        }
        return lines
    }
}
