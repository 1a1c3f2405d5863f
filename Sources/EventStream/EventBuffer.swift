/// A growable struct-of-arrays store of events.
///
/// Decoders fill it through ``withWriter(reservingCapacity:_:)``, which hands out raw pointers into
/// storage reserved up front, so decoding allocates nothing per event. The storage arrays may be longer
/// than ``count``; only the first ``count`` entries are events.
public struct EventBuffer: Sendable {
    @usableFromInline var ts: [Int64]
    @usableFromInline var xs: [UInt16]
    @usableFromInline var ys: [UInt16]
    @usableFromInline var ps: [UInt8]
    @usableFromInline var storedCount: Int
    /// Number of events held.
    public var count: Int { storedCount }

    /// An empty buffer with room for `capacity` events.
    public init(capacity: Int = 0) {
        ts = Array(repeating: 0, count: capacity)
        xs = Array(repeating: 0, count: capacity)
        ys = Array(repeating: 0, count: capacity)
        ps = Array(repeating: 0, count: capacity)
        storedCount = 0
    }

    /// A buffer holding the given events.
    public init(_ events: some Sequence<Event>) {
        self.init()
        for e in events { append(e) }
    }

    public var isEmpty: Bool { count == 0 }
    /// Number of events the storage holds without growing.
    public var capacity: Int { ts.count }

    /// Timestamps in microseconds.
    public var t: ArraySlice<Int64> { ts[..<count] }
    public var x: ArraySlice<UInt16> { xs[..<count] }
    public var y: ArraySlice<UInt16> { ys[..<count] }
    /// Polarities, 1 = ON, 0 = OFF.
    public var polarity: ArraySlice<UInt8> { ps[..<count] }

    /// The event at index `i` (`0 ..< count`).
    @inlinable
    public subscript(i: Int) -> Event {
        precondition(i >= 0 && i < count, "event index out of range")
        return Event(t: ts[i], x: xs[i], y: ys[i], polarity: ps[i])
    }

    /// All events, in order, as values (allocates; for tests and small recordings).
    public var events: [Event] { (0..<count).map { self[$0] } }

    public mutating func append(_ e: Event) {
        withWriter(reservingCapacity: 1) { $0.append(t: e.t, x: e.x, y: e.y, polarity: e.polarity) }
    }

    public mutating func append(contentsOf other: EventBuffer) {
        let n = other.count
        guard n > 0 else { return }
        reserveCapacity(count + n)
        ts.replaceSubrange(count..<(count + n), with: other.ts[..<n])
        xs.replaceSubrange(count..<(count + n), with: other.xs[..<n])
        ys.replaceSubrange(count..<(count + n), with: other.ys[..<n])
        ps.replaceSubrange(count..<(count + n), with: other.ps[..<n])
        storedCount += n
    }

    /// Forgets all events, keeping the storage.
    public mutating func removeAll() { storedCount = 0 }

    /// Drops events past the first `n`.
    public mutating func truncate(to n: Int) {
        precondition(n >= 0 && n <= count)
        storedCount = n
    }

    /// Makes room for at least `n` events in total.
    public mutating func reserveCapacity(_ n: Int) {
        guard n > capacity else { return }
        let newCapacity = Swift.max(n, capacity * 2, 1024)
        let extra = newCapacity - capacity
        ts.append(contentsOf: repeatElement(0, count: extra))
        xs.append(contentsOf: repeatElement(0, count: extra))
        ys.append(contentsOf: repeatElement(0, count: extra))
        ps.append(contentsOf: repeatElement(0, count: extra))
    }

    /// Appends events through raw pointers: reserves room for `n` more events, lets `body` write at most
    /// `n` of them with ``EventWriter/append(t:x:y:polarity:)``, and keeps what was written.
    @inlinable
    public mutating func withWriter<R>(
        reservingCapacity n: Int,
        _ body: (inout EventWriter) throws -> R
    ) rethrows -> R {
        reserveCapacity(count + n)
        let start = count
        var written = 0
        defer { storedCount = start + written }
        return try ts.withUnsafeMutableBufferPointer { t in
            try xs.withUnsafeMutableBufferPointer { x in
                try ys.withUnsafeMutableBufferPointer { y in
                    try ps.withUnsafeMutableBufferPointer { p in
                        var writer = EventWriter(
                            t: t.baseAddress! + start, x: x.baseAddress! + start,
                            y: y.baseAddress! + start, p: p.baseAddress! + start, capacity: n)
                        defer { written = writer.count }
                        return try body(&writer)
                    }
                }
            }
        }
    }

    /// Read-only raw access to the four columns, for hot loops (binning, statistics, writers).
    @inlinable
    public func withColumns<R>(
        _ body: (UnsafeBufferPointer<Int64>, UnsafeBufferPointer<UInt16>, UnsafeBufferPointer<UInt16>,
                 UnsafeBufferPointer<UInt8>) throws -> R
    ) rethrows -> R {
        let n = count
        return try ts.withUnsafeBufferPointer { t in
            try xs.withUnsafeBufferPointer { x in
                try ys.withUnsafeBufferPointer { y in
                    try ps.withUnsafeBufferPointer { p in
                        try body(UnsafeBufferPointer(rebasing: t[..<n]), UnsafeBufferPointer(rebasing: x[..<n]),
                                 UnsafeBufferPointer(rebasing: y[..<n]), UnsafeBufferPointer(rebasing: p[..<n]))
                    }
                }
            }
        }
    }
}

/// Raw-pointer appender handed out by ``EventBuffer/withWriter(reservingCapacity:_:)``.
public struct EventWriter {
    @usableFromInline let t: UnsafeMutablePointer<Int64>
    @usableFromInline let x: UnsafeMutablePointer<UInt16>
    @usableFromInline let y: UnsafeMutablePointer<UInt16>
    @usableFromInline let p: UnsafeMutablePointer<UInt8>
    /// How many events may still be written.
    public let capacity: Int
    @usableFromInline var written: Int = 0
    /// How many events were written.
    public var count: Int { written }

    @usableFromInline
    init(t: UnsafeMutablePointer<Int64>, x: UnsafeMutablePointer<UInt16>, y: UnsafeMutablePointer<UInt16>,
         p: UnsafeMutablePointer<UInt8>, capacity: Int) {
        self.t = t
        self.x = x
        self.y = y
        self.p = p
        self.capacity = capacity
    }

    @inlinable @inline(__always)
    public mutating func append(t time: Int64, x xv: UInt16, y yv: UInt16, polarity: UInt8) {
        precondition(written < capacity, "EventWriter overflow: decoder reserved too little")
        t[written] = time
        x[written] = xv
        y[written] = yv
        p[written] = polarity
        written &+= 1
    }
}
