/// Writes Prophesee EVT 3.0 (read back by ``EVT3Decoder``).
///
/// The stream opens with a `%` text header: `% evt 3.0`, and when the geometry is known
/// `% format EVT3;height=H;width=W` and `% geometry WxH`, then `% end`. Then 16-bit little-endian words, one
/// EVT_ADDR_X (x, polarity) per event, each preceded by what changed since the event before it:
/// - EVT_TIME_HIGH (`t >> 12`, 12 bits) before the first event and whenever `t >> 12` changes, then
///   EVT_TIME_LOW (`t & 0xfff`) whenever the time changes (a TIME_HIGH keeps the previous low bits, so a
///   TIME_LOW always follows one);
/// - EVT_ADDR_Y whenever y changes (and before the first event).
///
/// No vector words (VECT_BASE_X, VECT_12, VECT_8) are written: every event has its own word, so decoding
/// gives back exactly the events encoded, in order.
///
/// Requirements, each failing with an ``EventEncodingError`` that names the event's index in the stream:
/// coordinates must fit EVT 3.0's 11 bits (and the geometry, when given); timestamps must not be negative,
/// must not go backwards, and must stay below ``maximumTimestamp``. The 24-bit time wraps every 2^24 µs
/// (about 16.8 s), which the decoder unrolls; forward jumps of half the TIME_HIGH range or more (about 8.4 s
/// without events) are bridged with extra TIME_HIGH words so that they decode exactly. When a batch fails,
/// nothing of it is written and the encoder is left as it was before the call.
public struct EVT3Encoder: EventEncoder, Sendable {
    /// The geometry written in the header and checked against, if known.
    public let geometry: SensorGeometry?
    private var headerWritten = false
    private var written = 0
    private var lastT: Int64 = 0
    private var lastHigh: Int64 = -1  // t >> 12 of the last TIME_HIGH word written, -1 before the first
    private var lastLow: Int64 = -1  // t & 0xfff of the last TIME_LOW word written
    private var lastY: Int32 = -1  // y of the last EVT_ADDR_Y word written

    /// Largest timestamp accepted, in microseconds (2^44 - 1, about 203 days; bridging a jump that long
    /// takes about two million TIME_HIGH words).
    public static let maximumTimestamp: Int64 = (1 << 44) - 1
    /// Largest forward jump of TIME_HIGH (t >> 12) one word can make and still decode unambiguously.
    static let maximumHighStep: Int64 = EVT3Decoder.timeHighRange / 2 - 1

    /// An encoder; `geometry`, when given, is written in the header and events must lie on it.
    public init(geometry: SensorGeometry?) {
        self.geometry = geometry
    }

    /// The `%` text header this encoder writes first.
    public var headerText: String {
        var text = "% evt 3.0\n"
        if let g = geometry {
            text += "% format EVT3;height=\(g.height);width=\(g.width)\n"
            text += "% geometry \(g.width)x\(g.height)\n"
        }
        text += "% end\n"
        return text
    }

    public mutating func encode(_ events: EventBuffer, into output: inout [UInt8]) throws {
        let width = min(geometry?.width ?? Int.max, EVT3Decoder.addressRange)
        let height = min(geometry?.height ?? Int.max, EVT3Decoder.addressRange)
        var words: [UInt16] = []  // little-endian words
        words.reserveCapacity(events.count * 2 + 2)
        var last = lastT, high = lastHigh, low = lastLow, lastRow = lastY
        try events.withColumns { t, x, y, p in
            for i in 0..<t.count {
                let index = written + i
                guard Int(x[i]) < width, Int(y[i]) < height else {
                    let limit = geometry.map { "the \($0) geometry" } ?? "EVT 3.0's 11-bit addresses"
                    throw EventEncodingError(eventIndex: index, "coordinate (\(x[i]), \(y[i])) is outside \(limit)")
                }
                let ti = t[i]
                guard ti >= 0, ti <= Self.maximumTimestamp else {
                    throw EventEncodingError(
                        eventIndex: index,
                        "timestamp \(ti) µs is outside 0...\(Self.maximumTimestamp) "
                            + "(shift times to the recording start)")
                }
                guard ti >= last else {
                    throw EventEncodingError(eventIndex: index, "timestamp \(ti) µs goes backwards (previous \(last))")
                }
                last = ti
                let h = ti >> 12
                var timeChanged = false
                if h != high {
                    // The decoder takes the first TIME_HIGH as it is (below 2^12); after that, bridge long
                    // jumps so that every TIME_HIGH step decodes as a forward move.
                    var current = high >= 0 ? high : min(h, EVT3Decoder.timeHighRange - 1)
                    if high < 0, current < h { words.append(Self.word(0x8, current)) }
                    while h - current > Self.maximumHighStep {
                        current += Self.maximumHighStep
                        words.append(Self.word(0x8, current))
                    }
                    words.append(Self.word(0x8, h))
                    high = h
                    timeChanged = true
                }
                let l = ti & 0xfff
                if timeChanged || l != low {
                    words.append(Self.word(0x6, l))
                    low = l
                }
                if Int32(y[i]) != lastRow {
                    words.append(Self.word(0x0, Int64(y[i])))
                    lastRow = Int32(y[i])
                }
                words.append(Self.word(0x2, Int64(x[i]) | (p[i] != 0 ? 0x800 : 0)))
            }
        }
        writeHeaderIfNeeded(into: &output)
        words.withUnsafeBytes { output.append(contentsOf: $0) }
        lastT = last
        lastHigh = high
        lastLow = low
        lastY = lastRow
        written += events.count
    }

    /// Writes the header if no event was encoded (an empty recording); nothing else closes EVT 3.0.
    public mutating func finish(into output: inout [UInt8]) throws {
        writeHeaderIfNeeded(into: &output)
    }

    private mutating func writeHeaderIfNeeded(into output: inout [UInt8]) {
        guard !headerWritten else { return }
        output.append(contentsOf: Array(headerText.utf8))
        headerWritten = true
    }

    /// A word of `type` (bits 12-15) carrying the low 12 bits of `value`, already in little-endian byte order.
    private static func word(_ type: UInt16, _ value: Int64) -> UInt16 {
        (type << 12 | UInt16(truncatingIfNeeded: value) & 0x0fff).littleEndian
    }
}
