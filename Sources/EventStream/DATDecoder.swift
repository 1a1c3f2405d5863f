/// Streaming decoder of Prophesee DAT recordings of CD events.
///
/// Layout: an optional `%` text header (see ``PropheseeHeader``), then two bytes, the event type and the
/// event size, then 8-byte little-endian records: a 32-bit timestamp in microseconds, then a 32-bit word
/// with x in bits 0-13, y in bits 14-27 and the polarity in bits 28-31 (nonzero = ON).
///
/// Event types read: `0x0C` (EventCD) and `0x00` (Event2D, as written by older tools such as the N-CARS
/// dataset's), both with size 8. The geometry comes from the header (`% Width`/`% Height`,
/// `% geometry`, ...) or the override; DAT files often have none.
///
/// Policies for odd input:
/// - Another event type or size throws `.badHeader` at the offset of that byte.
/// - The 32-bit timestamp wraps every 2^32 µs: a drop of more than half its range is a wrap-around,
///   unrolled into the 64-bit time line (``DecoderCounters/timeWraps``); a smaller drop is kept as it is
///   and counted in ``DecoderCounters/timestampRegressions``.
/// - Events outside the known geometry are dropped, counted in ``DecoderCounters/outOfBounds``.
/// - A stream that ends inside a record, or after a header but before the type and size bytes, makes
///   ``finish(into:)`` throw `.truncated` at the start of what is missing.
public struct DATDecoder: EventDecoder, Sendable {
    private let geometryOverride: SensorGeometry?
    private var headerParser = PropheseeHeaderParser()
    private var headerGeometry: SensorGeometry?
    private var dataOffset: Int64 = 0
    private var typeAndSize: [UInt8] = []
    private var carry = RecordCarry(recordSize: DATDecoder.recordSize)
    public private(set) var counters = DecoderCounters()
    private var lastRaw: UInt32 = 0
    private var epoch: Int64 = 0
    private var lastT: Int64 = .min

    /// Size of one record in bytes.
    public static let recordSize = 8
    /// Event types read (EventCD and the older Event2D).
    public static let supportedEventTypes: Set<UInt8> = [0x0c, 0x00]
    /// Range of the timestamp counter (32 bits).
    public static let timeRange: Int64 = 1 << 32

    /// A decoder; `geometry`, when given, overrides the header's.
    public init(geometry: SensorGeometry? = nil) {
        geometryOverride = geometry
    }

    /// The explicit geometry, else the header's (once the header has been read); nil while unknown.
    public var geometry: SensorGeometry? { geometryOverride ?? headerGeometry }
    /// The `%` text header (partial until the data starts).
    public var header: PropheseeHeader { headerParser.header }
    /// Bytes consumed so far: complete header lines, the type and size bytes, then whole records.
    public var offset: Int64 { headerParser.isComplete ? dataOffset : headerParser.consumed }

    public mutating func decode(_ chunk: UnsafeRawBufferPointer, into events: inout EventBuffer) throws {
        var bytes = chunk
        if !headerParser.isComplete {
            let used = try headerParser.parse(bytes)
            bytes = UnsafeRawBufferPointer(rebasing: bytes[used...])
            guard headerParser.isComplete else { return }
            startData()
        }
        if typeAndSize.count < 2 {
            let take = min(2 - typeAndSize.count, bytes.count)
            typeAndSize.append(contentsOf: bytes.prefix(take))
            bytes = UnsafeRawBufferPointer(rebasing: bytes[take...])
            guard typeAndSize.count == 2 else { return }
            try checkTypeAndSize()
        }
        let (completed, records) = carry.split(bytes)
        if !completed.isEmpty {
            completed.withUnsafeBytes { decodeRecords($0.baseAddress!, count: completed.count / Self.recordSize, into: &events) }
        }
        if !records.isEmpty { decodeRecords(records.baseAddress!, count: records.count / Self.recordSize, into: &events) }
    }

    public mutating func finish(into events: inout EventBuffer) throws {
        if !headerParser.isComplete {
            try headerParser.finish()
            startData()
        }
        if typeAndSize.count < 2, dataOffset > 0 || !typeAndSize.isEmpty {
            throw EventDecodingError(
                .truncated, offset: dataOffset, "the DAT stream ends before its event type and size bytes")
        }
        guard carry.pending.isEmpty else {
            throw EventDecodingError(
                .truncated, offset: dataOffset,
                "\(carry.pending.count) trailing byte(s) do not make a whole 8-byte DAT record")
        }
    }

    /// Called once, when the header has ended.
    private mutating func startData() {
        headerGeometry = headerParser.header.geometry
        dataOffset = headerParser.header.byteCount
        typeAndSize = headerParser.dataPrefix
    }

    private mutating func checkTypeAndSize() throws {
        let type = typeAndSize[0], size = typeAndSize[1]
        guard Self.supportedEventTypes.contains(type) else {
            throw EventDecodingError(
                .badHeader, offset: dataOffset,
                "DAT event type 0x\(String(type, radix: 16)) is not supported (0x0c CD or 0x00 2D events only)")
        }
        guard Int(size) == Self.recordSize else {
            throw EventDecodingError(
                .badHeader, offset: dataOffset + 1, "DAT event size \(size) is not supported (8 only)")
        }
        dataOffset += 2
    }

    private mutating func decodeRecords(_ base: UnsafeRawPointer, count n: Int, into events: inout EventBuffer) {
        let g = geometry
        let width = g.map { UInt32(clamping: $0.width) } ?? .max
        let height = g.map { UInt32(clamping: $0.height) } ?? .max
        var lastRaw = lastRaw, epoch = epoch, last = lastT
        var outside = 0, regressions = 0, wraps = 0
        events.withWriter(reservingCapacity: n) { w in
            for i in 0..<n {
                let raw = UInt32(littleEndian: base.loadUnaligned(fromByteOffset: i &* 8, as: UInt32.self))
                let packed = UInt32(littleEndian: base.loadUnaligned(fromByteOffset: i &* 8 &+ 4, as: UInt32.self))
                if raw < lastRaw, Int64(lastRaw - raw) > Self.timeRange / 2 {
                    epoch &+= Self.timeRange
                    wraps &+= 1
                }
                lastRaw = raw
                let x = packed & 0x3fff, y = (packed >> 14) & 0x3fff
                guard x < width, y < height else {
                    outside &+= 1
                    continue
                }
                let t = epoch &+ Int64(raw)
                if t < last { regressions &+= 1 }
                last = t
                w.append(
                    t: t, x: UInt16(truncatingIfNeeded: x), y: UInt16(truncatingIfNeeded: y),
                    polarity: packed >> 28 != 0 ? 1 : 0)
            }
        }
        self.lastRaw = lastRaw
        self.epoch = epoch
        lastT = last
        counters.outOfBounds += outside
        counters.timestampRegressions += regressions
        counters.timeWraps += wraps
        dataOffset += Int64(n * Self.recordSize)
    }
}
