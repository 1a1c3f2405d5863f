import EventStream

/// The exact binary inference engine: one binary network (one draw), bit-packed, run one time step at a
/// time without a multiplication per synapse (BISNN.md, "exact binary fast path").
///
/// The traces are carried in output space: `A_t = beta A_{t-1} + W S_in_t`, `B_t = alpha B_{t-1} + A_{t-1}`,
/// so `W P_t = B_t` and the only synaptic work per step is the integer vector `W S_in_t`, which a layer's
/// synapses compute without multiplications (``DenseBinarySynapses``: popcount or bit-sliced column counts).
/// Traces, membrane and readout are in Double with the constants of ``LayerDynamics``, so the spikes equal
/// ``ReferenceNetwork``'s on the same weights.
///
/// Immutable and `Sendable`: one network serves any number of streams, each with its own
/// ``BinaryNetworkState``.
public struct BinaryNetwork: Sendable {
    /// The network's shape.
    public let network: NetworkDescription
    let layers: [BinaryLayer]

    /// The network of `model` with binary weights `draw`.
    public init(model: NetworkModel, draw: BinaryDraw) {
        self.init(model: model, draw: draw, sparseLimitOverride: nil)
    }

    /// As ``init(model:draw:)``; `sparseLimitOverride` fixes every layer's sparse limit (tests force each
    /// input-current path with it; benchmarks measure the crossover).
    init(model: NetworkModel, draw: BinaryDraw, sparseLimitOverride: Int?) {
        precondition(draw.layers.count == model.network.layers.count, "draw and model differ in layers")
        network = model.network
        layers = model.network.layers.indices.map { l in
            BinaryLayer(
                synapses: .dense(DenseBinarySynapses(weights: draw.layers[l], sparseLimitOverride: sparseLimitOverride)),
                bias: model.layers[l].bias.map(Double.init),
                readout: SignMatrix(
                    rows: model.network.classCount, columns: model.network.layers[l].size,
                    signs: model.layers[l].readoutWeights),
                readoutBias: model.layers[l].readoutBias.map(Double.init),
                dynamics: LayerDynamics(network: model.network, layer: l))
        }
    }

    /// Bytes of packed synaptic weights (rows and columns, all layers) and of the readouts.
    public var packedByteCount: Int { layers.reduce(0) { $0 + $1.synapses.packedByteCount + $1.readout.packedByteCount } }

    /// A fresh per-stream state: all traces zero.
    public func makeState() -> BinaryNetworkState { BinaryNetworkState(network: network) }

    /// Layer `layer`'s readout of the last step of `state`, `classes` values. The step computes only the
    /// last layer's (the output, ``BinaryNetworkState/output``); hidden layers' are computed here on demand.
    public func readout(ofLayer layer: Int, in state: BinaryNetworkState) -> [Double] {
        let s = state.storage.layer(layer)
        var values = [Double](repeating: 0, count: network.classCount)
        values.withUnsafeMutableBufferPointer { v in
            layers[layer].computeReadout(spikeBits: s.inputBits, spikeCount: s.activeCount.pointee, into: v)
        }
        return values
    }


    /// Advances every layer by one time step on frame `frame` of `batch`.
    public func step(_ state: inout BinaryNetworkState, frame: Int, of batch: SpikeFrameBatch) {
        precondition(batch.inputCount == network.inputCount, "frame size differs from the network's input")
        batch.withFrame(frame) { active, bits in step(&state, active: active, bits: bits) }
    }

    /// Advances every layer by one time step on one input frame, given both as its ascending active indices
    /// and bit-packed (``SpikeFrameBatch``'s layout); both must describe the same frame. An index outside the
    /// input stops the program rather than read outside the weights.
    public func step(
        _ state: inout BinaryNetworkState, active: UnsafeBufferPointer<UInt32>, bits: UnsafeBufferPointer<UInt64>
    ) {
        checkFrame(active: active, bits: bits)
        state.makeUnique()
        for l in layers.indices { stepUniqueLayer(l, state, active: active, bits: bits) }
        state.steps += 1
    }

    /// Advances layer `layer` by one time step; layers above 0 read the spikes their input layer produced
    /// this step (so call the layers in order). ``step(_:active:bits:)`` does this for all layers; an ensemble
    /// may interleave draws layer by layer instead.
    public func stepLayer(
        _ layer: Int, _ state: inout BinaryNetworkState, active: UnsafeBufferPointer<UInt32>,
        bits: UnsafeBufferPointer<UInt64>
    ) {
        if layer == 0 { checkFrame(active: active, bits: bits) }
        state.makeUnique()
        stepUniqueLayer(layer, state, active: active, bits: bits)
    }

