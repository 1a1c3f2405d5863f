import EventStream

/// The bad messages a soak injects (``SoakFault/malformedBurst``, ``SoakFault/evt3Cut``), each built so that
/// the service rejects it for exactly one documented reason (docs/protocol.md 4.5), and where the status
/// shows it: a tracked sensor's `malformed` map, or the top-level one (``topLevel``).
enum SoakInjection {
    /// The key of the top-level `malformed` map in ``Tally``.
    static let topLevel = ""

    /// Rejections expected: where (a sensor's name, or ``topLevel``) → reason → count.
    typealias Tally = [String: [String: Int]]

    /// A message from `topic`'s sensor whose header starts `BSEX` instead of `BSEV`: rejected while parsing
    /// (`magic`), so it is never numbered: it reuses `sequence`, the next valid message's number.
    static func badMagic(topic: [UInt8], sequence: UInt64, width: UInt16, height: UInt16) -> [[UInt8]] {
        var header = EventPacketHeader(encoding: .native, width: width, height: height, count: 0, sequence: sequence)
            .encoded()
        header[3] = UInt8(ascii: "X")
        return [topic, header, []]
    }

    /// Topic and header but no payload frame: `frame_count`, counted at the top level (the sensor is not read).
    static func missingFrame(topic: [UInt8], sequence: UInt64, width: UInt16, height: UInt16) -> [[UInt8]] {
        let header = EventPacketHeader(encoding: .native, width: width, height: height, count: 0, sequence: sequence)
        return [topic, header.encoded()]
    }

    /// A valid message from an invalid sensor name (a space in it): `sensor_name`, at the top level.
    static func badSensorName(width: UInt16, height: UInt16) -> [[UInt8]] {
        let header = EventPacketHeader(encoding: .native, width: width, height: height, count: 0, sequence: 0)
        return [Array("events/soak bad".utf8), header.encoded(), []]
    }

    /// One native event at column `width` (just off the sensor) at sensor time `time`, numbered `sequence`
    /// (the sensor's next number: the message is classified before it is decoded and rejected, `coordinates`).
    static func offSensor(
        topic: [UInt8], sequence: UInt64, width: UInt16, height: UInt16, time: Int64
    ) -> [[UInt8]] {
        let timeBase = time >= 0 && time <= NativeEventCodec.maximumOffset ? 0 : max(0, time)
        let offset = UInt32(clamping: max(0, time - timeBase))
        let header = EventPacketHeader(
            encoding: .native, width: width, height: height, count: 1, sequence: sequence, timeBase: timeBase)
        var payload: [UInt8] = []
        withUnsafeBytes(of: offset.littleEndian) { payload += $0 }
        withUnsafeBytes(of: width.littleEndian) { payload += $0 }
        withUnsafeBytes(of: UInt16(0x8000).littleEndian) { payload += $0 }
        return [topic, header.encoded(), payload]
    }

    /// A message with its last payload byte cut off: `count_mismatch` (rejected while parsing, not numbered).
    static func cutMidWord(_ frames: [[UInt8]]) -> [[UInt8]] {
        var cut = frames
        cut[2].removeLast()
        return cut
    }

    /// Width and height declared by a 32-byte header.
    static func geometry(ofHeader header: [UInt8]) -> (width: UInt16, height: UInt16) {
        header.withUnsafeBytes { raw in
            (UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt16.self)),
             UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 10, as: UInt16.self)))
        }
    }

    /// A recording as EVT 3.0 messages of `sensor` (a segment, at most 256 words a message) numbered from
    /// `sequence`; nil when its events cannot be encoded as EVT 3.0 (times going backwards).
    static func evt3Messages(
        _ recording: ReplayRecording, sensor: SensorName, sequence: UInt64
    ) -> RecordingMessages? {
        var replayer = RecordingReplayer(
            settings: .init(sensor: sensor, encoding: .evt3, segments: true, maximumEvents: 256, maximumSpan: nil),
            recordingCount: 1, firstSequence: sequence)
        return try? replayer.messages(for: recording)
    }
}
