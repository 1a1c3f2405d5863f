#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A growable struct-of-arrays store of events, copy-on-write.
///
/// Decoders fill it through ``withWriter(reservingCapacity:_:)``, which hands out raw pointers into
/// storage reserved up front, so decoding allocates nothing per event. The columns live in four
/// `realloc`-grown blocks that are never zero-filled: room reserved but not written costs nothing.
public struct EventBuffer: Sendable {
    @usableFromInline var storage: EventStorage
    @usableFromInline var storedCount: Int

    /// An empty buffer with room for `capacity` events.
    public init(capacity: Int = 0) {
        storage = EventStorage(capacity: capacity)
        storedCount = 0
    }

    /// A buffer holding the given events.
    public init(_ events: some Sequence<Event>) {
        self.init()
        for e in events { append(e) }
    }

    /// Number of events held.
    public var count: Int { storedCount }
    public var isEmpty: Bool { storedCount == 0 }
    /// Number of events the storage holds without growing.
    public var capacity: Int { storage.capacity }

    /// Timestamps in microseconds (a copy).
    public var t: [Int64] { Array(UnsafeBufferPointer(start: storage.t, count: storedCount)) }
    /// x coordinates (a copy).
    public var x: [UInt16] { Array(UnsafeBufferPointer(start: storage.x, count: storedCount)) }
    /// y coordinates (a copy).
    public var y: [UInt16] { Array(UnsafeBufferPointer(start: storage.y, count: storedCount)) }
    /// Polarities, 1 = ON, 0 = OFF (a copy).
    public var polarity: [UInt8] { Array(UnsafeBufferPointer(start: storage.p, count: storedCount)) }

    /// The event at index `i` (`0 ..< count`).
    @inlinable
    public subscript(i: Int) -> Event {
        precondition(i >= 0 && i < storedCount, "event index out of range")
        return withExtendedLifetime(storage) {
            Event(t: storage.t[i], x: storage.x[i], y: storage.y[i], polarity: storage.p[i])
        }
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
        withExtendedLifetime(other.storage) {
            let s = storage, o = other.storage
            (s.t + storedCount).update(from: o.t, count: n)
            (s.x + storedCount).update(from: o.x, count: n)
            (s.y + storedCount).update(from: o.y, count: n)
            (s.p + storedCount).update(from: o.p, count: n)
        }
        storedCount += n
    }

    /// Forgets all events, keeping the storage.
    public mutating func removeAll() { storedCount = 0 }

    /// Drops events past the first `n`.
    public mutating func truncate(to n: Int) {
        precondition(n >= 0 && n <= count)
        storedCount = n
    }

    /// Makes room for at least `n` events in total (and makes the storage this buffer's own).
    public mutating func reserveCapacity(_ n: Int) {
        if !isKnownUniquelyReferenced(&storage) {
            storage = storage.copy(count: storedCount, capacity: Swift.max(n, storage.capacity))
        }
        guard n > storage.capacity else { return }
        storage.grow(to: Swift.max(n, storage.capacity * 2, 1024))
    }

    /// Appends events through raw pointers: reserves room for `n` more events, lets `body` write at most
    /// `n` of them with ``EventWriter/append(t:x:y:polarity:)``, and keeps what was written.
    @inlinable
    public mutating func withWriter<R>(
        reservingCapacity n: Int,
        _ body: (inout EventWriter) throws -> R
    ) rethrows -> R {
        reserveCapacity(count + n)
        let start = storedCount
        let s = storage
        var writer = EventWriter(t: s.t + start, x: s.x + start, y: s.y + start, p: s.p + start, capacity: n)
        defer { storedCount = start + writer.count }
        return try withExtendedLifetime(s) { try body(&writer) }
    }

    /// Read-only raw access to the four columns, for hot loops (binning, statistics, writers).
    @inlinable
    public func withColumns<R>(
        _ body: (UnsafeBufferPointer<Int64>, UnsafeBufferPointer<UInt16>, UnsafeBufferPointer<UInt16>,
                 UnsafeBufferPointer<UInt8>) throws -> R
    ) rethrows -> R {
        let s = storage, n = storedCount
        return try withExtendedLifetime(s) {
            try body(UnsafeBufferPointer(start: s.t, count: n), UnsafeBufferPointer(start: s.x, count: n),
                     UnsafeBufferPointer(start: s.y, count: n), UnsafeBufferPointer(start: s.p, count: n))
        }
    }
}

/// The four column blocks behind an ``EventBuffer``. Mutated only through a uniquely referenced buffer
/// (copy-on-write), which is what makes sharing it across threads safe.
@usableFromInline
final class EventStorage: @unchecked Sendable {
    @usableFromInline private(set) var t: UnsafeMutablePointer<Int64>
    @usableFromInline private(set) var x: UnsafeMutablePointer<UInt16>
    @usableFromInline private(set) var y: UnsafeMutablePointer<UInt16>
    @usableFromInline private(set) var p: UnsafeMutablePointer<UInt8>
    @usableFromInline private(set) var capacity: Int

    init(capacity: Int) {
        let c = Swift.max(capacity, 1)
        t = Self.allocate(Int64.self, c)
        x = Self.allocate(UInt16.self, c)
        y = Self.allocate(UInt16.self, c)
        p = Self.allocate(UInt8.self, c)
        self.capacity = c
    }

    deinit {
        free(t)
        free(x)
        free(y)
        free(p)
    }

    func copy(count: Int, capacity: Int) -> EventStorage {
        let s = EventStorage(capacity: capacity)
        s.t.update(from: t, count: count)
        s.x.update(from: x, count: count)
        s.y.update(from: y, count: count)
        s.p.update(from: p, count: count)
        return s
    }

    func grow(to newCapacity: Int) {
        t = Self.reallocate(t, newCapacity)
        x = Self.reallocate(x, newCapacity)
        y = Self.reallocate(y, newCapacity)
        p = Self.reallocate(p, newCapacity)
        capacity = newCapacity
    }

    private static func allocate<T>(_: T.Type, _ n: Int) -> UnsafeMutablePointer<T> {
        guard let raw = malloc(n * MemoryLayout<T>.stride) else { fatalError("out of memory for \(n) events") }
        return raw.bindMemory(to: T.self, capacity: n)
    }

    private static func reallocate<T>(_ old: UnsafeMutablePointer<T>, _ n: Int) -> UnsafeMutablePointer<T> {
        guard let raw = realloc(old, n * MemoryLayout<T>.stride) else { fatalError("out of memory for \(n) events") }
        return raw.bindMemory(to: T.self, capacity: n)
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
