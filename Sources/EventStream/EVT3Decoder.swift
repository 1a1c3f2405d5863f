/// Streaming decoder of Prophesee EVT 3.0, with or without a `%` text header (see ``PropheseeHeader``).
///
/// The data are 16-bit little-endian words, the type in bits 12-15, decoded against a state (y, base x,
/// polarity, time) that the words update:
/// - `0x0` EVT_ADDR_Y: y in bits 0-10 (bit 11, the master/slave system type, is ignored).
/// - `0x2` EVT_ADDR_X: one event at x = bits 0-10, polarity bit 11.
/// - `0x3` VECT_BASE_X: base x in bits 0-10 and polarity bit 11 for the vectors that follow.
/// - `0x4` VECT_12 / `0x5` VECT_8: an event at base x + i for each set bit i of the 12 / 8 low bits; base x
///   then advances by 12 / 8.
/// - `0x6` EVT_TIME_LOW and `0x8` EVT_TIME_HIGH: the 12 low and 12 high bits of the 24-bit time,
///   t = (TIME_HIGH << 12) | TIME_LOW, as the Prophesee specification states.
/// - `0xA` EXT_TRIGGER and `0xE` OTHERS carry no CD event: skipped, each counted in
///   ``DecoderCounters/skippedPackets``; `0x7` CONTINUED_4 and `0xF` CONTINUED_12 extend the word before
///   them: skipped, not counted.
///
/// Policies for odd input, none of which stops decoding:
/// - Reserved types (`0x1`, `0x9`, `0xB`, `0xC`, `0xD`): skipped, counted in ``DecoderCounters/unknownWords``.
/// - Events before the first TIME_HIGH have no time base: dropped, counted in
///   ``DecoderCounters/eventsBeforeTimeBase``. Events before any EVT_ADDR_Y / VECT_BASE_X use y = 0 /
///   base x = 0, as Prophesee's decoder does.
/// - The 24-bit time wraps every 2^24 µs: a TIME_HIGH drop of more than half its range is a wrap-around,
///   unrolled into the 64-bit time line (``DecoderCounters/timeWraps``); a smaller drop is a reset of the
///   time base, kept and counted in ``DecoderCounters/timeBaseResets``.
/// - Events earlier than the previous event are kept and counted in ``DecoderCounters/timestampRegressions``.
/// - Events outside the known geometry (header or override) are dropped, counted in
///   ``DecoderCounters/outOfBounds``; without a geometry, vector events past x = 2047 (the 11-bit address
///   range, reachable only by malformed streams) are dropped the same way.
/// - A header that declares another encoding throws `.badHeader` at that line; a trailing odd byte makes
///   ``finish(into:)`` throw `.truncated` at its offset.
public struct EVT3Decoder: EventDecoder, Sendable {
    private var stream: PropheseeWordStream
    public private(set) var counters = DecoderCounters()

    /// Internal (not private) so that tests can start a decoder from a state deep into a stream.
    var state = State()

    /// Size of one word in bytes.
    public static let wordSize = 2
    /// Range of the TIME_HIGH counter (12 bits); the whole time wraps at 2^24 µs.
    public static let timeHighRange: Int64 = 1 << 12
    /// Largest x or y an EVT 3.0 address can hold, plus one.
    public static let addressRange = 1 << 11
    /// Words decoded per batch: each batch reserves room for 12 events a word, the most VECT_12 yields.
    static let batchWords = 8192

    /// A decoder; `geometry`, when given, overrides the header's.
    public init(geometry: SensorGeometry? = nil) {
        stream = PropheseeWordStream(wordSize: Self.wordSize, version: "3.0", geometry: geometry)
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
        let n = records.count / Self.wordSize
        var start = 0
        while start < n {
            let m = min(Self.batchWords, n - start)
            decodeWords(records.baseAddress! + start * Self.wordSize, count: m, into: &events)
            start += m
        }
    }

    public mutating func finish(into events: inout EventBuffer) throws {
        try stream.finish()
    }