    /// The frame's views fit the input: enough words, at most one index per input, every index inside.
    func checkFrame(active: UnsafeBufferPointer<UInt32>, bits: UnsafeBufferPointer<UInt64>) {
        precondition(bits.count >= (network.inputCount + 63) / 64, "bits must hold the whole frame")
        precondition(active.count <= network.inputCount, "more active inputs than inputs")
        var largest: UInt32 = 0
        for i in active { largest = max(largest, i) }
        precondition(active.isEmpty || Int(largest) < network.inputCount, "active input index outside the frame")
    }

    /// ``stepLayer(_:_:active:bits:)`` on a state whose storage is already unique.
    @inline(__always)
    func stepUniqueLayer(
        _ layer: Int, _ state: BinaryNetworkState, active: UnsafeBufferPointer<UInt32>, bits: UnsafeBufferPointer<UInt64>
    ) {
        let s = state.storage.layer(layer)
        let last = layer == layers.count - 1
        if layer == 0 {
            layers[0].step(s, active: active, bits: bits, withReadout: last)
        } else {
            let input = state.storage.layer(layer - 1)
            layers[layer].step(s, active: input.activeInputs, bits: input.inputBits, withReadout: last)
        }
    }
}

/// One packed layer of a ``BinaryNetwork``: its synapses (how the input current is computed) and its neurons
/// (traces, membrane, spikes, readout), which are the same for every kind of synapses.
struct BinaryLayer: Sendable {
    let synapses: BinarySynapses
    let bias: [Double]
    let readout: SignMatrix
    let readoutBias: [Double]
    let dynamics: LayerDynamics
    var outputs: Int { synapses.outputs }

    /// One step: input current, traces, spikes, and with `withReadout` the readout.
    func step(
        _ s: BinaryLayerState, active: UnsafeBufferPointer<UInt32>, bits: UnsafeBufferPointer<UInt64>,
        withReadout: Bool
    ) {
        synapses.current(active: active, bits: bits, into: s.current, scratch: s.scratch)
        updateNeurons(s)
        let spikeCount = packSpikes(s)
        if withReadout { computeReadout(spikeBits: UnsafeBufferPointer(s.spikeBits), spikeCount: spikeCount, into: s.readout) }
    }

    /// The readout c_ro (B S + d), with B S = 2 popcount(S AND B+) - popcount(S).
    func computeReadout(
        spikeBits: UnsafeBufferPointer<UInt64>, spikeCount: Int, into readoutValues: UnsafeMutableBufferPointer<Double>
    ) {
        readout.packedRows.withUnsafeBufferPointer { rows in
            for c in 0..<readout.rows {
                var plus = 0
                for w in 0..<readout.wordsPerRow {
                    plus &+= (rows[c * readout.wordsPerRow + w] & spikeBits[w]).nonzeroBitCount
                }
                readoutValues[c] = dynamics.readout(count: Double(2 &* plus &- spikeCount), bias: readoutBias[c])
            }
        }
    }

    /// Traces, membrane and spikes of every neuron, from the input current: straight-line Double arithmetic
    /// the compiler vectorises.
    func updateNeurons(_ s: BinaryLayerState) {
        let (alpha, beta, alphaR, scale) = (dynamics.alpha, dynamics.beta, dynamics.alphaRefractory, dynamics.scale)
        let (a, b, r, spikes, current) = (s.a.baseAddress!, s.b.baseAddress!, s.r.baseAddress!, s.spikes.baseAddress!, s.current.baseAddress!)
        bias.withUnsafeBufferPointer { bias in
            let bias = bias.baseAddress!
            for o in 0..<outputs {
                let previousA = a[o]
                b[o] = alpha * b[o] + previousA
                a[o] = beta * previousA + Double(current[o])
                r[o] = alphaR * r[o] + spikes[o]
                // LayerDynamics.membrane, spelled out so the loop vectorises: c (x + b) - r.
                let u = scale * (b[o] + bias[o]) - r[o]
                spikes[o] = u >= 0 ? 1 : 0
            }
        }
    }

    /// Packs the 0/1 spikes into bits and the list of active neurons; returns how many spiked.
    func packSpikes(_ s: BinaryLayerState) -> Int {
        let spikes = s.spikes.baseAddress!
        let outputs = outputs
        var count = 0
        for w in 0..<s.spikeBits.count {
            let start = w * 64
            var word: UInt64 = 0
            if start + 64 <= outputs {
                // A fixed trip count the compiler turns into compares and mask moves.
                for i in 0..<64 { word |= (spikes[start + i] != 0 ? 1 : 0) << UInt64(i) }
            } else {
                for i in 0..<(outputs - start) where spikes[start + i] != 0 { word |= 1 << UInt64(i) }
            }
            s.spikeBits[w] = word
            while word != 0 {
                s.active[count] = UInt32(start + word.trailingZeroBitCount)
                count += 1
                word &= word - 1
            }
        }
        s.activeCount.pointee = count
        return count
    }

}
