/// How a layer's input current `W S_in` is computed from its binary input spikes. One case per kind of
/// connectivity (``LayerDescription/Kind``); a convolution layer would add its own case and kernel here, and
/// the neurons, state, predictor and model files would stay as they are.
enum BinarySynapses: Sendable {
    case dense(DenseBinarySynapses)

    /// Output neurons fed.
    var outputs: Int {
        switch self {
        case .dense(let d): d.weights.rows
        }
    }

    /// Bytes of packed weights.
    var packedByteCount: Int {
        switch self {
        case .dense(let d): d.weights.packedByteCount
        }
    }

    /// current = W s for one frame given as its ascending active indices and bit-packed.
    @inline(__always)
    func current(
        active: UnsafeBufferPointer<UInt32>, bits: UnsafeBufferPointer<UInt64>,
        into current: UnsafeMutableBufferPointer<Int32>, scratch: UnsafeMutableBufferPointer<SIMD4<UInt64>>
    ) {
        switch self {
        case .dense(let d): d.current(active: active, bits: bits, into: current, scratch: scratch)
        }
    }
}

/// A fully connected layer's +-1 weights and the two exact ways to compute `W s` from binary inputs, chosen
/// per step by how many inputs are active:
/// - sparse (up to ``sparseLimit`` active inputs): count, per output, the +1 entries in the columns of the
///   active inputs with bit-sliced counters (``SignMatrix/packedColumns``), then `2 count - popcount(s)`;
/// - dense: `2 popcount(s AND W+) - popcount(s)` on packed rows.
/// Both give the same integers (tests force each); the choice only decides speed.
struct DenseBinarySynapses: Sendable {
    let weights: SignMatrix
    /// Up to this many active inputs, the sparse column path; above, popcount on rows.
    let sparseLimit: Int
    var outputs: Int { weights.rows }

    /// Most active inputs the sparse path takes: counts are read out of at most 8 planes.
    static let maxSparseInputs = 255

    /// Synapses with `weights`; `sparseLimitOverride` replaces the cost model's limit (tests and benchmarks
    /// force each path with it).
    init(weights: SignMatrix, sparseLimitOverride: Int? = nil) {
        self.weights = weights
        // Cost per step in vector operations, roughly: sparse ~ 8 a column and chunk to add, 24 a plane and
        // chunk to read out; dense ~ 3 a row word (and, popcount, add). `bisnn bench network` measures each
        // path alone.
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

    @inline(__always)
    func current(
        active: UnsafeBufferPointer<UInt32>, bits: UnsafeBufferPointer<UInt64>,
        into current: UnsafeMutableBufferPointer<Int32>, scratch: UnsafeMutableBufferPointer<SIMD4<UInt64>>
    ) {
        if active.count <= sparseLimit {
            addColumns(active: active, into: current, scratch: scratch)
        } else {
            popcountRows(bits: bits, activeCount: active.count, into: current)
        }
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
                    if first >= outputs { break }
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
            for o in 0..<outputs {
                var plus = 0
                let row = rows.baseAddress! + o * words
                for w in 0..<words { plus &+= (row[w] & bits[w]).nonzeroBitCount }
                current[o] = Int32(truncatingIfNeeded: 2 &* plus &- activeCount)
            }
        }
    }
}