    /// The decoding state carried from word to word (and chunk to chunk).
    struct State: Sendable {
        var y: UInt32 = 0
        var baseX: UInt32 = 0
        var polarity: UInt32 = 0
        var hasTimeBase = false
        var lastTimeHigh: UInt32 = 0
        var epoch: Int64 = 0  // in TIME_HIGH units (2^12 per wrap)
        var timeLow: Int64 = 0
        var time: Int64 = 0
        var lastT: Int64 = .min
    }

    private mutating func decodeWords(_ base: UnsafeRawPointer, count n: Int, into events: inout EventBuffer) {
        let g = geometry
        let width = UInt32(min(g?.width ?? Self.addressRange, Self.addressRange))
        let height = UInt32(min(g?.height ?? Self.addressRange, Self.addressRange))
        let start = state
        let (end, tally) = events.withWriter(reservingCapacity: n &* 12) { w in
            let (end, tally, writer) = Self.decodeWords(
                base, count: n, width: width, height: height, state: start, writer: w)
            w = writer
            return (end, tally)
        }
        state = end
        counters.outOfBounds += tally.outOfBounds
        counters.timestampRegressions += tally.timestampRegressions
        counters.timeWraps += tally.timeWraps
        counters.timeBaseResets += tally.timeBaseResets
        counters.eventsBeforeTimeBase += tally.eventsBeforeTimeBase
        counters.skippedPackets += tally.skippedPackets
        counters.unknownWords += tally.unknownWords
    }

