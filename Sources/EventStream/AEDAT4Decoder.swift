/// Streaming decoder of iniVation AEDAT 4.0 files (DV, dv-processing).
///
/// Layout: the line `#!AER-DAT4.0\r\n`, an int32 little-endian size and that many bytes of `IOHeader`
/// FlatBuffer (file identifier `IOHE`: packet compression, position of the trailing `FileDataTable`, and
/// an XML `infoNode` naming each stream's type and, for event streams, `sizeX`/`sizeY`). Then packets:
/// int32 stream id, int32 size, and `size` bytes of (LZ4- or zstd-compressed) size-prefixed FlatBuffer.
/// An `EVTS` packet holds a vector of 16-byte events {int64 t µs, int16 x, int16 y, bool polarity}.
///
/// Packets of streams the header declares as something else than `EVTS` (frames, IMU, triggers, ...)
/// are skipped without being decompressed and counted in ``DecoderCounters/skippedPackets``; so are
/// packets of undeclared streams. When the header declares no stream at all, every packet is
/// decompressed and decoded if its FlatBuffer identifier is `EVTS`. Decoding stops at the file data
/// table: the bytes from `dataTablePosition` on are consumed and ignored.
///
/// Bad input:
/// - a first line other than `#!AER-DAT4.0`, an IOHeader that is not a valid `IOHE` FlatBuffer, an
///   unknown compression, a data table position inside the header, or a nonsensical `sizeX`/`sizeY`:
///   ``EventDecodingError/Code/badHeader``;
/// - an IOHeader size that is not positive or above ``maxHeaderSize``, a packet size that is negative,
///   above the packet cap, or runs past the data table, or a payload that decompresses to more than the
///   decompression cap: ``EventDecodingError/Code/badSize`` at the packet header's offset;
/// - a payload that does not decompress, or a FlatBuffer whose offsets point outside it:
///   ``EventDecodingError/Code/badPacket`` at the packet header's offset;
/// - the stream ending inside the header or a packet, or before the declared data table:
///   ``EventDecodingError/Code/truncated`` from ``finish(into:)``, at the partial packet's offset (in a
///   file without a data table, a packet size running past the end can only show up this way).
/// Errors are final: after one, every call rethrows it. Events outside the geometry (and negative
/// coordinates, even without a geometry) are dropped and counted in ``DecoderCounters/outOfBounds``.
///
/// ``offset`` does not count bytes held back to complete a header, packet header or event packet.
public struct AEDAT4Decoder: EventDecoder {
    /// One stream declared by the file header.
    public struct Stream: Sendable, Hashable {
        public var id: Int32
        /// The FlatBuffer type of its packets: `EVTS` events, `FRME` frames, `IMUS` IMU, `TRIG` triggers, ...
        public var typeIdentifier: String
        /// The sensor size, for event and frame streams.
        public var geometry: SensorGeometry?
        /// Whether its packets carry polarity events.
        public var carriesEvents: Bool { typeIdentifier == "EVTS" }
    }

    /// The first line of every AEDAT 4.0 file.
    public static let magic: [UInt8] = Array("#!AER-DAT4.0\r\n".utf8)
    /// Default cap on one packet's size in the file.
    public static let defaultMaxPacketSize = 64 << 20
    /// Default cap on what one packet may decompress to.
    public static let defaultMaxDecompressedSize = 64 << 20
    /// Largest IOHeader accepted.
    public static let maxHeaderSize = 16 << 20
    /// Bytes of one event in an `EVTS` packet.
    public static let eventSize = 16

    /// The explicit geometry given at init, else the first event stream's `sizeX`x`sizeY`; nil before
    /// the header has been read or when it declares none.
    public var geometry: SensorGeometry? { override ?? headerGeometry }
    public private(set) var counters = DecoderCounters()
    public private(set) var offset: Int64 = 0
    /// Packet compression, once the header has been read.
    public private(set) var compression: PacketCompression?
    /// Byte offset of the file data table, once the header has been read (nil if the file has none).
    public private(set) var dataTablePosition: Int64?
    /// Streams the header declares, by id.
    public private(set) var streams: [Int32: Stream] = [:]
    /// Largest packet accepted, in bytes as stored.
    public let maxPacketSize: Int
    /// Largest decompressed packet accepted, in bytes.
    public let maxDecompressedSize: Int

