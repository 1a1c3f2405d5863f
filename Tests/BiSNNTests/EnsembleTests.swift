import EventStream
import Foundation
import Testing

@testable import BiSNN

/// The ensemble predictor on real N-MNIST frames: every draw's binary engine against the float reference,
/// its decision against one computed by hand, burn-in, independent streams, step order, errors and value
/// semantics.
@Suite struct EnsembleTests {
    // MARK: - Fixture

    /// `../shared/data` beside the repository.
    static let dataRoot: String = {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return repo.deletingLastPathComponent().appendingPathComponent("shared/data").path
    }()

    static let recordings = ["1.bin", "2.bin", "3.bin"]
    /// Only the first this many microseconds of each recording are binned (the start of the first saccade):
    /// the float reference costs about 8 ms a step in a debug build.
    static let recordingSpan: Int64 = 30_000
    static let ensembleSeed: UInt64 = 77
    static let ensembleSize = 3
    static let burnIn = 10

    /// The recordings binned into 1 ms frames, a random Bernoulli model, its mode and three draws, and the
    /// float reference run of every draw over every frame (reset at each segment start). Computed once.
    struct Fixture: Sendable {
        let batch: SpikeFrameBatch
        /// Frame ranges, one per segment (one per recording).
        let segments: [Range<Int>]
        let model: NetworkModel
        /// The mode, then the `ensembleSize` draws of `.ensemble(size: ensembleSize, seed: ensembleSeed)`.
        let draws: [BinaryDraw]
        /// [draw][frame][layer]: the reference's spiking neurons, ascending.
        let spikes: [[[[UInt32]]]]
        /// [draw][frame][layer]: the reference's readouts.
        let readouts: [[[[Double]]]]
    }

    /// The reference runs of the draws, filled in concurrently.
    final class Runs: @unchecked Sendable {
        // Safety: every access holds `lock`.
        private let lock = NSLock()
        private var spikes: [[[[UInt32]]]]
        private var readouts: [[[[Double]]]]

        init(count: Int) {
            spikes = Array(repeating: [], count: count)
            readouts = Array(repeating: [], count: count)
        }

        func store(_ d: Int, spikes s: [[[UInt32]]], readouts r: [[[Double]]]) {
            lock.withLock {
                spikes[d] = s
                readouts[d] = r
            }
        }

        var results: ([[[[UInt32]]]], [[[[Double]]]]) { lock.withLock { (spikes, readouts) } }
    }

    static let fixture: Fixture = {
        var binner = try! SpikeFrameBinner(configuration: .nmnist(binWidth: 1000))
        var batch = binner.makeBatch()
        for file in recordings {
            var events = try! EventFileReader.read(dataRoot + "/nmnist-small/train/" + file, format: .nmnist).events
            let t = events.t
            events.truncate(to: t.firstIndex { $0 >= t[0] + recordingSpan } ?? t.count)
            binner.append(events, to: &batch)
            binner.flush(to: &batch)
        }
        var starts = (0..<batch.frameCount).filter { batch.startsSegment($0) }
        starts.append(batch.frameCount)
        let segments = (0..<(starts.count - 1)).map { starts[$0]..<starts[$0 + 1] }

        let network = NetworkDescription.mlp(
            input: .nmnist, hiddenSizes: [48, 24], classNames: (0..<10).map(String.init), burnInSteps: burnIn,
            weightKind: .bernoulli)
        let model = NetworkModel.random(network: network, seed: 2718, weightScale: 1.5, biasScale: 4)
        let draws = [BinaryDraw.mode(of: model)]
            + BinaryDraw.samples(from: model, count: ensembleSize, seed: ensembleSeed)

        // The float reference is slow in a debug build (a dense 48 x 2312 product per step): run the draws
        // in parallel, each into its own slot.
        let runs = Runs(count: draws.count)
        let frames = batch
        DispatchQueue.concurrentPerform(iterations: draws.count) { d in
            let reference = ReferenceNetwork(model: model, draw: draws[d])
            var state = reference.makeState()
            var spikes: [[[UInt32]]] = []
            var readouts: [[[Double]]] = []
            for f in 0..<frames.frameCount {
                if frames.startsSegment(f) { state = reference.makeState() }
                reference.step(&state, input: frames.denseFrame(of: f).map(Double.init))
                spikes.append(state.spikes.map { s in s.indices.filter { s[$0] == 1 }.map(UInt32.init) })
                readouts.append(state.readouts)
            }
            runs.store(d, spikes: spikes, readouts: readouts)
        }
        let (allSpikes, allReadouts) = runs.results
        return Fixture(
            batch: batch, segments: segments, model: model, draws: draws, spikes: allSpikes, readouts: allReadouts)
    }()

