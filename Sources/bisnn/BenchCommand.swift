import ArgumentParser
import EventStream
import Foundation

/// `bisnn bench`: speed measurements, one core, release build. Results are rates measured in one run.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure decoding, binning and network speed (build with -c release).",
        subcommands: [EventsBench.self, NetworkBench.self],
        defaultSubcommand: EventsBench.self)
}

/// Decode throughput per format, and decode + bin throughput, on the recordings in ../shared/data.
struct EventsBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "Decode throughput per format and decode+bin throughput, in million events per second.")

    @OptionGroup var options: BenchOptions
    var data: String { options.data }
    var seconds: Double { options.seconds }
    var json: Bool { options.json }

    func run() throws {
        warnIfDebugBuild()
        var results: [BenchResult] = []
        for file in try FileManager.default.contentsOfDirectory(atPath: data + "/formats").sorted()
        where !file.hasSuffix(".json") {
            let path = data + "/formats/" + file
            let bytes = try EventFileReader.readBytes(path)
            let format = EventFormat.detect(prefix: bytes.prefix(8192), fileName: file)!
            var events = EventBuffer()
            do {  // one checked decode first, so a bad file is an error rather than a crash in the loop
                _ = try bytes.withUnsafeBytes { try EventFileReader.decode($0, format: format, into: &events) }
            } catch var error as EventDecodingError {
                error.file = path
                throw error
            }
            let rate = measure(seconds: seconds) {
                events.removeAll()
                _ = try! bytes.withUnsafeBytes { try EventFileReader.decode($0, format: format, into: &events) }
                return events.count
            }
            results.append(BenchResult(name: "decode     \(format) \(file)", eventsPerSecond: rate))
            let readRate = measure(seconds: seconds) { (try? EventFileReader.read(path, format: format).events.count) ?? 0 }
            results.append(BenchResult(name: "read       \(format) \(file) (file to events, as expelliarmus reads)",
                                       eventsPerSecond: readRate))
        }
        let nmnist = try loadFolder(data + "/nmnist-small/train")
        var events = EventBuffer()
        let folderRate = measure(seconds: seconds) {
            var total = 0
            for bytes in nmnist {
                events.removeAll()
                _ = try! bytes.withUnsafeBytes { try EventFileReader.decode($0, format: .nmnist, into: &events) }
                total += events.count
            }
            return total
        }
        results.append(BenchResult(name: "decode     nmnist nmnist-small/train (\(nmnist.count) files one by one)",
                                   eventsPerSecond: folderRate))
        let nmnistFrames = SpikeFrameConfiguration.nmnist(binWidth: 1_000)
        results.append(try binBench(
            "decode+bin nmnist-small/train -> 2x34x34 binary 1 ms", nmnist, nmnistFrames, decode: true))
        results.append(try binBench(
            "bin        nmnist-small/train -> 2x34x34 binary 1 ms", nmnist, nmnistFrames, decode: false))
        let gesture = try loadFolder(data + "/dvs-gesture-10")
        let gestureFrames = SpikeFrameConfiguration(
            sensor: SensorGeometry(width: 128, height: 128), binWidth: 1_000, downsample: 4)
        results.append(try binBench(
            "decode+bin dvs-gesture-10 -> 2x32x32 binary 1 ms (downsample 4)", gesture, gestureFrames, decode: true))
        report(results)
    }

    func report(_ results: [BenchResult]) {
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            for r in results { print(String(decoding: try! encoder.encode(r), as: UTF8.self)) }
        } else {
            for r in results { print(String(format: "%8.1f M events/s  %@", r.eventsPerSecond / 1e6, r.name)) }
        }
    }

    /// Decode (or only bin, from events decoded beforehand) every recording of a folder into spike frames,
    /// one recording at a time as training and evaluation do.
    func binBench(
        _ name: String, _ recordings: [[UInt8]], _ configuration: SpikeFrameConfiguration, decode: Bool
    ) throws -> BenchResult {
        var binner = try SpikeFrameBinner(configuration: configuration)
        var frames = binner.makeBatch(reservingFrames: 4096)
        let decoded = try recordings.map { bytes in
            var events = EventBuffer()
            _ = try bytes.withUnsafeBytes { try EventFileReader.decode($0, format: .nmnist, into: &events) }
            return events
        }
        var events = EventBuffer()
        let rate = measure(seconds: seconds) {
            var total = 0
            for i in recordings.indices {
                if decode {
                    events.removeAll()
                    _ = try! recordings[i].withUnsafeBytes {
                        try EventFileReader.decode($0, format: .nmnist, into: &events)
                    }
                }
                frames.removeAll()
                binner.reset(origin: 0)
                binner.append(decode ? events : decoded[i], to: &frames)
                binner.flush(to: &frames)
                total += decoded[i].count
            }
            return total
        }
        return BenchResult(name: name, eventsPerSecond: rate)
    }

    func loadFolder(_ folder: String) throws -> [[UInt8]] {
        try FileManager.default.contentsOfDirectory(atPath: folder).sorted().filter { $0.hasSuffix(".bin") }
            .map { try EventFileReader.readBytes(folder + "/" + $0) }
    }
}

/// Options every `bisnn bench` subcommand takes.
struct BenchOptions: ParsableArguments {
    @Option(help: "The shared data folder.")
    var data = "../shared/data"

    @Option(help: "Minimum measuring time per case, in seconds.")
    var seconds = 1.0

    @Flag(help: "Print JSON instead of a table.")
    var json = false
}

/// Speed measured in a debug build means little: say so.
func warnIfDebugBuild() {
    #if DEBUG
    FileHandle.standardError.write(Data("warning: debug build; build with -c release for meaningful numbers\n".utf8))
    #endif
}

/// One measured case.
struct BenchResult: Encodable {
    var name: String
    var eventsPerSecond: Double
}

/// Runs `body` (which returns how many events it processed) repeatedly for at least `seconds`, after one
/// warm-up run, and returns the median rate over the runs in events per second.
func measure(seconds: Double, _ body: () -> Int) -> Double {
    _ = body()
    let clock = ContinuousClock()
    var rates: [Double] = []
    let deadline = clock.now.advanced(by: .milliseconds(Int(seconds * 1000)))
    repeat {
        let start = clock.now
        let n = body()
        let elapsed = start.duration(to: clock.now)
        let s = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        rates.append(Double(n) / max(s, 1e-9))
    } while clock.now < deadline || rates.count < 5
    rates.sort()
    return rates[rates.count / 2]
}