    private let override: SensorGeometry?
    private var headerGeometry: SensorGeometry?
    private var state: State = .magic
    private var carry: [UInt8] = []
    private var failure: EventDecodingError?
    private var lastT: Int64 = .min
    private let decompressor: PacketDecompressor

    private enum State {
        case magic
        case headerSize
        case header(size: Int)
        case packetHeader
        case payload(stream: Int32, size: Int, start: Int64)
        case skip(remaining: Int, start: Int64)
        case dataTable
    }

    /// A decoder; `geometry`, when given, overrides the header's. The caps bound what one packet may
    /// occupy in the file and once decompressed.
    public init(
        geometry: SensorGeometry? = nil,
        maxPacketSize: Int = AEDAT4Decoder.defaultMaxPacketSize,
        maxDecompressedSize: Int = AEDAT4Decoder.defaultMaxDecompressedSize
    ) {
        override = geometry
        self.maxPacketSize = max(0, maxPacketSize)
        self.maxDecompressedSize = max(0, maxDecompressedSize)
        decompressor = PacketDecompressor(maxOutput: self.maxDecompressedSize)
    }

    public mutating func decode(_ chunk: UnsafeRawBufferPointer, into events: inout EventBuffer) throws {
        if let failure { throw failure }
        do {
            try consume(chunk, into: &events)
        } catch let error as EventDecodingError {
            failure = error
            throw error
        }
    }

    public mutating func finish(into events: inout EventBuffer) throws {
        if let failure { throw failure }
        let error: EventDecodingError?
        switch state {
        case .magic:
            error = EventDecodingError(
                .truncated, offset: 0,
                carry.isEmpty ? "empty stream: no AEDAT 4.0 header" : "stream ends inside the AEDAT 4.0 first line")
        case .headerSize, .header:
            error = EventDecodingError(.truncated, offset: offset, "stream ends inside the IOHeader")
        case .packetHeader:
            if !carry.isEmpty {
                error = EventDecodingError(
                    .truncated, offset: offset, "stream ends inside a packet header (\(carry.count) of 8 bytes)")
            } else if let table = dataTablePosition, offset < table {
                error = EventDecodingError(
                    .truncated, offset: offset, "stream ends before the file data table declared at byte \(table)")
            } else {
                error = nil
            }
        case .payload(let stream, let size, let start):
            error = EventDecodingError(
                .truncated, offset: start,
                "stream ends inside a packet of stream \(stream) (\(carry.count) of \(size) bytes)")
        case .skip(let remaining, let start):
            error = EventDecodingError(
                .truncated, offset: start, "stream ends inside a skipped packet (\(remaining) bytes missing)")
        case .dataTable:
            error = nil
        }
        if let error {
            failure = error
            throw error
        }
    }

    // MARK: - Stream walking

    private mutating func consume(_ chunk: UnsafeRawBufferPointer, into events: inout EventBuffer) throws {
        var rest = chunk
        while !rest.isEmpty {
            switch state {
            case .magic:
                let have = carry.count
                let take = min(Self.magic.count - have, rest.count)
                for i in 0..<take where rest[i] != Self.magic[have + i] {
                    throw EventDecodingError(.badHeader, offset: 0, "not an AEDAT 4.0 file (no #!AER-DAT4.0 line)")
                }
                if have + take == Self.magic.count {
                    carry.removeAll(keepingCapacity: true)
                    offset = Int64(Self.magic.count)
                    state = .headerSize
                } else {
                    carry.append(contentsOf: UnsafeRawBufferPointer(rebasing: rest[..<take]))
                }
                rest = UnsafeRawBufferPointer(rebasing: rest[take...])
            case .headerSize:
                _ = try withUnit(4, &rest) { d, b in try d.readHeaderSize(b) }
            case .header(let size):
                _ = try withUnit(size, &rest) { d, b in try d.readHeader(b) }
            case .packetHeader:
                if let table = dataTablePosition {
                    if offset == table {
                        state = .dataTable
                        continue
                    }
                    if offset > table - 8 {
                        throw EventDecodingError(
                            .badSize, offset: offset,
                            "packet header at byte \(offset) overlaps the file data table at byte \(table)")
                    }
                }
                _ = try withUnit(8, &rest) { d, b in try d.readPacketHeader(b, into: &events) }
            case .payload(let stream, let size, let start):
                _ = try withUnit(size, &rest) { d, b in
                    try d.decodePacket(b, stream: stream, start: start, into: &events)
                    d.offset += Int64(size)
                    d.state = .packetHeader
                }
            case .skip(let remaining, let start):
                let n = min(remaining, rest.count)
                rest = UnsafeRawBufferPointer(rebasing: rest[n...])
                offset += Int64(n)
                if n == remaining {
                    counters.skippedPackets += 1
                    state = .packetHeader
                } else {
                    state = .skip(remaining: remaining - n, start: start)
                }
            case .dataTable:
                offset += Int64(rest.count)
                rest = UnsafeRawBufferPointer(rebasing: rest[rest.count...])
            }
        }
    }