    /// Runs `predictor` over segment `segment` of the fixture in a fresh stream.
    static func decide(_ predictor: EnsemblePredictor, segment: Range<Int>) -> Decision {
        var stream = predictor.makeStream()
        for f in segment { predictor.step(&stream, frame: f, of: fixture.batch) }
        return predictor.decision(for: stream)
    }

    static func predictor(_ kind: PredictorKind = .ensemble(size: ensembleSize, seed: ensembleSeed)) throws -> EnsemblePredictor {
        try EnsemblePredictor(model: fixture.model, kind: kind)
    }

    // MARK: - Data

    @Test func fixtureIsRealAndSpiking() {
        let f = Self.fixture
        #expect(f.segments.count == Self.recordings.count, "one segment per recording")
        #expect(f.segments.allSatisfy { $0.count > Self.burnIn + 15 && $0.count <= 31 })
        #expect(f.batch.frameCount >= 75 && f.batch.frameCount <= 93)
        let activeInputs = (0..<f.batch.frameCount).map { f.batch.active(of: $0).count }
        #expect(activeInputs.reduce(0, +) > 500, "the recordings are nearly empty")
        let meanActive = Double(activeInputs.reduce(0, +)) / Double(activeInputs.count)
        #expect(meanActive > 5 && meanActive < 500, "mean active inputs per frame \(meanActive)")

        // Each hidden layer spikes at a non-trivial rate for every draw: some neurons, never all of them at
        // every step, and the pattern changes with the input (not only bias-driven).
        for d in f.draws.indices {
            for l in f.model.network.layers.indices {
                let size = f.model.network.layers[l].size
                let counts = f.spikes[d].map { $0[l].count }
                let rate = Double(counts.reduce(0, +)) / Double(counts.count * size)
                #expect(rate > 0.02 && rate < 0.6, "draw \(d) layer \(l): spike rate \(rate)")
                #expect(counts.contains { $0 > 0 && $0 < size }, "draw \(d) layer \(l): all or nothing")
                #expect(Set(f.spikes[d].map { $0[l] }).count > 20, "draw \(d) layer \(l): few distinct patterns")
            }
        }
        // Different draws are different networks.
        #expect(f.spikes[1] != f.spikes[2] && f.spikes[0] != f.spikes[1])

        // The input drives the spikes, not only the biases: with every frame empty, layer 0 spikes differently.
        let engine = BinaryNetwork(model: f.model, draw: f.draws[0])
        var state = engine.makeState()
        let none: [UInt32] = []
        let zeros = [UInt64](repeating: 0, count: f.batch.wordsPerFrame)
        var differing = 0
        for frame in f.segments[0] {
            none.withUnsafeBufferPointer { a in zeros.withUnsafeBufferPointer { b in engine.step(&state, active: a, bits: b) } }
            if state.spikes(ofLayer: 0) != f.spikes[0][frame][0] { differing += 1 }
        }
        #expect(differing > f.segments[0].count / 4, "only \(differing) steps depend on the input")
    }

    // MARK: - Engine against reference

    /// Runs draw `d` of the fixture through the binary engine over every frame (reset at each segment start)
    /// and compares spikes and readouts of every layer with the reference run; returns the first mismatch, if
    /// any, and the number of spikes seen.
    static func compareWithReference(draw d: Int, sparseLimit: Int?) -> (mismatch: String?, spikes: Int) {
        let f = fixture
        let engine = BinaryNetwork(model: f.model, draw: f.draws[d], sparseLimitOverride: sparseLimit)
        var state = engine.makeState()
        var spikes = 0
        for frame in 0..<f.batch.frameCount {
            if f.batch.startsSegment(frame) { state.reset() }
            engine.step(&state, frame: frame, of: f.batch)
            for l in f.model.network.layers.indices {
                let got = state.spikes(ofLayer: l)
                spikes += got.count
                if got != f.spikes[d][frame][l] {
                    return ("frame \(frame) layer \(l): engine \(got), reference \(f.spikes[d][frame][l])", spikes)
                }
                if engine.readout(ofLayer: l, in: state) != f.readouts[d][frame][l] {
                    return ("frame \(frame) layer \(l): readouts differ", spikes)
                }
            }
            if state.output != f.readouts[d][frame].last! {
                return ("frame \(frame): output \(state.output), reference \(f.readouts[d][frame].last!)", spikes)
            }
        }
        return (nil, spikes)
    }

