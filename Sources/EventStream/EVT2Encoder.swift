/// Writes Prophesee EVT 2.0 (read back by ``EVT2Decoder``).
///
/// The stream opens with a `%` text header: `% evt 2.0`, and when the geometry is known
/// `% format EVT2;height=H;width=W` and `% geometry WxH`, then `% end`. Events become CD_ON / CD_OFF words;
/// a TIME_HIGH word is written before the first event and whenever `t >> 6` changes.
///
/// Requirements, each failing with an ``EventEncodingError`` that names the event's index in the stream:
/// coordinates must fit the format's 11 bits (and the geometry, when given); timestamps must not be
/// negative, must not go backwards, and must stay below ``maximumTimestamp``. TIME_HIGH is a 28-bit
/// counter: past 2^34 µs it wraps around, which the decoder unrolls; jumps of half its range or more
/// (about 2.4 hours without events) are bridged with extra TIME_HIGH words so that they decode exactly.
/// When a batch fails, nothing of it is written and the encoder is left as it was before the call.
public struct EVT2Encoder: EventEncoder, Sendable {
    /// The geometry written in the header and checked against, if known.
    public let geometry: SensorGeometry?
    private var headerWritten = false
    private var written = 0
    private var lastT: Int64 = 0
    private var lastHigh: Int64 = -1  // t >> 6 of the last TIME_HIGH word written, -1 before the first

    /// Largest timestamp accepted, in microseconds (2^44 - 1, about 203 days).
    public static let maximumTimestamp: Int64 = (1 << 44) - 1
    /// Largest forward jump of TIME_HIGH (t >> 6) one word can make and still decode unambiguously.
    static let maximumHighStep: Int64 = EVT2Decoder.timeHighRange / 2 - 1

    /// An encoder; `geometry`, when given, is written in the header and events must lie on it.
    public init(geometry: SensorGeometry?) {
        self.geometry = geometry
    }

    /// The `%` text header this encoder writes first.
    public var headerText: String {
        var text = "% evt 2.0\n"
        if let g = geometry {
            text += "% format EVT2;height=\(g.height);width=\(g.width)\n"
            text += "% geometry \(g.width)x\(g.height)\n"
        }
        text += "% end\n"
        return text
    }

    public mutating func encode(_ events: EventBuffer, into output: inout [UInt8]) throws {
        let width = min(geometry?.width ?? Int.max, 1 << 11)
        let height = min(geometry?.height ?? Int.max, 1 << 11)
        var words: [UInt32] = []  // little-endian words
        words.reserveCapacity(events.count + 1)
        var last = lastT, high = lastHigh
        try events.withColumns { t, x, y, p in
            for i in 0..<t.count {
                let index = written + i
                guard Int(x[i]) < width, Int(y[i]) < height else {
                    let limit = geometry.map { "the \($0) geometry" } ?? "EVT 2.0's 11-bit addresses"
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
                let h = ti >> 6
                if h != high {
                    // The decoder takes the first TIME_HIGH as it is (below 2^28); after that, bridge long
                    // jumps so that every TIME_HIGH step decodes as a forward move.
                    var current = high >= 0 ? high : min(h, EVT2Decoder.timeHighRange - 1)
                    if high < 0, current < h { words.append(Self.timeHighWord(current)) }
                    while h - current > Self.maximumHighStep {
                        current += Self.maximumHighStep
                        words.append(Self.timeHighWord(current))
                    }
                    words.append(Self.timeHighWord(h))
                    high = h
                }
                let type: UInt32 = p[i] != 0 ? 0x1 : 0x0
                words.append(
                    (type << 28 | UInt32(ti & 0x3f) << 22 | UInt32(x[i]) << 11 | UInt32(y[i])).littleEndian)
            }
        }
        writeHeaderIfNeeded(into: &output)
        words.withUnsafeBytes { output.append(contentsOf: $0) }
        lastT = last
        lastHigh = high
        written += events.count
    }

    /// Writes the header if no event was encoded (an empty recording); nothing else closes EVT 2.0.
    public mutating func finish(into output: inout [UInt8]) throws {
        writeHeaderIfNeeded(into: &output)
    }

    private mutating func writeHeaderIfNeeded(into output: inout [UInt8]) {
        guard !headerWritten else { return }
        output.append(contentsOf: Array(headerText.utf8))
        headerWritten = true
    }

    /// A TIME_HIGH word, already in little-endian byte order.
    private static func timeHighWord(_ high: Int64) -> UInt32 {
        (0x8 << 28 | UInt32(truncatingIfNeeded: high) & 0x0fff_ffff).littleEndian
    }
}
