#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A run of consecutive spike frames in contiguous storage, handed across threads as one value.
///
/// Each frame has a header (``SpikeFrameHeader``: its start time, its segment id and whether it is the first
/// frame of its segment), and holds its inputs three ways:
/// - bit-packed (``packedBits``, ``bits(of:)``): ``wordsPerFrame`` words a frame, input `i` is bit `i % 64`
///   of word `i / 64` (so a binary layer computes W·s with popcount); bits past ``inputCount`` are 0;
/// - sparse (``activeIndices``, ``active(of:)``): the active inputs in ascending order;
/// - for count frames, the per-input counts (``countValues``, ``counts(of:)``).
///
/// Frames are appended by ``SpikeFrameBinner``; ``removeAll(keepingCapacity:)`` empties the batch and keeps
/// its storage, so a consumer that drains it after each append allocates nothing in steady state.
///
/// The accessors return array slices of the batch's storage (no copy); their indices are those of the whole
/// storage, so iterate them, or use `withUnsafeBufferPointer` for zero-based access.
///
/// Frames with no event (the bins of a quiet stretch) share one all-zero block of bits and counts, so a long
/// gap costs a header a frame, not a whole frame of storage.
public struct SpikeFrameBatch: Sendable {
    /// Inputs per frame.
    public let inputCount: Int
    /// 64-bit words per bit-packed frame: ceil(inputCount / 64).
    public let wordsPerFrame: Int
    /// Whether the frames carry counts (count frames) or only bits (binary frames).
    public let hasCounts: Bool

    /// Each frame's start time and segment.
    public private(set) var headers: [SpikeFrameHeader] = []
    // Storage in slots of one frame each: slot 0 is the shared all-zero frame, slots 1..<slotCount hold the
    // frames with events. Past the used slots, bit and count storage is all zeros, so a new frame only writes
    // its nonzero words and counts.
    @usableFromInline var bitStorage: [UInt64] = []
    @usableFromInline var activeStorage: [UInt32] = []
    @usableFromInline var activeCount = 0
    @usableFromInline var countStorage: [UInt16] = []
    @usableFromInline var slotCount = 1

    /// An empty batch for frames made with `configuration`, with room for `reservingFrames` frames.
    public init(configuration: SpikeFrameConfiguration, reservingFrames: Int = 0) {
        self.init(
            inputCount: configuration.inputCount, hasCounts: configuration.kind != .binary,
            reservingFrames: reservingFrames)
    }

    /// An empty batch for frames of `inputCount` inputs, with room for `reservingFrames` frames.
    public init(inputCount: Int, hasCounts: Bool, reservingFrames: Int = 0) {
        precondition(inputCount > 0, "inputCount must be > 0")
        self.inputCount = inputCount
        wordsPerFrame = (inputCount + 63) / 64
        self.hasCounts = hasCounts
        ensureRoom(slots: 1, activeIndices: 0)  // the shared empty frame
        reserveCapacity(frames: reservingFrames)
    }

    /// Number of frames held.
    public var frameCount: Int { headers.count }
    /// Whether the batch holds no frame.
    public var isEmpty: Bool { headers.isEmpty }

    /// All frames' bits, `frameCount * wordsPerFrame` words, frame after frame (a copy).
    public var packedBits: [UInt64] { (0..<frameCount).flatMap { bits(of: $0) } }
    /// All frames' active input indices, frame after frame, each frame's ascending.
    @inlinable
    public var activeIndices: ArraySlice<UInt32> { activeStorage[..<activeCount] }
    /// All frames' counts, `frameCount * inputCount` values, frame after frame (a copy; empty for binary frames).
    public var countValues: [UInt16] { hasCounts ? (0..<frameCount).flatMap { counts(of: $0) } : [] }

    /// Start of frame `frame`'s bin, in microseconds; the bin is `[start, start + binWidth)`.
    public func startTime(of frame: Int) -> Int64 { headers[frame].start }
    /// Frame `frame`'s segment id.
    public func segmentID(of frame: Int) -> Int { headers[frame].segmentID }
    /// Whether frame `frame` is the first of its segment.
    public func startsSegment(_ frame: Int) -> Bool { headers[frame].startsSegment }

    /// Frame `frame`'s bit-packed inputs (``wordsPerFrame`` words).
    @inlinable
    public func bits(of frame: Int) -> ArraySlice<UInt64> {
        precondition(frame >= 0 && frame < frameCount, "frame index out of range")
        let slot = headers[frame].slot
        return bitStorage[(slot * wordsPerFrame)..<((slot + 1) * wordsPerFrame)]
    }

    /// Frame `frame`'s active input indices, ascending.
    @inlinable
    public func active(of frame: Int) -> ArraySlice<UInt32> {
        precondition(frame >= 0 && frame < frameCount, "frame index out of range")
        return activeStorage[(frame == 0 ? 0 : headers[frame - 1].activeEnd)..<headers[frame].activeEnd]
    }

