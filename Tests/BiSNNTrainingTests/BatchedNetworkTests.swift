import BiSNN
#if canImport(Glibc)
import Glibc
#endif
import EventStream
import Testing

@testable import BiSNNTraining

/// The batched Float32 training network against the Double reference, and its gradients against plain loops.
@Suite struct BatchedNetworkTests {
    static func randomValues(_ n: Int, scale: Float, rng: inout SplitMix64) -> [Float] {
        (0..<n).map { _ in (Float(rng.next() >> 40) / Float(1 << 24) * 2 - 1) * scale }
    }

    @Test func denseProductsMatchPlainLoops() {
        var rng = SplitMix64(state: 3)
        for (batch, inputs, outputs) in [(1, 1, 1), (3, 7, 5), (8, 65, 33)] {
            let p = Self.randomValues(batch * inputs, scale: 1, rng: &rng)
            let w = Self.randomValues(outputs * inputs, scale: 1, rng: &rng)
            let d = Self.randomValues(batch * outputs, scale: 1, rng: &rng)
            let g = Self.randomValues(outputs * inputs, scale: 1, rng: &rng)
            var x = [Float](repeating: 0, count: batch * outputs)
            x.withUnsafeMutableBufferPointer { x in
                DenseProduct.forward(p: p, w: w, x: x.baseAddress!, batch: batch, inputs: inputs, outputs: outputs)
            }
            let xExpected = DenseProduct.referenceForward(p: p, w: w, batch: batch, inputs: inputs, outputs: outputs)
            #expect(zip(x, xExpected).allSatisfy { abs($0 - $1) <= 1e-4 * max(1, abs($1)) })
            var gOut = g
            gOut.withUnsafeMutableBufferPointer { g in
                DenseProduct.gradient(
                    d: d, p: p, g: g.baseAddress!, batch: batch, inputs: inputs, outputs: outputs, alpha: 0.5, beta: 2)
            }
            let gExpected = DenseProduct.referenceGradient(
                d: d, p: p, g: g, batch: batch, inputs: inputs, outputs: outputs, alpha: 0.5, beta: 2)
            #expect(zip(gOut, gExpected).allSatisfy { abs($0 - $1) <= 1e-4 * max(1, abs($1)) })
        }
    }

    static func smallModel(seed: UInt64) -> NetworkModel {
        let net = NetworkDescription.mlp(
            input: InputGeometry(channels: 2, height: 5, width: 6), hiddenSizes: [40, 16], classNames: ["a", "b", "c"],
            timeConstants: TimeConstants(membrane: 8, synapse: 4, refractory: 2), weightKind: .real)
        return NetworkModel.random(network: net, seed: seed, weightScale: 1.5, biasScale: 2)
    }

    @Test func forwardMatchesTheReferenceNetwork() {
        let model = Self.smallModel(seed: 11)
        let batch = 3
        var batched = BatchedNetwork(model: model, batch: batch)
        let reference = ReferenceNetwork(model: model)
        var states = (0..<batch).map { _ in reference.makeState() }
        var rng = SplitMix64(state: 9)
        var compared = 0, spikes = 0
        for t in 0..<60 {
            let inputs = model.network.inputCount
            let input = (0..<(batch * inputs)).map { i -> Float in
                // sample b fires with density 0.05 * (b + 1), silent every 5th step
                let b = i / inputs
                return t % 5 == 4 ? 0 : (Double(rng.next() >> 11) * 0x1p-53 < 0.05 * Double(b + 1) ? 1 : 0)
            }
            batched.step(input: input)
            for b in 0..<batch {
                reference.step(&states[b], input: input[(b * inputs)..<((b + 1) * inputs)].map(Double.init))
                for l in model.network.layers.indices {
                    let size = model.network.layers[l].size
                    for o in 0..<size {
                        let u = Double(batched.membrane[l][b * size + o])
                        let expected = states[b].membrane[l][o]
                        #expect(abs(u - expected) <= 1e-3 * max(1, abs(expected)), "t \(t) b \(b) layer \(l) neuron \(o)")
                        // Spikes agree wherever the potential is not within rounding of the threshold.
                        if abs(expected) > 1e-3 {
                            #expect(batched.spikes(ofLayer: l)[b * size + o] == Float(states[b].spikes[l][o]))
                            compared += 1
                            spikes += Int(states[b].spikes[l][o])
                        }
                    }
                }
            }
        }
        #expect(compared > 10_000)
        #expect(spikes > 500 && spikes < compared - 500, "networks should neither be silent nor saturated")
    }

    @Test func gradientsMatchPlainLoops() {
        let model = Self.smallModel(seed: 5)
        let batch = 4
        var net = BatchedNetwork(model: model, batch: batch)
        var rng = SplitMix64(state: 2)
        let labels = [0, 2, 1, 2]
        for _ in 0..<25 {
            let input = (0..<(batch * model.network.inputCount)).map { _ in Float(rng.next() & 7 == 0 ? 1 : 0) }
            net.step(input: input)
        }
        let losses = net.computeGradients(labels: labels)
        let classes = model.network.classCount
        for l in model.network.layers.indices {
            let c = net.constants[l]
            var expectedW = [Double](repeating: 0, count: c.outputs * c.inputs)
            var expectedB = [Double](repeating: 0, count: c.outputs)
            var expectedLoss = 0.0
            for b in 0..<batch {
                let logits = (0..<classes).map { Double(net.readouts[l][b * classes + $0]) }
                let top = logits.max()!
                let e = logits.map { exp($0 - top) }
                let probabilities = e.map { $0 / e.reduce(0, +) }
                expectedLoss -= log(probabilities[labels[b]]) / Double(batch)
                for o in 0..<c.outputs {
                    var dS = 0.0
                    for k in 0..<classes {
                        dS += (probabilities[k] - (k == labels[b] ? 1 : 0)) * Double(net.readoutWeights[l][k * c.outputs + o])
                    }
                    let u = Double(net.membrane[l][b * c.outputs + o])
                    let dU = Double(c.readoutScale) * dS * (u > -0.5 && u <= 0.5 ? 1 : 0) / Double(batch)
                    expectedB[o] += Double(c.scale) * dU
                    for i in 0..<c.inputs {
                        expectedW[o * c.inputs + i] += dU * Double(c.scale) * Double(net.p[l][b * c.inputs + i])
                    }
                }
            }
            #expect(abs(Double(losses[l]) - expectedLoss) < 1e-4)
            #expect(zip(net.weightGradients[l], expectedW).allSatisfy { abs(Double($0) - $1) < 1e-5 })
            #expect(zip(net.biasGradients[l], expectedB).allSatisfy { abs(Double($0) - $1) < 1e-5 })
            #expect(expectedW.contains { $0 != 0 }, "layer \(l): no neuron near threshold, the check proves nothing")
        }
    }
}

