import Testing
@testable import EventStream

/// The Prophesee readers (EVT 2.0, EVT 3.0, DAT, the `%` header) and the EVT 2.0 writer, on hand-built
/// streams and on bad input.
@Suite struct PropheseeDecoderTests {
    // MARK: helpers

    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// EVT 2.0 words as little-endian bytes.
    static func evt2(_ words: [UInt32]) -> [UInt8] {
        words.flatMap { w in (0..<4).map { UInt8(truncatingIfNeeded: w >> (8 * $0)) } }
    }

    static func timeHigh2(_ high: UInt32) -> UInt32 { 0x8 << 28 | high }

    static func cd2(x: UInt32, y: UInt32, p: UInt32, low: UInt32) -> UInt32 {
        p << 28 | low << 22 | x << 11 | y
    }

    /// EVT 3.0 words as little-endian bytes.
    static func evt3(_ words: [UInt16]) -> [UInt8] {
        words.flatMap { [UInt8(truncatingIfNeeded: $0), UInt8(truncatingIfNeeded: $0 >> 8)] }
    }

    /// DAT records after a header and the type/size bytes.
    static func dat(header: String = "% Version 2\n", type: UInt8 = 0x0c, size: UInt8 = 8,
                    _ records: [(t: UInt32, x: UInt32, y: UInt32, p: UInt32)]) -> [UInt8] {
        var out = bytes(header) + [type, size]
        for r in records {
            let packed = r.p << 28 | r.y << 14 | r.x
            for v in [r.t, packed] { out += (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
        }
        return out
    }

    /// Decodes in one piece and in 1-byte, 3-byte and random chunks; checks that all agree.
    static func decode(
        _ data: [UInt8], _ format: EventFormat, geometry: SensorGeometry? = nil
    ) throws -> (events: [Event], counters: DecoderCounters, geometry: SensorGeometry?) {
        var decoder = format.makeDecoder(geometry: geometry)
        var buffer = EventBuffer()
        try decoder.decode(data, into: &buffer)
        try decoder.finish(into: &buffer)
        #expect(decoder.offset == Int64(data.count))
        for (maxChunk, seed) in [(1, UInt64(1)), (3, 2), (11, 3)] {
            let split = try TestData.decodeInChunks(data, format: format, geometry: geometry, maxChunk: maxChunk, seed: seed)
            #expect(split.events.events == buffer.events)
            #expect(split.counters == decoder.counters)
            #expect(split.geometry == decoder.geometry)
        }
        return (buffer.events, decoder.counters, decoder.geometry)
    }

    /// The error decoding throws, whole and in 1-byte chunks (they must agree).
    static func decodingError(
        _ data: [UInt8], _ format: EventFormat, geometry: SensorGeometry? = nil, maxChunk: Int = 1
    ) -> EventDecodingError? {
        func run(_ maxChunk: Int?) -> EventDecodingError? {
            do {
                if let maxChunk {
                    _ = try TestData.decodeInChunks(data, format: format, geometry: geometry, maxChunk: maxChunk, seed: 9)
                } else {
                    var decoder = format.makeDecoder(geometry: geometry)
                    var buffer = EventBuffer()
                    try decoder.decode(data, into: &buffer)
                    try decoder.finish(into: &buffer)
                }
                return nil
            } catch let error as EventDecodingError {
                return error
            } catch {
                Issue.record("unexpected error \(error)")
                return nil
            }
        }
        let whole = run(nil), split = run(maxChunk)
        #expect(whole?.code == split?.code)
        #expect(whole?.offset == split?.offset)
        return whole
    }

    static func randomEvents(_ n: Int, width: Int, height: Int, seed: UInt64) -> EventBuffer {
        var rng = TestData.Random(seed: seed)
        var t: Int64 = Int64.random(in: 0..<1_000_000, using: &rng)
        var buffer = EventBuffer()
        for i in 0..<n {
            switch Int.random(in: 0..<100, using: &rng) {
            case 0: t += Int64.random(in: 0..<(1 << 35), using: &rng)  // hours: TIME_HIGH wraps and bridges
            case 1..<30: t += Int64.random(in: 0..<200, using: &rng)
            default: break
            }
            if i == n / 2 { t += 1 << 34 }
            buffer.append(Event(
                t: t, x: UInt16.random(in: 0..<UInt16(width), using: &rng),
                y: UInt16.random(in: 0..<UInt16(height), using: &rng), polarity: UInt8.random(in: 0...1, using: &rng)))
        }
        return buffer
    }

    // MARK: EVT 2.0 writer round trip

    @Test func evt2RoundTrip() throws {
        let geometry = SensorGeometry(width: 640, height: 480)
        let events = Self.randomEvents(20_000, width: 640, height: 480, seed: 42)
        var encoder = EVT2Encoder(geometry: geometry)
        var data: [UInt8] = []
        try encoder.encode(events, into: &data)
        try encoder.finish(into: &data)
        #expect(String(decoding: data.prefix(17), as: UTF8.self) == "% evt 2.0\n% forma")

        // Encoding in several batches gives the same bytes.
        var batched = EVT2Encoder(geometry: geometry)
        var data2: [UInt8] = []
        let all = events.events
        for range in [0..<1, 1..<777, 777..<15_000, 15_000..<all.count] {
            try batched.encode(EventBuffer(all[range]), into: &data2)
        }
        try batched.finish(into: &data2)
        #expect(data2 == data)

        let decoded = try Self.decode(data, .evt2)
        #expect(decoded.events == all)
        #expect(decoded.geometry == geometry)
        #expect(decoded.counters.timestampRegressions == 0)
        #expect(decoded.counters.outOfBounds == 0)
        #expect(decoded.counters.timeWraps > 0)
        #expect(decoded.counters.timeBaseResets == 0)
        #expect(EventFormat.detect(prefix: data, fileName: "out.raw") == .evt2)

        for (maxChunk, seed) in [(7, UInt64(5)), (4096, 6)] {
            let split = try TestData.decodeInChunks(data, format: .evt2, maxChunk: maxChunk, seed: seed)
            #expect(split.events.events == all)
        }
    }

    @Test func evt2WriterWithoutGeometryAndEmpty() throws {
        var encoder = EVT2Encoder(geometry: nil)
        var data: [UInt8] = []
        try encoder.finish(into: &data)
        #expect(String(decoding: data, as: UTF8.self) == "% evt 2.0\n% end\n")
        let decoded = try Self.decode(data, .evt2)
        #expect(decoded.events.isEmpty)
        #expect(decoded.geometry == nil)

        var big = EVT2Encoder(geometry: nil)
        var out: [UInt8] = []
        let events = EventBuffer([Event(t: 5, x: 2047, y: 2047, polarity: 1), Event(t: 1 << 40, x: 0, y: 0, polarity: 0)])
        try big.encode(events, into: &out)
        #expect(try Self.decode(out, .evt2).events == events.events)

        // A first event past the 34-bit range of TIME_HIGH still decodes exactly (bridged from zero).
        var late = EVT2Encoder(geometry: nil)
        var lateOut: [UInt8] = []
        let lateEvents = EventBuffer([Event(t: (1 << 40) + 3, x: 1, y: 2, polarity: 1)])
        try late.encode(lateEvents, into: &lateOut)
        #expect(try Self.decode(lateOut, .evt2).events == lateEvents.events)
    }

    @Test func evt2WriterErrors() throws {
        func error(_ events: [Event], geometry: SensorGeometry? = nil, after prefix: [Event] = []) -> EventEncodingError? {
            var encoder = EVT2Encoder(geometry: geometry)
            var out: [UInt8] = []
            do { try encoder.encode(EventBuffer(prefix), into: &out) } catch { return nil }
            let before = out
            do {
                try encoder.encode(EventBuffer(events), into: &out)
                return nil
            } catch let e as EventEncodingError {
                #expect(out == before)  // a failed batch writes nothing
                return e
            } catch {
                return nil
            }
        }
        let ok = Event(t: 10, x: 1, y: 1, polarity: 1)
        #expect(error([ok, Event(t: 11, x: 2048, y: 0, polarity: 0)])?.eventIndex == 1)
        #expect(error([ok, Event(t: 11, x: 0, y: 2048, polarity: 0)])?.eventIndex == 1)
        let vga = SensorGeometry(width: 640, height: 480)
        #expect(error([ok, ok, Event(t: 11, x: 640, y: 0, polarity: 0)], geometry: vga)?.eventIndex == 2)
        #expect(error([Event(t: 11, x: 0, y: 480, polarity: 0)], geometry: vga, after: [ok, ok])?.eventIndex == 2)
        #expect(error([Event(t: -1, x: 0, y: 0, polarity: 0)])?.eventIndex == 0)
        #expect(error([ok, Event(t: 9, x: 0, y: 0, polarity: 0)])?.eventIndex == 1)
        #expect(error([Event(t: 9, x: 0, y: 0, polarity: 0)], after: [ok])?.eventIndex == 1)
        #expect(error([Event(t: 1 << 50, x: 0, y: 0, polarity: 0)])?.eventIndex == 0)
        #expect(error([ok, ok]) == nil)
    }

    // MARK: headers

    static func parseHeader(_ text: String) throws -> PropheseeHeader {
        var parser = PropheseeHeaderParser()
        let data = bytes(text) + [0x00, 0x80]
        let used = try data.withUnsafeBytes { try parser.parse($0) }
        #expect(parser.isComplete)
        #expect(used == text.utf8.count)
        return parser.header
    }

    @Test func headerGeometry() throws {
        #expect(try Self.parseHeader("% geometry 640x480\n").geometry == SensorGeometry(width: 640, height: 480))
        let evt3 = try Self.parseHeader("% evt 3.0\r\n% format EVT3;height=720;width=1280\r\n% end\r\n")
        #expect(evt3.geometry == SensorGeometry(width: 1280, height: 720))
        #expect(evt3.evtVersion == "3.0")
        #expect(try Self.parseHeader("% Width 304\n% Height 240\n").geometry == SensorGeometry(width: 304, height: 240))
        #expect(try Self.parseHeader("% plugin_name hal_plugin_gen3_fx3\n").geometry == SensorGeometry(width: 640, height: 480))
        #expect(try Self.parseHeader("% plugin_name hal_plugin_gen41_evk3\n").geometry == SensorGeometry(width: 1280, height: 720))
        #expect(try Self.parseHeader("% sensor_generation 4.1\n").geometry == SensorGeometry(width: 1280, height: 720))
        #expect(try Self.parseHeader("% sensor_generation 3.1\n").geometry == SensorGeometry(width: 640, height: 480))
        #expect(try Self.parseHeader("% plugin_name hal_plugin_imx636_evk4\n").geometry == SensorGeometry(width: 1280, height: 720))
        #expect(try Self.parseHeader("% plugin_name hal_plugin_genx320_cm2\n").geometry == SensorGeometry(width: 320, height: 320))
        #expect(try Self.parseHeader("% geometry 12x\n% Date 2020\n").geometry == nil)
        #expect(try Self.parseHeader("% geometry -5x4\n").geometry == nil)
        let explicit = try Self.parseHeader("% plugin_name hal_plugin_gen3_fx3\n% geometry 320x240\n")
        #expect(explicit.geometry == SensorGeometry(width: 320, height: 240))
        #expect(explicit["PLUGIN_NAME"] == "hal_plugin_gen3_fx3")
        // The `% end` line ends the header even if `%` lines follow.
        #expect(try Self.parseHeader("% evt 2.0\n% end\n").lines == ["evt 2.0"])

        // The shared recordings' headers name their sensors only through plugin_name.
        for (file, format, geometry) in [
            ("evt2_640x480.raw", EventFormat.evt2, SensorGeometry(width: 640, height: 480)),
            ("evt3_1280x720.raw", .evt3, SensorGeometry(width: 1280, height: 720)),
        ] {
            let recording = try EventFileReader.read(TestData.path("formats/" + file))
            #expect(recording.format == format)
            #expect(recording.geometry == geometry)
        }
        // An explicit geometry overrides the header's.
        let small = SensorGeometry(width: 100, height: 100)
        let overridden = try EventFileReader.read(TestData.path("formats/evt2_640x480.raw"), geometry: small)
        #expect(overridden.geometry == small)
        #expect(overridden.counters.outOfBounds > 0)
    }

    @Test func garbageHeader() {
        // A non-ASCII byte inside a header line: .badHeader at that byte.
        let data = Self.bytes("% evt 2.0\n% Date ") + [0xff, 0xfe, 0x0a] + Self.evt2([Self.timeHigh2(1)])
        let error = Self.decodingError(data, .evt2)
        #expect(error?.code == .badHeader)
        #expect(error?.offset == 17)
        // A control byte too.
        let control = Self.bytes("% a\u{01}b\n")
        #expect(Self.decodingError(control, .evt3)?.code == .badHeader)
        #expect(Self.decodingError(control, .evt3)?.offset == 3)
        // A header declaring another encoding: .badHeader at that line.
        let wrong = Self.bytes("% Date 2020\n% evt 3.0\n") + Self.evt3([0x8001])
        #expect(Self.decodingError(wrong, .evt2)?.code == .badHeader)
        #expect(Self.decodingError(wrong, .evt2)?.offset == 12)
        #expect(Self.decodingError(Self.bytes("% format EVT21\n% end\n"), .evt3)?.code == .badHeader)
        // A stream that ends inside a header line: .truncated at the start of that line.
        let cut = Self.bytes("% evt 2.0\n% Date 20")
        #expect(Self.decodingError(cut, .evt2)?.code == .truncated)
        #expect(Self.decodingError(cut, .evt2)?.offset == 10)
    }

    @Test func endlessHeaderIsBounded() {
        // Header lines that never end: stopped at 1 MiB, whatever the chunking.
        var lines: [UInt8] = []
        while lines.count < (1 << 20) + 5000 { lines += Self.bytes("% comment line that goes on and on\n") }
        for format in [EventFormat.evt2, .evt3, .dat] {
            let error = Self.decodingError(lines, format, maxChunk: 1000)
            #expect(error?.code == .badHeader)
            #expect(error?.offset == PropheseeHeaderParser.maximumSize)
        }
        // One line with no newline at all.
        let oneLine = Self.bytes("% ") + [UInt8](repeating: UInt8(ascii: "a"), count: (1 << 20) + 10)
        let error = Self.decodingError(oneLine, .evt2, maxChunk: 1000)
        #expect(error?.code == .badHeader)
        #expect(error?.offset == PropheseeHeaderParser.maximumSize)
    }

    // MARK: headerless EVT 2.0

    @Test func headerlessEVT2() throws {
        let path = TestData.path("formats/genx320_headerless_evt2.raw")
        let bytes = try EventFileReader.readBytes(path)
        #expect(bytes.first != UInt8(ascii: "%"))
        #expect(EventFormat.detect(prefix: bytes.prefix(4096), fileName: "genx320_headerless_evt2.raw") == .evt2)
        let recording = try EventFileReader.read(path)
        #expect(recording.format == .evt2)
        #expect(recording.geometry == nil)
        var decoder = EVT2Decoder()
        var buffer = EventBuffer()
        try decoder.decode(bytes, into: &buffer)
        #expect(decoder.header.isEmpty)

        // A headerless stream whose first byte happens to be `%` (TIME_HIGH 0x...25) is still data, however
        // it is split.
        let words = [Self.timeHigh2(0x4125), Self.cd2(x: 3, y: 4, p: 1, low: 7), Self.timeHigh2(0x125),
                     Self.cd2(x: 5, y: 6, p: 0, low: 1)]
        for first in [Self.timeHigh2(0x4125), Self.timeHigh2(0x0125)] {
            let data = Self.evt2([first] + words.dropFirst())
            #expect(data[0] == UInt8(ascii: "%"))
            let decoded = try Self.decode(data, .evt2)
            let high = Int64(first & 0x0fff_ffff)
            #expect(decoded.events.first == Event(t: high << 6 | 7, x: 3, y: 4, polarity: 1))
            #expect(decoded.events.count == 2)
        }
    }

    // MARK: EVT 2.0 odd input

    @Test func evt2UnknownTypesBeforeTimeBaseAndTriggers() throws {
        let data = Self.evt2([
            Self.cd2(x: 1, y: 1, p: 1, low: 0),  // before any TIME_HIGH: dropped
            Self.timeHigh2(10),
            Self.cd2(x: 2, y: 3, p: 0, low: 5),
            0x2 << 28 | 123, 0x9 << 28, 0xd << 28 | 7,  // reserved types
            0xa << 28 | 1,  // EXT_TRIGGER
            0xe << 28, 0xf << 28 | 55,  // OTHERS + CONTINUED
            Self.cd2(x: 4, y: 5, p: 1, low: 6),
        ])
        let decoded = try Self.decode(data, .evt2)
        #expect(decoded.events == [Event(t: 645, x: 2, y: 3, polarity: 0), Event(t: 646, x: 4, y: 5, polarity: 1)])
        #expect(decoded.counters.unknownWords == 3)
        #expect(decoded.counters.skippedPackets == 2)
        #expect(decoded.counters.eventsBeforeTimeBase == 1)
    }

    @Test func evt2OutOfGeometry() throws {
        let header = Self.bytes("% evt 2.0\n% geometry 320x240\n% end\n")
        let data = header + Self.evt2([
            Self.timeHigh2(1),
            Self.cd2(x: 319, y: 239, p: 1, low: 0),
            Self.cd2(x: 320, y: 0, p: 1, low: 0),
            Self.cd2(x: 0, y: 240, p: 1, low: 0),
            Self.cd2(x: 2047, y: 2047, p: 0, low: 0),
        ])
        let decoded = try Self.decode(data, .evt2)
        #expect(decoded.geometry == SensorGeometry(width: 320, height: 240))
        #expect(decoded.events == [Event(t: 64, x: 319, y: 239, polarity: 1)])
        #expect(decoded.counters.outOfBounds == 3)
        // Without a geometry nothing is dropped.
        let headerless = try Self.decode(Array(data.dropFirst(header.count)), .evt2)
        #expect(headerless.geometry == nil)
        #expect(headerless.events.count == 4)
        #expect(headerless.counters.outOfBounds == 0)
    }

    @Test func evt2TimeRegressionsResetsAndWraps() throws {
        let data = Self.evt2([
            Self.timeHigh2(100),
            Self.cd2(x: 0, y: 0, p: 1, low: 10),
            Self.cd2(x: 0, y: 0, p: 1, low: 4),  // backwards within a TIME_HIGH
            Self.timeHigh2(50),  // reset of the time base
            Self.cd2(x: 1, y: 0, p: 1, low: 0),
            Self.timeHigh2(0x0fff_fff0),  // far ahead
            Self.cd2(x: 2, y: 0, p: 1, low: 1),
            Self.timeHigh2(0x0000_0003),  // wraps around: 2^28 + 3
            Self.cd2(x: 3, y: 0, p: 0, low: 2),
        ])
        let decoded = try Self.decode(data, .evt2)
        let far: Int64 = 0x0fff_fff0 << 6 | 1
        let wrapped: Int64 = 1 << 34 + 3 << 6 | 2
        #expect(decoded.events.map(\.t) == [6410, 6404, 3200, far, wrapped])
        #expect(decoded.counters.timestampRegressions == 2)
        #expect(decoded.counters.timeBaseResets == 1)
        #expect(decoded.counters.timeWraps == 1)
    }

    @Test func evt2Truncated() throws {
        let header = Self.bytes("% evt 2.0\n% end\n")
        let body = Self.evt2([Self.timeHigh2(1), Self.cd2(x: 1, y: 2, p: 1, low: 3)])
        for extra in 1...3 {
            let data = header + body + [UInt8](repeating: 0x11, count: extra)
            let error = Self.decodingError(data, .evt2)
            #expect(error?.code == .truncated)
            #expect(error?.offset == Int64(header.count + body.count))
        }
        let headerless = Self.decodingError(body + [0x01, 0x02], .evt2)
        #expect(headerless?.code == .truncated)
        #expect(headerless?.offset == 8)
    }

    // MARK: EVT 3.0

    @Test func evt3Vectors() throws {
        let words: [UInt16] = [
            0x2005,  // ADDR_X before the time base: dropped
            0x8001,  // TIME_HIGH 1
            0x6002,  // TIME_LOW 2
            0x0005,  // ADDR_Y 5
            0x3800 | 100,  // VECT_BASE_X 100, ON
            0x4000 | 0b1000_0000_0101,  // VECT_12: 100, 102, 111; base -> 112
            0x5000 | 0b1000_0001,  // VECT_8: 112, 119; base -> 120
            0x4000,  // empty VECT_12: base -> 132
            0x5000 | 0b10,  // VECT_8: 133
            0x0807,  // ADDR_Y 7 with the system-type bit set
            0x2000 | 9,  // ADDR_X 9, OFF
            0x2800 | 10,  // ADDR_X 10, ON
            0x7001, 0xf123,  // CONTINUED_4 / CONTINUED_12
            0xa001, 0xe000,  // EXT_TRIGGER, OTHERS
            0x1000, 0x9000, 0xb000, 0xc000, 0xd000,  // reserved
            0x6003,
            0x3000 | 50,  // VECT_BASE_X 50, OFF
            0x5000 | 0b11,  // 50, 51
        ]
        let decoded = try Self.decode(Self.evt3(words), .evt3)
        let t: Int64 = 1 << 12 | 2
        let expected = [100, 102, 111, 112, 119, 133].map { Event(t: t, x: UInt16($0), y: 5, polarity: 1) } + [
            Event(t: t, x: 9, y: 7, polarity: 0), Event(t: t, x: 10, y: 7, polarity: 1),
            Event(t: t + 1, x: 50, y: 7, polarity: 0), Event(t: t + 1, x: 51, y: 7, polarity: 0),
        ]
        #expect(decoded.events == expected)
        #expect(decoded.counters.eventsBeforeTimeBase == 1)
        #expect(decoded.counters.unknownWords == 5)
        #expect(decoded.counters.skippedPackets == 2)
        #expect(decoded.geometry == nil)

        // Vector events before the time base are counted one by one.
        let early = try Self.decode(Self.evt3([0x0001, 0x3000, 0x4000 | 0b111, 0x5000 | 0b1]), .evt3)
        #expect(early.events.isEmpty)
        #expect(early.counters.eventsBeforeTimeBase == 4)
    }

    @Test func evt3OutOfGeometry() throws {
        let words: [UInt16] = [
            0x8000, 0x6000, 0x0002,
            0x3000 | 310,  // VECT_BASE_X 310
            0x4000 | 0xfff,  // 310...321: 10 on a 320-wide sensor, 2 off
            0x2000 | 319, 0x2000 | 320,
            0x0000 | 240, 0x2000 | 1,  // y = 240: off a 320x240 sensor
        ]
        let geometry = SensorGeometry(width: 320, height: 240)
        let decoded = try Self.decode(Self.evt3(words), .evt3, geometry: geometry)
        #expect(decoded.events.map(\.x) == (310..<320).map { UInt16($0) } + [319])
        #expect(decoded.counters.outOfBounds == 4)
        #expect(decoded.geometry == geometry)
        // From the header too.
        let withHeader = Self.bytes("% evt 3.0\n% format EVT3;height=240;width=320\n% end\n") + Self.evt3(words)
        let fromHeader = try Self.decode(withHeader, .evt3)
        #expect(fromHeader.geometry == geometry)
        #expect(fromHeader.counters.outOfBounds == 4)
        // Without a geometry, vectors running past x = 2047 are dropped too.
        let past = try Self.decode(Self.evt3([0x8000, 0x0001, 0x3000 | 2040, 0x4000 | 0xfff]), .evt3)
        #expect(past.events.map(\.x) == (2040..<2048).map { UInt16($0) })
        #expect(past.counters.outOfBounds == 4)
    }

    @Test func evt3TimeWrapAround() throws {
        let words: [UInt16] = [
            0x8fff, 0x6ff0, 0x0001, 0x2001,  // t = 0xfff_ff0
            0x6fff, 0x2002,  // 0xff_ffff
            0x8000, 0x6005, 0x2003,  // wraps: 2^24 + 5
            0x8001, 0x6000, 0x2004,  // 2^24 + 4096
            0x8ffe, 0x2005,  // a big step forward, not a wrap: 2^24 + 0xffe000
        ]
        let decoded = try Self.decode(Self.evt3(words), .evt3)
        let base: Int64 = 1 << 24
        #expect(decoded.events.map(\.t) == [0xff_fff0, 0xff_ffff, base + 5, base + 4096, base + 0xffe000])
        #expect(decoded.events.last!.t > base)
        #expect(decoded.counters.timeWraps == 1)
        #expect(decoded.counters.timestampRegressions == 0)
        #expect(decoded.counters.timeBaseResets == 0)
    }

    @Test func evt3RegressionsAndReset() throws {
        let words: [UInt16] = [
            0x8100, 0x6010, 0x0001, 0x2001,
            0x6008, 0x2002,  // TIME_LOW backwards
            0x8080, 0x6000, 0x2003,  // TIME_HIGH drops by less than half its range: a reset
            0x3000, 0x4000 | 0b11,
        ]
        let decoded = try Self.decode(Self.evt3(words), .evt3)
        #expect(decoded.events.map(\.t) == [0x100010, 0x100008, 0x80000, 0x80000, 0x80000])
        #expect(decoded.counters.timestampRegressions == 2)
        #expect(decoded.counters.timeBaseResets == 1)
        #expect(decoded.counters.timeWraps == 0)
    }

    @Test func evt3Truncated() {
        let header = Self.bytes("% evt 3.0\n")
        let body = Self.evt3([0x8001, 0x0002, 0x2003])
        let error = Self.decodingError(header + body + [0x42], .evt3)
        #expect(error?.code == .truncated)
        #expect(error?.offset == Int64(header.count + body.count))
    }

    // MARK: DAT

    @Test func datRecords() throws {
        let data = Self.dat(header: "% Data file containing Event2D events.\n% Width 100\n% Height 50\n", [
            (t: 10, x: 5, y: 6, p: 1),
            (t: 20, x: 99, y: 49, p: 0),
            (t: 15, x: 100, y: 0, p: 1),  // off the sensor: dropped
            (t: 12, x: 7, y: 8, p: 0x3),  // backwards, polarity bits 28-31 nonzero = ON
            (t: 0xffff_ff00, x: 1, y: 1, p: 0),
            (t: 0x10, x: 2, y: 2, p: 0),  // 32-bit wrap
            (t: 0x08, x: 3, y: 3, p: 0),  // small drop: a regression
        ])
        let decoded = try Self.decode(data, .dat)
        #expect(decoded.geometry == SensorGeometry(width: 100, height: 50))
        let wrap: Int64 = 1 << 32
        #expect(decoded.events == [
            Event(t: 10, x: 5, y: 6, polarity: 1), Event(t: 20, x: 99, y: 49, polarity: 0),
            Event(t: 12, x: 7, y: 8, polarity: 1), Event(t: 0xffff_ff00, x: 1, y: 1, polarity: 0),
            Event(t: wrap + 0x10, x: 2, y: 2, polarity: 0), Event(t: wrap + 0x08, x: 3, y: 3, polarity: 0),
        ])
        #expect(decoded.counters.outOfBounds == 1)
        #expect(decoded.counters.timestampRegressions == 2)
        #expect(decoded.counters.timeWraps == 1)
        #expect(EventFormat.detect(prefix: data, fileName: "x.dat") == .dat)

        // Headerless, type 0x00 (Event2D), large coordinates, no geometry.
        let bare = try Self.decode(Self.dat(header: "", type: 0x00, [(t: 1, x: 16383, y: 16383, p: 1)]), .dat)
        #expect(bare.events == [Event(t: 1, x: 16383, y: 16383, polarity: 1)])
        #expect(bare.geometry == nil)
    }

    @Test func datBadInput() {
        let header = "% Version 2\n"
        let unsupportedType = Self.decodingError(Self.dat(header: header, type: 0x0e, []), .dat)
        #expect(unsupportedType?.code == .badHeader)
        #expect(unsupportedType?.offset == 12)
        let badSize = Self.decodingError(Self.dat(header: header, size: 16, []), .dat)
        #expect(badSize?.code == .badHeader)
        #expect(badSize?.offset == 13)
        for extra in 1...7 {
            let data = Self.dat(header: header, [(t: 1, x: 1, y: 1, p: 1)]) + [UInt8](repeating: 0, count: extra)
            let error = Self.decodingError(data, .dat)
            #expect(error?.code == .truncated)
            let recordsEnd: Int64 = 12 + 2 + 8
            #expect(error?.offset == recordsEnd)
        }
        let noTypeBytes = Self.decodingError(Self.bytes(header) + [0x0c], .dat)
        #expect(noTypeBytes?.code == .truncated)
        #expect(noTypeBytes?.offset == 12)
        #expect(Self.decodingError([], .dat) == nil)
    }
}
