import ArgumentParser
import EventStream
import Foundation

/// `bisnn render`: an event recording accumulated into a PNG picture.
struct RenderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Render a recording's events as a PNG (ON amber, OFF blue), optionally in time slices.",
        discussion: """
            The window (default: first to last event) is cut into --slices equal parts drawn left to \
            right; for N-MNIST recordings --slices 3 shows one saccade per slice.
            """
    )

    @Argument(help: "Recording to render (any format bisnn reads).")
    var file: String

    @Option(help: "Input format: auto or one of \(EventFormat.allCases.map(\.rawValue).joined(separator: ", ")).")
    var format: String = "auto"

    @Option(help: "Number of equal time slices, laid out side by side.")
    var slices: Int = 1

    @Option(help: "Output pixels per sensor pixel.")
    var scale: Int = 8

    @Option(help: "Sensor width (with --height); default: from the file, else from the events.")
    var width: Int?

    @Option(help: "Sensor height (with --width).")
    var height: Int?

    @Option(help: "Window start, microseconds (default: first event).")
    var start: Int64?

    @Option(help: "Window end, microseconds, exclusive (default: just after the last event).")
    var end: Int64?

    @Option(help: "Events at a pixel that give the full colour.")
    var saturation: Int = 3

    @Option(help: "Output PNG file.")
    var out: String

    func validate() throws {
        if format != "auto" && EventFormat(rawValue: format) == nil {
            throw ValidationError("unknown format '\(format)'")
        }
        if (width == nil) != (height == nil) { throw ValidationError("give both --width and --height") }
        if let width, let height, width < 1 || height < 1 || width > 4096 || height > 4096 {
            throw ValidationError("--width and --height must be 1...4096")
        }
        if slices < 1 || slices > 64 { throw ValidationError("--slices must be 1...64") }
        if scale < 1 || scale > 64 { throw ValidationError("--scale must be 1...64") }
        if saturation < 1 { throw ValidationError("--saturation must be positive") }
        if let start, let end, end <= start { throw ValidationError("--end must be after --start") }
    }

    func run() throws {
        let explicit = width.flatMap { w in height.map { SensorGeometry(width: w, height: $0) } }
        let recording = try EventFileReader.read(file, format: EventFormat(rawValue: format), geometry: explicit)
        let events = recording.events
        let geometry = explicit ?? recording.geometry ?? Self.inferredGeometry(events, format: recording.format)
        let pictureWidth = (geometry.width * slices + slices - 1) * scale, pictureHeight = geometry.height * scale
        guard geometry.width <= 4096, geometry.height <= 4096, pictureWidth * pictureHeight <= 1 << 25 else {
            throw RenderFailure(
                description: "\(file): a \(geometry) sensor gives a \(pictureWidth)x\(pictureHeight) picture, "
                    + "over the 2^25-pixel limit; lower --scale or --slices")
        }
        var renderer = EventImageRenderer(geometry: geometry, scale: scale, slices: slices, saturation: saturation)
        if start != nil || end != nil {
            let span = renderer.resolvedWindow(for: events)
            let lo = start ?? span.lowerBound, hi = end ?? span.upperBound
            guard hi > lo else { throw ValidationError("empty window \(lo)..<\(hi)") }
            renderer.window = lo..<hi
        }
        let picture = renderer.render(events)
        do {
            try Data(picture.png()).write(to: URL(fileURLWithPath: out))
        } catch {
            throw RenderFailure(description: "\(out): cannot write: \(error.localizedDescription)")
        }
        let window = renderer.resolvedWindow(for: events)
        print("\(out): \(picture.width)x\(picture.height), \(events.count) events of a \(geometry) sensor, "
              + "window \(window.lowerBound)..<\(window.upperBound) µs in \(slices) slice(s)")
    }

    /// N-MNIST files carry no geometry: 34x34 when the events fit, else the events' extent.
    private static func inferredGeometry(_ events: EventBuffer, format: EventFormat) -> SensorGeometry {
        let (maxX, maxY) = events.withColumns { _, x, y, _ in (Int(x.max() ?? 0), Int(y.max() ?? 0)) }
        if format == .nmnist && maxX < 34 && maxY < 34 { return SensorGeometry(width: 34, height: 34) }
        return SensorGeometry(width: maxX + 1, height: maxY + 1)
    }
}

/// A failure while rendering, reported with the file concerned.
private struct RenderFailure: Error, CustomStringConvertible {
    var description: String
}
