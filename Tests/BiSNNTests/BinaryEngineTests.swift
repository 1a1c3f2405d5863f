import EventStream
import Testing

@testable import BiSNN

/// The binary engine against the float reference: same weights, same frames, same spikes at every step.
@Suite struct BinaryEngineTests {
    /// A random frame of `inputs` inputs, each active with probability `density`: ascending indices and bits.
    static func randomFrame(inputs: Int, density: Double, rng: inout SplitMix64) -> (active: [UInt32], bits: [UInt64], dense: [Double]) {
        var active: [UInt32] = []
        var bits = [UInt64](repeating: 0, count: (inputs + 63) / 64)
        var dense = [Double](repeating: 0, count: inputs)
        for i in 0..<inputs where Double(rng.next() >> 11) * 0x1p-53 < density {
            active.append(UInt32(i))
            bits[i / 64] |= 1 << UInt64(i % 64)
            dense[i] = 1
        }
        return (active, bits, dense)
    }

    /// Runs engine and reference side by side for `steps` frames; returns the first mismatch, if any, and
    /// the total number of spikes seen (so a test can check the networks were not silent).
    static func compare(
        model: NetworkModel, draw: BinaryDraw, engine: BinaryNetwork, steps: Int, density: Double, seed: UInt64
    ) -> (mismatch: String?, spikes: Int) {
        let reference = ReferenceNetwork(model: model, draw: draw)
        var r = reference.makeState()
        var s = engine.makeState()
        var rng = SplitMix64(state: seed)
        var spikes = 0
        for t in 0..<steps {
            // Vary the density over time, down to silent frames, as real recordings do.
            let frameDensity = t % 7 == 3 ? 0 : density * Double(1 + t % 3) / 2
            let frame = randomFrame(inputs: model.network.inputCount, density: frameDensity, rng: &rng)
            reference.step(&r, input: frame.dense)
            frame.active.withUnsafeBufferPointer { a in
                frame.bits.withUnsafeBufferPointer { b in engine.step(&s, active: a, bits: b) }
            }
            for l in model.network.layers.indices {
                let expected = r.spikes[l].indices.filter { r.spikes[l][$0] == 1 }.map(UInt32.init)
                let got = s.spikes(ofLayer: l)
                spikes += got.count
                if got != expected {
                    return ("step \(t) layer \(l): engine \(got.count) spikes, reference \(expected.count)", spikes)
                }
                if engine.readout(ofLayer: l, in: s) != r.readouts[l] {
                    return ("step \(t) layer \(l): readouts differ", spikes)
                }
            }
        }
        return (nil, spikes)
    }

    static let shapes: [(input: InputGeometry, hidden: [Int], classes: Int)] = [
        (InputGeometry(channels: 1, height: 1, width: 1), [1], 2),
        (InputGeometry(channels: 1, height: 1, width: 7), [3], 2),
        (InputGeometry(channels: 2, height: 4, width: 8), [64], 3),
        (InputGeometry(channels: 2, height: 5, width: 13), [65, 63], 10),
        (InputGeometry(channels: 2, height: 9, width: 9), [127, 129, 8], 4),
        (InputGeometry(channels: 1, height: 16, width: 20), [200, 17], 12),
    ]

    @Test(arguments: [0.005, 0.05, 0.3, 0.9])
    func engineMatchesReferenceOnRandomNetworks(density: Double) throws {
        var totalSpikes = 0
        for (n, shape) in Self.shapes.enumerated() {
            let net = NetworkDescription.mlp(
                input: shape.input, hiddenSizes: shape.hidden, classNames: (0..<shape.classes).map { "c\($0)" },
                timeConstants: TimeConstants(membrane: 3 + Double(n), synapse: 2 + Double(n % 3), refractory: 1.5),
                weightKind: .bernoulli)
            let model = NetworkModel.random(network: net, seed: UInt64(n) * 31 + 7, weightScale: 2, biasScale: 3)
            let draws = [BinaryDraw.mode(of: model)] + BinaryDraw.samples(from: model, count: 2, seed: 99)
            for (d, draw) in draws.enumerated() {
                // Automatic choice, then each input-current path forced for every step.
                for sparseLimit in [nil, 0, Int(Int16.max)] {
                    let engine = BinaryNetwork(model: model, draw: draw, sparseLimitOverride: sparseLimit)
                    let result = Self.compare(
                        model: model, draw: draw, engine: engine, steps: 80, density: density, seed: UInt64(n * 10 + d))
                    #expect(result.mismatch == nil, "shape \(n) draw \(d) sparse limit \(String(describing: sparseLimit)): \(result.mismatch ?? "")")
                    totalSpikes += result.spikes
                }
            }
        }
        #expect(totalSpikes > 1000, "the networks hardly spiked, the comparison proves little")
    }