    /// Calls `body` with frame `frame`'s active indices (ascending) and its bit-packed inputs, both zero-based
    /// buffers over the batch's storage: the two views a binary network steps on.
    @inlinable
    public func withFrame<R>(
        _ frame: Int, _ body: (UnsafeBufferPointer<UInt32>, UnsafeBufferPointer<UInt64>) throws -> R
    ) rethrows -> R {
        try active(of: frame).withUnsafeBufferPointer { active in
            try bits(of: frame).withUnsafeBufferPointer { bits in try body(active, bits) }
        }
    }

    /// Frame `frame`'s per-input counts (``inputCount`` values); count frames only.
    @inlinable
    public func counts(of frame: Int) -> ArraySlice<UInt16> {
        precondition(hasCounts, "binary frames carry no counts")
        precondition(frame >= 0 && frame < frameCount, "frame index out of range")
        let slot = headers[frame].slot
        return countStorage[(slot * inputCount)..<((slot + 1) * inputCount)]
    }

    /// Frame `frame` as a dense vector for the float reference network: 0 or 1 per input for binary frames,
    /// the count for count frames.
    public func denseFrame(of frame: Int) -> [Float] {
        var dense: [Float] = []
        writeDenseFrame(of: frame, into: &dense)
        return dense
    }

    /// Writes frame `frame` as a dense vector (see ``denseFrame(of:)``) into `dense`, resized to
    /// ``inputCount``; reusing the same array allocates nothing.
    public func writeDenseFrame(of frame: Int, into dense: inout [Float]) {
        precondition(frame >= 0 && frame < frameCount, "frame index out of range")
        if dense.count != inputCount {
            dense = [Float](repeating: 0, count: inputCount)
        } else {
            dense.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        }
        let countBase = headers[frame].slot * inputCount
        for i in active(of: frame) {
            let input = Int(i)
            dense[input] = hasCounts ? Float(countStorage[countBase + input]) : 1
        }
    }

    /// Forgets all frames; with `keepingCapacity` (the default) the storage stays for the next frames.
    public mutating func removeAll(keepingCapacity: Bool = true) {
        if keepingCapacity {
            Self.zero(&bitStorage, count: slotCount * wordsPerFrame)
            Self.zero(&countStorage, count: hasCounts ? slotCount * inputCount : 0)
        } else {
            bitStorage = []
            activeStorage = []
            countStorage = []
        }
        headers.removeAll(keepingCapacity: keepingCapacity)
        activeCount = 0
        slotCount = 1
        if !keepingCapacity { ensureRoom(slots: 1, activeIndices: 0) }
    }

    /// Makes room for at least `frames` frames in total (sparse lists are sized for 1/16 of inputs active).
    public mutating func reserveCapacity(frames: Int) {
        guard frames > 0 else { return }
        headers.reserveCapacity(frames)
        ensureRoom(slots: frames - frameCount, activeIndices: frames * max(1, inputCount / 16) - activeCount)
    }

    /// Appends all frames of `other`, which must have the same layout, keeping their segment ids.
    public mutating func append(contentsOf other: SpikeFrameBatch) {
        precondition(
            other.inputCount == inputCount && other.hasCounts == hasCounts,
            "appending a batch of a different frame layout")
        guard !other.isEmpty else { return }
        ensureRoom(slots: other.slotCount - 1, activeIndices: other.activeCount)
        let activeBase = activeCount, slotBase = slotCount - 1
        let usedSlots = 1..<other.slotCount
        Self.copy(
            other.bitStorage[(usedSlots.lowerBound * wordsPerFrame)..<(usedSlots.upperBound * wordsPerFrame)],
            into: &bitStorage, at: slotCount * wordsPerFrame)
        if hasCounts {
            Self.copy(
                other.countStorage[(usedSlots.lowerBound * inputCount)..<(usedSlots.upperBound * inputCount)],
                into: &countStorage, at: slotCount * inputCount)
        }
        Self.copy(other.activeIndices, into: &activeStorage, at: activeBase)
        activeCount += other.activeCount
        slotCount += other.slotCount - 1
        headers.append(contentsOf: other.headers.lazy.map {
            var header = $0
            header.activeEnd += activeBase
            if header.slot != 0 { header.slot += slotBase }
            return header
        })
    }

    /// Grows the storage, zero-filled, so that `slots` more frames with events and `activeIndices` more active
    /// inputs fit.
    mutating func ensureRoom(slots: Int, activeIndices: Int) {
        Self.grow(&bitStorage, to: (slotCount + slots) * wordsPerFrame)
        Self.grow(&activeStorage, to: activeCount + activeIndices)
        if hasCounts { Self.grow(&countStorage, to: (slotCount + slots) * inputCount) }
    }

    // Storage helpers working on raw memory, so that they cost one call, not one generic call per element, in
    // unoptimised builds too.

