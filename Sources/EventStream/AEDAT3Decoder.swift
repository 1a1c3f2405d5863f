/// Streaming decoder of iniVation AEDAT 3.1 files (cAER, libcaer), polarity events.
///
/// Layout: text header lines starting with `#` (`#!AER-DAT3.1`, `#Format: RAW`, `#Source 1: DVS128`, ...,
/// `#!END-HEADER`), then packets, each a 28-byte little-endian header (int16 eventType, int16
/// eventSource, int32 eventSize, eventTSOffset, eventTSOverflow, eventCapacity, eventNumber, eventValid)
/// followed by eventNumber × eventSize bytes of events. A polarity event (type 1, 8 bytes) is a uint32
/// (bit 0 valid, bit 1 polarity, bits 2-16 y, bits 17-31 x) and an int32 31-bit timestamp; the full time
/// is (eventTSOverflow << 31) | timestamp, in microseconds.
///
/// Geometry comes from the `#Source` line's sensor name (DVS128 and DAVIS128 128x128, DAVIS208 208x192,
/// DAVIS240* 240x180, DAVIS346* 346x260, DAVIS640 640x480, DVXplorer Lite 320x240, DVXplorer 640x480);
/// an explicit geometry overrides it.
///
/// Skip policies: events with the valid bit clear are dropped (``DecoderCounters/invalidEvents``);
/// packets of other types, and compressed packets (eventType high bit, size in eventCapacity), are skipped
/// (``DecoderCounters/skippedPackets``); increases of eventTSOverflow between polarity packets count as
/// ``DecoderCounters/timeWraps``.
///
/// Bad input:
/// - a first line other than `#!AER-DAT3.x`, a header line not starting with `#`, a `#Format` other than
///   RAW, or a header longer than ``maxHeaderSize``: ``EventDecodingError/Code/badHeader``;
/// - a packet whose eventSize or eventNumber is negative, whose payload (eventNumber × eventSize) is above
///   the packet cap, or that has events of size 0: ``EventDecodingError/Code/badSize`` at the packet
///   header's offset;
/// - a polarity packet whose eventSize is not 8 or eventTSOffset not 4, or with a negative
///   eventTSOverflow: ``EventDecodingError/Code/badPacket`` at the packet header's offset;
/// - the stream ending inside the header, a packet header or a packet's events:
///   ``EventDecodingError/Code/truncated`` from ``finish(into:)`` at the partial line or packet's offset.
/// Errors are final: after one, every call rethrows it.
///
/// Events of a packet are decoded as its bytes arrive (nothing bigger than one event is buffered), so
/// ``offset`` counts every byte consumed except a partial header line, packet header or event.
public struct AEDAT3Decoder: EventDecoder {
    /// Default cap on one packet's payload, in bytes.
    public static let defaultMaxPacketSize = 64 << 20
    /// Largest text header accepted.
    public static let maxHeaderSize = 1 << 20
    /// Bytes of a packet header.
    public static let packetHeaderSize = 28
    /// The eventType of polarity packets.
    public static let polarityEventType: Int16 = 1

    /// The explicit geometry given at init, else the one of the first `#Source` naming a known sensor.
    public var geometry: SensorGeometry? { override ?? headerGeometry }
    public private(set) var counters = DecoderCounters()
    public private(set) var offset: Int64 = 0
    /// The version from the first line (`3.1`), once read.
    public private(set) var version: String?
    /// Sensor names from the `#Source N: NAME` lines, by source id.
    public private(set) var sources: [Int16: String] = [:]
    /// Largest packet payload accepted, in bytes.
    public let maxPacketSize: Int

    private let override: SensorGeometry?
    private var headerGeometry: SensorGeometry?
    private var sourceGeometry: [Int16: SensorGeometry] = [:]
    private var state: State = .header
    private var carry: [UInt8] = []
    private var failure: EventDecodingError?
    private var lastT: Int64 = .min
    private var lastOverflow: Int64?

