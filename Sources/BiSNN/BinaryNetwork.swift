import EventStream

/// The exact binary inference engine: one binary network (one draw), bit-packed, run one time step at a
/// time without a multiplication per synapse (BISNN.md, "exact binary fast path").
///
/// The traces are carried in output space: `A_t = beta A_{t-1} + W S_in_t`, `B_t = alpha B_{t-1} + A_{t-1}`,
/// so `W P_t = B_t` and the only synaptic work per step is the integer vector `W S_in_t`. A layer computes it
/// one of two ways, chosen per step by how many inputs are active:
/// - sparse: add the +-1 columns of the active inputs (``SignMatrix/packedColumns``, 8 outputs per table
///   lookup of one byte);
/// - dense: `2 popcount(S_in AND W+) - popcount(S_in)` on packed rows.
/// Both give the same integers; traces, membrane and readout are in Double with the constants of
/// ``LayerDynamics``, so the spikes equal ``ReferenceNetwork``'s on the same weights.
///
/// Immutable and `Sendable`: one network serves any number of streams, each with its own
/// ``BinaryNetworkState``.
public struct BinaryNetwork: Sendable {
    /// The network's shape.
    public let network: NetworkDescription
    let layers: [BinaryLayer]
    /// Lane `i` of entry `byte` is +1 if bit `i` of `byte` is set, else -1.
    let signTable: [SIMD8<Int16>]

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
                weights: draw.layers[l], bias: model.layers[l].bias.map(Double.init),
                readout: SignMatrix(
                    rows: model.network.classCount, columns: model.network.layers[l].size,
                    signs: model.layers[l].readoutWeights),
                readoutBias: model.layers[l].readoutBias.map(Double.init),
                dynamics: LayerDynamics(network: model.network, layer: l), sparseLimitOverride: sparseLimitOverride)
        }
        signTable = Self.makeSignTable()
    }

    /// Entry `byte`: lane `i` is +1 if bit `i` of `byte` is set, else -1.
    static func makeSignTable() -> [SIMD8<Int16>] {
        (0..<256).map { byte in SIMD8<Int16>((0..<8).map { byte >> $0 & 1 == 1 ? 1 : -1 }) }
    }

    /// Bytes of packed synaptic weights (rows and columns, all layers) and of the readouts.
    public var packedByteCount: Int { layers.reduce(0) { $0 + $1.weights.packedByteCount + $1.readout.packedByteCount } }

    /// A fresh per-stream state: all traces zero.
    public func makeState() -> BinaryNetworkState { BinaryNetworkState(network: network) }

    /// How many active inputs layer `layer` adds column by column; above it, the layer uses popcount.
    public func sparseLimit(ofLayer layer: Int) -> Int { layers[layer].sparseLimit }

    /// Advances every layer by one time step on frame `frame` of `batch`.
    public func step(_ state: inout BinaryNetworkState, frame: Int, of batch: SpikeFrameBatch) {
        precondition(batch.inputCount == network.inputCount, "frame size differs from the network's input")
        batch.active(of: frame).withUnsafeBufferPointer { active in
            batch.bits(of: frame).withUnsafeBufferPointer { bits in
                step(&state, active: active, bits: bits)
            }
        }
    }

    /// Advances every layer by one time step on one input frame, given both as its ascending active indices
    /// and bit-packed (``SpikeFrameBatch``'s layout); both must describe the same frame.
    public func step(
        _ state: inout BinaryNetworkState, active: UnsafeBufferPointer<UInt32>, bits: UnsafeBufferPointer<UInt64>
    ) {
        for l in layers.indices { stepLayer(l, &state, active: active, bits: bits) }
        state.steps += 1
    }

    /// Advances layer `layer` by one time step; layers above 0 read the spikes their input layer produced
    /// this step (so call the layers in order). ``step(_:active:bits:)`` does this for all layers; an ensemble
    /// may interleave draws layer by layer instead.
    public func stepLayer(
        _ layer: Int, _ state: inout BinaryNetworkState, active: UnsafeBufferPointer<UInt32>,
        bits: UnsafeBufferPointer<UInt64>
    ) {
        precondition(bits.count >= (network.inputCount + 63) / 64, "bits must hold the whole frame")
        state.makeUnique()
        let s = state.storage.layer(layer)
        signTable.withUnsafeBufferPointer { table in
            if layer == 0 {
                layers[0].step(s, active: active, bits: bits, table: table)
            } else {
                let input = state.storage.layer(layer - 1)
                layers[layer].step(s, active: input.activeInputs, bits: input.inputBits, table: table)
            }
        }
    }
}