    /// Grows `storage` to at least `needed` elements (doubling), zero-filled.
    static func grow<T: FixedWidthInteger>(_ storage: inout [T], to needed: Int) {
        guard needed > storage.count else { return }
        let target = Swift.max(needed, storage.count * 2, 1024)
        let old = storage.count
        storage = storage.withUnsafeBufferPointer { source in
            [T](unsafeUninitializedCapacity: target) { buffer, count in
                let raw = UnsafeMutableRawPointer(buffer.baseAddress!)
                if old > 0 {
                    raw.copyMemory(from: source.baseAddress!, byteCount: old * MemoryLayout<T>.stride)
                }
                memset(raw + old * MemoryLayout<T>.stride, 0, (target - old) * MemoryLayout<T>.stride)
                count = target
            }
        }
    }

    /// Zeroes the first `count` elements of `storage`.
    static func zero<T: FixedWidthInteger>(_ storage: inout [T], count: Int) {
        guard count > 0 else { return }
        storage.withUnsafeMutableBufferPointer { _ = memset($0.baseAddress!, 0, count * MemoryLayout<T>.stride) }
    }

    /// Copies `source` into `storage` (which has room) from index `offset` on.
    static func copy<T: FixedWidthInteger>(_ source: ArraySlice<T>, into storage: inout [T], at offset: Int) {
        guard !source.isEmpty else { return }
        storage.withUnsafeMutableBufferPointer { destination in
            source.withUnsafeBufferPointer { from in
                UnsafeMutableRawPointer(destination.baseAddress! + offset)
                    .copyMemory(from: from.baseAddress!, byteCount: from.count * MemoryLayout<T>.stride)
            }
        }
    }

    /// Appends one frame and lets `fill` write it. `fill` gets the frame's words (``wordsPerFrame`` of them,
    /// all zero), room for ``inputCount`` + 4 active indices, and for count frames the frame's counts (all
    /// zero); it writes the frame's nonzero words and counts and its ascending active indices, and returns how
    /// many active indices it wrote.
    @inline(__always)
    mutating func appendFrame(
        start: Int64, segmentID: Int, startsSegment starts: Bool,
        fill: (UnsafeMutablePointer<UInt64>, UnsafeMutablePointer<UInt32>, UnsafeMutablePointer<UInt16>?) -> Int
    ) {
        let slot = slotCount
        if bitStorage.count < (slot + 1) * wordsPerFrame || activeStorage.count < activeCount + inputCount + 4
            || (hasCounts && countStorage.count < (slot + 1) * inputCount) {
            ensureRoom(slots: 1, activeIndices: inputCount + 4)
        }
        // The storage is moved out while its pointers are in use, so the arrays can be written at once.
        var bits: [UInt64] = [], active: [UInt32] = []
        swap(&bits, &bitStorage)
        swap(&active, &activeStorage)
        defer {
            swap(&bits, &bitStorage)
            swap(&active, &activeStorage)
        }
        let bitBase = slot * wordsPerFrame, activeBase = activeCount
        let written = bits.withUnsafeMutableBufferPointer { b in
            active.withUnsafeMutableBufferPointer { a in
                if hasCounts {
                    countStorage.withUnsafeMutableBufferPointer { c in
                        fill(b.baseAddress! + bitBase, a.baseAddress! + activeBase, c.baseAddress! + slot * inputCount)
                    }
                } else {
                    fill(b.baseAddress! + bitBase, a.baseAddress! + activeBase, nil)
                }
            }
        }
        activeCount += written
        slotCount += 1
        headers.append(SpikeFrameHeader(
            start: start, segmentID: segmentID, startsSegment: starts, activeEnd: activeCount, slot: slot))
    }

    /// Appends `count` empty frames starting at `firstStart`, `step` apart, all of segment `segmentID`; the
    /// first starts the segment if `firstStartsSegment`.
    mutating func appendEmptyFrames(
        count: Int, firstStart: Int64, step: Int64, segmentID: Int, firstStartsSegment: Bool
    ) {
        guard count > 0 else { return }
        for k in 0..<count {
            headers.append(SpikeFrameHeader(
                start: firstStart + Int64(k) * step, segmentID: segmentID,
                startsSegment: k == 0 && firstStartsSegment, activeEnd: activeCount, slot: 0))
        }
    }
}

/// When one frame of a ``SpikeFrameBatch`` is, and which segment it belongs to.
public struct SpikeFrameHeader: Sendable, Hashable {
    /// Start of the frame's bin, in microseconds; the bin is `[start, start + binWidth)`.
    public var start: Int64
    /// The frame's segment id. Segments are numbered from 0 by the binner that made them, in order.
    public var segmentID: Int
    /// Whether the frame is the first of its segment (a new recording, a new time base, or after a gap).
    public var startsSegment: Bool
    /// End of the frame's entries in ``SpikeFrameBatch/activeIndices`` (the start is the previous frame's end);
    /// storage bookkeeping, not part of the header's value.
    @usableFromInline var activeEnd: Int
    /// Where the frame's bits and counts are stored: 0 for the shared empty frame. Bookkeeping too.
    @usableFromInline var slot: Int

    public static func == (a: SpikeFrameHeader, b: SpikeFrameHeader) -> Bool {
        a.start == b.start && a.segmentID == b.segmentID && a.startsSegment == b.startsSegment
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(start)
        hasher.combine(segmentID)
        hasher.combine(startsSegment)
    }
}
