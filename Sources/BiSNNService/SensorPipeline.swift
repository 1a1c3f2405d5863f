import BiSNN
import EventStream

/// One sensor's networks, step 5 of docs/protocol.md section 4.4: its accepted events go through the
/// spike-frame binner into every ensemble draw, and decisions close as section 4.1 says, in segment or window
/// mode. Pure and synchronous: no sockets, no clocks (wall-clock idleness is the caller's to notice, see
/// ``closeIdle()``).
///
/// **Segment mode.** A segment is the events since the stream (or network state) was last reset. Its bins are
/// aligned as `bisnn eval` aligns a recording's (`LabelledDataset.frames(of:configuration:)`): to the time base
/// of the segment's first message when its first event lies within `maxGapFrames + 1` bins after it, else to
/// that first event. END flushes the partial bin as a frame, decides over every step after the model's burn-in
/// and resets the network state; so a recording replayed as one START…END segment with time base 0 gets
/// exactly the decision `bisnn eval` gives it, however it is cut into messages.
///
/// **Window mode.** The network state carries on; every `interval` of sensor time the pipeline decides over the
/// last `window` of it (``DecisionWindow``). END decides over the window ending with the flushed bin and resets.
///
/// **Memory.** Events are binned and stepped in slices of at most ``Settings/maximumPendingFrames`` bins, so no
/// more frames than that wait between the binner and the networks, whatever time span one message covers.
///
/// **Shedding and incomplete decisions** (docs/protocol.md 4.6). A message applied with `shed` (the service
/// fell behind) is decoded and binned as usual, so time and decoder state stay right, but its frames are not
/// stepped: they are counted as shed. Input known to be missing (``markIncomplete()``: a rejected message of the
/// sensor, a sequence gap, a publisher restart) and shed frames make the decisions they touch *incomplete*:
/// published with `complete` false and `abstained` true, so a decision made on part of the input never goes
/// out as a confident one. In segment mode that is the segment's decision; in window mode every window that
/// covers the sensor time of the damage.
public struct SensorPipeline: Sendable {
    /// How and when decisions are made.
    public struct Settings: Sendable, Hashable {
        /// Segment or window mode (`decisions.mode`).
        public var mode: ServiceConfiguration.Decisions.Mode
        /// Window length in µs (`decisions.window_ms`).
        public var windowMicroseconds: Int64
        /// Time between windowed decisions in µs (`decisions.interval_ms`).
        public var intervalMicroseconds: Int64
        /// Most frames binned before they are stepped (`sensor.queue_frames`), ≥ 1.
        public var maximumPendingFrames: Int

        /// Settings with every value given.
        public init(
            mode: ServiceConfiguration.Decisions.Mode, windowMicroseconds: Int64 = 300_000,
            intervalMicroseconds: Int64 = 100_000, maximumPendingFrames: Int = 1000
        ) {
            precondition(windowMicroseconds > 0 && intervalMicroseconds > 0 && maximumPendingFrames > 0)
            self.mode = mode
            self.windowMicroseconds = windowMicroseconds
            self.intervalMicroseconds = intervalMicroseconds
            self.maximumPendingFrames = maximumPendingFrames
        }

        /// The settings of a service configuration (`decisions.*`, `sensor.queue_frames`).
        public init(_ configuration: ServiceConfiguration) {
            self.init(
                mode: configuration.decisions.mode,
                windowMicroseconds: Int64(configuration.decisions.windowMilliseconds) * 1000,
                intervalMicroseconds: Int64(configuration.decisions.intervalMilliseconds) * 1000,
                maximumPendingFrames: configuration.sensor.queueFrames)
        }
    }

    /// A decision the pipeline closed, to be published.
    public struct ClosedDecision: Sendable {
        /// What closed it.
        public enum Cause: Sendable, Hashable {
            /// An END flag.
            case end
            /// START or a sequence restart, closing an open segment before the reset.
            case start
            /// The sensor was silent for `decisions.idle_reset_ms`.
            case idle
            /// A window boundary of sensor time (window mode).
            case window
            /// The service is stopping (open segments are decided, not dropped).
            case shutdown
            /// A reload replaced the model (open segments are decided with the old one).
            case reload
        }

