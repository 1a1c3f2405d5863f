/// Bins a stream of events into spike frames, one frame per `binWidth` microseconds, as time advances.
///
/// Feed events in pieces of any size with ``append(_:to:)``; the frame `[start, start + binWidth)` is emitted
/// as soon as an event with `t >= start + binWidth` arrives, followed by an empty frame for every bin the
/// events skipped (the network takes one frame per time step). ``flush(to:)`` emits the partial current frame
/// at the end of a recording; ``reset(origin:)`` starts the next recording.
///
/// The time line is cut into *segments*, numbered from 0 in order. A segment opens at the first event after
/// creation, ``flush(to:)`` or ``reset(origin:)`` (its first frame starting at the origin given to
/// ``reset(origin:)``, or else at that event's time), and also when:
/// - an event is earlier than the current frame's start by more than ``SpikeFrameConfiguration/maxBackwardJump``
///   (a new time base): the current frame is emitted and a segment opens at that event
///   (``Counters/segmentResets``); an event late by no more than that is dropped (``Counters/lateEvents``);
/// - more than ``SpikeFrameConfiguration/maxGapFrames`` empty frames would be needed before an event: the
///   current frame is emitted and a segment opens at the bin holding the event, on the same bin grid
///   (``Counters/gapResets``).
/// Every segment starts with fresh filter state.
///
/// Each event's time drives the clock as above; then, in order: an event off the sensor is counted in
/// ``Counters/outsideCrop``; the background-activity filter checks its 8 neighbours and records the event's
/// time at its pixel; an event outside the crop is counted in ``Counters/outsideCrop``; one rejected by the
/// background-activity filter in ``Counters/noiseDropped``; one within the refractory period of the last
/// kept event at its pixel in ``Counters/refractoryDropped``; the rest are binned (``Counters/eventsBinned``).
/// Events within a bin may be out of order; filters then see negative time differences, which count as
/// "within" the period or window.
public struct SpikeFrameBinner: Sendable {
    /// What happened to the events and frames so far (cumulative; assign `.init()` to start over).
    /// `eventsIn == eventsBinned + outsideCrop + refractoryDropped + noiseDropped + lateEvents`.
    public struct Counters: Sendable, Hashable, CustomStringConvertible {
        /// Events appended.
        public var eventsIn = 0
        /// Events that set a bit (or raised a count) in a frame.
        public var eventsBinned = 0
        /// Events off the sensor or outside the crop, ignored.
        public var outsideCrop = 0
        /// Events dropped by the refractory filter.
        public var refractoryDropped = 0
        /// Events dropped by the background-activity filter.
        public var noiseDropped = 0
        /// Events earlier than the current frame's start (by at most `maxBackwardJump`), dropped.
        public var lateEvents = 0
        /// Segments started because time jumped back by more than `maxBackwardJump`.
        public var segmentResets = 0
        /// Frames emitted, empty ones included.
        public var framesEmitted = 0
        /// Segments ended because a gap in the events was longer than `maxGapFrames` frames.
        public var gapResets = 0

        public init() {}

        public var description: String {
            "in \(eventsIn), binned \(eventsBinned), outside crop \(outsideCrop), refractory \(refractoryDropped), "
                + "noise \(noiseDropped), late \(lateEvents), segment resets \(segmentResets), "
                + "frames \(framesEmitted), gap resets \(gapResets)"
        }
    }

    /// The binning parameters (validated).
    public let configuration: SpikeFrameConfiguration
    /// What happened so far.
    public var counters = Counters()

