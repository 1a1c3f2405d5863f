import EventStream

/// The exact binary inference engine: one binary network (one draw), bit-packed, run one time step at a
/// time without a multiplication per synapse (BISNN.md, "exact binary fast path").
///
/// The traces are carried in output space: `A_t = beta A_{t-1} + W S_in_t`, `B_t = alpha B_{t-1} + A_{t-1}`,
/// so `W P_t = B_t` and the only synaptic work per step is the integer vector `W S_in_t`. A layer computes it
/// one of two ways, chosen per step by how many inputs are active:
/// - sparse: count, per output, the +1 entries in the columns of the active inputs with bit-sliced counters
///   (``SignMatrix/packedColumns`` added 256 outputs at a time into counter bit planes), then
///   `2 count - popcount(S_in)`;
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
    }

    /// Bytes of packed synaptic weights (rows and columns, all layers) and of the readouts.
    public var packedByteCount: Int { layers.reduce(0) { $0 + $1.weights.packedByteCount + $1.readout.packedByteCount } }

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
        precondition(bits.count >= (network.inputCount + 63) / 64, "bits must hold the whole frame")
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
        precondition(bits.count >= (network.inputCount + 63) / 64, "bits must hold the whole frame")
        state.makeUnique()
        stepUniqueLayer(layer, state, active: active, bits: bits)
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
        // Cost per step in vector operations, roughly: sparse ~ 8 a column and chunk to add, 24 a plane and
        // chunk to read out; dense ~ 3 a row word (and, popcount, add). Both paths give the same integers, so
        // this only decides speed (`bisnn bench network` measures each path alone).
        let dense = 3 * weights.rows * weights.wordsPerRow
        let chunks = weights.bytesPerColumn / 32
        var limit = 0
        while limit < Self.maxSparseInputs {
            let k = limit + 1
            if 8 * k * chunks + 24 * (Int.bitWidth - k.leadingZeroBitCount) * chunks > dense { break }
            limit = k
        }
        sparseLimit = min(sparseLimitOverride ?? limit, Self.maxSparseInputs)
    }

    /// Most active inputs the sparse path takes: counts are read out of at most 8 planes.
    static let maxSparseInputs = 255

    /// One step: input current, traces, spikes, and with `withReadout` the readout.
    func step(
        _ s: BinaryLayerState, active: UnsafeBufferPointer<UInt32>, bits: UnsafeBufferPointer<UInt64>,
        withReadout: Bool
    ) {
        let k = active.count
        if k <= sparseLimit {
            addColumns(active: active, into: s.current, scratch: s.scratch)
        } else {
            popcountRows(bits: bits, activeCount: k, into: s.current)
        }
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

    /// current = W s for active inputs `active` (at most ``BinaryLayer/maxSparseInputs``), from the packed
    /// columns.
    ///
    /// Bit-sliced counting: plane `p` holds bit `p` of every output's count of +1 entries so far, 256 outputs
    /// per SIMD operation. Columns go in eight at a time through a tree of carry-save adders (ones, twos and
    /// fours in registers, about 7 vector operations a column), the rest one at a time by half adders.
    /// Counts then come out of the planes 32 at a
    /// time: in a chunk, bit `i` of byte `b` is output `32 i + b` (``SignMatrix/packedColumns``), so the bits
    /// `i` of a plane's 32 bytes are bit `p` of 32 consecutive outputs' counts. current = 2 count - k.
    func addColumns(
        active: UnsafeBufferPointer<UInt32>, into current: UnsafeMutableBufferPointer<Int32>,
        scratch: UnsafeMutableBufferPointer<SIMD4<UInt64>>
    ) {
        let k = active.count
        let chunks = weights.bytesPerColumn / 32
        let planeCount = Int.bitWidth - k.leadingZeroBitCount  // bits of k (at most 8): no count exceeds k
        let planes = scratch.baseAddress!  // planes[p * chunks + chunk]
        for i in (3 * chunks)..<max(3 * chunks, planeCount * chunks) { planes[i] = .zero }
        let stride = weights.bytesPerColumn
        weights.packedColumns.withUnsafeBytes { columns in
            let base = columns.baseAddress!
            for chunk in 0..<chunks {
                let offset = chunk * 32
                @inline(__always) func column(_ i: Int) -> SIMD4<UInt64> {
                    base.loadUnaligned(fromByteOffset: Int(active[i]) &* stride &+ offset, as: SIMD4<UInt64>.self)
                }
                // Planes above fours live in memory; a carry out of fours ripples through them.
                @inline(__always) func ripple(_ carry: SIMD4<UInt64>) {
                    var carry = carry
                    var plane = planes + 3 * chunks + chunk
                    for _ in 3..<max(3, planeCount) {
                        let next = plane.pointee & carry
                        plane.pointee ^= carry
                        carry = next
                        plane += chunks
                    }
                }
                var ones = SIMD4<UInt64>.zero, twos = ones, fours = ones
                var i = 0
                // Eight columns at a time through a tree of carry-save adders (Harley and Seal).
                while i + 8 <= k {
                    var twosA = ones, twosB = ones, foursA = ones, foursB = ones, eights = ones
                    (ones, twosA) = Self.carrySave(ones, column(i), column(i + 1))
                    (ones, twosB) = Self.carrySave(ones, column(i + 2), column(i + 3))
                    (twos, foursA) = Self.carrySave(twos, twosA, twosB)
                    (ones, twosA) = Self.carrySave(ones, column(i + 4), column(i + 5))
                    (ones, twosB) = Self.carrySave(ones, column(i + 6), column(i + 7))
                    (twos, foursB) = Self.carrySave(twos, twosA, twosB)
                    (fours, eights) = Self.carrySave(fours, foursA, foursB)
                    ripple(eights)
                    i += 8
                }
                // The rest one at a time, by half adders.
                while i < k {
                    var carry = column(i)
                    var next = ones & carry
                    ones ^= carry
                    carry = next
                    next = twos & carry
                    twos ^= carry
                    carry = next
                    next = fours & carry
                    fours ^= carry
                    ripple(next)
                    i += 1
                }
                (planes[chunk], planes[chunks + chunk], planes[2 * chunks + chunk]) = (ones, twos, fours)
            }
        }
        let kLanes = SIMD8<Int32>(repeating: Int32(k))
        let output = current.baseAddress!
        withUnsafeTemporaryAllocation(of: SIMD4<UInt64>.self, capacity: 1) { countBuffer in
            let countBytes = UnsafeRawPointer(countBuffer.baseAddress!)
            for chunk in 0..<chunks {
                for i in 0..<8 {
                    let first = chunk * 256 + i * 32
                    if first >= weights.rows { break }
                    // Bit i of every byte of every plane: bit p of the counts of outputs first..<first + 32.
                    // Masked to bit i, a 64-bit shift by p - i moves each bit inside its own byte.
                    let bit = SIMD4<UInt64>(repeating: 0x0101_0101_0101_0101 &<< UInt64(i))
                    var count = SIMD4<UInt64>.zero
                    for p in 0..<planeCount {
                        let masked = planes[p * chunks + chunk] & bit
                        count |= p >= i ? masked &<< UInt64(p - i) : masked &>> UInt64(i - p)
                    }
                    countBuffer[0] = count
                    // current has room for whole runs of 32 (see BinaryNetworkState.Layout).
                    for part in 0..<4 {
                        let bytes = countBytes.loadUnaligned(fromByteOffset: part * 8, as: SIMD8<UInt8>.self)
                        let counts = SIMD8<Int32>(truncatingIfNeeded: bytes)
                        UnsafeMutableRawPointer(output + first + part * 8).storeBytes(
                            of: counts &+ counts &- kLanes, as: SIMD8<Int32>.self)
                    }
                }
            }
        }
    }

    /// A full adder on every bit: `a + b + c = sum + 2 carry`.
    @inline(__always)
    static func carrySave(
        _ a: SIMD4<UInt64>, _ b: SIMD4<UInt64>, _ c: SIMD4<UInt64>
    ) -> (sum: SIMD4<UInt64>, carry: SIMD4<UInt64>) {
        let u = a ^ b
        return (u ^ c, (a & b) | (u & c))
    }

    /// current = W s from packed rows: 2 popcount(s AND W+) - popcount(s).
    func popcountRows(bits: UnsafeBufferPointer<UInt64>, activeCount: Int, into current: UnsafeMutableBufferPointer<Int32>) {
        let words = weights.wordsPerRow
        weights.packedRows.withUnsafeBufferPointer { rows in
            for o in 0..<weights.rows {
                var plus = 0
                let row = rows.baseAddress! + o * words
                for w in 0..<words { plus &+= (row[w] & bits[w]).nonzeroBitCount }
                current[o] = Int32(truncatingIfNeeded: 2 &* plus &- activeCount)
            }
        }
    }
}