    /// Hands `handle` the next `count` bytes of the stream once they are all there: straight from the
    /// chunk when it holds them, else gathered across chunks in `carry`. Returns whether it did.
    private mutating func withUnit(
        _ count: Int, _ rest: inout UnsafeRawBufferPointer,
        _ handle: (inout AEDAT4Decoder, UnsafeRawBufferPointer) throws -> Void
    ) throws -> Bool {
        if carry.isEmpty && rest.count >= count {
            let unit = UnsafeRawBufferPointer(rebasing: rest[..<count])
            rest = UnsafeRawBufferPointer(rebasing: rest[count...])
            try handle(&self, unit)
            return true
        }
        let take = min(count - carry.count, rest.count)
        carry.append(contentsOf: UnsafeRawBufferPointer(rebasing: rest[..<take]))
        rest = UnsafeRawBufferPointer(rebasing: rest[take...])
        guard carry.count == count else { return false }
        var unit = carry
        carry = []
        defer {
            unit.removeAll(keepingCapacity: true)
            carry = unit
        }
        try unit.withUnsafeBytes { try handle(&self, $0) }
        return true
    }

    // MARK: - Header

    private mutating func readHeaderSize(_ b: UnsafeRawBufferPointer) throws {
        let size = Int32(littleEndian: b.loadUnaligned(as: Int32.self))
        guard size > 0, Int(size) <= Self.maxHeaderSize else {
            throw EventDecodingError(
                .badSize, offset: offset, "IOHeader size \(size) is not in 1...\(Self.maxHeaderSize)")
        }
        offset += 4
        state = .header(size: Int(size))
    }

    private mutating func readHeader(_ b: UnsafeRawBufferPointer) throws {
        let start = offset
        let end = start + Int64(b.count)
        func bad(_ message: String) -> EventDecodingError {
            EventDecodingError(.badHeader, offset: start, "IOHeader: " + message)
        }
        do {
            let table = try FlatBufferTable(root: b)
            guard FlatBufferTable.identifier(of: b) == Array("IOHE".utf8) else {
                throw bad("file identifier is not IOHE")
            }
            let rawCompression: Int32 = try table.scalar(0, default: 0)
            guard let compression = PacketCompression(rawValue: rawCompression) else {
                throw bad("unknown compression \(rawCompression)")
            }
            let table64: Int64 = try table.scalar(1, default: -1)
            if table64 != -1 && table64 < end {
                throw bad("data table position \(table64) lies before the end of the header (\(end))")
            }
            let info = try table.string(2).map { Array($0) } ?? []
            let declared = try Self.parseInfoNode(info, offset: start)
            self.compression = compression
            dataTablePosition = table64 == -1 ? nil : table64
            streams = declared
            headerGeometry = declared.values.filter(\.carriesEvents).min { $0.id < $1.id }?.geometry
        } catch let failure as FlatBufferTable.Failure {
            throw bad(failure.description)
        }
        offset = end
        state = .packetHeader
    }