    // Geometry and parameters, precomputed.
    private let sensorWidth: Int
    private let sensorHeight: Int
    private let binWidth: Int64
    private let countLimit: UInt16
    private let refractoryPeriod: Int64  // 0: off
    private let noiseWindow: Int64  // 0: off
    /// Input index of a frame position that is never emitted: where events outside the crop land (the
    /// look-up table holds it instead of -1, so the plain loop sets a bit without a branch).
    private let sinkIndex: Int32
    /// Dirty-block granularity: input `i` marks bit `i >> dirtyShift` of `dirtyBlocks`, a block being
    /// `1 << (dirtyShift - 6)` words (one word for frames of up to 63 words).
    private let dirtyShift: Int
    /// Which blocks of the current frame's words may be nonzero (kept in a register by the hot loops).
    private var dirtyBlocks: UInt64 = 0
    private var tables: BinnerTables
    private var clock = SegmentClock()
    /// Filter times are stored as `time + filterOffset`. Each segment gets an offset that puts its first
    /// event at least `filterGuard` after everything stored before, so every earlier entry reads as "long
    /// ago": fresh filter state per segment without clearing the per-pixel tables (which cost a pass over
    /// the sensor, and a stream jumping back and forth in time could ask for one at every event).
    private var filterOffset: Int64 = 0
    /// Upper bound of the filter times stored so far (as stored, offset included).
    private var filterHighWater: Int64 = 0
    private let filterGuard: Int64

    /// "No event yet" in the filter state: far enough in the past for any real timestamp, without overflow.
    private static let longAgo: Int64 = -(1 << 62)

    /// A binner for `configuration`; throws if a parameter is out of range.
    public init(configuration: SpikeFrameConfiguration) throws(SpikeFrameConfigurationError) {
        try configuration.validate()
        self.configuration = configuration
        sensorWidth = configuration.sensor.width
        sensorHeight = configuration.sensor.height
        binWidth = configuration.binWidth
        countLimit = configuration.countLimit
        refractoryPeriod = configuration.refractoryPeriod ?? 0
        noiseWindow = configuration.backgroundActivityWindow ?? 0
        filterGuard = max(refractoryPeriod, noiseWindow) + configuration.binWidth
        let wordsPerFrame = configuration.wordsPerFrame
        sinkIndex = Int32(wordsPerFrame * 64)
        var blockWords = 1
        while blockWords * 64 < wordsPerFrame + 1 { blockWords *= 2 }
        dirtyShift = 6 + blockWords.trailingZeroBitCount

        var table = [Int32](repeating: sinkIndex, count: sensorWidth * sensorHeight * 2)
        let crop = configuration.cropRectangle
        for y in crop.y..<(crop.y + crop.height) {
            for x in crop.x..<(crop.x + crop.width) {
                for p in 0..<2 {
                    let input = configuration.inputIndex(sensorX: x, sensorY: y, polarity: UInt8(p))!
                    table[(y * sensorWidth + x) * 2 + p] = Int32(input)
                }
            }
        }
        let refractoryCount = refractoryPeriod > 0 ? sensorWidth * sensorHeight : 0
        let noiseCount = noiseWindow > 0 ? (sensorWidth + 2) * (sensorHeight + 2) : 0
        tables = BinnerTables(
            pixelInput: table,
            frameWords: [UInt64](repeating: 0, count: wordsPerFrame + 1),
            wordsPerFrame: wordsPerFrame,
            counts: [UInt16](repeating: 0, count: configuration.kind == .binary ? 1 : wordsPerFrame * 64 + 1),
            filterTimes: [Int64](repeating: Self.longAgo, count: max(1, refractoryCount + noiseCount)),
            filterCount: refractoryCount + noiseCount)
    }

    /// An empty batch with this binner's frame layout.
    public func makeBatch(reservingFrames: Int = 0) -> SpikeFrameBatch {
        SpikeFrameBatch(configuration: configuration, reservingFrames: reservingFrames)
    }

    /// Start of the current (not yet emitted) frame, in microseconds; nil before the first event of a segment.
    public var currentFrameStart: Int64? { clock.isOpen ? clock.frameStart : nil }