/// One packed layer of a ``BinaryNetwork``.
struct BinaryLayer: Sendable {
    let weights: SignMatrix
    let bias: [Double]
    let readout: SignMatrix
    let readoutBias: [Double]
    let dynamics: LayerDynamics
    /// Up to this many active inputs, the sparse column path; above, popcount on rows.
    let sparseLimit: Int

    init(
        weights: SignMatrix, bias: [Double], readout: SignMatrix, readoutBias: [Double], dynamics: LayerDynamics,
        sparseLimitOverride: Int?
    ) {
        self.weights = weights
        self.bias = bias
        self.readout = readout
        self.readoutBias = readoutBias
        self.dynamics = dynamics
        // Cost per step: sparse ~ k * bytesPerColumn table adds; dense ~ rows * wordsPerRow popcounts.
        // The factor is the measured ratio of one popcount word to one table add (`bisnn bench network`).
        let dense = Double(weights.rows * weights.wordsPerRow) * BinaryLayer.popcountCostPerTableAdd
        // Int16 lanes hold any sum of up to Int16.max columns.
        let limit = sparseLimitOverride ?? Int(dense / Double(max(weights.bytesPerColumn, 1)))
        sparseLimit = min(Int(Int16.max), limit)
    }

    static let popcountCostPerTableAdd = 1.0

    /// One step: input current, traces, spikes, readout.
    func step(
        _ s: BinaryLayerState, active: UnsafeBufferPointer<UInt32>, bits: UnsafeBufferPointer<UInt64>,
        table: UnsafeBufferPointer<SIMD8<Int16>>
    ) {
        let k = active.count
        if k <= sparseLimit {
            addColumns(active: active, into: s.current, scratch: s.scratch, table: table)
        } else {
            popcountRows(bits: bits, activeCount: k, into: s.current)
        }
        updateNeurons(s)
        let spikeCount = packSpikes(s)
        // Readout: c_ro (B S + d), B S = 2 popcount(S AND B+) - popcount(S).
        readout.packedRows.withUnsafeBufferPointer { rows in
            for c in 0..<readout.rows {
                var plus = 0
                for w in 0..<readout.wordsPerRow {
                    plus &+= (rows[c * readout.wordsPerRow + w] & s.spikeBits[w]).nonzeroBitCount
                }
                s.readout[c] = dynamics.readout(count: Double(2 * plus - spikeCount), bias: readoutBias[c])
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
            for o in 0..<weights.rows {
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
        let outputs = weights.rows
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

    /// current = W s for active inputs `active`, adding +-1 columns, 8 outputs per byte looked up.
    ///
    /// Works on 64 outputs at a time (8 accumulators that stay in registers), going over every active
    /// column for each block: one 8-byte load per column and block, 8 table lookups.
    func addColumns(
        active: UnsafeBufferPointer<UInt32>, into current: UnsafeMutableBufferPointer<Int32>,
        scratch: UnsafeMutableBufferPointer<SIMD8<Int16>>, table: UnsafeBufferPointer<SIMD8<Int16>>
    ) {
        let stride = weights.bytesPerColumn  // a multiple of 8
        let table = table.baseAddress!
        let acc = scratch.baseAddress!
        weights.packedColumns.withUnsafeBufferPointer { columns in
            let base = columns.baseAddress!
            for block in 0..<(stride / 8) {
                var a0 = SIMD8<Int16>.zero, a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0
                for j in active {
                    let c = base + Int(j) * stride + block * 8
                    a0 &+= table[Int(c[0])]
                    a1 &+= table[Int(c[1])]
                    a2 &+= table[Int(c[2])]
                    a3 &+= table[Int(c[3])]
                    a4 &+= table[Int(c[4])]
                    a5 &+= table[Int(c[5])]
                    a6 &+= table[Int(c[6])]
                    a7 &+= table[Int(c[7])]
                }
                let g = acc + block * 8
                (g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7]) = (a0, a1, a2, a3, a4, a5, a6, a7)
            }
        }
        UnsafeRawPointer(acc).withMemoryRebound(to: Int16.self, capacity: stride * 8) { lanes in
            for o in 0..<weights.rows { current[o] = Int32(lanes[o]) }
        }
    }

    /// current = W s from packed rows: 2 popcount(s AND W+) - popcount(s).
    func popcountRows(bits: UnsafeBufferPointer<UInt64>, activeCount: Int, into current: UnsafeMutableBufferPointer<Int32>) {
        let words = weights.wordsPerRow
        weights.packedRows.withUnsafeBufferPointer { rows in
            for o in 0..<weights.rows {
                var plus = 0
                let row = rows.baseAddress! + o * words
                for w in 0..<words { plus &+= (row[w] & bits[w]).nonzeroBitCount }
                current[o] = Int32(2 * plus - activeCount)
            }
        }
    }
}