    /// Reads the streams out of the header's XML: `<node name="ID">` elements (under `outInfo`) with an
    /// `<attr key="typeIdentifier">` and, in their `info` node, `sizeX` and `sizeY`.
    static func parseInfoNode(_ xml: [UInt8], offset: Int64) throws -> [Int32: Stream] {
        var types: [Int32: String] = [:]
        var widths: [Int32: String] = [:]
        var heights: [Int32: String] = [:]
        // Node names from the root, kept to a bounded depth (deeper nodes are only counted), and the level
        // of the first numeric name: the stream id.
        let maxDepth = 16
        var stack: [String] = []
        var depth = 0
        var streamLevel: Int?
        let n = xml.count
        var i = 0
        while i < n {
            guard xml[i] == UInt8(ascii: "<") else {
                i += 1
                continue
            }
            guard let close = xml[(i + 1)...].firstIndex(of: UInt8(ascii: ">")) else { break }
            let tag = xml[(i + 1)..<close]
            i = close + 1
            guard let first = tag.first else { continue }
            if first == UInt8(ascii: "/") {
                if tag.dropFirst().starts(with: "node".utf8), depth > 0 {
                    depth -= 1
                    if stack.count > depth { stack.removeLast() }
                    if let level = streamLevel, level >= stack.count { streamLevel = nil }
                }
                continue
            }
            let selfClosing = tag.last == UInt8(ascii: "/")
            let element = tag.prefix { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") && $0 != UInt8(ascii: "\n")
                && $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "/") }
            if element.elementsEqual("node".utf8) {
                if !selfClosing {
                    depth += 1
                    if depth <= maxDepth {
                        let name = attribute("name", in: tag) ?? ""
                        if streamLevel == nil && Int32(name) != nil { streamLevel = stack.count }
                        stack.append(name)
                    }
                }
            } else if element.elementsEqual("attr".utf8), !selfClosing, let key = attribute("key", in: tag) {
                var j = i
                while j < n && xml[j] != UInt8(ascii: "<") { j += 1 }
                let value = String(decoding: xml[i..<j], as: UTF8.self)
                i = j
                guard depth == stack.count, let k = streamLevel, let id = Int32(stack[k]) else { continue }
                let sub = stack[(k + 1)...]
                if sub.isEmpty && key == "typeIdentifier" {
                    types[id] = value.trimmingASCIISpaces
                } else if sub.isEmpty || sub.elementsEqual(["info"]) {
                    if key == "sizeX" { widths[id] = value }
                    if key == "sizeY" { heights[id] = value }
                }
            }
        }
        var streams: [Int32: Stream] = [:]
        for (id, type) in types {
            var geometry: SensorGeometry?
            if let w = widths[id], let h = heights[id] {
                guard let width = Int(w.trimmingASCIISpaces), let height = Int(h.trimmingASCIISpaces),
                      (1...65536).contains(width), (1...65536).contains(height)
                else {
                    throw EventDecodingError(
                        .badHeader, offset: offset, "stream \(id) declares a bad size \(w)x\(h)")
                }
                geometry = SensorGeometry(width: width, height: height)
            }
            streams[id] = Stream(id: id, typeIdentifier: type, geometry: geometry)
        }
        return streams
    }

    /// The value of `name="value"` in a tag's text.
    private static func attribute(_ name: String, in tag: ArraySlice<UInt8>) -> String? {
        let pattern = Array(name.utf8) + [UInt8(ascii: "=")]
        var i = tag.startIndex
        while i + pattern.count < tag.endIndex {
            let atWordStart = i == tag.startIndex || tag[i - 1] == UInt8(ascii: " ") || tag[i - 1] == UInt8(ascii: "\t")
                || tag[i - 1] == UInt8(ascii: "\n") || tag[i - 1] == UInt8(ascii: "\r")
            if atWordStart && tag[i..<(i + pattern.count)].elementsEqual(pattern) {
                let quote = tag[i + pattern.count]
                guard quote == UInt8(ascii: "\"") || quote == UInt8(ascii: "'") else { return nil }
                let valueStart = i + pattern.count + 1
                guard let valueEnd = tag[valueStart...].firstIndex(of: quote) else { return nil }
                return String(decoding: tag[valueStart..<valueEnd], as: UTF8.self)
            }
            i += 1
        }
        return nil
    }

    // MARK: - Packets

    private mutating func readPacketHeader(_ b: UnsafeRawBufferPointer, into events: inout EventBuffer) throws {
        let start = offset
        let stream = Int32(littleEndian: b.loadUnaligned(as: Int32.self))
        let size = Int32(littleEndian: b.loadUnaligned(fromByteOffset: 4, as: Int32.self))
        guard size >= 0 else {
            throw EventDecodingError(.badSize, offset: start, "packet of stream \(stream) declares a negative size \(size)")
        }
        guard Int(size) <= maxPacketSize else {
            throw EventDecodingError(
                .badSize, offset: start,
                "packet of stream \(stream) declares \(size) bytes, more than the \(maxPacketSize)-byte cap")
        }
        if let table = dataTablePosition, start + 8 + Int64(size) > table {
            throw EventDecodingError(
                .badSize, offset: start,
                "packet of stream \(stream) declares \(size) bytes, running past the file data table at byte \(table)")
        }
        offset += 8
        let wanted = streams.isEmpty || streams[stream]?.carriesEvents == true
        if !wanted {
            if size == 0 {
                counters.skippedPackets += 1
                state = .packetHeader
            } else {
                state = .skip(remaining: Int(size), start: start)
            }
        } else if size == 0 {
            try decodePacket(UnsafeRawBufferPointer(start: nil, count: 0), stream: stream, start: start, into: &events)
            state = .packetHeader
        } else {
            state = .payload(stream: stream, size: Int(size), start: start)
        }
    }

    private mutating func decodePacket(
        _ payload: UnsafeRawBufferPointer, stream: Int32, start: Int64, into events: inout EventBuffer
    ) throws {
        let decompressor = self.decompressor
        do {
            try decompressor.decompress(payload, compression ?? .uncompressed) { bytes in
                try decodeEventTable(bytes, stream: stream, start: start, into: &events)
            }
        } catch let failure as PacketDecompressor.Failure {
            switch failure {
            case .corrupt(let message):
                throw EventDecodingError(.badPacket, offset: start, "packet of stream \(stream): \(message)")
            case .tooLarge(let limit):
                throw EventDecodingError(
                    .badSize, offset: start, "packet of stream \(stream) decompresses to more than \(limit) bytes")
            }
        }
    }

    private static let eventsIdentifier = Array("EVTS".utf8)

    private mutating func decodeEventTable(
        _ bytes: UnsafeRawBufferPointer, stream: Int32, start: Int64, into events: inout EventBuffer
    ) throws {
        var fb = bytes
        // dv writes size-prefixed FlatBuffers: a uint32 length of the rest, then the buffer.
        if fb.count >= 8 {
            let prefix = Int(FlatBufferTable.u32(fb, 0))
            let prefixedIdentifier = fb.count >= 12 && fb[8..<12].elementsEqual(Self.eventsIdentifier)
            if prefix == fb.count - 4 || prefixedIdentifier { fb = UnsafeRawBufferPointer(rebasing: fb[4...]) }
        }
        let elements: (bytes: UnsafeRawBufferPointer, count: Int)?
        do {
            let table = try FlatBufferTable(root: fb)
            if streams[stream] == nil && FlatBufferTable.identifier(of: fb) != Self.eventsIdentifier {
                counters.skippedPackets += 1  // undeclared stream, not an event packet
                return
            }
            elements = try table.structVector(0, elementSize: Self.eventSize)
        } catch let failure as FlatBufferTable.Failure {
            throw EventDecodingError(.badPacket, offset: start, "packet of stream \(stream): \(failure)")
        }
        guard let elements, elements.count > 0 else { return }
        let bounds = override ?? streams[stream]?.geometry ?? headerGeometry
        appendEvents(elements.bytes, count: elements.count, bounds: bounds, into: &events)
    }

    /// The hot loop: 16-byte {int64 t, int16 x, int16 y, bool p} records to the buffer's columns.
    private mutating func appendEvents(
        _ bytes: UnsafeRawBufferPointer, count n: Int, bounds: SensorGeometry?, into events: inout EventBuffer
    ) {
        guard let base = bytes.baseAddress else { return }
        // Coordinates are compared as unsigned 16-bit values: negative ones land at 32768 and above.
        let width = min(bounds?.width ?? 32768, 32768)
        let height = min(bounds?.height ?? 32768, 32768)
        var last = lastT
        var regressions = 0, outside = 0
        events.withWriter(reservingCapacity: n) { w in
            for i in 0..<n {
                let r = base + i &* 16
                let t = Int64(littleEndian: r.loadUnaligned(as: Int64.self))
                let x = UInt16(littleEndian: r.loadUnaligned(fromByteOffset: 8, as: UInt16.self))
                let y = UInt16(littleEndian: r.loadUnaligned(fromByteOffset: 10, as: UInt16.self))
                let p = r.load(fromByteOffset: 12, as: UInt8.self)
                if Int(x) >= width || Int(y) >= height {
                    outside &+= 1
                    continue
                }
                if t < last { regressions &+= 1 }
                last = t
                w.append(t: t, x: x, y: y, polarity: p == 0 ? 0 : 1)
            }
        }
        lastT = last
        counters.outOfBounds += outside
        counters.timestampRegressions += regressions
    }
}

extension String {
    /// The string without leading and trailing ASCII spaces, tabs and line breaks.
    fileprivate var trimmingASCIISpaces: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }
        return String(drop(while: isSpace).reversed().drop(while: isSpace).reversed())
    }
}
