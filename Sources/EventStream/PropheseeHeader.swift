/// The `%` text header that opens Prophesee EVT 2.0, EVT 3.0 and DAT recordings.
///
/// Each header line starts with `%`, then usually a space, a key and a value (`% geometry 640x480`), and ends
/// with `\n` (a `\r` before it is tolerated). The header ends after a `% end` line, or at the first line that
/// does not start with `%` (that byte is the first byte of the data). A stream whose first byte is not `%`
/// has no header at all (GenX320 writes EVT 2.0 that way).
///
/// Like Prophesee's own tools, a stream whose header has no `% end` line and whose first data byte happens
/// to be `%` cannot be told apart from one more header line; writers should end headers with `% end`.
public struct PropheseeHeader: Sendable, Hashable {
    /// The header lines in order, without the leading `%`, the surrounding spaces and the line end.
    public var lines: [String] = []
    /// Key/value pairs, keys lowercased (`plugin_name`, `geometry`, `width`, `format`, `evt`, ...); the
    /// value is the rest of the line after the key. When a key repeats, the last line wins.
    public var values: [String: String] = [:]
    /// Bytes the header takes at the start of the stream, line ends and `% end` included.
    public var byteCount: Int64 = 0
    /// Byte offset of the line that declared the event format (`% evt ...` or `% format ...`), if any.
    public var formatLineOffset: Int64?

    /// An empty header (what a headerless stream has).
    public init() {}

    /// Whether the stream had no header lines at all.
    public var isEmpty: Bool { lines.isEmpty }

    /// The value of a key (case-insensitive), if the header has it.
    public subscript(key: String) -> String? { values[key.lowercased()] }

    /// The event encoding the header declares, normalised to `"2.0"`, `"2.1"`, `"3.0"`, ... from
    /// `% evt 3.0` or `% format EVT3;...`; nil when the header does not say.
    public var evtVersion: String? {
        if let format = self["format"] {
            let name = format.split(separator: ";").first.map { $0.propheseeTrimmed.lowercased() } ?? ""
            switch name {
            case "evt2": return "2.0"
            case "evt21": return "2.1"
            case "evt3": return "3.0"
            default: break
            }
        }
        if let evt = self["evt"] {
            let v = evt.propheseeTrimmed
            switch v {
            case "2", "2.0": return "2.0"
            case "3", "3.0": return "3.0"
            default: return v.isEmpty ? nil : String(v)
            }
        }
        return nil
    }

    /// Sensor geometry the header declares or implies, in this order: `% geometry WxH`; `height=`/`width=`
    /// in `% format ...`; DAT's `% Width W` / `% Height H`; then a sensor known from `plugin_name`,
    /// `sensor_generation` or `sensor_name`. Nil when none of these is there (or the values are not
    /// whole numbers in 1...65536).
    public var geometry: SensorGeometry? {
        if let g = self["geometry"] {
            let parts = g.propheseeTrimmed.lowercased().split(separator: "x", omittingEmptySubsequences: false)
            if parts.count == 2, let w = Self.dimension(parts[0]), let h = Self.dimension(parts[1]) {
                return SensorGeometry(width: w, height: h)
            }
        }
        if let format = self["format"] {
            var w: Int?, h: Int?
            for field in format.split(separator: ";").dropFirst() {
                let kv = field.split(separator: "=", maxSplits: 1)
                guard kv.count == 2 else { continue }
                switch kv[0].propheseeTrimmed.lowercased() {
                case "width": w = Self.dimension(kv[1])
                case "height": h = Self.dimension(kv[1])
                default: break
                }
            }
            if let w, let h { return SensorGeometry(width: w, height: h) }
        }
        if let w = self["width"].flatMap({ Self.dimension(Substring($0)) }),
           let h = self["height"].flatMap({ Self.dimension(Substring($0)) }) {
            return SensorGeometry(width: w, height: h)
        }
        for key in ["plugin_name", "sensor_generation", "sensor_name"] {
            if let value = self[key], let g = Self.knownSensor(value) { return g }
        }
        return nil
    }

    /// Geometry of a Prophesee sensor recognised from a plugin name or sensor generation
    /// (`hal_plugin_gen3_fx3`, `gen31`, `4.1`, `IMX636`, `GenX320`, ...), or nil.
    public static func knownSensor(_ name: String) -> SensorGeometry? {
        let s = name.propheseeTrimmed.lowercased()
        if s.contains("genx320") || s.contains("320x320") { return SensorGeometry(width: 320, height: 320) }
        if s.contains("imx636") || s.contains("gen41") || s.contains("gen4") {
            return SensorGeometry(width: 1280, height: 720)
        }
        if s.contains("gen31") || s.contains("gen3") { return SensorGeometry(width: 640, height: 480) }
        // A bare sensor_generation value such as "3.1" or "4.1".
        switch s {
        case "3", "3.0", "3.1": return SensorGeometry(width: 640, height: 480)
        case "4", "4.0", "4.1", "4.2": return SensorGeometry(width: 1280, height: 720)
        case "320": return SensorGeometry(width: 320, height: 320)
        default: return nil
        }
    }

    /// A positive pixel count from header text; nil for anything else, including counts past 65,536
    /// (coordinates are 16-bit), so a hostile header cannot declare a sensor nobody could allocate.
    static func dimension(_ text: Substring) -> Int? {
        guard let v = Int(text.propheseeTrimmed), v > 0, v <= 1 << 16 else { return nil }
        return v
    }

