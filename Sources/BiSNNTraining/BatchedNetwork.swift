import BiSNN
import EventStream

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A mini-batch of samples stepping through the network together in Float32, with the traces in input
/// space as BISNN.md section 2 writes them, and each layer's local loss and weight gradient at a step
/// (section 3): layers learn from their own fixed random readout, the next layer takes the spikes as
/// constants, and the trace P is the eligibility.
///
/// The weights a step computes with are ``weights`` (real weights, signs of latent weights, or a relaxed
/// sample of a posterior: the learning rule decides and writes them). Matrices are row-major: `[batch x
/// inputs]` for the traces, `[outputs x inputs]` for the weights.
public struct BatchedNetwork: Sendable {
    /// The network's shape.
    public let network: NetworkDescription
    /// Samples stepping together.
    public let batch: Int
    /// Per layer, the weights the next step uses, `[outputs x inputs]`.
    public var weights: [[Float]]
    /// Per layer, the biases.
    public var biases: [[Float]]
    let readoutWeights: [[Float]]
    let readoutBiases: [[Float]]
    let constants: [LayerConstants]

    var q: [[Float]]
    var p: [[Float]]
    var r: [[Float]]
    var spikes: [[Float]]
    /// Per layer, the membrane potentials of the last step, `[batch x outputs]`.
    public private(set) var membrane: [[Float]]
    /// Per layer, the readouts of the last step, `[batch x classes]`.
    public private(set) var readouts: [[Float]]
    /// Per layer, the weight gradient of the last ``computeGradients(labels:)``, `[outputs x inputs]`.
    public private(set) var weightGradients: [[Float]]
    /// Per layer, the bias gradient of the last ``computeGradients(labels:)``.
    public private(set) var biasGradients: [[Float]]
    var scratch: [Float] = []
    var frameInput: [Float] = []

    struct LayerConstants: Sendable {
        let alpha, beta, alphaRefractory, scale, readoutScale: Float
        let inputs, outputs: Int
    }

    /// A batch of `batch` samples through `model`'s network, starting from its stored weights as they are.
    public init(model: NetworkModel, batch: Int) {
        precondition(batch > 0, "batch must be > 0")
        let net = model.network
        network = net
        self.batch = batch
        weights = model.layers.map(\.weights)
        biases = model.layers.map(\.bias)
        readoutWeights = model.layers.map { $0.readoutWeights.map(Float.init) }
        readoutBiases = model.layers.map { $0.readoutBias.map(Float.init) }
        constants = net.layers.indices.map { l in
            let d = LayerDynamics(network: net, layer: l)
            return LayerConstants(
                alpha: Float(d.alpha), beta: Float(d.beta), alphaRefractory: Float(d.alphaRefractory),
                scale: Float(d.scale), readoutScale: Float(d.readoutScale),
                inputs: net.inputCount(ofLayer: l), outputs: net.layers[l].size)
        }
        let inputs = net.layers.indices.map { net.inputCount(ofLayer: $0) }
        let sizes = net.layers.map(\.size)
        q = inputs.map { [Float](repeating: 0, count: batch * $0) }
        p = q
        r = sizes.map { [Float](repeating: 0, count: batch * $0) }
        spikes = r
        membrane = r
        readouts = sizes.map { _ in [Float](repeating: 0, count: batch * net.classCount) }
        weightGradients = weights.map { [Float](repeating: 0, count: $0.count) }
        biasGradients = biases.map { [Float](repeating: 0, count: $0.count) }
    }

    /// Zeroes every trace and spike: the start of new samples.
    public mutating func reset() {
        for l in q.indices {
            zero(&q[l])
            zero(&p[l])
            zero(&r[l])
            zero(&spikes[l])
            zero(&membrane[l])
            zero(&readouts[l])
        }
    }

    /// Layer `layer`'s spikes of the last step (0 or 1), `[batch x outputs]`.
    public func spikes(ofLayer layer: Int) -> [Float] { spikes[layer] }

    /// Advances every layer one time step on frame `t` of each sample's frames (sample `b` is `frames[b]`; past
    /// its last frame, or past `frames.count`, a sample sees an empty frame).
    public mutating func step(frames: [SpikeFrameBatch], at t: Int) {
        precondition(frames.count <= batch, "more samples than the batch holds")
        let inputs = network.inputCount
        if frameInput.count != batch * inputs {
            frameInput = [Float](repeating: 0, count: batch * inputs)
        } else {
            frameInput.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        }
        for (b, f) in frames.enumerated() where t < f.frameCount {
            for i in f.active(of: t) { frameInput[b * inputs + Int(i)] = 1 }
        }
        step(input: frameInput)
    }

