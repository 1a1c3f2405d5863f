/// Streaming decoder of the N-MNIST 40-bit layout (also the DVS128 Gesture crops in ../shared/data).
///
/// Each event is 5 bytes, big-endian: x, y, then polarity in bit 7 and a 23-bit microsecond timestamp.
/// As in the dataset's own reader, a record with y = 240 is a timer-overflow marker, not an event: every
/// later timestamp gains 2^13 µs (counted in ``DecoderCounters/timeWraps``). The format carries no
/// geometry; pass one (34x34 for N-MNIST, 128x128 for DVS128) to get out-of-range coordinates dropped.
public struct NMNISTDecoder: EventDecoder {
    public let geometry: SensorGeometry?
    public private(set) var counters = DecoderCounters()
    public private(set) var offset: Int64 = 0
    private var carry = RecordCarry(recordSize: NMNISTDecoder.recordSize)
    private var timeBase: Int64 = 0
    private var lastT: Int64 = .min

    /// Size of one record in bytes.
    public static let recordSize = 5
    /// The y value that marks a timer overflow.
    public static let overflowMarkerY: UInt8 = 240
    /// What each overflow marker adds to the following timestamps, in microseconds.
    public static let overflowIncrement: Int64 = 1 << 13

    public init(geometry: SensorGeometry? = nil) {
        self.geometry = geometry
    }

    public mutating func decode(_ chunk: UnsafeRawBufferPointer, into events: inout EventBuffer) throws {
        let (completed, records) = carry.split(chunk)
        completed.withUnsafeBytes { decodeRecords($0, into: &events) }
        decodeRecords(records, into: &events)
    }

    public mutating func finish(into events: inout EventBuffer) throws {
        guard carry.pending.isEmpty else {
            throw EventDecodingError(
                .truncated, offset: offset,
                "\(carry.pending.count) trailing byte(s) do not make a whole 5-byte event")
        }
    }

    private mutating func decodeRecords(_ bytes: UnsafeRawBufferPointer, into events: inout EventBuffer) {
        let n = bytes.count / Self.recordSize
        guard n > 0 else { return }
        let width = geometry.map { $0.width } ?? Int.max
        let height = geometry.map { $0.height } ?? Int.max
        var base = timeBase
        var last = lastT
        var regressions = 0, wraps = 0, outside = 0
        events.withWriter(reservingCapacity: n) { w in
            let p = bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
            for i in 0..<n {
                let r = p + i &* 5
                let x = r[0], y = r[1], b2 = r[2]
                if y == Self.overflowMarkerY {
                    base &+= Self.overflowIncrement
                    wraps &+= 1
                    continue
                }
                let t = base &+ (Int64(b2 & 0x7f) << 16 | Int64(r[3]) << 8 | Int64(r[4]))
                if Int(x) >= width || Int(y) >= height {
                    outside &+= 1
                    continue
                }
                if t < last { regressions &+= 1 }
                last = t
                w.append(t: t, x: UInt16(x), y: UInt16(y), polarity: b2 >> 7)
            }
        }
        timeBase = base
        lastT = last
        counters.timestampRegressions += regressions
        counters.timeWraps += wraps
        counters.outOfBounds += outside
        offset += Int64(n * Self.recordSize)
    }
}