    /// Bins `events` and appends every frame they complete to `frames`, which must have this binner's layout
    /// (see ``makeBatch(reservingFrames:)``).
    public mutating func append(_ events: EventBuffer, to frames: inout SpikeFrameBatch) {
        precondition(
            frames.inputCount == configuration.inputCount && frames.hasCounts == (configuration.kind != .binary),
            "the batch's frame layout does not match the binner's configuration")
        let n = events.count
        guard n > 0 else { return }
        counters.eventsIn += n
        // The tables are moved out of `self` while their pointers are in use, so the loops may mutate the
        // rest of `self` without overlapping access.
        var moved = BinnerTables()
        swap(&moved, &tables)
        defer { swap(&moved, &tables) }
        let plain = refractoryPeriod == 0 && noiseWindow == 0 && countLimit == 0
        moved.withPointers { buffers in
            events.withColumns { t, x, y, p in
                if !clock.isOpen {
                    openSegment(at: clock.pendingOrigin ?? t[0], buffers)
                }
                // Runs of events inside the current frame go through a loop with no calls; the event that ends
                // a run moves the clock and, unless it is late, starts the next run.
                var i = 0
                while true {
                    i = plain ? binRunWithoutFilters(t, x, y, p, from: i, buffers)
                        : binRunFiltered(t, x, y, p, from: i, buffers)
                    if i == n { break }
                    if !advanceClock(to: t[i], buffers, &frames) {
                        counters.lateEvents += 1
                        i += 1
                    }
                }
            }
        }
    }

    /// Emits the current frame, partial as it is, and ends the segment (end of a recording): the next event
    /// opens a new segment. Does nothing when no segment is open.
    public mutating func flush(to frames: inout SpikeFrameBatch) {
        guard clock.isOpen else { return }
        var moved = BinnerTables()
        swap(&moved, &tables)
        defer { swap(&moved, &tables) }
        moved.withPointers { buffers in emitCurrentFrame(buffers, &frames) }
        closeFilterEpoch()
        clock.isOpen = false
    }

    /// Discards the current frame (call ``flush(to:)`` first to keep it) and starts a new segment at the next
    /// event, whose first frame starts at `origin` (for example 0, to align the bins to a recording's start)
    /// or, when nil, at that event's time.
    public mutating func reset(origin: Int64? = nil) {
        if clock.isOpen {
            tables.clearFrame()
            dirtyBlocks = 0
        }
        closeFilterEpoch()
        clock.isOpen = false
        clock.pendingOrigin = origin
    }

    // MARK: - Hot loops

    /// Bins events from index `first` on while they fall inside the current frame; returns the index of the
    /// first one that does not (or the end). Binary frames, no filters: one table look-up and two ORs per event.
    @inline(never)  // a function of its own, so its loop gets the registers
    private mutating func binRunWithoutFilters(
        _ ts: UnsafeBufferPointer<Int64>, _ xs: UnsafeBufferPointer<UInt16>, _ ys: UnsafeBufferPointer<UInt16>,
        _ ps: UnsafeBufferPointer<UInt8>, from first: Int, _ buffers: BinnerTables.Pointers
    ) -> Int {
        let wordsPerFrame = buffers.wordsPerFrame
        let words = buffers.words, table = buffers.pixelInput
        let width = sensorWidth, height = sensorHeight, blockShift = UInt64(dirtyShift &- 6)
        let span = UInt64(binWidth), start = clock.frameStart
        let t = ts.baseAddress!, x = xs.baseAddress!, y = ys.baseAddress!, p = ps.baseAddress!
        let n = ts.count
        var dirty = dirtyBlocks
        var outside = 0
        var i = first
        while i < n {
            if UInt64(bitPattern: t[i] &- start) >= span { break }
            let xi = Int(x[i]), yi = Int(y[i])
            if xi < width && yi < height {
                let input = Int(table[(yi &* width &+ xi) &<< 1 | (p[i] != 0 ? 1 : 0)])
                let word = input &>> 6
                words[word] |= 1 &<< UInt64(truncatingIfNeeded: input)
                dirty |= 1 &<< (UInt64(truncatingIfNeeded: word) &>> blockShift)
                // The sink word (outside the crop) is the last one: compare with the frame's word count.
                if word >= wordsPerFrame { outside &+= 1 }
            } else {
                outside &+= 1
            }
            i &+= 1
        }
        dirtyBlocks = dirty
        counters.outsideCrop += outside
        counters.eventsBinned += i - first - outside
        return i
    }

