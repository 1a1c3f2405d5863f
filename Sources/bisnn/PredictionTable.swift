import BiSNNService
import Foundation

/// The table `bisnn listen` prints: a header before the first prediction, then one row a prediction. The
/// abstained column says `partial` for an incomplete decision (input lost or shed; it abstains too).
///
/// ```text
/// sensor        seq      label         confidence  mutual_info  agreement  abstained  latency_ms
/// cam0          258      3                  0.820        0.050      0.900  no              1.840
/// ```
struct PredictionTable {
    private var headerPrinted = false

    static let header = row(
        "sensor", "seq", "label", "confidence", "mutual_info", "agreement", "abstained", "latency_ms")

    /// The lines to print for `message`: the header first time, then its row.
    mutating func lines(for message: PredictionMessage) -> [String] {
        var lines: [String] = []
        if !headerPrinted {
            lines.append(Self.header)
            headerPrinted = true
        }
        lines.append(Self.row(for: message))
        return lines
    }

    /// The row of one prediction.
    static func row(for m: PredictionMessage) -> String {
        row(
            m.sensor, String(m.sequence), m.label, fixed(m.confidence), fixed(m.mutualInformation),
            fixed(m.agreement), m.complete ? (m.abstained ? "yes" : "no") : "partial",
            fixed(Double(m.latencyMicroseconds) / 1000))
    }

    /// One line for a status message: service, uptime, and each sensor's counters.
    static func statusLine(_ s: StatusMessage) -> String {
        let sensors = s.sensors.sorted { $0.key < $1.key }.map { name, x in
            var text = "\(name): \(x.messages) messages, \(x.events) events, \(x.decisions) decisions"
            if x.lostMessages > 0 { text += ", \(x.lostMessages) lost" }
            if x.lateEvents > 0 { text += ", \(x.lateEvents) late events" }
            if x.shedFrames > 0 { text += ", \(x.shedFrames) frames shed" }
            let rejected = x.malformed.values.reduce(0, +)
            if rejected > 0 { text += ", \(rejected) rejected" }
            return text
        }
        let unattributed = s.malformed.values.reduce(0, +)
        return "status \(s.service): up \(fixed(s.uptimeSeconds, digits: 1)) s, model \(s.model); "
            + (sensors.isEmpty ? "no sensor" : sensors.joined(separator: "; "))
            + (unattributed > 0 ? "; \(unattributed) malformed" : "")
    }

    private static func row(
        _ sensor: String, _ seq: String, _ label: String, _ confidence: String, _ mutualInformation: String,
        _ agreement: String, _ abstained: String, _ latency: String
    ) -> String {
        pad(sensor, 13) + pad(seq, 9) + pad(label, 13) + padLeft(confidence, 10) + padLeft(mutualInformation, 13)
            + padLeft(agreement, 11) + "  " + pad(abstained, 9) + padLeft(latency, 12)
    }

    private static func fixed(_ value: Double, digits: Int = 3) -> String {
        String(format: "%.\(digits)f", value)
    }

    /// `text` then spaces up to `width` characters, and at least one space.
    private static func pad(_ text: String, _ width: Int) -> String {
        text + String(repeating: " ", count: max(1, width - text.count))
    }

    /// Spaces then `text`, `width` characters in all.
    private static func padLeft(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }
}
