import Foundation
import Testing
import EventStream
@testable import BiSNNService

/// Paths and helpers shared by the wire-protocol tests.
enum WireFixtures {
    /// The package root (three levels above this file).
    static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// A file of the shared recordings, `../shared/data/<relative>` beside the package.
    static func data(_ relative: String) -> String {
        packageRoot.deletingLastPathComponent().appendingPathComponent("shared/data/" + relative).path
    }

    /// The text of a file in the package's docs/ folder.
    static func doc(_ name: String) throws -> String {
        try String(contentsOf: packageRoot.appendingPathComponent("docs/" + name), encoding: .utf8)
    }

    /// The JSON object in docs/<name>.
    static func docJSON(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: packageRoot.appendingPathComponent("docs/" + name))
        return try #require(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    static let cam0 = SensorName("cam0")!

    /// A valid native header for a 34x34 sensor.
    static func header(
        _ encoding: EventEncoding = .native, flags: EventPacketHeader.Flags = [], width: UInt16 = 34,
        height: UInt16 = 34, count: UInt32 = 0, sequence: UInt64 = 0, timeBase: Int64 = 0
    ) -> EventPacketHeader {
        EventPacketHeader(
            encoding: encoding, flags: flags, width: width, height: height, count: count, sequence: sequence,
            timeBase: timeBase)
    }

    /// The frames of a native message holding `events` (timed from `timeBase`).
    static func nativeFrames(
        _ events: [Event], sensor: SensorName = cam0, flags: EventPacketHeader.Flags = [], width: UInt16 = 34,
        height: UInt16 = 34, sequence: UInt64 = 0, timeBase: Int64 = 0
    ) throws -> [[UInt8]] {
        let payload = try NativeEventCodec.encode(events, timeBase: timeBase)
        let h = header(
            .native, flags: flags, width: width, height: height, count: UInt32(events.count), sequence: sequence,
            timeBase: timeBase)
        return EventPacket.encode(sensor: sensor, header: h, payload: payload)
    }

    /// A packet parsed from frames that must be valid.
    static func packet(_ frames: [[UInt8]]) throws -> EventPacket {
        try EventPacket.parse(frames: frames)
    }

    /// The rejection `body` throws, or nil.
    static func rejection(_ body: () throws(WireRejection) -> Void) -> WireRejection? {
        do {
            try body()
            return nil
        } catch {
            return error
        }
    }

    /// The rejection of parsing `frames`, or nil.
    static func parseRejection(_ frames: [[UInt8]], maximumPayloadBytes: Int = EventPacket.defaultMaximumPayloadBytes)
        -> WireRejection?
    {
        rejection { () throws(WireRejection) in
            _ = try EventPacket.parse(frames: frames, maximumPayloadBytes: maximumPayloadBytes)
        }
    }
}

@Suite struct WireProtocolTests {
    typealias F = WireFixtures

    // MARK: header

    @Test func headerRoundTrip() throws {
        let header = EventPacketHeader(
            encoding: .evt3, flags: [.start, .end], width: 1280, height: 720, count: 0xdead_beef,
            sequence: 0x0102_0304_0506_0708, timeBase: (1 << 62) - 1)
        let bytes = header.encoded()
        #expect(bytes.count == EventPacketHeader.byteCount)
        #expect(Array(bytes[0..<4]) == Array("BSEV".utf8))
        #expect(try EventPacketHeader(parsing: bytes) == header)

        var rng = SplitMix64(state: 7)
        for _ in 0..<200 {
            let h = EventPacketHeader(
                encoding: EventEncoding.allCases.randomElement(using: &rng)!,
                flags: EventPacketHeader.Flags(rawValue: UInt16.random(in: 0...3, using: &rng)),
                width: .random(in: 1...UInt16.max, using: &rng), height: .random(in: 1...UInt16.max, using: &rng),
                count: .random(in: 0...UInt32.max, using: &rng), sequence: .random(in: 0...UInt64.max, using: &rng),
                timeBase: .random(in: 0..<EventPacketHeader.timeBaseLimit, using: &rng))
            #expect(try EventPacketHeader(parsing: h.encoded()) == h)
        }
    }