    /// Bins events from index `first` on while they fall inside the current frame; returns the index of the
    /// first one that does not (or the end). Any frame kind, any filters.
    @inline(never)  // a function of its own, so its loop gets the registers
    private mutating func binRunFiltered(
        _ ts: UnsafeBufferPointer<Int64>, _ xs: UnsafeBufferPointer<UInt16>, _ ys: UnsafeBufferPointer<UInt16>,
        _ ps: UnsafeBufferPointer<UInt8>, from first: Int, _ buffers: BinnerTables.Pointers
    ) -> Int {
        let words = buffers.words, table = buffers.pixelInput, counts = buffers.counts
        let width = sensorWidth, height = sensorHeight, sink = Int(sinkIndex), shift = dirtyShift
        let span = UInt64(binWidth), start = clock.frameStart
        let limit = countLimit
        let period = refractoryPeriod, window = noiseWindow, offset = filterOffset
        let lastKept = buffers.filterTimes
        // Background-activity map: padded rows of width + 2, (x, y) at (y + 1) * stride + x + 1.
        let stride = width + 2
        let lastSeen = buffers.filterTimes + (period > 0 ? width * height : 0)
        let t = ts.baseAddress!, x = xs.baseAddress!, y = ys.baseAddress!, p = ps.baseAddress!
        let n = ts.count
        var dirty = dirtyBlocks
        var outside = 0, refractory = 0, noise = 0, binned = 0
        var i = first
        while i < n {
            if UInt64(bitPattern: t[i] &- start) >= span { break }
            let time = t[i] &+ offset  // filter time (see `filterOffset`)
            let xi = Int(x[i]), yi = Int(y[i]), on = p[i] != 0 ? 1 : 0
            i &+= 1
            if xi >= width || yi >= height {
                outside &+= 1
                continue
            }
            let pixel = yi &* width &+ xi
            let input = Int(table[pixel &<< 1 | on])
            if window > 0 {
                let c = (yi &+ 1) &* stride &+ xi &+ 1
                let above = c &- stride, below = c &+ stride
                let latest = max(
                    max(max(lastSeen[above &- 1], lastSeen[above]), max(lastSeen[above &+ 1], lastSeen[c &- 1])),
                    max(max(lastSeen[c &+ 1], lastSeen[below &- 1]), max(lastSeen[below], lastSeen[below &+ 1])))
                lastSeen[c] = time
                if input == sink {
                    outside &+= 1
                    continue
                }
                if time &- latest >= window {
                    noise &+= 1
                    continue
                }
            } else if input == sink {
                outside &+= 1
                continue
            }
            if period > 0 {
                if time &- lastKept[pixel] < period {
                    refractory &+= 1
                    continue
                }
                lastKept[pixel] = time
            }
            words[input &>> 6] |= 1 &<< UInt64(truncatingIfNeeded: input)
            dirty |= 1 &<< UInt64(truncatingIfNeeded: input &>> shift)
            if limit > 0 {
                let c = counts[input]
                counts[input] = c < limit ? c &+ 1 : c
            }
            binned &+= 1
        }
        dirtyBlocks = dirty
        counters.outsideCrop += outside
        counters.refractoryDropped += refractory
        counters.noiseDropped += noise
        counters.eventsBinned += binned
        return i
    }

    // MARK: - Segments and emission

