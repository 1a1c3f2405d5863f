import ArgumentParser
import BiSNN
import EventStream
import Foundation

/// `bisnn bench network`: time per 1 ms step of the binary engine (mode and ensembles) against the float
/// reference on the same weights, on real N-MNIST frames; and memory of the packed weights.
struct NetworkBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "network",
        abstract: "Time per step of the binary engine (mode, ensembles of 10 and 32) against the float reference.")

    @OptionGroup var options: BenchOptions
    var data: String { options.data }
    var seconds: Double { options.seconds }
    var json: Bool { options.json }

    @Option(help: "A model file to measure; default: a random Bernoulli MLP 2x34x34 -> 512 -> 512 -> 10.")
    var model: String?

    @Option(help: "N-MNIST recordings (from nmnist-small/train) whose 1 ms frames are fed.")
    var recordings = 20

    @Option(help: "Mean hidden spike rate the random model's biases are set for.")
    var hiddenRate = 0.1

    @Option(help: "Write the model measured (the calibrated random one by default) to this file.")
    var writeModel: String?

    func run() throws {
        warnIfDebugBuild()
        let net: NetworkModel
        if let model {
            net = try NetworkModel.load(from: model)
        } else {
            let random = NetworkModel.random(
                network: .mlp(
                    input: .nmnist, hiddenSizes: [512, 512], classNames: (0..<10).map(String.init),
                    weightKind: .bernoulli),
                seed: 1, weightScale: 3, biasScale: 1)
            var calibratedModel = calibrated(random, frames: try loadFrames(binWidth: 1_000, input: .nmnist), rate: hiddenRate)
            calibratedModel.metadata = ModelMetadata(
                rule: "untrained",
                trainedOn: "nothing: lambda uniform in [-3, 3] (seed 1); biases set so the mode's hidden layers spike "
                    + "at rate \(hiddenRate) on the first \(recordings) recordings of nmnist-small/train",
                hyperparameters: ["hidden_rate": .number(hiddenRate), "seed": .number(1)])
            net = calibratedModel
        }
        if let writeModel { try net.write(to: writeModel) }
        let frames = try loadFrames(binWidth: Int64(net.network.binWidthMicroseconds), input: net.network.input)
        let steps = frames.frameCount
        let activeInputs = Double(frames.activeIndices.count) / Double(steps)

        var cases: [NetworkBenchCase] = []
        func time(_ name: String, draws: Int, _ predictor: EnsemblePredictor) {
            var stream = predictor.makeStream()
            let rate = measure(seconds: seconds) {
                for f in 0..<steps {
                    if frames.startsSegment(f) { stream.reset() }
                    predictor.step(&stream, frame: f, of: frames)
                }
                return steps
            }
            cases.append(NetworkBenchCase(name: name, draws: draws, microsecondsPerStep: 1e6 / rate))
        }
        var mode = try EnsemblePredictor(model: net, kind: .mode)
        time("mode (1 network)", draws: 1, mode)
        let rates = hiddenSpikeRates(mode, frames)
        mode = EnsemblePredictor(model: net, draws: [BinaryDraw.mode(of: net)], sparseLimitOverride: 0)
        time("mode, popcount path only", draws: 1, mode)
        mode = EnsemblePredictor(model: net, draws: [BinaryDraw.mode(of: net)], sparseLimitOverride: Int(Int16.max))
        time("mode, column path only", draws: 1, mode)
        var drawRates: [Double] = []
        var buildSeconds: [String: Double] = [:]
        if net.network.weightKind == .bernoulli {
            for size in [10, 32] {
                let clock = ContinuousClock()
                let start = clock.now
                var ensemble = try EnsemblePredictor(model: net, kind: .ensemble(size: size, seed: 1))
                let took = start.duration(to: clock.now)
                buildSeconds["ensemble of \(size)"] =
                    Double(took.components.seconds) + Double(took.components.attoseconds) * 1e-18
                if size == 10 { drawRates = hiddenSpikeRates(ensemble, frames) }
                time("ensemble of \(size), draw by draw", draws: size, ensemble)
                ensemble.order = .layerByLayer
                time("ensemble of \(size), layer by layer", draws: size, ensemble)
            }
        }
        // The float reference (Double, input-space traces, dense products) on the mode's weights.
        let reference = ReferenceNetwork(model: net, draw: .mode(of: net))
        var state = reference.makeState()
        let referenceSteps = min(steps, 300)
        let dense = (0..<referenceSteps).map { frames.denseFrame(of: $0).map(Double.init) }
        let referenceRate = measure(seconds: seconds) {
            for f in 0..<referenceSteps {
                if frames.startsSegment(f) { state = reference.makeState() }
                reference.step(&state, input: dense[f])
            }
            return referenceSteps
        }
        cases.append(NetworkBenchCase(name: "float reference (1 network)", draws: 1, microsecondsPerStep: 1e6 / referenceRate))

        let weights = net.network.layers.indices.reduce(0) { $0 + net.network.weightCount(ofLayer: $1) }
        let report = NetworkBenchReport(
            network: "\(net.network.input) -> " + net.network.layers.map { String($0.size) }.joined(separator: " -> ")
                + " -> \(net.network.classCount)",
            binWidthMicroseconds: net.network.binWidthMicroseconds, steps: steps, meanActiveInputs: activeInputs,
            hiddenSpikeRates: rates, drawHiddenSpikeRates: drawRates, weights: weights, float32WeightBytes: weights * 4,
            packedWeightBytesPerDraw: (0..<net.network.layers.count).reduce(0) { total, l in
                total + net.network.layers[l].size * ((net.network.inputCount(ofLayer: l) + 63) / 64) * 8
            },
            engineBytesPerDraw: mode.networks[0].packedByteCount, buildSeconds: buildSeconds, cases: cases)
        report.print(json: json)
    }


    /// Frames of the first `recordings` recordings of nmnist-small/train, binned as the model was trained.
    func loadFrames(binWidth: Int64, input: InputGeometry) throws -> SpikeFrameBatch {
        let folder = data + "/nmnist-small/train"
        var configuration = SpikeFrameConfiguration.nmnist(binWidth: binWidth)
        if input != InputGeometry(channels: configuration.channelCount, height: 34, width: 34) {
            throw ValidationError("the model's input \(input) is not N-MNIST's 2x34x34")
        }
        configuration.maxGapFrames = 1_000
        var binner = try SpikeFrameBinner(configuration: configuration)
        var frames = binner.makeBatch(reservingFrames: recordings * 320)
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".bin") }.sorted()
        for file in files.prefix(recordings) {
            let events = try EventFileReader.read(folder + "/" + file, format: .nmnist).events
            binner.reset(origin: 0)
            var one = binner.makeBatch()
            binner.append(events, to: &one)
            binner.flush(to: &one)
            frames.append(contentsOf: one)
        }
        return frames
    }

    /// `model` with each layer's biases shifted (layer by layer, by bisection) so the mode network's layer
    /// spikes at about `rate` on `frames`.
    func calibrated(_ model: NetworkModel, frames: SpikeFrameBatch, rate: Double) -> NetworkModel {
        var model = model
        let original = model.layers.map(\.bias)
        for l in model.layers.indices {
            var (low, high): (Float, Float) = (-1_000, 1_000)
            for _ in 0..<30 {
                let shift = (low + high) / 2
                model.layers[l].bias = original[l].map { $0 + shift }
                let predictor = EnsemblePredictor(model: model, draws: [BinaryDraw.mode(of: model)])
                if hiddenSpikeRates(predictor, frames)[l] > rate { high = shift } else { low = shift }
            }
        }
        return model
    }

    /// Mean fraction of each hidden layer's neurons spiking per step, over the predictor's draws.
    func hiddenSpikeRates(_ predictor: EnsemblePredictor, _ frames: SpikeFrameBatch) -> [Double] {
        var stream = predictor.makeStream()
        var totals = [Int](repeating: 0, count: predictor.network.layers.count)
        for f in 0..<frames.frameCount {
            if frames.startsSegment(f) { stream.reset() }
            predictor.step(&stream, frame: f, of: frames)
            for d in 0..<predictor.size {
                for l in totals.indices { totals[l] += stream.state(ofDraw: d).spikeCount(ofLayer: l) }
            }
        }
        return totals.indices.map {
            Double(totals[$0]) / Double(frames.frameCount * predictor.size * predictor.network.layers[$0].size)
        }
    }
}

