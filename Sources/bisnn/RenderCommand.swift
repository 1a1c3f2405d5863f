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

    @OptionGroup var recording: RecordingOptions

    @Option(help: "Number of equal time slices, laid out side by side.")
    var slices: Int = 1

    @Option(help: "Output pixels per sensor pixel.")
    var scale: Int = 8

    @Option(help: "Window start, microseconds (default: first event).")
    var start: Int64?

    @Option(help: "Window end, microseconds, exclusive (default: just after the last event).")
    var end: Int64?

    @Option(help: "Events at a pixel that give the full colour.")
    var saturation: Int = 3

    @Option(help: "Output PNG file.")
    var out: String

    func validate() throws {
        if slices < 1 || slices > 64 { throw ValidationError("--slices must be 1...64") }
        if scale < 1 || scale > 64 { throw ValidationError("--scale must be 1...64") }
        if saturation < 1 { throw ValidationError("--saturation must be positive") }
        if let start, let end, end <= start { throw ValidationError("--end must be after --start") }
    }

    func run() throws {
        let read = try recording.read(file)
        let events = read.events
        let geometry = read.geometry ?? Self.inferredGeometry(events, format: read.format)
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
