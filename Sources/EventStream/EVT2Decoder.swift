/// Streaming decoder of Prophesee EVT 2.0, with or without a `%` text header (see ``PropheseeHeader``).
///
/// The data are 32-bit little-endian words, the type in bits 28-31:
/// - `0x0` CD_OFF / `0x1` CD_ON: one event, x in bits 11-21, y in bits 0-10, the 6 low bits of the
///   timestamp in bits 22-27; polarity is the type.
/// - `0x8` EVT_TIME_HIGH: bits 0-27 are the timestamp's upper bits, t = (TIME_HIGH << 6) | low 6 bits.
/// - `0xA` EXT_TRIGGER and `0xE` OTHERS carry no CD event: skipped, each counted in
///   ``DecoderCounters/skippedPackets``. `0xF` CONTINUED words belong to the word before them: skipped,
///   not counted.
///
/// Policies for odd input, none of which stops decoding:
/// - Other (reserved) types: skipped, counted in ``DecoderCounters/unknownWords``.
/// - CD events before the first TIME_HIGH have no time base: dropped, counted in
///   ``DecoderCounters/eventsBeforeTimeBase``.
/// - TIME_HIGH is a 28-bit counter (it wraps every 2^34 µs). A drop of more than half its range is a
///   wrap-around, unrolled into the 64-bit time line (``DecoderCounters/timeWraps``); a smaller drop is a
///   reset of the time base: decoding goes on with the new value, counted in
///   ``DecoderCounters/timeBaseResets``.
/// - Events earlier than the previous event are kept and counted in ``DecoderCounters/timestampRegressions``.
/// - With a known geometry (header or override), events outside it are dropped, counted in
///   ``DecoderCounters/outOfBounds``.
/// - A header that declares another encoding (`% evt 3.0`, `% format EVT21`) throws `.badHeader` at that
///   line; bytes left over at the end (not a whole word) make ``finish(into:)`` throw `.truncated` at the
///   start of the partial word.
public struct EVT2Decoder: EventDecoder, Sendable {
    private var stream: PropheseeWordStream
    public private(set) var counters = DecoderCounters()

    // Time state.
    private var hasTimeBase = false
    private var lastTimeHigh: UInt32 = 0
    private var epoch: Int64 = 0  // in TIME_HIGH units (2^28 per wrap)
    private var timeBase: Int64 = 0  // (epoch + TIME_HIGH) << 6
    private var lastT: Int64 = .min

    /// Size of one word in bytes.
    public static let wordSize = 4
    /// Range of the TIME_HIGH counter (28 bits).
    public static let timeHighRange: Int64 = 1 << 28

    /// A decoder; `geometry`, when given, overrides the header's.
    public init(geometry: SensorGeometry? = nil) {
        stream = PropheseeWordStream(wordSize: Self.wordSize, version: "2.0", geometry: geometry)
    }

    /// The explicit geometry, else the header's (once the header has been read); nil while unknown.
    public var geometry: SensorGeometry? { stream.geometry }
    /// The `%` text header (empty for a headerless stream; partial until the data starts).
    public var header: PropheseeHeader { stream.headerParser.header }
    /// Bytes of the stream consumed so far: complete header lines, then whole words.
    public var offset: Int64 { stream.offset }

    public mutating func decode(_ chunk: UnsafeRawBufferPointer, into events: inout EventBuffer) throws {
        let (completed, records) = try stream.words(in: chunk)
        if !completed.isEmpty {
            completed.withUnsafeBytes { decodeWords($0.baseAddress!, count: completed.count / Self.wordSize, into: &events) }
        }
        if !records.isEmpty { decodeWords(records.baseAddress!, count: records.count / Self.wordSize, into: &events) }
    }

    public mutating func finish(into events: inout EventBuffer) throws {
        try stream.finish()
    }

    private mutating func decodeWords(_ base: UnsafeRawPointer, count n: Int, into events: inout EventBuffer) {
        let g = geometry
        let width = g.map { UInt32(clamping: $0.width) } ?? .max
        let height = g.map { UInt32(clamping: $0.height) } ?? .max
        var hasBase = hasTimeBase, lastHigh = lastTimeHigh, epoch = epoch, timeBase = timeBase, last = lastT
        var outside = 0, regressions = 0, wraps = 0, resets = 0, before = 0, skipped = 0, unknown = 0
        events.withWriter(reservingCapacity: n) { w in
            for i in 0..<n {
                let word = UInt32(littleEndian: base.loadUnaligned(fromByteOffset: i &* 4, as: UInt32.self))
                let type = word >> 28
                if type < 2 {
                    guard hasBase else {
                        before &+= 1
                        continue
                    }
                    let x = (word >> 11) & 0x7ff, y = word & 0x7ff
                    guard x < width, y < height else {
                        outside &+= 1
                        continue
                    }
                    let t = timeBase | Int64((word >> 22) & 0x3f)
                    if t < last { regressions &+= 1 }
                    last = t
                    w.append(
                        t: t, x: UInt16(truncatingIfNeeded: x), y: UInt16(truncatingIfNeeded: y),
                        polarity: UInt8(truncatingIfNeeded: type))
                } else if type == 0x8 {
                    let high = word & 0x0fff_ffff
                    if hasBase, high < lastHigh {
                        if Int64(lastHigh - high) > Self.timeHighRange / 2 {
                            epoch &+= Self.timeHighRange
                            wraps &+= 1
                        } else {
                            resets &+= 1
                        }
                    }
                    hasBase = true
                    lastHigh = high
                    timeBase = (epoch &+ Int64(high)) &<< 6
                } else if type == 0xa || type == 0xe {
                    skipped &+= 1
                } else if type != 0xf {
                    unknown &+= 1
                }
            }
        }
        hasTimeBase = hasBase
        lastTimeHigh = lastHigh
        self.epoch = epoch
        self.timeBase = timeBase
        lastT = last
        counters.outOfBounds += outside
        counters.timestampRegressions += regressions
        counters.timeWraps += wraps
        counters.timeBaseResets += resets
        counters.eventsBeforeTimeBase += before
        counters.skippedPackets += skipped
        counters.unknownWords += unknown
    }
}