    @Test func binaryEngineMatchesReferenceOnNMNIST() {
        var spikes = 0
        for d in Self.fixture.draws.indices {
            // The automatic choice of input-current path, then each path forced for every step.
            for sparseLimit in [nil, 0, Int(Int16.max)] {
                let result = Self.compareWithReference(draw: d, sparseLimit: sparseLimit)
                #expect(result.mismatch == nil, "draw \(d) sparse limit \(String(describing: sparseLimit)): \(result.mismatch ?? "")")
                spikes += result.spikes
            }
        }
        #expect(spikes > 3 * 3_000)
    }

    // MARK: - Decisions

    /// The decision for `segment`, computed from the reference runs of draws `draws` of the fixture.
    static func decisionByHand(draws: [Int], segment: Range<Int>, rule: AbstentionRule = .never) -> Decision {
        let classes = fixture.model.network.classCount
        var sums = [[Double]](repeating: [Double](repeating: 0, count: classes), count: draws.count)
        var counted = 0
        var p: [Double] = []
        for (k, frame) in segment.enumerated() where k >= burnIn {  // step k + 1 counts if k + 1 > burnIn
            for (i, d) in draws.enumerated() {
                Decision.softmax(fixture.readouts[d][frame].last!, into: &p)
                for c in 0..<classes { sums[i][c] += p[c] }
            }
            counted += 1
        }
        return Decision(
            drawProbabilities: sums.map { $0.map { $0 / Double(counted) } }, classCount: classes, steps: counted,
            rule: rule)
    }

    static func expectClose(_ got: Decision, _ want: Decision, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let close = { (a: Double, b: Double) in abs(a - b) <= 1e-12 }
        #expect(got.probabilities.count == want.probabilities.count, "\(what)", sourceLocation: sourceLocation)
        #expect(zip(got.probabilities, want.probabilities).allSatisfy(close), "\(what): \(got.probabilities) vs \(want.probabilities)", sourceLocation: sourceLocation)
        #expect(got.predictedClass == want.predictedClass, "\(what)", sourceLocation: sourceLocation)
        #expect(close(got.confidence, want.confidence), "\(what)", sourceLocation: sourceLocation)
        #expect(close(got.predictiveEntropy, want.predictiveEntropy), "\(what)", sourceLocation: sourceLocation)
        #expect(close(got.expectedEntropy, want.expectedEntropy), "\(what)", sourceLocation: sourceLocation)
        #expect(close(got.mutualInformation, want.mutualInformation), "\(what)", sourceLocation: sourceLocation)
        #expect(got.agreement == want.agreement, "\(what)", sourceLocation: sourceLocation)
        #expect(got.drawCount == want.drawCount && got.steps == want.steps, "\(what)", sourceLocation: sourceLocation)
        #expect(got.abstained == want.abstained, "\(what)", sourceLocation: sourceLocation)
    }

    @Test func ensembleDecisionMatchesReferenceByHand() throws {
        let f = Self.fixture
        let ensemble = try Self.predictor()
        #expect(ensemble.size == Self.ensembleSize)
        let mode = try Self.predictor(.mode)
        var decisions: [Decision] = []
        for (s, segment) in f.segments.enumerated() {
            let got = Self.decide(ensemble, segment: segment)
            let want = Self.decisionByHand(draws: Array(1...Self.ensembleSize), segment: segment)
            #expect(got.steps == segment.count - Self.burnIn)
            #expect(got.drawCount == Self.ensembleSize)
            #expect(got.mutualInformation > 0, "segment \(s): the draws should disagree a little")
            Self.expectClose(got, want, "segment \(s) ensemble")
            Self.expectClose(
                Self.decide(mode, segment: segment), Self.decisionByHand(draws: [0], segment: segment), "segment \(s) mode")
            decisions.append(got)
        }
        // Different recordings give different probabilities.
        #expect(decisions[0].probabilities != decisions[1].probabilities)

        // With an abstention rule, the predictor applies it to the same numbers.
        let rule = AbstentionRule(minimumConfidence: 0.5, maximumMutualInformation: 0.001)
        var strict = ensemble
        strict.abstention = rule
        let got = Self.decide(strict, segment: f.segments[0])
        Self.expectClose(got, Self.decisionByHand(draws: [1, 2, 3], segment: f.segments[0], rule: rule), "with rule")
    }

