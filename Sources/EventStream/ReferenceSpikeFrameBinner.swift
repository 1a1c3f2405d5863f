/// A plain, slow implementation of ``SpikeFrameBinner``'s semantics, written to be obviously correct: one
/// event at a time, dense frames, dictionaries for the filters, no bit tricks. The oracle of the binner's
/// tests; not for production use.
///
/// Drive it as the streaming binner: ``reset(origin:)``, ``append(_:)``, ``flush()``; the frames pile up in
/// ``frames``.
public struct ReferenceSpikeFrameBinner: Sendable {
    /// One dense frame.
    public struct Frame: Sendable, Hashable {
        /// Start of the frame's bin, in microseconds.
        public var start: Int64
        /// The frame's segment id.
        public var segmentID: Int
        /// Whether the frame is the first of its segment.
        public var startsSegment: Bool
        /// One value per input: 0 or 1 for binary frames, the (saturated) count for count frames.
        public var values: [UInt16]

        /// ``values`` as floats.
        public var floats: [Float] {
            var floats: [Float] = []
            for value in values { floats.append(Float(value)) }
            return floats
        }

        /// The inputs whose value is not 0, ascending.
        public var activeIndices: [Int] {
            var active: [Int] = []
            for i in 0..<values.count where values[i] != 0 { active.append(i) }
            return active
        }
    }

    /// The binning parameters.
    public let configuration: SpikeFrameConfiguration
    /// Every frame emitted so far.
    public private(set) var frames: [Frame] = []
    /// The same counters as the streaming binner's.
    public private(set) var counters = SpikeFrameBinner.Counters()

    /// Whether a segment is open, and so a frame is being filled.
    private var isOpen = false
    /// The frame being filled: its start and one value per input.
    private var currentStart: Int64 = 0
    private var currentValues: [UInt16] = []
    private var pendingOrigin: Int64?
    private var segmentHasFrames = false
    private var segmentID = 0
    private var nextSegmentID = 0
    /// Time of the last kept event at each sensor pixel, for the refractory filter.
    private var lastKept: [Int: Int64] = [:]
    /// Time of the last event at each sensor pixel, for the background-activity filter.
    private var lastSeen: [Int: Int64] = [:]

    /// A reference binner for `configuration`; throws if a parameter is out of range.
    public init(configuration: SpikeFrameConfiguration) throws(SpikeFrameConfigurationError) {
        try configuration.validate()
        self.configuration = configuration
    }

    /// Bins `events`, in order.
    public mutating func append(_ events: [Event]) {
        for event in events { process(event) }
    }

    /// Emits the current frame and ends the segment.
    public mutating func flush() {
        if isOpen {
            emitCurrent()
            isOpen = false
        }
    }

    /// Discards the current frame; the next event opens a segment starting at `origin` (or at its own time).
    public mutating func reset(origin: Int64? = nil) {
        isOpen = false
        pendingOrigin = origin
    }

    private mutating func process(_ e: Event) {
        let c = configuration
        counters.eventsIn += 1
        if !isOpen {
            openSegment(at: pendingOrigin ?? e.t)
        }

        // The clock.
        if e.t < currentStart {
            if currentStart - e.t > c.maxBackwardJump {
                emitCurrent()
                counters.segmentResets += 1
                openSegment(at: e.t)
            } else {
                counters.lateEvents += 1
                return
            }
        }
        if e.t >= currentStart + c.binWidth {
            let oldStart = currentStart
            let binsAhead = (e.t - oldStart) / c.binWidth
            let newStart = oldStart + binsAhead * c.binWidth
            emitCurrent()
            let emptyFrames = binsAhead - 1
            if emptyFrames > c.maxGapFrames {
                counters.gapResets += 1
                openSegment(at: newStart)
            } else {
                var k: Int64 = 1
                while k < binsAhead {
                    currentStart = oldStart + k * c.binWidth
                    currentValues = [UInt16](repeating: 0, count: c.inputCount)
                    emitCurrent()
                    k += 1
                }
                currentStart = newStart
                currentValues = [UInt16](repeating: 0, count: c.inputCount)
            }
        }

        // Where the event is.
        let x = Int(e.x), y = Int(e.y)
        if x >= c.sensor.width || y >= c.sensor.height {
            counters.outsideCrop += 1
            return
        }
        let pixel = y * c.sensor.width + x

        // Background-activity filter: look at the 8 neighbours, then record this event.
        var neighbourWasRecent = false
        if let window = c.backgroundActivityWindow {
            for dy in -1...1 {
                for dx in -1...1 {
                    if dx == 0 && dy == 0 { continue }
                    let nx = x + dx, ny = y + dy
                    if nx < 0 || ny < 0 || nx >= c.sensor.width || ny >= c.sensor.height { continue }
                    if let last = lastSeen[ny * c.sensor.width + nx], e.t - last < window {
                        neighbourWasRecent = true
                    }
                }
            }
            lastSeen[pixel] = e.t
        }

        let crop = c.cropRectangle
        if x < crop.x || y < crop.y || x >= crop.x + crop.width || y >= crop.y + crop.height {
            counters.outsideCrop += 1
            return
        }
        if c.backgroundActivityWindow != nil && !neighbourWasRecent {
            counters.noiseDropped += 1
            return
        }
        if let period = c.refractoryPeriod {
            if let last = lastKept[pixel], e.t - last < period {
                counters.refractoryDropped += 1
                return
            }
            lastKept[pixel] = e.t
        }

        // Bin it.
        let channel = c.polarity == .split && e.polarity != 0 ? 1 : 0
        let outX = (x - crop.x) / c.downsample
        let outY = (y - crop.y) / c.downsample
        let input = (channel * c.outputHeight + outY) * c.outputWidth + outX
        if c.kind == .binary {
            currentValues[input] = 1
        } else {
            if currentValues[input] < c.countLimit { currentValues[input] += 1 }
        }
        counters.eventsBinned += 1
    }

    private mutating func openSegment(at start: Int64) {
        isOpen = true
        currentStart = start
        currentValues = [UInt16](repeating: 0, count: configuration.inputCount)
        pendingOrigin = nil
        segmentHasFrames = false
        lastKept = [:]
        lastSeen = [:]
    }

    private mutating func emitCurrent() {
        var starts = false
        if !segmentHasFrames {
            segmentID = nextSegmentID
            nextSegmentID += 1
            segmentHasFrames = true
            starts = true
        }
        frames.append(Frame(start: currentStart, segmentID: segmentID, startsSegment: starts, values: currentValues))
        counters.framesEmitted += 1
    }
}