    /// The hot loop. Everything it changes is a local (values in, values out), so the optimizer keeps the
    /// state in registers instead of writing it back through the stores of the event columns.
    ///
    /// EVT_ADDR_Y and EVT_ADDR_X, most of the words of a real stream, in an order no branch predictor
    /// guesses, go through a branch-free path: the event is written speculatively at the writer's next
    /// slot and kept by adding 1 (or 0) to the count. That is safe because the batch reserved 12 slots per
    /// word, so after k words at most 12k slots are used and the next one exists.
    ///
    /// All events between two time words share one timestamp, so only the first event after a time change
    /// can go backwards: timestamp regressions are checked when the time changes (and at the end), not
    /// per event.
    ///
    /// Base x only grows between VECT_BASE_X words (12 or 8 per vector), so a hostile stream of ~358 million
    /// vectors would wrap it around 2^32 and past the "whole vector on the sensor" test. It is clamped to
    /// the address range when a batch starts: from there a batch (at most ``batchWords`` words) cannot
    /// wrap it, and any base x at or past the address range puts every vector event off the sensor alike.
    private static func decodeWords(
        _ base: UnsafeRawPointer, count n: Int, width: UInt32, height: UInt32, state: State, writer: EventWriter
    ) -> (State, DecoderCounters, EventWriter) {
        var w = writer
        precondition(w.capacity - w.count >= n &* 12, "EVT3Decoder: batch reserved too little")
        precondition(n <= batchWords, "EVT3Decoder: batch too long")
        let pt = w.t, px = w.x, py = w.y, pp = w.p
        var written = w.count
        var y = state.y, baseX = min(state.baseX, UInt32(addressRange)), pol = state.polarity
        var hasBase = state.hasTimeBase, lastHigh = state.lastTimeHigh, epoch = state.epoch
        var low = state.timeLow, t = state.time, last = state.lastT
        // Events at the current y pass when x < xLimit: xLimit is 0 while there is no time base or y is off
        // the sensor. ADDR_X events turned down are counted in `rejected`, which is split between
        // "before the time base" and "out of bounds" when the time base arrives and at the end.
        var yLimit = hasBase ? height : 0
        var xLimit = y < yLimit ? width : 0
        var rejected = 0
        // Slots written when the time last changed: events after it carry the current `t`.
        var mark = written
        var outside = 0, regressions = 0, wraps = 0, resets = 0, before = 0, skipped = 0, unknown = 0
        var p = base
        let stop = base + n &* 2
        while p < stop {
            let word = UInt32(UInt16(littleEndian: p.loadUnaligned(as: UInt16.self)))
            p += 2
            let type = word >> 12
            if type & 0xd == 0 {
                // 0x0 EVT_ADDR_Y or 0x2 EVT_ADDR_X.
                let isX = type >> 1
                let v = word & 0x7ff
                pt[written] = t
                px[written] = UInt16(truncatingIfNeeded: v)
                py[written] = UInt16(truncatingIfNeeded: y)
                pp[written] = UInt8(truncatingIfNeeded: word >> 11) & 1
                let keep = isX & (v < xLimit ? 1 : 0)
                written &+= Int(keep)
                if _slowPath(keep != isX) { rejected &+= 1 }
                if isX == 0 {
                    y = v
                    xLimit = v < yLimit ? width : 0
                }
                continue
            }
            switch type {
            case 0x3:
                baseX = word & 0x7ff
                pol = (word >> 11) & 1
            case 0x4, 0x5:
                let isVect12 = type == 0x4
                var bits = isVect12 ? word & 0xfff : word & 0xff
                let length: UInt32 = isVect12 ? 12 : 8
                defer { baseX &+= length }
                guard bits != 0 else { continue }
                guard hasBase else {
                    before &+= bits.nonzeroBitCount
                    continue
                }
                let yv = UInt16(truncatingIfNeeded: y), pv = UInt8(truncatingIfNeeded: pol)
                if baseX &+ length <= width, y < height {
                    // The whole vector is on the sensor.
                    repeat {
                        pt[written] = t
                        let x = baseX &+ UInt32(truncatingIfNeeded: bits.trailingZeroBitCount)
                        px[written] = UInt16(truncatingIfNeeded: x)
                        py[written] = yv
                        pp[written] = pv
                        written &+= 1
                        bits &= bits &- 1
                    } while bits != 0
                } else {
                    repeat {
                        let x = baseX &+ UInt32(truncatingIfNeeded: bits.trailingZeroBitCount)
                        bits &= bits &- 1
                        guard x < width, y < height else {
                            outside &+= 1
                            continue
                        }
                        pt[written] = t
                        px[written] = UInt16(truncatingIfNeeded: x)
                        py[written] = yv
                        pp[written] = pv
                        written &+= 1
                    } while bits != 0
                }
            case 0x6, 0x8:
                // The time changes: settle the regression check of the events written at the old time.
                if written != mark {
                    if t < last { regressions &+= 1 }
                    last = t
                    mark = written
                }
                if type == 0x6 {
                    low = Int64(word & 0xfff)
                    t = (epoch &+ Int64(lastHigh)) &<< 12 | low
                    continue
                }
                let high = word & 0xfff
                if hasBase {
                    if high < lastHigh {
                        if Int64(lastHigh - high) > timeHighRange / 2 {
                            epoch &+= timeHighRange
                            wraps &+= 1
                        } else {
                            resets &+= 1
                        }
                    }
                } else {
                    hasBase = true
                    before &+= rejected
                    rejected = 0
                    yLimit = height
                    xLimit = y < yLimit ? width : 0
                }
                lastHigh = high
                t = (epoch &+ Int64(high)) &<< 12 | low
            case 0xa, 0xe:
                skipped &+= 1
            case 0x7, 0xf:
                break
            default:
                unknown &+= 1
            }
        }
        if written != mark {
            if t < last { regressions &+= 1 }
            last = t
        }
        if hasBase { outside &+= rejected } else { before &+= rejected }
        w.written = written
        let end = State(
            y: y, baseX: baseX, polarity: pol, hasTimeBase: hasBase, lastTimeHigh: lastHigh, epoch: epoch,
            timeLow: low, time: t, lastT: last)
        var tally = DecoderCounters()
        tally.outOfBounds = outside
        tally.timestampRegressions = regressions
        tally.timeWraps = wraps
        tally.timeBaseResets = resets
        tally.eventsBeforeTimeBase = before
        tally.skippedPackets = skipped
        tally.unknownWords = unknown
        return (end, tally, w)
    }
}
