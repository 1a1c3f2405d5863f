import EventStream

/// Random changes to a training recording's events, so a network sees a slightly different sample each epoch:
/// a spatial shift, event dropout and timestamp jitter.
///
/// ``apply(to:geometry:rng:)`` is deterministic given the generator's state: it draws, in this order, the
/// shift (x then y, only when ``maxShift`` > 0), one number per event for dropout (only when ``dropout`` > 0),
/// and one per kept event for the jitter (only when ``timeJitter`` > 0). A component that is off draws nothing,
/// so ``none`` leaves the generator untouched.
public struct EventAugmentation: Sendable, Hashable {
    /// Largest shift in pixels (≥ 0): one offset a call, uniform in `-maxShift...maxShift`, for x and y
    /// independently, applied to every event; events that land off the sensor are dropped.
    public var maxShift: Int
    /// Probability (in `0...1`) that each event is dropped, independently; kept events are unchanged.
    public var dropout: Double
    /// Largest timestamp jitter in microseconds (≥ 0, at most 2^40): each kept event's time moves by its own
    /// offset, uniform in `-timeJitter...timeJitter` (never below 0 for a time that was not negative), and the
    /// events are then sorted by time, stably (events with equal times keep their order).
    public var timeJitter: Int64

    /// An augmentation; the defaults change nothing.
    public init(maxShift: Int = 0, dropout: Double = 0, timeJitter: Int64 = 0) {
        self.maxShift = maxShift
        self.dropout = dropout
        self.timeJitter = timeJitter
    }

    /// No change: ``apply(to:geometry:rng:)`` returns the events as they are.
    public static let none = EventAugmentation()

    /// Whether the augmentation changes nothing.
    public var isNone: Bool { maxShift == 0 && dropout == 0 && timeJitter == 0 }

    /// The events of a recording on a `geometry` sensor, shifted, thinned and jittered with `rng`.
    ///
    /// The result holds the kept events in time order (file order when there is no jitter). With ``none``
    /// it is `events` itself.
    public func apply(
        to events: EventBuffer, geometry: SensorGeometry, rng: inout Xoshiro256StarStar
    ) -> EventBuffer {
        precondition(maxShift >= 0, "maxShift must be >= 0, got \(maxShift)")
        precondition(dropout >= 0 && dropout <= 1, "dropout must be in 0...1, got \(dropout)")
        precondition(timeJitter >= 0 && timeJitter <= 1 << 40, "timeJitter must be in 0...2^40, got \(timeJitter)")
        if isNone { return events }
        let dx = maxShift > 0 ? rng.nextInt(below: 2 * maxShift + 1) - maxShift : 0
        let dy = maxShift > 0 ? rng.nextInt(below: 2 * maxShift + 1) - maxShift : 0
        let width = geometry.width, height = geometry.height
        let jitter = Int(timeJitter)
        let n = events.count
        var out = EventBuffer(capacity: n)
        events.withColumns { ts, xs, ys, ps in
            out.withWriter(reservingCapacity: n) { w in
                for i in 0..<n {
                    let x = Int(xs[i]) + dx, y = Int(ys[i]) + dy
                    guard x >= 0, y >= 0, x < width, y < height else { continue }
                    if dropout > 0, rng.nextUniform() < dropout { continue }
                    var t = ts[i]
                    if jitter > 0 {
                        let moved = t + Int64(rng.nextInt(below: 2 * jitter + 1) - jitter)
                        t = max(moved, min(t, 0))
                    }
                    w.append(t: t, x: UInt16(x), y: UInt16(y), polarity: ps[i])
                }
            }
        }
        return jitter > 0 ? Self.sortedByTime(out) : out
    }

    /// `events` sorted by time, stably.
    static func sortedByTime(_ events: EventBuffer) -> EventBuffer {
        let n = events.count
        return events.withColumns { ts, xs, ys, ps in
            if zip(ts.dropFirst(), ts).allSatisfy({ $0 >= $1 }) { return events }
            // Sorting by (time, index) is stable whatever the sort algorithm.
            let order = (0..<n).sorted { ts[$0] < ts[$1] || (ts[$0] == ts[$1] && $0 < $1) }
            var sorted = EventBuffer(capacity: n)
            sorted.withWriter(reservingCapacity: n) { w in
                for i in order { w.append(t: ts[i], x: xs[i], y: ys[i], polarity: ps[i]) }
            }
            return sorted
        }
    }
}