    /// Advances every layer one time step on `input`, `[batch x inputCount]` of 0 or 1.
    public mutating func step(input: [Float]) {
        precondition(input.count == batch * network.inputCount, "input must be batch x inputCount")
        for l in constants.indices {
            let c = constants[l]
            let layerInput = l == 0 ? input : spikes[l - 1]
            // P_t = alpha P_{t-1} + Q_{t-1}; Q_t = beta Q_{t-1} + S_in_t.
            p[l].withUnsafeMutableBufferPointer { p in
                q[l].withUnsafeMutableBufferPointer { q in
                    layerInput.withUnsafeBufferPointer { s in
                        for i in 0..<p.count {
                            p[i] = c.alpha * p[i] + q[i]
                            q[i] = c.beta * q[i] + s[i]
                        }
                    }
                }
            }
            if scratch.count < batch * c.outputs { scratch = [Float](repeating: 0, count: batch * c.outputs) }
            p[l].withUnsafeBufferPointer { p in
                weights[l].withUnsafeBufferPointer { w in
                    scratch.withUnsafeMutableBufferPointer { x in
                        DenseProduct.forward(
                            p: p.baseAddress!, w: w.baseAddress!, x: x.baseAddress!, batch: batch, inputs: c.inputs,
                            outputs: c.outputs)
                    }
                }
            }
            for b in 0..<batch {
                for o in 0..<c.outputs {
                    let k = b * c.outputs + o
                    // R_t = alphaR R_{t-1} + S_{t-1}; U = c (W P + b) - R; S = U >= 0.
                    r[l][k] = c.alphaRefractory * r[l][k] + spikes[l][k]
                    let u = c.scale * (scratch[k] + biases[l][o]) - r[l][k]
                    membrane[l][k] = u
                    spikes[l][k] = u >= 0 ? 1 : 0
                }
                for k in 0..<network.classCount {
                    var count: Float = 0
                    for o in 0..<c.outputs where spikes[l][b * c.outputs + o] != 0 {
                        count += readoutWeights[l][k * c.outputs + o]
                    }
                    readouts[l][b * network.classCount + k] = c.readoutScale * (count + readoutBiases[l][k])
                }
            }
        }
    }

    /// Each layer's cross-entropy of softmax(readout) against `labels` (mean over the batch), and into
    /// ``weightGradients`` / ``biasGradients`` its gradient with respect to the layer's weights and biases:
    /// dL/dU through the box surrogate (1 for -0.5 < U <= 0.5), times c P. Returns the losses per layer.
    @discardableResult
    public mutating func computeGradients(labels: [Int]) -> [Float] {
        precondition(labels.count == batch, "one label per sample")
        let classes = network.classCount
        var losses: [Float] = []
        for l in constants.indices {
            let c = constants[l]
            var loss: Float = 0
            // dL/dU, [batch x outputs], into scratch.
            if scratch.count < batch * c.outputs { scratch = [Float](repeating: 0, count: batch * c.outputs) }
            var probabilities = [Float](repeating: 0, count: classes)
            for b in 0..<batch {
                let logits = readouts[l][(b * classes)..<((b + 1) * classes)]
                let top = logits.max() ?? 0
                var total: Float = 0
                for k in 0..<classes {
                    probabilities[k] = expf(logits[logits.startIndex + k] - top)
                    total += probabilities[k]
                }
                for k in 0..<classes { probabilities[k] /= total }
                loss -= logf(max(probabilities[labels[b]], 1e-30))
                // dL/dr = (softmax - onehot) / batch; dL/dS = c_ro B^T dL/dr.
                probabilities[labels[b]] -= 1
                for o in 0..<c.outputs {
                    var dS: Float = 0
                    for k in 0..<classes { dS += probabilities[k] * readoutWeights[l][k * c.outputs + o] }
                    let u = membrane[l][b * c.outputs + o]
                    let surrogate: Float = u > -0.5 && u <= 0.5 ? 1 : 0
                    scratch[b * c.outputs + o] = c.readoutScale * dS * surrogate / Float(batch)
                }
            }
            losses.append(loss / Float(batch))
            for o in 0..<c.outputs {
                var sum: Float = 0
                for b in 0..<batch { sum += scratch[b * c.outputs + o] }
                biasGradients[l][o] = c.scale * sum
            }
            scratch.withUnsafeBufferPointer { d in
                p[l].withUnsafeBufferPointer { p in
                    weightGradients[l].withUnsafeMutableBufferPointer { g in
                        DenseProduct.gradient(
                            d: d.baseAddress!, p: p.baseAddress!, g: g.baseAddress!, batch: batch, inputs: c.inputs,
                            outputs: c.outputs, alpha: c.scale, beta: 0)
                    }
                }
            }
        }
        return losses
    }

    private func zero(_ a: inout [Float]) {
        a.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
    }
}