struct NetworkBenchCase: Encodable {
    var name: String
    var draws: Int
    var microsecondsPerStep: Double
}

struct NetworkBenchReport: Encodable {
    var network: String
    var binWidthMicroseconds: Int
    var steps: Int
    var meanActiveInputs: Double
    var hiddenSpikeRates: [Double]
    var drawHiddenSpikeRates: [Double]
    var weights: Int
    var float32WeightBytes: Int
    var packedWeightBytesPerDraw: Int
    var engineBytesPerDraw: Int
    /// Seconds to draw and pack each ensemble (what loading a model costs).
    var buildSeconds: [String: Double]
    var cases: [NetworkBenchCase]

    func print(json: Bool) {
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            Swift.print(String(decoding: try! encoder.encode(self), as: UTF8.self))
            return
        }
        let reference = cases.last { $0.name.hasPrefix("float reference") }?.microsecondsPerStep ?? .nan
        Swift.print("network \(network), \(binWidthMicroseconds) us steps, \(steps) steps of real N-MNIST frames")
        Swift.print(String(format: "input: %.1f active inputs per step; hidden spike rates: mode %@, draws %@",
                           meanActiveInputs, hiddenSpikeRates.map { String(format: "%.3f", $0) }.joined(separator: ", "),
                           drawHiddenSpikeRates.map { String(format: "%.3f", $0) }.joined(separator: ", ")))
        Swift.print(String(format: "weights: %d; float32 %.2f MB; packed 1 bit/weight %.3f MB (%.0fx smaller); "
                           + "engine per draw (rows + columns + readouts) %.3f MB",
                           weights, Double(float32WeightBytes) / 1e6, Double(packedWeightBytesPerDraw) / 1e6,
                           Double(float32WeightBytes) / Double(packedWeightBytesPerDraw),
                           Double(engineBytesPerDraw) / 1e6))
        Swift.print("drawing and packing: " + buildSeconds.sorted { $0.key < $1.key }
            .map { String(format: "%@ %.2f s", $0.key, $0.value) }.joined(separator: ", "))
        for c in cases {
            let realTime = Double(binWidthMicroseconds) / c.microsecondsPerStep
            Swift.print(String(format: "%10.2f us/step  %7.1fx real time  %7.1fx faster than float  %@",
                               c.microsecondsPerStep, realTime, reference / c.microsecondsPerStep, c.name))
        }
    }
}