    @Test func bothInputPathsGiveTheSameCurrent() {
        var rng = SplitMix64(state: 5)
        for (rows, columns) in [(1, 1), (8, 64), (9, 65), (130, 200), (256, 700), (300, 260)] {
            let matrix = SignMatrix(rows: rows, columns: columns) { _, _ in rng.next() & 1 == 1 }
            let layer = DenseBinarySynapses(weights: matrix)
            for density in [0.0, 0.01, 0.2, 1.0] {
                let frame = Self.randomFrame(inputs: columns, density: density, rng: &rng)
                var sparse = [Int32](repeating: 0, count: (rows + 31) / 32 * 32)
                var dense = [Int32](repeating: 7, count: (rows + 31) / 32 * 32)
                var scratch = [SIMD4<UInt64>](repeating: .zero, count: 8 * matrix.bytesPerColumn / 32)
                let limited = Array(frame.active.prefix(DenseBinarySynapses.maxSparseInputs))
                limited.withUnsafeBufferPointer { a in
                    sparse.withUnsafeMutableBufferPointer { c in
                        scratch.withUnsafeMutableBufferPointer { s in layer.addColumns(active: a, into: c, scratch: s) }
                    }
                }
                frame.bits.withUnsafeBufferPointer { b in
                    dense.withUnsafeMutableBufferPointer { c in layer.popcountRows(bits: b, activeCount: frame.active.count, into: c) }
                }
                // Plain reference: sum of +-1 over the active inputs.
                let expected = (0..<rows).map { r in Int32(frame.active.reduce(0) { $0 + matrix[r, Int($1)] }) }
                let expectedLimited = (0..<rows).map { r in Int32(limited.reduce(0) { $0 + matrix[r, Int($1)] }) }
                #expect(Array(sparse[..<rows]) == expectedLimited, "\(rows)x\(columns) density \(density): column path")
                #expect(Array(dense[..<rows]) == expected, "\(rows)x\(columns) density \(density): popcount path")
            }
        }
    }

    @Test func resetReturnsToTheStartState() {
        let net = NetworkDescription.mlp(
            input: InputGeometry(channels: 2, height: 6, width: 6), hiddenSizes: [40, 20], classNames: ["a", "b"],
            weightKind: .sign)
        let model = NetworkModel.random(network: net, seed: 3, biasScale: 2)
        let engine = BinaryNetwork(model: model, draw: .mode(of: model))
        var rng = SplitMix64(state: 1)
        let frames = (0..<30).map { _ in Self.randomFrame(inputs: net.inputCount, density: 0.2, rng: &rng) }
        func run(_ state: inout BinaryNetworkState) -> [[UInt32]] {
            frames.map { f in
                f.active.withUnsafeBufferPointer { a in f.bits.withUnsafeBufferPointer { b in engine.step(&state, active: a, bits: b) } }
                return state.spikes(ofLayer: 1)
            }
        }
        var state = engine.makeState()
        let first = run(&state)
        let copy = state  // value semantics: the copy keeps its traces while the original resets
        state.reset()
        #expect(state.steps == 0)
        #expect(run(&state) == first)
        #expect(copy.steps == 30)
        #expect(first.contains { !$0.isEmpty })
    }

    @Test func anIndexOutsideTheFrameStopsRatherThanReadsOutOfBounds() async {
        await #expect(processExitsWith: .failure) {
            let net = NetworkDescription.mlp(
                input: InputGeometry(channels: 1, height: 2, width: 2), hiddenSizes: [3], classNames: ["a", "b"],
                weightKind: .sign)
            let model = NetworkModel.random(network: net, seed: 1)
            let engine = BinaryNetwork(model: model, draw: .mode(of: model))
            var state = engine.makeState()
            let active: [UInt32] = [1, 4]  // 4 is past the 4 inputs
            let bits: [UInt64] = [0b10010]
            active.withUnsafeBufferPointer { a in bits.withUnsafeBufferPointer { b in engine.step(&state, active: a, bits: b) } }
        }
    }
}