    /// The worked example of docs/protocol.md section 5, written out by hand.
    static let exampleTopic: [UInt8] = [0x65, 0x76, 0x65, 0x6e, 0x74, 0x73, 0x2f, 0x63, 0x61, 0x6d, 0x30]
    static let exampleHeader: [UInt8] = [
        0x42, 0x53, 0x45, 0x56, 0x01, 0x01, 0x03, 0x00, 0x22, 0x00, 0x22, 0x00, 0x02, 0x00, 0x00, 0x00,
        0x02, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x4b, 0x4c, 0x00, 0x00, 0x00, 0x00, 0x00,
    ]
    static let examplePayload: [UInt8] = [
        0x0a, 0x00, 0x00, 0x00, 0x03, 0x00, 0x04, 0x80, 0x2c, 0x01, 0x00, 0x00, 0x21, 0x00, 0x11, 0x00,
    ]

    @Test func workedExampleParsesToTheDocumentedFields() throws {
        let packet = try F.packet([Self.exampleTopic, Self.exampleHeader, Self.examplePayload])
        #expect(packet.sensor.rawValue == "cam0")
        let h = packet.header
        #expect(h.encoding == .native)
        #expect(h.flags == [.start, .end])
        #expect(h.width == 34 && h.height == 34)
        #expect(h.count == 2)
        #expect(h.sequence == 258)
        #expect(h.timeBase == 5_000_000)

        var decoder = SensorEventDecoder()
        var events = EventBuffer()
        let decoded = try decoder.decode(packet, into: &events)
        #expect(decoded.events == 2 && decoded.lateEvents == 0)
        #expect(events.events == [
            Event(t: 5_000_010, x: 3, y: 4, polarity: 1), Event(t: 5_000_300, x: 33, y: 17, polarity: 0),
        ])

        // The encoder writes the same bytes.
        let payload = try NativeEventCodec.encode(events.events, timeBase: 5_000_000)
        #expect(EventPacket.encode(sensor: F.cam0, header: h, payload: payload)
            == [Self.exampleTopic, Self.exampleHeader, Self.examplePayload])
    }

    @Test func workedExampleInTheDocumentIsTheSameBytes() throws {
        let text = try F.doc("protocol.md")
        let section = try #require(text.range(of: "## 5. Worked example"))
        let block = try #require(text[section.upperBound...].range(of: "```text\n"))
        let end = try #require(text[block.upperBound...].range(of: "```"))
        var frames: [[UInt8]] = []
        for line in text[block.upperBound..<end.lowerBound].split(separator: "\n") {
            var hex = Substring(line)
            if hex.hasPrefix("frame") {
                frames.append([])
                hex = hex[hex.index(after: try #require(hex.firstIndex(of: ")")))...]
            }
            let bytes = hex.split(separator: " ").map { UInt8($0, radix: 16)! }
            frames[frames.count - 1].append(contentsOf: bytes)
        }
        #expect(frames == [Self.exampleTopic, Self.exampleHeader, Self.examplePayload])
    }

    // MARK: names

    @Test func sensorNames() {
        #expect(SensorName("cam0") != nil)
        #expect(SensorName("A.b_c-9") != nil)
        #expect(SensorName(String(repeating: "x", count: 64)) != nil)
        for bad in ["", String(repeating: "x", count: 65), "cäm", "cam 0", "a/b", "cam\0", "é"] {
            #expect(SensorName(bad) == nil, "\(bad)")
        }
    }

    // MARK: rejections

    /// Each parse-stage reason, from crafted messages.
    @Test func parseRejections() throws {
        let payload2 = try NativeEventCodec.encode([Event(t: 1, x: 1, y: 1, polarity: 1), Event(t: 2, x: 2, y: 2, polarity: 0)], timeBase: 0)
        let good = EventPacket.encode(sensor: F.cam0, header: F.header(count: 2), payload: payload2)
        #expect(F.parseRejection(good) == nil)

        func patched(_ offset: Int, _ bytes: [UInt8]) -> [[UInt8]] {
            var frames = good
            frames[1].replaceSubrange(offset..<(offset + bytes.count), with: bytes)
            return frames
        }
        func withTopic(_ topic: String) -> [[UInt8]] { [Array(topic.utf8)] + good.dropFirst() }

        let cases: [(WireRejection.Reason, [[UInt8]])] = [
            (.frameCount, []),
            (.frameCount, Array(good.prefix(2))),
            (.frameCount, good + [[]]),
            (.topic, withTopic("evnts/cam0")),
            (.topic, withTopic("predictions/cam0")),
            (.topic, withTopic("")),
            (.topic, withTopic("events")),
            (.sensorName, withTopic("events/")),
            (.sensorName, withTopic("events/" + String(repeating: "a", count: 65))),
            (.sensorName, withTopic("events/cäm0")),
            (.sensorName, withTopic("events/cam 0")),
            (.sensorName, withTopic("events/cam/0")),
            (.headerSize, [good[0], Array(good[1].prefix(31)), good[2]]),
            (.headerSize, [good[0], good[1] + [0], good[2]]),
            (.headerSize, [good[0], [], good[2]]),
            (.magic, patched(0, Array("BSEW".utf8))),
            (.magic, patched(0, [0, 0, 0, 0])),
            (.version, patched(4, [0])),
            (.version, patched(4, [2])),
            (.encoding, patched(5, [0])),
            (.encoding, patched(5, [4])),
            (.encoding, patched(5, [255])),
            (.reservedFlags, patched(6, [0x04, 0x00])),
            (.reservedFlags, patched(6, [0x03, 0x80])),
            (.geometry, patched(8, [0, 0])),
            (.geometry, patched(10, [0, 0])),
            (.timeBase, patched(24, [0, 0, 0, 0, 0, 0, 0, 0x40])),
            (.timeBase, patched(24, [UInt8](repeating: 0xff, count: 8))),
            (.messageTooLarge, patched(12, [0xff, 0xff, 0xff, 0xff])),
            (.countMismatch, patched(12, [3, 0, 0, 0])),
            (.countMismatch, patched(12, [1, 0, 0, 0])),
            (.countMismatch, [good[0], good[1], Array(good[2].dropLast())]),
            (.countMismatch, [good[0], good[1], good[2] + [0]]),
            (.countMismatch, patched(5, [3])),  // 16 bytes are 8 EVT 3.0 words, not 2
        ]
        for (i, (reason, frames)) in cases.enumerated() {
            let rejection = F.parseRejection(frames)
            #expect(rejection?.reason == reason, "case \(i): \(rejection?.description ?? "accepted")")
            // Rejections after the topic name the sensor; earlier ones cannot.
            let named = ![WireRejection.Reason.frameCount, .topic, .sensorName].contains(reason)
            #expect((rejection?.sensor != nil) == named, "case \(i)")
        }
        // A payload over the limit, declared and actual alike.
        #expect(F.parseRejection(good, maximumPayloadBytes: 15)?.reason == .messageTooLarge)
        #expect(F.parseRejection(good, maximumPayloadBytes: 16) == nil)
        // 64 characters is still a name.
        #expect(F.parseRejection(withTopic("events/" + String(repeating: "a", count: 64))) == nil)
        // Every reason has a stable snake_case name.
        for reason in WireRejection.Reason.all {
            #expect(reason.name.allSatisfy { $0 == "_" || ($0.isASCII && $0.isLowercase) }, "\(reason)")
            #expect(WireRejection.Reason(name: reason.name) == reason)
        }
        #expect(Set(WireRejection.Reason.all.map(\.name)).count == WireRejection.Reason.all.count)
    }

    /// The reasons that depend on a sensor's stream, and that a rejected message changes nothing.
    @Test func streamRejections() throws {
        var decoder = SensorEventDecoder()
        var events = EventBuffer()
        let first = try F.packet(F.nativeFrames([Event(t: 100, x: 1, y: 1, polarity: 1)], sequence: 0, timeBase: 100))
        _ = try decoder.decode(first, into: &events)
        #expect(decoder.latestTimestamp == 100)

        func rejected(_ frames: [[UInt8]], _ reason: WireRejection.Reason, restart: Bool = false) throws {
            let packet = try F.packet(frames)
            let before = decoder
            let r = F.rejection { () throws(WireRejection) in
                _ = try decoder.decode(packet, restart: restart, into: &events)
            }
            #expect(r?.reason == reason, "\(r?.description ?? "accepted")")
            #expect(r?.sensor == F.cam0)
            #expect(events.count == 1)
            #expect(decoder.encoding == before.encoding && decoder.geometry == before.geometry)
            #expect(decoder.latestTimestamp == before.latestTimestamp)
        }
        let later = Event(t: 200, x: 2, y: 2, polarity: 0)
        // Geometry change without START.
        try rejected(F.nativeFrames([later], width: 35), .geometryChange)
        // Encoding change without START.
        let evt3 = EventPacket.encode(
            sensor: F.cam0, header: F.header(.evt3, count: 1), payload: [0x00, 0x80])  // TIME_HIGH 0
        try rejected(evt3, .encodingChange)
        // Coordinates outside the geometry: x, then y; and a START in a rejected message resets nothing.
        try rejected(F.nativeFrames([later, Event(t: 300, x: 34, y: 0, polarity: 1)]), .coordinates)
        try rejected(F.nativeFrames([Event(t: 300, x: 0, y: 34, polarity: 1)], flags: .start, timeBase: 1), .coordinates)
        // EVT 2.0: a CD event past the width.
        let evt2Words: [UInt32] = [0x8000_0001, 0x1000_0000 | 40 << 11 | 3]
        let evt2 = EventPacket.encode(
            sensor: F.cam0, header: F.header(.evt2, flags: .start, count: 2),
            payload: evt2Words.flatMap { withUnsafeBytes(of: $0.littleEndian, Array.init) })
        try rejected(evt2, .coordinates)

        // With START (or a restart) the same changes are accepted.
        _ = try decoder.decode(try F.packet(F.nativeFrames([later], flags: .start, width: 35)), into: &events)
        #expect(decoder.geometry == SensorGeometry(width: 35, height: 34))
        _ = try decoder.decode(try F.packet(evt3), restart: true, into: &events)
        #expect(decoder.encoding == .evt3)

        // A service configured for one geometry refuses others, START or not.
        var strict = SensorEventDecoder(expectedGeometry: SensorGeometry(width: 34, height: 34))
        let wide = try F.packet(F.nativeFrames([later], flags: .start, width: 128, height: 128))
        #expect(F.rejection { () throws(WireRejection) in _ = try strict.decode(wide, into: &events) }?.reason
            == .unexpectedGeometry)
        #expect(strict.encoding == nil)
    }

    @Test func intakeRejectionsAndCounters() throws {
        var intake = EventIntake(maximumSensors: 2)
        var events = EventBuffer()
        let e = Event(t: 10, x: 1, y: 1, polarity: 1)
        func accept(_ frames: [[UInt8]]) -> WireRejection? {
            F.rejection { () throws(WireRejection) in _ = try intake.accept(frames: frames, into: &events) }
        }
        let cam1 = SensorName("cam1")!, cam2 = SensorName("cam2")!
        #expect(accept(try F.nativeFrames([e], sequence: 5)) == nil)
        #expect(accept(try F.nativeFrames([e], sensor: cam1, sequence: 0)) == nil)
        // A third sensor is one too many; the two known ones go on.
        let third = accept(try F.nativeFrames([e], sensor: cam2))
        #expect(third?.reason == .tooManySensors)
        #expect(third?.sensor == cam2)
        // The same sequence number again: a duplicate.
        #expect(accept(try F.nativeFrames([e], sequence: 5))?.reason == .duplicateSequence)
        // ... unless START says the sensor started over.
        #expect(accept(try F.nativeFrames([e], flags: .start, sequence: 5)) == nil)
        // A gap of 3, then a malformed header from a known sensor, then garbage from nobody.
        #expect(accept(try F.nativeFrames([e], sequence: 9)) == nil)
        var badMagic = try F.nativeFrames([e], sequence: 10)
        badMagic[1][0] = 0
        #expect(accept(badMagic)?.reason == .magic)
        #expect(accept([Array("hello".utf8)])?.reason == .frameCount)
        #expect(accept(try F.nativeFrames([e], sensor: cam2).prefix(1) + [[]])?.reason == .frameCount)
        // A sequence decrease: a restart, which resets the stream (geometry may change).
        let restarted = try intake.accept(frames: try F.nativeFrames([e], width: 40, sequence: 1), into: &events)
        #expect(restarted.packet.sequence == .restart && restarted.packet.resetsStream)
        #expect(intake.sensors[F.cam0]?.decoder.geometry == SensorGeometry(width: 40, height: 34))
        // Out of the geometry: counted, dropped, and charged to dropped_messages.
        #expect(accept(try F.nativeFrames([Event(t: 20, x: 40, y: 0, polarity: 0)], width: 40, sequence: 2))?.reason
            == .coordinates)

        // cam0 saw: 5, 5 (duplicate), 5 with START (restart), 9 (gap of 3), a bad header (not classified),
        // 1 (restart), 2 (in order, rejected).
        let cam0 = try #require(intake.sensors[F.cam0])
        #expect(cam0.messages == 7)
        #expect(cam0.events == 4)
        #expect(cam0.rejections == [.duplicateSequence: 1, .magic: 1, .coordinates: 1])
        #expect(cam0.sequence.gaps == 1 && cam0.sequence.lostMessages == 3 && cam0.sequence.restarts == 2)
        #expect(cam0.droppedMessages == 4)  // 3 lost + 1 rejected for its content
        #expect(intake.unattributedRejections == [.tooManySensors: 1, .frameCount: 2])
        var status = StatusMessage.SensorStatus(frames: 7)
        cam0.fill(&status)
        #expect(status.messages == 7 && status.events == 4 && status.frames == 7)
        #expect(status.sequenceGaps == 1 && status.lostMessages == 3 && status.restarts == 2)
        #expect(status.malformed == ["duplicate_sequence": 1, "magic": 1, "coordinates": 1])
        #expect(intake.withSensor(F.cam0) { $0.takeDroppedMessages() } == 4)
        #expect(intake.sensors[F.cam0]?.droppedMessages == 0)
        intake.forget(F.cam0)
        #expect(accept(try F.nativeFrames([e], sensor: cam2)) == nil)
    }

    /// Every reason, each from a crafted message sent after some valid ones through a whole intake.
    @Test func everyReasonComesFromACraftedMessage() throws {
        let e = Event(t: 10, x: 1, y: 1, polarity: 1)
        let ok = try F.nativeFrames([e], sequence: 0)
        func header(_ frames: [[UInt8]], _ offset: Int, _ bytes: [UInt8]) -> [[UInt8]] {
            var f = frames
            f[1].replaceSubrange(offset..<(offset + bytes.count), with: bytes)
            return f
        }
        let other = SensorName("other")!
        let cases: [(WireRejection.Reason, [[[UInt8]]])] = [
            (.frameCount, [Array(ok.prefix(2))]),
            (.topic, [[Array("event/cam0".utf8)] + ok.dropFirst()]),
            (.sensorName, [[Array("events/cam#0".utf8)] + ok.dropFirst()]),
            (.headerSize, [[ok[0], Array(ok[1].prefix(16)), ok[2]]]),
            (.magic, [header(ok, 3, [0x57])]),
            (.version, [header(ok, 4, [9])]),
            (.encoding, [header(ok, 5, [7])]),
            (.reservedFlags, [header(ok, 7, [0x01])]),
            (.geometry, [header(ok, 8, [0, 0])]),
            (.timeBase, [header(ok, 31, [0x80])]),
            (.messageTooLarge, [header(ok, 15, [0x10])]),
            (.countMismatch, [header(ok, 12, [0])]),
            (.tooManySensors, [ok, try F.nativeFrames([e], sensor: other)]),
            (.duplicateSequence, [ok, ok]),
            (.encodingChange, [ok, EventPacket.encode(sensor: F.cam0, header: F.header(.evt2, sequence: 1), payload: [])]),
            (.geometryChange, [ok, try F.nativeFrames([e], height: 20, sequence: 1)]),
            (.unexpectedGeometry, [try F.nativeFrames([e], width: 128, height: 128)]),
            (.tooManyEvents, [try F.nativeFrames(Array(repeating: e, count: 1025))]),
            (.coordinates, [try F.nativeFrames([Event(t: 10, x: 1, y: 34, polarity: 0)])]),
        ]
        var covered: Set<String> = []
        for (reason, messages) in cases {
            // Only the unexpected_geometry case runs an intake that expects one geometry (it would turn a
            // geometry change into unexpected_geometry).
            let expected = reason == .unexpectedGeometry ? SensorGeometry(width: 34, height: 34) : nil
            var intake = EventIntake(maximumSensors: 1, expectedGeometry: expected, maximumEvents: 1024)
            var events = EventBuffer()
            var last: WireRejection?
            for (i, frames) in messages.enumerated() {
                last = F.rejection { () throws(WireRejection) in _ = try intake.accept(frames: frames, into: &events) }
                if i < messages.count - 1 { #expect(last == nil, "\(reason): setup message \(i) rejected") }
            }
            #expect(last?.reason == reason, "\(reason): \(last?.description ?? "accepted")")
            if last?.reason == reason { covered.insert(reason.name) }
            let counted = intake.unattributedRejections[reason] ?? intake.sensors[F.cam0]?.rejections[reason] ?? 0
            #expect(counted == 1, "\(reason) counted once")
        }
        // `decode` stands for a failure of EventStream's EVT decoders, which cannot fail on whole words once
        // their (empty) text header is read: no message can produce it today.
        #expect(covered == Set(WireRejection.Reason.all.map(\.name)).subtracting(["decode"]))
    }

    // MARK: sequence numbers

    @Test func sequenceClassifications() {
        var tracker = SequenceTracker()
        #expect(tracker.observe(41) == .first)
        #expect(tracker.observe(42) == .inOrder)
        #expect(tracker.observe(43) == .inOrder)
        #expect(tracker.observe(47) == .gap(lost: 3))
        #expect(tracker.observe(47) == .duplicate)
        #expect(tracker.last == 47)
        #expect(tracker.observe(47, start: true) == .restart)
        #expect(tracker.observe(48, start: true) == .inOrder)
        #expect(tracker.observe(2) == .restart)
        #expect(tracker.observe(3) == .inOrder)
        #expect(tracker.observe(1_000) == .gap(lost: 996))
        #expect(tracker.gaps == 2 && tracker.lostMessages == 999)
        #expect(tracker.restarts == 2 && tracker.duplicates == 1)
        // Wrapping at 2^64 is in order; a jump from 0 to the top is a (huge) gap.
        var wrap = SequenceTracker()
        #expect(wrap.observe(.max) == .first)
        #expect(wrap.observe(0) == .inOrder)
        #expect(wrap.observe(.max) == .gap(lost: .max - 1))
        #expect(wrap.observe(5) == .restart)
        wrap.reset()
        #expect(wrap.observe(3) == .first)
        #expect(wrap.lostMessages == UInt64.max - 1)
    }

    // MARK: sender

    @Test func writerNumbersAndFlagsMessages() throws {
        var writer = EventPacketWriter(sensor: F.cam0, firstSequence: 10)
        let events = EventBuffer((0..<10).map { Event(t: Int64(1_000 + $0), x: UInt16($0), y: 0, polarity: 1) })
        let geometry = SensorGeometry(width: 34, height: 34)
        let messages = try writer.nativeMessages(events, geometry: geometry, maximumEvents: 4)
        let packets = try messages.map { try F.packet($0) }
        #expect(packets.map(\.header.sequence) == [10, 11, 12])
        #expect(packets.map(\.header.flags) == [.start, [], .end])
        #expect(packets.map(\.header.count) == [4, 4, 2])
        #expect(packets.map(\.header.timeBase) == [1_000, 1_004, 1_008])
        #expect(writer.nextSequence == 13)
        // One message for a short recording has both flags; an empty one still says START | END.
        let single = try F.packet(try writer.nativeMessages(events, geometry: geometry)[0])
        #expect(single.header.flags == [.start, .end] && single.header.sequence == 13)
        let empty = try writer.nativeMessages(EventBuffer(), geometry: geometry)
        #expect(empty.count == 1)
        #expect(try F.packet(empty[0]).header.flags == [.start, .end])
        #expect(try writer.nativeMessages(EventBuffer(), geometry: geometry, start: false, end: false).isEmpty)
        // A negative time cannot be sent, and nothing is numbered.
        let before = writer.nextSequence
        #expect(throws: EventEncodingError.self) {
            try writer.nativeMessages(EventBuffer([Event(t: -1, x: 0, y: 0, polarity: 0)]), geometry: geometry)
        }
        #expect(writer.nextSequence == before)
        // Raw words, split every 3 words.
        let words = writer.wordMessages(
            [UInt8](repeating: 0, count: 14), encoding: .evt3, geometry: geometry, maximumWords: 3)
        #expect(try words.map { try F.packet($0).header.count } == [3, 3, 1])
    }
}
