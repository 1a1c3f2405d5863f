import ArgumentParser
import EventStream

/// `--format` choice for reading recordings: a format or `auto` (detect from header and file name).
enum FormatChoice: String, ExpressibleByArgument, CaseIterable {
    case auto, nmnist, evt2, evt3, dat, aedat4, aedat3

    var format: EventFormat? { EventFormat(rawValue: rawValue) }
}

/// Options shared by commands that read a recording.
struct RecordingOptions: ParsableArguments {
    @Option(help: "Input format: \(FormatChoice.allCases.map(\.rawValue).joined(separator: "|")).")
    var format: FormatChoice = .auto

    @Option(help: "Sensor width in pixels (with --height); overrides the file's header, needed for formats without one.")
    var width: Int?

    @Option(help: "Sensor height in pixels; overrides the file's header.")
    var height: Int?

    func validate() throws {
        if (width == nil) != (height == nil) { throw ValidationError("give both --width and --height, or neither") }
        if let width, let height, width <= 0 || height <= 0 || width > 65536 || height > 65536 {
            throw ValidationError("--width and --height must be between 1 and 65536")
        }
    }

    var geometry: SensorGeometry? {
        guard let width, let height else { return nil }
        return SensorGeometry(width: width, height: height)
    }

    func read(_ path: String) throws -> EventRecording {
        try EventFileReader.read(path, format: format.format, geometry: geometry)
    }
}