    /// Moves the clock for an event at `time` outside the current frame: emits the frames it completes, or
    /// starts a new segment. Returns false when the event is late and must be dropped.
    private mutating func advanceClock(
        to time: Int64, _ buffers: BinnerTables.Pointers, _ frames: inout SpikeFrameBatch
    ) -> Bool {
        let start = clock.frameStart
        if time < start {
            let (behind, overflow) = start.subtractingReportingOverflow(time)
            guard overflow || behind > configuration.maxBackwardJump else { return false }
            emitCurrentFrame(buffers, &frames)
            counters.segmentResets += 1
            openSegment(at: time, buffers)
            return true
        }
        let (ahead, overflow) = time.subtractingReportingOverflow(start)
        if overflow {
            emitCurrentFrame(buffers, &frames)
            counters.gapResets += 1
            openSegment(at: time, buffers)
            return true
        }
        let bins = ahead < 2 &* binWidth ? 1 : ahead / binWidth  // >= 1; mostly the next bin, no division
        emitCurrentFrame(buffers, &frames)
        if bins - 1 > configuration.maxGapFrames {
            counters.gapResets += 1
            openSegment(at: start + bins * binWidth, buffers)
        } else {
            frames.appendEmptyFrames(
                count: Int(bins - 1), firstStart: start + binWidth, step: binWidth, segmentID: clock.segmentID,
                firstStartsSegment: false)
            counters.framesEmitted += Int(bins - 1)
            clock.frameStart = start + bins * binWidth
        }
        return true
    }

    /// Opens a segment whose first frame starts at `start`, with fresh filter state.
    private mutating func openSegment(at start: Int64, _ buffers: BinnerTables.Pointers) {
        closeFilterEpoch()  // before the clock moves: the old segment's frame end bounds its times
        clock.isOpen = true
        clock.frameStart = start
        clock.pendingOrigin = nil
        clock.hasEmitted = false
        guard buffers.filterCount > 0 else { return }
        let floor = filterHighWater &+ filterGuard
        // Wrapping arithmetic keeps `time + offset` exact whatever `start` is: it equals time - start + floor.
        if floor > 1 << 61 {
            // Only after ~73,000 years of segments: start over with cleared tables.
            buffers.filterTimes.update(repeating: Self.longAgo, count: buffers.filterCount)
            filterHighWater = 0
            filterOffset = filterGuard &- start
        } else {
            filterOffset = floor &- start
        }
    }

    /// Records that every filter time stored so far is below the end of the current frame.
    private mutating func closeFilterEpoch() {
        guard clock.isOpen else { return }
        filterHighWater = max(filterHighWater, clock.frameStart &+ binWidth &+ filterOffset)
    }

    /// Appends the current frame to `frames` and clears it. Only the dirty blocks of words are visited: their
    /// words are copied and their set bits listed, four a word without a branch (a word rarely holds more).
    private mutating func emitCurrentFrame(_ buffers: BinnerTables.Pointers, _ frames: inout SpikeFrameBatch) {
        let starts = !clock.hasEmitted
        if starts {
            clock.segmentID = clock.nextSegmentID
            clock.nextSegmentID += 1
            clock.hasEmitted = true
        }
        let wordsPerFrame = buffers.wordsPerFrame
        let words = buffers.words, counts = buffers.counts
        let blockShift = dirtyShift &- 6
        var blocks = dirtyBlocks
        dirtyBlocks = 0
        frames.appendFrame(start: clock.frameStart, segmentID: clock.segmentID, startsSegment: starts) {
            bits, active, frameCounts in
            var n = 0
            while blocks != 0 {
                let first = blocks.trailingZeroBitCount &<< blockShift
                blocks &= blocks &- 1
                // The sink word (events outside the crop), at `wordsPerFrame`, is never emitted.
                let last = min(first &+ 1 &<< blockShift, wordsPerFrame)
                var w = first
                while w < last {
                    var word = words[w]
                    bits[w] = word
                    words[w] = 0
                    // Write four indices unconditionally (there is room past the end; an entry is kept only if
                    // its bit was there, else the next one overwrites it), then loop for more. No popcount:
                    // without POPCNT (the baseline x86-64 target) it is a long dependency chain.
                    let base = UInt32(truncatingIfNeeded: w &<< 6)
                    active[n] = base | UInt32(truncatingIfNeeded: word.trailingZeroBitCount)
                    n &+= word != 0 ? 1 : 0
                    word &= word &- 1
                    active[n] = base | UInt32(truncatingIfNeeded: word.trailingZeroBitCount)
                    n &+= word != 0 ? 1 : 0
                    word &= word &- 1
                    active[n] = base | UInt32(truncatingIfNeeded: word.trailingZeroBitCount)
                    n &+= word != 0 ? 1 : 0
                    word &= word &- 1
                    active[n] = base | UInt32(truncatingIfNeeded: word.trailingZeroBitCount)
                    n &+= word != 0 ? 1 : 0
                    word &= word &- 1
                    while word != 0 {
                        active[n] = base | UInt32(truncatingIfNeeded: word.trailingZeroBitCount)
                        n &+= 1
                        word &= word &- 1
                    }
                    w &+= 1
                }
            }
            if let frameCounts {
                for k in 0..<n {
                    let input = Int(active[k])
                    frameCounts[input] = counts[input]
                    counts[input] = 0
                }
            }
            return n
        }
        counters.framesEmitted += 1
    }
}

