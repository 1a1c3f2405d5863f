import EventStream

/// The 32-byte header of an event message (frame 2), protocol version 1. All fields little-endian:
///
/// | bytes | field |
/// |---|---|
/// | 0-3 | magic `BSEV` |
/// | 4 | version, 1 |
/// | 5 | encoding (``EventEncoding``) |
/// | 6-7 | flags (``Flags``) |
/// | 8-9, 10-11 | sensor width, height (both > 0) |
/// | 12-15 | count of payload units (events for native, words for EVT 2.0 / 3.0) |
/// | 16-23 | sequence number, per sensor, +1 per message |
/// | 24-31 | time base in µs (below 2^62; native events count from it, EVT ignores it) |
public struct EventPacketHeader: Sendable, Hashable {
    /// The header flags (bytes 6-7).
    public struct Flags: OptionSet, Sendable, Hashable {
        public let rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }

        /// Bit 0: reset this sensor's stream state (decoder, network, open segment) before these events.
        public static let start = Flags(rawValue: 1 << 0)
        /// Bit 1: close the current segment after these events and publish its decision now.
        public static let end = Flags(rawValue: 1 << 1)
        /// Every bit protocol version 1 defines; the others must be 0.
        public static let defined: Flags = [.start, .end]
    }

    /// Size of the header in bytes.
    public static let byteCount = 32
    /// The first four bytes of every header: ASCII `BSEV`.
    public static let magic: [UInt8] = Array("BSEV".utf8)
    /// The protocol version this code speaks.
    public static let protocolVersion: UInt8 = 1
    /// Time bases must stay below this (2^62 µs, about 146,000 years), so that time base + offset never
    /// overflows a 64-bit signed timestamp.
    public static let timeBaseLimit: Int64 = 1 << 62

    /// How the payload encodes events.
    public var encoding: EventEncoding
    /// START / END.
    public var flags: Flags
    /// Sensor width in pixels (> 0 on the wire).
    public var width: UInt16
    /// Sensor height in pixels (> 0 on the wire).
    public var height: UInt16
    /// Payload units: events (native) or words (EVT 2.0 / 3.0).
    public var count: UInt32
    /// The sensor's message counter: +1 per message; a jump means lost messages, a decrease a restart.
    public var sequence: UInt64
    /// Microseconds that native event offsets count from (0 ..< 2^62). Ignored for EVT 2.0 / 3.0, whose
    /// words carry their own time.
    public var timeBase: Int64

    /// A header with the given fields (not validated: ``init(parsing:)-(UnsafeRawBufferPointer)`` checks
    /// what arrives).
    public init(
        encoding: EventEncoding, flags: Flags = [], width: UInt16, height: UInt16, count: UInt32,
        sequence: UInt64, timeBase: Int64 = 0
    ) {
        self.encoding = encoding
        self.flags = flags
        self.width = width
        self.height = height
        self.count = count
        self.sequence = sequence
        self.timeBase = timeBase
    }

    /// The sensor geometry the header declares.
    public var geometry: SensorGeometry { SensorGeometry(width: Int(width), height: Int(height)) }

    /// Bytes the payload must have: ``count`` times the encoding's unit size.
    public var payloadByteCount: Int { Int(count) * encoding.unitSize }

    /// The 32 header bytes.
    public func encoded() -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: Self.byteCount)
        bytes.withUnsafeMutableBytes { out in
            out.copyBytes(from: Self.magic)
            out[4] = Self.protocolVersion
            out[5] = encoding.rawValue
            out.storeBytes(of: flags.rawValue.littleEndian, toByteOffset: 6, as: UInt16.self)
            out.storeBytes(of: width.littleEndian, toByteOffset: 8, as: UInt16.self)
            out.storeBytes(of: height.littleEndian, toByteOffset: 10, as: UInt16.self)
            out.storeBytes(of: count.littleEndian, toByteOffset: 12, as: UInt32.self)
            out.storeBytes(of: sequence.littleEndian, toByteOffset: 16, as: UInt64.self)
            out.storeBytes(of: UInt64(bitPattern: timeBase).littleEndian, toByteOffset: 24, as: UInt64.self)
        }
        return bytes
    }

    /// Parses and validates a header, checking in this order: size (``WireRejection/Reason/headerSize``),
    /// magic, version, encoding, reserved flag bits, nonzero geometry, time base.
    public init(parsing bytes: UnsafeRawBufferPointer) throws(WireRejection) {
        guard bytes.count == Self.byteCount else {
            throw WireRejection(.headerSize, "the header frame has \(bytes.count) bytes, not \(Self.byteCount)")
        }
        guard bytes.prefix(4).elementsEqual(Self.magic) else {
            let seen = bytes.prefix(4).map { String($0, radix: 16) }.joined(separator: " ")
            throw WireRejection(.magic, "the header starts with bytes \(seen), not BSEV")
        }
        guard bytes[4] == Self.protocolVersion else {
            throw WireRejection(.version, "protocol version \(bytes[4]); this service speaks version 1")
        }
        guard let encoding = EventEncoding(rawValue: bytes[5]) else {
            throw WireRejection(.encoding, "encoding \(bytes[5]) is none of 1 (native), 2 (EVT 2.0), 3 (EVT 3.0)")
        }
        let flags = Flags(rawValue: UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 6, as: UInt16.self)))
        guard flags.isSubset(of: .defined) else {
            let reserved = flags.subtracting(.defined).rawValue
            throw WireRejection(.reservedFlags, "reserved flag bits 0x\(String(reserved, radix: 16)) are set")
        }
        let width = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt16.self))
        let height = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 10, as: UInt16.self))
        guard width > 0, height > 0 else {
            throw WireRejection(.geometry, "the header declares a \(width)x\(height) sensor")
        }
        let timeBase = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
        guard timeBase < UInt64(Self.timeBaseLimit) else {
            throw WireRejection(.timeBase, "time base \(timeBase) µs is not below 2^62")
        }
        self.init(
            encoding: encoding, flags: flags, width: width, height: height,
            count: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 12, as: UInt32.self)),
            sequence: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 16, as: UInt64.self)),
            timeBase: Int64(timeBase))
    }

    /// Parses and validates a header held in an array (see ``init(parsing:)-(UnsafeRawBufferPointer)``).
    public init(parsing bytes: [UInt8]) throws(WireRejection) {
        let parsed = bytes.withUnsafeBytes { raw in Result { () throws(WireRejection) in try Self(parsing: raw) } }
        self = try parsed.get()
    }
}
