/// The floating-point forward pass of BISNN.md section 2, written as the equations read: traces in input
/// space, a dense matrix-vector product per step, in Double. The oracle the binary engine is tested against,
/// and the forward pass training builds on (it exposes the traces P, the eligibility of the weights).
public struct ReferenceNetwork: Sendable {
    /// The network's shape.
    public let network: NetworkDescription
    /// Per layer, `outputs x inputs` weights as used (real values, or +-1).
    public let weights: [[Double]]
    /// Per layer, the biases.
    public let biases: [[Double]]
    /// Per layer, the readout `classes x outputs` (+-1) and its bias (+-1).
    public let readoutWeights: [[Double]]
    public let readoutBiases: [[Double]]
    /// Per layer, the constants of the dynamics.
    public let dynamics: [LayerDynamics]

    /// Per-stream state: every trace of every layer, zero at the start of a sample.
    public struct State: Sendable {
        /// Per layer, first trace stage Q (input space).
        public var q: [[Double]]
        /// Per layer, second trace stage P (input space): the eligibility trace.
        public var p: [[Double]]
        /// Per layer, refractory trace R.
        public var r: [[Double]]
        /// Per layer, the spikes of the last step (0 or 1).
        public var spikes: [[Double]]
        /// Per layer, the membrane potentials of the last step.
        public var membrane: [[Double]]
        /// Per layer, the readout of the last step (`classes` values); the last layer's is the output.
        public var readouts: [[Double]]
    }

    /// The network of `model` with binary weights `draw`, or, with no draw, the model's weights as stored
    /// for a real model and their signs (the mode) for a binary one.
    public init(model: NetworkModel, draw: BinaryDraw? = nil) {
        network = model.network
        let net = model.network
        if let draw {
            weights = draw.layers.map { m in
                (0..<(m.rows * m.columns)).map { Double(m[$0 / m.columns, $0 % m.columns]) }
            }
        } else if net.weightKind == .real {
            weights = model.layers.map { $0.weights.map(Double.init) }
        } else {
            weights = model.layers.map { $0.weights.map { $0 >= 0 ? 1 : -1 } }
        }
        biases = model.layers.map { $0.bias.map(Double.init) }
        readoutWeights = model.layers.map { $0.readoutWeights.map(Double.init) }
        readoutBiases = model.layers.map { $0.readoutBias.map(Double.init) }
        dynamics = net.layers.indices.map { LayerDynamics(network: net, layer: $0) }
    }

    /// A fresh state: all traces zero.
    public func makeState() -> State {
        let inputs = network.layers.indices.map { network.inputCount(ofLayer: $0) }
        let sizes = network.layers.map(\.size)
        return State(
            q: inputs.map { [Double](repeating: 0, count: $0) },
            p: inputs.map { [Double](repeating: 0, count: $0) },
            r: sizes.map { [Double](repeating: 0, count: $0) },
            spikes: sizes.map { [Double](repeating: 0, count: $0) },
            membrane: sizes.map { [Double](repeating: 0, count: $0) },
            readouts: sizes.map { _ in [Double](repeating: 0, count: network.classCount) })
    }

    /// Advances every layer by one time step on `input` (one frame, `inputCount` values, 0 or 1) and returns
    /// the output readout (the last layer's).
    @discardableResult
    public func step(_ state: inout State, input: [Double]) -> [Double] {
        precondition(input.count == network.inputCount, "input must have inputCount values")
        var layerInput = input
        for l in network.layers.indices {
            let d = dynamics[l]
            let inputs = layerInput.count
            let outputs = network.layers[l].size
            // P_t = alpha P_{t-1} + Q_{t-1}, then Q_t = beta Q_{t-1} + S_in_t.
            for i in 0..<inputs {
                state.p[l][i] = d.alpha * state.p[l][i] + state.q[l][i]
                state.q[l][i] = d.beta * state.q[l][i] + layerInput[i]
            }
            for o in 0..<outputs {
                // R_t = alphaR R_{t-1} + S_{t-1}
                state.r[l][o] = d.alphaRefractory * state.r[l][o] + state.spikes[l][o]
                var x = 0.0
                for i in 0..<inputs { x += weights[l][o * inputs + i] * state.p[l][i] }
                let u = d.membrane(current: x, bias: biases[l][o], refractory: state.r[l][o])
                state.membrane[l][o] = u
                state.spikes[l][o] = u >= 0 ? 1 : 0
            }
            for c in 0..<network.classCount {
                var count = 0.0
                for o in 0..<outputs { count += readoutWeights[l][c * outputs + o] * state.spikes[l][o] }
                state.readouts[l][c] = d.readout(count: count, bias: readoutBiases[l][c])
            }
            layerInput = state.spikes[l]
        }
        return state.readouts[network.layers.count - 1]
    }
}
