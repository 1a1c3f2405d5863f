import ArgumentParser
import Dispatch
import EventStream
import Foundation
import Synchronization

/// `bisnn simulate`: still images (MNIST IDX files, PGM or PNG) to N-MNIST-like recordings.
struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Simulate an event camera making saccades over still images (N-MNIST style).",
        discussion: """
            Writes one N-MNIST .bin recording per image, named 1.bin, 2.bin, ... in --out, and \
            labels.csv (file,label) when labels are known. Each image gets its own seed, derived from \
            --seed and the image's index in its source, so the output does not depend on threading, \
            --first or --count.
            """
    )

    @Argument(help: "PGM (P2/P5) or PNG image files, instead of --images.")
    var files: [String] = []

    @Option(help: "IDX image file (magic 0x803), e.g. ../shared/data/mnist-5k/images-idx3-ubyte.")
    var images: String?

    @Option(help: "IDX label file (magic 0x801) matching --images.")
    var labels: String?

    @Option(help: "Label written to labels.csv for every image file given as argument.")
    var label: Int?

    @Option(help: "Number of images to simulate from --images (default: all from --first on).")
    var count: Int?

    @Option(help: "Index (0-based) of the first image of --images to simulate.")
    var first: Int = 0

    @Option(help: "Base seed; each image's seed is derived from it and the image's index.")
    var seed: UInt64 = 1

    @Option(help: "JSON file of simulator settings overriding the N-MNIST defaults (keys: the properties of EventSimulatorConfiguration, sensorWidth/sensorHeight).")
    var config: String?

    @Option(help: "Worker threads (default: all cores).")
    var jobs: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Output directory (created if missing).")
    var out: String

    func validate() throws {
        if images == nil && files.isEmpty { throw ValidationError("give --images FILE.idx or image files") }
        if images != nil && !files.isEmpty { throw ValidationError("give either --images or image files, not both") }
        if labels != nil && images == nil { throw ValidationError("--labels goes with --images") }
        if label != nil && files.isEmpty { throw ValidationError("--label goes with image files; use --labels for IDX") }
        if first < 0 { throw ValidationError("--first must not be negative") }
        if let count, count < 1 { throw ValidationError("--count must be positive") }
        if jobs < 1 { throw ValidationError("--jobs must be positive") }
    }

    func run() throws {
        // The inputs: images, their labels when known, and the index used to derive each seed.
        let inputs: [GrayImage]
        var inputLabels: [Int]?
        let firstIndex: Int
        if let images {
            let bytes = try EventFileReader.readBytes(images)
            let header = try IDXReader.imageHeader(bytes, file: images)
            guard first < header.count else {
                throw SimulateFailure("--first \(first) is past the \(header.count) images of \(images)")
            }
            let n = min(count ?? header.count, header.count - first)
            if let count, count > n {
                FileHandle.standardError.write(Data("\(images) holds \(n) images from --first \(first) on; simulating \(n)\n".utf8))
            }
            inputs = try IDXReader.decodeImages(bytes, file: images, range: first..<(first + n))
            if let labels {
                let all = try IDXReader.readLabels(labels)
                guard all.count == header.count else {
                    throw SimulateFailure("\(labels) holds \(all.count) labels for the \(header.count) images of \(images)")
                }
                inputLabels = all[first..<(first + n)].map { Int($0) }
            }
            firstIndex = first
        } else {
            inputs = try files.map { try GrayImage.read($0) }
            if let label { inputLabels = Array(repeating: label, count: files.count) }
            firstIndex = 0
        }

        var settings = EventSimulatorConfiguration.nmnist
        if let config {
            let bytes = try EventFileReader.readBytes(config)
            do {
                settings = try JSONDecoder().decode(EventSimulatorConfiguration.self, from: Data(bytes))
            } catch {
                throw SimulateFailure("\(config): invalid simulator settings: \(error)")
            }
        }
        let simulator: EventSimulator
        do {
            simulator = try EventSimulator(configuration: settings)
        } catch {
            throw SimulateFailure("\(config ?? "settings"): \(error)")
        }
        do {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        } catch {
            throw SimulateFailure("\(out): cannot create the output directory: \(error.localizedDescription)")
        }
        let n = inputs.count
        let results = Mutex([SimulatedFile?](repeating: nil, count: n))
        let done = Mutex(0)
        let baseSeed = seed
        let outDir = out
        let workers = min(jobs, n)
        let started = Date()
        // One thread per worker (libdispatch's concurrentPerform may stay on one thread on a busy
        // machine); worker w takes images w, w + workers, ...
        let work: @Sendable (Int) -> Void = { worker in
            var i = worker
            while i < n {
                let result = Self.simulateOne(
                    inputs[i], number: i + 1, seed: EventSimulator.seed(base: baseSeed, index: firstIndex + i),
                    simulator: simulator, directory: outDir)
                results.withLock { $0[i] = result }
                let finished = done.withLock { value -> Int in
                    value += 1
                    return value
                }
                if finished % 100 == 0 || finished == n {
                    FileHandle.standardError.write(Data("\rsimulated \(finished)/\(n)".utf8))
                }
                i += workers
            }
        }
        let group = DispatchGroup()
        for worker in 1..<max(1, workers) {
            group.enter()
            Thread {
                work(worker)
                group.leave()
            }.start()
        }
        work(0)
        group.wait()
        FileHandle.standardError.write(Data("\n".utf8))
        let files = results.withLock { $0 }.map { $0! }
        if let failure = files.first(where: { $0.error != nil }) {
            throw SimulateFailure(failure.error!)
        }
        if let inputLabels {
            var csv = "file,label\n"
            for (i, l) in inputLabels.enumerated() { csv += "\(i + 1).bin,\(l)\n" }
            let csvPath = URL(fileURLWithPath: outDir).appendingPathComponent("labels.csv")
            do {
                try Data(csv.utf8).write(to: csvPath)
            } catch {
                throw SimulateFailure("\(csvPath.path): cannot write: \(error.localizedDescription)")
            }
        } else {
            FileHandle.standardError.write(Data("no labels given: labels.csv not written\n".utf8))
        }
        let counts = files.map(\.events)
        let total = counts.reduce(0, +)
        let seconds = Date().timeIntervalSince(started)
        print("""
            \(n) recordings written to \(outDir): \(total) events, \
            mean \(total / max(1, n)) events/recording (min \(counts.min() ?? 0), max \(counts.max() ?? 0)), \
            \(String(format: "%.1f", seconds)) s
            """)
    }

    /// Simulates one image and writes its `.bin`; failures are returned, not thrown, across threads.
    private static func simulateOne(
        _ image: GrayImage, number: Int, seed: UInt64, simulator: EventSimulator, directory: String
    ) -> SimulatedFile {
        let path = URL(fileURLWithPath: directory).appendingPathComponent("\(number).bin")
        let events = simulator.simulate(image, seed: seed)
        var encoder = NMNISTEncoder()
        var bytes: [UInt8] = []
        do {
            try encoder.encode(events, into: &bytes)
            try encoder.finish(into: &bytes)
        } catch {
            return SimulatedFile(events: 0, error: "\(path.path): cannot encode: \(error)")
        }
        do {
            try Data(bytes).write(to: path)
        } catch {
            return SimulatedFile(events: 0, error: "\(path.path): cannot write: \(error.localizedDescription)")
        }
        return SimulatedFile(events: events.count, error: nil)
    }
}

/// A failure while simulating, reported with the file concerned.
private struct SimulateFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// What simulating one image gave.
private struct SimulatedFile: Sendable {
    var events: Int
    var error: String?
}