/// The binner's per-pixel tables and the current frame.
private struct BinnerTables: Sendable {
    /// Per sensor pixel and polarity, at `(y * sensorWidth + x) * 2 + (p != 0 ? 1 : 0)`: the input index, or
    /// the sink index outside the crop.
    var pixelInput: [Int32] = []
    /// The current frame's `wordsPerFrame` words, then the sink word (written by events outside the crop,
    /// never emitted).
    var frameWords: [UInt64] = []
    var wordsPerFrame = 0
    /// The current frame's counts (count frames), plus the sink; one unused entry for binary frames.
    var counts: [UInt16] = []
    /// Filter state, microseconds: the last kept event per sensor pixel (refractory filter, `width * height`
    /// entries) followed by the last event per sensor pixel with a one-pixel border (background-activity
    /// filter, `(width + 2) * (height + 2)` entries); `filterCount` entries in all, at least one allocated.
    var filterTimes: [Int64] = []
    var filterCount = 0

    /// Raw pointers to the tables for the length of one call.
    struct Pointers {
        let words: UnsafeMutablePointer<UInt64>
        let wordsPerFrame: Int
        let counts: UnsafeMutablePointer<UInt16>
        let filterTimes: UnsafeMutablePointer<Int64>
        let filterCount: Int
        let pixelInput: UnsafePointer<Int32>
    }

    mutating func withPointers<R>(_ body: (Pointers) -> R) -> R {
        let filterCount = filterCount, wordsPerFrame = wordsPerFrame
        let table = pixelInput
        return frameWords.withUnsafeMutableBufferPointer { w in
            counts.withUnsafeMutableBufferPointer { c in
                filterTimes.withUnsafeMutableBufferPointer { f in
                    table.withUnsafeBufferPointer { t in
                        body(Pointers(
                            words: w.baseAddress!, wordsPerFrame: wordsPerFrame, counts: c.baseAddress!,
                            filterTimes: f.baseAddress!, filterCount: filterCount, pixelInput: t.baseAddress!))
                    }
                }
            }
        }
    }

    /// Zeroes the current frame.
    mutating func clearFrame() {
        frameWords.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        counts.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
    }
}

/// Where the binner is on the time line.
private struct SegmentClock: Sendable {
    /// Whether a segment is open (a current frame exists).
    var isOpen = false
    /// Start of the current frame.
    var frameStart: Int64 = 0
    /// Start of the first frame of the next segment opened by an event, from ``SpikeFrameBinner/reset(origin:)``.
    var pendingOrigin: Int64?
    /// Whether the open segment has emitted a frame (and so has its id).
    var hasEmitted = false
    /// Id of the open segment, once it has emitted a frame.
    var segmentID = 0
    /// Id the next segment gets at its first frame.
    var nextSegmentID = 0
}