        /// The ensemble's decision.
        public var decision: Decision
        /// Sequence number of the message that closed it (`seq`).
        public var sequence: UInt64
        /// Start of the sensor time it covers (`t_start_us`; 0 with no event).
        public var startTime: Int64
        /// End of that span (`t_end_us`; 0 with no event).
        public var endTime: Int64
        /// Events it covers (`events`).
        public var eventCount: Int
        /// What closed it.
        public var cause: Cause
        /// Frames of its span that were shed, not stepped (`shed_frames`; in window mode, shed since the
        /// previous decision).
        public var shedFrames: Int
        /// Whether its input is whole (`complete`): no message of its span lost or rejected, no frame shed.
        /// An incomplete decision always abstains.
        public var complete: Bool
    }

    /// Running totals.
    public struct Counters: Sendable, Hashable {
        /// Spike frames binned (stepped or shed).
        public var frames = 0
        /// Spike frames binned but not stepped, because their message was applied with `shed`.
        public var shedFrames = 0
        /// Decisions closed.
        public var decisions = 0
    }

    /// The predictor whose draws run here.
    public let predictor: EnsemblePredictor
    /// The decision settings.
    public let settings: Settings
    /// Running totals.
    public private(set) var counters = Counters()

    private var binner: SpikeFrameBinner
    private var stream: EnsembleStream
    private var frames: SpikeFrameBatch
    private var slice = EventBuffer()
    private var segment = Segment()
    private var window: DecisionWindow?
    /// Whether the message being applied is shed.
    private var shedding = false
    /// Whether this sensor closes its segments with END (it has sent one): then a segment that ends any other
    /// way (idle timeout) lost its END, and its decision is incomplete.
    private var sensorSendsEnd = false

    /// What is known of the current segment (segment mode) or of the time since the last reset (window mode).
    private struct Segment: Sendable {
        /// Messages applied since the reset.
        var messages = 0
        /// Events fed since the reset.
        var events = 0
        /// Time base of the first message since the reset (native encoding only).
        var originCandidate: Int64?
        /// Start of the first bin, once the first event has set it.
        var origin: Int64?
        /// Whether the binner's origin has been set for this segment (at its first event).
        var primed = false
        /// Times of the first and last events.
        var firstTime: Int64?
        var lastTime: Int64?
        /// Sequence number of the last message applied.
        var lastSequence: UInt64 = 0
        /// Whether input of the segment is known to be missing (segment mode).
        var incomplete = false
        /// Frames shed in the segment (segment mode), or since the last decision (window mode).
        var shedFrames = 0
        /// Window mode: sensor time of the latest known damage (the end of missing input, or a shed frame);
        /// windows that start before it are incomplete.
        var damageTime: Int64?
        /// Window mode: input went missing; the next event's time ends the damage (until then every window is
        /// incomplete).
        var damagePending = false
    }

    /// A pipeline for `predictor`'s draws, binning events with `frames` (which must be valid and fit the
    /// predictor's input).
    public init(
        predictor: EnsemblePredictor, frames configuration: SpikeFrameConfiguration, settings: Settings
    ) throws(SpikeFrameConfigurationError) {
        precondition(configuration.inputCount == predictor.network.inputCount, "frames do not fit the model's input")
        self.predictor = predictor
        self.settings = settings
        binner = try SpikeFrameBinner(configuration: configuration)
        stream = predictor.makeStream()
        frames = SpikeFrameBatch(configuration: configuration)
        if settings.mode == .window {
            window = DecisionWindow(
                binWidth: configuration.binWidth, window: settings.windowMicroseconds,
                interval: settings.intervalMicroseconds, drawCount: predictor.size,
                classCount: predictor.network.classCount)
        }
    }

    /// Whether anything was applied since the network state was last reset (an idle reset would change
    /// something).
    public var hasState: Bool { segment.messages > 0 }

    /// Whether the current segment holds events (an idle timeout or START would publish it, in segment mode).
    public var hasOpenSegment: Bool { segment.events > 0 }

    /// Applies one accepted message whose decoded events are `events`: closes an open segment and resets on
    /// START (or a sequence restart), feeds the events, and decides on END. Closed decisions are appended to
    /// `decisions`, in order. With `shed`, the message's frames are binned but not stepped. A sequence gap
    /// or restart before the message makes the open segment incomplete (messages of it were lost).
    public mutating func apply(
        _ packet: SensorIntake.AcceptedPacket, events: EventBuffer, shed: Bool = false,
        into decisions: inout [ClosedDecision]
    ) {
        shedding = shed
        defer { shedding = false }
        switch packet.sequence {
        case .gap, .restart: markIncomplete()
        case .first, .inOrder, .duplicate: break
        }
        if packet.resetsStream {
            if settings.mode == .segment, segment.events > 0 {
                closeSegment(sequence: segment.lastSequence, cause: .start, into: &decisions)
            } else {
                resetNetwork()
            }
        }
        let header = packet.header
        feed(events, timeBase: header.encoding == .native ? header.timeBase : nil, sequence: header.sequence,
             into: &decisions)
        if packet.endsSegment {
            sensorSendsEnd = true
            closeSegment(sequence: header.sequence, cause: .end, into: &decisions)
        }
    }