    @Test func burnInCoveringTheWholeSampleAbstains() throws {
        let f = Self.fixture
        let segment = f.segments[1]
        var model = f.model
        model.network.burnInSteps = segment.count
        let predictor = try EnsemblePredictor(model: model, kind: .ensemble(size: 2, seed: 1))
        var stream = predictor.makeStream()
        for frame in segment { predictor.step(&stream, frame: frame, of: f.batch) }
        #expect(stream.steps == segment.count)
        #expect(stream.countedSteps == 0)
        let d = predictor.decision(for: stream)
        #expect(d.steps == 0)
        #expect(d.abstained)
        #expect(d.probabilities == [Double](repeating: 0.1, count: 10))
        // The spikes still ran: the draws' states have advanced.
        #expect(stream.state(ofDraw: 0).steps == segment.count)

        // One step fewer of burn-in: exactly one step counts.
        model.network.burnInSteps = segment.count - 1
        let almost = try EnsemblePredictor(model: model, kind: .ensemble(size: 2, seed: 1))
        let one = Self.decide(almost, segment: segment)
        #expect(one.steps == 1)
        #expect(!one.abstained)
        #expect(abs(one.probabilities.reduce(0, +) - 1) < 1e-12)
    }

    @Test func streamsAreIndependent() throws {
        let f = Self.fixture
        let predictor = try Self.predictor()
        let (a, b) = (f.segments[0], f.segments[2])
        let aloneA = Self.decide(predictor, segment: a)
        let aloneB = Self.decide(predictor, segment: b)
        #expect(aloneA != aloneB)

        // Interleaved: one step of A, one of B, ..., then the rest of the longer one.
        var streamA = predictor.makeStream()
        var streamB = predictor.makeStream()
        for k in 0..<max(a.count, b.count) {
            if k < a.count { predictor.step(&streamA, frame: a.lowerBound + k, of: f.batch) }
            if k < b.count { predictor.step(&streamB, frame: b.lowerBound + k, of: f.batch) }
        }
        #expect(predictor.decision(for: streamA) == aloneA)
        #expect(predictor.decision(for: streamB) == aloneB)

        // reset() then B again: the same as a fresh stream on B.
        streamA.reset()
        #expect(streamA.steps == 0 && streamA.countedSteps == 0)
        #expect(predictor.decision(for: streamA).abstained)
        for frame in b { predictor.step(&streamA, frame: frame, of: f.batch) }
        #expect(predictor.decision(for: streamA) == aloneB)
    }

    @Test func layerByLayerOrderGivesTheSameDecision() throws {
        let f = Self.fixture
        let byDraw = try Self.predictor()
        var byLayer = byDraw
        byLayer.order = .layerByLayer
        for (s, segment) in f.segments.enumerated() {
            var streamD = byDraw.makeStream()
            var streamL = byLayer.makeStream()
            for frame in segment {
                byDraw.step(&streamD, frame: frame, of: f.batch)
                byLayer.step(&streamL, frame: frame, of: f.batch)
                for d in 0..<byDraw.size {
                    let (x, y) = (streamD.state(ofDraw: d), streamL.state(ofDraw: d))
                    #expect(x.steps == y.steps)
                    #expect(x.output == y.output)
                    for l in f.model.network.layers.indices where x.spikes(ofLayer: l) != y.spikes(ofLayer: l) {
                        Issue.record("segment \(s) frame \(frame) draw \(d) layer \(l): orders differ")
                        return
                    }
                }
            }
            #expect(streamD.steps == streamL.steps && streamD.countedSteps == streamL.countedSteps)
            #expect(byDraw.decision(for: streamD) == byLayer.decision(for: streamL), "segment \(s)")
        }
    }

