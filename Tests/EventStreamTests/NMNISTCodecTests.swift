import Glibc
import Testing
@testable import EventStream

@Suite struct NMNISTCodecTests {
    static let geometry = SensorGeometry(width: 34, height: 34)

    static func record(x: UInt8, y: UInt8, on: Bool, t: UInt32) -> [UInt8] {
        [x, y, (on ? 0x80 : 0) | UInt8(t >> 16 & 0x7f), UInt8(t >> 8 & 0xff), UInt8(t & 0xff)]
    }

    static func decode(_ bytes: [UInt8], geometry: SensorGeometry? = nil) throws -> (EventBuffer, DecoderCounters) {
        var decoder = NMNISTDecoder(geometry: geometry)
        var events = EventBuffer()
        try decoder.decode(bytes, into: &events)
        try decoder.finish(into: &events)
        return (events, decoder.counters)
    }

    @Test func decodesBigEndianFields() throws {
        let bytes = Self.record(x: 3, y: 7, on: true, t: 0x12_3456) + Self.record(x: 33, y: 0, on: false, t: 0x7f_ffff)
        let (events, counters) = try Self.decode(bytes)
        #expect(events.events == [Event(t: 0x12_3456, x: 3, y: 7, polarity: 1), Event(t: 0x7f_ffff, x: 33, y: 0, polarity: 0)])
        #expect(counters == DecoderCounters())
    }

    @Test func trailingBytesAreATruncationError() throws {
        var bytes = Self.record(x: 1, y: 1, on: true, t: 10) + Self.record(x: 2, y: 2, on: true, t: 20)
        bytes += [9, 9, 9]
        var decoder = NMNISTDecoder()
        var events = EventBuffer()
        try decoder.decode(bytes, into: &events)
        #expect(events.count == 2)
        let error = #expect(throws: EventDecodingError.self) { try decoder.finish(into: &events) }
        #expect(error?.code == .truncated)
        #expect(error?.offset == 10)
    }

    @Test func truncatedFileNamesFileAndOffset() throws {
        let path = "/tmp/bisnn-test-truncated-\(UInt32.random(in: 0...UInt32.max)).bin"
        let bytes = Self.record(x: 1, y: 1, on: true, t: 10) + [1, 2]
        bytes.withUnsafeBytes { buf in
            let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            #expect(fd >= 0)
            _ = write(fd, buf.baseAddress, buf.count)
            close(fd)
        }
        defer { unlink(path) }
        let error = #expect(throws: EventDecodingError.self) { try EventFileReader.read(path) }
        #expect(error?.file == path)
        #expect(error?.offset == 5)
        #expect(error?.description.contains(path) == true)
    }

    @Test func coordinatesOutsideGeometryAreDroppedAndCounted() throws {
        let bytes = Self.record(x: 40, y: 1, on: true, t: 1) + Self.record(x: 1, y: 34, on: true, t: 2)
            + Self.record(x: 33, y: 33, on: false, t: 3)
        let (events, counters) = try Self.decode(bytes, geometry: Self.geometry)
        #expect(events.events == [Event(t: 3, x: 33, y: 33, polarity: 0)])
        #expect(counters.outOfBounds == 2)
        let (all, _) = try Self.decode(bytes)
        #expect(all.count == 3)
    }

    @Test func overflowMarkersAdvanceTheTimeBase() throws {
        let bytes = Self.record(x: 1, y: 1, on: true, t: 100) + Self.record(x: 0, y: 240, on: false, t: 0)
            + Self.record(x: 2, y: 2, on: true, t: 50)
        let (events, counters) = try Self.decode(bytes)
        #expect(events.t == [100, 8192 + 50])
        #expect(counters.timeWraps == 1)
        #expect(counters.timestampRegressions == 0)
    }

    @Test func backwardsTimestampsAndATimeBaseResetAreKeptAndCounted() throws {
        // Time runs to 300 ms, then the sensor's clock restarts at 0 mid-file, then one event is slightly late.
        let bytes = Self.record(x: 1, y: 1, on: true, t: 300_000) + Self.record(x: 2, y: 2, on: true, t: 5)
            + Self.record(x: 3, y: 3, on: true, t: 900) + Self.record(x: 4, y: 4, on: true, t: 899)
        let (events, counters) = try Self.decode(bytes)
        #expect(events.t == [300_000, 5, 900, 899])
        #expect(counters.timestampRegressions == 2)
    }

    @Test func garbageIsDecodedWithoutCrashing() throws {
        var rng = TestData.Random(seed: 7)
        let bytes = (0..<100_000).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let (events, counters) = try Self.decode(bytes, geometry: Self.geometry)
        #expect(events.count + counters.outOfBounds + counters.timeWraps == 20_000)
    }

    @Test func encoderRoundTripsIncludingLongRecordings() throws {
        var rng = TestData.Random(seed: 3)
        var t: Int64 = 0
        var original = EventBuffer()
        for _ in 0..<5000 {
            t += Int64.random(in: 0...5000, using: &rng)  // ~12.5 s: past the 23-bit range
            original.append(Event(t: t, x: UInt16.random(in: 0..<34, using: &rng),
                                  y: UInt16.random(in: 0..<34, using: &rng), polarity: UInt8.random(in: 0...1, using: &rng)))
        }
        var encoder = NMNISTEncoder()
        var bytes: [UInt8] = []
        try encoder.encode(original, into: &bytes)
        let decoded = try TestData.decodeInChunks(bytes, format: .nmnist, maxChunk: 13, seed: 1)
        #expect(decoded.events.events == original.events)
        #expect(decoded.counters.timeWraps > 0)
    }

    @Test func encoderRejectsWhatTheFormatCannotHold() throws {
        for bad in [Event(t: 0, x: 300, y: 1, polarity: 1), Event(t: 0, x: 1, y: 240, polarity: 1),
                    Event(t: -1, x: 1, y: 1, polarity: 1)] {
            var encoder = NMNISTEncoder()
            var bytes: [UInt8] = []
            let error = #expect(throws: EventEncodingError.self) {
                try encoder.encode(EventBuffer([Event(t: 0, x: 0, y: 0, polarity: 0), bad]), into: &bytes)
            }
            #expect(error?.eventIndex == 1)
        }
    }
}