    /// Adds one header line (the text after `%`).
    mutating func add(line: String, at lineOffset: Int64) {
        let text = line.propheseeTrimmed
        lines.append(String(text))
        guard let space = text.firstIndex(where: { $0 == " " || $0 == "\t" }) else {
            if !text.isEmpty { values[text.lowercased()] = "" }
            return
        }
        let key = text[..<space].lowercased()
        values[key] = String(text[space...].propheseeTrimmed)
        if key == "evt" || key == "format" { formatLineOffset = lineOffset }
    }
}

/// Streaming parser of a ``PropheseeHeader``: fed the first bytes of a stream in chunks split anywhere,
/// it consumes header bytes until the header ends and says how many bytes of the chunk were header.
///
/// A header line must start with `%` followed by a space, a tab or the line end. A `%` at a line start
/// followed by anything else is taken as the first byte of data, so a headerless stream whose first byte
/// happens to be `%` is still read as data (the `%` is then handed back through ``dataPrefix``).
///
/// Bad input: a header line holding a byte that is not printable ASCII (tab and `\r` allowed) throws
/// ``EventDecodingError/Code/badHeader`` at that byte's offset; a header still going on after
/// ``maximumSize`` bytes throws `.badHeader` at that offset (memory stays bounded); a stream ending inside
/// a header line is reported by ``finish()`` as `.truncated` at the start of that line.
public struct PropheseeHeaderParser: Sendable {
    /// Longest header accepted, in bytes.
    public static let maximumSize: Int64 = 1 << 20

    /// The header read so far (complete once ``isComplete``).
    public private(set) var header = PropheseeHeader()
    /// Whether the header has ended; the bytes after it are data.
    public private(set) var isComplete = false
    /// Data bytes the parser had already taken from an earlier chunk when it found the header was over
    /// (at most one `%`); they come before the rest of the data.
    public private(set) var dataPrefix: [UInt8] = []
    /// Bytes of complete header lines (the offset where the next line or the data starts).
    public var consumed: Int64 { header.byteCount }

    private enum State: Sendable { case lineStart, afterPercent, inLine }
    private var state = State.lineStart
    private var line: [UInt8] = []

    /// A parser at the start of a stream.
    public init() {}

    /// Parses header bytes at the start of `chunk`; returns how many of its bytes belong to the header.
    /// Once ``isComplete`` is true, the bytes of ``dataPrefix`` and then the rest of the chunk are data.
    public mutating func parse(_ chunk: UnsafeRawBufferPointer) throws -> Int {
        var i = 0
        let n = chunk.count
        while i < n, !isComplete {
            let b = chunk[i]
            switch state {
            case .lineStart:
                // `%` may open a header line; anything else is the first byte of data.
                guard b == UInt8(ascii: "%") else {
                    isComplete = true
                    return i
                }
                state = .afterPercent
                line.removeAll(keepingCapacity: true)
                line.append(b)
                i += 1
            case .afterPercent:
                guard b == UInt8(ascii: " ") || b == 0x09 || b == 0x0d || b == 0x0a else {
                    // Not a header line: the `%` was data.
                    isComplete = true
                    if i > 0 { return i - 1 }
                    dataPrefix = [UInt8(ascii: "%")]
                    return 0
                }
                state = .inLine
            case .inLine:
                let lineStart = header.byteCount
                let at = lineStart + Int64(line.count)
                if at >= Self.maximumSize {
                    throw EventDecodingError(
                        .badHeader, offset: Self.maximumSize,
                        "the % text header goes on past \(Self.maximumSize) bytes")
                }
                i += 1
                if b == 0x0a {
                    endLine(at: lineStart)
                    continue
                }
                guard (b >= 0x20 && b < 0x7f) || b == 0x09 || b == 0x0d else {
                    throw EventDecodingError(
                        .badHeader, offset: at,
                        "byte 0x\(String(b, radix: 16)) in a % header line is not printable ASCII")
                }
                line.append(b)
            }
        }
        return i
    }

    /// Ends the stream; throws `.truncated` if it stopped inside a header line.
    public mutating func finish() throws {
        if state != .lineStart, !isComplete {
            throw EventDecodingError(
                .truncated, offset: header.byteCount,
                "the stream ends inside a % header line (\(line.count) byte(s), no newline)")
        }
        isComplete = true
    }

    private mutating func endLine(at lineStart: Int64) {
        var bytes = line.dropFirst()  // the `%`
        while bytes.last == 0x0d { bytes = bytes.dropLast() }
        let text = String(decoding: bytes, as: UTF8.self)
        state = .lineStart
        header.byteCount = lineStart + Int64(line.count) + 1
        line.removeAll(keepingCapacity: true)
        if text.propheseeTrimmed.lowercased() == "end" {
            isComplete = true
            return
        }
        header.add(line: text, at: lineStart)
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces, tabs and carriage returns.
    fileprivate var propheseeTrimmed: Substring {
        let s = Substring(self)
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
        guard let first = s.firstIndex(where: { !isSpace($0) }) else { return s[s.endIndex...] }
        let last = s.lastIndex(where: { !isSpace($0) })!
        return s[first...last]
    }
}