    /// Input of the current segment is known to be missing (a message of the sensor was rejected or lost):
    /// the decisions it touches will be incomplete. In segment mode that is the open segment's (or, when none
    /// is open, the next one's, unless it starts with START); in window mode every window decided from now
    /// on that starts before the next event (the missing events lie between the last one seen and it).
    public mutating func markIncomplete() {
        segment.incomplete = true
        segment.damagePending = true
    }

    /// The sensor has been silent for `decisions.idle_reset_ms`: in segment mode, a segment with events is
    /// decided (appended to `decisions`) and the network state reset; in window mode the network state is
    /// reset, with no decision.
    public mutating func closeIdle(into decisions: inout [ClosedDecision]) {
        close(cause: .idle, into: &decisions)
    }

    /// Closes what is open because the sensor went idle, the service stops or a reload swaps the model
    /// (`cause` `.idle`, `.shutdown` or `.reload`): in segment mode a segment with events is decided; the
    /// network state is reset. A segment cut by the service (`.shutdown`, `.reload`), or by silence from a
    /// sensor that ends its segments with END, is incomplete: more of it may have been coming.
    public mutating func close(cause: ClosedDecision.Cause, into decisions: inout [ClosedDecision]) {
        if settings.mode == .segment, segment.events > 0 {
            if cause == .shutdown || cause == .reload || (cause == .idle && sensorSendsEnd) {
                segment.incomplete = true
            }
            closeSegment(sequence: segment.lastSequence, cause: cause, into: &decisions)
        } else if hasState {
            resetNetwork()
        }
    }

    // MARK: - Feeding

    private mutating func feed(
        _ events: EventBuffer, timeBase: Int64?, sequence: UInt64, into decisions: inout [ClosedDecision]
    ) {
        if segment.messages == 0 { segment.originCandidate = timeBase }
        segment.messages += 1
        segment.lastSequence = sequence
        let n = events.count
        guard n > 0 else { return }
        let (first, last) = events.withColumns { t, _, _, _ in (t[0], t[n - 1]) }
        let bin = binner.configuration.binWidth
        if !segment.primed {
            var origin = first
            if let base = segment.originCandidate, first >= base,
               (first - base) / bin <= Int64(binner.configuration.maxGapFrames) {
                origin = base
            }
            binner.reset(origin: origin)
            window?.start(origin: origin)
            segment.origin = origin
            segment.primed = true
            segment.firstTime = first
        }
        if segment.damagePending {
            segment.damageTime = first
            segment.damagePending = false
        }
        segment.lastTime = last
        segment.events += n
        if window != nil { events.withColumns { t, _, _, _ in window!.countEvents(t) } }

        // Slices of events that complete at most `maximumPendingFrames` frames each.
        let limit = Int64(settings.maximumPendingFrames)
        var start = 0
        while start < n {
            let frameStart = binner.currentFrameStart ?? segment.origin ?? first
            let (end, whole) = events.withColumns { t, _, _, _ -> (Int, Bool) in
                let (bound, overflow) = limit.multipliedReportingOverflow(by: bin)
                let (cut, past) = frameStart.addingReportingOverflow(bound)
                if overflow || past || t[n - 1] < cut { return (n, start == 0) }
                var low = start, high = n
                while low < high {
                    let middle = (low + high) / 2
                    if t[middle] < cut { low = middle + 1 } else { high = middle }
                }
                return (max(low, start + 1), false)
            }
            if whole {
                binner.append(events, to: &frames)
            } else {
                copy(events, range: start..<end, into: &slice)
                binner.append(slice, to: &frames)
            }
            stepFrames(sequence: sequence, into: &decisions)
            start = end
        }
    }

    /// Steps every binned frame through the draws (publishing window decisions that fall due first), then
    /// empties the batch.
    private mutating func stepFrames(sequence: UInt64, into decisions: inout [ClosedDecision]) {
        let count = frames.frameCount
        guard count > 0 else { return }
        counters.frames += count
        defer { frames.removeAll(keepingCapacity: true) }
        if shedding {
            shedFrames(sequence: sequence, into: &decisions)
            return
        }
        let burnIn = predictor.network.burnInSteps
        for f in 0..<count {
            if window != nil {
                let frameStart = frames.startTime(of: f)
                while window!.isDue(beforeFrameAt: frameStart) {
                    if window!.nextWindowHasFrames {
                        decisions.append(windowDecision(endingAt: window!.nextBoundary, sequence: sequence, cause: .window))
                    }
                    window!.advance(pastFrameAt: frameStart)
                }
                predictor.step(&stream, frame: f, of: frames)
                window!.record(frameStart: frameStart, counts: stream.steps > burnIn, stream: stream)
            } else {
                predictor.step(&stream, frame: f, of: frames)
            }
        }
    }

