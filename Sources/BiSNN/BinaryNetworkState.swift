/// One stream's state in a ``BinaryNetwork``: per layer the output-space traces A and B, the refractory
/// trace R, the last step's spikes (bit-packed and as a list), and the readout. Zero at the start of a sample.
///
/// A value type (copy-on-write) whose storage is allocated once: stepping allocates nothing.
public struct BinaryNetworkState: Sendable {
    var storage: Storage
    /// Time steps since the last reset.
    public internal(set) var steps = 0

    init(network: NetworkDescription) {
        storage = Storage(layout: Layout(network: network))
    }

    /// Zeroes every trace, spike and readout (the start of a new sample).
    public mutating func reset() {
        makeUnique()
        storage.zero()
        steps = 0
    }

    /// The output readout of the last step (the last layer's; `classes` values, the network's logits). For a
    /// hidden layer's readout, see ``BinaryNetwork/readout(ofLayer:in:)``.
    public var output: [Double] { Array(storage.layer(storage.layout.sizes.count - 1).readout) }

    /// Indices of the neurons of layer `layer` that spiked at the last step, ascending.
    public func spikes(ofLayer layer: Int) -> [UInt32] {
        let s = storage.layer(layer)
        return Array(s.active[..<s.activeCount.pointee])
    }

    /// Number of neurons of layer `layer` that spiked at the last step.
    public func spikeCount(ofLayer layer: Int) -> Int { storage.layer(layer).activeCount.pointee }

    mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
    }

    /// Where each layer's pieces live in the state's few allocations.
    struct Layout: Sendable {
        let sizes: [Int]
        let classes: Int
        /// Per layer: first neuron (into a, b, r), first word (spike bits), first readout value.
        let neuronStart: [Int]
        let wordStart: [Int]
        let neurons: Int
        let words: Int
        let scratchGroups: Int
        let maxSize: Int

        init(network: NetworkDescription) {
            sizes = network.layers.map(\.size)
            classes = network.classCount
            var n = 0
            var w = 0
            var ns: [Int] = []
            var ws: [Int] = []
            for size in sizes {
                ns.append(n)
                ws.append(w)
                n += size
                w += (size + 63) / 64
            }
            neuronStart = ns
            wordStart = ws
            neurons = n
            words = w
            maxSize = sizes.max() ?? 0
            // Counter planes for the sparse path: up to 8 planes of ceil(maxSize / 256) chunks.
            scratchGroups = 8 * ((maxSize + 255) / 256)
        }
    }

    /// The state's memory: Doubles for A, B, R and the last spikes as 0/1 (4 x neurons) then readouts
    /// (layers x classes); spike words;
    /// active lists; per-layer active counts; scratch for one layer's input current.
    final class Storage: @unchecked Sendable {
        // Safety: owned by one BinaryNetworkState; shared only between copies until makeUnique() copies it.
        let layout: Layout
        let doubles: UnsafeMutableBufferPointer<Double>
        let words: UnsafeMutableBufferPointer<UInt64>
        let active: UnsafeMutableBufferPointer<UInt32>
        let counts: UnsafeMutableBufferPointer<Int>
        let current: UnsafeMutableBufferPointer<Int32>
        let scratch: UnsafeMutableBufferPointer<SIMD4<UInt64>>

        init(layout: Layout) {
            self.layout = layout
            doubles = .allocate(capacity: 4 * layout.neurons + layout.sizes.count * layout.classes)
            words = .allocate(capacity: max(layout.words, 1))
            active = .allocate(capacity: max(layout.neurons, 1))
            counts = .allocate(capacity: max(layout.sizes.count, 1))
            current = .allocate(capacity: (layout.maxSize + 31) / 32 * 32)  // whole runs of 32
            scratch = .allocate(capacity: max(layout.scratchGroups, 1))
            zero()
        }

        func zero() {
            doubles.update(repeating: 0)
            words.update(repeating: 0)
            active.update(repeating: 0)
            counts.update(repeating: 0)
            current.update(repeating: 0)
            scratch.update(repeating: .zero)
        }

        func copy() -> Storage {
            let other = Storage(layout: layout)
            _ = other.doubles.update(fromContentsOf: doubles)
            _ = other.words.update(fromContentsOf: words)
            _ = other.active.update(fromContentsOf: active)
            _ = other.counts.update(fromContentsOf: counts)
            return other
        }

        deinit {
            doubles.deallocate()
            words.deallocate()
            active.deallocate()
            counts.deallocate()
            current.deallocate()
            scratch.deallocate()
        }

        func layer(_ l: Int) -> BinaryLayerState {
            let size = layout.sizes[l]
            let n = layout.neuronStart[l]
            let w = layout.wordStart[l]
            let base = doubles.baseAddress!
            let readoutStart = 4 * layout.neurons + l * layout.classes
            return BinaryLayerState(
                a: UnsafeMutableBufferPointer(start: base + n, count: size),
                b: UnsafeMutableBufferPointer(start: base + layout.neurons + n, count: size),
                r: UnsafeMutableBufferPointer(start: base + 2 * layout.neurons + n, count: size),
                spikes: UnsafeMutableBufferPointer(start: base + 3 * layout.neurons + n, count: size),
                readout: UnsafeMutableBufferPointer(start: base + readoutStart, count: layout.classes),
                spikeBits: UnsafeMutableBufferPointer(start: words.baseAddress! + w, count: (size + 63) / 64),
                active: UnsafeMutableBufferPointer(start: active.baseAddress! + n, count: size),
                activeCount: counts.baseAddress! + l,
                current: current, scratch: scratch)
        }
    }
}

/// Pointers into one layer's part of a ``BinaryNetworkState``.
struct BinaryLayerState {
    let a: UnsafeMutableBufferPointer<Double>
    let b: UnsafeMutableBufferPointer<Double>
    let r: UnsafeMutableBufferPointer<Double>
    /// The last step's spikes as 0 or 1 (the same as spikeBits), for the refractory update.
    let spikes: UnsafeMutableBufferPointer<Double>
    let readout: UnsafeMutableBufferPointer<Double>
    let spikeBits: UnsafeMutableBufferPointer<UInt64>
    let active: UnsafeMutableBufferPointer<UInt32>
    let activeCount: UnsafeMutablePointer<Int>
    let current: UnsafeMutableBufferPointer<Int32>
    let scratch: UnsafeMutableBufferPointer<SIMD4<UInt64>>

    /// This layer's spikes as the next layer's input.
    var activeInputs: UnsafeBufferPointer<UInt32> {
        UnsafeBufferPointer(start: active.baseAddress, count: activeCount.pointee)
    }
    var inputBits: UnsafeBufferPointer<UInt64> { UnsafeBufferPointer(spikeBits) }
}
