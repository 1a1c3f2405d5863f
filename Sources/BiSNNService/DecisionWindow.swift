import BiSNN
import EventStream

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Window mode's memory of one sensor (docs/protocol.md 4.1): every ensemble draw's class probabilities at
/// each of the last `window` µs of time steps, the events of each bin, and the sensor times at which the
/// next decisions fall due.
///
/// The time line is the binner's bin grid from `origin`, the start of the first frame since the network
/// state was last reset. Decisions fall due at `origin + k × interval` (k ≥ 1): the decision at boundary `b`
/// covers the frames starting in `[b − window, b)`, averaging each draw's softmax over those of its steps that
/// come after the model's burn-in (counted since the reset, as in segment mode), then over the draws.
struct DecisionWindow: Sendable {
    /// Bin width, window and interval, in µs.
    let binWidth: Int64
    let window: Int64
    let interval: Int64
    let drawCount: Int
    let classCount: Int

    /// Start of the first frame since the reset; nil before it.
    private(set) var origin: Int64?
    /// The next boundary at which a decision falls due (valid once `origin` is set).
    private(set) var nextBoundary: Int64 = 0
    /// Start of the last frame stepped since the reset.
    private(set) var lastFrameStart: Int64?

    // The last `capacity` stepped frames, oldest first from `head`: start, whether it counts (after
    // burn-in), each draw's class probabilities (drawCount × classCount).
    private let capacity: Int
    private var starts: [Int64]
    private var counted: [Bool]
    private var probabilities: [Double]
    private var head = 0
    private var count = 0

    /// Events per bin, by bin start, oldest first, for the bins that may still fall in a window.
    private var eventBins: [(start: Int64, events: Int)] = []
    private var eventBinsHead = 0

    init(binWidth: Int64, window: Int64, interval: Int64, drawCount: Int, classCount: Int) {
        precondition(binWidth > 0 && window > 0 && interval > 0, "window timing must be positive")
        self.binWidth = binWidth
        self.window = window
        self.interval = interval
        self.drawCount = drawCount
        self.classCount = classCount
        capacity = Int((window + binWidth - 1) / binWidth) + 1
        starts = [Int64](repeating: 0, count: capacity)
        counted = [Bool](repeating: false, count: capacity)
        probabilities = [Double](repeating: 0, count: capacity * drawCount * classCount)
    }

    /// Forgets everything: the network state was reset.
    mutating func reset() {
        origin = nil
        lastFrameStart = nil
        head = 0
        count = 0
        eventBins.removeAll(keepingCapacity: true)
        eventBinsHead = 0
    }

    /// Sets the time line's origin (the first frame's start after a reset).
    mutating func start(origin: Int64) {
        self.origin = origin
        nextBoundary = origin + interval
    }

    /// Whether a decision falls due before a frame starting at `frameStart` is stepped.
    func isDue(beforeFrameAt frameStart: Int64) -> Bool {
        origin != nil && frameStart >= nextBoundary
    }

    /// Whether the window ending at ``nextBoundary`` holds any stepped frame.
    var nextWindowHasFrames: Bool {
        guard let lastFrameStart else { return false }
        return lastFrameStart >= nextBoundary - window
    }

    /// Moves on to the next boundary; past a jump in time (a gap that ended the binner's segment), straight to
    /// the first boundary after `frameStart`, skipping windows that hold no frame.
    mutating func advance(pastFrameAt frameStart: Int64) {
        guard let origin else { return }
        nextBoundary += interval
        if frameStart >= nextBoundary, !nextWindowHasFrames {
            nextBoundary = origin + ((frameStart - origin) / interval + 1) * interval
        }
    }

    /// Records a stepped frame: its start, whether its step counts (after burn-in), and each draw's softmax of
    /// its output readout, from `stream`.
    mutating func record(frameStart: Int64, counts: Bool, stream: EnsembleStream) {
        let slot: Int
        if count < capacity {
            slot = (head + count) % capacity
            count += 1
        } else {
            slot = head
            head = (head + 1) % capacity
        }
        starts[slot] = frameStart
        counted[slot] = counts
        lastFrameStart = frameStart
        guard counts else { return }
        let base = slot * drawCount * classCount
        for d in 0..<drawCount {
            let logits = stream.state(ofDraw: d).output
            let top = logits.max() ?? 0
            var total = 0.0
            for c in 0..<classCount {
                let e = exp(logits[c] - top)
                probabilities[base + d * classCount + c] = e
                total += e
            }
            for c in 0..<classCount { probabilities[base + d * classCount + c] /= total }
        }
    }

    /// Counts events (ascending times, none before ``origin``) into their bins.
    mutating func countEvents(_ times: UnsafeBufferPointer<Int64>) {
        guard let origin, !times.isEmpty else { return }
        var i = 0
        let n = times.count
        while i < n {
            let start = origin + (times[i] - origin) / binWidth * binWidth
            let end = start + binWidth
            var low = i + 1, high = n
            while low < high {
                let middle = (low + high) / 2
                if times[middle] < end { low = middle + 1 } else { high = middle }
            }
            if eventBins.count > eventBinsHead, eventBins[eventBins.count - 1].start == start {
                eventBins[eventBins.count - 1].events += low - i
            } else {
                eventBins.append((start, low - i))
            }
            i = low
        }
    }

    /// The decision over the frames starting in `[end − window, end)`, with the events of those bins and the
    /// span it covers (`end − window`, or the origin if later, to `end`). Forgets event bins no later window
    /// can hold.
    mutating func decision(
        endingAt end: Int64, predictor: EnsemblePredictor
    ) -> (decision: Decision, start: Int64, events: Int) {
        let low = end - window
        var sums = [[Double]](repeating: [Double](repeating: 0, count: classCount), count: drawCount)
        var steps = 0
        for k in 0..<count {
            let slot = (head + k) % capacity
            guard counted[slot], starts[slot] >= low, starts[slot] < end else { continue }
            steps += 1
            let base = slot * drawCount * classCount
            for d in 0..<drawCount {
                for c in 0..<classCount { sums[d][c] += probabilities[base + d * classCount + c] }
            }
        }
        let perDraw = sums.map { row in row.map { $0 / Double(max(steps, 1)) } }
        let decision = Decision(
            drawProbabilities: perDraw, classCount: classCount, steps: steps, rule: predictor.abstention)
        var events = 0
        for i in eventBinsHead..<eventBins.count where eventBins[i].start >= low && eventBins[i].start < end {
            events += eventBins[i].events
        }
        // The next window starts at least `interval` later.
        let keepFrom = low + interval
        while eventBinsHead < eventBins.count, eventBins[eventBinsHead].start < keepFrom { eventBinsHead += 1 }
        if eventBinsHead > 64, eventBinsHead * 2 > eventBins.count {
            eventBins.removeFirst(eventBinsHead)
            eventBinsHead = 0
        }
        return (decision, max(low, origin ?? low), events)
    }
}
