import ArgumentParser
import BiSNN
import EventStream
import Foundation

/// `bisnn inspect FILE`: format, counts, duration, event rate, geometry, and what the decoder skipped; for a
/// model file (`.safetensors`), its description, training metadata and sizes (``ModelInspectReport``).
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Describe an event recording (format, geometry, counts, time span, event rate) or a model file.")

    @Argument(help: "The recording, or a model file (.safetensors).")
    var file: String

    @OptionGroup var recording: RecordingOptions

    @Flag(help: "Print one JSON object (keys as in ../shared/data/formats/reference.json).")
    var json = false

    func run() throws {
        if ModelInspectReport.looksLikeModel(file, detectFormat: recording.format == .auto) {
            let report = ModelInspectReport(file: file, model: try NetworkModel.load(from: file))
            print(json ? try report.json() : report.text)
            return
        }
        let rec = try recording.read(file)
        let report = InspectReport(file: file, recording: rec)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(report.text)
        }
    }
}

/// What `bisnn inspect` reports about a recording.
struct InspectReport: Encodable {
    var file: String
    var format: String
    var summary: EventSummary
    var width: Int?
    var height: Int?
    var counters: DecoderCounters

    init(file: String, recording: EventRecording) {
        self.file = file
        format = recording.format.rawValue
        summary = EventSummary(recording.events)
        width = recording.geometry?.width
        height = recording.geometry?.height
        counters = recording.counters
    }

    enum CodingKeys: String, CodingKey {
        case file, format, width, height, duration_us, event_rate, skipped
    }

    func encode(to encoder: any Encoder) throws {
        try summary.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(file, forKey: .file)
        try c.encode(format, forKey: .format)
        try c.encodeIfPresent(width, forKey: .width)
        try c.encodeIfPresent(height, forKey: .height)
        try c.encode(summary.durationMicroseconds, forKey: .duration_us)
        try c.encode(summary.eventRate, forKey: .event_rate)
        try c.encode(counters.fields, forKey: .skipped)
    }

    var text: String {
        let s = summary
        var lines = [
            "file        \(file)",
            "format      \(format)",
            "geometry    \(width.map { "\($0)x\(height!)" } ?? "unknown (not in the file; pass --width/--height)")",
            "events      \(s.events)  (ON \(s.on), OFF \(s.off))",
        ]
        if s.events > 0 {
            lines += [
                "time        \(s.tFirst) .. \(s.tLast) µs (min \(s.tMin), max \(s.tMax))",
                "duration    \(formatDuration(s.durationMicroseconds))",
                "event rate  \(formatRate(s.eventRate))",
                "x range     \(s.xMin) .. \(s.xMax)",
                "y range     \(s.yMin) .. \(s.yMax)",
            ]
        }
        let skipped = counters.fields.filter { $0.value != 0 }.sorted { $0.key < $1.key }
        lines.append("skipped     " + (skipped.isEmpty ? "nothing" : skipped.map { "\($0.key) \($0.value)" }.joined(separator: ", ")))
        return lines.joined(separator: "\n")
    }
}

func formatDuration(_ us: Int64) -> String {
    us >= 1_000_000 ? String(format: "%.3f s", Double(us) / 1e6) : String(format: "%.3f ms", Double(us) / 1e3)
}

func formatRate(_ perSecond: Double) -> String {
    perSecond >= 1e6 ? String(format: "%.2f M events/s", perSecond / 1e6) : String(format: "%.1f k events/s", perSecond / 1e3)
}

extension DecoderCounters {
    /// The counters by snake_case name, for reports.
    var fields: [String: Int] {
        [
            "out_of_bounds": outOfBounds, "unknown_words": unknownWords,
            "timestamp_regressions": timestampRegressions, "time_wraps": timeWraps,
            "skipped_packets": skippedPackets, "events_before_time_base": eventsBeforeTimeBase,
            "time_base_resets": timeBaseResets, "invalid_events": invalidEvents,
        ]
    }
}
