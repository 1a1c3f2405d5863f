import ArgumentParser
import EventStream
import Foundation

/// `bisnn convert IN OUT`: rewrite a recording in another format.
struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert a recording to N-MNIST .bin or EVT 2.0 .raw.")

    @Argument(help: "The recording to read.")
    var input: String

    @Argument(help: "The file to write.")
    var output: String

    @OptionGroup var recording: RecordingOptions

    @Option(help: "Output format: nmnist|evt2 (default: from the output's extension, .bin or .raw).")
    var to: String?

    func run() throws {
        let target: EventFormat
        if let to {
            guard let f = EventFormat(rawValue: to), EventFormat.writable.contains(f) else {
                throw ValidationError("cannot write format '\(to)'; writable: nmnist, evt2")
            }
            target = f
        } else if output.hasSuffix(".bin") {
            target = .nmnist
        } else if output.hasSuffix(".raw") {
            target = .evt2
        } else {
            throw ValidationError("cannot tell the output format from '\(output)'; pass --to nmnist|evt2")
        }
        let rec = try recording.read(input)
        var encoder = target.makeEncoder(geometry: rec.geometry)!
        var bytes: [UInt8] = []
        do {
            try encoder.encode(rec.events, into: &bytes)
            try encoder.finish(into: &bytes)
        } catch let error as EventEncodingError {
            throw ValidationError("\(input): cannot write as \(target): \(error)")
        }
        guard FileManager.default.createFile(atPath: output, contents: Data(bytes)) else {
            throw ValidationError("cannot write \(output)")
        }
        FileHandle.standardError.write(Data("wrote \(rec.events.count) events as \(target) to \(output) (\(bytes.count) bytes)\n".utf8))
    }
}