    /// Sheds the binned frames: counted, not stepped; in window mode the window's time line still moves on
    /// (decisions falling due are made, the shed frames recorded as not counting).
    private mutating func shedFrames(sequence: UInt64, into decisions: inout [ClosedDecision]) {
        let count = frames.frameCount
        counters.shedFrames += count
        segment.shedFrames += count
        guard window != nil else { return }
        for f in 0..<count {
            let frameStart = frames.startTime(of: f)
            while window!.isDue(beforeFrameAt: frameStart) {
                if window!.nextWindowHasFrames {
                    decisions.append(windowDecision(endingAt: window!.nextBoundary, sequence: sequence, cause: .window))
                }
                window!.advance(pastFrameAt: frameStart)
            }
            window!.record(frameStart: frameStart, counts: false, stream: stream)
            segment.damageTime = frameStart + 1
        }
    }

    // MARK: - Closing

    /// Flushes the partial bin, decides (over the segment, or the last window in window mode: after the
    /// window decisions that fall due before the flushed bin) and resets the network state.
    private mutating func closeSegment(
        sequence: UInt64, cause: ClosedDecision.Cause, into decisions: inout [ClosedDecision]
    ) {
        binner.flush(to: &frames)
        stepFrames(sequence: sequence, into: &decisions)
        let closed: ClosedDecision
        if window != nil {
            if let lastStart = window!.lastFrameStart {
                let end = lastStart + binner.configuration.binWidth
                closed = windowDecision(endingAt: end, sequence: sequence, cause: cause)
            } else {
                closed = ClosedDecision(
                    decision: predictor.decision(for: stream), sequence: sequence, startTime: 0, endTime: 0,
                    eventCount: 0, cause: cause, shedFrames: segment.shedFrames, complete: !segment.incomplete
                        && segment.shedFrames == 0
                ).abstainingUnlessComplete()
            }
        } else {
            closed = ClosedDecision(
                decision: predictor.decision(for: stream), sequence: sequence, startTime: segment.firstTime ?? 0,
                endTime: segment.lastTime ?? 0, eventCount: segment.events, cause: cause,
                shedFrames: segment.shedFrames, complete: !segment.incomplete && segment.shedFrames == 0
            ).abstainingUnlessComplete()
        }
        counters.decisions += 1
        decisions.append(closed)
        resetNetwork()
    }

    private mutating func windowDecision(
        endingAt end: Int64, sequence: UInt64, cause: ClosedDecision.Cause
    ) -> ClosedDecision {
        let (decision, start, events) = window!.decision(endingAt: end, predictor: predictor)
        if cause == .window { counters.decisions += 1 }
        let damaged = segment.damagePending
            || segment.damageTime.map { end - settings.windowMicroseconds < $0 } ?? false
        defer { segment.shedFrames = 0 }
        return ClosedDecision(
            decision: decision, sequence: sequence, startTime: start, endTime: end, eventCount: events, cause: cause,
            shedFrames: segment.shedFrames, complete: !damaged && segment.shedFrames == 0
        ).abstainingUnlessComplete()
    }

    /// Resets the network state: binner, every draw's state and evidence, the window's memory.
    private mutating func resetNetwork() {
        binner.reset()
        stream.reset()
        window?.reset()
        frames.removeAll(keepingCapacity: true)
        segment = Segment()
    }

    /// Copies `events[range]` into `destination` (emptied first).
    private func copy(_ events: EventBuffer, range: Range<Int>, into destination: inout EventBuffer) {
        destination.removeAll()
        events.withColumns { t, x, y, p in
            destination.withWriter(reservingCapacity: range.count) { writer in
                for i in range { writer.append(t: t[i], x: x[i], y: y[i], polarity: p[i]) }
            }
        }
    }
}

extension SensorPipeline.ClosedDecision {
    /// This decision, abstaining if its input is not complete.
    fileprivate func abstainingUnlessComplete() -> Self {
        var closed = self
        if !complete { closed.decision.abstained = true }
        return closed
    }
}