    /// What the current polarity packet needs to decode its events.
    private struct PolarityPacket {
        var remaining: Int
        var timeBase: Int64
        var width: Int
        var height: Int
        var start: Int64
    }

    private enum State {
        case header
        case packetHeader
        case polarity(PolarityPacket)
        case skip(remaining: Int, start: Int64)
    }

    private static let versionPrefix = Array("#!AER-DAT3.".utf8)

    /// A decoder; `geometry`, when given, overrides the header's. `maxPacketSize` caps one packet's payload.
    public init(geometry: SensorGeometry? = nil, maxPacketSize: Int = AEDAT3Decoder.defaultMaxPacketSize) {
        override = geometry
        self.maxPacketSize = max(0, maxPacketSize)
    }

    /// The sensor size for a `#Source` name, when it is a known iniVation sensor.
    public static func geometry(forSensor name: String) -> SensorGeometry? {
        let n = name.uppercased().filter { $0 != " " && $0 != "_" && $0 != "-" }
        let known: [(String, Int, Int)] = [
            ("DVS128", 128, 128), ("DAVIS128", 128, 128), ("DAVIS208", 208, 192), ("DAVIS240", 240, 180),
            ("DAVIS346", 346, 260), ("DAVIS640", 640, 480), ("DVXPLORERLITE", 320, 240), ("DVXPLORER", 640, 480),
        ]
        for (prefix, w, h) in known where n.hasPrefix(prefix) { return SensorGeometry(width: w, height: h) }
        return nil
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
        case .header:
            error = EventDecodingError(
                .truncated, offset: offset,
                offset == 0 && carry.isEmpty ? "empty stream: no AEDAT 3.1 header" : "stream ends inside the text header")
        case .packetHeader:
            error = carry.isEmpty ? nil : EventDecodingError(
                .truncated, offset: offset,
                "stream ends inside a packet header (\(carry.count) of \(Self.packetHeaderSize) bytes)")
        case .polarity(let packet):
            error = EventDecodingError(
                .truncated, offset: packet.start,
                "stream ends inside a polarity packet (\(packet.remaining) events missing)")
        case .skip(let remaining, let start):
            error = EventDecodingError(
                .truncated, offset: start, "stream ends inside a skipped packet (\(remaining) bytes missing)")
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
            case .header:
                try consumeHeader(&rest)
            case .packetHeader:
                if carry.isEmpty && rest.count >= Self.packetHeaderSize {
                    try readPacketHeader(UnsafeRawBufferPointer(rebasing: rest[..<Self.packetHeaderSize]))
                    rest = UnsafeRawBufferPointer(rebasing: rest[Self.packetHeaderSize...])
                } else {
                    let take = min(Self.packetHeaderSize - carry.count, rest.count)
                    carry.append(contentsOf: UnsafeRawBufferPointer(rebasing: rest[..<take]))
                    rest = UnsafeRawBufferPointer(rebasing: rest[take...])
                    if carry.count == Self.packetHeaderSize {
                        let header = carry
                        carry.removeAll(keepingCapacity: true)
                        try header.withUnsafeBytes { try readPacketHeader($0) }
                    }
                }
            case .polarity(var packet):
                if !carry.isEmpty {
                    let take = min(8 - carry.count, rest.count)
                    carry.append(contentsOf: UnsafeRawBufferPointer(rebasing: rest[..<take]))
                    rest = UnsafeRawBufferPointer(rebasing: rest[take...])
                    guard carry.count == 8 else { continue }
                    let record = carry
                    carry.removeAll(keepingCapacity: true)
                    record.withUnsafeBytes { decodePolarity($0, count: 1, packet, into: &events) }
                    offset += 8
                    packet.remaining -= 1
                }
                let whole = min(rest.count / 8, packet.remaining)
                decodePolarity(UnsafeRawBufferPointer(rebasing: rest[..<(whole * 8)]), count: whole, packet, into: &events)
                rest = UnsafeRawBufferPointer(rebasing: rest[(whole * 8)...])
                offset += Int64(whole * 8)
                packet.remaining -= whole
                if packet.remaining == 0 {
                    state = .packetHeader
                } else {
                    // Less than one event left in the chunk: keep it for the next one.
                    carry.append(contentsOf: rest)
                    rest = UnsafeRawBufferPointer(rebasing: rest[rest.count...])
                    state = .polarity(packet)
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
            }
        }
    }

    // MARK: - Header

    /// Takes header bytes up to the end of the next line (or all of `rest` when it holds no line end).
    private mutating func consumeHeader(_ rest: inout UnsafeRawBufferPointer) throws {
        // Look no further than the header cap allows, so a stream without line ends is not buffered whole.
        let budget = max(0, Self.maxHeaderSize + 1 - Int(offset) - carry.count)
        let window = UnsafeRawBufferPointer(rebasing: rest[..<min(rest.count, budget)])
        let newline = window.firstIndex(of: UInt8(ascii: "\n"))
        let take = newline.map { $0 + 1 } ?? window.count
        carry.append(contentsOf: UnsafeRawBufferPointer(rebasing: rest[..<take]))
        rest = UnsafeRawBufferPointer(rebasing: rest[take...])
        if offset == 0 {  // fail early on a file that is not AEDAT 3
            let n = min(carry.count, Self.versionPrefix.count)
            guard carry[..<n].elementsEqual(Self.versionPrefix[..<n]) else {
                throw EventDecodingError(.badHeader, offset: 0, "not an AEDAT 3.x file (no #!AER-DAT3.x line)")
            }
        }
        guard offset + Int64(carry.count) <= Int64(Self.maxHeaderSize) else {
            throw EventDecodingError(
                .badHeader, offset: offset, "text header longer than \(Self.maxHeaderSize) bytes or missing #!END-HEADER")
        }
        guard newline != nil else { return }
        let line = carry
        carry.removeAll(keepingCapacity: true)
        try readHeaderLine(line)
        offset += Int64(line.count)
    }

    private mutating func readHeaderLine(_ raw: [UInt8]) throws {
        var bytes = raw[...]
        while let last = bytes.last, last == UInt8(ascii: "\n") || last == UInt8(ascii: "\r") { bytes.removeLast() }
        let line = String(decoding: bytes, as: UTF8.self)
        if offset == 0 {
            version = String(line.dropFirst("#!AER-DAT".count))
            return
        }
        guard bytes.first == UInt8(ascii: "#") else {
            throw EventDecodingError(.badHeader, offset: offset, "header line does not start with '#' before #!END-HEADER")
        }
        if line == "#!END-HEADER" {
            state = .packetHeader
        } else if line.hasPrefix("#Format:") {
            let format = line.dropFirst("#Format:".count).trimmed(of: " \t")
            guard format.uppercased() == "RAW" else {
                throw EventDecodingError(.badHeader, offset: offset, "unsupported #Format: \(format) (only RAW)")
            }
        } else if line.hasPrefix("#Source ") {
            let body = line.dropFirst("#Source ".count)
            guard let colon = body.firstIndex(of: ":"),
                  let id = Int16(body[..<colon].trimmed(of: " \t"))
            else { return }
            let name = body[body.index(after: colon)...].trimmed(of: " \t")
            sources[id] = name
            if let g = Self.geometry(forSensor: name) {
                sourceGeometry[id] = g
                if headerGeometry == nil { headerGeometry = g }
            }
        }
    }

    // MARK: - Packets

    private mutating func readPacketHeader(_ b: UnsafeRawBufferPointer) throws {
        let start = offset
        let type = Int16(littleEndian: b.loadUnaligned(as: Int16.self))
        let source = Int16(littleEndian: b.loadUnaligned(fromByteOffset: 2, as: Int16.self))
        func field(_ at: Int) -> Int32 { Int32(littleEndian: b.loadUnaligned(fromByteOffset: at, as: Int32.self)) }
        let eventSize = field(4), tsOffset = field(8), tsOverflow = field(12), capacity = field(16)
        let number = field(20)
        let compressed = UInt16(bitPattern: type) & 0x8000 != 0
        let payload: Int64
        if compressed {
            guard capacity >= 0 else {
                throw EventDecodingError(.badSize, offset: start, "compressed packet declares a negative size \(capacity)")
            }
            payload = Int64(capacity)
        } else {
            guard eventSize >= 0, number >= 0 else {
                throw EventDecodingError(
                    .badSize, offset: start,
                    "packet of type \(type) declares eventSize \(eventSize) and eventNumber \(number)")
            }
            guard number == 0 || eventSize > 0 else {
                throw EventDecodingError(.badSize, offset: start, "packet of type \(type) has \(number) events of size 0")
            }
            payload = Int64(number) * Int64(eventSize)
        }
        guard payload <= Int64(maxPacketSize) else {
            throw EventDecodingError(
                .badSize, offset: start,
                "packet of type \(type) declares \(payload) bytes, more than the \(maxPacketSize)-byte cap")
        }
        offset += Int64(Self.packetHeaderSize)
        if !compressed && type == Self.polarityEventType {
            guard eventSize == 8, tsOffset == 4 else {
                throw EventDecodingError(
                    .badPacket, offset: start,
                    "polarity packet with eventSize \(eventSize) and eventTSOffset \(tsOffset) (expected 8 and 4)")
            }
            guard tsOverflow >= 0 else {
                throw EventDecodingError(.badPacket, offset: start, "polarity packet with eventTSOverflow \(tsOverflow)")
            }
            let overflow = Int64(tsOverflow)
            if let last = lastOverflow, overflow > last { counters.timeWraps += Int(overflow - last) }
            lastOverflow = overflow
            let bounds = override ?? sourceGeometry[source] ?? headerGeometry
            let packet = PolarityPacket(
                remaining: Int(number), timeBase: overflow << 31,
                width: min(bounds?.width ?? Int.max, 32768), height: min(bounds?.height ?? Int.max, 32768),
                start: start)
            state = number == 0 ? .packetHeader : .polarity(packet)
        } else if payload == 0 {
            counters.skippedPackets += 1
            state = .packetHeader
        } else {
            state = .skip(remaining: Int(payload), start: start)
        }
    }

    /// The hot loop: `n` 8-byte polarity events to the buffer's columns.
    private mutating func decodePolarity(
        _ bytes: UnsafeRawBufferPointer, count n: Int, _ packet: PolarityPacket, into events: inout EventBuffer
    ) {
        guard n > 0, let base = bytes.baseAddress else { return }
        let width = packet.width, height = packet.height, timeBase = packet.timeBase
        var last = lastT
        var regressions = 0, outside = 0, invalid = 0
        events.withWriter(reservingCapacity: n) { w in
            for i in 0..<n {
                let r = base + i &* 8
                let data = UInt32(littleEndian: r.loadUnaligned(as: UInt32.self))
                if data & 1 == 0 {
                    invalid &+= 1
                    continue
                }
                let x = Int(data >> 17)
                let y = Int((data >> 2) & 0x7FFF)
                if x >= width || y >= height {
                    outside &+= 1
                    continue
                }
                let ts = UInt32(littleEndian: r.loadUnaligned(fromByteOffset: 4, as: UInt32.self)) & 0x7FFF_FFFF
                let t = timeBase | Int64(ts)
                if t < last { regressions &+= 1 }
                last = t
                w.append(t: t, x: UInt16(truncatingIfNeeded: x), y: UInt16(truncatingIfNeeded: y),
                         polarity: UInt8(truncatingIfNeeded: (data >> 1) & 1))
            }
        }
        lastT = last
        counters.invalidEvents += invalid
        counters.outOfBounds += outside
        counters.timestampRegressions += regressions
    }
}

extension StringProtocol {
    /// The text without leading and trailing characters of `set`.
    fileprivate func trimmed(of set: String) -> String {
        let inSet: (Character) -> Bool = { set.contains($0) }
        return String(drop(while: inSet).reversed().drop(while: inSet).reversed())
    }
}