    @Test func copiedStreamIsIndependent() throws {
        let f = Self.fixture
        let predictor = try Self.predictor()
        let a = f.segments[0]
        let aloneA = Self.decide(predictor, segment: a)
        var stream = predictor.makeStream()
        let half = a.lowerBound + a.count / 2
        for frame in a.lowerBound..<half { predictor.step(&stream, frame: frame, of: f.batch) }
        let before = predictor.decision(for: stream)
        let outputsBefore = (0..<predictor.size).map { stream.state(ofDraw: $0).output }

        var copy = stream
        for frame in f.segments[1] { predictor.step(&copy, frame: frame, of: f.batch) }
        #expect(copy.steps == a.count / 2 + f.segments[1].count)
        #expect(predictor.decision(for: copy) != before)
        #expect(predictor.decision(for: stream) == before)
        #expect((0..<predictor.size).map { stream.state(ofDraw: $0).output } == outputsBefore)
        #expect(stream.steps == a.count / 2)

        // The original continues as if the copy never existed.
        for frame in half..<a.upperBound { predictor.step(&stream, frame: frame, of: f.batch) }
        #expect(predictor.decision(for: stream) == aloneA)
        // And resetting the copy leaves the original alone.
        copy.reset()
        #expect(predictor.decision(for: stream) == aloneA)
    }

    // MARK: - Errors and sizes

    static func tinyModel(_ kind: WeightKind) -> NetworkModel {
        NetworkModel.random(
            network: .mlp(
                input: InputGeometry(channels: 1, height: 2, width: 3), hiddenSizes: [5], classNames: ["a", "b"],
                burnInSteps: 0, weightKind: kind),
            seed: 3)
    }

    static func predictorError(_ model: NetworkModel, _ kind: PredictorKind) -> ModelError? {
        do {
            _ = try EnsemblePredictor(model: model, kind: kind)
            return nil
        } catch {
            return error
        }
    }

    @Test(arguments: [WeightKind.sign, .real])
    func ensembleNeedsABernoulliModel(kind: WeightKind) {
        let error = Self.predictorError(Self.tinyModel(kind), .ensemble(size: 3, seed: 1))
        #expect(error?.code == .invalidParameters)
        #expect(error?.message.contains(kind.rawValue) == true)
        // The mode works for every kind.
        #expect(Self.predictorError(Self.tinyModel(kind), .mode) == nil)
    }

    @Test(arguments: [0, -1, 65, 1000])
    func ensembleSizeOutOfRangeThrows(size: Int) {
        let error = Self.predictorError(Self.tinyModel(.bernoulli), .ensemble(size: size, seed: 1))
        #expect(error?.code == .invalidParameters)
        #expect(error?.message.contains("\(size)") == true)
    }

    @Test func ensembleSizesOneAndSixtyFourWork() throws {
        let model = Self.tinyModel(.bernoulli)
        var rng = SplitMix64(state: 8)
        // Random frames of the 6 inputs, each active with probability 1/2: ascending indices and bits.
        let frames = (0..<12).map { _ -> (active: [UInt32], bits: [UInt64]) in
            let word = rng.next() & 0x3f
            return ((0..<6).filter { word >> UInt64($0) & 1 == 1 }.map(UInt32.init), [word])
        }
        for size in [1, PredictorKind.maxEnsembleSize] {
            let predictor = try EnsemblePredictor(model: model, kind: .ensemble(size: size, seed: 5))
            #expect(predictor.size == size)
            var stream = predictor.makeStream()
            for frame in frames {
                frame.active.withUnsafeBufferPointer { a in
                    frame.bits.withUnsafeBufferPointer { b in predictor.step(&stream, active: a, bits: b) }
                }
            }
            let d = predictor.decision(for: stream)
            #expect(d.drawCount == size)
            #expect(d.steps == frames.count)
            #expect(abs(d.probabilities.reduce(0, +) - 1) < 1e-12)
            if size == 1 { #expect(d.mutualInformation == 0 && d.agreement == 1) }
        }
        // The predictor's 64 networks are the 64 draws of that seed, and they are not all alike.
        let draws = BinaryDraw.samples(from: model, count: 64, seed: 5)
        let predictor = try EnsemblePredictor(model: model, kind: .ensemble(size: 64, seed: 5))
        let firstLayers = predictor.networks.map { network -> SignMatrix? in
            if case .dense(let synapses) = network.layers[0].synapses { return synapses.weights }
            return nil
        }
        #expect(firstLayers == draws.map { $0.layers[0] })
        #expect(Set(draws).count > 32)
    }
}
